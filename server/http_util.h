// Small HTTP helpers shared by the routes: message types, the JSON error shape, media types,
// Accept negotiation, query strings, target checks and multipart/form-data parsing.
// Pure functions; tested by tests/server/test_http_util.cpp.
#pragma once

#include <boost/beast/http.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace scrawl::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
// Called exactly once per request, from any thread.
using Responder = std::function<void(Response&&)>;

// An error a handler answers with: HTTP status, a stable machine code, a human message.
// Thrown inside handlers and caught at their edge; never escapes into the transport.
struct HttpError : std::runtime_error {
  HttpError(unsigned status, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)) {}
  unsigned status;
  std::string code;
};

// {"error": {"code": ..., "message": ...}} with the right status. `version`/`keep_alive`
// come from the request being answered.
Response error_response(unsigned status, const std::string& code, const std::string& message,
                        unsigned version = 11, bool keep_alive = true);
Response json_response(unsigned status, std::string body, unsigned version, bool keep_alive);

// The bytes of a response as Beast's serializer writes them (start line, the fields in their
// order, a blank line, the body; no chunking: every answer here has its length set), into `out`
// (cleared; its capacity kept). The transport sends a response as this one buffer: walking
// Beast's sequence of buffer views cost 3.6% of the server's CPU under wrk.
void response_bytes(const Response& res, std::string& out);

// "Image/PNG; charset=x" -> type "image/png" (lower case) and parameters (keys lower case).
struct MediaType {
  std::string type;
  std::map<std::string, std::string> params;
};
MediaType media_type_parse(std::string_view value);

// Image types the decoder reads (host/vision: PNG, JPEG, BMP, WebP).
bool image_mime_supported(std::string_view mime);

// True when the Accept header prefers application/json over text/html: a higher q, or the same
// q through a more specific range ("application/json, */*"). No header, */* alone, or a full
// tie means HTML, the report's behaviour.
bool accept_prefers_json(std::string_view accept);

// Percent-decoding ('+' is a space in queries). Returns nullopt for malformed escapes.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}. Throws HttpError 400 on malformed escapes.
std::map<std::string, std::string> query_parse(std::string_view query);

// Splits a request target into its decoded path and raw query. Throws HttpError 400 for
// targets that are not origin-form, hold NUL/backslash/control bytes, or a ".." segment.
struct Target {
  std::string path;
  std::string query;
};
Target target_parse(std::string_view target);

struct MultipartPart {
  std::string name, filename, content_type;  // content_type lower case, "" when absent
  std::string_view data;                     // a view into the body passed to multipart_parse
};
// Parses a multipart/form-data body. Throws HttpError 400 when it is malformed or holds more
// than max_parts parts.
std::vector<MultipartPart> multipart_parse(std::string_view body, std::string_view boundary,
                                           size_t max_parts);

std::string html_escape(std::string_view s);

}  // namespace scrawl::server
