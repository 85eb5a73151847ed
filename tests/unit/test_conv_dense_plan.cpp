// ConvDensePlan (the fused, background-skipping seed-network pass) against the layer-by-layer
// Network::forward on ReferenceBackend, on digit-like, blank, dense and edge-only images, for
// the seed geometry and for padded, strided, multi-channel and odd-width ones.
// Tolerance: atol 1e-4, rtol 1e-4 on logits (float sums in another order), 1e-5 on probabilities.
#include <gtest/gtest.h>

#include <random>

#include "host/conv_dense_plan.h"
#include "host/cpu_backend.h"
#include "test_util.h"

namespace scrawl {
namespace {

using nlohmann::json;
using test::all_close;

json conv_dense_arch(std::vector<int> input, json conv, int units) {
  conv["type"] = "conv2d";
  conv["activation"] = "relu";
  return {{"name", "t"},
          {"input", input},
          {"layers",
           {conv,
            {{"type", "flatten"}},
            {{"type", "dense"}, {"units", units}, {"activation", "softmax"}}}}};
}

// Glorot weights; biases drawn so that about half the filters are live on a blank window
// (relu(bias) > 0), which is what the plan's precomputed base must account for.
void params_randomise(Network& net, uint64_t seed) {
  net.init_glorot(seed);
  std::vector<float> p = net.params_to_host();
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<float> bias(-0.3f, 0.3f);
  for (const ParamSpec& s : net.params())
    if (s.shape.size() == 1)
      for (size_t i = 0; i < s.size(); ++i) p[s.offset + i] = bias(rng);
  net.params_from_host(p);
}

// n images (C, H, W): digit-like (blank background, a few strokes of ink in [0.2, 1]), one
// blank, one dense (noise everywhere, negative values too), one inked only along its border.
std::vector<float> images_make(int n, const ActShape& in, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> ink(0.2f, 1.0f), any(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ry(0, in.h - 1), rx(0, in.w - 1);
  std::vector<float> x(size_t(n) * in.size(), 0.0f);
  for (int i = 0; i < n; ++i) {
    float* img = x.data() + size_t(i) * in.size();
    const int kind = i % 4;
    if (kind == 1) continue;  // blank
    if (kind == 2) {
      for (size_t j = 0; j < in.size(); ++j) img[j] = any(rng);
      continue;
    }
    if (kind == 3) {
      for (int c = 0; c < in.c; ++c)
        for (int y = 0; y < in.h; ++y)
          for (int xx = 0; xx < in.w; ++xx)
            if (y == 0 || xx == 0 || y == in.h - 1 || xx == in.w - 1)
              img[(size_t(c) * in.h + y) * in.w + xx] = ink(rng);
      continue;
    }
    for (int stroke = 0; stroke < 3; ++stroke) {
      int y = ry(rng), xx = rx(rng);
      const int c = int(rng() % unsigned(in.c));
      for (int step = 0; step < 8; ++step) {
        img[(size_t(c) * in.h + y) * in.w + xx] = ink(rng);
        y = std::clamp(y + int(rng() % 3) - 1, 0, in.h - 1);
        xx = std::clamp(xx + int(rng() % 3) - 1, 0, in.w - 1);
      }
    }
  }
  return x;
}

void expect_plan_matches(const json& arch, const std::vector<int>& batches, int threads) {
  std::unique_ptr<Backend> ref = reference_backend_create();
  Network net(arch, *ref);
  params_randomise(net, 11);
  std::unique_ptr<ConvDensePlan> plan = ConvDensePlan::create(net, threads);
  ASSERT_NE(plan, nullptr) << arch.dump();
  ASSERT_EQ(plan->outputs(), net.classes());
  for (int n : batches) {
    const std::vector<float> x = images_make(n, net.input_shape(), 100 + n);
    const size_t k = size_t(n) * net.classes();
    const float* want = net.forward(n, x.data(), false);
    const std::vector<float> logits_ref(want, want + k);
    std::vector<float> logits(k), probs_ref(k), probs(k);
    plan->logits(x.data(), n, logits.data());
    EXPECT_TRUE(all_close(logits_ref, logits, 1e-4f, 1e-4f)) << "batch " << n << " " << arch.dump();
    net.predict(x.data(), n, probs_ref.data());
    plan->predict(x.data(), n, probs.data());
    EXPECT_TRUE(all_close(probs_ref, probs, 1e-5f, 1e-4f)) << "batch " << n;
  }
}

TEST(ConvDensePlan, SeedNetworkMatchesReference) {
  const json arch = Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/seed.json");
  expect_plan_matches(arch, {1, 4, 37}, 1);
  expect_plan_matches(arch, {40}, 2);  // several OpenMP chunks
}

TEST(ConvDensePlan, OtherGeometriesMatchReference) {
  // Odd filter counts (a partial vector), more than 64 filters (two register blocks), 'same'
  // padding (windows over the border), stride 2, two input channels, odd output counts.
  expect_plan_matches(
      conv_dense_arch({1, 12, 10}, {{"filters", 13}, {"kernel", 3}, {"padding", "same"}}, 7),
      {1, 6}, 1);
  expect_plan_matches(
      conv_dense_arch({2, 11, 9}, {{"filters", 72}, {"kernel", 5}, {"stride", 2}}, 3), {5}, 1);
  expect_plan_matches(conv_dense_arch({1, 8, 8}, {{"filters", 8}, {"kernel", 1}}, 10), {3}, 1);
}

TEST(ConvDensePlan, OnlyForConvReluFlattenDense) {
  std::unique_ptr<Backend> ref = reference_backend_create();
  auto plan_for = [&](const json& arch) {
    Network net(arch, *ref);
    return ConvDensePlan::create(net) != nullptr;
  };
  EXPECT_TRUE(
      plan_for(Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/seed.json")));
  EXPECT_FALSE(
      plan_for(Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/default.json")));
  json no_relu = conv_dense_arch({1, 8, 8}, {{"filters", 4}, {"kernel", 3}}, 10);
  no_relu["layers"][0].erase("activation");  // a linear conv: blank windows give the bias
  EXPECT_FALSE(plan_for(no_relu));
  json two_dense = conv_dense_arch({1, 8, 8}, {{"filters", 4}, {"kernel", 3}}, 10);
  two_dense["layers"].insert(two_dense["layers"].begin() + 2,
                             json{{"type", "dense"}, {"units", 6}, {"activation", "relu"}});
  EXPECT_FALSE(plan_for(two_dense));
}

}  // namespace
}  // namespace scrawl
