// The HTTP API contract (DESIGN.md) against a live server on an ephemeral loopback port, with
// the shipped model: /predict (HTML and JSON), /api/v1/predict (raw, multipart, many, number
// mode), KServe v2 (JSON flat/nested, UINT8, Triton's binary requests), /metrics, /openapi.json,
// and every error status with the {"error": {"code", "message"}} shape.
#include <gtest/gtest.h>

// GCC 12 reports -Wmaybe-uninitialized inside libstdc++'s <regex> under the sanitizers (a known
// false positive in std::function moves); these tests use std::regex, so hush it here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include "host/vision/preprocess.h"
#include "test_util.h"

namespace scrawl::test {
namespace {

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      server_ = new LiveServer();
    } catch (const std::exception& e) {
      setup_error_ = std::string("cannot serve the model ") + test_model_path() + ": " + e.what() +
                     " (the shipped models/default.scrawl, or $SCRAWL_MODEL)";
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_) GTEST_FAIL() << setup_error_;
  }
  static inline std::string setup_error_;
  static uint16_t port() { return server_->port(); }
  static std::string model() { return real_engine()->model(); }
  static LiveServer* server_;
};
LiveServer* Api::server_ = nullptr;

// The error shape of the contract, and nothing else in it.
void expect_error(const Reply& r, unsigned status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json") << r.body;
  json j = r.body_json();
  ASSERT_TRUE(j.is_object()) << r.body;
  ASSERT_EQ(j.size(), 1u) << r.body;
  ASSERT_TRUE(j["error"].is_object()) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  if (status == 503) {
    EXPECT_FALSE(r.header("retry-after").empty());
  }
}

// One /api/v1/predict result, checked field by field.
void expect_result(const json& r, int digit) {
  ASSERT_TRUE(r.is_object()) << r.dump();
  EXPECT_EQ(r["digit"], digit) << r.dump();
  const double conf = r["confidence"].get<double>();
  EXPECT_GT(conf, 0.0);
  EXPECT_LE(conf, 1.0);
  ASSERT_EQ(r["probabilities"].size(), 10u);
  double sum = 0, best = -1;
  int arg = -1;
  for (int c = 0; c < 10; ++c) {
    const double p = r["probabilities"][c].get<double>();
    EXPECT_GE(p, 0.0);
    sum += p;
    if (p > best) best = p, arg = c;
  }
  EXPECT_NEAR(sum, 1.0, 1e-3);
  EXPECT_EQ(arg, r["digit"].get<int>());
  EXPECT_NEAR(best, conf, 1e-6);
  EXPECT_EQ(r["number"], std::to_string(digit));
  ASSERT_EQ(r["digits"].size(), 1u);
  EXPECT_EQ(r["digits"][0]["digit"], digit);
  ASSERT_EQ(r["digits"][0]["box"].size(), 4u);
  EXPECT_GT(r["digits"][0]["box"][2].get<int>(), 0);
  EXPECT_GT(r["digits"][0]["box"][3].get<int>(), 0);
  EXPECT_EQ(r["device"], "cpu");
  EXPECT_EQ(r["model"], real_engine()->model());
}

// Digits the drawn shapes reliably read as (checked against the shipped model).
const std::vector<int> kDigits = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

// ---------------------------------------------------------------- /api/v1/predict

TEST_F(Api, RawPngReadsTheDigit) {
  for (int d : kDigits) {
    Reply r = http_post(port(), "/api/v1/predict", digit_png(d), {{"Content-Type", "image/png"}});
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    expect_result(r.body_json(), d);
  }
}

