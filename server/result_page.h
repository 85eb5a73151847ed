// The HTML answers of POST /predict for browsers (the report's form, kept compatible):
// the digit large, the ten probabilities as bars, and friendly error pages.
// Tested by tests/server/test_api.cpp (form posts with a browser's Accept header).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace scrawl::server {

// Below this confidence the page and the result page say "not sure".
constexpr double kNotSureBelow = 0.6;

// result: one /api/v1/predict result object.
std::string result_page_html(const nlohmann::json& result);
std::string error_page_html(unsigned status, const std::string& message);

}  // namespace scrawl::server
