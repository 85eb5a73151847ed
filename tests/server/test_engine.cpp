// The inference engine the server runs: on the CPU it serves the seed network through the fused
// background-skipping plan (host/conv_dense_plan.h) and every other network layer by layer; both
// must answer what Network::predict on ReferenceBackend answers for the same model file.
// Tolerance: 1e-5 absolute, 1e-4 relative on probabilities.
#include <gtest/gtest.h>

#include <random>

#include "host/cpu_backend.h"
#include "host/model_file.h"
#include "host/network.h"
#include "server/inference.h"

namespace scrawl::test {
namespace {

// Digit-like crops: blank paper with a few random strokes of ink, as preprocessing leaves them.
std::vector<float> crops_make(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> ink(0.3f, 1.0f);
  std::vector<float> x(size_t(n) * 784, 0.0f);
  for (int i = 0; i < n; ++i)
    for (int stroke = 0; stroke < 4; ++stroke) {
      int y = 4 + int(rng() % 20), c = 4 + int(rng() % 20);
      for (int step = 0; step < 12; ++step) {
        x[size_t(i) * 784 + y * 28 + c] = ink(rng);
        y = std::clamp(y + int(rng() % 3) - 1, 0, 27);
        c = std::clamp(c + int(rng() % 3) - 1, 0, 27);
      }
    }
  return x;
}

void expect_engine_matches(const char* arch_name) {
  std::unique_ptr<Backend> ref = reference_backend_create();
  Network net(
      Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/" + arch_name + ".json"),
      *ref);
  net.init_glorot(3);
  std::vector<float> p = net.params_to_host();
  for (const ParamSpec& s : net.params())  // biases on both sides of zero
    if (s.shape.size() == 1)
      for (size_t i = 0; i < s.size(); ++i) p[s.offset + i] = 0.05f * float(int(i % 9) - 4);
  net.params_from_host(p);
  const ModelFile file = model_file_from_network(net, nlohmann::json::object());
  auto engine = server::network_engine_create(file, arch_name, "cpu", nullptr, 1);
  ASSERT_EQ(engine->device(), "cpu");
  for (int n : {1, 23, 70}) {
    const std::vector<float> x = crops_make(n, 40 + n);
    std::vector<float> want(size_t(n) * 10), got(size_t(n) * 10);
    net.predict(x.data(), n, want.data());
    engine->infer(x.data(), n, got.data());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-4 * std::abs(want[i]))
          << arch_name << " batch " << n << " value " << i;
  }
}

TEST(NetworkEngine, SeedNetworkOnCpuMatchesReference) { expect_engine_matches("seed"); }
TEST(NetworkEngine, DefaultNetworkOnCpuMatchesReference) { expect_engine_matches("default"); }

}  // namespace
}  // namespace scrawl::test
