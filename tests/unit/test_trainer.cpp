// The trainer's two data paths (batches staged from the host, or the whole set on the backend
// and gathered by index) give the same training, step for step; seeded runs repeat exactly;
// and bad options are refused.
#include <gtest/gtest.h>

#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/network.h"
#include "host/trainer.h"

namespace scrawl {
namespace {

using nlohmann::json;

// 300 28x28 images: a bar whose column encodes the label, with a little per-image noise.
Dataset striped(int count) {
  Dataset d;
  d.count = count;
  d.rows = d.cols = 28;
  d.images.assign(size_t(count) * 784, 0);
  d.labels.resize(count);
  for (int i = 0; i < count; ++i) {
    const int label = i % 10;
    d.labels[i] = static_cast<uint8_t>(label);
    for (int r = 4; r < 24; ++r) d.images[size_t(i) * 784 + r * 28 + 3 + 2 * label] = 255;
    d.images[size_t(i) * 784 + (i * 7) % 784] = 128;
  }
  return d;
}

json small_arch() {
  return json::parse(R"({"name": "t", "input": [1, 28, 28], "layers": [
    {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "activation": "relu"},
    {"type": "maxpool", "size": 2}, {"type": "flatten"}, {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 10, "activation": "softmax"}]})");
}

std::vector<float> train_params(TrainOptions::Placement placement, std::vector<EpochReport>* out,
                                bool* on_device) {
  auto be = cpu_backend_create(2);
  Network net(small_arch(), *be);
  net.init_glorot(3);
  TrainOptions opt;
  opt.epochs = 6;
  opt.lr = 1e-2f;
  opt.batch = 32;  // 300 = 9 full batches and a short one
  opt.progress = false;
  opt.placement = placement;
  Trainer trainer(net, opt);
  const Dataset d = striped(300);
  *out = trainer.fit(d, &d);
  *on_device = trainer.used_device_data();
  return net.params_to_host();
}

TEST(Trainer, HostStagedAndDeviceResidentDataTrainIdentically) {
  std::vector<EpochReport> host_reports, device_reports;
  bool host_on_device = true, device_on_device = false;
  const auto a = train_params(TrainOptions::Placement::Host, &host_reports, &host_on_device);
  const auto b = train_params(TrainOptions::Placement::Device, &device_reports, &device_on_device);
  EXPECT_FALSE(host_on_device);
  EXPECT_TRUE(device_on_device);
  EXPECT_EQ(a, b);
  ASSERT_EQ(host_reports.size(), 6u);
  EXPECT_EQ(host_reports[5].loss, device_reports[5].loss);
  // And it learned: far above the 10% of chance after six short epochs (it reaches 76%).
  EXPECT_LT(host_reports[5].loss, host_reports[0].loss);
  EXPECT_GT(host_reports[5].test_accuracy, 0.6);
}

TEST(Trainer, RefusesBadOptions) {
  auto be = cpu_backend_create(2);
  Network net(small_arch(), *be);
  TrainOptions opt;
  opt.epochs = 0;
  EXPECT_THROW(Trainer(net, opt), Error);
  opt.epochs = 1;
  opt.lr = -1.0f;
  EXPECT_THROW(Trainer(net, opt), Error);
  opt.lr = 1e-3f;
  opt.augment.enabled = true;
  opt.placement = TrainOptions::Placement::Device;
  Trainer t(net, opt);
  const Dataset d = striped(40);
  EXPECT_THROW(t.fit(d, nullptr), Error);  // augmentation runs on the host
  EXPECT_THROW(placement_parse("gpu"), Error);
}

TEST(Evaluate, AnyClassCountAndLabelsOutsideItRefused) {
  // A 12-class network (as the pair reader has 100): its confusion matrix is 12 x 12.
  json arch = small_arch();
  arch["layers"].back()["units"] = 12;
  auto backend = cpu_backend_create(1);
  Network net(arch, *backend);
  net.init_glorot(5);
  Dataset d = striped(40);
  for (int i = 0; i < d.count; ++i) d.labels[size_t(i)] = uint8_t(i % 12);
  const EvalResult r = evaluate(net, d, 16);
  ASSERT_EQ(r.confusion.size(), 12u);
  int total = 0, right = 0;
  for (size_t t = 0; t < 12; ++t) {
    ASSERT_EQ(r.confusion[t].size(), 12u);
    for (size_t p = 0; p < 12; ++p) total += r.confusion[t][p];
    right += r.confusion[t][t];
  }
  EXPECT_EQ(total, 40);
  EXPECT_DOUBLE_EQ(r.accuracy, right / 40.0);
  EXPECT_THROW(evaluate(net, d, 16, true), Error);  // a second look reads 10-class digits
  d.labels[7] = 12;  // no such class
  EXPECT_THROW(evaluate(net, d, 16), Error);
}

}  // namespace
}  // namespace scrawl
