// serve_run, the body of `scrawl serve`: refuses bad options, a missing model and a taken port
// with scrawl::Error; serves the model on the given loopback port; and on SIGTERM stops
// gracefully and returns 0.
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "server/serve.h"
#include "test_util.h"

namespace scrawl::test {
namespace {

using namespace std::chrono_literals;

uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

TEST(Serve, RefusesBadOptions) {
  ServeOptions o;
  o.model = test_model_path();
  o.port = 70000;
  EXPECT_THROW(serve_run(o), Error);
  o.port = 0;
  o.max_batch = 0;
  EXPECT_THROW(serve_run(o), Error);
  o.max_batch = 64;
  o.max_delay_us = -1;
  EXPECT_THROW(serve_run(o), Error);
  o.max_delay_us = 1000;
  o.model = "";
  EXPECT_THROW(serve_run(o), Error);
  o.model = std::string(SCRAWL_SOURCE_DIR) + "/tests/fixtures/seven.png";  // not a model file
  EXPECT_THROW(serve_run(o), Error);
  o.model = "/nonexistent/model.scrawl";
  EXPECT_THROW(serve_run(o), Error);
}

TEST(Serve, RefusesAPortInUse) {
  LiveServer taken(test_config(), std::make_shared<FakeEngine>());
  ServeOptions o;
  o.model = test_model_path();
  o.port = taken.port();
  EXPECT_THROW(serve_run(o), Error);
}

TEST(Serve, ServesUntilSigterm) {
  ServeOptions o;
  o.model = test_model_path();
  o.device = "cpu";
  o.port = free_port();
  o.threads = 2;
  auto result = std::async(std::launch::async, [o] { return serve_run(o); });
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    std::this_thread::sleep_for(25ms);
    try {
      ready = http_get(static_cast<uint16_t>(o.port), "/v2/health/ready").status == 200u;
    } catch (...) {
    }
  }
  ASSERT_TRUE(ready) << "serve_run never became ready";
  Reply r = http_post(static_cast<uint16_t>(o.port), "/api/v1/predict", digit_png(7),
                      {{"Content-Type", "image/png"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body_json()["digit"], 7);
  std::raise(SIGTERM);
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(result.get(), 0);
}

}  // namespace
}  // namespace scrawl::test
