// Google Benchmark over the server's per-image request path on three inputs: a 28x28 PNG of a
// 7 (the one profiling/load_make_png.py draws for the HTTP load runs), an MNIST test digit as a
// 28x28 PNG ($SCRAWL_DATA or the fetch_mnist.sh cache; skipped without it) and a 300x300 JPEG
// photo of a digit on shaded, noisy paper drawn here. Times decode, ink_find, digit_preprocess,
// the reading's JSON and the whole request path minus the network (bytes -> crop -> batched
// CPU inference -> JSON), and pieces of the path the current way against the old way (the
// reading's JSON text, order statistics, paper fit, local paper, components, mask growing) in the
// same process; ends with a table of those ratios.
// Run: build/bench_vision [--benchmark_filter=ink] [--benchmark_min_time=0.2]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "host/cpu_backend.h"
#include "host/dataset.h"
#include "host/model_file.h"
#include "host/network.h"
#include "host/vision/ink_internal.h"
#include "host/vision/preprocess.h"
#include "host/vision/reading.h"

namespace scrawl {
namespace {

// ---- inputs ----

// The 7 of profiling/load_make_png.py, pixel for pixel: dark strokes (30) on light paper (235).
cv::Mat seven_draw() {
  cv::Mat img(28, 28, CV_8U, cv::Scalar(235));
  auto dot = [&](double cx, double cy) {
    const double r = 1.6;
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        const double d = std::hypot(x - cx, y - cy);
        if (d < r + 0.5) {
          const int v = d < r - 0.5 ? 30 : int(30 + (d - r + 0.5) * 205);
          img.at<uint8_t>(y, x) = uint8_t(std::min<int>(img.at<uint8_t>(y, x), v));
        }
      }
    }
  };
  auto line = [&](double x0, double y0, double x1, double y1) {
    const int n = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0)) * 3) + 1;
    for (int i = 0; i <= n; ++i) {
      const double t = double(i) / n;
      dot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
    }
  };
  line(7, 6, 21, 6);
  line(21, 6, 12, 23);
  return img;
}

// The first MNIST test digit (a 7), as stored: white ink on black. Empty when no data.
cv::Mat mnist_digit() {
  std::string dir;
  if (const char* d = std::getenv("SCRAWL_DATA")) {
    dir = d;
  } else if (const char* cache = std::getenv("XDG_CACHE_HOME")) {
    dir = std::string(cache) + "/scrawl/mnist";
  } else if (const char* home = std::getenv("HOME")) {
    dir = std::string(home) + "/.cache/scrawl/mnist";
  }
  try {
    const Dataset test = mnist_load(dir, false);
    return cv::Mat(test.rows, test.cols, CV_8U, const_cast<uint8_t*>(test.images.data())).clone();
  } catch (const std::exception&) {
    return {};
  }
}

// A phone photo of a 3 in blue-black ink: tinted paper lit from one side, sensor noise, a
// slightly soft pen, JPEG at quality 85.
cv::Mat photo_draw() {
  cv::Mat img(300, 300, CV_8UC3);
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      const double light = 0.78 + 0.2 * (x + 0.5 * y) / 450.0;
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uint8_t>(205 * light),
                                          cv::saturate_cast<uint8_t>(222 * light),
                                          cv::saturate_cast<uint8_t>(232 * light));
    }
  }
  const cv::Scalar ink(95, 55, 45);
  cv::ellipse(img, {150, 105}, {55, 45}, 0, 200, 360 + 90, ink, 11, cv::LINE_AA);
  cv::ellipse(img, {150, 195}, {60, 50}, 0, -90, 160, ink, 11, cv::LINE_AA);
  cv::GaussianBlur(img, img, cv::Size(0, 0), 1.2);
  cv::Mat noise(img.size(), CV_16SC3);
  cv::randn(noise, 0, 4);
  cv::Mat noisy;
  img.convertTo(noisy, CV_16SC3);
  noisy += noise;
  noisy.convertTo(img, CV_8UC3);
  return img;
}

struct Input {
  const char* name;
  std::vector<uint8_t> bytes;  // the encoded file, as a client sends it
};

const std::vector<Input>& inputs() {
  static const std::vector<Input> all = [] {
    std::vector<Input> v(3);
    v[0].name = "png28_seven";
    cv::imencode(".png", seven_draw(), v[0].bytes);
    v[1].name = "png28_mnist";
    const cv::Mat mnist = mnist_digit();
    if (!mnist.empty()) cv::imencode(".png", mnist, v[1].bytes);
    v[2].name = "jpeg300_photo";
    cv::imencode(".jpg", photo_draw(), v[2].bytes, {cv::IMWRITE_JPEG_QUALITY, 85});
    return v;
  }();
  return all;
}

// The input for this benchmark's first argument, or nullptr (and the benchmark skipped).
const Input* input_or_skip(benchmark::State& st) {
  const Input& in = inputs()[size_t(st.range(0))];
  st.SetLabel(in.name);
  if (in.bytes.empty()) {
    st.SkipWithError("no MNIST test set: set SCRAWL_DATA (scripts/fetch_mnist.sh)");
    return nullptr;
  }
  return &in;
}

