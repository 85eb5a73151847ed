// CpuBackend against ReferenceBackend, op by op, on seeded random inputs of several shapes;
// and the reference ops' gradients against central finite differences.
// Tolerance: atol 1e-4, rtol 1e-4 (float32 sums reordered by BLAS).
#include <gtest/gtest.h>

#include <numeric>

#include "host/cpu_backend.h"
#include "host/dropout_hash.h"
#include "test_util.h"

namespace scrawl {
namespace {

using test::all_close;
using test::random_vector;

constexpr float kAtol = 1e-4f, kRtol = 1e-4f;

struct Pair {
  std::unique_ptr<Backend> ref = reference_backend_create();
  std::unique_ptr<Backend> cpu = cpu_backend_create(2);
};

std::vector<Conv2dDims> conv_cases() {
  std::vector<Conv2dDims> out;
  auto add = [&](int n, int c, int h, int w, int k, int r, int pad, int stride) {
    Conv2dDims d;
    d.n = n; d.c = c; d.h = h; d.w = w; d.k = k; d.r = d.s = r; d.pad = pad; d.stride = stride;
    out.push_back(d);
  };
  add(3, 1, 28, 28, 8, 3, 0, 1);   // the seed network's first layer, narrower
  add(2, 4, 9, 11, 5, 3, 1, 1);    // 'same' padding, non-square
  add(5, 3, 10, 10, 6, 5, 2, 2);   // stride 2
  add(1, 2, 7, 7, 3, 1, 0, 1);     // 1x1
  return out;
}

TEST(CpuBackend, Conv2dMatchesReference) {
  Pair p;
  for (const Conv2dDims& d : conv_cases()) {
    const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * d.r * d.s;
    const size_t ys = size_t(d.n) * d.k * d.out_h() * d.out_w();
    const auto x = random_vector(xs, 1), w = random_vector(ws, 2), b = random_vector(d.k, 3);
    const auto dy = random_vector(ys, 4);
    std::vector<float> y1(ys), y2(ys), dx1(xs), dx2(xs), dw1(ws), dw2(ws), db1(d.k), db2(d.k);
    p.ref->conv2d_forward(d, x.data(), w.data(), b.data(), y1.data());
    p.cpu->conv2d_forward(d, x.data(), w.data(), b.data(), y2.data());
    EXPECT_TRUE(all_close(y1, y2, kAtol, kRtol)) << "forward";
    p.ref->conv2d_backward_data(d, dy.data(), w.data(), dx1.data());
    p.cpu->conv2d_backward_data(d, dy.data(), w.data(), dx2.data());
    EXPECT_TRUE(all_close(dx1, dx2, kAtol, kRtol)) << "backward data";
    p.ref->conv2d_backward_filter(d, x.data(), dy.data(), dw1.data(), db1.data());
    p.cpu->conv2d_backward_filter(d, x.data(), dy.data(), dw2.data(), db2.data());
    EXPECT_TRUE(all_close(dw1, dw2, kAtol, kRtol)) << "backward filter";
    EXPECT_TRUE(all_close(db1, db2, kAtol, kRtol)) << "backward bias";
  }
}

TEST(CpuBackend, DenseMatchesReference) {
  Pair p;
  for (auto [n, in, out] : {std::tuple{32, 300, 10}, std::tuple{1, 17, 5}, std::tuple{7, 64, 33}}) {
    const auto x = random_vector(size_t(n) * in, 5), w = random_vector(size_t(out) * in, 6);
    const auto b = random_vector(out, 7), dy = random_vector(size_t(n) * out, 8);
    std::vector<float> y1(n * out), y2(n * out), dx1(n * in), dx2(n * in), dw1(out * in),
        dw2(out * in), db1(out), db2(out);
    p.ref->dense_forward(n, in, out, x.data(), w.data(), b.data(), y1.data());
    p.cpu->dense_forward(n, in, out, x.data(), w.data(), b.data(), y2.data());
    EXPECT_TRUE(all_close(y1, y2, kAtol, kRtol));
    p.ref->dense_backward_data(n, in, out, dy.data(), w.data(), dx1.data());
    p.cpu->dense_backward_data(n, in, out, dy.data(), w.data(), dx2.data());
    EXPECT_TRUE(all_close(dx1, dx2, kAtol, kRtol));
    p.ref->dense_backward_params(n, in, out, x.data(), dy.data(), dw1.data(), db1.data());
    p.cpu->dense_backward_params(n, in, out, x.data(), dy.data(), dw2.data(), db2.data());
    EXPECT_TRUE(all_close(dw1, dw2, kAtol, kRtol));
    EXPECT_TRUE(all_close(db1, db2, kAtol, kRtol));
  }
}

// The inference fast paths: the direct conv kernel (reduction <= 32) and the dense kernel for
// few outputs, at the seed and default networks' shapes and batch sizes the server uses,
// with the ReLU fused and without a bias; against the reference op followed by its ReLU.
TEST(CpuBackend, FusedInferenceMatchesReference) {
  Pair p;
  auto single = cpu_backend_create(1);
  auto conv = [](int n, int c, int hw, int k, int pad, int stride) {
    Conv2dDims d;
    d.n = n; d.c = c; d.h = d.w = hw; d.k = k; d.r = d.s = 3; d.pad = pad; d.stride = stride;
    return d;
  };
  const Conv2dDims convs[] = {
      conv(1, 1, 28, 64, 0, 1),  conv(17, 1, 28, 64, 0, 1),  // seed, P = 676 (tail of 4)
      conv(64, 1, 28, 32, 0, 1),                             // default's first layer
      conv(3, 1, 12, 7, 0, 1),                               // K % 4 = 3, P = 100
      conv(2, 3, 9, 6, 1, 2),                                // padding and stride, CRS = 27
      conv(2, 2, 6, 5, 1, 1),                                // P = 36: one-vector tile
      conv(2, 32, 12, 64, 0, 1), conv(3, 64, 10, 64, 0, 1),  // default's later layers (SGEMM)
  };
  for (const Conv2dDims& d : convs) {
    const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * d.r * d.s;
    const size_t ys = size_t(d.n) * d.k * d.out_h() * d.out_w();
    const auto x = random_vector(xs, 60), w = random_vector(ws, 61), b = random_vector(d.k, 62);
    for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(ys), ref_relu(ys), got(ys, -9.0f), got_relu(ys, -9.0f), got1(ys);
      p.ref->conv2d_forward(d, x.data(), w.data(), bias, ref.data());
      p.ref->relu_forward(ys, ref.data(), ref_relu.data());
      p.cpu->conv2d_forward(d, x.data(), w.data(), bias, got.data());
      p.cpu->conv2d_forward_relu(d, x.data(), w.data(), bias, got_relu.data());
      single->conv2d_forward_relu(d, x.data(), w.data(), bias, got1.data());
      const std::string what = "conv n=" + std::to_string(d.n) + " c=" + std::to_string(d.c) +
                               " k=" + std::to_string(d.k) + (bias ? "" : " no bias");
      EXPECT_TRUE(all_close(ref, got, kAtol, kRtol)) << what;
      EXPECT_TRUE(all_close(ref_relu, got_relu, kAtol, kRtol)) << what << " relu";
      EXPECT_TRUE(all_close(ref_relu, got1, kAtol, kRtol)) << what << " relu, 1 thread";
    }
  }
  // (n, in, out): the seed's dense at batch 1, 17, 64; the default's last two; odd sizes.
  for (auto [n, in, out] : {std::tuple{1, 43264, 10}, std::tuple{17, 43264, 10},
                            std::tuple{64, 43264, 10}, std::tuple{64, 1024, 256},
                            std::tuple{33, 256, 10}, std::tuple{3, 1029, 16},
                            std::tuple{5, 7, 3}, std::tuple{2, 600, 17}}) {
    const auto x = random_vector(size_t(n) * in, 63), w = random_vector(size_t(out) * in, 64);
    const auto b = random_vector(out, 65);
    for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(n * out), ref_relu(n * out), got(n * out, -9.0f),
          got_relu(n * out, -9.0f), got1(n * out);
      p.ref->dense_forward(n, in, out, x.data(), w.data(), bias, ref.data());
      p.ref->relu_forward(ref.size(), ref.data(), ref_relu.data());
      p.cpu->dense_forward(n, in, out, x.data(), w.data(), bias, got.data());
      p.cpu->dense_forward_relu(n, in, out, x.data(), w.data(), bias, got_relu.data());
      single->dense_forward_relu(n, in, out, x.data(), w.data(), bias, got1.data());
      // Sums of 43264 products of size ~1 that cancel to ~1: the reference adds them in order,
      // the kernels in eight lanes, and the rounding differs by up to ~2e-4.
      const float atol = in > 10000 ? 1e-3f : kAtol;
      const std::string what = "dense n=" + std::to_string(n) + " in=" + std::to_string(in) +
                               " out=" + std::to_string(out) + (bias ? "" : " no bias");
      EXPECT_TRUE(all_close(ref, got, atol, kRtol)) << what;
      EXPECT_TRUE(all_close(ref_relu, got_relu, atol, kRtol)) << what << " relu";
      EXPECT_TRUE(all_close(ref_relu, got1, atol, kRtol)) << what << " relu, 1 thread";
    }
  }
}

