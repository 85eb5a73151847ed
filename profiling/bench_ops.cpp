// Google Benchmark over each Backend op at the seed and default networks' shapes, on the fast
// CPU backend and on the plain reference in the same process; ends with a table of speed-ups
// (reference time / fast time). Run: build/bench_ops [--benchmark_filter=conv]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host/cpu_backend.h"

namespace scrawl {
namespace {

Backend& backend(int which) {
  static std::unique_ptr<Backend> cpu = cpu_backend_create();
  static std::unique_ptr<Backend> ref = reference_backend_create();
  return which == 0 ? *cpu : *ref;
}

Conv2dDims conv(int n, int c, int hw, int k) {
  Conv2dDims d;
  d.n = n; d.c = c; d.h = d.w = hw; d.k = k; d.r = d.s = 3;
  return d;
}

// Seed net's conv (1->64 on 28x28) and the default net's widest (32->32 on 26x26), batch 32.
const Conv2dDims kConvs[] = {conv(32, 1, 28, 64), conv(32, 32, 26, 32)};

void BM_conv_forward(benchmark::State& st) {
  const Conv2dDims d = kConvs[st.range(1)];
  std::vector<float> x(size_t(d.n) * d.c * d.h * d.w, 0.5f), w(size_t(d.k) * d.c * 9, 0.1f),
      b(d.k), y(size_t(d.n) * d.k * d.out_h() * d.out_w());
  for (auto _ : st) backend(st.range(0)).conv2d_forward(d, x.data(), w.data(), b.data(), y.data());
  st.SetItemsProcessed(st.iterations() * d.n);
}

void BM_conv_backward(benchmark::State& st) {
  const Conv2dDims d = kConvs[st.range(1)];
  std::vector<float> x(size_t(d.n) * d.c * d.h * d.w, 0.5f), w(size_t(d.k) * d.c * 9, 0.1f),
      dy(size_t(d.n) * d.k * d.out_h() * d.out_w(), 0.01f), dx(x.size()), dw(w.size()), db(d.k);
  for (auto _ : st) {
    backend(st.range(0)).conv2d_backward_filter(d, x.data(), dy.data(), dw.data(), db.data());
    backend(st.range(0)).conv2d_backward_data(d, dy.data(), w.data(), dx.data());
  }
  st.SetItemsProcessed(st.iterations() * d.n);
}

void BM_dense(benchmark::State& st) {
  const int n = 32, in = 26 * 26 * 64, out = 10;  // the seed net's Dense
  std::vector<float> x(size_t(n) * in, 0.5f), w(size_t(out) * in, 0.01f), b(out), y(n * out),
      dy(n * out, 0.1f), dx(x.size()), dw(w.size()), db(out);
  Backend& be = backend(st.range(0));
  for (auto _ : st) {
    be.dense_forward(n, in, out, x.data(), w.data(), b.data(), y.data());
    be.dense_backward_params(n, in, out, x.data(), dy.data(), dw.data(), db.data());
    be.dense_backward_data(n, in, out, dy.data(), w.data(), dx.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void BM_adam(benchmark::State& st) {
  const size_t n = 433290;  // the seed net's parameter count
  std::vector<float> p(n), g(n, 0.001f), m(n), v(n);
  AdamStep s;
  for (auto _ : st) {
    backend(st.range(0)).adam_update(n, p.data(), g.data(), m.data(), v.data(), s);
    ++s.t;
  }
  st.SetItemsProcessed(st.iterations() * n);
}

// args: {backend (0 = cpu, 1 = reference), shape}
BENCHMARK(BM_conv_forward)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_backward)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dense)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adam)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMillisecond);

// Console output as usual, then one line per op and shape: the fast path's speed-up.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      std::string name = r.benchmark_name();  // e.g. BM_conv_forward/0/1
      const size_t a = name.find('/'), b = name.find('/', a + 1);
      const std::string key = name.substr(0, a) + (b == std::string::npos ? "" : name.substr(b));
      (name.substr(a + 1, 1) == "0" ? fast_ : ref_)[key] = r.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nspeed-up of the CPU fast path over the reference (same process):\n");
    for (const auto& [key, t] : fast_)
      if (ref_.count(key)) std::printf("  %-24s %8.1fx\n", key.c_str(), ref_[key] / t);
  }

 private:
  std::map<std::string, double> fast_, ref_;
};

}  // namespace
}  // namespace scrawl

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  scrawl::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
