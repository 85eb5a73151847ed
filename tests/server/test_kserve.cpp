// Unit tests of server/kserve: v2 infer requests as Triton's and KServe's clients send them
// (JSON data flat or nested, FP32 or UINT8, the three shapes, the binary tensor extension),
// every malformed variant refused with 400/413, and responses in both encodings.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "server/http_util.h"
#include "server/kserve.h"

namespace scrawl::server {
namespace {

using nlohmann::json;

json flat_values(int n, float scale = 1.0f / 784) {
  json d = json::array();
  for (int i = 0; i < n * 784; ++i) d.push_back((i % 784) * scale);
  return d;
}

json request(const json& shape, const std::string& dtype, const json& data) {
  return {{"inputs", {{{"name", "input"}, {"shape", shape}, {"datatype", dtype}, {"data", data}}}}};
}

unsigned status_of(const std::string& body, std::optional<size_t> hl = std::nullopt,
                   int max_n = 16) {
  try {
    v2_request_parse(body, hl, max_n);
    return 200;
  } catch (const HttpError& e) {
    return e.status;
  }
}

TEST(KServe, FlatFp32InEachShape) {
  for (json shape : {json{2, 1, 28, 28}, json{2, 28, 28}, json{2, 784}}) {
    V2Request r = v2_request_parse(request(shape, "FP32", flat_values(2)).dump(), std::nullopt, 16);
    EXPECT_EQ(r.n, 2);
    ASSERT_EQ(r.x.size(), 2u * 784);
    EXPECT_FLOAT_EQ(r.x[783], 783.0f / 784);
    EXPECT_FLOAT_EQ(r.x[784 + 5], 5.0f / 784);
    EXPECT_FALSE(r.binary_output);
  }
}

TEST(KServe, NestedData) {
  json img = json::array();
  for (int y = 0; y < 28; ++y) {
    json row = json::array();
    for (int x = 0; x < 28; ++x) row.push_back(y == x ? 1.0 : 0.0);
    img.push_back(row);
  }
  V2Request r = v2_request_parse(
      request({1, 1, 28, 28}, "FP32", json::array({json::array({img})})).dump(), std::nullopt, 16);
  EXPECT_FLOAT_EQ(r.x[0], 1.0f);
  EXPECT_FLOAT_EQ(r.x[29], 1.0f);
  EXPECT_FLOAT_EQ(r.x[1], 0.0f);
}

TEST(KServe, Uint8ScaledToUnit) {
  json d = json::array();
  for (int i = 0; i < 784; ++i) d.push_back(i % 256);
  V2Request r = v2_request_parse(request({1, 784}, "UINT8", d).dump(), std::nullopt, 16);
  EXPECT_FLOAT_EQ(r.x[255], 1.0f);
  EXPECT_FLOAT_EQ(r.x[51], 0.2f);
}

TEST(KServe, IdParametersAndOutputs) {
  json j = request({1, 784}, "FP32", flat_values(1));
  j["id"] = "req-42";
  j["outputs"] = {{{"name", "probabilities"}, {"parameters", {{"binary_data", true}}}}};
  V2Request r = v2_request_parse(j.dump(), std::nullopt, 16);
  EXPECT_EQ(r.id.value_or(""), "req-42");
  EXPECT_TRUE(r.binary_output);
  j.erase("outputs");
  j["parameters"] = {{"binary_data_output", true}};
  EXPECT_TRUE(v2_request_parse(j.dump(), std::nullopt, 16).binary_output);
}

// tritonclient.http's default: set_data_from_numpy(binary_data=True) puts the tensor after the
// JSON, sized by parameters.binary_data_size and the Inference-Header-Content-Length header.
TEST(KServe, TritonBinaryExtension) {
  std::vector<float> x(3 * 784);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) / 97.0f;
  json j = {{"inputs",
             {{{"name", "input"},
               {"shape", {3, 1, 28, 28}},
               {"datatype", "FP32"},
               {"parameters", {{"binary_data_size", x.size() * 4}}}}}},
            {"outputs", {{{"name", "probabilities"}, {"parameters", {{"binary_data", true}}}}}}};
  const std::string head = j.dump();
  std::string body = head + std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  V2Request r = v2_request_parse(body, head.size(), 16);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.x, x);
  EXPECT_TRUE(r.binary_output);
  // Wrong sizes, missing header, trailing bytes.
  EXPECT_EQ(status_of(body.substr(0, body.size() - 4), head.size()), 400u);
  EXPECT_EQ(status_of(body + "xxxx", head.size()), 400u);
  EXPECT_EQ(status_of(body, std::nullopt), 400u);
  EXPECT_EQ(status_of(body, body.size() + 1), 400u);
  // NaN in binary data.
  std::vector<float> nan = x;
  nan[7] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(status_of(head + std::string(reinterpret_cast<const char*>(nan.data()), nan.size() * 4),
                      head.size()),
            400u);
}

TEST(KServe, Uint8Binary) {
  std::string bytes(784, '\0');
  bytes[10] = static_cast<char>(255);
  json j = {{"inputs",
             {{{"name", "x"},
               {"shape", {1, 28, 28}},
               {"datatype", "UINT8"},
               {"parameters", {{"binary_data_size", 784}}}}}}};
  const std::string head = j.dump();
  V2Request r = v2_request_parse(head + bytes, head.size(), 16);
  EXPECT_FLOAT_EQ(r.x[10], 1.0f);
  EXPECT_FLOAT_EQ(r.x[11], 0.0f);
}

