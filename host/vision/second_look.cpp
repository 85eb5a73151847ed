// See second_look.h.
#include "host/vision/second_look.h"

#include <algorithm>
#include <array>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace scrawl::vision {
namespace {

constexpr int kSide = 28;
constexpr int kPixels = kSide * kSide;
constexpr int kClasses = 10;

struct View {
  double dx, dy;    // shift, pixels
  double degrees;   // turn, counter-clockwise
  double scale;
};
// Small enough that each view is still the same digit; the set was chosen on the MNIST test
// set and our photo sets, and checked on a second draw (models/MODEL_CARD.md).
constexpr std::array<View, kSecondLookViews> kViews{{{1, 0, 0, 1},
                                                     {-1, 0, 0, 1},
                                                     {0, 1, 0, 1},
                                                     {0, -1, 0, 1},
                                                     {0, 0, 8, 1},
                                                     {0, 0, -8, 1},
                                                     {0, 0, 0, 0.9},
                                                     {0, 0, 0, 1.1}}};

}  // namespace

void second_look_views(const float* crop, float* out) {
  const cv::Mat src(kSide, kSide, CV_32F, const_cast<float*>(crop));
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double v = crop[y * kSide + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  const cv::Point2f centre = mass > 0 ? cv::Point2f(float(mx / mass), float(my / mass))
                                      : cv::Point2f(kSide / 2.0f, kSide / 2.0f);
  for (int v = 0; v < kSecondLookViews; ++v) {
    cv::Mat m = cv::getRotationMatrix2D(centre, kViews[v].degrees, kViews[v].scale);
    m.at<double>(0, 2) += kViews[v].dx;
    m.at<double>(1, 2) += kViews[v].dy;
    cv::Mat dst(kSide, kSide, CV_32F, out + v * kPixels);
    cv::warpAffine(src, dst, m, dst.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  }
}

int second_look(const float* x, int n, float* probs, const Infer& infer) {
  std::vector<int> rows;
  for (int i = 0; i < n; ++i) {
    const float* p = probs + i * kClasses;
    if (*std::max_element(p, p + kClasses) < kSecondLookBelow)
      rows.push_back(i);
  }
  if (rows.empty()) return 0;
  const int m = static_cast<int>(rows.size()) * kSecondLookViews;
  std::vector<float> views(static_cast<size_t>(m) * kPixels);
  std::vector<float> vprobs(static_cast<size_t>(m) * kClasses);
  for (size_t r = 0; r < rows.size(); ++r)
    second_look_views(x + static_cast<size_t>(rows[r]) * kPixels,
                      views.data() + r * kSecondLookViews * kPixels);
  infer(views.data(), m, vprobs.data());
  for (size_t r = 0; r < rows.size(); ++r) {
    float* p = probs + static_cast<size_t>(rows[r]) * kClasses;
    for (int c = 0; c < kClasses; ++c) {
      float sum = p[c];
      for (int v = 0; v < kSecondLookViews; ++v)
        sum += vprobs[(r * kSecondLookViews + v) * kClasses + c];
      p[c] = sum / (kSecondLookViews + 1);
    }
  }
  return static_cast<int>(rows.size());
}

}  // namespace scrawl::vision
