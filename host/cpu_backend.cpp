// CpuBackend: the fast CPU path. Convolutions are im2col + single-threaded OpenBLAS SGEMM
// per image with OpenMP over the batch; dense layers split their GEMM's output columns
// across threads. Every op is checked against ReferenceBackend in tests/unit/test_backend.cpp.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "host/cpu_backend.h"
#include "host/host_memory.h"

namespace scrawl {
namespace {

// col (C*R*S, OH*OW) from one image x (C, H, W); zero where the window hangs over the padding.
void im2col(const Conv2dDims& d, const float* x, float* col) {
  const int oh = d.out_h(), ow = d.out_w();
  for (int c = 0; c < d.c; ++c)
    for (int r = 0; r < d.r; ++r)
      for (int s = 0; s < d.s; ++s) {
        float* row = col + ((static_cast<size_t>(c) * d.r + r) * d.s + s) * oh * ow;
        for (int i = 0; i < oh; ++i) {
          const int hi = i * d.stride - d.pad + r;
          float* out = row + static_cast<size_t>(i) * ow;
          if (hi < 0 || hi >= d.h) {
            std::fill(out, out + ow, 0.0f);
            continue;
          }
          const float* in = x + (static_cast<size_t>(c) * d.h + hi) * d.w;
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
}

// The adjoint of im2col: accumulates col back into dx (C, H, W), which must start at zero.
void col2im(const Conv2dDims& d, const float* col, float* dx) {
  const int oh = d.out_h(), ow = d.out_w();
  for (int c = 0; c < d.c; ++c)
    for (int r = 0; r < d.r; ++r)
      for (int s = 0; s < d.s; ++s) {
        const float* row = col + ((static_cast<size_t>(c) * d.r + r) * d.s + s) * oh * ow;
        for (int i = 0; i < oh; ++i) {
          const int hi = i * d.stride - d.pad + r;
          if (hi < 0 || hi >= d.h) continue;
          float* out = dx + (static_cast<size_t>(c) * d.h + hi) * d.w;
          const float* in = row + static_cast<size_t>(i) * ow;
          for (int j = 0; j < ow; ++j) {
            const int wi = j * d.stride - d.pad + s;
            if (wi >= 0 && wi < d.w) out[wi] += in[j];
          }
        }
      }
}

// Below this reduction length (e.g. a first layer's 1x3x3) a GEMM call spends more time
// packing than multiplying; rows of y built from axpys stay in L1 and vectorise fully.
constexpr int kSmallCrs = 32;

// y (K, P) = w (K, CRS) * col (CRS, P) + b, for small CRS.
void conv_small_crs(int k, int crs, int p, const float* w, const float* b, const float* col,
                    float* y) {
  for (int kk = 0; kk < k; ++kk) {
    float* __restrict row = y + size_t(kk) * p;
    const float bias = b ? b[kk] : 0.0f;
    for (int i = 0; i < p; ++i) row[i] = bias;
    for (int j = 0; j < crs; ++j) {
      const float a = w[size_t(kk) * crs + j];
      const float* __restrict src = col + size_t(j) * p;
      for (int i = 0; i < p; ++i) row[i] += a * src[i];
    }
  }
}

class CpuBackend final : public HostMemoryBackend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {
    // Parallelism comes from OpenMP around the GEMMs; OpenBLAS's own threads would fight it.
    openblas_set_num_threads(1);
    scratch_.resize(threads_);
  }

  BackendKind kind() const override { return BackendKind::Cpu; }
  std::string name() const override { return "cpu"; }
  std::string description() const override {
    // openblas_get_config() reads "OpenBLAS 0.3.21 ... Cooperlake MAX_THREADS=64": keep the
    // version and the kernel family it picked for this CPU.
    std::string config = openblas_get_config();
    std::string version = config.substr(0, config.find(' ', 9));
    const std::string core = openblas_get_corename();
    return "CPU, " + std::to_string(threads_) + " threads, " + version + " (" + core + " kernels)";
  }

  void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b,
                      float* y) override {
    conv_forward(d, x, w, b, y, false);
  }

  // The ReLU is applied to each image's output while it is still in cache.
  void conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w, const float* b,
                           float* y) override {
    conv_forward(d, x, w, b, y, true);
  }

