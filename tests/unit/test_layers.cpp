// Layers through the Network: forward on CpuBackend vs ReferenceBackend for every layer type,
// the whole backward pass against central finite differences of the loss, and clear errors
// for bad architectures.
#include <gtest/gtest.h>

#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/network.h"
#include "test_util.h"

namespace scrawl {
namespace {

using nlohmann::json;
using test::all_close;
using test::random_vector;

// Every layer type, with padding, stride, pooling, dropout and two dense layers.
json every_layer_arch() {
  return json::parse(R"({
    "name": "every-layer", "input": [1, 10, 10],
    "layers": [
      {"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
      {"type": "conv2d", "filters": 5, "kernel": 3, "stride": 2},
      {"type": "relu"},
      {"type": "maxpool", "size": 2},
      {"type": "dropout", "rate": 0.3},
      {"type": "flatten"},
      {"type": "dense", "units": 8, "activation": "relu"},
      {"type": "dense", "units": 10, "activation": "softmax"}
    ]})");
}

TEST(Network, ShapesAndParameterNames) {
  auto be = reference_backend_create();
  Network net(every_layer_arch(), *be);
  // conv same 10x10 -> relu -> conv stride 2 -> 4x4 -> relu -> pool 2x2 -> dropout -> 20 -> 8 -> 10
  ASSERT_EQ(net.layers().size(), 10u);
  EXPECT_EQ(net.layers()[2]->output_shape(), (ActShape{5, 4, 4}));
  EXPECT_EQ(net.layers()[4]->output_shape(), (ActShape{5, 2, 2}));
  EXPECT_EQ(net.classes(), 10);
  ASSERT_EQ(net.params().size(), 8u);
  EXPECT_EQ(net.params()[0].name, "conv2d_0.weight");
  EXPECT_EQ(net.params()[0].shape, (std::vector<int>{4, 1, 3, 3}));
  EXPECT_EQ(net.param_count(), size_t(4 * 9 + 4 + 5 * 36 + 5 + 8 * 20 + 8 + 10 * 8 + 10));
}

TEST(Network, SeedArchitectureIsTheReportsNetwork) {
  auto be = reference_backend_create();
  Network net(Network::arch_from_file(std::string(SCRAWL_SOURCE_DIR) + "/models/seed.json"), *be);
  // Conv2D(64, 3x3) -> Flatten -> Dense(10): 640 + 43264*10 + 10 parameters, as in Keras.
  EXPECT_EQ(net.param_count(), size_t(64 * 9 + 64 + 26 * 26 * 64 * 10 + 10));
}

TEST(Network, GlorotInitIsSeededAndBounded) {
  auto be = reference_backend_create();
  Network a(every_layer_arch(), *be), b(every_layer_arch(), *be);
  a.init_glorot(5);
  b.init_glorot(5);
  const auto pa = a.params_to_host(), pb = b.params_to_host();
  EXPECT_EQ(pa, pb);
  b.init_glorot(6);
  EXPECT_NE(pa, b.params_to_host());
  for (const ParamSpec& s : a.params()) {
    const double limit = s.fan_in ? std::sqrt(6.0 / (s.fan_in + s.fan_out)) : 0.0;
    for (size_t i = 0; i < s.size(); ++i) EXPECT_LE(std::fabs(pa[s.offset + i]), limit + 1e-7);
  }
}

TEST(Network, ForwardOfEveryLayerMatchesReference) {
  auto ref = reference_backend_create();
  auto cpu = cpu_backend_create(2);
  Network a(every_layer_arch(), *ref), b(every_layer_arch(), *cpu);
  a.init_glorot(3);
  b.params_from_host(a.params_to_host());
  const int n = 6;
  const auto x = random_vector(n * 100, 4, 0.0f, 1.0f);
  for (bool train : {false, true}) {
    const float* ya = a.forward(n, x.data(), train, 77);
    const float* yb = b.forward(n, x.data(), train, 77);
    std::vector<float> va(ya, ya + n * 10), vb(yb, yb + n * 10);
    EXPECT_TRUE(all_close(va, vb, 1e-5f, 1e-4f)) << (train ? "train" : "eval");
  }
}

// Loss of the network on a fixed batch, in training mode with a fixed dropout seed.
double network_loss(Network& net, const std::vector<float>& x, const std::vector<float>& labels,
                    uint64_t seed) {
  const int n = static_cast<int>(labels.size());
  net.forward(n, x.data(), true, seed);
  std::vector<float> stats(2, 0.0f);
  net.backward(n, x.data(), labels.data(), stats.data(), seed);
  return stats[0] / n;
}

TEST(Network, BackwardMatchesNumericalGradients) {
  auto be = reference_backend_create();
  Network net(every_layer_arch(), *be);
  net.init_glorot(11);
  const int n = 3;
  const auto x = random_vector(n * 100, 12, 0.0f, 1.0f);
  const std::vector<float> labels = {1, 7, 4};
  const uint64_t seed = 1234;
  network_loss(net, x, labels, seed);
  const std::vector<float> grad(net.grad_data(), net.grad_data() + net.param_count());
  std::vector<float> params = net.params_to_host();
  int checked = 0, skipped = 0;
  for (size_t i = 0; i < params.size(); i += 3) {
    const float keep = params[i];
    auto central = [&](float eps) {
      params[i] = keep + eps;
      net.params_from_host(params);
      const double up = network_loss(net, x, labels, seed);
      params[i] = keep - eps;
      net.params_from_host(params);
      const double down = network_loss(net, x, labels, seed);
      params[i] = keep;
      return (up - down) / (2.0 * eps);
    };
    const double g1 = central(2e-3f), g2 = central(1e-3f);
    // Where the two step sizes disagree a ReLU or pooling kink lies within the step: skip it.
    if (std::fabs(g1 - g2) > 1e-3 + 0.05 * std::fabs(g1)) {
      ++skipped;
      continue;
    }
    EXPECT_NEAR(g2, grad[i], 2e-3 + 2e-2 * std::fabs(g2)) << "parameter index " << i;
    ++checked;
  }
  net.params_from_host(params);
  EXPECT_GT(checked, 100);
  EXPECT_LT(skipped, checked / 10) << "too many kinks: the check would not mean much";
}

TEST(Network, RejectsBadArchitecturesClearly) {
  auto be = reference_backend_create();
  auto expect_error = [&](const char* text, const char* fragment) {
    try {
      Network net(json::parse(text), *be);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"layers": []})", "non-empty");
  expect_error(R"({"layers": [{"type": "lstm"}]})", "unknown layer type 'lstm'");
  expect_error(R"({"layers": [{"type": "conv2d", "kernel": 3}]})", "'filters' is required");
  expect_error(R"({"layers": [{"type": "conv2d", "filters": 4, "kernel": 40}]})", "outside");
  expect_error(R"({"input": [1, 5, 5], "layers": [{"type": "conv2d", "filters": 4, "kernel": 7}]})", "larger");
  expect_error(R"({"layers": [{"type": "dense", "units": 10, "activation": "tanh"}]})", "tanh");
  expect_error(R"({"layers": [{"type": "dense", "units": 5, "activation": "softmax"}, {"type": "relu"}]})",
               "last layer");
  expect_error(R"({"layers": [{"type": "dropout", "rate": 1.5}]})", "rate");
  expect_error(R"({"input": [1, 28], "layers": [{"type": "flatten"}]})", "[C, H, W]");
}

TEST(Network, TrainDefaultsReadThePenShareAndRejectOneOutOfRange) {
  auto be = reference_backend_create();
  const char* layers = R"("layers": [{"type": "flatten"}, {"type": "dense", "units": 10}])";
  Network plain(json::parse(std::string("{") + layers + "}"), *be);
  EXPECT_EQ(plain.train_defaults().pen, 0.0f);  // absent: no samples re-inked
  Network pen(json::parse(std::string("{") + layers + R"(, "train": {"pen": 0.3}})"), *be);
  EXPECT_FLOAT_EQ(pen.train_defaults().pen, 0.3f);
  Network bad(json::parse(std::string("{") + layers + R"(, "train": {"pen": 1.5}})"), *be);
  try {
    bad.train_defaults();
    ADD_FAILURE() << "accepted train.pen 1.5";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("train.pen"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace scrawl
