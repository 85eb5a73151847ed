// Unit tests of server/Batcher with fake engines: batches never exceed max_batch, requests
// arriving together share a forward pass, a lone request waits at most about max_delay, a full
// queue refuses work, no engine means NotReady, and stop() answers everything still queued.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <numeric>
#include <thread>

#include "server/batcher.h"
#include "test_util.h"

namespace scrawl::server {
namespace {

using namespace std::chrono_literals;
using test::FakeEngine;

// Echoes each image's first pixel into every class, so a test can check rows map back to the
// right request.
class EchoEngine : public InferenceEngine {
 public:
  void infer(const float* x, int n, float* probs) override {
    batches.push_back(n);
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < kClasses; ++c) probs[i * kClasses + c] = x[i * kImagePixels] + c;
  }
  std::string device() const override { return "cpu"; }
  std::string model() const override { return "echo"; }
  std::vector<int> batches;  // written by the worker only; read after stop()
};

std::vector<float> images(int k, float first) {
  std::vector<float> x(static_cast<size_t>(k) * kImagePixels, 0.0f);
  for (int i = 0; i < k; ++i) x[static_cast<size_t>(i) * kImagePixels] = first + i;
  return x;
}

TEST(Batcher, NotReadyWithoutEngine) {
  Metrics m;
  Batcher b({8, 100us, 64}, &m);
  EXPECT_FALSE(b.ready());
  EXPECT_EQ(b.submit(images(1, 0), 1, [](BatchResult&&) {}), SubmitStatus::NotReady);
  b.engine_set(std::make_shared<EchoEngine>());
  EXPECT_TRUE(b.ready());
}

TEST(Batcher, RowsGoBackToTheirRequests) {
  Metrics m;
  auto engine = std::make_shared<EchoEngine>();
  Batcher b({4, 20ms, 256}, &m);
  b.engine_set(engine);
  std::vector<std::promise<BatchResult>> results(10);
  std::vector<std::future<BatchResult>> futures;
  for (auto& p : results) futures.push_back(p.get_future());
  // Groups of 1..3 images; image j of group g has first pixel 100*g + j.
  for (int g = 0; g < 10; ++g) {
    const int k = 1 + g % 3;
    ASSERT_EQ(b.submit(images(k, 100.0f * g), k,
                       [&results, g](BatchResult&& r) { results[g].set_value(std::move(r)); }),
              SubmitStatus::Accepted);
  }
  for (int g = 0; g < 10; ++g) {
    BatchResult r = futures[g].get();
    const int k = 1 + g % 3;
    ASSERT_TRUE(r.error.empty());
    ASSERT_EQ(r.probs.size(), static_cast<size_t>(k) * kClasses);
    for (int j = 0; j < k; ++j) EXPECT_FLOAT_EQ(r.probs[j * kClasses + 2], 100.0f * g + j + 2);
    EXPECT_EQ(r.model, "echo");
  }
  b.stop();
  for (int n : engine->batches) EXPECT_LE(n, 4);
  EXPECT_EQ(std::accumulate(engine->batches.begin(), engine->batches.end(), 0),
            19);  // 1+2+3+1+2+3+1+2+3+1
  // Submitted together, they shared passes: far fewer passes than groups.
  EXPECT_LT(engine->batches.size(), 10u);
}

TEST(Batcher, GroupLargerThanMaxBatchRunsInSeveralPasses) {
  Metrics m;
  auto engine = std::make_shared<EchoEngine>();
  Batcher b({8, 0us, 64}, &m);
  b.engine_set(engine);
  std::promise<BatchResult> p;
  ASSERT_EQ(b.submit(images(20, 0), 20, [&](BatchResult&& r) { p.set_value(std::move(r)); }),
            SubmitStatus::Accepted);
  BatchResult r = p.get_future().get();
  ASSERT_EQ(r.probs.size(), 200u);
  for (int j = 0; j < 20; ++j) EXPECT_FLOAT_EQ(r.probs[j * kClasses], static_cast<float>(j));
  b.stop();
  EXPECT_EQ(engine->batches, (std::vector<int>{8, 8, 4}));
}

TEST(Batcher, LoneRequestWaitsAboutMaxDelay) {
  Metrics m;
  Batcher b({64, 30ms, 256}, &m);
  b.engine_set(std::make_shared<EchoEngine>());
  const auto t0 = std::chrono::steady_clock::now();
  std::promise<void> p;
  b.submit(images(1, 0), 1, [&](BatchResult&&) { p.set_value(); });
  p.get_future().get();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 29ms);   // it did wait for company...
  EXPECT_LT(waited, 500ms);  // ...but not much past the deadline
}

TEST(Batcher, FullBatchDoesNotWaitForTheDeadline) {
  Metrics m;
  Batcher b({4, 2000ms, 256}, &m);
  b.engine_set(std::make_shared<EchoEngine>());
  const auto t0 = std::chrono::steady_clock::now();
  std::promise<void> p;
  b.submit(images(4, 0), 4, [&](BatchResult&&) { p.set_value(); });
  p.get_future().get();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
}