  void conv_forward(const Conv2dDims& d, const float* x, const float* w, const float* b, float* y,
                    bool relu) {
    const int p = d.out_h() * d.out_w(), crs = d.c * d.r * d.s;
    const size_t x_step = static_cast<size_t>(d.c) * d.h * d.w, y_step = size_t(d.k) * p;
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int n = 0; n < d.n; ++n) {
      float* col = scratch(static_cast<size_t>(crs) * p);
      im2col(d, x + n * x_step, col);
      float* yn = y + n * y_step;
      if (crs <= kSmallCrs) {
        conv_small_crs(d.k, crs, p, w, b, col, yn);
      } else {
        if (b) {
          for (int k = 0; k < d.k; ++k)
            std::fill(yn + size_t(k) * p, yn + size_t(k + 1) * p, b[k]);
        }
        // y_n (K, P) = w (K, CRS) * col (CRS, P)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d.k, p, crs, 1.0f, w, crs, col, p,
                    b ? 1.0f : 0.0f, yn, p);
      }
      if (relu) {
        for (size_t i = 0; i < y_step; ++i) yn[i] = yn[i] > 0.0f ? yn[i] : 0.0f;
      }
    }
  }

  void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w,
                            float* dx) override {
    const int p = d.out_h() * d.out_w(), crs = d.c * d.r * d.s;
    const size_t x_step = static_cast<size_t>(d.c) * d.h * d.w, y_step = size_t(d.k) * p;
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int n = 0; n < d.n; ++n) {
      float* col = scratch(static_cast<size_t>(crs) * p);
      // col (CRS, P) = w^T (CRS, K) * dy_n (K, P)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, crs, p, d.k, 1.0f, w, crs,
                  dy + n * y_step, p, 0.0f, col, p);
      float* dxn = dx + n * x_step;
      std::fill(dxn, dxn + x_step, 0.0f);
      col2im(d, col, dxn);
    }
  }

  void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                              float* db) override {
    const int p = d.out_h() * d.out_w(), crs = d.c * d.r * d.s;
    const size_t x_step = static_cast<size_t>(d.c) * d.h * d.w, y_step = size_t(d.k) * p;
    const size_t wsize = static_cast<size_t>(d.k) * crs;
    const int t = std::min(threads_, d.n);
    // Each thread sums its images into a private (dw, db); the partial sums are added after.
    partial_.assign(static_cast<size_t>(t) * (wsize + d.k), 0.0f);
#pragma omp parallel num_threads(t)
    {
      const int id = omp_get_thread_num();
      float* pdw = partial_.data() + id * (wsize + d.k);
      float* pdb = pdw + wsize;
      float* col = scratch(static_cast<size_t>(crs) * p);
#pragma omp for schedule(static)
      for (int n = 0; n < d.n; ++n) {
        im2col(d, x + n * x_step, col);
        const float* dyn = dy + n * y_step;
        // dw (K, CRS) += dy_n (K, P) * col^T (P, CRS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d.k, crs, p, 1.0f, dyn, p, col, p,
                    1.0f, pdw, crs);
        for (int k = 0; k < d.k; ++k) {
          float acc = 0.0f;
          const float* row = dyn + size_t(k) * p;
#pragma omp simd reduction(+ : acc)
          for (int i = 0; i < p; ++i) acc += row[i];
          pdb[k] += acc;
        }
      }
    }
    reduce_partials(t, wsize, dw, db, d.k);
  }

  void dense_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                     float* y) override {
    if (b) {
      for (int i = 0; i < n; ++i) std::copy(b, b + out, y + size_t(i) * out);
    }
    // y (N, OUT) = x (N, IN) * w^T (IN, OUT): split the rows of y across threads when there
    // are enough of them, else its columns.
    gemm_split(false, true, n, out, in, x, in, w, in, b ? 1.0f : 0.0f, y, out);
  }

  void dense_backward_data(int n, int in, int out, const float* dy, const float* w,
                           float* dx) override {
    // dx (N, IN) = dy (N, OUT) * w (OUT, IN)
    gemm_split(false, false, n, in, out, dy, out, w, in, 0.0f, dx, in);
  }

  void dense_backward_params(int n, int in, int out, const float* x, const float* dy, float* dw,
                             float* db) override {
    // dw (OUT, IN) = dy^T (OUT, N) * x (N, IN)
    gemm_split(true, false, out, in, n, dy, out, x, in, 0.0f, dw, in);
    if (db) {
      for (int o = 0; o < out; ++o) {
        float acc = 0.0f;
        for (int i = 0; i < n; ++i) acc += dy[size_t(i) * out + o];
        db[o] = acc;
      }
    }
  }

  void relu_forward(size_t count, const float* x, float* y) override {
#pragma omp parallel for simd num_threads(threads_) schedule(static) if (count > 32768)
    for (size_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }

  void relu_backward(size_t count, const float* y, const float* dy, float* dx) override {
#pragma omp parallel for simd num_threads(threads_) schedule(static) if (count > 32768)
    for (size_t i = 0; i < count; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  }

  void maxpool_forward(const Pool2dDims& d, const float* x, float* y) override {
    const int oh = d.out_h(), ow = d.out_w();
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int p = 0; p < d.n * d.c; ++p) {
      const float* xp = x + static_cast<size_t>(p) * d.h * d.w;
      float* yp = y + static_cast<size_t>(p) * oh * ow;
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          float best = -std::numeric_limits<float>::infinity();
          for (int r = 0; r < d.size; ++r) {
            const float* row = xp + size_t(i * d.stride + r) * d.w + j * d.stride;
            for (int s = 0; s < d.size; ++s) best = std::max(best, row[s]);
          }
          yp[i * ow + j] = best;
        }
    }
  }

  void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy,
                        float* dx) override {
    const int oh = d.out_h(), ow = d.out_w();
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int p = 0; p < d.n * d.c; ++p) {
      const float* xp = x + static_cast<size_t>(p) * d.h * d.w;
      float* dxp = dx + static_cast<size_t>(p) * d.h * d.w;
      std::fill(dxp, dxp + size_t(d.h) * d.w, 0.0f);
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          size_t arg = 0;
          float best = -std::numeric_limits<float>::infinity();
          for (int r = 0; r < d.size; ++r)
            for (int s = 0; s < d.size; ++s) {
              const size_t idx = size_t(i * d.stride + r) * d.w + j * d.stride + s;
              if (xp[idx] > best) {
                best = xp[idx];
                arg = idx;
              }
            }
          dxp[arg] += dy[(static_cast<size_t>(p) * oh + i) * ow + j];
        }
    }
  }

  void dropout_forward(size_t count, float rate, uint64_t seed, const float* x,
                       float* y) override {
    const float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for num_threads(threads_) schedule(static) if (count > 32768)
    for (size_t i = 0; i < count; ++i)
      y[i] = dropout_uniform(seed, i) >= rate ? x[i] * scale : 0.0f;
  }

  void softmax_forward(int n, int classes, const float* logits, float* probs) override {
    reference_->softmax_forward(n, classes, logits, probs);
  }

  void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                    float* stats) override {
    reference_->softmax_xent(n, classes, logits, labels, dlogits, stats);
  }

  void adam_update(size_t count, float* param, const float* grad, float* m, float* v,
                   const AdamStep& step) override {
    const float a = step.step_size(), b1 = step.beta1, b2 = step.beta2, eps = step.eps;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
    for (size_t i = 0; i < count; ++i) {
      const float g = grad[i];
      const float mi = b1 * m[i] + (1.0f - b1) * g;
      const float vi = b2 * v[i] + (1.0f - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] -= a * mi / (std::sqrt(vi) + eps);
    }
  }

 private:
  // Per-thread scratch, grown on demand and kept: no allocation in steady state.
  float* scratch(size_t count) {
    std::vector<float>& s = scratch_[omp_get_thread_num()];
    if (s.size() < count) s.resize(count);
    return s.data();
  }

  void reduce_partials(int t, size_t wsize, float* dw, float* db, int k) {
    const float* base = partial_.data();
    const size_t stride = wsize + k;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
    for (size_t i = 0; i < wsize; ++i) {
      float acc = 0.0f;
      for (int j = 0; j < t; ++j) acc += base[j * stride + i];
      dw[i] = acc;
    }
    if (db) {
      for (int i = 0; i < k; ++i) {
        float acc = 0.0f;
        for (int j = 0; j < t; ++j) acc += base[j * stride + wsize + i];
        db[i] = acc;
      }
    }
  }

  // c (M, N) = alpha-free op(a) (M, K) * op(b) (K, N) + beta * c, row-major, with the larger of
  // M and N split into one contiguous block per thread.
  void gemm_split(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                  int ldb, float beta, float* c, int ldc) {
    const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
    const double work = double(m) * n * k;
    const int t = work < 1e5 ? 1 : threads_;
    const bool split_rows = m >= n || m >= 4 * t;
    const int extent = split_rows ? m : n;
#pragma omp parallel num_threads(t)
    {
      const int id = omp_get_thread_num(), nt = omp_get_num_threads();
      // 16-aligned blocks keep each thread's slice of c on its own cache lines.
      const int chunk = ((extent + nt - 1) / nt + 15) / 16 * 16;
      const int lo = std::min(extent, id * chunk), hi = std::min(extent, lo + chunk);
      if (hi > lo) {
        if (split_rows) {
          const float* ap = ta ? a + lo : a + size_t(lo) * lda;
          cblas_sgemm(CblasRowMajor, opa, opb, hi - lo, n, k, 1.0f, ap, lda, b, ldb, beta,
                      c + size_t(lo) * ldc, ldc);
        } else {
          const float* bp = tb ? b + size_t(lo) * ldb : b + lo;
          cblas_sgemm(CblasRowMajor, opa, opb, m, hi - lo, k, 1.0f, a, lda, bp, ldb, beta,
                      c + lo, ldc);
        }
      }
    }
  }

  int threads_;
  std::vector<std::vector<float>> scratch_;
  std::vector<float> partial_;
  std::unique_ptr<Backend> reference_ = reference_backend_create();
};

}  // namespace

std::unique_ptr<Backend> cpu_backend_create(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace scrawl
