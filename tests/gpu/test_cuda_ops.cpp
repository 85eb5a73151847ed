// Every op of host/backend.h on the CUDA backend against the plain reference loops, on seeded
// inputs of several geometries; the convolutions once per path (custom kernels, cuDNN, auto).
// Tolerances (|gpu - ref| <= atol + rtol*|ref|, NaN/Inf fail) are stated at each check.
// Skipped with "no CUDA device: <why>" where no GPU answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gpu_test_util.h"

namespace scrawl {
namespace {

using gpu_test::all_close;
using gpu_test::random_vector;
using gpu_test::sum_tol;
using gpu_test::tied_vector;
using gpu_test::to_backend;
using gpu_test::to_host;

// Exact ops (selection, masking, copies) must match bit for bit.
constexpr double kExact = 0.0;

Conv2dDims conv(int n, int c, int h, int w, int k, int r, int pad, int stride) {
  Conv2dDims d;
  d.n = n;
  d.c = c;
  d.h = h;
  d.w = w;
  d.k = k;
  d.r = d.s = r;
  d.pad = pad;
  d.stride = stride;
  return d;
}

// Geometries chosen to reach every code path of cuda/conv2d.cu and a range of cuDNN algos.
std::vector<Conv2dDims> conv_cases() {
  return {
      conv(32, 1, 28, 28, 64, 3, 0, 1),  // the seed network's layer; split filter reduction
      conv(64, 1, 28, 28, 8, 3, 0, 1),   // K*C tiny, N*OH*OW large: many splits
      conv(2, 4, 9, 11, 5, 3, 1, 1),     // 'same' padding, non-square, K not a multiple of 8
      conv(5, 3, 10, 10, 6, 5, 2, 2),    // stride 2, 5x5 taps
      conv(1, 2, 7, 7, 3, 1, 0, 1),      // 1x1
      conv(2, 9, 8, 8, 17, 7, 3, 1),     // C and K past one group of 8, 7x7 taps
      conv(1, 3, 12, 12, 4, 9, 4, 2),    // 9x9: the generic filter-gradient kernel
      conv(3, 32, 12, 12, 64, 3, 0, 1),  // the default network's third layer, smaller batch
  };
}

class CudaConv : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaConv, ForwardAndBothBackwardPassesMatchReference) {
  SCRAWL_CUDA_OR_SKIP(be, GetParam());
  auto ref = reference_backend_create();
  uint64_t seed = 100;
  for (const Conv2dDims& d : conv_cases()) {
    SCOPED_TRACE(::testing::Message() << GetParam() << " x(" << d.n << "," << d.c << "," << d.h
                                      << "," << d.w << ") w(" << d.k << "," << d.c << "," << d.r
                                      << "," << d.s << ") pad " << d.pad << " stride " << d.stride);
    const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * d.r * d.s;
    const size_t ys = size_t(d.n) * d.k * d.out_h() * d.out_w();
    const auto x = random_vector(xs, ++seed), w = random_vector(ws, ++seed);
    const auto b = random_vector(d.k, ++seed), dy = random_vector(ys, ++seed);

    std::vector<float> y(ys), dx(xs), dw(ws), db(d.k), y_relu(ys);
    ref->conv2d_forward(d, x.data(), w.data(), b.data(), y.data());
    ref->relu_forward(ys, y.data(), y_relu.data());
    ref->conv2d_backward_data(d, dy.data(), w.data(), dx.data());
    ref->conv2d_backward_filter(d, x.data(), dy.data(), dw.data(), db.data());

    Buffer gx = to_backend(*be, x), gw = to_backend(*be, w), gb = to_backend(*be, b);
    Buffer gdy = to_backend(*be, dy);
    Buffer gy(*be, ys), gdx(*be, xs), gdw(*be, ws), gdb(*be, d.k);
    // Poison the outputs: every pass must overwrite, never accumulate.
    be->fill(gy.data(), 7.0f, ys);
    be->fill(gdx.data(), 7.0f, xs);
    be->fill(gdw.data(), 7.0f, ws);
    be->fill(gdb.data(), 7.0f, d.k);

    // Forward and backward data sum C*R*S (resp. K*R*S) products per output.
    be->conv2d_forward(d, gx.data(), gw.data(), gb.data(), gy.data());
    const auto tf = sum_tol(size_t(d.c) * d.r * d.s);
    EXPECT_TRUE(all_close(y, to_host(*be, gy), tf.atol, tf.rtol)) << "forward";

    auto* ext = dynamic_cast<CudaExtensions*>(be.get());
    ASSERT_NE(ext, nullptr);
    ext->conv2d_forward_relu(d, gx.data(), gw.data(), gb.data(), gy.data());
    EXPECT_TRUE(all_close(y_relu, to_host(*be, gy), tf.atol, tf.rtol)) << "forward + relu";

    be->conv2d_backward_data(d, gdy.data(), gw.data(), gdx.data());
    const auto td = sum_tol(size_t(d.k) * d.r * d.s);
    EXPECT_TRUE(all_close(dx, to_host(*be, gdx), td.atol, td.rtol)) << "backward data";

    // The filter and bias gradients sum over N*OH*OW positions.
    be->conv2d_backward_filter(d, gx.data(), gdy.data(), gdw.data(), gdb.data());
    const auto tw = sum_tol(size_t(d.n) * d.out_h() * d.out_w());
    EXPECT_TRUE(all_close(dw, to_host(*be, gdw), tw.atol, tw.rtol)) << "backward filter";
    EXPECT_TRUE(all_close(db, to_host(*be, gdb), tw.atol, tw.rtol)) << "backward bias";

    // The bias gradient is optional.
    be->conv2d_backward_filter(d, gx.data(), gdy.data(), gdw.data(), nullptr);
    EXPECT_TRUE(all_close(dw, to_host(*be, gdw), tw.atol, tw.rtol)) << "filter, no bias";
  }
  if (GetParam() == "auto") {
    const std::string report = gpu_test::ext(*be).conv_report();
    EXPECT_NE(report.find("->"), std::string::npos) << "auto must have timed both paths";
    std::printf("%s", report.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, CudaConv, ::testing::Values("custom", "cudnn", "auto"),
                         [](const auto& info) { return info.param; });

TEST(CudaOps, DenseMatchesReference) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  struct Case {
    int n, in, out;
  };
  // The seed network's dense layer (43264 -> 10), the default's two, and odd small shapes.
  const Case cases[] = {{32, 43264, 10}, {64, 1024, 256}, {64, 256, 10}, {1, 17, 5}, {7, 64, 33}};
  uint64_t seed = 200;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " in " << c.in << " out " << c.out);
    const auto x = random_vector(size_t(c.n) * c.in, ++seed);
    const auto w = random_vector(size_t(c.out) * c.in, ++seed);
    const auto b = random_vector(c.out, ++seed), dy = random_vector(size_t(c.n) * c.out, ++seed);
    std::vector<float> y(size_t(c.n) * c.out), y_relu(y.size()), dx(size_t(c.n) * c.in),
        dw(w.size()), db(c.out);
    ref->dense_forward(c.n, c.in, c.out, x.data(), w.data(), b.data(), y.data());
    ref->relu_forward(y.size(), y.data(), y_relu.data());
    ref->dense_backward_data(c.n, c.in, c.out, dy.data(), w.data(), dx.data());
    ref->dense_backward_params(c.n, c.in, c.out, x.data(), dy.data(), dw.data(), db.data());

