// Helpers shared by the `scrawl` subcommands: locating the shipped model, loading models,
// and reading images into network inputs. Exercised by tests/unit/test_cli.cpp through the binary.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/backend.h"
#include "host/network.h"

namespace scrawl::app {

// The shipped model, found next to the binary (build/../models, share/scrawl/models), or
// $SCRAWL_MODEL. Never relative to the working directory.
std::string default_model_path();

// Number mode's pair reader for a --pair-model flag: the flag's file; "none": none (""); unset
// (""): $SCRAWL_PAIR_MODEL ("none" there too), else the shipped models/pairs.scrawl found as the
// default model is, else none.
std::string pair_model_path(const std::string& flag);

struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Network> net;
  std::string path;
};

// Creates the backend (logging its choice to stderr unless quiet) and loads the model.
LoadedModel model_load(const std::string& path, const std::string& device, bool quiet);

}  // namespace scrawl::app
