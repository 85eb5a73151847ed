// The dynamic batcher: requests from every connection queue their preprocessed crops here;
// one worker thread takes up to max_batch images (waiting at most max_delay for the batch to
// fill), runs one forward pass and hands each request its rows. A full queue refuses work
// (the route answers 503 + Retry-After) instead of growing. Tested by
// tests/server/test_batcher.cpp.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/inference.h"
#include "server/metrics.h"

namespace scrawl::server {

struct BatcherConfig {
  int max_batch = 64;                        // images per forward pass
  std::chrono::microseconds max_delay{500};  // longest wait for a batch to fill
  int queue_capacity = 4096;                 // images waiting, at most
};

// The rows of one submitted group: probs (k, 10), or `error` when the engine failed.
struct BatchResult {
  std::vector<float> probs;
  std::string error;
  std::string device, model;  // of the engine that answered
};
using BatchCallback = std::function<void(BatchResult&&)>;

enum class SubmitStatus { Accepted, QueueFull, NotReady, Stopped };

class Batcher {
 public:
  Batcher(BatcherConfig config, Metrics* metrics);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Makes the engine answer from now on (the model is loaded). Thread-safe.
  void engine_set(std::shared_ptr<InferenceEngine> engine);
  std::shared_ptr<InferenceEngine> engine() const;
  bool ready() const;

  // Queues k crops as one group. x (k, 1, 28, 28). On Accepted, `done` is called exactly
  // once, on the worker thread (keep it short: post the real work elsewhere). Otherwise it
  // is never called. A group larger than max_batch runs alone, in several passes.
  // second_look: crops the model is unsure of are read again in more views
  // (host/vision/second_look.h) before `done`; for readings of images, not raw tensors.
  SubmitStatus submit(std::vector<float> x, int k, BatchCallback done, bool second_look = false);

  // Finishes every queued group, then joins the worker. Later submits answer Stopped.
  void stop();

  size_t queue_depth() const;
  const BatcherConfig& config() const { return config_; }

 private:
  struct Group {
    std::vector<float> x;  // (k, 784)
    int k = 0;
    bool second_look = false;
    BatchCallback done;
    std::chrono::steady_clock::time_point enqueued;
  };
  void worker_loop();
  void run_groups(std::vector<Group>& groups, InferenceEngine& engine);

  BatcherConfig config_;
  Metrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Group> queue_;
  size_t queued_images_ = 0;
  bool stopping_ = false;
  std::shared_ptr<InferenceEngine> engine_;
  std::thread worker_;
  std::vector<float> x_, probs_;  // worker-only scratch: (max_batch, 784), (max_batch, 10)
};

}  // namespace scrawl::server