    Buffer gx = to_backend(*be, x), gw = to_backend(*be, w), gb = to_backend(*be, b);
    Buffer gdy = to_backend(*be, dy);
    Buffer gy(*be, y.size()), gdx(*be, dx.size()), gdw(*be, dw.size()), gdb(*be, db.size());
    be->fill(gy.data(), 7.0f, y.size());
    be->fill(gdx.data(), 7.0f, dx.size());

    be->dense_forward(c.n, c.in, c.out, gx.data(), gw.data(), gb.data(), gy.data());
    const auto tf = sum_tol(c.in);
    EXPECT_TRUE(all_close(y, to_host(*be, gy), tf.atol, tf.rtol)) << "forward";
    gpu_test::ext(*be).dense_forward_relu(c.n, c.in, c.out, gx.data(), gw.data(), gb.data(),
                                          gy.data());
    EXPECT_TRUE(all_close(y_relu, to_host(*be, gy), tf.atol, tf.rtol)) << "forward + relu";

    be->dense_backward_data(c.n, c.in, c.out, gdy.data(), gw.data(), gdx.data());
    const auto td = sum_tol(c.out);
    EXPECT_TRUE(all_close(dx, to_host(*be, gdx), td.atol, td.rtol)) << "backward data";

    be->dense_backward_params(c.n, c.in, c.out, gx.data(), gdy.data(), gdw.data(), gdb.data());
    const auto tp = sum_tol(c.n);
    EXPECT_TRUE(all_close(dw, to_host(*be, gdw), tp.atol, tp.rtol)) << "backward weights";
    EXPECT_TRUE(all_close(db, to_host(*be, gdb), tp.atol, tp.rtol)) << "backward bias";
  }
}

