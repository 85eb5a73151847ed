// The CUDA backend's machinery beyond single ops: device detection and the CPU fallback
// (runs everywhere, never skipped), CUDA Graph replay against eager steps, pinned
// double-buffered uploads on the copy stream, no cudaMalloc inside a training loop, and
// error reporting. GPU parts skip with "no CUDA device: <why>" where no GPU answers.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gpu_test_util.h"

namespace scrawl {
namespace {

using gpu_test::all_close;
using gpu_test::ext;
using gpu_test::random_vector;
using gpu_test::to_backend;
using gpu_test::to_host;

// ---- device detection: the part of this suite that always runs ----

TEST(CudaDevice, AutoSaysWhichBackendAndWhy) {
  std::string why;
  auto be = backend_create("auto", &why);
  ASSERT_NE(be, nullptr);
  EXPECT_FALSE(why.empty());
  std::printf("--device auto: %s\n", why.c_str());
  if (be->kind() == BackendKind::Cuda) {
    EXPECT_NE(dynamic_cast<CudaExtensions*>(be.get()), nullptr);
    return;
  }
  // No GPU here (or no CUDA in this build): auto chose the CPU, and asking for the GPU
  // outright must fail with a typed error that says why, not crash.
  EXPECT_EQ(be->kind(), BackendKind::Cpu);
  try {
    backend_create("cuda");
    ADD_FAILURE() << "--device cuda succeeded although auto chose the CPU";
  } catch (const UnavailableError& e) {
    const std::string msg = e.what();
    std::printf("asking for --device cuda: %s\n", msg.c_str());
    EXPECT_GT(msg.size(), std::string("--device cuda: ").size()) << "the reason is missing";
  }
}

// ---- a miniature training step built from backend ops, for graph and memory tests ----
//   x (N,1,12,12) -> conv 4x3x3 + relu -> dropout 0.3 -> dense 400->10 -> softmax xent
struct MiniNet {
  static constexpr int kN = 16, kClasses = 10;
  Conv2dDims conv;
  int flat = 0;
  size_t w1 = 0, b1 = 0, w2 = 0, b2 = 0, params = 0;  // offsets in the parameter block
  Buffer p, g, m, v, x, labels, a1, a1_drop, logits, dlogits, da1, stats;

  explicit MiniNet(Backend& be) {
    conv.n = kN;
    conv.c = 1;
    conv.h = conv.w = 12;
    conv.k = 4;
    conv.r = conv.s = 3;
    flat = conv.k * conv.out_h() * conv.out_w();
    w1 = 0;
    b1 = w1 + size_t(conv.k) * conv.c * conv.r * conv.s;
    w2 = b1 + conv.k;
    b2 = w2 + size_t(kClasses) * flat;
    params = b2 + kClasses;
    p = to_backend(be, random_vector(params, 1, -0.2f, 0.2f));
    g = Buffer(be, params);
    m = Buffer(be, params);
    v = Buffer(be, params);
    x = to_backend(be, random_vector(size_t(kN) * 144, 2, 0.0f, 1.0f));
    std::vector<float> l(kN);
    for (int i = 0; i < kN; ++i) l[i] = float(i % kClasses);
    labels = to_backend(be, l);
    a1 = Buffer(be, size_t(kN) * flat);
    a1_drop = Buffer(be, size_t(kN) * flat);
    logits = Buffer(be, size_t(kN) * kClasses);
    dlogits = Buffer(be, size_t(kN) * kClasses);
    da1 = Buffer(be, size_t(kN) * flat);
    stats = Buffer(be, 2);
  }

