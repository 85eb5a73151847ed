// The KServe v2 / Triton inference protocol over HTTP/REST for our one model: request
// parsing (JSON tensors, flat or nested, and Triton's binary tensor extension) and response
// building. Pure functions; tested by tests/server/test_kserve.cpp and, live, test_api.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace scrawl::server {

constexpr const char* kV2InputName = "input";
constexpr const char* kV2OutputName = "probabilities";
constexpr const char* kV2Version = "1";

struct V2Request {
  std::vector<float> x;  // (N, 1, 28, 28), values as the client sent them (UINT8 scaled by 1/255)
  int n = 0;
  std::optional<std::string> id;  // echoed back
  bool binary_output = false;     // answer the output as raw bytes after the JSON header
};

// body: the whole HTTP body; header_length: Inference-Header-Content-Length when present (the
// JSON is then body[0, header_length) and the binary tensors follow). Accepts one input of
// datatype FP32 or UINT8, shape [N,28,28], [N,1,28,28] or [N,784], 1 <= N <= max_n.
// Throws HttpError: 400 for malformed JSON or tensors, 413 for N > max_n.
V2Request v2_request_parse(std::string_view body, std::optional<size_t> header_length, int max_n);

// probs (N, 10). Returns the body; when req.binary_output, *json_length receives the length of
// the JSON header (for the Inference-Header-Content-Length response header).
std::string v2_response_build(const V2Request& req, const std::string& model, const float* probs,
                              std::optional<size_t>* json_length);

// GET /v2/models/{name}
nlohmann::json v2_model_metadata(const std::string& model, const std::string& device);

}  // namespace scrawl::server