TEST(CpuBackend, ElementwisePoolSoftmaxAdamMatchReference) {
  Pair p;
  const size_t n = 100000;
  const auto x = random_vector(n, 9), dy = random_vector(n, 10);
  std::vector<float> a(n), b(n), c(n), d(n);
  p.ref->relu_forward(n, x.data(), a.data());
  p.cpu->relu_forward(n, x.data(), b.data());
  EXPECT_EQ(a, b);
  p.ref->relu_backward(n, a.data(), dy.data(), c.data());
  p.cpu->relu_backward(n, b.data(), dy.data(), d.data());
  EXPECT_EQ(c, d);
  p.ref->dropout_forward(n, 0.3f, 42, x.data(), a.data());
  p.cpu->dropout_forward(n, 0.3f, 42, x.data(), b.data());
  EXPECT_EQ(a, b);

  Pool2dDims pd;
  pd.n = 3; pd.c = 4; pd.h = 9; pd.w = 8; pd.size = 2; pd.stride = 2;
  const size_t ps = size_t(pd.n) * pd.c * pd.h * pd.w, po = size_t(pd.n) * pd.c * 4 * 4;
  const auto px = random_vector(ps, 11), pdy = random_vector(po, 12);
  std::vector<float> y1(po), y2(po), dx1(ps), dx2(ps);
  p.ref->maxpool_forward(pd, px.data(), y1.data());
  p.cpu->maxpool_forward(pd, px.data(), y2.data());
  EXPECT_EQ(y1, y2);
  p.ref->maxpool_backward(pd, px.data(), pdy.data(), dx1.data());
  p.cpu->maxpool_backward(pd, px.data(), pdy.data(), dx2.data());
  EXPECT_EQ(dx1, dx2);

  const size_t pc = 5000;
  const auto param = random_vector(pc, 13), grad = random_vector(pc, 14);
  std::vector<float> p1 = param, p2 = param, m1(pc), m2(pc), v1(pc), v2(pc);
  for (int t = 1; t <= 3; ++t) {
    AdamStep s;
    s.t = t;
    p.ref->adam_update(pc, p1.data(), grad.data(), m1.data(), v1.data(), s);
    p.cpu->adam_update(pc, p2.data(), grad.data(), m2.data(), v2.data(), s);
  }
  EXPECT_TRUE(all_close(p1, p2, 1e-6f, 1e-6f));
  EXPECT_TRUE(all_close(v1, v2, 1e-7f, 1e-6f));
}

