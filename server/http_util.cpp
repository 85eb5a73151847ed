// HTTP helpers: error shape, media types, Accept, queries, targets, multipart/form-data.
// Tested by tests/server/test_http_util.cpp.
#include "server/http_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace scrawl::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Splits `s` on `sep`, honouring double quotes (a separator inside quotes does not split).
std::vector<std::string_view> split_quoted(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && quoted && i + 1 < s.size()) {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (s[i] == sep && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  return std::string(v);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void response_bytes(const Response& res, std::string& out) {
  const boost::beast::string_view reason = res.reason();
  out.clear();
  out.reserve(128 + res.body().size());
  out += "HTTP/";
  out += char('0' + res.version() / 10);
  out += '.';
  out += char('0' + res.version() % 10);
  out += ' ';
  out += std::to_string(res.result_int());
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& field : res) {
    const boost::beast::string_view name = field.name_string(), value = field.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += res.body();
}

Response error_response(unsigned status, const std::string& code, const std::string& message,
                        unsigned version, bool keep_alive) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  Response res =
      json_response(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    version, keep_alive);
  if (status == 503) res.set(http::field::retry_after, "1");
  return res;
}

MediaType media_type_parse(std::string_view value) {
  MediaType mt;
  std::vector<std::string_view> pieces = split_quoted(value, ';');
  mt.type = lower(trim(pieces[0]));
  for (size_t i = 1; i < pieces.size(); ++i) {
    std::string_view p = trim(pieces[i]);
    const size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    mt.params[lower(trim(p.substr(0, eq)))] = unquote(p.substr(eq + 1));
  }
  return mt;
}

bool image_mime_supported(std::string_view mime) {
  static const char* const kTypes[] = {"image/png", "image/jpeg",  "image/jpg",      "image/pjpeg",
                                       "image/bmp", "image/x-bmp", "image/x-ms-bmp", "image/webp"};
  for (const char* t : kTypes)
    if (mime == t) return true;
  return false;
}

bool accept_prefers_json(std::string_view accept) {
  // For each of the two types: the q of the most specific matching range (-1: none).
  struct Best {
    int specificity = -1;
    double q = 0;
  };
  Best json, html;
  for (std::string_view range : split_quoted(accept, ',')) {
    MediaType mt = media_type_parse(range);
    if (mt.type.empty()) continue;
    double q = 1.0;
    if (auto it = mt.params.find("q"); it != mt.params.end()) q = std::atof(it->second.c_str());
    auto consider = [&](Best& best, const std::string& full, const std::string& major) {
      int spec = -1;
      if (mt.type == full)
        spec = 2;
      else if (mt.type == major + "/*")
        spec = 1;
      else if (mt.type == "*/*")
        spec = 0;
      if (spec > best.specificity) best = {spec, q};
    };
    consider(json, "application/json", "application");
    consider(html, "text/html", "text");
  }
  if (json.specificity < 0 || json.q <= 0) return false;
  if (html.specificity < 0 || json.q > html.q) return true;
  // Equal q: the type named more specifically wins ("application/json, */*" asks for JSON);
  // a full tie goes to HTML, as the report's form answered.
  return json.q == html.q && json.specificity > html.specificity;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::map<std::string, std::string> query_parse(std::string_view query) {
  std::map<std::string, std::string> out;
  for (std::string_view pair : split_quoted(query, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) throw HttpError(400, "bad_request", "malformed percent-escape in query");
    out[*key] = *value;
  }
  return out;
}

Target target_parse(std::string_view target) {
  if (target.empty() || target.front() != '/')
    throw HttpError(400, "bad_request", "request target must be a path starting with '/'");
  Target t;
  const size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (q != std::string_view::npos) t.query = std::string(target.substr(q + 1));
  auto path = percent_decode(raw_path, false);
  if (!path) throw HttpError(400, "bad_request", "malformed percent-escape in path");
  for (char c : *path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\')
      throw HttpError(400, "bad_request", "control character or backslash in path");
  size_t start = 0;
  while (start <= path->size()) {
    size_t end = path->find('/', start);
    if (end == std::string::npos) end = path->size();
    std::string_view seg(path->data() + start, end - start);
    if (seg == ".." || seg == ".") throw HttpError(400, "bad_request", "'.' or '..' in path");
    start = end + 1;
  }
  t.path = std::move(*path);
  return t;
}

std::vector<MultipartPart> multipart_parse(std::string_view body, std::string_view boundary,
                                           size_t max_parts) {
  auto bad = [](const std::string& why) { return HttpError(400, "bad_request", why); };
  if (boundary.empty() || boundary.size() > 200)
    throw bad("multipart boundary missing or too long");
  const std::string delim = "--" + std::string(boundary);
  const std::string crlf_delim = "\r\n" + delim;
  size_t pos;
  if (starts_with(body, delim)) {
    pos = delim.size();
  } else {
    const size_t p = body.find(crlf_delim);
    if (p == std::string_view::npos) throw bad("multipart body does not contain its boundary");
    pos = p + crlf_delim.size();
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter; epilogue ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") throw bad("multipart delimiter not followed by CRLF");
    pos += 2;
    if (parts.size() >= max_parts)
      throw HttpError(413, "too_many_parts",
                      "multipart body has more than " + std::to_string(max_parts) + " parts");
    MultipartPart part;
    // Header lines, up to an empty line.
    for (;;) {
      const size_t eol = body.find("\r\n", pos);
      if (eol == std::string_view::npos) throw bad("multipart part headers not terminated");
      std::string_view line = body.substr(pos, eol - pos);
      pos = eol + 2;
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) throw bad("malformed multipart part header");
      const std::string key = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (key == "content-disposition") {
        MediaType d = media_type_parse(value);
        if (d.type != "form-data") throw bad("multipart part is not form-data");
        part.name = d.params["name"];
        part.filename = d.params["filename"];
      } else if (key == "content-type") {
        part.content_type = media_type_parse(value).type;
      }
    }
    const size_t next = body.find(crlf_delim, pos);
    if (next == std::string_view::npos)
      throw bad("multipart body is truncated (no closing boundary)");
    part.data = body.substr(pos, next - pos);
    parts.push_back(std::move(part));
    pos = next + crlf_delim.size();
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace scrawl::server
