// Prometheus text exposition (format 0.0.4) of the server's counters and histograms.
// Tested by tests/server/test_api.cpp.
#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace scrawl::server {

const char* route_label(Route r) {
  switch (r) {
    case Route::Page:
      return "/";
    case Route::Predict:
      return "/predict";
    case Route::ApiPredict:
      return "/api/v1/predict";
    case Route::V2Health:
      return "/v2/health";
    case Route::V2Metadata:
      return "/v2/models/{name}";
    case Route::V2Infer:
      return "/v2/models/{name}/infer";
    case Route::Metrics:
      return "/metrics";
    case Route::OpenApi:
      return "/openapi.json";
    default:
      return "other";
  }
}

namespace {

std::string number(double v) {
  if (std::isinf(v)) return "+Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::vector<double> latency_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(std::max(0.0, value) * 1e6)),
                       std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += name + "_bucket{" + labels + sep + "le=\"" + number(le) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_micro_.load() / 1e6) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_.load()) + "\n";
}

Metrics::Metrics()
    : batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}), batch_seconds_(latency_bounds()) {
  for (int r = 0; r < static_cast<int>(Route::Count); ++r)
    latency_.push_back(std::make_unique<Histogram>(latency_bounds()));
}

void Metrics::request_observe(Route route, unsigned status, double seconds) {
  latency_[static_cast<size_t>(route)]->observe(seconds);
  std::lock_guard<std::mutex> lk(mu_);
  ++requests_[{static_cast<int>(route), status}];
}

void Metrics::batch_observe(int size, double seconds) {
  batch_size_.observe(size);
  batch_seconds_.observe(seconds);
  images_.fetch_add(static_cast<uint64_t>(size), std::memory_order_relaxed);
}

void Metrics::rejected_add(const char* reason) {
  std::lock_guard<std::mutex> lk(mu_);
  ++rejected_[reason];
}

std::string Metrics::render(const State& s) const {
  std::string out;
  out.reserve(16384);
  out += "# HELP scrawl_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE scrawl_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [key, count] : requests_)
      out += "scrawl_http_requests_total{route=\"" +
             std::string(route_label(static_cast<Route>(key.first))) + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    out += "# HELP scrawl_rejected_total Work refused before inference, by reason.\n";
    out += "# TYPE scrawl_rejected_total counter\n";
    for (const char* reason : {"queue_full", "not_ready", "connections", "bodies"}) {
      auto it = rejected_.find(reason);
      out += std::string("scrawl_rejected_total{reason=\"") + reason + "\"} " +
             std::to_string(it == rejected_.end() ? 0 : it->second) + "\n";
    }
  }
  out += "# HELP scrawl_http_request_duration_seconds Time from a full request to its response.\n";
  out += "# TYPE scrawl_http_request_duration_seconds histogram\n";
  for (int r = 0; r < static_cast<int>(Route::Count); ++r)
    latency_[r]->render(out, "scrawl_http_request_duration_seconds",
                        std::string("route=\"") + route_label(static_cast<Route>(r)) + "\"");
  out += "# HELP scrawl_batch_size Images per engine forward pass.\n";
  out += "# TYPE scrawl_batch_size histogram\n";
  batch_size_.render(out, "scrawl_batch_size", "");
  out += "# HELP scrawl_batch_duration_seconds Time of one engine forward pass.\n";
  out += "# TYPE scrawl_batch_duration_seconds histogram\n";
  batch_seconds_.render(out, "scrawl_batch_duration_seconds", "");
  out += "# HELP scrawl_predictions_total Images classified.\n";
  out += "# TYPE scrawl_predictions_total counter\n";
  out += "scrawl_predictions_total " + std::to_string(images_.load()) + "\n";
  out += "# HELP scrawl_second_looks_total Crops the model was unsure of, read again in more "
         "views.\n";
  out += "# TYPE scrawl_second_looks_total counter\n";
  out += "scrawl_second_looks_total " + std::to_string(second_looks_.load()) + "\n";
  out += "# HELP scrawl_queue_depth Images waiting for the engine.\n";
  out += "# TYPE scrawl_queue_depth gauge\n";
  out += "scrawl_queue_depth " + std::to_string(s.queue_depth) + "\n";
  out += "# HELP scrawl_connections Open client connections.\n";
  out += "# TYPE scrawl_connections gauge\n";
  out += "scrawl_connections " + std::to_string(connections_.load()) + "\n";
  out += "# HELP scrawl_model_ready 1 once the model is loaded and requests are served.\n";
  out += "# TYPE scrawl_model_ready gauge\n";
  out += std::string("scrawl_model_ready ") + (s.ready ? "1" : "0") + "\n";
  out += "# HELP scrawl_device_info The device and model answering predictions.\n";
  out += "# TYPE scrawl_device_info gauge\n";
  out += "scrawl_device_info{device=\"" + escape_label(s.device.empty() ? "none" : s.device) +
         "\",model=\"" + escape_label(s.model.empty() ? "none" : s.model) + "\"} 1\n";
  return out;
}

}  // namespace scrawl::server
