// Google Benchmark over each Backend op at the seed and default networks' shapes, on the fast
// CPU backend and on the plain reference in the same process; then whole-network inference
// (Network::predict, one thread as the server runs it) against the formulation it replaced, and
// the seed network's fused plan (host/conv_dense_plan.h) against Network::predict.
// Ends with tables of speed-ups. Run: build/bench_ops [--benchmark_filter=predict]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "host/conv_dense_plan.h"
#include "host/cpu_backend.h"
#include "host/dataset.h"
#include "host/host_memory.h"
#include "host/network.h"

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

// ---- inference: Network::predict against the formulation it replaced ----

// The CPU backend's inference ops as they were before the direct kernels: im2col, then an
// axpy loop (reduction <= 32) or an SGEMM per image, ReLU as a second pass; dense as one
// SGEMM. Every other op is the current CPU backend's. Kept so that the speed-up is measured
// in one process on one machine state. Compiled for x86-64-v3 like scrawl_core (this
// program's own flags are the baseline's), else its loops would be slower than they were.
#if defined(__x86_64__) && !defined(__AVX2__)
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define SCRAWL_LEGACY_TARGET_PUSHED 1
#endif
class LegacyCpuBackend final : public HostMemoryBackend {
 public:
  LegacyCpuBackend() : fast_(cpu_backend_create(1)), ref_(reference_backend_create()) {}
  BackendKind kind() const override { return BackendKind::Cpu; }
  std::string name() const override { return "cpu-legacy"; }
  std::string description() const override { return "CPU, 1 thread, before direct kernels"; }

  void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b,
                      float* y) override {
    conv(d, x, w, b, y, false);
  }
  void conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w, const float* b,
                           float* y) override {
    conv(d, x, w, b, y, true);
  }
  void dense_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                     float* y) override {
    for (int i = 0; i < n; ++i) std::copy(b, b + out, y + size_t(i) * out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f, y,
                out);
  }
  void dense_forward_relu(int n, int in, int out, const float* x, const float* w, const float* b,
                          float* y) override {
    dense_forward(n, in, out, x, w, b, y);
    relu_forward(size_t(n) * out, y, y);
  }
  void softmax_forward(int n, int classes, const float* logits, float* probs) override {
    ref_->softmax_forward(n, classes, logits, probs);
  }

  void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w,
                            float* dx) override {
    fast_->conv2d_backward_data(d, dy, w, dx);
  }
  void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                              float* db) override {
    fast_->conv2d_backward_filter(d, x, dy, dw, db);
  }
  void dense_backward_data(int n, int in, int out, const float* dy, const float* w,
                           float* dx) override {
    fast_->dense_backward_data(n, in, out, dy, w, dx);
  }
  void dense_backward_params(int n, int in, int out, const float* x, const float* dy, float* dw,
                             float* db) override {
    fast_->dense_backward_params(n, in, out, x, dy, dw, db);
  }
  void relu_forward(size_t count, const float* x, float* y) override {
    for (size_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }
  void relu_backward(size_t count, const float* y, const float* dy, float* dx) override {
    fast_->relu_backward(count, y, dy, dx);
  }
  void maxpool_forward(const Pool2dDims& d, const float* x, float* y) override {
    fast_->maxpool_forward(d, x, y);
  }
  void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy,
                        float* dx) override {
    fast_->maxpool_backward(d, x, dy, dx);
  }
  void dropout_forward(size_t count, float rate, uint64_t seed, const float* x,
                       float* y) override {
    fast_->dropout_forward(count, rate, seed, x, y);
  }
  void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                    float* stats) override {
    fast_->softmax_xent(n, classes, logits, labels, dlogits, stats);
  }
  void adam_update(size_t count, float* param, const float* grad, float* m, float* v,
                   const AdamStep& step) override {
    fast_->adam_update(count, param, grad, m, v, step);
  }

 private:
  void conv(const Conv2dDims& d, const float* x, const float* w, const float* b, float* y,
            bool relu) {
    const int oh = d.out_h(), ow = d.out_w(), p = oh * ow, crs = d.c * d.r * d.s;
    const size_t x_step = size_t(d.c) * d.h * d.w, y_step = size_t(d.k) * p;
    col_.resize(size_t(crs) * p);
    for (int n = 0; n < d.n; ++n) {
      const float* xn = x + n * x_step;
      for (int c = 0; c < d.c; ++c)
        for (int r = 0; r < d.r; ++r)
          for (int s = 0; s < d.s; ++s) {
            float* row = col_.data() + ((size_t(c) * d.r + r) * d.s + s) * p;
            for (int i = 0; i < oh; ++i) {
              const int hi = i * d.stride - d.pad + r;
              float* out = row + size_t(i) * ow;
              if (hi < 0 || hi >= d.h) {
                std::fill(out, out + ow, 0.0f);
                continue;
              }
              const float* in = xn + (size_t(c) * d.h + hi) * d.w;
              if (d.stride == 1 && d.pad == 0) {
                std::copy(in + s, in + s + ow, out);
                continue;
              }
              for (int j = 0; j < ow; ++j) {
                const int wi = j * d.stride - d.pad + s;
                out[j] = (wi >= 0 && wi < d.w) ? in[wi] : 0.0f;
              }
            }
          }
      float* yn = y + n * y_step;
      if (crs <= 32) {
        for (int k = 0; k < d.k; ++k) {
          float* __restrict row = yn + size_t(k) * p;
          for (int i = 0; i < p; ++i) row[i] = b[k];
          for (int j = 0; j < crs; ++j) {
            const float a = w[size_t(k) * crs + j];
            const float* __restrict src = col_.data() + size_t(j) * p;
            for (int i = 0; i < p; ++i) row[i] += a * src[i];
          }
        }
      } else {
        for (int k = 0; k < d.k; ++k) std::fill(yn + size_t(k) * p, yn + size_t(k + 1) * p, b[k]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d.k, p, crs, 1.0f, w, crs,
                    col_.data(), p, 1.0f, yn, p);
      }
      if (relu)
        for (size_t i = 0; i < y_step; ++i) yn[i] = yn[i] > 0.0f ? yn[i] : 0.0f;
    }
  }

  std::unique_ptr<Backend> fast_, ref_;
  std::vector<float> col_;
};
#ifdef SCRAWL_LEGACY_TARGET_PUSHED
#pragma GCC pop_options
#endif

