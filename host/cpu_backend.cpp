// CpuBackend: the fast CPU path. Convolutions are im2col + single-threaded OpenBLAS SGEMM
// per image with OpenMP over the batch, or a register-blocked direct kernel with bias and
// ReLU fused when the reduction is short; dense layers split their GEMM across threads, or,
// with few outputs, share one pass over the weights among the batch rows.
// Every op is checked against ReferenceBackend in tests/unit/test_backend.cpp.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "host/cpu_backend.h"
#include "host/host_memory.h"
#include "host/vec8.h"

namespace scrawl {
namespace {

using namespace vec8;  // v8f and its helpers (host/vec8.h)

// col (C*R*S, OH*OW) from one image x (C, H, W); zero where the window hangs over the padding.
// Rows of col are `ld` >= OH*OW apart; the columns past OH*OW are zeroed.
void im2col(const Conv2dDims& d, const float* x, float* col, size_t ld) {
  const int oh = d.out_h(), ow = d.out_w();
  for (int c = 0; c < d.c; ++c)
    for (int r = 0; r < d.r; ++r)
      for (int s = 0; s < d.s; ++s) {
        float* row = col + ((static_cast<size_t>(c) * d.r + r) * d.s + s) * ld;
        std::fill(row + size_t(oh) * ow, row + ld, 0.0f);
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

// Up to this reduction length (a first layer's 1x3x3) the direct kernel below beats SGEMM,
// which has nothing to amortise its packing over; bias and ReLU are applied while the outputs
// are still in registers. At the default net's 32x3x3 and 64x3x3 the two tie (SGEMM runs
// AVX-512 kernels on this EPYC), so SGEMM keeps those.
constexpr int kDirectCrs = 32;

// One register tile of y (K, P) = relu?(w (K, CRS) * col (CRS, LD) + b): KB filters by PV
// vectors of 8 pixels, 4 x 3 = 12 accumulators, so each step of the reduction is PV loads,
// KB broadcasts and KB*PV FMAs. Pixels from `valid` on are computed from col's zeroed tail
// and not stored.
template <int KB, int PV>
void conv_tile(int crs, const float* w, const float* b, const float* col, size_t ld, int valid,
               bool relu, float* y, size_t ldy) {
  v8f acc[KB][PV];
  for (int k = 0; k < KB; ++k)
    for (int v = 0; v < PV; ++v) acc[k][v] = splat8(b ? b[k] : 0.0f);
  for (int j = 0; j < crs; ++j) {
    const float* c = col + size_t(j) * ld;
    v8f cv[PV];
    for (int v = 0; v < PV; ++v) cv[v] = load8(c + v * kLanes);
    for (int k = 0; k < KB; ++k) {
      const v8f a = splat8(w[size_t(k) * crs + j]);
      for (int v = 0; v < PV; ++v) acc[k][v] += a * cv[v];
    }
  }
  for (int k = 0; k < KB; ++k)
    for (int v = 0; v < PV; ++v) {
      const v8f out = relu ? relu8(acc[k][v]) : acc[k][v];
      float* dst = y + size_t(k) * ldy + v * kLanes;
      if ((v + 1) * kLanes <= valid) {
        store8(dst, out);
      } else {
        for (int l = 0; l < valid - v * kLanes; ++l) dst[l] = out[l];
      }
    }
}

template <int KB>
void conv_row_block(int crs, int p, const float* w, const float* b, const float* col, size_t ld,
                    bool relu, float* y) {
  constexpr int kTile = 3 * kLanes;
  int i = 0;
  for (; i + kTile <= p; i += kTile)
    conv_tile<KB, 3>(crs, w, b, col + i, ld, kTile, relu, y + i, p);
  const int rest = p - i;
  if (rest > 2 * kLanes)
    conv_tile<KB, 3>(crs, w, b, col + i, ld, rest, relu, y + i, p);
  else if (rest > kLanes)
    conv_tile<KB, 2>(crs, w, b, col + i, ld, rest, relu, y + i, p);
  else if (rest > 0)
    conv_tile<KB, 1>(crs, w, b, col + i, ld, rest, relu, y + i, p);
}

// y (K, P) = relu?(w (K, CRS) * col (CRS, LD) + b); b may be null. col's rows are padded to
// LD >= P rounded up to 8, the padding zeroed (im2col does both). Writes each output once.
void conv_direct(int k, int crs, int p, const float* w, const float* b, const float* col,
                 size_t ld, bool relu, float* y) {
  int kk = 0;
  for (; kk + 4 <= k; kk += 4)
    conv_row_block<4>(crs, p, w + size_t(kk) * crs, b ? b + kk : nullptr, col, ld, relu,
                      y + size_t(kk) * p);
  const float* wk = w + size_t(kk) * crs;
  const float* bk = b ? b + kk : nullptr;
  float* yk = y + size_t(kk) * p;
  switch (k - kk) {
    case 3: conv_row_block<3>(crs, p, wk, bk, col, ld, relu, yk); break;
    case 2: conv_row_block<2>(crs, p, wk, bk, col, ld, relu, yk); break;
    case 1: conv_row_block<1>(crs, p, wk, bk, col, ld, relu, yk); break;
    default: break;
  }
}

// Up to this many outputs a dense layer is a few long dot products per row (the seed net's
// 43264 -> 10), which SGEMM handles poorly; the kernel below reads the weights once per
// batch instead of once per row.
constexpr int kSmallOut = 16;
// Reduction chunk: a chunk of every weight row (10 x 2 KB for the seed net) stays in L1
// while each pair of batch rows runs over it.
constexpr int kDenseChunk = 512;

// acc[r][o] (lane sums) += x rows r (RB of them, ldx apart) . w rows o (OB of them, ldw apart)
// over [lo, hi), hi - lo a multiple of 8. 2 x 5 = 10 accumulators: each step loads 2 + 5
// vectors for 10 FMAs.
template <int RB, int OB>
void dense_tile(int lo, int hi, const float* x, size_t ldx, const float* w, size_t ldw,
                float* acc, int acc_ld) {
  v8f a[RB][OB];
  for (int r = 0; r < RB; ++r)
    for (int o = 0; o < OB; ++o) a[r][o] = load8(acc + (r * acc_ld + o) * kLanes);
  for (int i = lo; i < hi; i += kLanes) {
    v8f xv[RB];
    for (int r = 0; r < RB; ++r) xv[r] = load8(x + r * ldx + i);
    for (int o = 0; o < OB; ++o) {
      const v8f wv = load8(w + o * ldw + i);
      for (int r = 0; r < RB; ++r) a[r][o] += xv[r] * wv;
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int o = 0; o < OB; ++o) store8(acc + (r * acc_ld + o) * kLanes, a[r][o]);
}

template <int RB>
void dense_rows(int lo, int hi, int out, const float* x, size_t ldx, const float* w, size_t ldw,
                float* acc) {
  int o = 0;
  for (; o + 5 <= out; o += 5)
    dense_tile<RB, 5>(lo, hi, x, ldx, w + o * ldw, ldw, acc + o * kLanes, out);
  float* ao = acc + o * kLanes;
  const float* wo = w + o * ldw;
  switch (out - o) {
    case 4: dense_tile<RB, 4>(lo, hi, x, ldx, wo, ldw, ao, out); break;
    case 3: dense_tile<RB, 3>(lo, hi, x, ldx, wo, ldw, ao, out); break;
    case 2: dense_tile<RB, 2>(lo, hi, x, ldx, wo, ldw, ao, out); break;
    case 1: dense_tile<RB, 1>(lo, hi, x, ldx, wo, ldw, ao, out); break;
    default: break;
  }
}

// y (N, OUT) = relu?(x (N, IN) w^T + b) for small OUT; b may be null. acc: N*OUT*8 floats of
// scratch, lane-wise partial sums. Each chunk of the weights is used by every row before the
// next chunk is read.
void dense_small_out(int n, int in, int out, const float* x, const float* w, const float* b,
                     bool relu, float* y, float* acc) {
  std::fill(acc, acc + size_t(n) * out * kLanes, 0.0f);
  const int body = in / kLanes * kLanes;
  for (int lo = 0; lo < body; lo += kDenseChunk) {
    const int hi = std::min(body, lo + kDenseChunk);
    int r = 0;
    for (; r + 2 <= n; r += 2)
      dense_rows<2>(lo, hi, out, x + size_t(r) * in, in, w, in, acc + size_t(r) * out * kLanes);
    if (r < n)
      dense_rows<1>(lo, hi, out, x + size_t(r) * in, in, w, in, acc + size_t(r) * out * kLanes);
  }
  for (int r = 0; r < n; ++r)
    for (int o = 0; o < out; ++o) {
      float sum = sum8(load8(acc + (size_t(r) * out + o) * kLanes));
      const float* xr = x + size_t(r) * in;
      const float* wo = w + size_t(o) * in;
      for (int i = body; i < in; ++i) sum += xr[i] * wo[i];
      sum += b ? b[o] : 0.0f;
      y[size_t(r) * out + o] = relu && !(sum > 0.0f) ? 0.0f : sum;
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
    const bool direct = crs <= kDirectCrs;
    // The direct kernel reads whole vectors, so its col rows are padded to a multiple of 8.
    const size_t ld = direct ? (size_t(p) + kLanes - 1) / kLanes * kLanes : size_t(p);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int n = 0; n < d.n; ++n) {
      float* col = scratch(static_cast<size_t>(crs) * ld);
      im2col(d, x + n * x_step, col, ld);
      float* yn = y + n * y_step;
      if (direct) {
        conv_direct(d.k, crs, p, w, b, col, ld, relu, yn);
        continue;
      }
      if (b) {
        for (int k = 0; k < d.k; ++k) std::fill(yn + size_t(k) * p, yn + size_t(k + 1) * p, b[k]);
      }
      // y_n (K, P) = w (K, CRS) * col (CRS, P)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d.k, p, crs, 1.0f, w, crs, col, p,
                  b ? 1.0f : 0.0f, yn, p);
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
        im2col(d, x + n * x_step, col, p);
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
    dense(n, in, out, x, w, b, y, false);
  }

  void dense_forward_relu(int n, int in, int out, const float* x, const float* w, const float* b,
                          float* y) override {
    dense(n, in, out, x, w, b, y, true);
  }

  void dense(int n, int in, int out, const float* x, const float* w, const float* b, float* y,
             bool relu) {
    if (out <= kSmallOut) {
      // Rows split across threads: each thread reads all the weights, once.
      const int t = std::min(threads_, std::max(1, n / 2));
#pragma omp parallel num_threads(t)
      {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        const int lo = int(int64_t(n) * id / nt), hi = int(int64_t(n) * (id + 1) / nt);
        if (hi > lo) {
          float* acc = scratch(size_t(hi - lo) * out * kLanes);
          dense_small_out(hi - lo, in, out, x + size_t(lo) * in, w, b, relu, y + size_t(lo) * out,
                          acc);
        }
      }
      return;
    }
    if (b) {
      for (int i = 0; i < n; ++i) std::copy(b, b + out, y + size_t(i) * out);
    }
    // y (N, OUT) = x (N, IN) * w^T (IN, OUT): split the rows of y across threads when there
    // are enough of them, else its columns.
    gemm_split(false, true, n, out, in, x, in, w, in, b ? 1.0f : 0.0f, y, out);
    if (relu) relu_forward(size_t(n) * out, y, y);
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