TEST(CudaOps, ReluMatchesReferenceExactlyAndInPlace) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  for (size_t count : {size_t(1), size_t(1000), size_t(1) << 20 | 3}) {
    auto x = tied_vector(count, count);  // many exact zeros: the y > 0 edge
    const auto dy = random_vector(count, count + 1);
    std::vector<float> y(count), dx(count);
    ref->relu_forward(count, x.data(), y.data());
    ref->relu_backward(count, y.data(), dy.data(), dx.data());

    Buffer gx = to_backend(*be, x), gy(*be, count), gdy = to_backend(*be, dy), gdx(*be, count);
    be->relu_forward(count, gx.data(), gy.data());
    EXPECT_TRUE(all_close(y, to_host(*be, gy), kExact, kExact)) << count;
    be->relu_backward(count, gy.data(), gdy.data(), gdx.data());
    EXPECT_TRUE(all_close(dx, to_host(*be, gdx), kExact, kExact)) << count;
    // In place, as the network runs ReLU layers: x == y, then dy == dx.
    be->relu_forward(count, gx.data(), gx.data());
    EXPECT_TRUE(all_close(y, to_host(*be, gx), kExact, kExact)) << count;
    be->relu_backward(count, gx.data(), gdy.data(), gdy.data());
    EXPECT_TRUE(all_close(dx, to_host(*be, gdy), kExact, kExact)) << count;
  }
}

TEST(CudaOps, MaxPoolMatchesReferenceWithTies) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  struct Case {
    int n, c, h, w, size, stride;
  };
  // 2x2/2 as in the default network; odd sizes that leave rows uncovered; overlapping 3/2.
  const Case cases[] = {
      {32, 32, 24, 24, 2, 2}, {2, 3, 7, 9, 2, 2}, {1, 2, 9, 7, 3, 2}, {3, 4, 8, 8, 3, 1}};
  uint64_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.n << "x" << c.c << "x" << c.h << "x" << c.w << " size "
                                      << c.size << " stride " << c.stride);
    Pool2dDims d;
    d.n = c.n;
    d.c = c.c;
    d.h = c.h;
    d.w = c.w;
    d.size = c.size;
    d.stride = c.stride;
    const size_t xs = size_t(d.n) * d.c * d.h * d.w, ys = size_t(d.n) * d.c * d.out_h() * d.out_w();
    const auto x = tied_vector(xs, ++seed), dy = random_vector(ys, ++seed);
    std::vector<float> y(ys), dx(xs);
    ref->maxpool_forward(d, x.data(), y.data());
    ref->maxpool_backward(d, x.data(), dy.data(), dx.data());

    Buffer gx = to_backend(*be, x), gdy = to_backend(*be, dy), gy(*be, ys), gdx(*be, xs);
    be->fill(gdx.data(), 7.0f, xs);
    be->maxpool_forward(d, gx.data(), gy.data());
    EXPECT_TRUE(all_close(y, to_host(*be, gy), kExact, kExact)) << "forward";
    be->maxpool_backward(d, gx.data(), gdy.data(), gdx.data());
    // Overlapping windows may send two dy to one element; both sides add them in window order.
    EXPECT_TRUE(all_close(dx, to_host(*be, gdx), kExact, kExact)) << "backward";
  }
}