TEST(Batcher, FullQueueRefusesInsteadOfGrowing) {
  Metrics m;
  auto engine = std::make_shared<FakeEngine>(100ms);
  Batcher b({1, 0us, 3}, &m);
  b.engine_set(engine);
  std::atomic<int> answered{0};
  int accepted = 0, full = 0;
  for (int i = 0; i < 10; ++i) {
    const SubmitStatus s = b.submit(images(1, 0), 1, [&](BatchResult&&) { ++answered; });
    if (s == SubmitStatus::Accepted) ++accepted;
    if (s == SubmitStatus::QueueFull) ++full;
    EXPECT_LE(b.queue_depth(), 3u);
  }
  // One may already be in the engine, three queued; the rest refused.
  EXPECT_GE(full, 5);
  EXPECT_LE(accepted, 5);
  b.stop();
  EXPECT_EQ(answered.load(), accepted);
}

TEST(Batcher, StopAnswersEverythingQueued) {
  Metrics m;
  Batcher b({2, 0us, 100}, &m);
  b.engine_set(std::make_shared<FakeEngine>(20ms));
  std::atomic<int> answered{0};
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(b.submit(images(1, 0), 1,
                       [&](BatchResult&& r) {
                         EXPECT_TRUE(r.error.empty());
                         ++answered;
                       }),
              SubmitStatus::Accepted);
  b.stop();
  EXPECT_EQ(answered.load(), 10);
  EXPECT_EQ(b.submit(images(1, 0), 1, [](BatchResult&&) {}), SubmitStatus::Stopped);
}

TEST(Batcher, EngineFailureIsReportedPerRequest) {
  Metrics m;
  Batcher b({4, 0us, 16}, &m);
  b.engine_set(std::make_shared<FakeEngine>(0ms, 3, true));
  std::promise<BatchResult> p;
  b.submit(images(2, 0), 2, [&](BatchResult&& r) { p.set_value(std::move(r)); });
  BatchResult r = p.get_future().get();
  EXPECT_NE(r.error.find("fails on purpose"), std::string::npos);
  EXPECT_TRUE(r.probs.empty());
}

// First pass: images whose first pixel is 1 are unsure (0.5 / 0.5 between 3 and 8), the
// others a sure 3. Any later pass (the second look's views) reads a sure 8.
class UnsureEngine : public InferenceEngine {
 public:
  void infer(const float* x, int n, float* probs) override {
    batches.push_back(n);
    const bool first = batches.size() == 1;
    std::fill(probs, probs + n * kClasses, 0.0f);
    for (int i = 0; i < n; ++i) {
      float* p = probs + i * kClasses;
      if (!first) p[8] = 1.0f;
      else if (x[i * kImagePixels] == 1.0f) p[3] = p[8] = 0.5f;
      else p[3] = 1.0f;
    }
  }
  std::string device() const override { return "cpu"; }
  std::string model() const override { return "unsure"; }
  std::vector<int> batches;
};

TEST(Batcher, SecondLookOnlyWhenAskedAndOnlyForUnsureRows) {
  for (const bool asked : {false, true}) {
    Metrics m;
    auto engine = std::make_shared<UnsureEngine>();
    Batcher b({8, 1ms, 64}, &m);
    b.engine_set(engine);
    std::vector<float> x = images(3, 0.0f);  // first pixels 0, 1, 2: row 1 is unsure
    std::promise<BatchResult> done;
    ASSERT_EQ(b.submit(std::move(x), 3, [&done](BatchResult&& r) { done.set_value(std::move(r)); },
                       asked),
              SubmitStatus::Accepted);
    const BatchResult r = done.get_future().get();
    b.stop();
    ASSERT_TRUE(r.error.empty());
    EXPECT_FLOAT_EQ(r.probs[0 * kClasses + 3], 1.0f);
    EXPECT_FLOAT_EQ(r.probs[2 * kClasses + 3], 1.0f);
    if (!asked) {
      EXPECT_EQ(engine->batches, std::vector<int>{3});
      EXPECT_FLOAT_EQ(r.probs[1 * kClasses + 8], 0.5f);
      EXPECT_NE(m.render({}).find("scrawl_second_looks_total 0\n"), std::string::npos);
    } else {
      // One more pass over the unsure row's eight views; its answer is the mean of nine.
      EXPECT_EQ(engine->batches, (std::vector<int>{3, 8}));
      EXPECT_NEAR(r.probs[1 * kClasses + 8], (0.5f + 8.0f) / 9, 1e-6);
      EXPECT_NEAR(r.probs[1 * kClasses + 3], 0.5f / 9, 1e-6);
      EXPECT_NE(m.render({}).find("scrawl_second_looks_total 1\n"), std::string::npos);
    }
  }
}

TEST(Batcher, RefusesMalformedGroups) {
  Metrics m;
  Batcher b({4, 0us, 16}, &m);
  b.engine_set(std::make_shared<EchoEngine>());
  EXPECT_NE(b.submit(images(2, 0), 3, [](BatchResult&&) {}), SubmitStatus::Accepted);
  EXPECT_NE(b.submit({}, 0, [](BatchResult&&) {}), SubmitStatus::Accepted);
}

}  // namespace
}  // namespace scrawl::server
