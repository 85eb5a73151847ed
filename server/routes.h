// The HTTP API (DESIGN.md "HTTP API"): request in, response out. Handlers never throw; every
// failure becomes the JSON error shape (or, for browsers at POST /predict, an HTML page).
// Images are decoded and preprocessed on the calling I/O thread, inference goes through the
// Batcher, and the answer is built back on an I/O thread. Tested by tests/server/test_api.cpp.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "host/vision/preprocess.h"
#include "server/batcher.h"
#include "server/http_util.h"
#include "server/metrics.h"

namespace scrawl::server {

struct ApiConfig {
  int max_images = 64;          // image fields in one multipart request
  int max_tensor_batch = 1024;  // N of one v2 infer request
  int max_number_jobs = 64;     // number-mode requests waiting for the blocking pool, at most
  std::string version = "0.1.0";
};

class Api {
 public:
  // io: where answers are built once inference is done (the server's io_context).
  // blocking: a small pool for work that must wait on the batcher (number segmentation asks
  // the model to judge candidate splits), so no I/O thread ever waits for inference.
  Api(ApiConfig config, Batcher& batcher, Metrics& metrics, boost::asio::any_io_executor io,
      boost::asio::thread_pool& blocking);

  // Never throws. `respond` is called exactly once, now or later, from an I/O or pool thread.
  void handle(Request&& req, Responder respond) noexcept;

  // Number mode's pair reader (host/vision/preprocess.h), or none. Thread-safe, and so must
  // the reader be: number jobs call it from the blocking pool's threads.
  void pair_reader_set(vision::PairReader read_pair);

  struct Exchange;  // one request in flight (routes.cpp)

 private:
  void dispatch(const std::shared_ptr<Exchange>& ex);
  void serve_asset(const std::shared_ptr<Exchange>& ex, const char* name);
  void predict(const std::shared_ptr<Exchange>& ex, bool form);
  void v2_infer(const std::shared_ptr<Exchange>& ex, const std::string& model);
  void v2_models(const std::shared_ptr<Exchange>& ex, const std::string& rest);
  void submit_error(const std::shared_ptr<Exchange>& ex, SubmitStatus status);
  // From the engine's worker thread: runs `answer` on an I/O thread. The answers of one forward
  // pass share one post (and so one wake-up of an I/O thread): the first queued posts a drain,
  // the rest join it while it has not started.
  void answer_post(std::function<void()> answer);
  void answers_drain() noexcept;

  ApiConfig config_;
  Batcher& batcher_;
  Metrics& metrics_;
  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& blocking_;
  std::atomic<int> number_jobs_{0};  // queued or running on blocking_
  std::mutex pair_mu_;
  std::shared_ptr<const vision::PairReader> read_pair_;  // null: none
  std::mutex outbox_mu_;
  std::vector<std::function<void()>> outbox_;  // answers waiting for the posted drain
};

}  // namespace scrawl::server
