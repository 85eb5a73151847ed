// The embedded page over HTTP: every asset served with its MIME type, ETag and Cache-Control,
// 304 on a matching If-None-Match, HEAD without a body, a strict CSP on HTML, and the page
// itself self-contained (no external URL anywhere in it).
#include <gtest/gtest.h>

// GCC 12 reports -Wmaybe-uninitialized inside libstdc++'s <regex> under the sanitizers (a known
// false positive in std::function moves); these tests use std::regex, so hush it here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <regex>

#include "server/web_assets.h"
#include "test_util.h"

namespace scrawl::test {
namespace {

class Static : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new LiveServer(test_config(), std::make_shared<FakeEngine>());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static uint16_t port() { return server_->port(); }
  static LiveServer* server_;
};
LiveServer* Static::server_ = nullptr;

TEST_F(Static, PageIsServedWithCachingAndSecurityHeaders) {
  Reply r = http_get(port(), "/");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_FALSE(r.header("etag").empty());
  EXPECT_NE(r.header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_FALSE(r.has("access-control-allow-origin"));
  EXPECT_NE(r.body.find("<canvas id=\"pad\""), std::string::npos);
  EXPECT_NE(r.body.find("capture=\"environment\""), std::string::npos);
  EXPECT_NE(r.body.find("multiple"), std::string::npos);
  EXPECT_EQ(http_get(port(), "/index.html").body, r.body);
}

TEST_F(Static, EveryAssetWithItsTypeAndEtag) {
  int n = 0;
  for (const web::Asset* a = web::kAssets; a->name; ++a, ++n) {
    Reply r = http_get(port(), std::string("/") + a->name);
    ASSERT_EQ(r.status, 200u) << a->name;
    EXPECT_EQ(r.header("content-type"), a->mime) << a->name;
    EXPECT_EQ(r.header("etag"), a->etag) << a->name;
    EXPECT_EQ(r.body.size(), a->size) << a->name;
    EXPECT_EQ(r.body, std::string(reinterpret_cast<const char*>(a->data), a->size));
    if (std::string(a->mime).rfind("text/html", 0) != 0) {
      EXPECT_EQ(r.header("cache-control"), "public, max-age=3600") << a->name;
    }
  }
  EXPECT_GE(n, 5);  // index.html, app.js, style.css, openapi.json, favicon.svg
}

TEST_F(Static, ConditionalGetAnswers304) {
  Client c(port());
  Reply first = c.get("/app.js");
  ASSERT_EQ(first.status, 200u);
  Reply again = c.get("/app.js", {{"If-None-Match", first.header("etag")}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("etag"), first.header("etag"));
  Reply list = c.get("/app.js", {{"If-None-Match", "\"other\", " + first.header("etag")}});
  EXPECT_EQ(list.status, 304u);
  Reply other = c.get("/app.js", {{"If-None-Match", "\"0000000000000000\""}});
  EXPECT_EQ(other.status, 200u);
}

TEST_F(Static, HeadHasLengthButNoBody) {
  Client c(port());
  Reply get = c.get("/style.css");
  Reply head = c.request(http::verb::head, "/style.css", "", {}, true);
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size()));
  EXPECT_TRUE(head.body.empty());
  // The connection is still usable: no body bytes were left on the wire.
  EXPECT_EQ(c.get("/favicon.svg").status, 200u);
}

TEST_F(Static, PageIsSelfContained) {
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const web::Asset* a = web::asset_find(name);
    ASSERT_NE(a, nullptr) << name;
    const std::string text(reinterpret_cast<const char*>(a->data), a->size);
    EXPECT_FALSE(std::regex_search(text, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//)")))
        << name << " loads something from another origin";
    EXPECT_EQ(text.find("@import"), std::string::npos) << name;
    if (std::string(name) == "index.html") {
      EXPECT_EQ(text.find(" style=\""), std::string::npos) << "inline styles break the CSP";
      EXPECT_FALSE(std::regex_search(text, std::regex(R"(<script>)")))
          << "inline scripts break the CSP";
    }
  }
}

TEST_F(Static, UnknownAssetsAndTraversal) {
  EXPECT_EQ(http_get(port(), "/app.jsx").status, 404u);
  EXPECT_EQ(http_get(port(), "/web/app.js").status, 404u);
  EXPECT_EQ(http_get(port(), "/../server/web/app.js").status, 400u);
  EXPECT_EQ(http_get(port(), "/%2e%2e%2fCMakeLists.txt").status, 400u);
}

}  // namespace
}  // namespace scrawl::test
