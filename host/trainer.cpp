// Trainer and evaluate() (see trainer.h).
#include "host/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "host/error.h"
#include "host/vision/second_look.h"

namespace scrawl {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string format_eta(double s) {
  char buf[32];
  const int total = static_cast<int>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%d:%02d", total / 60, total % 60);
  return buf;
}

// One line on stderr, redrawn in place on a terminal; on a pipe or file, a line per quarter.
class ProgressBar {
 public:
  ProgressBar(bool enabled, int epoch, int epochs, int total)
      : enabled_(enabled), tty_(isatty(STDERR_FILENO)), epoch_(epoch), epochs_(epochs),
        total_(total), start_(Clock::now()) {}
  bool due(int done) {
    if (!enabled_) return false;
    if (tty_) return seconds_since(last_) > 0.1 || done == total_;
    return done * 4 / total_ != (done - 1) * 4 / total_;
  }
  void draw(int done, double loss, double acc) {
    last_ = Clock::now();
    const double elapsed = seconds_since(start_);
    const double eta = done > 0 ? elapsed * (total_ - done) / done : 0.0;
    const int width = 30, filled = width * done / total_;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%sepoch %d/%d [%s] %d/%d loss %.4f acc %.4f eta %s%s",
                 tty_ ? "\r" : "", epoch_, epochs_, bar.c_str(), done, total_, loss, acc,
                 format_eta(eta).c_str(), tty_ ? "\033[K" : "\n");
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_ && tty_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  }

 private:
  bool enabled_, tty_;
  int epoch_, epochs_, total_;
  Clock::time_point start_, last_{};
};

}  // namespace

void dataset_to_float(const Dataset& data, int first, int n, float* out) {
  const size_t sz = data.image_size();
  const uint8_t* src = data.images.data() + size_t(first) * sz;
  for (size_t i = 0; i < size_t(n) * sz; ++i) out[i] = src[i] * (1.0f / 255.0f);
}

Trainer::Trainer(Network& net, TrainOptions options)
    : net_(net), opt_(options),
      m_(net.backend(), net.param_count()),
      v_(net.backend(), net.param_count()),
      stats_(net.backend(), 2) {
  if (opt_.epochs < 1) throw Error("--epochs must be at least 1");
  if (opt_.batch < 1 || opt_.batch > 65536) throw Error("--batch must be in [1, 65536]");
  if (!(opt_.lr > 0.0f) || !std::isfinite(opt_.lr)) throw Error("--lr must be a positive number");
}

void Trainer::step(int n, const float* x, const float* labels, float lr) {
  BackendRange range(net_.backend(), "train_step");
  ++t_;
  const uint64_t seed = step_seed();
  net_.forward(n, x, true, seed);
  net_.backward(n, x, labels, stats_.data(), seed);
  AdamStep s;
  s.lr = lr;
  s.t = t_;
  net_.backend().adam_update(net_.param_count(), net_.param_data(), net_.grad_data(), m_.data(),
                             v_.data(), s);
}

void Trainer::step_slot(int n, int slot, float lr) {
  Backend& be = net_.backend();
  const bool full = n == opt_.batch;
  if (!opt_.graphs || !full) {
    step(n, x_[slot].data(), labels_[slot].data(), lr);
    return;
  }
  AdamStep s;
  s.lr = lr;
  if (graph_[slot] >= 0) {
    ++t_;
    s.t = t_;
    be.graph_replay(graph_[slot], step_seed() - graph_seed_[slot], s);
    ++replayed_;
    return;
  }
  // One eager step first sizes every workspace (cuBLAS, cuDNN's choice of algorithm); then
  // the next full step is recorded, and run by replaying the recording.
  if (eager_full_steps_ >= 1 && be.graph_begin()) {
    step(n, x_[slot].data(), labels_[slot].data(), lr);
    graph_[slot] = be.graph_end();
    graph_seed_[slot] = step_seed();
    s.t = t_;
    be.graph_replay(graph_[slot], 0, s);
    ++replayed_;
    return;
  }
  step(n, x_[slot].data(), labels_[slot].data(), lr);
  ++eager_full_steps_;
}