  // One optimisation step, queued on `be` with no host synchronisation.
  void step(Backend& be, uint64_t seed, int64_t t) {
    float* P = p.data();
    float* G = g.data();
    const size_t acts = size_t(kN) * flat;
    be.conv2d_forward(conv, x.data(), P + w1, P + b1, a1.data());
    be.relu_forward(acts, a1.data(), a1.data());
    be.dropout_forward(acts, 0.3f, seed, a1.data(), a1_drop.data());
    be.dense_forward(kN, flat, kClasses, a1_drop.data(), P + w2, P + b2, logits.data());
    be.softmax_xent(kN, kClasses, logits.data(), labels.data(), dlogits.data(), stats.data());
    be.dense_backward_params(kN, flat, kClasses, a1_drop.data(), dlogits.data(), G + w2, G + b2);
    be.dense_backward_data(kN, flat, kClasses, dlogits.data(), P + w2, da1.data());
    be.dropout_forward(acts, 0.3f, seed, da1.data(), da1.data());
    be.relu_backward(acts, a1.data(), da1.data(), da1.data());
    be.conv2d_backward_filter(conv, x.data(), da1.data(), G + w1, G + b1);
    AdamStep s;
    s.lr = 1e-2f;
    s.t = t;
    be.adam_update(params, P, G, m.data(), v.data(), s);
  }
};

TEST(CudaGraph, ReplayMatchesEagerSteps) {
  // Custom kernels on both sides: "auto" could time differently on two backends.
  SCRAWL_CUDA_OR_SKIP(eager, "custom");
  SCRAWL_CUDA_OR_SKIP(graphed, "custom");
  MiniNet a(*eager), b(*graphed);
  const uint64_t seed0 = 1000;
  for (int64_t t = 1; t <= 4; ++t) a.step(*eager, seed0 + t, t);

  CudaExtensions& gx = ext(*graphed);
  b.step(*graphed, seed0 + 1, 1);  // eager first: sizes workspaces, picks cuDNN plans
  ASSERT_TRUE(gx.graph_begin());
  b.step(*graphed, seed0 + 2, 2);  // recorded, not run
  const int graph = gx.graph_end();
  const size_t mallocs = gx.device_malloc_calls();
  for (int64_t t = 2; t <= 4; ++t) {
    AdamStep s;
    s.lr = 1e-2f;
    s.t = t;
    gx.graph_replay(graph, uint64_t(t - 2), s);  // seeds seed0 + t, as the eager steps used
  }
  EXPECT_EQ(gx.device_malloc_calls(), mallocs) << "a replay must not allocate";

  // Same kernels in the same order on the same data: equal up to last-bit noise.
  EXPECT_TRUE(all_close(to_host(*eager, a.p), to_host(*graphed, b.p), 1e-6, 1e-6)) << "params";
  EXPECT_TRUE(all_close(to_host(*eager, a.m), to_host(*graphed, b.m), 1e-7, 1e-6)) << "m";
  EXPECT_TRUE(all_close(to_host(*eager, a.stats), to_host(*graphed, b.stats), 1e-5, 1e-6))
      << "loss and accuracy stats";
  gx.graph_reset();
}

TEST(CudaGraph, CaptureRefusesAllocationAndRecovers) {
  SCRAWL_CUDA_OR_SKIP(be, "custom");
  CudaExtensions& x = ext(*be);
  ASSERT_TRUE(x.graph_begin());
  EXPECT_THROW(be->allocate(16), Error);
  EXPECT_THROW(be->synchronize(), Error);
  x.graph_reset();  // abandons the capture
  Buffer b(*be, 16);
  be->fill(b.data(), 3.0f, 16);
  EXPECT_TRUE(all_close(std::vector<float>(16, 3.0f), to_host(*be, b), 0.0, 0.0));
}

TEST(CudaMemory, NoDeviceAllocationInsideTheTrainingLoop) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  MiniNet net(*be);
  net.step(*be, 1, 1);  // first step: workspaces, auto-tuning, cuDNN plans
  const size_t mallocs = ext(*be).device_malloc_calls();
  const size_t reserved = ext(*be).device_bytes_reserved();
  for (int64_t t = 2; t <= 50; ++t) net.step(*be, t, t);
  be->synchronize();
  EXPECT_EQ(ext(*be).device_malloc_calls(), mallocs);
  EXPECT_EQ(ext(*be).device_bytes_reserved(), reserved);
}

TEST(CudaMemory, ReleasedBlocksAreReused) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  { Buffer warm(*be, 1000); }
  const size_t mallocs = ext(*be).device_malloc_calls();
  for (int i = 0; i < 100; ++i) {
    Buffer a(*be, 1000), b(*be, 5000);  // released at the end of every iteration
    be->fill(a.data(), 1.0f, 1000);
  }
  EXPECT_EQ(ext(*be).device_malloc_calls(), mallocs);
}

