// Trainer and evaluate() (see trainer.h).
#include "host/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "host/error.h"

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
  ++t_;
  const uint64_t seed = opt_.seed * 0x100000001B3ull + uint64_t(t_);
  net_.forward(n, x, true, seed);
  net_.backward(n, x, labels, stats_.data(), seed);
  AdamStep s;
  s.lr = lr;
  s.t = t_;
  net_.backend().adam_update(net_.param_count(), net_.param_data(), net_.grad_data(), m_.data(),
                             v_.data(), s);
}

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
  std::vector<float> hx(size_t(opt_.batch) * sz), hl(opt_.batch);
  Buffer dx(be, hx.size()), dl(be, hl.size());
  net_.reserve(opt_.batch);
  std::vector<EpochReport> reports;
  for (int e = 0; e < opt_.epochs; ++e) {
    const auto t0 = Clock::now();
    const float lr = opt_.lr * std::pow(opt_.lr_decay, float(e));
    loader.epoch_begin(e);
    be.fill(stats_.data(), 0.0f, 2);
    ProgressBar bar(opt_.progress, e + 1, opt_.epochs, loader.batches());
    int seen = 0;
    float stats[2] = {0, 0};
    for (int b = 0; b < loader.batches(); ++b) {
      const int n = loader.fill(b, hx.data(), hl.data());
      be.upload(dx.data(), hx.data(), size_t(n) * sz);
      be.upload(dl.data(), hl.data(), size_t(n));
      step(n, dx.data(), dl.data(), lr);
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
    if (!std::isfinite(r.loss))
      throw Error("training diverged (loss is not finite) in epoch " + std::to_string(e + 1) +
                  "; try a smaller --lr");
    if (test) {
      const EvalResult ev = evaluate(net_, *test, opt_.eval_batch);
      r.test_accuracy = ev.accuracy;
      r.test_loss = ev.loss;
    }
    reports.push_back(r);
    if (on_epoch) on_epoch(r);
  }
  return reports;
}

EvalResult evaluate(Network& net, const Dataset& data, int batch) {
  const int classes = net.classes();
  if (classes != 10) throw Error("evaluation expects a 10-class network");
  EvalResult r;
  r.count = data.count;
  r.confusion.assign(classes, {});
  const size_t sz = data.image_size();
  std::vector<float> x(size_t(batch) * sz), probs(size_t(batch) * classes);
  double loss = 0;
  int correct = 0;
  for (int first = 0; first < data.count; first += batch) {
    const int n = std::min(batch, data.count - first);
    dataset_to_float(data, first, n, x.data());
    net.predict(x.data(), n, probs.data());
    for (int i = 0; i < n; ++i) {
      const float* p = probs.data() + size_t(i) * classes;
      const int label = data.labels[first + i];
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