TEST(Dropout, MaskRateAndScale) {
  auto be = reference_backend_create();
  const size_t n = 200000;
  std::vector<float> x(n, 1.0f), y(n);
  be->dropout_forward(n, 0.25f, 7, x.data(), y.data());
  size_t kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || std::fabs(v - 1.0f / 0.75f) < 1e-6f);
    kept += v != 0.0f;
  }
  EXPECT_NEAR(double(kept) / n, 0.75, 0.005);
  // A different seed gives a different mask.
  std::vector<float> z(n);
  be->dropout_forward(n, 0.25f, 8, x.data(), z.data());
  EXPECT_NE(y, z);
}

// ---- numerical gradients of the reference ops (the specification must itself be right) ----

// Checks d(sum(g * f(x)))/dx from `analytic` against central differences of `f`.
template <typename F>
void check_gradient(std::vector<float> x, const std::vector<float>& g, const std::vector<float>& analytic,
                    F f, float eps, float tol, const char* what) {
  ASSERT_EQ(x.size(), analytic.size());
  int checked = 0;
  for (size_t i = 0; i < x.size(); i += 1 + x.size() / 97) {
    const float keep = x[i];
    x[i] = keep + eps;
    const std::vector<float> up = f(x);
    x[i] = keep - eps;
    const std::vector<float> down = f(x);
    x[i] = keep;
    double num = 0;
    for (size_t k = 0; k < g.size(); ++k) num += double(g[k]) * (double(up[k]) - double(down[k]));
    num /= 2.0 * eps;
    EXPECT_NEAR(num, analytic[i], tol * (1.0 + std::fabs(num))) << what << " at " << i;
    ++checked;
  }
  EXPECT_GE(checked, static_cast<int>(std::min<size_t>(x.size(), 10)));
}

