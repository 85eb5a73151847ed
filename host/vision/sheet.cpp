// Finding a sheet of paper in a photo that also shows what it lies on, and reading the sheet
// alone. The ink finder models the paper as one smooth surface; a desk around the sheet is no
// part of it (half of our photos laid on a desk read wrong: the desk's darkness passed for ink,
// or its texture for strokes). Tested by tests/unit/test_vision.cpp (VisionSheet.*).
#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "host/vision/ink_internal.h"
#include "host/vision/preprocess.h"

namespace scrawl::vision {
namespace {

constexpr int kMinSide = 64;         // smaller images are taken as they are
constexpr int kLookSide = 200;       // the search runs on a copy this long
constexpr double kMinArea = 0.08;    // the sheet's share of the image...
constexpr double kMaxArea = 0.92;    // ...(more: the paper fills the frame, nothing to cut)
constexpr double kMinContrast = 35;  // grey levels between the sheet's median and the rest's
constexpr double kInset = 0.025;     // corners moved this share towards the centre: no edge

// The q-quantile of a CV_8U image's pixels where mask is set (mask may be empty: all); -1 if none.
double quantile_where(const cv::Mat& grey, const cv::Mat& mask, double q) {
  std::array<uint32_t, 256> hist{};
  size_t n = 0;
  for (int y = 0; y < grey.rows; ++y) {
    const uint8_t* g = grey.ptr<uint8_t>(y);
    const uint8_t* m = mask.empty() ? nullptr : mask.ptr<uint8_t>(y);
    for (int x = 0; x < grey.cols; ++x) {
      if (m && !m[x]) continue;
      ++hist[g[x]];
      ++n;
    }
  }
  return n == 0 ? -1.0 : ink_detail::quantile_hist(hist, n, q);
}

}  // namespace

std::optional<std::array<cv::Point2f, 4>> sheet_find(const cv::Mat& image) {
  if (image.empty() || std::min(image.cols, image.rows) < kMinSide) return std::nullopt;
  if (image.channels() != 1 && image.channels() != 3) return std::nullopt;  // alpha: drawn
  const cv::Mat img8 = ink_detail::depth_to_8u(image);
  const double f = double(kLookSide) / std::max(img8.cols, img8.rows);
  cv::Mat small, grey;
  cv::resize(img8, small,
             cv::Size(std::max(1, int(std::lround(img8.cols * f))),
                      std::max(1, int(std::lround(img8.rows * f)))),
             0, 0, cv::INTER_AREA);
  if (small.channels() == 3) {
    cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  } else {
    grey = small;
  }
  // The surface it lies on is what the frame's edge shows most of: the pixels near that level
  // (within 3 robust sigmas of the edge's grain, at least 20 levels) joined to the frame are
  // surface; the rest, if its brightest part stands clear of the surface, is the sheet and what
  // lies on it. (Growing the surface rather than cutting at a brightness keeps a sheet whole
  // when one side of it is in shade.) A 3x3 opening parts the sheet from stray grains.
  const int ring = std::max(2, int(0.03 * std::min(grey.cols, grey.rows)));
  cv::Mat frame(grey.size(), CV_8U, cv::Scalar(255));
  frame(cv::Rect(ring, ring, grey.cols - 2 * ring, grey.rows - 2 * ring)).setTo(0);
  const double surface = quantile_where(grey, frame, 0.5);
  std::vector<float> dev;
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x)
      if (frame.at<uint8_t>(y, x))
        dev.push_back(std::abs(float(grey.at<uint8_t>(y, x)) - float(surface)));
  const double tol = std::max(20.0, 3.0 * 1.4826 * ink_detail::quantile_select(dev, 0.5));
  const double paper_top = quantile_where(grey, cv::Mat(), 0.95);
  if (paper_top - surface < tol + kMinContrast) return std::nullopt;
  cv::Mat near_level, labels;
  cv::inRange(grey, cv::Scalar(surface - tol), cv::Scalar(surface + tol), near_level);
  const int n_labels = cv::connectedComponents(near_level, labels, 4, CV_32S);
  std::vector<uint8_t> on_frame(size_t(n_labels), 0);
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x)
      if (frame.at<uint8_t>(y, x)) on_frame[size_t(labels.at<int>(y, x))] = 1;
  on_frame[0] = 0;
  cv::Mat bright(grey.size(), CV_8U);
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x)
      bright.at<uint8_t>(y, x) = on_frame[size_t(labels.at<int>(y, x))] ? 0 : 255;
  cv::morphologyEx(bright, bright, cv::MORPH_OPEN,
                   cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bright, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  if (contours.empty()) return std::nullopt;
  const auto largest = std::max_element(
      contours.begin(), contours.end(),
      [](const auto& a, const auto& b) { return cv::contourArea(a) < cv::contourArea(b); });
  const double area = cv::contourArea(*largest), total = double(grey.total());
  if (area < kMinArea * total || area > kMaxArea * total) return std::nullopt;
  // A convex quadrilateral that the outline fills: a sheet, seen straight or in perspective.
  std::vector<cv::Point> hull, quad;
  cv::convexHull(*largest, hull);
  if (area < 0.85 * cv::contourArea(hull)) return std::nullopt;
  cv::approxPolyDP(hull, quad, 0.03 * cv::arcLength(hull, true), true);
  if (quad.size() != 4 || !cv::isContourConvex(quad) || cv::contourArea(quad) < 0.9 * area) {
    // A sheet whose corners fell dark (vignetting, a shadow) has lost them from the region: the
    // smallest rectangle around it, if the region fills most of that.
    cv::Point2f r[4];
    const cv::RotatedRect rect = cv::minAreaRect(hull);
    if (area < 0.85 * rect.size.area()) return std::nullopt;
    rect.points(r);
    quad.clear();
    for (const cv::Point2f& p : r) quad.emplace_back(int(std::lround(p.x)), int(std::lround(p.y)));
  }
  // Edged by straight lines: most of the outline runs along the quadrilateral (a sheet keeps its
  // edges where its corners fell dark; a thick bright stroke or a vignette's lit middle is round).
  std::vector<cv::Point2f> quad_f(quad.begin(), quad.end());
  size_t on_edge = 0;
  for (const cv::Point& p : *largest) {
    on_edge += std::abs(cv::pointPolygonTest(quad_f, cv::Point2f(p), true)) <= 2.5;
  }
  if (on_edge < 0.6 * double(largest->size())) return std::nullopt;
  // Clear of the frame, or running off one side of it. The lit part of a page beside a shadow
  // can look the same as the latter; what tells them apart is writing beyond the region: a desk
  // holds none, a shadow across a digit holds part of it. So a sheet running off the photo must
  // leave nothing much darker than the surface (beyond its grain) outside it.
  int off[4] = {0, 0, 0, 0};  // vertices on the left, top, right, bottom edge of the frame
  for (const cv::Point& p : quad) {
    off[0] += int(p.x < 2);
    off[1] += int(p.y < 2);
    off[2] += int(p.x > grey.cols - 3);
    off[3] += int(p.y > grey.rows - 3);
  }
  const int sides = (off[0] > 0) + (off[1] > 0) + (off[2] > 0) + (off[3] > 0);
  if (sides > 1 || off[0] + off[1] + off[2] + off[3] > 2) return std::nullopt;
  auto written_outside = [&] {
    cv::Mat beyond = cv::Mat::zeros(grey.size(), CV_8U);
    cv::fillConvexPoly(beyond, quad, cv::Scalar(255));
    cv::dilate(beyond, beyond, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(7, 7)));
    const double dark_below = surface - std::max(tol, 30.0);
    int written = 0, outside = 0;
    for (int y = 0; y < grey.rows; ++y) {
      const uint8_t* g = grey.ptr<uint8_t>(y);
      const uint8_t* b = beyond.ptr<uint8_t>(y);
      for (int x = 0; x < grey.cols; ++x) {
        if (b[x]) continue;
        ++outside;
        written += g[x] < dark_below;
      }
    }
    return written > outside / 500;
  };
  if (sides == 1 && written_outside()) return std::nullopt;
  // Much brighter than its surroundings, and holding ink (a bright stroke on a dark canvas
  // holds nothing darker) or else blank on a desk: a surface that is no black canvas (grey 20 or
  // more) with nothing written on it either. A blank sheet is then read, as "no ink", rather
  // than its edges.
  cv::Mat inside = cv::Mat::zeros(grey.size(), CV_8U);
  cv::fillConvexPoly(inside, quad, cv::Scalar(255));
  cv::Mat core, around;
  cv::erode(inside, core, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
  cv::dilate(inside, around, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
  cv::bitwise_not(around, around);
  const double paper = quantile_where(grey, core, 0.5), rest = quantile_where(grey, around, 0.5);
  if (paper < 0 || rest < 0 || paper - rest < kMinContrast) return std::nullopt;
  // Ink is what lies darker on the sheet, away from its outline: the canvas where the outline
  // falls short of the quadrilateral, and a soft edge that fades into the canvas, are dark too but
  // reach the outline. A bold bright stroke on a dark canvas (a fat 1 drawn white on black) is a
  // rectangle as well, and its soft edges passed for ink on it: the stroke was read as a sheet,
  // and its own edges as a hollow 0.
  cv::Mat region = cv::Mat::zeros(grey.size(), CV_8U);
  cv::drawContours(region, contours, int(largest - contours.begin()), cv::Scalar(255), cv::FILLED);
  const double ink_level = paper - 0.5 * (paper - rest);
  cv::Mat dark_mask = (grey < ink_level) & region, dark_labels;
  const int n_dark = cv::connectedComponents(dark_mask, dark_labels, 8, CV_32S);
  std::vector<uint8_t> reaches_outline(size_t(n_dark), 0);
  cv::Mat inner;
  cv::erode(region, inner, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  for (int y = 0; y < grey.rows; ++y) {
    const int* l = dark_labels.ptr<int>(y);
    const uint8_t* in = inner.ptr<uint8_t>(y);
    for (int x = 0; x < grey.cols; ++x)
      if (l[x] && !in[x]) reaches_outline[size_t(l[x])] = 1;
  }
  int dark = 0, n = 0;
  for (int y = 0; y < grey.rows; ++y) {
    const int* l = dark_labels.ptr<int>(y);
    const uint8_t* m = core.ptr<uint8_t>(y);
    for (int x = 0; x < grey.cols; ++x) {
      if (!m[x]) continue;
      ++n;
      dark += l[x] && !reaches_outline[size_t(l[x])];
    }
  }
  if (dark < std::max(3, n / 1000) && (rest < 20 || written_outside())) return std::nullopt;

  // Corners in order (top-left has the smallest x + y, bottom-right the largest; top-right the
  // largest x - y), in image pixels, moved inwards off the sheet's edge.
  std::array<cv::Point2f, 4> c;
  auto by = [&](auto key) {
    return *std::min_element(quad.begin(), quad.end(), [&](const cv::Point& a, const cv::Point& b) {
      return key(a) < key(b);
    });
  };
  c[0] = by([](const cv::Point& p) { return p.x + p.y; });
  c[1] = by([](const cv::Point& p) { return p.y - p.x; });
  c[2] = by([](const cv::Point& p) { return -(p.x + p.y); });
  c[3] = by([](const cv::Point& p) { return p.x - p.y; });
  cv::Point2f centre(0, 0);
  for (const cv::Point2f& p : c) centre += p * 0.25f;
  for (cv::Point2f& p : c) {
    p = p + (centre - p) * float(kInset);
    p = cv::Point2f(float((p.x + 0.5) / f - 0.5), float((p.y + 0.5) / f - 0.5));
  }
  return c;
}

SheetView sheet_view(const cv::Mat& image) {
  SheetView v;
  v.image = image;
  v.image_size = image.size();
  const std::optional<std::array<cv::Point2f, 4>> c = sheet_find(image);
  if (!c) return v;
  const auto& q = *c;
  const float w = std::max(float(cv::norm(q[1] - q[0])), float(cv::norm(q[2] - q[3])));
  const float h = std::max(float(cv::norm(q[3] - q[0])), float(cv::norm(q[2] - q[1])));
  const cv::Size size(std::max(1, int(std::lround(w))), std::max(1, int(std::lround(h))));
  const std::array<cv::Point2f, 4> flat = {cv::Point2f(0, 0), cv::Point2f(w - 1, 0),
                                           cv::Point2f(w - 1, h - 1), cv::Point2f(0, h - 1)};
  const cv::Mat fwd = cv::getPerspectiveTransform(q.data(), flat.data());
  cv::warpPerspective(image, v.image, fwd, size, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  v.back = fwd.inv();
  return v;
}

Box SheetView::to_image(const Box& b) const {
  return back.empty() ? b : ink_detail::box_map(b, back, image_size);
}

namespace ink_detail {

Box box_map(const Box& b, const cv::Mat& t, cv::Size bound, double scale) {
  const double* r0 = t.ptr<double>(0);
  const double* r1 = t.ptr<double>(1);
  const double* r2 = t.rows == 3 ? t.ptr<double>(2) : nullptr;
  double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
  for (int k = 0; k < 4; ++k) {
    const double x = (b.x + (k & 1 ? b.w : 0)) * scale, y = (b.y + (k & 2 ? b.h : 0)) * scale;
    const double d = r2 ? r2[0] * x + r2[1] * y + r2[2] : 1.0;
    const double ox = (r0[0] * x + r0[1] * y + r0[2]) / d / scale;
    const double oy = (r1[0] * x + r1[1] * y + r1[2]) / d / scale;
    x0 = std::min(x0, ox), y0 = std::min(y0, oy), x1 = std::max(x1, ox), y1 = std::max(y1, oy);
  }
  const int ix0 = std::clamp(int(std::floor(x0)), 0, bound.width);
  const int iy0 = std::clamp(int(std::floor(y0)), 0, bound.height);
  const int ix1 = std::clamp(int(std::ceil(x1)), ix0, bound.width);
  const int iy1 = std::clamp(int(std::ceil(y1)), iy0, bound.height);
  return Box{ix0, iy0, ix1 - ix0, iy1 - iy0};
}

}  // namespace ink_detail

}  // namespace scrawl::vision
