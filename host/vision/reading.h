// The JSON reading of one image, shared by `scrawl predict --json` and the HTTP API so both
// answer in the same shape: digit, confidence, sure, probabilities, number, digits[].
// Tested by tests/unit/test_reading.cpp; the CLI and server suites check it end to end.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/vision/preprocess.h"

namespace scrawl::vision {

// Below this best probability a reading is reported as not sure ("sure": false) and the page
// says so, rather than showing a confident wrong answer.
constexpr float kSureAtLeast = 0.6f;

// Number mode's confidence in each of n crops, the Classifier's answer: its best probability.
// probs (n, 10). The CLI and the server both score the splitter's pieces with it.
std::vector<float> crop_confidences(const float* probs, size_t n);

// Number mode: the probabilities the pair reader gave a crop (DigitCrop::pair_probs) copied over
// its row of probs (crops.size(), 10): what callers report, after any second look.
void pair_probs_apply(const std::vector<DigitCrop>& crops, float* probs);

// crops as number_segment or digit_preprocess gave them, probs (crops.size(), 10). The
// headline digit, confidence and probabilities are the first crop's: the whole image in digit
// mode, the leftmost digit in number mode. "sure" is false when any digit is below kSureAtLeast.
// "number" is the digits alone; "text" is the same with the separators number mode found between
// them (DigitCrop::mark_after: "1,250.00" where number is "125000").
nlohmann::json reading_json(const std::vector<DigitCrop>& crops, const float* probs);

// The same reading with "device" and "model" added, written straight to JSON text: the server's
// answer to one image, without building a json object first. It parses to what reading_json(...)
// plus those two keys is: the same keys in the same (sorted) order and the same values. Numbers
// are written as six significant digits, where the json dump sometimes spells the same double
// with sixteen (0.5295570000000001).
std::string reading_json_text(const std::vector<DigitCrop>& crops, const float* probs,
                              const std::string& device, const std::string& model);

}  // namespace scrawl::vision