TEST(CudaOps, DropoutMaskIsTheSharedHash) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  for (float rate : {0.0f, 0.25f, 0.5f, 0.9f, 1.0f})
    for (size_t count : {size_t(1), size_t(4097), size_t(1) << 20 | 5})
      for (uint64_t seed : {uint64_t(0), uint64_t(12345), ~uint64_t(0)}) {
        SCOPED_TRACE(::testing::Message()
                     << "rate " << rate << " count " << count << " seed " << seed);
        const auto x = random_vector(count, count + seed);
        std::vector<float> y(count);
        ref->dropout_forward(count, rate, seed, x.data(), y.data());
        Buffer gx = to_backend(*be, x), gy(*be, count);
        be->dropout_forward(count, rate, seed, gx.data(), gy.data());
        // Same hash, same float scale: bit-identical.
        EXPECT_TRUE(all_close(y, to_host(*be, gy), kExact, kExact));
        be->dropout_forward(count, rate, seed, gx.data(), gx.data());  // in place (backward)
        EXPECT_TRUE(all_close(y, to_host(*be, gx), kExact, kExact)) << "in place";
      }
}

TEST(CudaOps, SoftmaxMatchesReference) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  struct Case {
    int n, classes;
  };
  // 10 classes as in MNIST; more classes than a warp has lanes; a single class.
  const Case cases[] = {{1, 10}, {37, 10}, {1000, 10}, {5, 100}, {3, 1}};
  uint64_t seed = 400;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " classes " << c.classes);
    const auto z = random_vector(size_t(c.n) * c.classes, ++seed, -8.0f, 8.0f);
    std::vector<float> p(z.size());
    ref->softmax_forward(c.n, c.classes, z.data(), p.data());
    Buffer gz = to_backend(*be, z), gp(*be, p.size());
    be->softmax_forward(c.n, c.classes, gz.data(), gp.data());
    // Probabilities in [0, 1]: exp and division differ by a few ulps.
    EXPECT_TRUE(all_close(p, to_host(*be, gp), 1e-6, 1e-5));
  }
}

TEST(CudaOps, SoftmaxCrossEntropyMatchesReferenceAndAccumulatesStats) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  struct Case {
    int n, classes;
  };
  const Case cases[] = {{32, 10}, {1000, 10}, {7, 45}, {1, 10}};
  uint64_t seed = 500;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " classes " << c.classes);
    auto z = random_vector(size_t(c.n) * c.classes, ++seed, -6.0f, 6.0f);
    // Row 0 all equal (argmax tie: class 0 wins), row 1 ties between two classes.
    std::fill(z.begin(), z.begin() + c.classes, 0.5f);
    if (c.n > 1 && c.classes > 3) z[c.classes + 1] = z[c.classes + 3] = 9.0f;
    std::vector<float> labels(c.n);
    std::mt19937_64 rng(++seed);
    for (auto& l : labels) l = static_cast<float>(rng() % c.classes);
    if (c.n > 1 && c.classes > 3) labels[1] = 1.0f;  // the tie's first class: a hit
    for (int i = 2; i < c.n; i += 5) labels[size_t(i)] = -1.0f;  // outliers: uniform targets

    std::vector<float> g(z.size()), stats = {1.5f, 2.0f};
    ref->softmax_xent(c.n, c.classes, z.data(), labels.data(), g.data(), stats.data());
    ref->softmax_xent(c.n, c.classes, z.data(), labels.data(), g.data(), stats.data());

    Buffer gz = to_backend(*be, z), gl = to_backend(*be, labels), gg(*be, g.size());
    Buffer gs = to_backend(*be, {1.5f, 2.0f});
    be->softmax_xent(c.n, c.classes, gz.data(), gl.data(), gg.data(), gs.data());
    be->softmax_xent(c.n, c.classes, gz.data(), gl.data(), gg.data(), gs.data());
    // Gradients are (p - onehot) / N: a few ulps of p, scaled down by N.
    EXPECT_TRUE(all_close(g, to_host(*be, gg), 1e-6, 1e-5)) << "dlogits";
    const auto s = to_host(*be, gs);
    // Loss sums: the reference adds 2N per-row losses (each up to ~12) one by one in float.
    EXPECT_TRUE(all_close({stats[0]}, {s[0]}, 1e-5 * 2 * c.n, 1e-5)) << "loss sum";
    EXPECT_EQ(stats[1], s[1]) << "correct count";
  }
}