// Network::predict as it was: the batch copied into a staging buffer, the logits through the
// backend's softmax into a second buffer, then copied out.
// Chunks of up to 4 MB of the widest activation, as before.
void legacy_predict(Network& net, Backend& be, const float* x, int n, float* probs,
                    std::vector<float>& in_buf, std::vector<float>& probs_buf) {
  const size_t in_size = net.input_shape().size();
  const int classes = net.classes();
  size_t widest = in_size;
  for (const auto& layer : net.layers()) widest = std::max(widest, layer->output_shape().size());
  const int chunk = std::max(8, std::min(1024, int((size_t(4) << 20) / (widest * sizeof(float)))));
  for (int done = 0; done < n;) {
    const int m = std::min(chunk, n - done);
    in_buf.resize(size_t(m) * in_size);
    probs_buf.resize(size_t(m) * classes);
    be.upload(in_buf.data(), x + size_t(done) * in_size, size_t(m) * in_size);
    const float* logits = net.forward(m, in_buf.data(), false);
    be.softmax_forward(m, classes, logits, probs_buf.data());
    be.download(probs + size_t(done) * classes, probs_buf.data(), size_t(m) * classes);
    done += m;
  }
}

const char* const kNets[] = {"seed", "default"};

// args: {variant (0 = current, 1 = legacy), network (0 = seed, 1 = default), batch}
void BM_predict(benchmark::State& st) {
  const bool legacy = st.range(0) == 1;
  std::unique_ptr<Backend> be =
      legacy ? std::unique_ptr<Backend>(new LegacyCpuBackend()) : cpu_backend_create(1);
  const std::string arch = std::string(SCRAWL_SOURCE_DIR) + "/models/" + kNets[st.range(1)] + ".json";
  Network net(Network::arch_from_file(arch), *be);
  net.init_glorot(7);
  const int n = static_cast<int>(st.range(2));
  std::vector<float> x(size_t(n) * net.input_shape().size()), probs(size_t(n) * net.classes());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  for (float& v : x) v = pixel(rng);
  std::vector<float> in_buf, probs_buf;
  for (auto _ : st) {
    if (legacy)
      legacy_predict(net, *be, x.data(), n, probs.data(), in_buf, probs_buf);
    else
      net.predict(x.data(), n, probs.data());
    benchmark::DoNotOptimize(probs.data());
  }
  // Seconds per image (printed with an SI prefix, e.g. 31.2u).
  st.counters["per_img"] = benchmark::Counter(
      n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The first n MNIST test images as the server feeds them (ink 1, paper 0), from $SCRAWL_DATA.
std::vector<float> mnist_inputs(int n) {
  const char* dir = std::getenv("SCRAWL_DATA");
  if (!dir || !*dir) return {};
  static const Dataset test = mnist_load(dir, false);
  std::vector<float> x(size_t(n) * test.image_size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = test.images[i % test.images.size()] / 255.0f;
  return x;
}

// The seed network as the server runs it on one thread: the fused background-skipping plan
// against Network::predict on the same weights (Glorot, small biases: the plan's cost depends on
// how much of the input is blank, not on the weights). Inputs: MNIST test digits, whose blank
// windows the plan skips, or uniform noise, where nothing is blank (the plan's worst case).
// args: {variant (0 = plan, 1 = Network::predict), inputs (0 = MNIST, 1 = noise), batch}
void BM_seed_engine(benchmark::State& st) {
  const bool plain = st.range(0) == 1;
  const int n = static_cast<int>(st.range(2));
  std::unique_ptr<Backend> be = cpu_backend_create(1);
  Network net(Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/seed.json"), *be);
  net.init_glorot(7);
  std::vector<float> p = net.params_to_host();
  for (const ParamSpec& s : net.params())
    if (s.shape.size() == 1)
      for (size_t i = 0; i < s.size(); ++i) p[s.offset + i] = 0.01f * float(int(i % 7) - 3);
  net.params_from_host(p);
  std::vector<float> x;
  if (st.range(1) == 0) {
    x = mnist_inputs(n);
    if (x.empty())
      return st.SkipWithError("set SCRAWL_DATA to the MNIST folder (scripts/fetch_mnist.sh)");
  } else {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    x.resize(size_t(n) * 784);
    for (float& v : x) v = pixel(rng);
  }
  const std::unique_ptr<ConvDensePlan> plan = ConvDensePlan::create(net, 1);
  std::vector<float> probs(size_t(n) * net.classes());
  for (auto _ : st) {
    if (plain)
      net.predict(x.data(), n, probs.data());
    else
      plan->predict(x.data(), n, probs.data());
    benchmark::DoNotOptimize(probs.data());
  }
  st.counters["per_img"] = benchmark::Counter(
      n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// args: {backend (0 = cpu, 1 = reference), shape}
BENCHMARK(BM_conv_forward)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_backward)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dense)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adam)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_predict)->ArgsProduct({{0, 1}, {0, 1}, {1, 17, 64}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_seed_engine)
    ->ArgsProduct({{0, 1}, {0, 1}, {1, 17, 64}})
    ->Unit(benchmark::kMicrosecond);

// Console output as usual, then one line per op and shape: the fast path's speed-up over its
// peer (the reference backend; for predict, the legacy formulation). With repetitions, the
// medians are compared.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const std::string name = r.run_name.str();  // e.g. BM_conv_forward/0/1
      const size_t a = name.find('/'), b = name.find('/', a + 1);
      const std::string key = name.substr(0, a) + (b == std::string::npos ? "" : name.substr(b));
      (name.substr(a + 1, 1) == "0" ? fast_ : ref_)[key] = r.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nspeed-up of the CPU fast path over its peer (same process):\n");
    for (const auto& [key, t] : fast_)
      if (ref_.count(key)) std::printf("  %-24s %8.2fx\n", key.c_str(), ref_[key] / t);
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
