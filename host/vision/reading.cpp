// See reading.h.
#include "host/vision/reading.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace scrawl::vision {
namespace {

constexpr int kClasses = 10;

double rounded(float v) {
  // Six significant digits: short JSON, far below what a probability needs.
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(v));
  return std::strtod(buf, nullptr);
}

int argmax10(const float* p) { return static_cast<int>(std::max_element(p, p + kClasses) - p); }

}  // namespace

nlohmann::json reading_json(const std::vector<DigitCrop>& crops, const float* probs) {
  nlohmann::json digits = nlohmann::json::array();
  std::string number, text;
  bool sure = !crops.empty();
  for (size_t i = 0; i < crops.size(); ++i) {
    const float* p = probs + i * kClasses;
    const int d = argmax10(p);
    const Box& b = crops[i].box;
    sure = sure && p[d] >= kSureAtLeast;
    digits.push_back({{"digit", d},
                      {"confidence", rounded(p[d])},
                      {"sure", p[d] >= kSureAtLeast},
                      {"box", {b.x, b.y, b.w, b.h}}});
    number += static_cast<char>('0' + d);
    text += static_cast<char>('0' + d);
    if (crops[i].mark_after && i + 1 < crops.size()) text += crops[i].mark_after;
  }
  nlohmann::json probabilities = nlohmann::json::array();
  for (int c = 0; c < kClasses; ++c) probabilities.push_back(crops.empty() ? 0.0 : rounded(probs[c]));
  const int head = crops.empty() ? 0 : argmax10(probs);
  return {{"digit", head},
          {"confidence", crops.empty() ? 0.0 : rounded(probs[head])},
          {"sure", sure},
          {"probabilities", std::move(probabilities)},
          {"number", number},
          {"text", text},
          {"digits", std::move(digits)}};
}

}  // namespace scrawl::vision
