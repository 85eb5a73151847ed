// Layer constructors: each turns one entry of an architecture's "layers" list into a Layer.
// Tested by tests/unit/test_layers.cpp.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "host/network.h"

namespace scrawl {

// `spec` is one JSON layer object, `in` the per-sample input shape, `index` its position
// (for parameter names). Throws FormatError for an unknown type or a bad field.
std::unique_ptr<Layer> layer_create(const nlohmann::json& spec, const ActShape& in, int index);

}  // namespace scrawl
