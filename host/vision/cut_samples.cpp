// Rows of training digits read by number mode's splitter; its crops labelled by their boxes.
// See cut_samples.h.
#include "host/vision/cut_samples.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <tuple>

#include "host/error.h"

namespace scrawl::vision {
namespace {

double area(const Box& b) { return double(b.w) * b.h; }

double overlap(const Box& a, const Box& b) {
  const int w = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
  const int h = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
  return w > 0 && h > 0 ? double(w) * h : 0.0;
}

double iou(const Box& a, const Box& b) {
  const double inter = overlap(a, b);
  return inter > 0 ? inter / (area(a) + area(b) - inter) : 0.0;
}

struct Row {
  cv::Mat image;           // CV_8UC3, dark ink on grey paper
  std::vector<Box> boxes;  // each digit's ink (alpha > 0.5), left to right
  std::vector<int> labels;
  float height = 0;        // the row's digit height, px
};

// How rows are drawn: 2-4 digits, 60% of the rows touching (cut_samples); pair_samples asks for
// two touching digits.
struct RowSpec {
  int min_digits = 2, max_digits = 4;
  float touching_p = 0.6f;
};

Row row_render(const Dataset& digits, std::mt19937_64& rng, const RowSpec& spec = {}) {
  auto uni = [&](float lo, float hi) { return uniform_draw(rng, lo, hi); };
  const int n = spec.min_digits + int(rng() % uint64_t(spec.max_digits - spec.min_digits + 1));
  const bool touching = uni(0, 1) < spec.touching_p;
  const float h = uni(28, 64);
  std::vector<char> touch(size_t(n), 0);  // touch[i]: digit i touches digit i - 1
  if (touching) {
    for (int i = 1; i < n; ++i) touch[size_t(i)] = uni(0, 1) < 0.5f;
    touch[size_t(1 + int(rng() % uint64_t(n - 1)))] = 1;
  }
  Row row;
  row.height = h;
  std::vector<cv::Mat> patches;
  for (int i = 0; i < n; ++i) {
    const size_t k = size_t(rng() % uint64_t(digits.count));
    cv::Mat d(digits.rows, digits.cols, CV_8U,
              const_cast<uint8_t*>(digits.images.data() + k * digits.image_size()));
    cv::Mat f;
    d.convertTo(f, CV_32F, 1.0 / 255.0);
    const cv::Mat on = f > 0.1f;
    if (cv::countNonZero(on) == 0) continue;
    const cv::Rect box = cv::boundingRect(on);
    const double s = h / 20.0 * uni(0.85f, 1.15f);
    cv::Mat p;
    cv::resize(f(box), p, cv::Size(std::max(1, int(std::lround(box.width * s))),
                                   std::max(1, int(std::lround(box.height * s)))),
               0, 0, cv::INTER_LINEAR);
    patches.push_back(p);
    row.labels.push_back(digits.labels[k]);
  }
  int max_h = 0;
  for (const cv::Mat& p : patches) max_h = std::max(max_h, p.rows);
  const int pad = int(0.4f * h) + 4;
  const int row_h = max_h + int(0.3f * h) + 2 * pad;
  const int base = pad + int(1.1f * h);
  std::vector<float> env(size_t(row_h), -1e9f);  // rightmost ink x per canvas row so far
  std::vector<std::tuple<cv::Mat, int, int>> placed;
  float x_end = 0;
  for (size_t i = 0; i < patches.size(); ++i) {
    const cv::Mat& p = patches[i];
    int y = int(std::lround(base - p.rows + uni(-0.08f, 0.08f) * h));
    y = std::clamp(y, 2, row_h - p.rows - 2);
    int x = pad;
    std::vector<int> left(size_t(p.rows), -1), right(size_t(p.rows), -1);
    for (int r = 0; r < p.rows; ++r) {
      const float* q = p.ptr<float>(r);
      for (int c = 0; c < p.cols; ++c) {
        if (q[c] > 0.5f) {
          if (left[size_t(r)] < 0) left[size_t(r)] = c;
          right[size_t(r)] = c;
        }
      }
    }
    if (i > 0) {
      const float gap = touch[i] ? -uni(0.0f, 0.04f) * h : std::max(4.0f, h * uni(0.1f, 0.4f));
      float need = -1e9f;
      for (int r = 0; r < p.rows; ++r) {
        if (left[size_t(r)] >= 0 && env[size_t(y + r)] > -1e8f)
          need = std::max(need, env[size_t(y + r)] - float(left[size_t(r)]));
      }
      x = need > -1e8f ? int(std::ceil(need + 1 + gap)) : int(std::ceil(x_end + gap));
      x = std::max(x, int(x_end - 0.25f * h));
    }
    for (int r = 0; r < p.rows; ++r) {
      if (right[size_t(r)] >= 0)
        env[size_t(y + r)] = std::max(env[size_t(y + r)], float(x + right[size_t(r)]));
    }
    placed.emplace_back(p, x, y);
    x_end = std::max(x_end, float(x + p.cols));
  }
  const int W = int(x_end) + pad;
  cv::Mat alpha = cv::Mat::zeros(row_h, W, CV_32F);
  for (const auto& [p, x, y] : placed) {
    cv::Mat dst = alpha(cv::Rect(x, y, p.cols, p.rows));
    cv::max(dst, p, dst);
    const cv::Mat on = p > 0.5f;
    const cv::Rect b = cv::countNonZero(on) ? cv::boundingRect(on) : cv::Rect(0, 0, p.cols, p.rows);
    row.boxes.push_back(Box{x + b.x, y + b.y, b.width, b.height});
  }
  // Paper and ink levels, a light blur and sensor noise: what the ink finder reads in a photo.
  const float paper = uni(170, 240), ink = uni(15, 90);
  cv::Mat grey = paper - alpha * (paper - ink);
  cv::GaussianBlur(grey, grey, cv::Size(0, 0), uni(0.4f, 1.0f));
  cv::Mat noise(grey.size(), CV_32F);
  cv::randn(noise, 0.0, uni(1.0f, 4.0f));  // OpenCV's own generator, seeded below per row
  grey += noise;
  cv::Mat g8;
  grey.convertTo(g8, CV_8U);
  cv::cvtColor(g8, row.image, cv::COLOR_GRAY2BGR);
  return row;
}

}  // namespace

Dataset cut_samples(const Dataset& digits, int rows, uint64_t seed, const Classifier& classify,
                    int outliers_per_row, CutSampleStats* stats) {
  if (digits.rows != 28 || digits.cols != 28 || digits.count <= 0)
    throw Error("cut_samples: needs 28x28 digits");
  if (!classify) throw Error("cut_samples: needs a classifier (number mode's cuts depend on it)");
  Dataset out;
  out.rows = out.cols = 28;
  CutSampleStats st;
  std::mt19937_64 rng(seed);
  for (int r = 0; r < rows; ++r) {
    cv::theRNG().state = rng();  // the noise of this row
    const Row row = row_render(digits, rng);
    // Every crop the splitter asks about, once per box (whole groups are asked about more than
    // once, and two cuts can leave the same piece).
    std::map<std::tuple<int, int, int, int>, std::pair<DigitCrop, float>> asked;
    const Classifier recorder = [&](const std::vector<DigitCrop>& crops) {
      std::vector<float> conf = classify(crops);
      for (size_t i = 0; i < crops.size() && i < conf.size(); ++i) {
        const Box& b = crops[i].box;
        asked.emplace(std::make_tuple(b.x, b.y, b.w, b.h), std::make_pair(crops[i], conf[i]));
      }
      return conf;
    };
    try {
      (void)number_segment(row.image, recorder);
    } catch (const NoInkError&) {
      continue;
    }
    ++st.rows;
    st.asked += int(asked.size());
    std::vector<std::pair<float, const DigitCrop*>> outliers, pairs;
    auto keep = [&](const DigitCrop& c, uint8_t label) {
      for (float v : c.pixels) out.images.push_back(uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)));
      out.labels.push_back(label);
      ++out.count;
    };
    for (const auto& [key, item] : asked) {
      const DigitCrop& c = item.first;
      double best = 0;
      size_t which = 0;
      for (size_t i = 0; i < row.boxes.size(); ++i) {
        const double v = iou(c.box, row.boxes[i]);
        if (v > best) best = v, which = i;
      }
      int covered = 0;  // digits whose box the crop holds at least 60% of
      for (const Box& d : row.boxes) covered += overlap(c.box, d) >= 0.6 * area(d);
      if (covered >= 2) {
        pairs.emplace_back(item.second, &c);
      } else if (best >= 0.85) {
        keep(c, uint8_t(row.labels[which]));
        ++st.digits;
      } else if (best < 0.5 && c.box.h >= 0.4 * row.height) {
        outliers.emplace_back(item.second, &c);
      } else {
        ++st.skipped;
      }
    }
    // The bad cuts the model reads most surely first: those are the ones that mislead the
    // splitter (a sure 1 cut off a 4, a pair read as one digit).
    for (auto* list : {&pairs, &outliers}) {
      std::stable_sort(list->begin(), list->end(),
                       [](const auto& x, const auto& y) { return x.first > y.first; });
      for (size_t i = 0; i < list->size(); ++i) {
        if (int(i) < outliers_per_row) {
          keep(*(*list)[i].second, kCutOutlier);
          ++st.outliers;
        } else {
          ++st.skipped;
        }
      }
    }
  }
  if (stats) *stats = st;
  return out;
}

Dataset pair_samples(const Dataset& digits, int count, uint64_t seed) {
  if (digits.rows != 28 || digits.cols != 28 || digits.count <= 0)
    throw Error("pair_samples: needs 28x28 digits");
  Dataset out;
  out.rows = kPairRows;
  out.cols = kPairCols;
  std::mt19937_64 rng(seed);
  RowSpec spec;
  spec.min_digits = spec.max_digits = 2;
  spec.touching_p = 1.0f;
  while (out.count < count) {
    cv::theRNG().state = rng();  // the noise of this row
    const Row row = row_render(digits, rng, spec);
    if (row.labels.size() != 2) continue;  // a blank training image (there are none in MNIST)
    PairCrop crop;
    try {
      crop = pair_preprocess(row.image);
    } catch (const NoInkError&) {
      continue;
    }
    for (float v : crop.pixels)
      out.images.push_back(uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)));
    out.labels.push_back(uint8_t(10 * row.labels[0] + row.labels[1]));
    ++out.count;
  }
  return out;
}

}  // namespace scrawl::vision
