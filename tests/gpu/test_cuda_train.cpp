// End to end: 100 seeded training steps of the real networks (models/seed.json and
// models/default.json, dropout and pooling included) through Network and Trainer, on the
// CUDA backend (custom kernels, then cuDNN) and on the CPU, from the same initial weights and
// batches. The losses must agree to the tolerance stated below. Skipped with the reason
// where no GPU answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "host/network.h"
#include "host/trainer.h"

namespace scrawl {
namespace {

constexpr int kSteps = 100, kBatch = 32, kProbe = 256, kPixels = 28 * 28;

// Synthetic digits: ten fixed random stroke prototypes, each sample its class's prototype
// with noise and a one-pixel jitter. Learnable in 100 steps, needs no MNIST download.
struct Synthetic {
  std::vector<float> prototypes = std::vector<float>(10 * kPixels);
  Synthetic() {
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto& p : prototypes) p = u(rng) < 0.2f ? 1.0f : 0.0f;
  }
  // Sample `index` (any integer): deterministic.
  void sample(uint64_t index, float* image, float* label) const {
    std::mt19937_64 rng(index * 7919 + 17);
    const int cls = static_cast<int>(rng() % 10);
    const int shift = static_cast<int>(rng() % 3) - 1;
    std::normal_distribution<float> noise(0.0f, 0.15f);
    for (int i = 0; i < kPixels; ++i) {
      const int col = i % 28 + shift;
      const float base = col >= 0 && col < 28 ? prototypes[cls * kPixels + i - i % 28 + col] : 0.0f;
      image[i] = std::min(1.0f, std::max(0.0f, base + noise(rng)));
    }
    *label = static_cast<float>(cls);
  }
};

struct RunResult {
  double loss_before = 0, loss_after = 0;  // mean cross-entropy on the probe set
  std::vector<int> predictions;            // argmax on the probe set after training
};

double probe_loss(Network& net, const std::vector<float>& x, const std::vector<float>& labels,
                  std::vector<int>* predictions) {
  std::vector<float> probs(size_t(kProbe) * 10);
  net.predict(x.data(), kProbe, probs.data());
  double loss = 0;
  if (predictions) predictions->assign(kProbe, 0);
  for (int i = 0; i < kProbe; ++i) {
    const float* p = probs.data() + size_t(i) * 10;
    loss -= std::log(std::max(double(p[int(labels[i])]), 1e-12));
    if (predictions) (*predictions)[i] = int(std::max_element(p, p + 10) - p);
  }
  return loss / kProbe;
}

RunResult train(Backend& be, const std::string& arch_file) {
  static const Synthetic data;
  // SCRAWL_SOURCE_DIR in the environment overrides the build's source folder, so the binary also
  // runs from a bundle copied to another machine (profiling/gpu_bundle.sh).
  const char* root = std::getenv("SCRAWL_SOURCE_DIR");
  const auto arch = Network::arch_from_file(std::string(root && *root ? root : SCRAWL_SOURCE_DIR) +
                                            "/" + arch_file);
  Network net(arch, be);
  net.init_glorot(42);
  TrainOptions opt;
  opt.batch = kBatch;
  opt.lr = 1e-3f;
  opt.seed = 5;
  opt.progress = false;
  Trainer trainer(net, opt);

  std::vector<float> probe_x(size_t(kProbe) * kPixels), probe_y(kProbe);
  for (int i = 0; i < kProbe; ++i)
    data.sample(1'000'000 + i, probe_x.data() + size_t(i) * kPixels, &probe_y[i]);

  RunResult r;
  r.loss_before = probe_loss(net, probe_x, probe_y, nullptr);
  std::vector<float> hx(size_t(kBatch) * kPixels), hl(kBatch);
  Buffer dx(be, hx.size()), dl(be, hl.size());
  for (int s = 0; s < kSteps; ++s) {
    for (int i = 0; i < kBatch; ++i)
      data.sample(uint64_t(s) * kBatch + i, hx.data() + size_t(i) * kPixels, &hl[i]);
    be.upload(dx.data(), hx.data(), hx.size());
    be.upload(dl.data(), hl.data(), hl.size());
    trainer.step(kBatch, dx.data(), dl.data(), opt.lr);
  }
  r.loss_after = probe_loss(net, probe_x, probe_y, &r.predictions);
  return r;
}

// The CPU fast path's result per architecture, computed once.
const RunResult& cpu_result(const std::string& arch_file) {
  static std::map<std::string, RunResult> cache;
  auto it = cache.find(arch_file);
  if (it == cache.end()) {
    auto cpu = cpu_backend_create();
    it = cache.emplace(arch_file, train(*cpu, arch_file)).first;
  }
  return it->second;
}

struct Case {
  std::string arch, conv_algo;
};

class CudaTraining : public ::testing::TestWithParam<Case> {};

TEST_P(CudaTraining, HundredStepsEndWithTheCpuLoss) {
  SCRAWL_CUDA_OR_SKIP(gpu, GetParam().conv_algo);
  const RunResult g = train(*gpu, GetParam().arch);
  const RunResult& c = cpu_result(GetParam().arch);
  std::printf("%s on %s: probe loss %.5f -> %.5f (cpu %.5f -> %.5f)\n", GetParam().arch.c_str(),
              GetParam().conv_algo.c_str(), g.loss_before, g.loss_after, c.loss_before,
              c.loss_after);
  // Same weights, same data, same dropout masks: before training only float summation order
  // differs, so the losses agree closely.
  EXPECT_NEAR(g.loss_before, c.loss_before, 1e-4 + 1e-4 * c.loss_before);
  // After 100 Adam steps rounding differences have been amplified by m / sqrt(v) for
  // near-zero gradients; the loss must still agree within 2% (+0.005 absolute) ...
  EXPECT_NEAR(g.loss_after, c.loss_after, 5e-3 + 2e-2 * c.loss_after);
  // ... training must have worked on both ...
  EXPECT_LT(g.loss_after, 0.7 * g.loss_before);
  // ... and the two models must classify the probe set alike (>= 97% the same answers).
  int same = 0;
  for (int i = 0; i < kProbe; ++i) same += g.predictions[i] == c.predictions[i];
  EXPECT_GE(same, kProbe * 97 / 100);
}

INSTANTIATE_TEST_SUITE_P(
    Models, CudaTraining,
    ::testing::Values(Case{"models/seed.json", "custom"}, Case{"models/seed.json", "cudnn"},
                      Case{"models/default.json", "custom"}, Case{"models/default.json", "cudnn"}),
    [](const auto& info) {
      const std::string arch =
          info.param.arch.find("seed") != std::string::npos ? "seed" : "default";
      return arch + "_" + info.param.conv_algo;
    });

}  // namespace
}  // namespace scrawl