TrainOptions::Placement placement_parse(const std::string& s) {
  if (s == "auto") return TrainOptions::Placement::Auto;
  if (s == "host") return TrainOptions::Placement::Host;
  if (s == "device") return TrainOptions::Placement::Device;
  throw Error("data placement must be auto, host or device, not '" + s + "'");
}

namespace {

// Host staging buffer from the backend (pinned on a GPU), released on scope exit.
class Staging {
 public:
  Staging(Backend& be, size_t count) : be_(be), ptr_(be.host_allocate(count)) {}
  ~Staging() { be_.host_release(ptr_); }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  float* data() { return ptr_; }

 private:
  Backend& be_;
  float* ptr_;
};

}  // namespace

std::vector<EpochReport> Trainer::fit(const Dataset& train, const Dataset* test,
                                      const std::function<void(const EpochReport&)>& on_epoch) {
  const ActShape in = net_.input_shape();
  if (in.c != 1 || in.h != train.rows || in.w != train.cols)
    throw Error("the network expects " + std::to_string(in.c) + "x" + std::to_string(in.h) + "x" +
                std::to_string(in.w) + " inputs; the data is 1x" + std::to_string(train.rows) +
                "x" + std::to_string(train.cols));
  Backend& be = net_.backend();
  BatchLoader loader(train, opt_.batch, opt_.seed, opt_.augment);
  const size_t sz = train.image_size();
  const size_t batch = static_cast<size_t>(opt_.batch);

  bool on_device = opt_.placement == TrainOptions::Placement::Device;
  if (opt_.placement == TrainOptions::Placement::Auto)
    on_device = be.kind() == BackendKind::Cuda && !opt_.augment.enabled;
  if (on_device && opt_.augment.enabled)
    throw Error("the training set can only live on the device without augmentation "
                "(augmentation runs on the host); use --data-placement host");
  used_device_data_ = on_device;

  // The evaluation's batch is reserved up front too, so activation buffers never move
  // during fit() and a recorded step stays valid across epochs.
  net_.reserve(std::max(opt_.batch, test ? std::min(opt_.eval_batch, test->count) : 0));
  for (int s = 0; s < 2; ++s) {
    x_[s] = Buffer(be, batch * sz);
    labels_[s] = Buffer(be, batch);
  }
  Buffer all_x, all_labels, index[2];
  Staging stage_x0(be, on_device ? batch : batch * sz), stage_x1(be, on_device ? batch : batch * sz);
  Staging stage_l0(be, batch), stage_l1(be, batch);
  float* stage_x[2] = {stage_x0.data(), stage_x1.data()};
  float* stage_l[2] = {stage_l0.data(), stage_l1.data()};
  if (on_device) {
    // The whole set as floats once (MNIST: 188 MB), batches gathered by index on the device.
    std::vector<float> host(size_t(train.count) * sz), labels(train.count);
    dataset_to_float(train, 0, train.count, host.data());
    for (int i = 0; i < train.count; ++i) labels[i] = label_of(train.labels[i]);
    all_x = Buffer(be, host.size());
    all_labels = Buffer(be, labels.size());
    be.upload(all_x.data(), host.data(), host.size());
    be.upload(all_labels.data(), labels.data(), labels.size());
    for (int s = 0; s < 2; ++s) index[s] = Buffer(be, batch);
  }
  // Stages batch b into slot s: its data (or indices) into the staging buffers, then uploads
  // that may overlap the step in flight. Returns the batch's size.
  uint64_t fence[2] = {0, 0};
  auto stage = [&](int b, int s) {
    be.upload_fence_wait(fence[s]);  // the staging buffer's previous upload has read it
    int n;
    if (on_device) {
      n = loader.indices(b, stage_x[s]);
      fence[s] = be.upload_async(index[s].data(), stage_x[s], size_t(n));
    } else {
      n = loader.fill(b, stage_x[s], stage_l[s]);
      be.upload_async(x_[s].data(), stage_x[s], size_t(n) * sz);
      fence[s] = be.upload_async(labels_[s].data(), stage_l[s], size_t(n));
    }
    return n;
  };

  std::vector<EpochReport> reports;
  for (int e = 0; e < opt_.epochs; ++e) {
    const auto t0 = Clock::now();
    const float lr = opt_.lr * std::pow(opt_.lr_decay, float(e));
    loader.epoch_begin(e);
    be.fill(stats_.data(), 0.0f, 2);
    ProgressBar bar(opt_.progress, e + 1, opt_.epochs, loader.batches());
    int seen = 0;
    float stats[2] = {0, 0};
    int n_next = stage(0, 0);
    for (int b = 0; b < loader.batches(); ++b) {
      const int s = b & 1, n = n_next;
      be.upload_join(fence[s]);
      // The next batch is prepared on the host and sent while this step runs.
      if (b + 1 < loader.batches()) n_next = stage(b + 1, s ^ 1);
      if (on_device) {
        be.gather_rows(size_t(n), sz, all_x.data(), index[s].data(), x_[s].data());
        be.gather_rows(size_t(n), 1, all_labels.data(), index[s].data(), labels_[s].data());
      }
      step_slot(n, s, lr);
      seen += n;
      if (bar.due(b + 1)) {
        be.download(stats, stats_.data(), 2);
        bar.draw(b + 1, stats[0] / seen, stats[1] / seen);
      }
    }
    be.download(stats, stats_.data(), 2);
    be.synchronize();
    bar.finish();
    EpochReport r;
    r.epoch = e + 1;
    r.seconds = seconds_since(t0);
    r.loss = stats[0] / seen;
    r.train_accuracy = stats[1] / seen;
    if (!std::isfinite(r.loss)) {
      be.graph_reset();
      throw Error("training diverged (loss is not finite) in epoch " + std::to_string(e + 1) +
                  "; try a smaller --lr");
    }
    if (test) {
      const EvalResult ev = evaluate(net_, *test, opt_.eval_batch);
      r.test_accuracy = ev.accuracy;
      r.test_loss = ev.loss;
    }
    reports.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  be.synchronize();
  be.graph_reset();
  graph_[0] = graph_[1] = -1;
  return reports;
}

EvalResult evaluate(Network& net, const Dataset& data, int batch, bool second_look) {
  const int classes = net.classes();
  EvalResult r;
  r.count = data.count;
  r.confusion.assign(size_t(classes), std::vector<int>(size_t(classes), 0));
  const size_t sz = data.image_size();
  if (second_look && (sz != 784 || classes != 10))
    throw Error("a second look reads 28x28 digits with a 10-class network");
  std::vector<float> x(size_t(batch) * sz), probs(size_t(batch) * classes);
  double loss = 0;
  int correct = 0;
  for (int first = 0; first < data.count; first += batch) {
    const int n = std::min(batch, data.count - first);
    dataset_to_float(data, first, n, x.data());
    net.predict(x.data(), n, probs.data());
    if (second_look)
      r.second_looks += vision::second_look(x.data(), n, probs.data(),
                                            [&net](const float* v, int m, float* p) {
                                              net.predict(v, m, p);
                                            });
    for (int i = 0; i < n; ++i) {
      const float* p = probs.data() + size_t(i) * classes;
      const int label = data.labels[first + i];
      if (label >= classes)
        throw Error("evaluation: label " + std::to_string(label) + " of image " +
                    std::to_string(first + i) + " is not one of the network's " +
                    std::to_string(classes) + " classes");
      const int arg = static_cast<int>(std::max_element(p, p + classes) - p);
      r.confusion[label][arg] += 1;
      correct += arg == label;
      loss -= std::log(std::max(p[label], 1e-12f));
    }
  }
  r.accuracy = data.count ? double(correct) / data.count : 0.0;
  r.loss = data.count ? loss / data.count : 0.0;
  return r;
}

}  // namespace scrawl