TEST_F(Api, JpegAndBmpAndOctetStream) {
  Reply jpg = http_post(port(), "/api/v1/predict", encode(digit_image(7), ".jpg"),
                        {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(jpg.status, 200u) << jpg.body;
  expect_result(jpg.body_json(), 7);
  Reply bmp = http_post(port(), "/api/v1/predict", encode(digit_image(1), ".bmp"),
                        {{"Content-Type", "image/bmp"}});
  ASSERT_EQ(bmp.status, 200u) << bmp.body;
  expect_result(bmp.body_json(), 1);
  // No declared image type, but the bytes say PNG.
  Reply oct = http_post(port(), "/api/v1/predict", digit_png(0),
                        {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(oct.status, 200u) << oct.body;
  expect_result(oct.body_json(), 0);
}

TEST_F(Api, FixtureSevenPhoto) {
  std::ifstream f(std::string(SCRAWL_SOURCE_DIR) + "/tests/fixtures/seven.png", std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(png.empty());
  Reply r = http_post(port(), "/api/v1/predict", png, {{"Content-Type", "image/png"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  expect_result(r.body_json(), 7);
}

TEST_F(Api, MultipartOneImageAnswersOneObject) {
  Reply r = http_post(port(), "/api/v1/predict", image_form({digit_png(4)}), multipart_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  expect_result(r.body_json(), 4);
}

TEST_F(Api, MultipartManyImagesAnswerResultsInOrder) {
  Reply r = http_post(port(), "/api/v1/predict",
                      image_form({digit_png(3), digit_png(1), digit_png(7), digit_png(0)}),
                      multipart_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.body_json();
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j["results"].size(), 4u);
  expect_result(j["results"][0], 3);
  expect_result(j["results"][1], 1);
  expect_result(j["results"][2], 7);
  expect_result(j["results"][3], 0);
}

TEST_F(Api, ManyImagesReportEachFailureInItsSlot) {
  std::vector<Part> parts = {{"image", "a.png", "image/png", digit_png(2)},
                             {"image", "notes.txt", "text/plain", "hello"},
                             {"image", "blank.png", "image/png", blank_png()},
                             {"other", "", "", "ignored field"},
                             {"image", "broken.png", "image/png", "\x89PNG\r\n\x1a\nbroken"},
                             {"image", "b.png", "", digit_png(5)}};
  Reply r =
      http_post(port(), "/api/v1/predict", multipart_body(parts, kBoundary), multipart_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  json res = r.body_json()["results"];
  ASSERT_EQ(res.size(), 5u);
  expect_result(res[0], 2);
  EXPECT_EQ(res[1]["error"]["code"], "unsupported_media_type");
  EXPECT_NE(res[1]["error"]["message"].get<std::string>().find("notes.txt"), std::string::npos);
  EXPECT_EQ(res[2]["error"]["code"], "no_ink");
  EXPECT_EQ(res[3]["error"]["code"], "undecodable_image");
  expect_result(res[4], 5);
}

TEST_F(Api, NumberModeReadsARow) {
  Reply r = http_post(port(), "/api/v1/predict?mode=number", encode(number_image("170")),
                      {{"Content-Type", "image/png"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.body_json();
  EXPECT_EQ(j["number"], "170") << r.body;
  EXPECT_EQ(j["text"], "170");  // no separators written
  ASSERT_EQ(j["digits"].size(), 3u);
  int last_x = -1;
  for (const json& d : j["digits"]) {
    EXPECT_GT(d["box"][0].get<int>(), last_x);  // left to right
    last_x = d["box"][0].get<int>();
  }
  EXPECT_EQ(j["digit"], 1);  // the headline is the first digit's
  // Digit mode on a single digit through the same query parameter.
  Reply one = http_post(port(), "/api/v1/predict?mode=digit", digit_png(9),
                        {{"Content-Type", "image/png"}});
  expect_result(one.body_json(), 9);
}

TEST_F(Api, NumberModeWithManyImages) {
  Reply r = http_post(port(), "/api/v1/predict?mode=number",
                      image_form({encode(number_image("42")), encode(number_image("7"))}),
                      multipart_headers());
  ASSERT_EQ(r.status, 200u) << r.body;
  json res = r.body_json()["results"];
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0]["number"], "42");
  EXPECT_EQ(res[1]["number"], "7");
}

// Number mode's pair reader: a group cut in two is read again whole, and a sure reading of it
// is what the answer reports for those two digits (here a fake reader, sure of "37").
TEST(ApiPairReader, SureReadingOfATouchingGroupIsReported) {
  LiveServer live;
  std::atomic<int> calls{0};
  live.srv->pair_reader_set([&calls](const std::vector<vision::PairCrop>& crops) {
    ++calls;
    std::vector<float> p(crops.size() * vision::kPairClasses, 0.0f);
    for (size_t i = 0; i < crops.size(); ++i)
      p[i * vision::kPairClasses + 37] = 0.96f, p[i * vision::kPairClasses + 38] = 0.04f;
    return p;
  });
  // Two rings drawn so that they touch: one group, which the splitter cuts in two.
  cv::Mat img(140, 180, CV_8UC1, cv::Scalar(235));
  digit_draw(img, 0, {10, 10});
  digit_draw(img, 0, {58, 10});
  Reply r = http_post(live.port(), "/api/v1/predict?mode=number", encode(img),
                      {{"Content-Type", "image/png"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.body_json();
  EXPECT_GE(calls.load(), 1);
  EXPECT_EQ(j["number"], "37") << r.body;
  ASSERT_EQ(j["digits"].size(), 2u);
  EXPECT_NEAR(j["digits"][0]["confidence"].get<double>(), 1.0, 1e-5);   // 37 and 38
  EXPECT_NEAR(j["digits"][1]["confidence"].get<double>(), 0.96, 1e-5);  // 37
  EXPECT_NEAR(j["probabilities"][3].get<double>(), 1.0, 1e-5);  // the first digit's
  // Digits apart are not the pair reader's: separate digits read as before.
  calls = 0;
  Reply apart = http_post(live.port(), "/api/v1/predict?mode=number", encode(number_image("42")),
                          {{"Content-Type", "image/png"}});
  EXPECT_EQ(apart.body_json()["number"], "42") << apart.body;
  EXPECT_EQ(calls.load(), 0);
  // Three touching rings: each neighbouring pair is read, and a digit takes the surer reading
  // of the two it is part of (the middle ring: 0.97's "58" over 0.92's "37").
  cv::Mat three(140, 230, CV_8UC1, cv::Scalar(235));
  for (int k = 0; k < 3; ++k) digit_draw(three, 0, {10 + 48 * k, 10});
  live.srv->pair_reader_set([](const std::vector<vision::PairCrop>& crops) {
    std::vector<float> p(crops.size() * vision::kPairClasses, 0.0f);
    for (size_t i = 0; i < crops.size(); ++i) {
      const bool first = i == 0;
      p[i * vision::kPairClasses + (first ? 37 : 58)] = first ? 0.92f : 0.97f;
      p[i * vision::kPairClasses + 11] = first ? 0.08f : 0.03f;
    }
    return p;
  });
  Reply chain = http_post(live.port(), "/api/v1/predict?mode=number", encode(three),
                          {{"Content-Type", "image/png"}});
  EXPECT_EQ(chain.body_json()["number"], "358") << chain.body;
  // Without a reader, the touching rings read as the model reads their pieces.
  live.srv->pair_reader_set({});
  Reply plain = http_post(live.port(), "/api/v1/predict?mode=number", encode(img),
                          {{"Content-Type", "image/png"}});
  EXPECT_EQ(plain.body_json()["number"], "00") << plain.body;
}

TEST_F(Api, PredictErrors) {
  const Headers png = {{"Content-Type", "image/png"}};
  expect_error(http_post(port(), "/api/v1/predict", digit_png(1), {}), 415,
               "unsupported_media_type");
  expect_error(http_post(port(), "/api/v1/predict", "hello", {{"Content-Type", "text/plain"}}), 415,
               "unsupported_media_type");
  expect_error(http_post(port(), "/api/v1/predict", "GIF89a....", {{"Content-Type", "image/gif"}}),
               415, "unsupported_media_type");
  expect_error(http_post(port(), "/api/v1/predict", "<svg/>", {{"Content-Type", "image/svg+xml"}}),
               415, "unsupported_media_type");
  expect_error(http_post(port(), "/api/v1/predict", "just text",
                         {{"Content-Type", "application/octet-stream"}}),
               415, "unsupported_media_type");
  expect_error(http_post(port(), "/api/v1/predict", "this is not a png", png), 422,
               "undecodable_image");
  expect_error(http_post(port(), "/api/v1/predict", digit_png(1).substr(0, 60), png), 422,
               "undecodable_image");
  expect_error(http_post(port(), "/api/v1/predict", blank_png(), png), 422, "no_ink");
  expect_error(http_post(port(), "/api/v1/predict", "", png), 400, "empty_image");
  expect_error(http_post(port(), "/api/v1/predict?mode=words", digit_png(1), png), 400,
               "bad_request");
  expect_error(http_post(port(), "/api/v1/predict?mode=%zz", digit_png(1), png), 400,
               "bad_request");
  // Multipart without an image field, without a boundary, broken.
  expect_error(http_post(port(), "/api/v1/predict",
                         multipart_body({{"file", "a.png", "image/png", digit_png(1)}}, kBoundary),
                         multipart_headers()),
               400, "missing_image");
  expect_error(http_post(port(), "/api/v1/predict", image_form({digit_png(1)}),
                         {{"Content-Type", "multipart/form-data"}}),
               400, "bad_request");
  expect_error(http_post(port(), "/api/v1/predict",
                         "--" + std::string(kBoundary) +
                             "\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\ntruncated",
                         multipart_headers()),
               400, "bad_request");
  // A single image in a form fails with its own status.
  expect_error(http_post(port(), "/api/v1/predict", image_form({blank_png()}), multipart_headers()),
               422, "no_ink");
  // Wrong method.
  Reply get = http_get(port(), "/api/v1/predict");
  expect_error(get, 405, "method_not_allowed");
  EXPECT_EQ(get.header("allow"), "POST");
}

TEST_F(Api, TooManyImagesIs413) {
  std::vector<std::string> pngs(65, digit_png(1));
  expect_error(http_post(port(), "/api/v1/predict", image_form(pngs), multipart_headers()), 413,
               "too_many_images");
}

// A PNG whose header claims 100000 x 100000 pixels: refused from the header, before any pixel
// is allocated (a decompression bomb).
TEST_F(Api, HugeDimensionsAre413) {
  std::string png = digit_png(1);
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put32(16, 100000);  // IHDR width
  put32(20, 100000);  // IHDR height
  // Recompute the IHDR CRC over type + data (bytes 12..28).
  uint32_t crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= static_cast<unsigned char>(png[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  put32(29, crc ^ 0xffffffffu);
  expect_error(http_post(port(), "/api/v1/predict", png, {{"Content-Type", "image/png"}}), 413,
               "image_too_large");
}

// ---------------------------------------------------------------- POST /predict (the report's
// form)

TEST_F(Api, FormAnswersHtmlToBrowsers) {
  const Headers browser = multipart_headers(
      {{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}});
  Reply r = http_post(port(), "/predict", image_form({digit_png(7)}), browser);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("id=\"answer\">7<"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<meter"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/\""), std::string::npos);
  // No Accept header at all (the report's own form posts): HTML too.
  Reply plain = http_post(port(), "/predict", image_form({digit_png(7)}), multipart_headers());
  EXPECT_EQ(plain.header("content-type"), "text/html; charset=utf-8");
  // Errors are pages with the right status.
  Reply bad = http_post(port(), "/predict", image_form({blank_png()}), browser);
  EXPECT_EQ(bad.status, 422u);
  EXPECT_EQ(bad.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(bad.body.find("no ink"), std::string::npos) << bad.body;
  Reply txt = http_post(port(), "/predict",
                        multipart_body({{"image", "<b>x</b>.txt", "text/plain", "hi"}}, kBoundary),
                        browser);
  EXPECT_EQ(txt.status, 415u);
  EXPECT_EQ(txt.body.find("<b>x</b>"), std::string::npos) << "file names are escaped";
}

TEST_F(Api, FormAnswersJsonWhenAsked) {
  Reply r = http_post(port(), "/predict", image_form({digit_png(3)}),
                      multipart_headers({{"Accept", "application/json"}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  expect_result(r.body_json(), 3);
  expect_error(http_post(port(), "/predict", image_form({"nonsense"}),
                         multipart_headers({{"Accept", "application/json"}})),
               422, "undecodable_image");
  expect_error(http_post(port(), "/predict", "hi",
                         {{"Content-Type", "text/plain"}, {"Accept", "application/json"}}),
               415, "unsupported_media_type");
  Reply get = http_get(port(), "/predict", {{"Accept", "application/json"}});
  EXPECT_EQ(get.status, 405u);
}

// ---------------------------------------------------------------- KServe v2

json tensor_request(const std::vector<float>& x, int n, json shape,
                    const std::string& dtype = "FP32") {
  json data = json::array();
  for (float v : x) {
    if (dtype == "UINT8")
      data.push_back(static_cast<int>(std::lround(v * 255)));
    else
      data.push_back(v);
  }
  return {{"inputs", {{{"name", "input"}, {"shape", shape}, {"datatype", dtype}, {"data", data}}}}};
}

std::vector<float> crop_of(int d) {
  const auto crop = vision::digit_preprocess(digit_image(d));
  return std::vector<float>(crop.pixels.begin(), crop.pixels.end());
}

TEST_F(Api, V2HealthAndMetadata) {
  Reply live = http_get(port(), "/v2/health/live");
  EXPECT_EQ(live.status, 200u);
  EXPECT_EQ(live.body_json()["live"], true);
  Reply ready = http_get(port(), "/v2/health/ready");
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.body_json()["ready"], true);
  Reply server = http_get(port(), "/v2");
  EXPECT_EQ(server.body_json()["name"], "scrawl");
  Reply meta = http_get(port(), "/v2/models/" + model());
  ASSERT_EQ(meta.status, 200u) << meta.body;
  json m = meta.body_json();
  EXPECT_EQ(m["name"], model());
  EXPECT_EQ(m["inputs"][0]["shape"], json({-1, 1, 28, 28}));
  EXPECT_EQ(m["outputs"][0]["name"], "probabilities");
  EXPECT_EQ(http_get(port(), "/v2/models/" + model() + "/versions/1").status, 200u);
  EXPECT_EQ(http_get(port(), "/v2/models/" + model() + "/ready").body_json()["ready"], true);
  expect_error(http_get(port(), "/v2/models/nope"), 404, "model_not_found");
  expect_error(http_get(port(), "/v2/models/" + model() + "/versions/2"), 404, "model_not_found");
  expect_error(http_get(port(), "/v2/models/" + model() + "/stats/extra"), 404, "not_found");
  expect_error(http_post(port(), "/v2/health/live", "x"), 405, "method_not_allowed");
}

// The tensor path and the image path agree: the same crop gives the same probabilities.
TEST_F(Api, V2InferMatchesImagePath) {
  std::vector<float> x = crop_of(7);
  std::vector<float> y = crop_of(2);
  std::vector<float> both = x;
  both.insert(both.end(), y.begin(), y.end());
  Reply r = http_post(port(), "/v2/models/" + model() + "/infer",
                      tensor_request(both, 2, {2, 1, 28, 28}).dump(),
                      {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.body_json();
  EXPECT_EQ(j["model_name"], model());
  ASSERT_EQ(j["outputs"].size(), 1u);
  const json& out = j["outputs"][0];
  EXPECT_EQ(out["name"], "probabilities");
  EXPECT_EQ(out["datatype"], "FP32");
  EXPECT_EQ(out["shape"], json({2, 10}));
  ASSERT_EQ(out["data"].size(), 20u);
  json img7 = http_post(port(), "/api/v1/predict", digit_png(7), {{"Content-Type", "image/png"}})
                  .body_json();
  json img2 = http_post(port(), "/api/v1/predict", digit_png(2), {{"Content-Type", "image/png"}})
                  .body_json();
  for (int c = 0; c < 10; ++c) {
    EXPECT_NEAR(out["data"][c].get<double>(), img7["probabilities"][c].get<double>(), 1e-5);
    EXPECT_NEAR(out["data"][10 + c].get<double>(), img2["probabilities"][c].get<double>(), 1e-5);
  }
}

TEST_F(Api, V2InferShapesAndTypes) {
  const std::vector<float> x = crop_of(3);
  const std::string url = "/v2/models/" + model() + "/infer";
  auto argmax = [](const json& data) {
    int best = 0;
    for (int c = 1; c < 10; ++c)
      if (data[c].get<double>() > data[best].get<double>()) best = c;
    return best;
  };
  for (json shape : {json{1, 28, 28}, json{1, 784}, json{1, 1, 28, 28}}) {
    Reply r = http_post(port(), url, tensor_request(x, 1, shape).dump());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(argmax(r.body_json()["outputs"][0]["data"]), 3);
  }
  Reply u8 = http_post(port(), url, tensor_request(x, 1, {1, 784}, "UINT8").dump());
  ASSERT_EQ(u8.status, 200u) << u8.body;
  EXPECT_EQ(argmax(u8.body_json()["outputs"][0]["data"]), 3);
  // Nested data, as a client serialising a numpy array with tolist() sends it.
  json nested = json::array();
  for (int r = 0; r < 28; ++r)
    nested.push_back(std::vector<float>(x.begin() + r * 28, x.begin() + r * 28 + 28));
  json req = {{"id", "nested-1"},
              {"inputs",
               {{{"name", "input"},
                 {"shape", {1, 28, 28}},
                 {"datatype", "FP32"},
                 {"data", json::array({nested})}}}}};
  Reply n = http_post(port(), url, req.dump());
  ASSERT_EQ(n.status, 200u) << n.body;
  EXPECT_EQ(n.body_json()["id"], "nested-1");
  EXPECT_EQ(argmax(n.body_json()["outputs"][0]["data"]), 3);
  // Versioned path.
  EXPECT_EQ(http_post(port(), "/v2/models/" + model() + "/versions/1/infer",
                      tensor_request(x, 1, {1, 784}).dump())
                .status,
            200u);
}

// Exactly what tritonclient.http sends by default: InferInput(...).set_data_from_numpy(arr)
// (binary_data=True) and InferRequestedOutput("probabilities") (binary_data=True): the JSON
// header, then the raw little-endian tensor, sized by Inference-Header-Content-Length.
TEST_F(Api, V2TritonClientBinaryRequest) {
  std::vector<float> x = crop_of(0);
  const std::vector<float> one = crop_of(1);
  x.insert(x.end(), one.begin(), one.end());
  const std::string head =
      json{{"id", "1"},
           {"inputs",
            {{{"name", "input"},
              {"shape", {2, 1, 28, 28}},
              {"datatype", "FP32"},
              {"parameters", {{"binary_data_size", x.size() * 4}}}}}},
           {"outputs", {{{"name", "probabilities"}, {"parameters", {{"binary_data", true}}}}}}}
          .dump();
  const std::string body =
      head + std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  Reply r = http_post(port(), "/v2/models/" + model() + "/infer", body,
                      {{"Inference-Header-Content-Length", std::to_string(head.size())},
                       {"Accept-Encoding", "gzip, deflate"},
                       {"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  const size_t hl = std::stoul(r.header("inference-header-content-length"));
  json j = json::parse(r.body.substr(0, hl));
  EXPECT_EQ(j["id"], "1");
  EXPECT_EQ(j["outputs"][0]["shape"], json({2, 10}));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 80);
  ASSERT_EQ(r.body.size(), hl + 80);
  float probs[20];
  std::memcpy(probs, r.body.data() + hl, 80);
  EXPECT_EQ(std::max_element(probs, probs + 10) - probs, 0);
  EXPECT_EQ(std::max_element(probs + 10, probs + 20) - (probs + 10), 1);
  // Without requested outputs the client sets binary_data_output: also answered in binary.
  const std::string head2 = json{{"inputs",
                                  {{{"name", "input"},
                                    {"shape", {2, 1, 28, 28}},
                                    {"datatype", "FP32"},
                                    {"parameters", {{"binary_data_size", x.size() * 4}}}}}},
                                 {"parameters", {{"binary_data_output", true}}}}
                                .dump();
  Reply r2 = http_post(port(), "/v2/models/" + model() + "/infer",
                       head2 + std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4),
                       {{"Inference-Header-Content-Length", std::to_string(head2.size())}});
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(r2.body.size(), std::stoul(r2.header("inference-header-content-length")) + 80);
}

TEST_F(Api, V2InferErrors) {
  const std::string url = "/v2/models/" + model() + "/infer";
  const std::vector<float> x = crop_of(3);
  expect_error(http_post(port(), url, "{broken"), 400, "bad_request");
  expect_error(http_post(port(), url, tensor_request(x, 1, {1, 27, 28}).dump()), 400,
               "invalid_tensor");
  expect_error(http_post(port(), url, tensor_request(x, 1, {2, 784}).dump()), 400,
               "invalid_tensor");
  expect_error(http_post(port(), url, tensor_request(x, 1, {1, 784}, "INT64").dump()), 400,
               "invalid_tensor");
  std::vector<float> many(static_cast<size_t>(1025) * 784, 0.0f);
  json big = {{"inputs",
               {{{"name", "input"},
                 {"shape", {1025, 784}},
                 {"datatype", "UINT8"},
                 {"data", json::array()}}}}};
  expect_error(http_post(port(), url, big.dump()), 413, "too_many_images");
  expect_error(http_post(port(), url, "{}", {{"Inference-Header-Content-Length", "x1"}}), 400,
               "bad_request");
  expect_error(http_post(port(), url, "{}", {{"Inference-Header-Content-Length", "99"}}), 400,
               "bad_request");
  expect_error(http_post(port(), "/v2/models/other/infer", tensor_request(x, 1, {1, 784}).dump()),
               404, "model_not_found");
  expect_error(http_get(port(), url), 405, "method_not_allowed");
}

// ---------------------------------------------------------------- metrics, openapi, misc

TEST_F(Api, MetricsInPrometheusTextFormat) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(
        http_post(port(), "/api/v1/predict", digit_png(1), {{"Content-Type", "image/png"}}).status,
        200u);
  http_get(port(), "/definitely-missing");
  Reply r = http_get(port(), "/metrics");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& t = r.body;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      t, m,
      std::regex(
          R"re(scrawl_http_requests_total\{route="/api/v1/predict",status="200"\} (\d+))re")));
  EXPECT_GE(std::stoi(m[1]), 3);
  EXPECT_TRUE(std::regex_search(
      t, std::regex(R"re(scrawl_http_requests_total\{route="other",status="404"\} \d+)re")));
  EXPECT_TRUE(std::regex_search(
      t,
      std::regex(
          R"re(scrawl_http_request_duration_seconds_bucket\{route="/api/v1/predict",le="\+Inf"\} \d+)re")));
  EXPECT_TRUE(std::regex_search(t, std::regex(R"re(scrawl_batch_size_bucket\{le="1"\} \d+)re")));
  EXPECT_TRUE(std::regex_search(t, std::regex(R"re(scrawl_batch_size_count [1-9]\d*)re")));
  EXPECT_NE(t.find("scrawl_device_info{device=\"cpu\",model=\"" + model() + "\"} 1"),
            std::string::npos);
  EXPECT_NE(t.find("scrawl_model_ready 1"), std::string::npos);
  EXPECT_NE(t.find("# TYPE scrawl_http_request_duration_seconds histogram"), std::string::npos);
  // Every line is a comment or `name{labels} value`.
  const std::regex line(
      R"re(^(# (HELP|TYPE) .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN))$)re");
  std::istringstream in(t);
  std::string l;
  int lines = 0;
  while (std::getline(in, l)) {
    EXPECT_TRUE(std::regex_match(l, line)) << l;
    ++lines;
  }
  EXPECT_GT(lines, 50);
}

TEST_F(Api, OpenApiDescribesTheJsonApi) {
  Reply r = http_get(port(), "/openapi.json");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type"), "application/json");
  json j = r.body_json();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const char* p : {"/predict", "/api/v1/predict", "/v2/health/live", "/v2/health/ready",
                        "/v2/models/{name}", "/v2/models/{name}/infer", "/metrics"})
    EXPECT_TRUE(j["paths"].contains(p)) << p;
  EXPECT_TRUE(j["components"]["schemas"].contains("Error"));
}

TEST_F(Api, NoWildcardCors) {
  Reply r = http_post(port(), "/api/v1/predict", digit_png(1),
                      {{"Content-Type", "image/png"}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.has("access-control-allow-origin"));
  Client c(port());
  Reply pre =
      c.request(http::verb::options, "/api/v1/predict", "",
                {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204u);
  EXPECT_FALSE(pre.has("access-control-allow-origin"));
  EXPECT_EQ(pre.header("allow"), "POST");
}

TEST_F(Api, UnknownPathsAndMethods) {
  expect_error(http_get(port(), "/nope"), 404, "not_found");
  expect_error(http_get(port(), "/v1/predict"), 404, "not_found");
  expect_error(http_get(port(), "/static/../../etc/passwd"), 400, "bad_request");
  expect_error(http_get(port(), "/%2e%2e/etc/passwd"), 400, "bad_request");
  expect_error(http_get(port(), "/index.html%00.png"), 400, "bad_request");
  Reply del = Client(port()).request(http::verb::delete_, "/", "");
  expect_error(del, 405, "method_not_allowed");
  EXPECT_EQ(del.header("allow"), "GET, HEAD");
  expect_error(http_post(port(), "/metrics", "x"), 405, "method_not_allowed");
}

}  // namespace
}  // namespace scrawl::test
