// KServe v2 request parsing and response building. See kserve.h.
// Tested by tests/server/test_kserve.cpp.
#include "server/kserve.h"

#include <cmath>
#include <cstring>

#include "server/http_util.h"
#include "server/inference.h"

namespace scrawl::server {
namespace {

using nlohmann::json;

HttpError bad(const std::string& message) { return HttpError(400, "invalid_tensor", message); }

enum class DType { Fp32, Uint8 };

// Appends the numbers of a flat or nested JSON array to out (row-major), checking types.
void flatten(const json& j, DType dt, std::vector<float>& out, size_t limit, int depth) {
  if (depth > 8) throw bad("tensor data nested too deeply");
  for (const json& v : j) {
    if (v.is_array()) {
      flatten(v, dt, out, limit, depth + 1);
      continue;
    }
    if (!v.is_number()) throw bad("tensor data must hold only numbers");
    if (out.size() >= limit) throw bad("tensor data has more values than its shape holds");
    if (dt == DType::Uint8) {
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        throw bad("UINT8 data must be integers from 0 to 255");
      const uint64_t u = v.get<uint64_t>();
      if (u > 255) throw bad("UINT8 data must be integers from 0 to 255");
      out.push_back(static_cast<float>(u) / 255.0f);
    } else {
      const double d = v.get<double>();
      if (!std::isfinite(d)) throw bad("FP32 data must be finite");
      out.push_back(static_cast<float>(d));
    }
  }
}

}  // namespace

V2Request v2_request_parse(std::string_view body, std::optional<size_t> header_length, int max_n) {
  std::string_view json_text = body, binary;
  if (header_length) {
    if (*header_length > body.size())
      throw HttpError(400, "bad_request",
                      "Inference-Header-Content-Length is larger than the body");
    json_text = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (doc.is_discarded()) throw HttpError(400, "bad_request", "request body is not valid JSON");
  if (!doc.is_object()) throw HttpError(400, "bad_request", "request body must be a JSON object");

  V2Request req;
  if (auto it = doc.find("id"); it != doc.end()) {
    if (!it->is_string()) throw HttpError(400, "bad_request", "\"id\" must be a string");
    req.id = it->get<std::string>();
  }
  if (auto it = doc.find("parameters"); it != doc.end() && it->is_object()) {
    if (auto b = it->find("binary_data_output"); b != it->end() && b->is_boolean())
      req.binary_output = b->get<bool>();
  }

  auto inputs = doc.find("inputs");
  if (inputs == doc.end() || !inputs->is_array() || inputs->size() != 1)
    throw bad("\"inputs\" must be an array holding exactly one tensor");
  const json& in = (*inputs)[0];
  if (!in.is_object()) throw bad("each input must be an object");
  if (auto name = in.find("name"); name == in.end() || !name->is_string())
    throw bad("the input needs a \"name\" string");

  auto dt_it = in.find("datatype");
  if (dt_it == in.end() || !dt_it->is_string()) throw bad("the input needs a \"datatype\" string");
  DType dt;
  const std::string dts = dt_it->get<std::string>();
  if (dts == "FP32")
    dt = DType::Fp32;
  else if (dts == "UINT8")
    dt = DType::Uint8;
  else
    throw bad("datatype " + dts + " is not supported; send FP32 or UINT8");

  auto shape_it = in.find("shape");
  if (shape_it == in.end() || !shape_it->is_array() || shape_it->empty() || shape_it->size() > 4)
    throw bad("the input needs a \"shape\" array");
  std::vector<int64_t> shape;
  for (const json& d : *shape_it) {
    if (!d.is_number_integer()) throw bad("shape entries must be integers");
    shape.push_back(d.get<int64_t>());
  }
  const bool ok_shape =
      (shape.size() == 3 && shape[1] == kImageSide && shape[2] == kImageSide) ||
      (shape.size() == 4 && shape[1] == 1 && shape[2] == kImageSide && shape[3] == kImageSide) ||
      (shape.size() == 2 && shape[1] == kImagePixels);
  if (!ok_shape) throw bad("shape must be [N,28,28], [N,1,28,28] or [N,784]");
  if (shape[0] < 1) throw bad("batch size N must be at least 1");
  if (shape[0] > max_n)
    throw HttpError(413, "too_many_images",
                    "batch size " + std::to_string(shape[0]) + " is above the limit of " +
                        std::to_string(max_n));
  req.n = static_cast<int>(shape[0]);
  const size_t count = static_cast<size_t>(req.n) * kImagePixels;

  const json* params = nullptr;
  if (auto p = in.find("parameters"); p != in.end()) {
    if (!p->is_object()) throw bad("input \"parameters\" must be an object");
    params = &*p;
  }
  const bool has_binary = params && params->contains("binary_data_size");
  auto data_it = in.find("data");
  if (has_binary) {
    if (!header_length)
      throw HttpError(400, "bad_request",
                      "binary tensor data needs the Inference-Header-Content-Length header");
    const json& size_j = (*params)["binary_data_size"];
    if (!size_j.is_number_unsigned()) throw bad("binary_data_size must be a non-negative integer");
    const size_t elem = dt == DType::Fp32 ? 4 : 1;
    const size_t size = size_j.get<size_t>();
    if (size != count * elem)
      throw bad("binary_data_size is " + std::to_string(size) + " bytes; shape and datatype need " +
                std::to_string(count * elem));
    if (binary.size() != size)
      throw bad("the body holds " + std::to_string(binary.size()) +
                " bytes after the JSON header; binary_data_size says " + std::to_string(size));
    req.x.resize(count);
    if (dt == DType::Fp32) {
      std::memcpy(req.x.data(), binary.data(), size);  // little-endian, as the clients send
      for (float v : req.x)
        if (!std::isfinite(v)) throw bad("FP32 data must be finite");
    } else {
      for (size_t i = 0; i < count; ++i)
        req.x[i] = static_cast<float>(static_cast<unsigned char>(binary[i])) / 255.0f;
    }
  } else {
    if (data_it == in.end() || !data_it->is_array())
      throw bad("the input needs a \"data\" array (or binary_data_size)");
    if (header_length && !binary.empty())
      throw bad("bytes follow the JSON header but no input declares binary_data_size");
    req.x.reserve(count);
    flatten(*data_it, dt, req.x, count, 0);
    if (req.x.size() != count)
      throw bad("tensor data holds " + std::to_string(req.x.size()) + " values; shape needs " +
                std::to_string(count));
  }

  if (auto outputs = doc.find("outputs"); outputs != doc.end()) {
    if (!outputs->is_array()) throw bad("\"outputs\" must be an array");
    for (const json& o : *outputs) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        throw bad("each requested output needs a \"name\"");
      if (o["name"].get<std::string>() != kV2OutputName)
        throw bad("unknown output \"" + o["name"].get<std::string>() +
                  "\"; this model's output is \"" + kV2OutputName + "\"");
      if (auto p = o.find("parameters"); p != o.end() && p->is_object()) {
        if (auto b = p->find("binary_data"); b != p->end() && b->is_boolean())
          req.binary_output = b->get<bool>();
      }
    }
  }
  return req;
}

std::string v2_response_build(const V2Request& req, const std::string& model, const float* probs,
                              std::optional<size_t>* json_length) {
  const size_t count = static_cast<size_t>(req.n) * kClasses;
  json out = {{"name", kV2OutputName}, {"datatype", "FP32"}, {"shape", {req.n, kClasses}}};
  if (req.binary_output) {
    out["parameters"] = {{"binary_data_size", count * sizeof(float)}};
  } else {
    out["data"] = std::vector<float>(probs, probs + count);
  }
  json doc = {
      {"model_name", model}, {"model_version", kV2Version}, {"outputs", json::array({out})}};
  if (req.id) doc["id"] = *req.id;
  std::string body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  if (req.binary_output) {
    *json_length = body.size();
    body.append(reinterpret_cast<const char*>(probs), count * sizeof(float));
  } else {
    json_length->reset();
  }
  return body;
}

json v2_model_metadata(const std::string& model, const std::string& device) {
  return {
      {"name", model},
      {"versions", {kV2Version}},
      {"platform", std::string("scrawl_") + (device.empty() ? "cpu" : device)},
      {"inputs",
       {{{"name", kV2InputName},
         {"datatype", "FP32"},
         {"shape", {-1, 1, kImageSide, kImageSide}}}}},
      {"outputs", {{{"name", kV2OutputName}, {"datatype", "FP32"}, {"shape", {-1, kClasses}}}}}};
}

}  // namespace scrawl::server