TEST(ReferenceGradients, Conv2d) {
  auto be = reference_backend_create();
  Conv2dDims d;
  d.n = 2; d.c = 3; d.h = 7; d.w = 6; d.k = 4; d.r = d.s = 3; d.pad = 1; d.stride = 2;
  const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * 9;
  const size_t ys = size_t(d.n) * d.k * d.out_h() * d.out_w();
  const auto x = random_vector(xs, 20), w = random_vector(ws, 21), b = random_vector(d.k, 22);
  const auto g = random_vector(ys, 23);
  std::vector<float> dx(xs), dw(ws), db(d.k);
  be->conv2d_backward_data(d, g.data(), w.data(), dx.data());
  be->conv2d_backward_filter(d, x.data(), g.data(), dw.data(), db.data());
  auto y_of_x = [&](const std::vector<float>& xx) {
    std::vector<float> y(ys);
    be->conv2d_forward(d, xx.data(), w.data(), b.data(), y.data());
    return y;
  };
  auto y_of_w = [&](const std::vector<float>& ww) {
    std::vector<float> y(ys);
    be->conv2d_forward(d, x.data(), ww.data(), b.data(), y.data());
    return y;
  };
  auto y_of_b = [&](const std::vector<float>& bb) {
    std::vector<float> y(ys);
    be->conv2d_forward(d, x.data(), w.data(), bb.data(), y.data());
    return y;
  };
  check_gradient(x, g, dx, y_of_x, 1e-2f, 2e-3f, "conv dx");
  check_gradient(w, g, dw, y_of_w, 1e-2f, 2e-3f, "conv dw");
  check_gradient(b, g, db, y_of_b, 1e-2f, 2e-3f, "conv db");
}

TEST(ReferenceGradients, Dense) {
  auto be = reference_backend_create();
  const int n = 4, in = 13, out = 6;
  const auto x = random_vector(n * in, 30), w = random_vector(out * in, 31), b = random_vector(out, 32);
  const auto g = random_vector(n * out, 33);
  std::vector<float> dx(n * in), dw(out * in), db(out);
  be->dense_backward_data(n, in, out, g.data(), w.data(), dx.data());
  be->dense_backward_params(n, in, out, x.data(), g.data(), dw.data(), db.data());
  auto run = [&](const std::vector<float>& xx, const std::vector<float>& ww, const std::vector<float>& bb) {
    std::vector<float> y(n * out);
    be->dense_forward(n, in, out, xx.data(), ww.data(), bb.data(), y.data());
    return y;
  };
  check_gradient(x, g, dx, [&](const auto& v) { return run(v, w, b); }, 1e-2f, 2e-3f, "dense dx");
  check_gradient(w, g, dw, [&](const auto& v) { return run(x, v, b); }, 1e-2f, 2e-3f, "dense dw");
  check_gradient(b, g, db, [&](const auto& v) { return run(x, w, v); }, 1e-2f, 2e-3f, "dense db");
}

