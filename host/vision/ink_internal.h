// Internals of the ink finder (ink.cpp) that its tests and benchmarks reach: exact order
// statistics and the robust quadratic fit of the paper. The plain versions (quantile_select,
// paper_fit_reference in ink_reference.cpp) are the specification; the fast ones must give the
// very same values, bit for bit: tests/unit/test_vision.cpp checks that, and
// profiling/bench_vision.cpp times both ways.
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace scrawl::vision {
struct Box;
}

namespace scrawl::vision::ink_detail {

// 8-bit grey, BGR or BGRA, whatever came in (grey + alpha becomes BGRA). FormatError for an
// empty image, or a channel count or pixel depth we do not read (ink.cpp).
cv::Mat depth_to_8u(const cv::Mat& image);

// The box around a box's corners mapped by t (CV_64F: 2x3 affine or 3x3 homography), in a frame
// `scale` times finer than the boxes (t works there), clamped to bound (sheet.cpp).
Box box_map(const Box& b, const cv::Mat& t, cv::Size bound, double scale = 1.0);

// ---- order statistics ----

// The index of the q-quantile among n sorted values (nearest rank, halves rounded up).
inline size_t quantile_rank(size_t n, double q) {
  return std::min(n - 1, size_t(q * double(n - 1) + 0.5));
}

// The reference: the value of rank quantile_rank(n, q) in v; 0 when v is empty.
template <typename T>
double quantile_select(std::vector<T> v, double q) {  // by value: nth_element reorders
  if (v.empty()) return 0.0;
  const size_t k = quantile_rank(v.size(), q);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return double(v[k]);
}

// The same, selecting in `scratch` (contents lost) rather than in a new copy.
template <typename T>
double quantile_select_into(const std::vector<T>& v, double q, std::vector<T>& scratch) {
  if (v.empty()) return 0.0;
  scratch.assign(v.begin(), v.end());
  const size_t k = quantile_rank(v.size(), q);
  std::nth_element(scratch.begin(), scratch.begin() + std::ptrdiff_t(k), scratch.end());
  return double(scratch[k]);
}

// The same value again, reordering v instead of a copy, and found without a selection when
// v's first value is the one: on a page most samples share the paper's value (a flat page's ratio
// to its own local paper is exactly 1, its strength exactly 0), and the grid's first sample is
// its corner. Counting the values below it and equal to it proves it in one pass, where a
// selection among many equal values costs several.
template <typename T>
double quantile_pick(std::vector<T>& v, double q) {
  if (v.empty()) return 0.0;
  const size_t k = quantile_rank(v.size(), q);
  const T c = v.front();
  size_t less = 0, equal = 0;
  for (const T& x : v) less += x < c, equal += x == c;
  if (less <= k && k < less + equal) return double(c);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return double(v[k]);
}

// The same for 8-bit samples, from their histogram (n samples in all): no copy, no selection.
inline double quantile_hist(const std::array<uint32_t, 256>& hist, size_t n, double q) {
  if (n == 0) return 0.0;
  const size_t k = quantile_rank(n, q);
  size_t below = 0;
  for (int i = 0; i < 256; ++i) {
    below += hist[size_t(i)];
    if (below > k) return double(i);
  }
  return 255.0;
}

// Counts of 8-bit values, spread over four tables by the sample's index and summed at the end:
// on a page most samples share one value, and with a single table every increment would wait for
// the one before it to reach memory.
struct ByteHist {
  std::array<std::array<uint32_t, 256>, 4> part{};
  void add(size_t i, size_t value) { ++part[i & 3][value]; }
  std::array<uint32_t, 256> total() const {
    std::array<uint32_t, 256> t;
    for (size_t v = 0; v < 256; ++v) t[v] = part[0][v] + part[1][v] + part[2][v] + part[3][v];
    return t;
  }
};

inline double quantile_u8(const uint8_t* v, size_t n, double q) {
  ByteHist hist;
  for (size_t i = 0; i < n; ++i) hist.add(i, v[i]);
  return quantile_hist(hist.total(), n, q);
}

// Otsu's level for an 8-bit single-channel image: the grey level t that maximises the
// between-class variance of {v <= t} and {v > t}, the first such t on ties, 0 when every pixel
// shares one class. The value cv::threshold(..., THRESH_OTSU) returns, bit for bit (the same
// double arithmetic in the same order; the unit tests compare the two), without the binary
// image it also writes, nor its dispatch: on a 28x28 crop that was 2-3 us, most of the work.
inline double otsu_level(const cv::Mat& u8) {
  CV_Assert(u8.type() == CV_8UC1);
  ByteHist counts;
  for (int y = 0; y < u8.rows; ++y) {
    const uint8_t* row = u8.ptr<uint8_t>(y);
    for (int x = 0; x < u8.cols; ++x) counts.add(size_t(x), row[x]);
  }
  const std::array<uint32_t, 256> hist = counts.total();
  const double scale = 1.0 / (double(u8.cols) * u8.rows);
  double mean = 0.0;
  for (int i = 0; i < 256; ++i) mean += i * double(hist[size_t(i)]);
  mean *= scale;
  double mean_low = 0.0, share_low = 0.0, best = 0.0, level = 0.0;
  const double eps = double(FLT_EPSILON);
  for (int i = 0; i < 256; ++i) {
    const double p = hist[size_t(i)] * scale;
    mean_low *= share_low;  // back to a sum before the class grows
    share_low += p;
    const double share_high = 1.0 - share_low;
    if (std::min(share_low, share_high) < eps || std::max(share_low, share_high) > 1.0 - eps)
      continue;
    mean_low = (mean_low + i * p) / share_low;
    const double mean_high = (mean - share_low * mean_low) / share_high;
    const double between = share_low * share_high * (mean_low - mean_high) * (mean_low - mean_high);
    if (between > best) {
      best = between;
      level = i;
    }
  }
  return level;
}

// ---- the paper fit ----

constexpr int kSampleSide = 96;  // grid for the paper fit and robust statistics

// Paper fit inliers: residuals within this many sigmas of the median.
constexpr double kInlierBand = 2.5;
// The narrow first round of the fallback fit (see ink_find): the first round's sigma is measured
// around a constant, so a steep paper gradient together with a large share of ink (a bold digit
// filling a quarter of the frame) inflates it until the usual band lets the ink into the fit and
// the fit settles on a blend of paper and ink that shows no ink at all. The central half around
// the median is paper whenever the ink covers less than half; but it lies along one brightness
// contour of a graded paper, a poor base for a quadratic, so this is only the fallback.
constexpr double kNarrowFirstBand = 1.0;

// A robust quadratic fit of the paper over one grey channel, and what the residuals say.
struct PaperFit {
  std::array<double, 6>
      coef{};              // paper = c0 + c1 x + c2 y + c3 x^2 + c4 xy + c5 y^2, x,y in [-1,1]
  double sigma = 1.0;      // paper noise, grey levels (robust)
  double threshold = 6.0;  // a residual beyond this is ink
  bool dark_ink = true;
  double snr = 0.0;  // ink contrast / noise; 0 when no ink shows
};

// grey8 CV_8U, sampled on a grid of at most kSampleSide per side.
PaperFit paper_fit(const cv::Mat& grey8, double first_band = kInlierBand);
// The same fit written plainly (every quantile a selection on a copy, all four rounds of
// reweighting always run): the specification paper_fit is checked against.
PaperFit paper_fit_reference(const cv::Mat& grey8, double first_band = kInlierBand);

// ---- the local paper ----

// The paper under each pixel of 8-bit grey with dark ink (gd8): a closing by a k x k square
// (pixels beyond the image ignored), box-blurred over soften x soften (borders mirrored), never
// above the closing, at least 1; CV_32F. k, soften odd. paper_local runs direct loops on small
// images, where OpenCV's filter set-up costs more than the filtering; paper_local_opencv, the
// OpenCV way, is its specification.
cv::Mat paper_local(const cv::Mat& gd8, int k, int soften);
cv::Mat paper_local_opencv(const cv::Mat& gd8, int k, int soften);

// ---- connected components ----

// The 8-connected components of a CV_8U mask (non-zero: set), as
// cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S) gives them: labels
// CV_32S, numbered as OpenCV numbers them (by the first 2x2 block, in raster order of blocks,
// that holds a pixel of the component), and stats CV_32S (n, 5), row 0 the background; returns
// n, the background counted. No centroids. components_label runs one direct pass on small masks,
// where OpenCV's set-up (and its parallel stripes on a few dozen rows) costs more than the
// labelling; components_label_opencv, the OpenCV way, is its specification.
int components_label(const cv::Mat& mask, cv::Mat& labels, cv::Mat& stats);
int components_label_opencv(const cv::Mat& mask, cv::Mat& labels, cv::Mat& stats);

// ---- growing a mask ----

// CV_8U mask -> CV_8U mask, 255 where the distance to the nearest set pixel, by
// cv::distanceTransform's DIST_L2 / DIST_MASK_3 chamfer, is at most radius + 0.01. The chamfer
// (0.955 per straight step, 1.3693 per diagonal one, in 16.16 fixed point) measured from one
// pixel is a disc of fixed offsets, so mask_grow dilates by it directly on small masks: per
// offset row dy the disc spans |dx| <= w(dy), and each row's distance to its nearest set pixel
// tells whether one lies within w(dy). mask_grow_opencv, the distance transform, is its
// specification.
cv::Mat mask_grow(const cv::Mat& mask, int radius);
cv::Mat mask_grow_opencv(const cv::Mat& mask, int radius);

// ---- smoothing ----

// cv::GaussianBlur(src, dst, cv::Size(0, 0), sigma) on a CV_32FC1 image (borders mirrored), the
// very same values: the same kernels, made by OpenCV once per sigma on each thread and kept, and
// the same separable filter. OpenCV builds the kernel afresh on every call, in software
// floating point, which on a 28x28 image costs about as much as the filtering.
void gaussian_blur_32f(const cv::Mat& src, cv::Mat& dst, double sigma);

// x (or y) in [-1, 1] for pixel i of n.
inline double coord(int i, int n) { return n > 1 ? 2.0 * i / (n - 1) - 1.0 : 0.0; }

inline void basis(double x, double y, double* f) {
  f[0] = 1;
  f[1] = x;
  f[2] = y;
  f[3] = x * x;
  f[4] = x * y;
  f[5] = y * y;
}

}  // namespace scrawl::vision::ink_detail