TEST(KServe, RefusesMalformedRequests) {
  const json ok = request({1, 784}, "FP32", flat_values(1));
  EXPECT_EQ(status_of(ok.dump()), 200u);
  EXPECT_EQ(status_of("{not json"), 400u);
  EXPECT_EQ(status_of("[]"), 400u);
  EXPECT_EQ(status_of("{}"), 400u);
  EXPECT_EQ(status_of(json{{"inputs", json::array()}}.dump()), 400u);
  json two = ok;
  two["inputs"].push_back(ok["inputs"][0]);
  EXPECT_EQ(status_of(two.dump()), 400u);
  auto with = [&](const char* key, json v) {
    json j = ok;
    j["inputs"][0][key] = v;
    return status_of(j.dump());
  };
  EXPECT_EQ(with("datatype", "INT64"), 400u);
  EXPECT_EQ(with("datatype", 5), 400u);
  EXPECT_EQ(with("shape", json{1, 27, 28}), 400u);
  EXPECT_EQ(with("shape", json{1, 2, 28, 28}), 400u);
  EXPECT_EQ(with("shape", json{0, 784}), 400u);
  EXPECT_EQ(with("shape", json{-1, 784}), 400u);
  EXPECT_EQ(with("shape", json{784}), 400u);
  EXPECT_EQ(with("shape", json{1.5, 784}), 400u);
  EXPECT_EQ(with("shape", "1,784"), 400u);
  EXPECT_EQ(with("shape", json{17, 784}), 413u);  // above max_n
  EXPECT_EQ(with("data", flat_values(2)), 400u);  // too many values
  json short_data = flat_values(1);
  short_data.erase(short_data.size() - 1);
  EXPECT_EQ(with("data", short_data), 400u);
  json text = flat_values(1);
  text[3] = "x";
  EXPECT_EQ(with("data", text), 400u);
  EXPECT_EQ(with("data", "abc"), 400u);
  EXPECT_EQ(with("name", 3), 400u);
  json zeros = json::array();
  for (int i = 0; i < 784; ++i) zeros.push_back(0);
  json u8 = request({1, 784}, "UINT8", zeros);
  EXPECT_EQ(status_of(u8.dump()), 200u);
  u8["inputs"][0]["data"][0] = 256;
  EXPECT_EQ(status_of(u8.dump()), 400u);
  u8["inputs"][0]["data"][0] = -1;
  EXPECT_EQ(status_of(u8.dump()), 400u);
  u8["inputs"][0]["data"][0] = 0.5;
  EXPECT_EQ(status_of(u8.dump()), 400u);
  json out = ok;
  out["outputs"] = {{{"name", "logits"}}};
  EXPECT_EQ(status_of(out.dump()), 400u);
  json id = ok;
  id["id"] = 7;
  EXPECT_EQ(status_of(id.dump()), 400u);
  // Deep nesting is refused, not recursed into without bound.
  std::string deep = std::string(100, '[') + "1" + std::string(100, ']');
  EXPECT_EQ(with("data", json::parse(deep)), 400u);
}

TEST(KServe, ResponseJsonAndBinary) {
  V2Request r;
  r.n = 2;
  r.id = "abc";
  std::vector<float> probs(20);
  for (int i = 0; i < 20; ++i) probs[i] = i / 20.0f;
  std::optional<size_t> len;
  json j = json::parse(v2_response_build(r, "default", probs.data(), &len));
  EXPECT_FALSE(len);
  EXPECT_EQ(j["model_name"], "default");
  EXPECT_EQ(j["model_version"], "1");
  EXPECT_EQ(j["id"], "abc");
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "probabilities");
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["shape"], json({2, 10}));
  ASSERT_EQ(j["outputs"][0]["data"].size(), 20u);
  EXPECT_FLOAT_EQ(j["outputs"][0]["data"][13].get<float>(), 13 / 20.0f);

  r.binary_output = true;
  const std::string body = v2_response_build(r, "default", probs.data(), &len);
  ASSERT_TRUE(len);
  json head = json::parse(body.substr(0, *len));
  EXPECT_EQ(head["outputs"][0]["parameters"]["binary_data_size"], 80);
  EXPECT_FALSE(head["outputs"][0].contains("data"));
  ASSERT_EQ(body.size(), *len + 80);
  std::vector<float> back(20);
  std::memcpy(back.data(), body.data() + *len, 80);
  EXPECT_EQ(back, probs);
}

TEST(KServe, ModelMetadata) {
  json m = v2_model_metadata("default", "cpu");
  EXPECT_EQ(m["name"], "default");
  EXPECT_EQ(m["versions"], json({"1"}));
  ASSERT_TRUE(m["inputs"].is_array());
  EXPECT_EQ(m["inputs"][0]["name"], "input");
  EXPECT_EQ(m["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(m["inputs"][0]["shape"], json({-1, 1, 28, 28}));
  EXPECT_EQ(m["outputs"][0]["name"], "probabilities");
  EXPECT_EQ(m["outputs"][0]["shape"], json({-1, 10}));
}

}  // namespace
}  // namespace scrawl::server