// Inputs that are a shuffled ladder of distinct values 0.05 apart, so a 1e-3 step never
// crosses a ReLU kink or changes a pooling window's winner.
std::vector<float> ladder(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (float(i) - float(n) / 2 + 0.5f) * 0.05f;
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return v;
}

TEST(ReferenceGradients, ReluMaxpoolDropout) {
  auto be = reference_backend_create();
  const size_t n = 240;
  const auto x = ladder(n, 40), g = random_vector(n, 41);
  std::vector<float> y(n), dx(n);
  be->relu_forward(n, x.data(), y.data());
  be->relu_backward(n, y.data(), g.data(), dx.data());
  check_gradient(x, g, dx, [&](const auto& v) {
    std::vector<float> out(n);
    be->relu_forward(n, v.data(), out.data());
    return out;
  }, 1e-3f, 1e-3f, "relu");

  Pool2dDims pd;
  pd.n = 2; pd.c = 3; pd.h = 5; pd.w = 8; pd.size = 2; pd.stride = 2;
  const size_t po = size_t(pd.n) * pd.c * pd.out_h() * pd.out_w();
  const auto gp = random_vector(po, 42);
  std::vector<float> pdx(n);
  be->maxpool_backward(pd, x.data(), gp.data(), pdx.data());
  check_gradient(x, gp, pdx, [&](const auto& v) {
    std::vector<float> out(po);
    be->maxpool_forward(pd, v.data(), out.data());
    return out;
  }, 1e-3f, 1e-3f, "maxpool");

  std::vector<float> ddx(n);
  be->dropout_forward(n, 0.4f, 99, g.data(), ddx.data());  // backward = the mask applied to g
  check_gradient(x, g, ddx, [&](const auto& v) {
    std::vector<float> out(n);
    be->dropout_forward(n, 0.4f, 99, v.data(), out.data());
    return out;
  }, 1e-3f, 1e-3f, "dropout");
}

TEST(ReferenceGradients, SoftmaxCrossEntropy) {
  auto be = reference_backend_create();
  const int n = 5, classes = 10;
  const auto z = random_vector(n * classes, 50, -3.0f, 3.0f);
  const std::vector<float> labels = {0, 3, 9, 3, 7};
  std::vector<float> dz(n * classes), stats(2, 0.0f);
  be->softmax_xent(n, classes, z.data(), labels.data(), dz.data(), stats.data());
  // The analytic gradient is of the mean loss; stats[0] is the summed loss.
  auto mean_loss = [&](const std::vector<float>& zz) {
    std::vector<float> tmp(n * classes), s(2, 0.0f);
    be->softmax_xent(n, classes, zz.data(), labels.data(), tmp.data(), s.data());
    return std::vector<float>{s[0] / n};
  };
  check_gradient(z, {1.0f}, dz, mean_loss, 1e-2f, 3e-3f, "softmax xent");
  // Probabilities sum to one, and the loss matches -log p[label].
  std::vector<float> p(n * classes);
  be->softmax_forward(n, classes, z.data(), p.data());
  double loss = 0;
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    for (int c = 0; c < classes; ++c) sum += p[i * classes + c];
    EXPECT_NEAR(sum, 1.0, 1e-5);
    loss -= std::log(p[i * classes + int(labels[i])]);
  }
  EXPECT_NEAR(stats[0], loss, 1e-4);
}

