// Dynamic batching over one engine worker thread. See batcher.h.
// Tested by tests/server/test_batcher.cpp (batch formation, delay bound, full queue, drain).
#include "server/batcher.h"

#include <algorithm>
#include <exception>

#include "host/vision/second_look.h"

namespace scrawl::server {

Batcher::Batcher(BatcherConfig config, Metrics* metrics) : config_(config), metrics_(metrics) {
  config_.max_batch = std::max(1, config_.max_batch);
  config_.queue_capacity = std::max(config_.max_batch, config_.queue_capacity);
  if (config_.max_delay.count() < 0) config_.max_delay = std::chrono::microseconds(0);
  worker_ = std::thread([this] { worker_loop(); });
}

Batcher::~Batcher() { stop(); }

void Batcher::engine_set(std::shared_ptr<InferenceEngine> engine) {
  std::lock_guard<std::mutex> lk(mu_);
  engine_ = std::move(engine);
}

std::shared_ptr<InferenceEngine> Batcher::engine() const {
  std::lock_guard<std::mutex> lk(mu_);
  return engine_;
}

bool Batcher::ready() const {
  std::lock_guard<std::mutex> lk(mu_);
  return engine_ != nullptr && !stopping_;
}

size_t Batcher::queue_depth() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queued_images_;
}

SubmitStatus Batcher::submit(std::vector<float> x, int k, BatchCallback done, bool second_look) {
  if (k <= 0 || x.size() != static_cast<size_t>(k) * kImagePixels) return SubmitStatus::Stopped;
  // The worker needs waking only when the queue was empty (it waits for a first group) or the
  // batch is now full (it waits out the delay otherwise, and wakes at the deadline by itself):
  // a wake-up per request would cost a context switch each while a batch fills.
  bool wake = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return SubmitStatus::Stopped;
    if (!engine_) return SubmitStatus::NotReady;
    // An empty queue always takes a group (up to its capacity), so one big request is
    // never refused forever; otherwise the bound is strict.
    if (queued_images_ + static_cast<size_t>(k) > static_cast<size_t>(config_.queue_capacity))
      return SubmitStatus::QueueFull;
    wake = queue_.empty();
    queue_.push_back(
        Group{std::move(x), k, second_look, std::move(done), std::chrono::steady_clock::now()});
    queued_images_ += static_cast<size_t>(k);
    wake = wake || queued_images_ >= static_cast<size_t>(config_.max_batch);
  }
  if (wake) cv_.notify_one();
  return SubmitStatus::Accepted;
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void Batcher::worker_loop() {
  const size_t max_batch = static_cast<size_t>(config_.max_batch);
  x_.resize(max_batch * kImagePixels);
  probs_.resize(max_batch * kClasses);
  std::vector<Group> taken;
  for (;;) {
    std::shared_ptr<InferenceEngine> engine;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been answered
      // Let the batch fill, but never hold the oldest request past its deadline.
      const auto deadline = queue_.front().enqueued + config_.max_delay;
      while (!stopping_ && queued_images_ < max_batch &&
             std::chrono::steady_clock::now() < deadline)
        cv_.wait_until(lk, deadline);
      size_t images = 0;
      while (!queue_.empty() &&
             (taken.empty() || images + static_cast<size_t>(queue_.front().k) <= max_batch)) {
        images += static_cast<size_t>(queue_.front().k);
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_images_ -= images;
      engine = engine_;
    }
    run_groups(taken, *engine);
    taken.clear();
  }
}

// Packs the groups into forward passes of at most max_batch images and answers each group.
void Batcher::run_groups(std::vector<Group>& groups, InferenceEngine& engine) {
  const int max_batch = config_.max_batch;
  size_t total = 0;
  for (const Group& g : groups) total += static_cast<size_t>(g.k);
  std::vector<float> probs_all(total * kClasses);
  std::string error;
  // One forward pass of the engine, timed for the metrics when it succeeds.
  const auto pass = [&](const float* x, int n, float* probs) {
    const auto t0 = std::chrono::steady_clock::now();
    engine.infer(x, n, probs);
    if (metrics_)
      metrics_->batch_observe(
          n, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  };
  // Groups are contiguous in `groups`; copy them into the scratch batch pass by pass.
  size_t done_images = 0;
  size_t gi = 0, gi_off = 0;  // cursor: group index, image offset within that group
  while (done_images < total && error.empty()) {
    const int n = static_cast<int>(std::min<size_t>(max_batch, total - done_images));
    for (int filled = 0; filled < n;) {
      const Group& g = groups[gi];
      const int take = std::min(n - filled, g.k - static_cast<int>(gi_off));
      std::copy_n(g.x.data() + gi_off * kImagePixels, static_cast<size_t>(take) * kImagePixels,
                  x_.data() + static_cast<size_t>(filled) * kImagePixels);
      filled += take;
      gi_off += static_cast<size_t>(take);
      if (gi_off == static_cast<size_t>(g.k)) {
        ++gi;
        gi_off = 0;
      }
    }
    try {
      pass(x_.data(), n, probs_.data());
    } catch (const std::exception& e) {
      error = std::string("inference failed: ") + e.what();
    } catch (...) {
      error = "inference failed";
    }
    std::copy_n(probs_.data(), static_cast<size_t>(n) * kClasses,
                probs_all.data() + done_images * kClasses);
    done_images += static_cast<size_t>(n);
  }
  // The model's passes, in chunks of at most max_batch, for the second looks below.
  const auto infer = [&](const float* x, int m, float* probs) {
    for (int at = 0; at < m; at += max_batch)
      pass(x + static_cast<size_t>(at) * kImagePixels, std::min(max_batch, m - at),
           probs + static_cast<size_t>(at) * kClasses);
  };
  const std::string device = engine.device(), model = engine.model();
  size_t offset = 0;
  for (Group& g : groups) {
    BatchResult r;
    r.error = error;
    float* probs = probs_all.data() + offset * kClasses;
    if (error.empty() && g.second_look) {
      try {
        const int looked = vision::second_look(g.x.data(), g.k, probs, infer);
        if (metrics_ && looked > 0) metrics_->second_looks_add(looked);
      } catch (const std::exception& e) {
        r.error = std::string("inference failed: ") + e.what();
      } catch (...) {
        r.error = "inference failed";
      }
    }
    if (r.error.empty()) r.probs.assign(probs, probs + static_cast<size_t>(g.k) * kClasses);
    r.device = device;
    r.model = model;
    offset += static_cast<size_t>(g.k);
    try {
      g.done(std::move(r));
    } catch (...) {
      // A callback must not take the worker down; the callbacks we install do not throw.
    }
  }
}

}  // namespace scrawl::server
