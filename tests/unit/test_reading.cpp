// reading_json, the one JSON shape of a reading for the CLI and the HTTP API: the headline is
// the first crop's, the number reads left to right, and "sure" falls below kSureAtLeast.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace scrawl::vision