TEST(ReferenceGradients, SoftmaxCrossEntropyOutliers) {
  // A negative label is "not a digit": the target is uniform, so the loss is
  // -mean_c log p[c] and it is smallest when the model is unsure.
  for (auto& be : {reference_backend_create(), cpu_backend_create(2)}) {
    const int n = 4, classes = 10;
    auto z = random_vector(n * classes, 51, -3.0f, 3.0f);
    std::fill(z.begin() + 3 * classes, z.end(), 0.7f);  // row 3: flat logits, already uniform
    z[0] = 8.0f;                                         // row 0: confident in class 0
    const std::vector<float> labels = {-1, 2, -1, -1};
    std::vector<float> dz(n * classes), stats(2, 0.0f);
    be->softmax_xent(n, classes, z.data(), labels.data(), dz.data(), stats.data());
    auto mean_loss = [&](const std::vector<float>& zz) {
      std::vector<float> tmp(n * classes), s(2, 0.0f);
      be->softmax_xent(n, classes, zz.data(), labels.data(), tmp.data(), s.data());
      return std::vector<float>{s[0] / n};
    };
    check_gradient(z, {1.0f}, dz, mean_loss, 1e-2f, 3e-3f, "softmax xent outliers");
    std::vector<float> p(n * classes);
    be->softmax_forward(n, classes, z.data(), p.data());
    double loss = -std::log(p[1 * classes + 2]);
    for (int i : {0, 2, 3}) {
      for (int c = 0; c < classes; ++c) loss -= std::log(p[i * classes + c]) / classes;
    }
    EXPECT_NEAR(stats[0], loss, 1e-4);
    for (int c = 0; c < classes; ++c) EXPECT_NEAR(dz[3 * classes + c], 0.0f, 1e-7);  // at target
    // Hits: row 1 if its argmax is 2; an outlier row when no class reaches 0.5 (row 3, not 0).
    const auto arg1 = std::max_element(z.begin() + classes, z.begin() + 2 * classes) - z.begin();
    float hits = float(arg1 == classes + 2) + 1.0f;
    const float p2 = *std::max_element(p.begin() + 2 * classes, p.begin() + 3 * classes);
    hits += p2 < 0.5f ? 1.0f : 0.0f;
    EXPECT_EQ(stats[1], hits);
  }
}

TEST(Adam, MatchesHandComputedKerasSteps) {
  // One parameter, gradients 0.5 then -0.25, Keras defaults (lr 1e-3, 0.9, 0.999, 1e-7).
  for (auto& be : {reference_backend_create(), cpu_backend_create(2)}) {
    float p = 1.0f, m = 0.0f, v = 0.0f;
    AdamStep s;
    float g = 0.5f;
    s.t = 1;
    be->adam_update(1, &p, &g, &m, &v, s);
    // m = 0.05, v = 0.00025; alpha = 1e-3 * sqrt(0.001) / 0.1; p = 1 - alpha * m / (sqrt(v) + eps)
    const double a1 = 1e-3 * std::sqrt(1 - 0.999) / (1 - 0.9);
    const double p1 = 1.0 - a1 * 0.05 / (std::sqrt(0.00025) + 1e-7);
    EXPECT_NEAR(m, 0.05, 1e-7);
    EXPECT_NEAR(v, 0.00025, 1e-8);  // float32 (1 - 0.999) is off by 5e-6 relative
    EXPECT_NEAR(p, p1, 1e-7);
    g = -0.25f;
    s.t = 2;
    be->adam_update(1, &p, &g, &m, &v, s);
    const double m2 = 0.9 * 0.05 + 0.1 * -0.25, v2 = 0.999 * 0.00025 + 0.001 * 0.0625;
    const double a2 = 1e-3 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    EXPECT_NEAR(m, m2, 1e-7);
    EXPECT_NEAR(v, v2, 1e-8);
    EXPECT_NEAR(p, p1 - a2 * m2 / (std::sqrt(v2) + 1e-7), 1e-6);
  }
}

TEST(BackendSelect, AutoFallsBackToCpuAndSaysWhy) {
  std::string why;
  auto be = backend_create("auto", &why);
  ASSERT_TRUE(be);
  EXPECT_FALSE(why.empty());
  if (be->kind() == BackendKind::Cpu) {
    EXPECT_NE(why.find("auto"), std::string::npos) << why;
  }
  EXPECT_THROW(backend_create("tpu", &why), std::exception);
}

}  // namespace
}  // namespace scrawl
