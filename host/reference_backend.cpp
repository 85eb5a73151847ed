// ReferenceBackend: the plainest possible loops for every op in host/backend.h.
// This file is the specification: CpuBackend and the CUDA backend are tested against it
// (tests/unit/test_backend.cpp, tests/gpu/), and gradients here are checked numerically.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#include "host/cpu_backend.h"
#include "host/host_memory.h"

namespace scrawl {
namespace {

class ReferenceBackend final : public HostMemoryBackend {
 public:
  BackendKind kind() const override { return BackendKind::Reference; }
  std::string name() const override { return "reference"; }
  std::string description() const override { return "CPU reference loops, 1 thread"; }

  void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b,
                      float* y) override {
    const int oh = d.out_h(), ow = d.out_w();
    for (int n = 0; n < d.n; ++n)
      for (int k = 0; k < d.k; ++k)
        for (int i = 0; i < oh; ++i)
          for (int j = 0; j < ow; ++j) {
            float acc = b ? b[k] : 0.0f;
            for (int c = 0; c < d.c; ++c)
              for (int r = 0; r < d.r; ++r)
                for (int s = 0; s < d.s; ++s) {
                  const int hi = i * d.stride - d.pad + r, wi = j * d.stride - d.pad + s;
                  if (hi < 0 || hi >= d.h || wi < 0 || wi >= d.w) continue;
                  acc += x[((n * d.c + c) * d.h + hi) * d.w + wi] *
                         w[((k * d.c + c) * d.r + r) * d.s + s];
                }
            y[((n * d.k + k) * oh + i) * ow + j] = acc;
          }
  }

  void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w,
                            float* dx) override {
    const int oh = d.out_h(), ow = d.out_w();
    std::fill(dx, dx + static_cast<size_t>(d.n) * d.c * d.h * d.w, 0.0f);
    for (int n = 0; n < d.n; ++n)
      for (int k = 0; k < d.k; ++k)
        for (int i = 0; i < oh; ++i)
          for (int j = 0; j < ow; ++j) {
            const float g = dy[((n * d.k + k) * oh + i) * ow + j];
            for (int c = 0; c < d.c; ++c)
              for (int r = 0; r < d.r; ++r)
                for (int s = 0; s < d.s; ++s) {
                  const int hi = i * d.stride - d.pad + r, wi = j * d.stride - d.pad + s;
                  if (hi < 0 || hi >= d.h || wi < 0 || wi >= d.w) continue;
                  dx[((n * d.c + c) * d.h + hi) * d.w + wi] +=
                      g * w[((k * d.c + c) * d.r + r) * d.s + s];
                }
          }
  }

