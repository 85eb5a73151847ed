// reading_json, the one JSON shape of a reading for the CLI and the HTTP API: the headline is
// the first crop's, the number reads left to right, and "sure" falls below kSureAtLeast.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "host/vision/reading.h"

namespace scrawl::vision {
namespace {

TEST(Reading, NumberHeadlineAndSureness) {
  std::vector<DigitCrop> crops(3);
  crops[1].box = {10, 2, 5, 9};
  std::vector<float> probs(30, 0.0f);
  probs[0 * 10 + 2] = 0.99f;
  probs[0 * 10 + 3] = 0.01f;
  probs[1 * 10 + 0] = 0.97f;
  probs[1 * 10 + 8] = 0.03f;
  probs[2 * 10 + 4] = 0.55f;  // below kSureAtLeast
  probs[2 * 10 + 9] = 0.45f;
  const auto r = reading_json(crops, probs.data());
  EXPECT_EQ(r["number"], "204");
  EXPECT_EQ(r["digit"], 2);
  EXPECT_NEAR(r["confidence"].get<double>(), 0.99, 1e-6);
  EXPECT_EQ(r["probabilities"].size(), 10u);
  ASSERT_EQ(r["digits"].size(), 3u);
  EXPECT_EQ(r["digits"][1]["box"], nlohmann::json({10, 2, 5, 9}));
  EXPECT_TRUE(r["digits"][0]["sure"].get<bool>());
  EXPECT_FALSE(r["digits"][2]["sure"].get<bool>());
  EXPECT_FALSE(r["sure"].get<bool>());  // one unsure digit makes the number unsure

  EXPECT_EQ(r["text"], "204");  // no separators

  // Separators go into "text" only; one after the last digit is dropped.
  crops[0].mark_after = ',';
  crops[1].mark_after = '.';
  crops[2].mark_after = '-';
  const auto marked = reading_json(crops, probs.data());
  EXPECT_EQ(marked["number"], "204");
  EXPECT_EQ(marked["text"], "2,0.4");
  crops[0].mark_after = crops[1].mark_after = crops[2].mark_after = 0;

  const auto one = reading_json({crops[0]}, probs.data());
  EXPECT_TRUE(one["sure"].get<bool>());
  EXPECT_EQ(one["number"], "2");
}

// The server's direct writer gives what the json object dumps to: random readings of 0-12 digits,
// whole and tiny probabilities, separators, odd model names.

TEST(Reading, TextWriterMatchesTheJsonDump) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  const float specials[] = {0.0f, 1.0f, 0.5f, 1e-7f, 3.4e-12f, 0.999999f, 0.1f, 123.0f};
  for (int trial = 0; trial < 400; ++trial) {
    SCOPED_TRACE(trial);
    const size_t n = trial % 13;
    std::vector<DigitCrop> crops(n);
    std::vector<float> probs(std::max<size_t>(n, 1) * 10);
    for (float& p : probs) p = trial % 3 == 0 ? specials[rng() % 8] : std::pow(uni(rng), 6.0f);
    for (size_t i = 0; i < n; ++i) {
      crops[i].box = {int(rng() % 900), int(rng() % 900), int(rng() % 90), int(rng() % 90)};
      crops[i].mark_after = "\0\0.,-"[rng() % 5];
    }
    const std::string model = trial % 2        ? "default"
                              : trial % 4 == 0 ? "odd \"name\" \xc3\xa9"
                                               : "tab\there, back\\slash";
    nlohmann::json j = reading_json(crops, probs.data());
    j["device"] = "cpu";
    j["model"] = model;
    const std::string text = reading_json_text(crops, probs.data(), "cpu", model);
    // The same values, exactly (json compares numbers as doubles)...
    ASSERT_EQ(nlohmann::json::parse(text), j) << text;
    // ...and the same text, but where the dump spells a double with 16 digits that "%.6g" read
    // back as (nlohmann's Grisu2 is not always the shortest: 0.529557 -> 0.5295570000000001).
    const std::string dumped = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (dumped.find("00000") == std::string::npos && dumped.find("99999") == std::string::npos) {
      ASSERT_EQ(text, dumped);
    }
  }
}

TEST(Reading, CropConfidenceIsTheBestProbability) {
  std::vector<float> probs(30, 0.0f);
  probs[3] = 0.7f, probs[8] = 0.3f;                // crop 0: a 3, fairly sure
  for (int d = 0; d < 10; ++d) probs[10 + d] = 0.1f;  // crop 1: uniform, no digit
  probs[29] = 1.0f;                                // crop 2: its last class
  EXPECT_EQ(crop_confidences(probs.data(), 3), (std::vector<float>{0.7f, 0.1f, 1.0f}));
  EXPECT_TRUE(crop_confidences(probs.data(), 0).empty());
}

}  // namespace
}  // namespace scrawl::vision
