// Unit tests of server/http_util: media types, Accept negotiation, queries, request targets
// ("..", control bytes), multipart/form-data parsing (well-formed and broken), the error shape.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "server/http_util.h"

namespace scrawl::server {
namespace {

// response_bytes against Beast's own serializer (operator<< writes through it), on the answers
// the routes make: JSON with its length, an error with Retry-After, HTTP/1.0 keep-alive and
// close, HEAD (no body, the length kept), 304 (neither), a custom reason, and a large body.
TEST(ResponseBytes, SameAsBeastSerializer) {
  std::vector<Response> answers;
  answers.push_back(json_response(200, "{\"digit\":7}", 11, true));
  Response busy = error_response(503, "overloaded", "the queue is full", 11, true);
  busy.set(http::field::retry_after, "1");
  answers.push_back(busy);
  answers.push_back(json_response(200, "{}", 10, true));
  answers.push_back(error_response(404, "not_found", "no route", 10, false));
  Response head{http::status::ok, 11};
  head.set(http::field::content_type, "text/html; charset=utf-8");
  head.content_length(5120);
  answers.push_back(head);
  Response not_modified{http::status::not_modified, 11};
  not_modified.set(http::field::etag, "\"abc\"");
  answers.push_back(not_modified);
  Response custom{http::status::ok, 11};
  custom.reason("Fine");
  custom.set("X-Content-Type-Options", "nosniff");
  custom.body() = "x";
  custom.prepare_payload();
  answers.push_back(custom);
  answers.push_back(json_response(200, std::string(300000, 'a'), 11, false));
  std::string got;
  for (const Response& res : answers) {
    std::ostringstream want;
    want << res;
    response_bytes(res, got);
    EXPECT_EQ(got, want.str());
  }
}

TEST(MediaType, ParsesTypeAndParameters) {
  MediaType m = media_type_parse("Multipart/Form-Data; boundary=\"a;b\"; charset=utf-8");
  EXPECT_EQ(m.type, "multipart/form-data");
  EXPECT_EQ(m.params["boundary"], "a;b");
  EXPECT_EQ(m.params["charset"], "utf-8");
  EXPECT_EQ(media_type_parse("image/PNG").type, "image/png");
  EXPECT_EQ(media_type_parse("").type, "");
}

TEST(MediaType, SupportedImageTypes) {
  for (const char* t : {"image/png", "image/jpeg", "image/bmp", "image/webp"})
    EXPECT_TRUE(image_mime_supported(t)) << t;
  for (const char* t : {"image/gif", "image/svg+xml", "text/plain", "image/tiff", ""})
    EXPECT_FALSE(image_mime_supported(t)) << t;
}

TEST(Accept, JsonOnlyWhenPreferred) {
  EXPECT_TRUE(accept_prefers_json("application/json"));
  EXPECT_TRUE(accept_prefers_json("application/json, text/html;q=0.5"));
  EXPECT_TRUE(accept_prefers_json("application/*"));
  EXPECT_FALSE(accept_prefers_json(""));
  EXPECT_FALSE(accept_prefers_json("*/*"));
  EXPECT_FALSE(accept_prefers_json(
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
  EXPECT_FALSE(accept_prefers_json("application/json;q=0, */*"));
  EXPECT_FALSE(accept_prefers_json("text/html, application/json"));       // a tie goes to HTML
  EXPECT_TRUE(accept_prefers_json("application/json, text/plain, */*"));  // axios' default
  EXPECT_FALSE(accept_prefers_json("text/html, */*"));
}

TEST(Query, DecodesPairs) {
  auto q = query_parse("mode=number&x=a%20b+c&flag&=v");
  EXPECT_EQ(q["mode"], "number");
  EXPECT_EQ(q["x"], "a b c");
  EXPECT_EQ(q["flag"], "");
  EXPECT_THROW(query_parse("a=%zz"), HttpError);
  EXPECT_THROW(query_parse("a=%4"), HttpError);
}

TEST(Target, SplitsAndDecodes) {
  Target t = target_parse("/api/v1/predict?mode=digit");
  EXPECT_EQ(t.path, "/api/v1/predict");
  EXPECT_EQ(t.query, "mode=digit");
  EXPECT_EQ(target_parse("/a%20b").path, "/a b");
  EXPECT_EQ(target_parse("/").path, "/");
}

TEST(Target, RefusesTraversalAndOddBytes) {
  for (const char* bad : {"/../etc/passwd", "/a/../b", "/%2e%2e/x", "/%2E%2E", "/./x", "/a\\b",
                          "/a%00b", "/a%0d%0ab", "http://example.com/", "*", "", "/%zz"}) {
    try {
      target_parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status, 400u) << bad;
    }
  }
  EXPECT_NO_THROW(target_parse("/..a/b.."));  // dots inside a name are fine
}

const std::string kB = "XyZ123";

TEST(Multipart, ParsesFieldsFilesAndBinary) {
  std::string bin("\x00\x01\r\n--XyZ12\xff", 12);
  std::string body =
      "preamble\r\n--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
      "--XyZ123\r\n"
      "Content-Disposition: form-data; name=\"image\"; filename=\"a \\\"b\\\".png\"\r\n"
      "Content-Type: Image/PNG\r\n\r\n" +
      bin +
      "\r\n"
      "--XyZ123--\r\nepilogue";
  auto parts = multipart_parse(body, kB, 10);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "note");
  EXPECT_EQ(parts[0].data, "hello");
  EXPECT_EQ(parts[1].name, "image");
  EXPECT_EQ(parts[1].filename, "a \"b\".png");
  EXPECT_EQ(parts[1].content_type, "image/png");
  EXPECT_EQ(std::string(parts[1].data), bin);
}

TEST(Multipart, EmptyPartAndNoHeaders) {
  std::string body =
      "--XyZ123\r\n\r\n\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"image\"; "
      "filename=\"\"\r\n\r\n\r\n--XyZ123--";
  auto parts = multipart_parse(body, kB, 10);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name, "");
  EXPECT_EQ(parts[1].data, "");
}

TEST(Multipart, RefusesMalformedBodies) {
  const std::vector<std::string> bad = {
      "",                    // nothing
      "no boundary at all",  // no delimiter
      "--XyZ123\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
      "--XyZ123\r\nContent-Disposition: form-data; name=\"a\"",  // headers not terminated
      "--XyZ123junk\r\n\r\nx\r\n--XyZ123--",                     // delimiter not followed by CRLF
      "--XyZ123\r\nbroken header line\r\n\r\nx\r\n--XyZ123--",   // header without colon
      "--XyZ123\r\nContent-Disposition: attachment\r\n\r\nx\r\n--XyZ123--",  // not form-data
  };
  for (const std::string& b : bad) {
    try {
      multipart_parse(b, kB, 10);
      ADD_FAILURE() << "accepted: " << b;
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status, 400u) << b;
    }
  }
  EXPECT_THROW(multipart_parse("--\r\n", "", 10), HttpError);
}

TEST(Multipart, CapsThePartCount) {
  std::string body;
  for (int i = 0; i < 5; ++i)
    body += "--XyZ123\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nx\r\n";
  body += "--XyZ123--";
  EXPECT_EQ(multipart_parse(body, kB, 5).size(), 5u);
  try {
    multipart_parse(body, kB, 4);
    ADD_FAILURE();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status, 413u);
  }
}

TEST(ErrorResponse, HasTheContractShape) {
  Response r = error_response(503, "overloaded", "queue \"full\"");
  EXPECT_EQ(r.result_int(), 503u);
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_EQ(r[http::field::retry_after], "1");
  auto j = nlohmann::json::parse(r.body());
  EXPECT_EQ(j["error"]["code"], "overloaded");
  EXPECT_EQ(j["error"]["message"], "queue \"full\"");
  EXPECT_EQ(j.size(), 1u);
  EXPECT_EQ(j["error"].size(), 2u);
}

TEST(HtmlEscape, EscapesMarkup) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace scrawl::server
