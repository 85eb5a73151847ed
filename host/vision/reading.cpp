// See reading.h.
#include "host/vision/reading.h"

#include <algorithm>
#include <charconv>
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

// rounded(v) as text: its six significant digits, with ".0" after a whole number as nlohmann::json
// writes one (1 is "1.0"). Read back, it is the very double rounded(v) returns.
void number_append(std::string& out, float v) {
  char buf[32];
  // std::to_chars in general format is printf's "%.6g", several times faster.
  const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<double>(v),
                               std::chars_format::general, 6);
  out.append(buf, r.ptr);
  if (std::find_if(buf, r.ptr, [](char c) { return c == '.' || c == 'e' || c == 'n'; }) == r.ptr)
    out += ".0";  // no point, exponent, inf or nan
}

void int_append(std::string& out, int v) {
  char buf[16];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// s as a JSON string, as nlohmann::json writes it (bad UTF-8 replaced). Plain printable ASCII,
// which device and model names are, needs no escaping and is copied as it is.
void string_append(std::string& out, const std::string& s) {
  if (std::all_of(s.begin(), s.end(),
                  [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; })) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// What both writers say of the crops as a whole: the digits, the digits with their separators,
// and whether every digit is sure.
struct Summary {
  std::string number, text;
  bool sure = false;
};

Summary summary_of(const std::vector<DigitCrop>& crops, const float* probs) {
  Summary s;
  s.sure = !crops.empty();
  for (size_t i = 0; i < crops.size(); ++i) {
    const float* p = probs + i * kClasses;
    const int d = argmax10(p);
    s.sure = s.sure && p[d] >= kSureAtLeast;
    s.number += static_cast<char>('0' + d);
    s.text += static_cast<char>('0' + d);
    if (crops[i].mark_after && i + 1 < crops.size()) s.text += crops[i].mark_after;
  }
  return s;
}

}  // namespace

void pair_probs_apply(const std::vector<DigitCrop>& crops, float* probs) {
  for (size_t i = 0; i < crops.size(); ++i) {
    if (crops[i].pair_probs)
      std::copy(crops[i].pair_probs->begin(), crops[i].pair_probs->end(), probs + i * kClasses);
  }
}

std::vector<float> crop_confidences(const float* probs, size_t n) {
  std::vector<float> conf(n);
  for (size_t i = 0; i < n; ++i) conf[i] = *std::max_element(probs + i * 10, probs + i * 10 + 10);
  return conf;
}

nlohmann::json reading_json(const std::vector<DigitCrop>& crops, const float* probs) {
  nlohmann::json digits = nlohmann::json::array();
  for (size_t i = 0; i < crops.size(); ++i) {
    const float* p = probs + i * kClasses;
    const int d = argmax10(p);
    const Box& b = crops[i].box;
    digits.push_back({{"digit", d},
                      {"confidence", rounded(p[d])},
                      {"sure", p[d] >= kSureAtLeast},
                      {"box", {b.x, b.y, b.w, b.h}}});
  }
  const Summary all = summary_of(crops, probs);
  nlohmann::json probabilities = nlohmann::json::array();
  for (int c = 0; c < kClasses; ++c)
    probabilities.push_back(crops.empty() ? 0.0 : rounded(probs[c]));
  const int head = crops.empty() ? 0 : argmax10(probs);
  return {{"digit", head},
          {"confidence", crops.empty() ? 0.0 : rounded(probs[head])},
          {"sure", all.sure},
          {"probabilities", std::move(probabilities)},
          {"number", all.number},
          {"text", all.text},
          {"digits", std::move(digits)}};
}

std::string reading_json_text(const std::vector<DigitCrop>& crops, const float* probs,
                              const std::string& device, const std::string& model) {
  // Keys in nlohmann::json's order (sorted), as reading_json's dump has them. Appended in place
  // to one buffer sized for the usual answer: this runs once per request.
  const Summary all = summary_of(crops, probs);
  const int head = crops.empty() ? 0 : argmax10(probs);
  std::string out;
  out.reserve(300 + 120 * crops.size() + device.size() + model.size());
  out += "{\"confidence\":";
  if (crops.empty())
    out += "0.0";
  else
    number_append(out, probs[head]);
  out += ",\"device\":";
  string_append(out, device);
  out += ",\"digit\":";
  int_append(out, head);
  out += ",\"digits\":[";
  for (size_t i = 0; i < crops.size(); ++i) {
    const float* p = probs + i * kClasses;
    const int d = argmax10(p);
    const Box& b = crops[i].box;
    if (i) out += ',';
    out += "{\"box\":[";
    int_append(out, b.x);
    out += ',';
    int_append(out, b.y);
    out += ',';
    int_append(out, b.w);
    out += ',';
    int_append(out, b.h);
    out += "],\"confidence\":";
    number_append(out, p[d]);
    out += ",\"digit\":";
    int_append(out, d);
    out += p[d] >= kSureAtLeast ? ",\"sure\":true}" : ",\"sure\":false}";
  }
  out += "],\"model\":";
  string_append(out, model);
  out += ",\"number\":\"";
  out += all.number;
  out += "\",\"probabilities\":[";
  for (int c = 0; c < kClasses; ++c) {
    if (c) out += ',';
    if (crops.empty())
      out += "0.0";
    else
      number_append(out, probs[c]);
  }
  out += all.sure ? "],\"sure\":true,\"text\":\"" : "],\"sure\":false,\"text\":\"";
  out += all.text;
  out += "\"}";
  return out;
}

}  // namespace scrawl::vision
