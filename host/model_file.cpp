// .scrawl model files. Layout, all integers little-endian:
//   "SCRAWLMF"                8 bytes magic
//   u32 version (= 1)         u32 header length H
//   H bytes of JSON           {"arch": ..., "meta": ..., "tensors": [{"name", "shape"}...]}
//   u64 float count F         F float32 values, the tensors in header order
//   u64 FNV-1a 64 checksum of every byte before it
// Tested by tests/unit/test_model_file.cpp.
#include "host/model_file.h"

#include <cstring>

#include "host/error.h"
#include "host/file_util.h"
#include "host/network.h"

namespace scrawl {
namespace {

constexpr char kMagic[8] = {'S', 'C', 'R', 'A', 'W', 'L', 'M', 'F'};
constexpr uint32_t kVersion = 1;
static_assert(sizeof(float) == 4, "model files store IEEE float32");

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

template <typename T>
T get(const std::vector<uint8_t>& in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(T));
  return v;
}

}  // namespace

void model_file_write(const std::string& path, const ModelFile& model) {
  nlohmann::json header = {{"arch", model.arch}, {"meta", model.meta},
                           {"tensors", nlohmann::json::array()}};
  uint64_t count = 0;
  for (const NamedTensor& t : model.tensors) {
    size_t n = 1;
    for (int d : t.shape) n *= static_cast<size_t>(d);
    if (n != t.data.size())
      throw Error("tensor '" + t.name + "' has " + std::to_string(t.data.size()) +
                  " values but its shape holds " + std::to_string(n));
    header["tensors"].push_back({{"name", t.name}, {"shape", t.shape}});
    count += n;
  }
  const std::string text = header.dump();
  std::vector<uint8_t> out;
  out.reserve(32 + text.size() + count * 4);
  out.insert(out.end(), kMagic, kMagic + 8);
  put<uint32_t>(out, kVersion);
  put<uint32_t>(out, static_cast<uint32_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
  put<uint64_t>(out, count);
  for (const NamedTensor& t : model.tensors) {
    const auto* p = reinterpret_cast<const uint8_t*>(t.data.data());
    out.insert(out.end(), p, p + t.data.size() * 4);
  }
  put<uint64_t>(out, fnv1a64(out.data(), out.size()));
  file_write_atomic(path, out.data(), out.size());
}

ModelFile model_file_read(const std::string& path) {
  const std::vector<uint8_t> in = file_read_all(path);
  const std::string where = "model file '" + path + "'";
  if (in.size() < 8 || std::memcmp(in.data(), kMagic, 8) != 0)
    throw FormatError(where + " is not a scrawl model (bad magic); expected a .scrawl file "
                      "written by `scrawl train`");
  if (in.size() < 16 + 8 + 8)
    throw FormatError(where + " is truncated (" + std::to_string(in.size()) + " bytes)");
  const uint32_t version = get<uint32_t>(in, 8);
  if (version != kVersion)
    throw FormatError(where + " has format version " + std::to_string(version) +
                      "; this scrawl reads version " + std::to_string(kVersion));
  const uint32_t hlen = get<uint32_t>(in, 12);
  if (16 + size_t(hlen) + 16 > in.size())
    throw FormatError(where + " is truncated (header runs past the end of the file)");
  const uint64_t count = get<uint64_t>(in, 16 + hlen);
  const size_t data_at = 16 + size_t(hlen) + 8;
  if (count > (in.size() - data_at) / 4 || data_at + count * 4 + 8 != in.size()) {
    const uint64_t expected = data_at + count * 4 + 8;
    if (count <= (uint64_t(1) << 40) && expected > in.size())
      throw FormatError(where + " is truncated: " + std::to_string(in.size()) + " bytes of " +
                        std::to_string(expected) + "; copy or download it again");
    throw FormatError(where + " is corrupted: its sizes do not add up");
  }
  const size_t sum_at = in.size() - 8;
  if (get<uint64_t>(in, sum_at) != fnv1a64(in.data(), sum_at))
    throw FormatError(where + " is corrupted: checksum mismatch; copy or download it again");

  ModelFile model;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(in.begin() + 16, in.begin() + 16 + hlen);
    model.arch = header.at("arch");
    model.meta = header.value("meta", nlohmann::json::object());
    size_t at = data_at;
    uint64_t used = 0;
    for (const auto& t : header.at("tensors")) {
      NamedTensor nt;
      nt.name = t.at("name").get<std::string>();
      nt.shape = t.at("shape").get<std::vector<int>>();
      size_t n = 1;
      for (int d : nt.shape) {
        if (d < 1) throw FormatError(where + ": tensor '" + nt.name + "' has a bad shape");
        n *= static_cast<size_t>(d);
      }
      used += n;
      if (used > count) throw FormatError(where + ": tensors exceed the stored values");
      nt.data.resize(n);
      std::memcpy(nt.data.data(), in.data() + at, n * 4);
      at += n * 4;
      model.tensors.push_back(std::move(nt));
    }
    if (used != count) throw FormatError(where + ": stored values do not match the tensors");
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(where + " has a malformed header: " + e.what());
  }
  return model;
}

ModelFile model_file_from_network(const Network& net, const nlohmann::json& meta) {
  ModelFile file;
  file.arch = net.arch();
  file.meta = meta;
  const std::vector<float> params = net.params_to_host();
  for (const ParamSpec& spec : net.params()) {
    NamedTensor t;
    t.name = spec.name;
    t.shape = spec.shape;
    t.data.assign(params.begin() + spec.offset, params.begin() + spec.offset + spec.size());
    file.tensors.push_back(std::move(t));
  }
  return file;
}

void model_file_to_network(const ModelFile& file, Network& net) {
  std::vector<float> params(net.param_count());
  if (file.tensors.size() != net.params().size())
    throw FormatError("the model file holds " + std::to_string(file.tensors.size()) +
                      " tensors; its architecture needs " + std::to_string(net.params().size()));
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const NamedTensor& t = file.tensors[i];
    const ParamSpec& spec = net.params()[i];
    if (t.name != spec.name || t.shape != spec.shape)
      throw FormatError("model tensor '" + t.name + "' does not match the architecture's '" +
                        spec.name + "'");
    std::copy(t.data.begin(), t.data.end(), params.begin() + spec.offset);
  }
  net.params_from_host(params);
}

}  // namespace scrawl
