// The fused conv2d -> relu -> flatten -> dense inference pass. See conv_dense_plan.h.
// Tested by tests/unit/test_conv_dense_plan.cpp; timed against Network::predict by
// profiling/bench_ops.cpp (BM_seed_engine).
//
// Numerics: with a(p, k) = relu(conv at window p, filter k) and z(k) = relu(bias k),
//   logit(o) = b(o) + sum_{p,k} a(p,k) W(o, k*P + p)
//            = [b(o) + sum_{p,k} z(k) W(o, k*P + p)] + sum_{p inked, k} (a(p,k) - z(k)) W(o, k*P +
//            p)
// since a(p,k) = z(k) wherever window p holds only zeros. The bracket is summed in double when
// the plan is made; the float sums differ from the layer-by-layer pass only in their order.
#include "host/conv_dense_plan.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "host/cpu_backend.h"
#include "host/vec8.h"

namespace scrawl {
namespace {

using namespace vec8;             // v8f and its helpers (host/vec8.h)
constexpr int kMaxBlock = 8;      // filter vectors kept in registers at once (64 filters)
constexpr int kThreadChunk = 16;  // images per OpenMP work item
constexpr int kRangeMax = 64;     // images per pass: one bit each in a window's 64-bit mask

// One inked window, filters [8*v0, 8*(v0+NV)): the activations' change from blank, held in
// registers, straight into the lane sums of every logit. patch (CRS); cw rows (CRS) `ld` floats
// apart; dw (OUT) rows `ld` floats apart at this position; acc (OUT) vectors.
template <int NV>
void window_add(const float* patch, int crs, const float* cw, const float* cb, const float* blank,
                const float* dw, int out, size_t ld, float* acc) {
  v8f a[NV];
  for (int v = 0; v < NV; ++v) a[v] = load8(cb + v * kLanes);
  for (int j = 0; j < crs; ++j) {
    const v8f x = splat8(patch[j]);
    const float* w = cw + size_t(j) * ld;
    for (int v = 0; v < NV; ++v) a[v] += x * load8(w + v * kLanes);
  }
  for (int v = 0; v < NV; ++v) {
    a[v] = relu8(a[v]) - load8(blank + v * kLanes);
  }
  // Four partial sums per logit, so the FMAs of one logit do not wait on each other.
  constexpr int kSums = NV < 4 ? NV : 4;
  for (int o = 0; o < out; ++o) {
    const float* w = dw + size_t(o) * ld;
    v8f s[kSums];
    for (int v = 0; v < kSums; ++v) s[v] = a[v] * load8(w + v * kLanes);
    for (int v = kSums; v < NV; ++v) s[v % kSums] += a[v] * load8(w + v * kLanes);
    v8f total = load8(acc + o * kLanes);
    for (int v = 0; v < kSums; ++v) total += s[v];
    store8(acc + o * kLanes, total);
  }
}

using WindowAdd = void (*)(const float*, int, const float*, const float*, const float*,
                           const float*, int, size_t, float*);

template <size_t... I>
constexpr std::array<WindowAdd, sizeof...(I)> window_adds(std::index_sequence<I...>) {
  return {window_add<int(I) + 1>...};
}

// window_add<nv>, for the nv filter vectors (1 .. kMaxBlock) of one register block.
WindowAdd window_add_for(int nv) {
  static constexpr auto table = window_adds(std::make_index_sequence<kMaxBlock>());
  return table[size_t(std::clamp(nv, 1, kMaxBlock) - 1)];
}

}  // namespace

std::unique_ptr<ConvDensePlan> ConvDensePlan::create(const Network& net, int threads) {
  const auto& layers = net.layers();
  if (layers.size() != 4 || layers[0]->type() != "conv2d" || layers[1]->type() != "relu" ||
      layers[2]->type() != "flatten" || layers[3]->type() != "dense")
    return nullptr;
  const std::vector<ParamSpec>& specs = net.params();
  if (specs.size() != 4) return nullptr;

  std::unique_ptr<ConvDensePlan> plan(new ConvDensePlan());
  ConvDensePlan& p = *plan;
  const nlohmann::json conv = layers[0]->to_json();
  const ActShape in = net.input_shape();
  Conv2dDims& d = p.d_;
  d.n = 1;
  d.c = in.c;
  d.h = in.h;
  d.w = in.w;
  d.k = conv.at("filters").get<int>();
  d.r = d.s = conv.at("kernel").get<int>();
  d.stride = conv.at("stride").get<int>();
  d.pad = conv.at("padding").get<std::string>() == "same" ? d.r / 2 : 0;
  p.crs_ = d.c * d.r * d.s;
  p.positions_ = d.out_h() * d.out_w();
  p.out_ = layers[3]->output_shape().c;
  p.kv_ = (d.k + kLanes - 1) / kLanes;
  p.threads_ = threads > 0 ? threads : std::max(1, omp_get_max_threads());
  p.rows_ = reference_backend_create();
  const int kp = p.kv_ * kLanes, crs = p.crs_, P = p.positions_, out = p.out_;
  const size_t in_dense = size_t(d.k) * P;
  if (specs[0].size() != size_t(d.k) * crs || specs[1].size() != size_t(d.k) ||
      specs[2].size() != in_dense * out || specs[3].size() != size_t(out))
    return nullptr;

  const std::vector<float> params = net.params_to_host();
  const float* cw = params.data() + specs[0].offset;  // (K, C, R, S)
  const float* cb = params.data() + specs[1].offset;  // (K)
  const float* dw = params.data() + specs[2].offset;  // (OUT, K*P)
  const float* db = params.data() + specs[3].offset;  // (OUT)

  p.conv_w_.assign(size_t(crs) * kp, 0.0f);
  p.conv_b_.assign(kp, 0.0f);
  p.blank_.assign(kp, 0.0f);
  for (int k = 0; k < d.k; ++k) {
    for (int j = 0; j < crs; ++j) p.conv_w_[size_t(j) * kp + k] = cw[size_t(k) * crs + j];
    p.conv_b_[k] = cb[k];
    p.blank_[k] = std::max(cb[k], 0.0f);
  }
  p.dense_w_.assign(size_t(P) * out * kp, 0.0f);
  p.base_.resize(out);
  for (int o = 0; o < out; ++o) {
    double base = db[o];
    for (int k = 0; k < d.k; ++k)
      for (int q = 0; q < P; ++q) {
        const float w = dw[size_t(o) * in_dense + size_t(k) * P + q];
        p.dense_w_[(size_t(q) * out + o) * kp + k] = w;
        base += double(p.blank_[k]) * w;
      }
    p.base_[o] = static_cast<float>(base);
  }
  p.window_.resize(size_t(P) * crs);
  const int ow = d.out_w();
  for (int q = 0; q < P; ++q) {
    const int oy = q / ow, ox = q % ow;
    for (int c = 0; c < d.c; ++c)
      for (int r = 0; r < d.r; ++r)
        for (int s = 0; s < d.s; ++s) {
          const int y = oy * d.stride - d.pad + r, x = ox * d.stride - d.pad + s;
          const bool inside = y >= 0 && y < d.h && x >= 0 && x < d.w;
          p.window_[size_t(q) * crs + (c * d.r + r) * d.s + s] =
              inside ? (c * d.h + y) * d.w + x : -1;
        }
  }
  return plan;
}

// inked (OH*OW) = 1 where window q of image x (C, H, W) holds a non-zero value: the input's
// non-zero map, zero-padded, ORed over each window along rows and then along columns (plain
// loops over whole rows, which the compiler vectorises). rows: scratch.
void ConvDensePlan::inked_map(const float* x, uint8_t* inked, std::vector<uint8_t>& rows) const {
  const Conv2dDims& d = d_;
  const int oh = d.out_h(), ow = d.out_w(), hp = d.h + 2 * d.pad, wp = d.w + 2 * d.pad;
  rows.assign(size_t(hp) * wp + size_t(hp) * ow, 0);
  uint8_t* nz = rows.data();               // (HP, WP)
  uint8_t* across = nz + size_t(hp) * wp;  // (HP, OW): OR over each window's columns
  for (int c = 0; c < d.c; ++c)
    for (int y = 0; y < d.h; ++y) {
      const float* in = x + (size_t(c) * d.h + y) * d.w;
      uint8_t* row = nz + size_t(y + d.pad) * wp + d.pad;
      for (int i = 0; i < d.w; ++i) row[i] |= in[i] != 0.0f;
    }
  for (int y = 0; y < hp; ++y) {
    const uint8_t* row = nz + size_t(y) * wp;
    uint8_t* out = across + size_t(y) * ow;
    for (int s = 0; s < d.s; ++s)
      if (d.stride == 1)
        for (int ox = 0; ox < ow; ++ox) out[ox] |= row[ox + s];
      else
        for (int ox = 0; ox < ow; ++ox) out[ox] |= row[ox * d.stride + s];
  }
  std::fill(inked, inked + size_t(oh) * ow, 0);
  for (int oy = 0; oy < oh; ++oy)
    for (int r = 0; r < d.r; ++r) {
      const uint8_t* row = across + size_t(oy * d.stride + r) * ow;
      uint8_t* out = inked + size_t(oy) * ow;
      for (int ox = 0; ox < ow; ++ox) out[ox] |= row[ox];
    }
}

void ConvDensePlan::logits_range(const float* x, int lo, int hi, float* logits) const {
  const int n = hi - lo, crs = crs_, out = out_, P = positions_, kp = kv_ * kLanes;
  const size_t image = size_t(d_.c) * d_.h * d_.w, ld = size_t(kp);
  std::vector<float> acc(size_t(n) * out * kLanes, 0.0f);  // (N, OUT, 8) lane sums
  // inked[q]: bit i set when window q of image i holds ink. Windows run outermost, so a
  // window's dense weights are read once for the whole batch and stay in L1 across its images.
  std::vector<uint64_t> inked(P, 0);
  std::vector<uint8_t> map(P), rows;
  for (int i = 0; i < n; ++i) {
    inked_map(x + size_t(lo + i) * image, map.data(), rows);
    for (int q = 0; q < P; ++q) inked[q] |= uint64_t(map[q]) << i;
  }
  std::vector<float> patch(crs);
  for (int q = 0; q < P; ++q) {
    const int* win = window_.data() + size_t(q) * crs;
    const float* dwq = dense_w_.data() + size_t(q) * out * kp;
    for (uint64_t m = inked[q]; m; m &= m - 1) {  // blank windows: relu(bias), in base_
      const int i = __builtin_ctzll(m);
      const float* xi = x + size_t(lo + i) * image;
      for (int j = 0; j < crs; ++j) patch[j] = win[j] >= 0 ? xi[win[j]] : 0.0f;
      float* ai = acc.data() + size_t(i) * out * kLanes;
      for (int v0 = 0; v0 < kv_; v0 += kMaxBlock) {
        const int nv = std::min(kMaxBlock, kv_ - v0);
        const size_t f = size_t(v0) * kLanes;
        window_add_for(nv)(patch.data(), crs, conv_w_.data() + f, conv_b_.data() + f,
                           blank_.data() + f, dwq + f, out, ld, ai);
      }
    }
  }
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < out; ++o)
      logits[size_t(lo + i) * out + o] =
          base_[o] + sum8(load8(acc.data() + (size_t(i) * out + o) * kLanes));
}

void ConvDensePlan::logits(const float* x, int n, float* logits) const {
  if (threads_ <= 1 || n <= kThreadChunk) {  // no OpenMP region at all: the server's case
    for (int lo = 0; lo < n; lo += kRangeMax)
      logits_range(x, lo, std::min(n, lo + kRangeMax), logits);
    return;
  }
  const int chunks = (n + kThreadChunk - 1) / kThreadChunk;
#pragma omp parallel for num_threads(threads_) schedule(dynamic)
  for (int c = 0; c < chunks; ++c)
    logits_range(x, c * kThreadChunk, std::min(n, (c + 1) * kThreadChunk), logits);
}

void ConvDensePlan::predict(const float* x, int n, float* probs) const {
  logits(x, n, probs);
  rows_->softmax_forward(n, out_, probs, probs);  // in place: each row is read before written
}

}  // namespace scrawl