TEST(CudaOps, SoftmaxCrossEntropyBadLabelGivesNaNLoss) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  const std::vector<float> z = random_vector(2 * 10, 7), labels = {3.0f, 10.0f};
  Buffer gz = to_backend(*be, z), gl = to_backend(*be, labels), gg(*be, z.size());
  Buffer gs(*be, 2);
  be->softmax_xent(2, 10, gz.data(), gl.data(), gg.data(), gs.data());
  EXPECT_TRUE(std::isnan(to_host(*be, gs)[0])) << "a label outside [0, classes) must not pass";
}

TEST(CudaOps, AdamMatchesReferenceOverSeveralSteps) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  auto ref = reference_backend_create();
  // Sizes around the float4 path's edges; offset 1 makes the block misaligned (scalar path).
  for (size_t count : {size_t(1), size_t(3), size_t(1000), size_t(4097), size_t(651466)})
    for (size_t offset : {size_t(0), size_t(1)}) {
      SCOPED_TRACE(::testing::Message() << "count " << count << " offset " << offset);
      std::vector<float> p = random_vector(count, count), m(count, 0.0f), v(count, 0.0f);
      Buffer gp(*be, count + offset), gm(*be, count + offset), gv(*be, count + offset);
      be->upload(gp.data() + offset, p.data(), count);
      for (int64_t t = 1; t <= 5; ++t) {
        auto g = random_vector(count, count * 10 + t, -0.1f, 0.1f);
        if (count > 2) g[1] = 0.0f;  // a zero gradient: v stays tiny, eps matters
        AdamStep step;
        step.lr = 1e-3f * float(t);
        step.t = t;
        ref->adam_update(count, p.data(), g.data(), m.data(), v.data(), step);
        Buffer gg = to_backend(*be, g);
        be->adam_update(count, gp.data() + offset, gg.data(), gm.data() + offset,
                        gv.data() + offset, step);
      }
      // Element-wise arithmetic in the reference's order; nvcc may fuse a*b+c into an FMA.
      EXPECT_TRUE(all_close(p, to_host(*be, gp.data() + offset, count), 1e-6, 1e-5)) << "param";
      EXPECT_TRUE(all_close(m, to_host(*be, gm.data() + offset, count), 1e-7, 1e-5)) << "m";
      EXPECT_TRUE(all_close(v, to_host(*be, gv.data() + offset, count), 1e-9, 1e-5)) << "v";
    }
}

TEST(CudaOps, MemoryOpsRoundTrip) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  const size_t count = (size_t(1) << 20) + 17;
  Buffer a(*be, count), b(*be, count);
  EXPECT_TRUE(all_close(std::vector<float>(count, 0.0f), to_host(*be, a), kExact, kExact))
      << "allocate() zero-initialises";
  const auto x = random_vector(count, 9);
  be->upload(a.data(), x.data(), count);
  be->copy(b.data(), a.data(), count);
  EXPECT_TRUE(all_close(x, to_host(*be, b), kExact, kExact)) << "upload + copy + download";
  be->fill(b.data() + 5, -2.5f, 10);
  auto expect = x;
  std::fill(expect.begin() + 5, expect.begin() + 15, -2.5f);
  EXPECT_TRUE(all_close(expect, to_host(*be, b), kExact, kExact)) << "fill";
  be->synchronize();
}

TEST(CudaOps, GatherRowsCutsBatchesFromADeviceDataset) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  const size_t rows = 1000, row_len = 784, batch = 96;
  const auto data = random_vector(rows * row_len, 11);
  std::vector<float> idx(batch);
  std::mt19937_64 rng(12);
  for (auto& i : idx) i = static_cast<float>(rng() % rows);
  idx[0] = 0.0f;
  idx[1] = float(rows - 1);
  std::vector<float> expect(batch * row_len);
  for (size_t r = 0; r < batch; ++r)
    std::copy_n(data.begin() + size_t(idx[r]) * row_len, row_len, expect.begin() + r * row_len);
  Buffer gd = to_backend(*be, data), gi = to_backend(*be, idx), out(*be, batch * row_len);
  gpu_test::ext(*be).gather_rows(batch, row_len, gd.data(), gi.data(), out.data());
  EXPECT_TRUE(all_close(expect, to_host(*be, out), kExact, kExact));
}

}  // namespace
}  // namespace scrawl