  void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                              float* db) override {
    const int oh = d.out_h(), ow = d.out_w();
    std::fill(dw, dw + static_cast<size_t>(d.k) * d.c * d.r * d.s, 0.0f);
    if (db) std::fill(db, db + d.k, 0.0f);
    for (int n = 0; n < d.n; ++n)
      for (int k = 0; k < d.k; ++k)
        for (int i = 0; i < oh; ++i)
          for (int j = 0; j < ow; ++j) {
            const float g = dy[((n * d.k + k) * oh + i) * ow + j];
            if (db) db[k] += g;
            for (int c = 0; c < d.c; ++c)
              for (int r = 0; r < d.r; ++r)
                for (int s = 0; s < d.s; ++s) {
                  const int hi = i * d.stride - d.pad + r, wi = j * d.stride - d.pad + s;
                  if (hi < 0 || hi >= d.h || wi < 0 || wi >= d.w) continue;
                  dw[((k * d.c + c) * d.r + r) * d.s + s] +=
                      g * x[((n * d.c + c) * d.h + hi) * d.w + wi];
                }
          }
  }

  void dense_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                     float* y) override {
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < out; ++o) {
        float acc = b ? b[o] : 0.0f;
        for (int k = 0; k < in; ++k) acc += x[static_cast<size_t>(i) * in + k] *
                                            w[static_cast<size_t>(o) * in + k];
        y[static_cast<size_t>(i) * out + o] = acc;
      }
  }

  void dense_backward_data(int n, int in, int out, const float* dy, const float* w,
                           float* dx) override {
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < in; ++k) {
        float acc = 0.0f;
        for (int o = 0; o < out; ++o)
          acc += dy[static_cast<size_t>(i) * out + o] * w[static_cast<size_t>(o) * in + k];
        dx[static_cast<size_t>(i) * in + k] = acc;
      }
  }

  void dense_backward_params(int n, int in, int out, const float* x, const float* dy, float* dw,
                             float* db) override {
    for (int o = 0; o < out; ++o) {
      for (int k = 0; k < in; ++k) {
        float acc = 0.0f;
        for (int i = 0; i < n; ++i)
          acc += dy[static_cast<size_t>(i) * out + o] * x[static_cast<size_t>(i) * in + k];
        dw[static_cast<size_t>(o) * in + k] = acc;
      }
      if (db) {
        float acc = 0.0f;
        for (int i = 0; i < n; ++i) acc += dy[static_cast<size_t>(i) * out + o];
        db[o] = acc;
      }
    }
  }

  void relu_forward(size_t count, const float* x, float* y) override {
    for (size_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }

  void relu_backward(size_t count, const float* y, const float* dy, float* dx) override {
    for (size_t i = 0; i < count; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  }

  void maxpool_forward(const Pool2dDims& d, const float* x, float* y) override {
    const int oh = d.out_h(), ow = d.out_w();
    for (int p = 0; p < d.n * d.c; ++p)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          float best = -std::numeric_limits<float>::infinity();
          for (int r = 0; r < d.size; ++r)
            for (int s = 0; s < d.size; ++s)
              best = std::max(best, x[(static_cast<size_t>(p) * d.h + i * d.stride + r) * d.w +
                                      j * d.stride + s]);
          y[(static_cast<size_t>(p) * oh + i) * ow + j] = best;
        }
  }

  void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy,
                        float* dx) override {
    const int oh = d.out_h(), ow = d.out_w();
    std::fill(dx, dx + static_cast<size_t>(d.n) * d.c * d.h * d.w, 0.0f);
    for (int p = 0; p < d.n * d.c; ++p)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          // The gradient goes to the first maximum in row-major window order.
          size_t arg = 0;
          float best = -std::numeric_limits<float>::infinity();
          for (int r = 0; r < d.size; ++r)
            for (int s = 0; s < d.size; ++s) {
              const size_t idx =
                  (static_cast<size_t>(p) * d.h + i * d.stride + r) * d.w + j * d.stride + s;
              if (x[idx] > best) {
                best = x[idx];
                arg = idx;
              }
            }
          dx[arg] += dy[(static_cast<size_t>(p) * oh + i) * ow + j];
        }
  }

  void dropout_forward(size_t count, float rate, uint64_t seed, const float* x,
                       float* y) override {
    const float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < count; ++i)
      y[i] = dropout_uniform(seed, i) >= rate ? x[i] * scale : 0.0f;
  }

  void softmax_forward(int n, int classes, const float* logits, float* probs) override {
    for (int i = 0; i < n; ++i) {
      const float* z = logits + static_cast<size_t>(i) * classes;
      float* p = probs + static_cast<size_t>(i) * classes;
      const float mx = *std::max_element(z, z + classes);
      float sum = 0.0f;
      for (int c = 0; c < classes; ++c) sum += p[c] = std::exp(z[c] - mx);
      for (int c = 0; c < classes; ++c) p[c] /= sum;
    }
  }

  void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                    float* stats) override {
    for (int i = 0; i < n; ++i) {
      const float* z = logits + static_cast<size_t>(i) * classes;
      float* g = dlogits + static_cast<size_t>(i) * classes;
      const float mx = *std::max_element(z, z + classes);
      const int arg = static_cast<int>(std::max_element(z, z + classes) - z);
      float sum = 0.0f;
      for (int c = 0; c < classes; ++c) sum += std::exp(z[c] - mx);
      if (labels[i] < 0.0f) {
        // Not a digit: the target is uniform over the classes, so
        // loss = log(sum exp(z)) - mean(z); a hit when no class gets half the probability.
        float mean = 0.0f;
        for (int c = 0; c < classes; ++c) mean += z[c] - mx;
        stats[0] += std::log(sum) - mean / classes;
        stats[1] += 1.0f / sum < 0.5f ? 1.0f : 0.0f;
        for (int c = 0; c < classes; ++c) g[c] = (std::exp(z[c] - mx) / sum - 1.0f / classes) / n;
        continue;
      }
      const int label = static_cast<int>(labels[i]);
      // loss = log(sum exp(z)) - z[label], computed shifted for stability.
      stats[0] += std::log(sum) - (z[label] - mx);
      stats[1] += arg == label ? 1.0f : 0.0f;
      for (int c = 0; c < classes; ++c)
        g[c] = (std::exp(z[c] - mx) / sum - (c == label ? 1.0f : 0.0f)) / n;
    }
  }

  void adam_update(size_t count, float* param, const float* grad, float* m, float* v,
                   const AdamStep& step) override {
    const float a = step.step_size();
    for (size_t i = 0; i < count; ++i) {
      m[i] = step.beta1 * m[i] + (1.0f - step.beta1) * grad[i];
      v[i] = step.beta2 * v[i] + (1.0f - step.beta2) * grad[i] * grad[i];
      param[i] -= a * m[i] / (std::sqrt(v[i]) + step.eps);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> reference_backend_create() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace scrawl