// The double-buffered loader's pattern: fill pinned slot s, upload_async into device slot s
// before queuing the step that uses the other slot, join before the step that reads it.
// Each step copies its batch into a results array; any ordering bug shows as wrong rows.
TEST(CudaStreams, PinnedDoubleBufferedUploadsArriveInOrder) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  CudaExtensions& x = ext(*be);
  const size_t len = 1 << 16;
  const int batches = 24;
  float* pinned[2] = {x.host_allocate(len), x.host_allocate(len)};
  Buffer slot[2] = {Buffer(*be, len), Buffer(*be, len)};
  Buffer results(*be, len * batches), scratch(*be, len);
  uint64_t fence[2] = {0, 0};
  auto batch_value = [](int b, size_t i) { return float(b) * 1000.0f + float(i % 997); };
  auto stage = [&](int b) {
    const int s = b % 2;
    x.upload_fence_wait(fence[s]);  // the previous copy from this pinned slot is done
    for (size_t i = 0; i < len; ++i) pinned[s][i] = batch_value(b, i);
    fence[s] = x.upload_async(slot[s].data(), pinned[s], len);
  };
  stage(0);
  for (int b = 0; b < batches; ++b) {
    if (b + 1 < batches) stage(b + 1);  // overlaps step b
    x.upload_join(fence[b % 2]);
    // "Compute" on the batch: some real work, then keep a copy of what it saw.
    be->relu_forward(len, slot[b % 2].data(), scratch.data());
    be->copy(results.data() + size_t(b) * len, slot[b % 2].data(), len);
  }
  const auto got = to_host(*be, results);
  std::vector<float> expect(len * batches);
  for (int b = 0; b < batches; ++b)
    for (size_t i = 0; i < len; ++i) expect[size_t(b) * len + i] = batch_value(b, i);
  EXPECT_TRUE(all_close(expect, got, 0.0, 0.0));
  x.host_release(pinned[0]);
  x.host_release(pinned[1]);
}

TEST(CudaErrors, FailuresNameTheCallFileAndLine) {
  SCRAWL_CUDA_OR_SKIP(be, "auto");
  try {
    be->allocate(size_t(1) << 46);  // 256 TiB: cudaMalloc fails, without a sticky error
    ADD_FAILURE() << "allocating 256 TiB succeeded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cudaMalloc"), std::string::npos) << msg;
    EXPECT_NE(msg.find("memory.cpp:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cudaErrorMemoryAllocation"), std::string::npos) << msg;
  }
  EXPECT_THROW(ext(*be).set_conv_algo("fastest"), Error);
  Conv2dDims bad;
  bad.n = 1;
  bad.c = 1;
  bad.h = bad.w = 2;
  bad.k = 1;
  bad.r = bad.s = 3;  // larger than the input with no padding
  EXPECT_THROW(be->conv2d_forward(bad, nullptr, nullptr, nullptr, nullptr), Error);
  // The backend still works afterwards.
  Buffer b(*be, 4);
  be->fill(b.data(), 1.0f, 4);
  EXPECT_TRUE(all_close(std::vector<float>(4, 1.0f), to_host(*be, b), 0.0, 0.0));
}

}  // namespace
}  // namespace scrawl