// ---- the request path's pieces ----

void BM_decode(benchmark::State& st) {
  const Input* in = input_or_skip(st);
  if (!in) return;
  for (auto _ : st)
    benchmark::DoNotOptimize(vision::image_decode(in->bytes.data(), in->bytes.size()));
}

void BM_ink_find(benchmark::State& st) {
  const Input* in = input_or_skip(st);
  if (!in) return;
  const cv::Mat img = vision::image_decode(in->bytes.data(), in->bytes.size());
  for (auto _ : st) benchmark::DoNotOptimize(vision::ink_find(img));
}

void BM_digit_preprocess(benchmark::State& st) {
  const Input* in = input_or_skip(st);
  if (!in) return;
  const cv::Mat img = vision::image_decode(in->bytes.data(), in->bytes.size());
  for (auto _ : st) benchmark::DoNotOptimize(vision::digit_preprocess(img));
}

// The shipped network (or SCRAWL_MODEL) on one CPU thread, as the server's engine on 2 cores.
Network* model_or_skip(benchmark::State& st) {
  static std::unique_ptr<Backend> backend = cpu_backend_create(1);
  static std::unique_ptr<Network> net;
  static std::string error;
  if (!net && error.empty()) {
    const char* env = std::getenv("SCRAWL_MODEL");
    const std::string path = env ? env : SCRAWL_SOURCE_DIR "/models/default.scrawl";
    try {
      const ModelFile file = model_file_read(path);
      net = std::make_unique<Network>(file.arch, *backend);
      model_file_to_network(file, *net);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!net) st.SkipWithError(error.c_str());
  return net.get();
}

// The reading's JSON text for one digit: written straight (arg 0, the server's way since
// 2026-11-25) against a json object built and dumped (arg 1, the old way).
void BM_reading_json(benchmark::State& st) {
  std::vector<vision::DigitCrop> crops(1);
  crops[0].box = {3, 4, 20, 21};
  const float probs[10] = {1e-5f, 2e-4f, 3e-3f, 1e-6f, 4e-4f, 2e-5f, 1e-7f, 0.9912f, 5e-3f, 1e-4f};
  st.SetLabel("one digit");
  for (auto _ : st) {
    if (st.range(0) == 0) {
      benchmark::DoNotOptimize(vision::reading_json_text(crops, probs, "cpu", "default"));
    } else {
      nlohmann::json r = vision::reading_json(crops, probs);
      r["device"] = "cpu";
      r["model"] = "default";
      benchmark::DoNotOptimize(r.dump());
    }
  }
}

// Bytes in, JSON text out, as /api/v1/predict does it minus HTTP: decode, crop, inference in
// batches of 16 (about the server's mean batch under load; its cost shared by the 16), the
// reading's JSON. Items/s is images per second on one core.
void BM_predict_path(benchmark::State& st) {
  const Input* in = input_or_skip(st);
  Network* net = in ? model_or_skip(st) : nullptr;
  if (!net) return;
  constexpr int kBatch = 16;
  std::vector<float> x(size_t(kBatch) * 784), probs(size_t(kBatch) * 10);
  std::vector<vision::DigitCrop> crops(kBatch);
  for (auto _ : st) {
    for (int i = 0; i < kBatch; ++i) {
      const cv::Mat img = vision::image_decode(in->bytes.data(), in->bytes.size());
      crops[size_t(i)] = vision::digit_preprocess(img);
      std::copy(crops[size_t(i)].pixels.begin(), crops[size_t(i)].pixels.end(),
                x.begin() + ptrdiff_t(i) * 784);
    }
    net->predict(x.data(), kBatch, probs.data());
    for (int i = 0; i < kBatch; ++i) {
      benchmark::DoNotOptimize(
          vision::reading_json_text({crops[size_t(i)]}, probs.data() + i * 10, "cpu", "default"));
    }
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
}

// ---- order statistics: the current way (arg 0) against the old way (arg 1) ----

// The paper fit's samples: the whole image (grey) when it is at most 96 px a side (every 28x28
// input), else cut down to 96 px a side.
cv::Mat grey_image(int which) {
  const Input* in = &inputs()[size_t(which)];
  if (in->bytes.empty()) in = &inputs()[0];
  cv::Mat img = vision::image_decode(in->bytes.data(), in->bytes.size());
  if (img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
  cv::resize(img, img, cv::Size(std::min(img.cols, 96), std::min(img.rows, 96)), 0, 0,
             cv::INTER_NEAREST);
  return img;
}

std::vector<uint8_t> grey_samples(int which) {
  const cv::Mat img = grey_image(which);
  return std::vector<uint8_t>(img.begin<uint8_t>(), img.end<uint8_t>());
}

// The median of 8-bit samples: a 256-bin histogram against nth_element on a copy as doubles.
void BM_median_u8(benchmark::State& st) {
  const std::vector<uint8_t> v8 = grey_samples(int(st.range(1)));
  const std::vector<double> vd(v8.begin(), v8.end());
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::quantile_u8(v8.data(), v8.size(), 0.5));
    else
      benchmark::DoNotOptimize(vision::ink_detail::quantile_select(vd, 0.5));
  }
}

// The median of residuals (doubles): selection in a reused buffer against a fresh copy.
void BM_median_double(benchmark::State& st) {
  const std::vector<uint8_t> v8 = grey_samples(int(st.range(1)));
  std::vector<double> r(v8.size());
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0.0, 3.0);
  for (size_t i = 0; i < r.size(); ++i) r[i] = v8[i] - 200.0 + noise(rng);
  std::vector<double> scratch;
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::quantile_select_into(r, 0.5, scratch));
    else
      benchmark::DoNotOptimize(vision::ink_detail::quantile_select(r, 0.5));
  }
}

