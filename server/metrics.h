// Prometheus metrics: requests by route and status, request latency and batch size
// histograms, queue depth, connections, device. Rendered as text at GET /metrics.
// Tested by tests/server/test_api.cpp (counts move after requests; the text parses).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace scrawl::server {

// The fixed set of route labels, so label cardinality stays bounded whatever clients send.
enum class Route {
  Page,        // GET / and the page's assets
  Predict,     // POST /predict (the report's form)
  ApiPredict,  // POST /api/v1/predict
  V2Health,    // /v2/health/live, /v2/health/ready
  V2Metadata,  // /v2, /v2/models/{name}, /v2/models/{name}/ready
  V2Infer,     // /v2/models/{name}/infer
  Metrics,     // /metrics
  OpenApi,     // /openapi.json
  Other,       // anything else (404s, 405s, transport errors)
  Count
};
const char* route_label(Route r);

// Cumulative histogram with fixed upper bounds; thread-safe (atomics).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines; `labels` is "" or `key="value",...` without braces.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, plus +Inf; not cumulative
  std::atomic<uint64_t> sum_micro_{0};         // sum in millionths, so it can be atomic
  std::atomic<uint64_t> count_{0};
};

class Metrics {
 public:
  Metrics();
  void request_observe(Route route, unsigned status, double seconds);
  // One engine forward pass over `size` images.
  void batch_observe(int size, double seconds);
  void rejected_add(const char* reason);  // "queue_full", "not_ready", "connections", "bodies"
  // Crops read again in more views because the model was unsure (host/vision/second_look.h).
  void second_looks_add(int crops) { second_looks_ += static_cast<uint64_t>(crops); }
  void connections_add(int delta) { connections_ += delta; }
  int connections() const { return connections_; }

  struct State {
    std::string device, model;
    bool ready = false;
    size_t queue_depth = 0;
  };
  std::string render(const State& s) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<int, unsigned>, uint64_t> requests_;  // (route, status) -> count
  std::map<std::string, uint64_t> rejected_;
  std::vector<std::unique_ptr<Histogram>> latency_;  // indexed by Route
  Histogram batch_size_;
  Histogram batch_seconds_;
  std::atomic<uint64_t> images_{0};
  std::atomic<uint64_t> second_looks_{0};
  std::atomic<int> connections_{0};
};

}  // namespace scrawl::server
