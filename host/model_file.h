// .scrawl model files: magic, version, architecture JSON, named float32 tensors, checksum.
// Written to a temporary file, flushed and renamed, so a crash never leaves half a model.
// Tested by tests/unit/test_model_file.cpp (round trip, truncation, corruption).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scrawl {

struct NamedTensor {
  std::string name;
  std::vector<int> shape;
  std::vector<float> data;
};

struct ModelFile {
  nlohmann::json arch;                // the architecture, as in models/*.json
  nlohmann::json meta;                // free-form: how it was trained, accuracy...
  std::vector<NamedTensor> tensors;
};

// Throws FormatError naming what is wrong (not a model file, truncated, checksum mismatch...).
ModelFile model_file_read(const std::string& path);
// Atomic: writes path + ".tmp-XXXX", fsyncs, renames over path.
void model_file_write(const std::string& path, const ModelFile& model);

class Network;
// Gather a network's parameters into a ModelFile, and load them back (names and shapes checked).
ModelFile model_file_from_network(const Network& net, const nlohmann::json& meta);
void model_file_to_network(const ModelFile& file, Network& net);

}  // namespace scrawl