// The robust quadratic fit of the paper on the grey image: ink.cpp's against the reference.
void BM_paper_fit(benchmark::State& st) {
  const cv::Mat grey = grey_image(int(st.range(1)));
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::paper_fit(grey));
    else
      benchmark::DoNotOptimize(vision::ink_detail::paper_fit_reference(grey));
  }
}

// The local paper (closing 9x9, box 3x3: a 28x28 digit's sizes) on the ink-dark grey image:
// ink.cpp's way (direct loops when small) against OpenCV's filters, which it replaced there.
void BM_paper_local(benchmark::State& st) {
  const cv::Mat grey = grey_image(int(st.range(1)));
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::paper_local(grey, 9, 3));
    else
      benchmark::DoNotOptimize(vision::ink_detail::paper_local_opencv(grey, 9, 3));
  }
}

// The ink mask's components (the 28x28 inputs' thresholded ink; a 96x96 sample of the photo's):
// ink.cpp's direct labelling on small masks against cv::connectedComponentsWithStats.
void BM_components(benchmark::State& st) {
  const cv::Mat grey = grey_image(int(st.range(1)));
  const cv::Mat mask = grey < cv::mean(grey)[0] - 20;
  cv::Mat labels, stats;
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::components_label(mask, labels, stats));
    else
      benchmark::DoNotOptimize(vision::ink_detail::components_label_opencv(mask, labels, stats));
  }
}

// The crops' soft-edge zone (radius 1, as for 28x28 digits): direct dilation by the chamfer disc
// against the distance transform.
void BM_mask_grow(benchmark::State& st) {
  const cv::Mat grey = grey_image(int(st.range(1)));
  const cv::Mat mask = grey < cv::mean(grey)[0] - 20;
  st.SetLabel(inputs()[size_t(st.range(1))].name);
  for (auto _ : st) {
    if (st.range(0) == 0)
      benchmark::DoNotOptimize(vision::ink_detail::mask_grow(mask, 1));
    else
      benchmark::DoNotOptimize(vision::ink_detail::mask_grow_opencv(mask, 1));
  }
}

void Pieces(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < 3; ++i) b->Args({i});
  b->Unit(benchmark::kMicrosecond);
}
void WaysByInput(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < 3; ++i) b->Args({0, i})->Args({1, i});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_decode)->Apply(Pieces);
BENCHMARK(BM_ink_find)->Apply(Pieces);
BENCHMARK(BM_digit_preprocess)->Apply(Pieces);
BENCHMARK(BM_reading_json)->Args({0, 0})->Args({1, 0})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_predict_path)->Apply(Pieces);
BENCHMARK(BM_paper_fit)->Apply(WaysByInput);
BENCHMARK(BM_paper_local)->Apply(WaysByInput);
BENCHMARK(BM_components)->Apply(WaysByInput);
BENCHMARK(BM_mask_grow)->Apply(WaysByInput);
BENCHMARK(BM_median_u8)->Apply(WaysByInput);
BENCHMARK(BM_median_double)->Apply(WaysByInput);

// Console output as usual, then for each benchmark with a current way (/0/...) and an old way
// (/1/...) the old way's time over the current way's.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const std::string name = r.benchmark_name();  // e.g. BM_median_u8/0/2
      const size_t a = name.find('/'), b = name.find('/', a + 1);
      if (a == std::string::npos || b == std::string::npos || r.error_occurred) continue;
      const std::string key = name.substr(0, a) + "/" + r.report_label;
      (name.substr(a + 1, 1) == "0" ? now_ : old_)[key] = r.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    if (now_.empty()) return;
    std::printf("\nold way / current way (same process; > 1: the current way is faster):\n");
    for (const auto& [key, t] : now_)
      if (old_.count(key)) std::printf("  %-36s %8.2fx\n", key.c_str(), old_[key] / t);
  }

 private:
  std::map<std::string, double> now_, old_;
};

}  // namespace
}  // namespace scrawl

int main(int argc, char** argv) {
  // As `scrawl serve` runs the path (server/server.cpp): one request per I/O thread, OpenCV's
  // own worker threads off. With them on, a small image's filters spin and yield across threads
  // and the figures here would not be the server's.
  cv::setNumThreads(0);
  benchmark::Initialize(&argc, argv);
  scrawl::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
