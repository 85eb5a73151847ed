// Finding the ink in a photo, a scan or a canvas drawing, whatever the paper and ink colours.
// Steps: alpha onto paper; pick the grey channel with the best ink contrast; a robust quadratic
// fit of the paper gives polarity and a rough mask (a wide median has the last word on light
// ink, which a flash's glare imitates); runs through the rough mask give the stroke width and
// tell strokes from areas (paper seen against a desk is not light ink); a closing wider than
// the strokes estimates the local paper (gradients, shadows) and the image is divided by it;
// threshold (Otsu, floored by the noise), strokes grown into a glare the strokes bear out;
// connected components minus specks.
// Tested by tests/unit/test_vision.cpp (polarity, colours, gradients, noise, alpha, specks,
// glare).
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <tuple>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "host/error.h"
#include "host/vision/ink_internal.h"
#include "host/vision/preprocess.h"

namespace scrawl::vision {

cv::Mat ink_detail::depth_to_8u(const cv::Mat& image) {
  if (image.empty()) throw FormatError("empty image");
  if (image.channels() < 1 || image.channels() > 4) {
    throw FormatError("unsupported channel count " + std::to_string(image.channels()));
  }
  cv::Mat out;
  switch (image.depth()) {
    case CV_8U:
      out = image;
      break;
    case CV_16U:
      image.convertTo(out, CV_8U, 1.0 / 257.0);
      break;
    case CV_32F:
    case CV_64F:  // floats are taken as [0, 1]
      image.convertTo(out, CV_8U, 255.0);
      break;
    default:
      throw FormatError("unsupported pixel depth");
  }
  if (out.channels() == 2) {
    cv::Mat ch[2];
    cv::split(out, ch);
    cv::Mat planes[4] = {ch[0], ch[0], ch[0], ch[1]};
    cv::merge(planes, 4, out);
  }
  return out;
}

namespace {

using ink_detail::basis;
using ink_detail::ByteHist;
using ink_detail::coord;
using ink_detail::depth_to_8u;
using ink_detail::kInlierBand;
using ink_detail::kNarrowFirstBand;
using ink_detail::kSampleSide;
using ink_detail::paper_fit;
using ink_detail::paper_local;
using ink_detail::PaperFit;
using ink_detail::quantile_hist;
using ink_detail::quantile_pick;
using ink_detail::quantile_select;
using ink_detail::quantile_select_into;

constexpr int kWorkMaxSide = 1024;  // processing resolution cap: plenty for a 20 px result
// A flash's glare (a broad patch of paper lit towards white) is looked for in images at least
// this large: a 28x28 crop has none, and the checks below would only cost it time.
constexpr int kGlareMinSide = 64;
// The wide median's dark mass beyond this many times its light mass says dark ink without asking
// which side is sharper (a shadow's edge is sharper than pen strokes).
constexpr double kMedianDarkSure = 3.0;
// ...and so do dark pieces apart from every light one (see mass_apart) with three times the mass
// of light pieces apart from every dark one, when they hold this share of all the mass: a light
// drawing's own pieces, haloed by the median, are rarely apart, and the dark specks that are
// weigh next to nothing.
constexpr double kApartDarkShare = 0.1;
// The least share of the chosen side's contrast mass that the other side must hold to be taken
// for the ink instead, when the chosen side is a blob (see ink_find).
constexpr double kOtherSideShare = 0.02;
// The local paper found again on the photo divided by the quadratic fit is kept when the paper's
// spread in ink strength falls below this share of the first pass's (see ink_find).
constexpr double kFlatSpreadDrop = 1.0 / 3.0;
constexpr double kGlareMaxGain = 6.0;   // glare contrast restored at most this many times
constexpr double kGlareMinGain = 1.05;  // weak ink joins a stroke only where lifted this much
constexpr double kWeakInkShare = 0.3;   // ...and where it is this share of the ink near it
constexpr double kWeakInkFloor = 0.04;  // ...and above this (and 4 sigmas of the noise)
constexpr double kLocalWindow = 2.0;    // "near": within this many stroke widths
constexpr double kNoisySnr = 6.0;      // below this ink/noise ratio the rough residual is smoothed
constexpr double kRoughSmooth = 0.008;  // ...by a Gaussian of this share of the long side (<= 3 px)

int odd(double x) { return std::max(1, int(std::lround(x)) | 1); }

// Per-channel median of the pixels where mask is set.
cv::Scalar masked_median(const cv::Mat& bgr, const cv::Mat& mask) {
  cv::Scalar out;
  for (int c = 0; c < 3; ++c) {
    int channels[] = {c};
    int hist_size[] = {256};
    float range[] = {0, 256};
    const float* ranges[] = {range};
    cv::Mat hist;
    cv::calcHist(&bgr, 1, channels, mask, hist, 1, hist_size, ranges);
    double total = cv::sum(hist)[0], acc = 0;
    for (int i = 0; i < 256; ++i) {
      acc += hist.at<float>(i);
      if (acc >= total / 2) {
        out[c] = i;
        break;
      }
    }
  }
  return out;
}

// BGRA -> BGR on paper. When most pixels are opaque the alpha is a cut-out and the paper is the
// opaque pixels' median colour; when most are transparent the alpha carries the drawing (a
// canvas export) and the paper is white or black, whichever contrasts with the opaque pixels:
// then `drawn_in_alpha` is set, and the paper is exactly flat.
cv::Mat alpha_composite(const cv::Mat& bgra, bool* drawn_in_alpha) {
  *drawn_in_alpha = false;
  cv::Mat planes[4];
  cv::split(bgra, planes);
  const cv::Mat& alpha = planes[3];
  cv::Mat bgr;
  cv::merge(planes, 3, bgr);
  double a_min, a_max;
  cv::minMaxLoc(alpha, &a_min, &a_max);
  if (a_min >= 255 || a_max <= 0) return bgr;  // alpha says nothing

  cv::Mat opaque = alpha >= 128;
  double opaque_fraction = cv::mean(alpha)[0] / 255.0;
  cv::Scalar paper;
  if (opaque_fraction >= 0.5 || cv::countNonZero(opaque) == 0) {
    paper = cv::countNonZero(opaque) ? masked_median(bgr, opaque) : cv::Scalar::all(255);
  } else {
    cv::Mat grey;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    paper = cv::Scalar::all(cv::mean(grey, opaque)[0] < 128 ? 255 : 0);
    *drawn_in_alpha = true;
  }
  cv::Mat out(bgr.size(), CV_8UC3);
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3b* c = bgr.ptr<cv::Vec3b>(y);
    const uint8_t* a = alpha.ptr<uint8_t>(y);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      float w = a[x] / 255.0f;
      for (int k = 0; k < 3; ++k) {
        o[x][k] = cv::saturate_cast<uint8_t>(c[x][k] * w + paper[k] * (1.0f - w));
      }
    }
  }
  return out;
}

}  // namespace

namespace ink_detail {

// The arithmetic of paper_fit_reference in the same order, so the same values bit for bit, at a
// fraction of the cost: the grid's coordinates computed once per row and column; the first
// round's medians (of whole numbers) from histograms; later selections in one reused buffer;
// the normal equations summed over a list of the inliers into plain locals; and no further
// rounds once a round keeps the same inliers as the round before: its solve would get the very
// same equations and return the same coefficients, so every later round would repeat it exactly.
PaperFit paper_fit(const cv::Mat& grey8, double first_band) {
  // Buffers kept from call to call on this thread: a request would otherwise allocate a dozen
  // of them, and on a photo's 96x96 grid the quadratic's terms (440 KB) come from mmap.
  struct Scratch {
    std::vector<int> xs;
    std::vector<double> cx, cys, v, r, dev, select, dark_mag, light_mag;
    std::vector<uint32_t> inliers, previous;
    std::vector<std::array<double, 6>> f;
  };
  thread_local Scratch ws;
  const int nx = std::min(grey8.cols, kSampleSide), ny = std::min(grey8.rows, kSampleSide);
  std::vector<int>& xs = ws.xs;
  std::vector<double>& cx = ws.cx;
  xs.resize(size_t(nx));
  cx.resize(size_t(nx));
  for (int i = 0; i < nx; ++i) {
    xs[size_t(i)] = std::min(grey8.cols - 1, int((i + 0.5) * grey8.cols / nx));
    cx[size_t(i)] = coord(xs[size_t(i)], grey8.cols);
  }
  const size_t n = size_t(nx) * size_t(ny);
  std::vector<double>&v = ws.v, &cys = ws.cys;
  v.resize(n);
  cys.resize(size_t(ny));
  ByteHist counts;
  for (int j = 0, k = 0; j < ny; ++j) {
    const int y = std::min(grey8.rows - 1, int((j + 0.5) * grey8.rows / ny));
    cys[size_t(j)] = coord(y, grey8.rows);
    const uint8_t* row = grey8.ptr<uint8_t>(y);
    for (int i = 0; i < nx; ++i, ++k) {
      const uint8_t g = row[xs[size_t(i)]];
      v[size_t(k)] = g;
      counts.add(size_t(k), g);
    }
  }
  const std::array<uint32_t, 256> hist = counts.total();
  // The quadratic's terms at every sample, made only once a solve needs them (flat digital paper
  // never does).
  std::vector<std::array<double, 6>>& f = ws.f;
  bool have_terms = false;
  auto terms = [&] {
    if (have_terms) return;
    have_terms = true;
    f.resize(n);
    for (int j = 0, k = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i, ++k) basis(cx[size_t(i)], cys[size_t(j)], f[size_t(k)].data());
  };
  PaperFit fit;
  fit.coef[0] = quantile_hist(hist, n, 0.5);
  std::vector<double>&r = ws.r, &dev = ws.dev, &scratch = ws.select;
  r.resize(n);
  dev.resize(n);
  std::vector<uint32_t>&inliers = ws.inliers, &previous = ws.previous;
  inliers.clear();
  previous.clear();
  double med = 0.0;
  for (int iter = 0;; ++iter) {
    if (!have_terms) {
      // No solve yet: the fit is the constant c, and the sum below would be c exactly (the
      // other terms add 0).
      for (size_t i = 0; i < n; ++i) r[i] = v[i] - fit.coef[0];
    } else {
      for (size_t i = 0; i < n; ++i) {
        double p = 0;
        for (int k = 0; k < 6; ++k) p += fit.coef[k] * f[i][k];
        r[i] = v[i] - p;
      }
    }
    if (iter == 0) {
      // The paper is still the constant median c, so r = v - c are whole numbers, and so are
      // their median ((the median of v) - c = 0) and the deviations: histograms give both.
      med = quantile_hist(hist, n, 0.5) - fit.coef[0];
      ByteHist dev_hist;
      for (size_t i = 0; i < n; ++i) {
        dev[i] = std::abs(r[i] - med);
        dev_hist.add(i, size_t(dev[i]));
      }
      fit.sigma = std::max(1.4826 * quantile_hist(dev_hist.total(), n, 0.5), 1.0);
    } else {
      med = quantile_select_into(r, 0.5, scratch);
      for (size_t i = 0; i < n; ++i) dev[i] = std::abs(r[i] - med);
      fit.sigma = std::max(1.4826 * quantile_select_into(dev, 0.5, scratch), 1.0);
    }
    if (iter == 3) break;
    // Least squares over the inliers (paper): normal equations, 6x6, upper triangle.
    inliers.clear();
    const double band = (iter == 0 ? first_band : kInlierBand) * fit.sigma;
    for (size_t i = 0; i < n; ++i) {
      if (!(dev[i] > band)) inliers.push_back(uint32_t(i));
    }
    if (inliers.size() < 12) break;
    if (iter > 0 && inliers == previous) break;  // a fixed point: see above
    // Every inlier exactly on the fit (flat digital paper): the fit is the least-squares
    // solution already (the reference skips the solve). With the usual band the next round would
    // find the very same inliers, so this is a fixed point; after a narrow first band, the next
    // round looks wider.
    if (std::all_of(inliers.begin(), inliers.end(), [&](uint32_t i) { return r[i] == 0.0; })) {
      if (iter > 0 || first_band == kInlierBand) break;
      std::swap(inliers, previous);
      continue;
    }
    terms();
    double ata[6][6] = {}, atb[6] = {};
    for (uint32_t i : inliers) {
      const double* fi = f[i].data();
      for (int a = 0; a < 6; ++a) {
        atb[a] += fi[a] * v[i];
        for (int b = a; b < 6; ++b) ata[a][b] += fi[a] * fi[b];
      }
    }
    cv::Matx66d m;
    cv::Vec6d rhs, sol;
    for (int a = 0; a < 6; ++a) {
      rhs[a] = atb[a];
      for (int b = 0; b < 6; ++b) m(a, b) = b >= a ? ata[a][b] : ata[b][a];
    }
    cv::solve(m, rhs, sol, cv::DECOMP_SVD);
    for (int k = 0; k < 6; ++k) fit.coef[k] = sol[k];
    std::swap(inliers, previous);
  }
  fit.coef[0] += med;

  fit.threshold = std::max(4.0 * fit.sigma, 6.0);
  double dark = 0, light = 0;
  std::vector<double>&dark_mag = ws.dark_mag, &light_mag = ws.light_mag;
  dark_mag.clear();
  light_mag.clear();
  for (size_t i = 0; i < n; ++i) {
    double rc = r[i] - med;
    if (rc < -fit.threshold) {
      dark += -rc - fit.threshold;
      dark_mag.push_back(-rc);
    } else if (rc > fit.threshold) {
      light += rc - fit.threshold;
      light_mag.push_back(rc);
    }
  }
  fit.dark_ink = dark >= light;
  const std::vector<double>& ink = fit.dark_ink ? dark_mag : light_mag;
  if (ink.size() >= std::max<size_t>(3, n / 2000)) {
    fit.snr = quantile_select_into(ink, 0.5, scratch) / fit.sigma;
  }
  return fit;
}

}  // namespace ink_detail

namespace {

// The fitted paper at every pixel into p (CV_32F, reallocated only when the size changes). Per
// row the quadratic is a + b x + c3 x^2.
void paper_render(const PaperFit& fit, cv::Size size, cv::Mat& p) {
  const auto& c = fit.coef;
  thread_local std::vector<float> xs;
  xs.resize(size_t(size.width));
  for (int x = 0; x < size.width; ++x) xs[size_t(x)] = float(coord(x, size.width));
  p.create(size, CV_32F);
  for (int y = 0; y < size.height; ++y) {
    double yn = coord(y, size.height);
    float a = float(c[0] + c[2] * yn + c[5] * yn * yn), b = float(c[1] + c[4] * yn);
    float c3 = float(c[3]);
    float* row = p.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) row[x] = a + xs[size_t(x)] * (b + c3 * xs[size_t(x)]);
  }
}

// CV_8U: 255 where the CV_32F image is above t (or, !above, below t), as `img > t` (`img < t`)
// without OpenCV's per-call set-up.
cv::Mat mask_beyond(const cv::Mat& img, float t, bool above) {
  cv::Mat out(img.size(), CV_8U);
  for (int y = 0; y < img.rows; ++y) {
    const float* r = img.ptr<float>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    if (above) {
      for (int x = 0; x < img.cols; ++x) o[x] = r[x] > t ? 255 : 0;
    } else {
      for (int x = 0; x < img.cols; ++x) o[x] = r[x] < t ? 255 : 0;
    }
  }
  return out;
}

// Samples of a CV_32F image on the statistics grid.
std::vector<float> grid_samples(const cv::Mat& img) {
  int nx = std::min(img.cols, kSampleSide), ny = std::min(img.rows, kSampleSide);
  // The grid's columns, worked out once rather than per row (a double division each).
  std::array<int, kSampleSide> cols;
  for (int i = 0; i < nx; ++i)
    cols[size_t(i)] = std::min(img.cols - 1, int((i + 0.5) * img.cols / nx));
  std::vector<float> out(size_t(nx) * ny);
  float* o = out.data();
  for (int j = 0; j < ny; ++j) {
    const float* row = img.ptr<float>(std::min(img.rows - 1, int((j + 0.5) * img.rows / ny)));
    for (int i = 0; i < nx; ++i) *o++ = row[cols[size_t(i)]];
  }
  return out;
}

// What a binary mask's pieces look like, from the horizontal and vertical runs through each
// pixel (linear time). Across a stroke of width w at any angle the shorter of the two runs is
// w to 1.4 w; inside an area (paper seen against a desk, a shadow) both runs are long.
struct MaskShape {
  float stroke_width = 1.0f;   // contrast-weighted median shorter run over stroke pixels
  double blob_fraction = 0.0;  // share of pixels whose runs are long both ways
  int largest_extent = 0;      // the longest run: a lower bound on the largest piece's size
};

MaskShape mask_shape(const cv::Mat& mask, const cv::Mat& contrast, int long_side) {
  MaskShape shape;
  const int rows = mask.rows, cols = mask.cols;
  cv::Mat run(mask.size(), CV_32S, cv::Scalar(0));  // horizontal run, then min with vertical
  for (int y = 0; y < rows; ++y) {
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    int* r = run.ptr<int>(y);
    for (int x = 0; x < cols;) {
      if (!mk[x]) {
        ++x;
        continue;
      }
      int e = x;
      while (e < cols && mk[e]) ++e;
      std::fill(r + x, r + e, e - x);
      shape.largest_extent = std::max(shape.largest_extent, e - x);
      x = e;
    }
  }
  std::vector<int> start(size_t(cols), -1);  // the open vertical run in each column
  for (int y = 0; y <= rows; ++y) {
    const uint8_t* mk = y < rows ? mask.ptr<uint8_t>(y) : nullptr;
    for (int x = 0; x < cols; ++x) {
      bool on = mk && mk[x];
      int& s0 = start[size_t(x)];
      if (on && s0 < 0) s0 = y;
      if (!on && s0 >= 0) {
        for (int yy = s0; yy < y; ++yy) {
          int& r = run.at<int>(yy, x);
          r = std::min(r, y - s0);
        }
        shape.largest_extent = std::max(shape.largest_extent, y - s0);
        s0 = -1;
      }
    }
  }
  // Weighted by contrast, so faint lines (ruled paper) and noise count far less than strokes.
  const int blob_len = std::max(8, int(0.15 * long_side));
  std::vector<double> weight(size_t(blob_len) + 1, 0.0);
  size_t pixels = 0, blob = 0;
  for (int y = 0; y < rows; ++y) {
    const int* r = run.ptr<int>(y);
    const float* c = contrast.ptr<float>(y);
    for (int x = 0; x < cols; ++x) {
      if (r[x] == 0) continue;
      ++pixels;
      if (r[x] > blob_len) {
        ++blob;
      } else {
        weight[size_t(r[x])] += std::abs(c[x]);
      }
    }
  }
  shape.blob_fraction = pixels ? double(blob) / double(pixels) : 0.0;
  double total = std::accumulate(weight.begin(), weight.end(), 0.0), acc = 0.0;
  for (size_t len = 1; len < weight.size() && total > 0; ++len) {
    acc += weight[len];
    if (acc >= 0.5 * total) {
      shape.stroke_width = float(0.9 * double(len));
      break;
    }
  }
  return shape;
}

// The contrast mass beyond `t` of the pieces of `mask` that do not touch `other` (8-neighbours).
// Where the paper has a hard step (a shadow's edge) and the paper estimate a soft one, the
// residual holds two bands side by side along the step, one dark and one light; pen strokes
// stand alone on one side. So the mass left once touching pieces are dropped is the strokes'.
double mass_apart(const cv::Mat& mask, const cv::Mat& other, const cv::Mat& resid, float t) {
  cv::Mat labels, stats, near;
  const int n = ink_detail::components_label(mask, labels, stats);
  cv::dilate(other, near, cv::Mat());
  std::vector<double> mass(size_t(std::max(n, 1)), 0.0);
  std::vector<uint8_t> touches(size_t(std::max(n, 1)), 0);
  for (int y = 0; y < mask.rows; ++y) {
    const int* lab = labels.ptr<int>(y);
    const uint8_t* nr = near.ptr<uint8_t>(y);
    const float* r = resid.ptr<float>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (lab[x] <= 0) continue;
      mass[size_t(lab[x])] += std::abs(r[x]) - t;
      if (nr[x]) touches[size_t(lab[x])] = 1;
    }
  }
  double total = 0.0;
  for (int i = 1; i < n; ++i) total += touches[size_t(i)] ? 0.0 : mass[size_t(i)];
  return total;
}

// How sharply a mask's pieces stand out of a residual: the mean step of the residual across the
// mask's edge (between 4-neighbours, one in and one out) over its mean magnitude inside. A pen
// stroke's edge is a pixel or two wide, so the step is a good share of the stroke's contrast; a
// flash's glare fades out over tens of pixels.
double mask_sharpness(const cv::Mat& mask, const cv::Mat& resid) {
  double inside = 0.0, step = 0.0;
  size_t n_in = 0, n_step = 0;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    const uint8_t* below = y + 1 < mask.rows ? mask.ptr<uint8_t>(y + 1) : nullptr;
    const float* r = resid.ptr<float>(y);
    const float* r_below = below ? resid.ptr<float>(y + 1) : nullptr;
    for (int x = 0; x < mask.cols; ++x) {
      if (mk[x]) inside += std::abs(r[x]), ++n_in;
      if (x + 1 < mask.cols && (mk[x] != 0) != (mk[x + 1] != 0))
        step += std::abs(r[x] - r[x + 1]), ++n_step;
      if (below && (mk[x] != 0) != (below[x] != 0)) step += std::abs(r[x] - r_below[x]), ++n_step;
    }
  }
  if (n_in == 0 || n_step == 0 || inside <= 0.0) return 0.0;
  return (step / double(n_step)) / (inside / double(n_in));
}

// How much a glare has flattened the ink's contrast at each pixel, from the local paper bg
// (CV_32F, dark ink on light paper): an empty Mat when the paper leaves no room for one. Glare
// adds light: a pixel of value v under a glare of strength G reads v + G (255 - v), so the
// paper P reads bg = P + G (255 - P), and the difference between ink and paper shrinks by
// (1 - G) = (255 - bg) / (255 - P). Where the local paper is brighter than the typical paper P
// (the median of bg), the ink's strength 1 - g / bg is multiplied back by
// bg (255 - P) / ((255 - bg) P), capped at kGlareMaxGain; elsewhere by 1. Paper that is merely
// lit more brightly (which keeps the ink's contrast) reads the same way, so glare_share decides
// how much of this gain is real, and the gain never feeds the thresholds.
cv::Mat glare_gain(const cv::Mat& bg) {
  constexpr float kWhite = 255.0f;
  std::vector<float> samples = grid_samples(bg);
  const float paper = std::max(1.0f, float(quantile_pick(samples, 0.5)));
  if (paper >= kWhite - 8.0f) return {};  // white paper: a glare on it cannot be seen
  cv::Mat gain(bg.size(), CV_32F);
  for (int y = 0; y < bg.rows; ++y) {
    const float* b = bg.ptr<float>(y);
    float* o = gain.ptr<float>(y);
    for (int x = 0; x < bg.cols; ++x) {
      const float f =
          b[x] > paper ? b[x] * (kWhite - paper) / (std::max(kWhite - b[x], 1.0f) * paper) : 1.0f;
      o[x] = std::min(f, float(kGlareMaxGain));
    }
  }
  return gain;
}

// How much of the gain in `gain` (glare_gain) the strokes found so far (mask, CV_8U) bear out, as
// an exponent in [0, 1]: under a glare the strokes on lifted paper (gain >= 1.3) are weaker than
// those on unlifted paper (gain <= 1.1) by about the gain, while brighter light leaves them as
// strong. So the exponent is log(s unlifted / s lifted) / log(gain there), medians over the
// stroke pixels (s: the smoothed ink strength). 0 when either side has fewer than 20 pixels:
// a digit clear of the glare needs no help, and one wholly inside it gives nothing to compare.
double glare_share(const cv::Mat& gain, const cv::Mat& mask, const cv::Mat& s) {
  std::vector<float> unlifted, lifted, lift;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    const float* g = gain.ptr<float>(y);
    const float* v = s.ptr<float>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (!mk[x]) continue;
      if (g[x] <= 1.1f) {
        unlifted.push_back(v[x]);
      } else if (g[x] >= 1.3f) {
        lifted.push_back(v[x]);
        lift.push_back(g[x]);
      }
    }
  }
  if (unlifted.size() < 20 || lifted.size() < 20) return 0.0;
  const double s_unlifted = quantile_select(std::move(unlifted), 0.5);
  const double s_lifted = std::max(double(quantile_select(std::move(lifted), 0.5)), 1e-3);
  const double g = quantile_select(std::move(lift), 0.5);
  return std::clamp(std::log(s_unlifted / s_lifted) / std::log(g), 0.0, 1.0);
}

// Hysteresis under a glare: the strokes of `mask` (CV_8U) grow into connected weak ink, where
// s_glare (the smoothed strength times glare_gain) is above `floor` and at least kWeakInkShare
// of the strongest s_glare near it, and where the glare has lifted the paper (gain above
// kGlareMinGain). A stroke that runs into a glare fades out of the threshold but not out of
// this; the rims of strokes elsewhere (weaker than a share of their cores) and the grain of
// a desk beside the paper (darker than the paper, not lifted) are not taken in.
void mask_grow_under_glare(cv::Mat& mask, const cv::Mat& s_glare, const cv::Mat& gain, float floor,
                           int window) {
  cv::Mat near;
  cv::dilate(s_glare, near, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(window, window)));
  cv::Mat grown(mask.size(), CV_8U);
  const float share = float(kWeakInkShare), min_gain = float(kGlareMinGain);
  for (int y = 0; y < mask.rows; ++y) {
    const float* v = s_glare.ptr<float>(y);
    const float* n = near.ptr<float>(y);
    const float* g = gain.ptr<float>(y);
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    uint8_t* o = grown.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      const bool weak = v[x] > floor && v[x] >= share * n[x] && g[x] > min_gain;
      o[x] = mk[x] || weak ? 255 : 0;
    }
  }
  cv::Mat labels, stats;
  const int n = ink_detail::components_label(grown, labels, stats);
  std::vector<uint8_t> holds_stroke(size_t(std::max(n, 1)), 0);
  for (int y = 0; y < mask.rows; ++y) {
    const int* lb = labels.ptr<int>(y);
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (mk[x]) holds_stroke[size_t(lb[x])] = 1;
    }
  }
  for (int y = 0; y < mask.rows; ++y) {
    const int* lb = labels.ptr<int>(y);
    uint8_t* o = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) o[x] = holds_stroke[size_t(lb[x])] ? 255 : 0;
  }
}

// Quantile of a CV_32F image's values where mask is set, subsampled to at most ~64k values.
double masked_quantile(const cv::Mat& img, const cv::Mat& mask, double q) {
  int count = cv::countNonZero(mask);
  if (count == 0) return 0.0;
  int step = std::max(1, int(std::sqrt(count / 65536.0)) + (count > 65536 ? 1 : 0));
  std::vector<float> v;
  v.reserve(size_t(count / (step * step) + img.cols + 1));
  for (int y = 0; y < img.rows; y += step) {
    const float* row = img.ptr<float>(y);
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    for (int x = 0; x < img.cols; x += step) {
      if (mk[x]) v.push_back(row[x]);
    }
  }
  return quantile_select(std::move(v), q);
}

// ---- the local paper ----

// Running max (kMax) or min over windows of 2r+1 rows, clipped to the image: as OpenCV's
// dilate/erode with their default border, which never wins. Whole-image shifted operations, so
// the loops are long and vectorise; rows take the same pass between two transposes.
template <bool kMax>
void column_extreme(const uint8_t* in, uint8_t* out, int rows, int cols, int r) {
  const size_t n = size_t(rows) * size_t(cols);
  std::copy(in, in + n, out);
  for (int dy = 1; dy <= r && dy < rows; ++dy) {
    const size_t off = size_t(dy) * size_t(cols);
    for (size_t i = 0; i + off < n; ++i)
      out[i] = kMax ? std::max(out[i], in[i + off]) : std::min(out[i], in[i + off]);
    for (size_t i = off; i < n; ++i)
      out[i] = kMax ? std::max(out[i], in[i - off]) : std::min(out[i], in[i - off]);
  }
}

void transpose(const uint8_t* in, uint8_t* out, int rows, int cols) {
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) out[size_t(x) * rows + y] = in[size_t(y) * cols + x];
  }
}

// OpenCV's BORDER_REFLECT_101 for an index at most one length outside [0, n).
int reflect101(int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; }

// paper_local on a small image (see the condition in paper_local): the closing by passes of
// column_extreme; the box sums are of integers, exact in any order, so scaling each as
// cv::blur does (by 1 / area, in double) gives its very values.
cv::Mat paper_local_small(const cv::Mat& gd8, int k, int soften) {
  const int rows = gd8.rows, cols = gd8.cols, r = k / 2, rb = soften / 2;
  const size_t n = size_t(rows) * size_t(cols);
  thread_local std::vector<uint8_t> src, a, b;  // every element written before it is read
  src.resize(n), a.resize(n), b.resize(n);
  for (int y = 0; y < rows; ++y) {
    std::copy(gd8.ptr<uint8_t>(y), gd8.ptr<uint8_t>(y) + cols, src.data() + size_t(y) * cols);
  }
  // Closing = erode(rows, columns) after dilate(rows, columns); each direction is separable.
  column_extreme<true>(src.data(), a.data(), rows, cols, r);
  transpose(a.data(), b.data(), rows, cols);
  column_extreme<true>(b.data(), a.data(), cols, rows, r);  // along the rows, transposed
  column_extreme<false>(a.data(), b.data(), cols, rows, r);
  transpose(b.data(), a.data(), cols, rows);
  column_extreme<false>(a.data(), b.data(), rows, cols, r);
  const uint8_t* closed = b.data();
  // Row sums over a copy of each row padded by mirroring, then column sums of those.
  thread_local std::vector<int> hsum, pad, col;
  hsum.resize(n), pad.resize(size_t(cols + 2 * rb)), col.resize(size_t(cols));
  for (int y = 0; y < rows; ++y) {
    const uint8_t* c = closed + size_t(y) * cols;
    for (int x = -rb; x < cols + rb; ++x) pad[size_t(x + rb)] = c[reflect101(x, cols)];
    int* h = hsum.data() + size_t(y) * cols;
    std::fill(h, h + cols, 0);
    for (int dx = 0; dx <= 2 * rb; ++dx) {
      for (int x = 0; x < cols; ++x) h[x] += pad[size_t(x + dx)];
    }
  }
  const double scale = 1. / (soften * soften);
  cv::Mat bg(rows, cols, CV_32F);
  for (int y = 0; y < rows; ++y) {
    std::fill(col.begin(), col.end(), 0);
    for (int dy = -rb; dy <= rb; ++dy) {
      const int* h = hsum.data() + size_t(reflect101(y + dy, rows)) * cols;
      for (int x = 0; x < cols; ++x) col[size_t(x)] += h[x];
    }
    float* o = bg.ptr<float>(y);
    const uint8_t* c = closed + size_t(y) * cols;
    for (int x = 0; x < cols; ++x) {
      const float box = float(double(col[size_t(x)]) * scale);
      o[x] = std::max(std::min(box, float(c[x])), 1.0f);
    }
  }
  return bg;
}

}  // namespace

namespace ink_detail {

cv::Mat paper_local_opencv(const cv::Mat& gd8, int k, int soften) {
  cv::Mat closed8, closed, bg;
  cv::morphologyEx(gd8, closed8, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
  closed8.convertTo(closed, CV_32F);
  cv::blur(closed, bg, cv::Size(soften, soften));  // soften the blocks (box: O(1) per pixel)
  cv::min(bg, closed, bg);
  cv::max(bg, 1.0f, bg);
  return bg;
}

cv::Mat paper_local(const cv::Mat& gd8, int k, int soften) {
  // Direct loops cost about pixels * k; OpenCV's filters about pixels plus a set-up that, on a
  // 28x28 upload, is most of the time. Mirroring needs the box within one length of the image;
  // and OpenCV's filters read a submatrix's neighbours in its parent, which the loops do not.
  const bool small = gd8.total() * size_t(k) <= 65536 && soften <= std::min(gd8.rows, gd8.cols) &&
                     !gd8.isSubmatrix();
  return small ? paper_local_small(gd8, k, soften) : paper_local_opencv(gd8, k, soften);
}

int components_label_opencv(const cv::Mat& mask, cv::Mat& labels, cv::Mat& stats) {
  cv::Mat centroids;
  return cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
}

// One raster pass with union-find (a component's smallest provisional label is its root), then
// the roots numbered in OpenCV's order. A 2x2 block's set pixels are 8-adjacent to each other,
// so each block holds at most one component; OpenCV opens a label at the first block of a
// component in raster order of blocks and its unions keep the smallest, so numbering the roots
// by the first block where they appear gives its labels. Each provisional label keeps its box,
// area and first block, merged into its root's at the end.
int components_label(const cv::Mat& mask, cv::Mat& labels, cv::Mat& stats) {
  CV_Assert(mask.type() == CV_8U);
  if (mask.total() > 65536) return components_label_opencv(mask, labels, stats);
  const int rows = mask.rows, cols = mask.cols, block_cols = (cols + 1) / 2;
  labels.create(rows, cols, CV_32S);
  struct Part {
    int parent, first_block, x0, y0, x1, y1, area;
  };
  thread_local std::vector<Part> parts;
  thread_local std::vector<int> final_label;
  parts.assign(1, Part{0, 0, 0, 0, 0, 0, 0});
  auto root = [&](int a) {
    while (parts[size_t(a)].parent != a)
      a = parts[size_t(a)].parent = parts[size_t(parts[size_t(a)].parent)].parent;
    return a;
  };
  auto join = [&](int a, int b) {  // both > 0; the smaller root wins
    a = root(a), b = root(b);
    if (a < b) std::swap(a, b);
    parts[size_t(a)].parent = b;
    return b;
  };
  // The background's box, as OpenCV's stats row 0.
  int bg_x0 = INT_MAX, bg_y0 = INT_MAX, bg_x1 = INT_MIN, bg_y1 = INT_MIN, bg_area = 0;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    int* lab = labels.ptr<int>(y);
    const int* up = y > 0 ? labels.ptr<int>(y - 1) : nullptr;
    const int block_row = (y / 2) * block_cols;
    for (int x = 0; x < cols; ++x) {
      if (!mk[x]) {
        lab[x] = 0;
        bg_x0 = std::min(bg_x0, x), bg_x1 = std::max(bg_x1, x);
        bg_y0 = std::min(bg_y0, y), bg_y1 = y;
        ++bg_area;
        continue;
      }
      // N touches NW, NE and W (all adjacent to it, so already joined to it); otherwise W and
      // NW touch each other, and only NE may join a second label.
      const int w = x > 0 ? lab[x - 1] : 0;
      int l = up ? up[x] : 0;
      if (!l) {
        const int nw = up && x > 0 ? up[x - 1] : 0, ne = up && x + 1 < cols ? up[x + 1] : 0;
        l = w ? w : nw;
        if (ne) l = l ? join(l, ne) : ne;
      }
      const int block = block_row + x / 2;
      if (!l) {
        l = int(parts.size());
        parts.push_back(Part{l, block, x, y, x, y, 0});
      }
      lab[x] = l;
      Part& p = parts[size_t(l)];
      p.first_block = std::min(p.first_block, block);
      p.x0 = std::min(p.x0, x), p.x1 = std::max(p.x1, x), p.y1 = y;
      ++p.area;
    }
  }
  // Roots: every parent is at most its label, so one increasing pass resolves them all, and
  // merges each part into its root (y0 only falls with the label, so the root's holds).
  std::vector<int> roots;
  for (size_t i = 1; i < parts.size(); ++i) {
    Part& p = parts[i];
    p.parent = parts[size_t(p.parent)].parent;
    if (p.parent == int(i)) {
      roots.push_back(int(i));
      continue;
    }
    Part& r = parts[size_t(p.parent)];
    r.first_block = std::min(r.first_block, p.first_block);
    r.x0 = std::min(r.x0, p.x0), r.x1 = std::max(r.x1, p.x1);
    r.y0 = std::min(r.y0, p.y0), r.y1 = std::max(r.y1, p.y1);
    r.area += p.area;
  }
  std::sort(roots.begin(), roots.end(), [&](int a, int b) {
    return parts[size_t(a)].first_block < parts[size_t(b)].first_block;
  });
  const int n = int(roots.size()) + 1;
  final_label.assign(parts.size(), 0);
  stats.create(n, 5, CV_32S);
  // Width = right - left + 1 in OpenCV's int arithmetic, which wraps for a background with no
  // pixel (its box stays at INT_MAX, INT_MAX, INT_MIN, INT_MIN).
  auto stats_set = [&](int l, int x0, int y0, int x1, int y1, int area) {
    int* st = stats.ptr<int>(l);
    st[cv::CC_STAT_LEFT] = x0;
    st[cv::CC_STAT_TOP] = y0;
    st[cv::CC_STAT_WIDTH] = int(unsigned(x1) - unsigned(x0) + 1u);
    st[cv::CC_STAT_HEIGHT] = int(unsigned(y1) - unsigned(y0) + 1u);
    st[cv::CC_STAT_AREA] = area;
  };
  stats_set(0, bg_x0, bg_y0, bg_x1, bg_y1, bg_area);
  for (int k = 1; k < n; ++k) {
    const Part& r = parts[size_t(roots[size_t(k - 1)])];
    final_label[size_t(roots[size_t(k - 1)])] = k;
    stats_set(k, r.x0, r.y0, r.x1, r.y1, r.area);
  }
  for (size_t i = 1; i < parts.size(); ++i) final_label[i] = final_label[size_t(parts[i].parent)];
  for (int y = 0; y < rows; ++y) {
    int* lab = labels.ptr<int>(y);
    for (int x = 0; x < cols; ++x) lab[x] = final_label[size_t(lab[x])];
  }
  return n;
}

void gaussian_blur_32f(const cv::Mat& src, cv::Mat& dst, double sigma) {
  CV_Assert(src.type() == CV_32FC1 && sigma > 0);
  // As GaussianBlur sizes the kernel for a float image (4 sigmas each side), and as it leaves a
  // whole image of one row or column unfiltered in that direction.
  const int k = cvRound(sigma * 4 * 2 + 1) | 1;
  const bool whole = !src.isSubmatrix();
  const int kx = whole && src.cols == 1 ? 1 : k, ky = whole && src.rows == 1 ? 1 : k;
  if (kx == 1 && ky == 1) {
    src.copyTo(dst);
    return;
  }
  struct Kernel {
    double sigma;
    int size;
    cv::Mat taps;
  };
  thread_local std::vector<Kernel> kept;  // a handful: sigmas follow stroke widths
  auto kernel = [&](int size) -> const cv::Mat& {
    for (const Kernel& c : kept)
      if (c.sigma == sigma && c.size == size) return c.taps;
    if (kept.size() >= 32) kept.erase(kept.begin());
    kept.push_back({sigma, size, cv::getGaussianKernel(size, sigma, CV_32F)});
    return kept.back().taps;
  };
  const cv::Mat tx = kernel(kx);  // headers: a second insertion may move the first
  const cv::Mat ty = kernel(ky);
  cv::sepFilter2D(src, dst, CV_32F, tx, ty, cv::Point(-1, -1), 0, cv::BORDER_DEFAULT);
}

cv::Mat mask_grow_opencv(const cv::Mat& mask, int radius) {
  cv::Mat dist;
  cv::distanceTransform(mask == 0, dist, cv::DIST_L2, cv::DIST_MASK_3);
  return dist <= float(radius) + 0.01f;
}

cv::Mat mask_grow(const cv::Mat& mask, int radius) {
  CV_Assert(mask.type() == CV_8U);
  const int rows = mask.rows, cols = mask.cols;
  // The chamfer of (dx, dy), 0 <= dx, dy, as distanceTransform_3x3 sums it: straight and diagonal
  // steps in 16.16 fixed point (CV_FLT_TO_FIX of its float weights), then scaled to float.
  const int hv = cvRound(0.955f * (1 << 16)), diag = cvRound(1.3693f * (1 << 16));
  const float limit = float(radius) + 0.01f;
  auto within = [&](int dx, int dy) {
    const int lo = std::min(dx, dy), hi = std::max(dx, dy);
    return float(hv * (hi - lo) + diag * lo) * (1.f / (1 << 16)) <= limit;
  };
  int reach = 0;  // the disc's half-width: straight steps alone are the cheapest way out
  while (within(reach + 1, 0)) ++reach;
  if (radius < 0 || mask.total() * size_t(2 * reach + 1) > (size_t(1) << 18) ||
      reach >= std::min(rows, cols))
    return mask_grow_opencv(mask, radius);
  thread_local std::vector<int> span, hdist;
  span.assign(size_t(reach) + 1, -1);  // span[|dy|]: the disc's |dx| limit on that row
  for (int dy = 0; dy <= reach; ++dy) {
    while (within(span[size_t(dy)] + 1, dy)) ++span[size_t(dy)];
  }
  // hdist: each pixel's distance along its row to the row's nearest set pixel (cols + 1: none).
  hdist.resize(size_t(rows) * size_t(cols));
  for (int y = 0; y < rows; ++y) {
    const uint8_t* mk = mask.ptr<uint8_t>(y);
    int* h = hdist.data() + size_t(y) * size_t(cols);
    int d = cols + 1;
    for (int x = 0; x < cols; ++x) h[x] = d = mk[x] ? 0 : std::min(d + 1, cols + 1);
    d = cols + 1;
    for (int x = cols - 1; x >= 0; --x) {
      d = mk[x] ? 0 : std::min(d + 1, cols + 1);
      h[x] = std::min(h[x], d);
    }
  }
  cv::Mat out(rows, cols, CV_8U);
  for (int y = 0; y < rows; ++y) {
    uint8_t* o = out.ptr<uint8_t>(y);
    std::fill(o, o + cols, uint8_t(0));
    for (int dy = -reach; dy <= reach; ++dy) {
      const int w = span[size_t(std::abs(dy))];
      if (y + dy < 0 || y + dy >= rows || w < 0) continue;
      const int* h = hdist.data() + size_t(y + dy) * size_t(cols);
      for (int x = 0; x < cols; ++x) o[x] |= h[x] <= w ? 255 : 0;
    }
  }
  return out;
}

}  // namespace ink_detail

namespace {

[[noreturn]] void no_ink() { throw NoInkError("no ink found in the image"); }

}  // namespace

// ---- ruled and squared paper ----

// The printed lines of ruled or squared paper: long straight strokes across the page, the same
// to every test of ink above. Found as HoughLinesP segments of the rough ink mask that run across
// at least 75% of the image within 15 degrees of horizontal (or vertical); lines a few pixels
// apart are one line. Ruled paper needs at least 3 horizontal lines; vertical ones count only
// beside horizontal ones (squared paper), so a row of 1s is never taken for lines. The masks are
// empty when there are no lines. Images under 48 px a side are left alone.
// Appends the runs of mask pixels across segment s (vertical runs when `horizontal`, else
// horizontal ones) at 7 points along it; a point off the mask adds none.
void runs_across(const cv::Mat& mask, const cv::Vec4i& s, bool horizontal, std::vector<int>& runs) {
  const int W = mask.cols, H = mask.rows;
  for (int k = 1; k < 8; ++k) {
    const int x = s[0] + (s[2] - s[0]) * k / 8, y = s[1] + (s[3] - s[1]) * k / 8;
    if (x < 0 || x >= W || y < 0 || y >= H || !mask.at<uint8_t>(y, x)) continue;
    int a = 0, b = 0;
    if (horizontal) {
      while (y - a - 1 >= 0 && mask.at<uint8_t>(y - a - 1, x)) ++a;
      while (y + b + 1 < H && mask.at<uint8_t>(y + b + 1, x)) ++b;
    } else {
      while (x - a - 1 >= 0 && mask.at<uint8_t>(y, x - a - 1)) ++a;
      while (x + b + 1 < W && mask.at<uint8_t>(y, x + b + 1)) ++b;
    }
    runs.push_back(a + b + 1);
  }
}

struct PaperLines {
  cv::Mat mask;        // CV_8U: 255 on a line, either way (each drawn edge to edge)
  cv::Mat horizontal;  // CV_8U: 255 on a horizontal line
  cv::Mat vertical;    // CV_8U: 255 on a vertical line; empty without vertical lines
  int half = 1;        // half the lines' thickness, pixels, rounded up
};

// The straight segments of the rough mask at least 75% of the short side long (HoughLinesP),
// which both the ruled lines and a crease are found among; none under 48 px a side.
std::vector<cv::Vec4i> long_segments(const cv::Mat& rough) {
  std::vector<cv::Vec4i> segs;
  const int W = rough.cols, H = rough.rows;
  if (std::min(W, H) < 48) return segs;
  cv::HoughLinesP(rough, segs, 1, CV_PI / 180, std::max(20, int(0.3 * std::min(W, H))),
                  0.75 * std::min(W, H), std::max(3.0, 0.04 * std::max(W, H)));
  return segs;
}

PaperLines paper_lines_find(const cv::Mat& rough, const std::vector<cv::Vec4i>& segs) {
  PaperLines out;
  const int W = rough.cols, H = rough.rows;
  if (segs.empty()) return out;
  // Each direction: the offset where a segment crosses the image's middle line, per segment.
  struct Line {
    double offset;
    cv::Vec4i seg;
  };
  std::vector<Line> hor, ver;
  const double tilt = std::tan(15.0 * CV_PI / 180.0);
  for (const cv::Vec4i& l : segs) {
    const double dx = l[2] - l[0], dy = l[3] - l[1];
    if (std::abs(dy) <= tilt * std::abs(dx) && std::abs(dx) >= 0.75 * W) {
      hor.push_back({l[1] + dy / dx * (W / 2.0 - l[0]), l});
    } else if (std::abs(dx) <= tilt * std::abs(dy) && std::abs(dy) >= 0.75 * H) {
      ver.push_back({l[0] + dx / dy * (H / 2.0 - l[1]), l});
    }
  }
  // Distinct lines: offsets more than 3 px (or 2% of the side) apart. Their count, and the median
  // distance between neighbours.
  auto distinct = [](std::vector<Line>& ls, double tol, double* spacing) {
    std::sort(ls.begin(), ls.end(),
              [](const Line& a, const Line& b) { return a.offset < b.offset; });
    std::vector<double> at;
    for (size_t i = 0; i < ls.size(); ++i)
      if (i == 0 || ls[i].offset - ls[i - 1].offset > tol) at.push_back(ls[i].offset);
    std::vector<double> gaps;
    for (size_t i = 1; i < at.size(); ++i) gaps.push_back(at[i] - at[i - 1]);
    std::sort(gaps.begin(), gaps.end());
    *spacing = gaps.empty() ? 0.0 : gaps[gaps.size() / 2];
    return int(at.size());
  };
  double hor_spacing = 0, ver_spacing = 0;
  const int n_hor = distinct(hor, std::max(3.0, 0.02 * H), &hor_spacing);
  const int n_ver = distinct(ver, std::max(3.0, 0.02 * W), &ver_spacing);
  if (n_hor < 3) return out;
  // Squared paper: as many vertical lines, as far apart as the horizontal ones (give or take a
  // third), and running nearly the whole height. A row of 1s on ruled paper is none of these.
  bool squared = n_ver >= 3 && ver_spacing > 0.7 * hor_spacing && ver_spacing < 1.4 * hor_spacing;
  if (squared) {
    ver.erase(
        std::remove_if(ver.begin(), ver.end(),
                       [&](const Line& l) { return std::abs(l.seg[3] - l.seg[1]) < 0.9 * H; }),
        ver.end());
    squared = !ver.empty();
  }
  // Thickness: the median run of mask pixels across each segment, sampled along it.
  std::vector<int> runs;
  for (const Line& l : hor) runs_across(rough, l.seg, true, runs);
  if (squared) {
    for (const Line& l : ver) runs_across(rough, l.seg, false, runs);
  }
  if (runs.empty()) return out;
  std::nth_element(runs.begin(), runs.begin() + long(runs.size() / 2), runs.end());
  const int thick = runs[runs.size() / 2];
  out.half = thick / 2 + 1;
  // Each line drawn from edge to edge: a segment stops where the printed line fades into noise
  // or meets the frame, and the stubs beyond it would pass for ink.
  auto draw = [&](cv::Mat& mask, const cv::Vec4i& sg, bool horizontal) {
    const double dx = sg[2] - sg[0], dy = sg[3] - sg[1];
    cv::Point a, b;
    if (horizontal) {
      a = {0, int(std::lround(sg[1] - dy / dx * sg[0]))};
      b = {W - 1, int(std::lround(sg[1] + dy / dx * (W - 1 - sg[0])))};
    } else {
      a = {int(std::lround(sg[0] - dx / dy * sg[1])), 0};
      b = {int(std::lround(sg[0] + dx / dy * (H - 1 - sg[1]))), H - 1};
    }
    cv::line(mask, a, b, cv::Scalar(255), thick);
  };
  out.horizontal = cv::Mat::zeros(rough.size(), CV_8U);
  for (const Line& l : hor) draw(out.horizontal, l.seg, true);
  out.mask = out.horizontal.clone();
  if (squared) {
    out.vertical = cv::Mat::zeros(rough.size(), CV_8U);
    for (const Line& l : ver) draw(out.vertical, l.seg, false);
    out.mask |= out.vertical;
  }
  return out;
}

// A fold's crease: one thin straight line from edge to edge of the photo, at any angle. No
// digit has such a stroke (a photo's digits leave the frame clear, and a tightly cropped 1 is
// as thick as the digit's other strokes), and where it crosses or touches a digit it joins the
// two into one piece, so it is added to `lines` and taken out as ruled lines are. Found as a
// HoughLinesP segment of the rough mask whose ends lie within 2.5% of its chord of the frame,
// at most 3 px (or 2.5% of the short side) thick and at most three quarters as thick as the
// strokes beside it, with a digit's worth of ink (a run of a tenth of the long side) off it.
// Images under 48 px a side are left alone.
void crease_add(const cv::Mat& rough, const std::vector<cv::Vec4i>& segs, const cv::Mat& contrast,
                PaperLines& lines) {
  const int W = rough.cols, H = rough.rows, short_side = std::min(W, H);
  for (const cv::Vec4i& sg : segs) {
    const double dx = sg[2] - sg[0], dy = sg[3] - sg[1], len = std::hypot(dx, dy);
    if (len < 1.0) continue;
    // The chord: where the segment's line enters and leaves the image.
    const cv::Rect frame(0, 0, W, H);
    const double far = 2.0 * (W + H);
    cv::Point a(int(std::lround(sg[0] - dx / len * far)), int(std::lround(sg[1] - dy / len * far)));
    cv::Point b(int(std::lround(sg[0] + dx / len * far)), int(std::lround(sg[1] + dy / len * far)));
    if (!cv::clipLine(frame, a, b)) continue;
    // It must run off the photo at both ends (within 2.5% of the chord): a box's side or a line
    // drawn under the writing stops short of the frame.
    const double chord = std::hypot(double(b.x - a.x), double(b.y - a.y));
    const cv::Point p0(sg[0], sg[1]), p1(sg[2], sg[3]);
    auto dist = [](cv::Point u, cv::Point v) {
      return std::hypot(double(u.x - v.x), double(u.y - v.y));
    };
    const double end_gap =
        std::max(std::min(dist(p0, a), dist(p0, b)), std::min(dist(p1, a), dist(p1, b)));
    if (end_gap > std::max(3.0, 0.025 * chord)) continue;
    // Thickness: the median run of mask pixels across the segment, sampled along it.
    const bool horizontal = std::abs(dx) >= std::abs(dy);
    std::vector<int> runs;
    runs_across(rough, sg, horizontal, runs);
    if (runs.size() < 4) continue;
    std::nth_element(runs.begin(), runs.begin() + long(runs.size() / 2), runs.end());
    // Across the line, not along the row or column the run was counted in.
    const int thick = std::max(
        1,
        int(std::lround(runs[runs.size() / 2] * (horizontal ? std::abs(dx) : std::abs(dy)) / len)));
    if (thick > std::max(3.0, 0.025 * short_side)) continue;
    cv::Mat line = cv::Mat::zeros(rough.size(), CV_8U);
    cv::line(line, a, b, cv::Scalar(255), thick + 2);
    cv::Mat rest = rough.clone();
    rest.setTo(0, line);
    const MaskShape beside = mask_shape(rest, contrast, std::max(W, H));
    if (beside.largest_extent < 0.1 * std::max(W, H) || thick > 0.75 * beside.stroke_width)
      continue;
    if (lines.mask.empty()) {
      lines.mask = cv::Mat::zeros(rough.size(), CV_8U);
      lines.horizontal = cv::Mat::zeros(rough.size(), CV_8U);
    }
    cv::Mat& dir = horizontal ? lines.horizontal : lines.vertical;
    if (dir.empty()) dir = cv::Mat::zeros(rough.size(), CV_8U);
    cv::line(dir, a, b, cv::Scalar(255), thick);
    cv::line(lines.mask, a, b, cv::Scalar(255), thick);
    lines.half = std::max(lines.half, thick / 2 + 1);
    return;  // one crease
  }
}

// Paints the lines out of gd8 (dark ink on light paper, CV_8U, changed in place): a line pixel
// takes the lightest of the first pixels off the lines on either side (above and below; left and
// right on vertical lines; also diagonally where lines cross), so paper fills the line, while a
// stroke that crosses it stays whole (ink lies on both sides). A stroke drawn along a line goes
// with it (a 4's bar on a ruled line): telling pen from print by darkness failed under uneven light
// (it kept the lines' cores).
void paper_lines_erase(cv::Mat& gd8, const PaperLines& lines) {
  const cv::Mat src = gd8.clone();
  const int W = gd8.cols, H = gd8.rows;
  const int reach = 2 * lines.half + 3;  // across a line, or a crossing, and a pixel beyond
  for (int y = 0; y < H; ++y) {
    const uint8_t* on = lines.mask.ptr<uint8_t>(y);
    const uint8_t* hor = lines.horizontal.ptr<uint8_t>(y);
    const uint8_t* vert = lines.vertical.empty() ? nullptr : lines.vertical.ptr<uint8_t>(y);
    uint8_t* g = gd8.ptr<uint8_t>(y);
    for (int x = 0; x < W; ++x) {
      if (!on[x]) continue;
      const bool h = hor[x], v = vert && vert[x];
      int best = -1;
      // Walks from (x, y) in direction (dx, dy) to the first pixel off every line.
      auto beyond = [&](int dx, int dy) {
        for (int k = 1; k <= reach; ++k) {
          const int xx = x + k * dx, yy = y + k * dy;
          if (xx < 0 || xx >= W || yy < 0 || yy >= H) return;
          if (!lines.mask.at<uint8_t>(yy, xx)) {
            best = std::max(best, int(src.at<uint8_t>(yy, xx)));
            return;
          }
        }
      };
      if (h) beyond(0, -1), beyond(0, 1);
      if (v) beyond(-1, 0), beyond(1, 0);
      if (h && v) beyond(-1, -1), beyond(1, -1), beyond(-1, 1), beyond(1, 1);  // a crossing
      if (best >= 0) g[x] = uint8_t(best);
    }
  }
}

InkMap ink_find(const cv::Mat& image) {
  cv::Mat img = depth_to_8u(image);
  InkMap m;
  m.image_size = img.size();
  bool drawn_in_alpha = false;  // a canvas export: the paper is flat, known exactly
  if (img.channels() == 4) img = alpha_composite(img, &drawn_in_alpha);

  // Working resolution.
  int long_side = std::max(img.cols, img.rows);
  if (long_side > kWorkMaxSide) {
    m.scale = double(kWorkMaxSide) / long_side;
    cv::Mat small;
    cv::resize(img, small,
               cv::Size(std::max(1, int(std::lround(img.cols * m.scale))),
                        std::max(1, int(std::lround(img.rows * m.scale)))),
               0, 0, cv::INTER_AREA);
    img = small;
    long_side = std::max(img.cols, img.rows);
  }

  // Grey: luminance, unless one colour channel shows the ink clearly better (blue ink on yellow
  // paper is dark in red but light in blue; its luminance contrast can be poor).
  cv::Mat grey8;
  PaperFit fit;
  if (img.channels() == 1) {
    grey8 = img;
    fit = paper_fit(grey8);
  } else {
    cv::cvtColor(img, grey8, cv::COLOR_BGR2GRAY);
    fit = paper_fit(grey8);
    cv::Mat spread[3];
    cv::split(img, spread);
    bool coloured = cv::norm(spread[0], spread[1], cv::NORM_INF) > 8 ||
                    cv::norm(spread[1], spread[2], cv::NORM_INF) > 8;
    for (int c = 0; c < 3 && coloured; ++c) {
      PaperFit cf = paper_fit(spread[c]);
      if (cf.snr > 1.15 * fit.snr) {
        fit = cf;
        grey8 = spread[c];
      }
    }
  }

  // Noisy and faint (a photo in dim light: sensor noise above a sixth of the ink's
  // contrast): the noise breaks the strokes into speckle, which no threshold joins again, and
  // the rough mask's short runs make the strokes look thin, so the local paper's closing (sized
  // by them) hollows the real ones out. The grey image is smoothed first, as the rough residual
  // below would be, and the paper fitted again. (Photos with clean ink skip this: their snr is
  // higher; canvas drawings and crops are too small or too clean to qualify.)
  const double noise_smooth = std::min(kRoughSmooth * long_side, 3.0);
  if (fit.snr > 0 && fit.snr < kNoisySnr && noise_smooth > 0.3 && !drawn_in_alpha) {
    cv::Mat smoothed;
    cv::GaussianBlur(grey8, smoothed, cv::Size(0, 0), noise_smooth);
    grey8 = smoothed;  // a new buffer: grey8 may be the caller's image
    fit = paper_fit(grey8);
  }

  // Polarity over every pixel (thin strokes can slip between the fit's samples): the side with
  // more contrast mass beyond the threshold is the ink...
  cv::Mat resid;
  thread_local cv::Mat paper;  // the rendered fit, reused: only the residual outlives a call
  double dark = 0, light = 0;
  size_t beyond = 0;   // pixels beyond the threshold, either side
  auto masses = [&] {  // the contrast mass beyond the threshold on each side
    const float t = float(fit.threshold);
    dark = light = 0;
    beyond = 0;
    for (int y = 0; y < resid.rows; ++y) {
      const float* r = resid.ptr<float>(y);
      for (int x = 0; x < resid.cols; ++x) {
        if (r[x] < -t) dark += -r[x] - t;
        if (r[x] > t) light += r[x] - t;
        beyond += size_t(r[x] < -t) + size_t(r[x] > t);
      }
    }
  };
  // A piece of ink shorter than this is a speck (the components below keep none), and fewer
  // pixels beyond the threshold than that is no ink found: a fit whose sigma a hard shadow
  // inflated can leave a handful of bold strokes' darkest pixels beyond it, and a rough mask of
  // those says the strokes are a pixel wide, so the local paper's closing would hollow them out.
  const int speck_px = std::max(3, int(std::lround(0.02 * long_side)));
  auto found_nothing = [&] { return beyond < size_t(speck_px); };
  // The paper as a wide median instead of the quadratic: it keeps a hard shadow's edge, which
  // no quadratic follows. Sets resid and the threshold (4 robust sigmas of this residual).
  auto median_residual = [&] {
    cv::Mat med;
    cv::medianBlur(grey8, med, std::min(255, std::max(3, odd(long_side / 8.0))));
    resid.create(grey8.size(), CV_32F);
    for (int y = 0; y < resid.rows; ++y) {
      const uint8_t* g = grey8.ptr<uint8_t>(y);
      const uint8_t* p = med.ptr<uint8_t>(y);
      float* r = resid.ptr<float>(y);
      for (int x = 0; x < resid.cols; ++x) r[x] = float(g[x]) - float(p[x]);
    }
    std::vector<float> samples = grid_samples(resid);
    for (float& v : samples) v = std::abs(v);
    const double sigma = std::max(1.4826 * quantile_pick(samples, 0.5), 1.0);
    fit.threshold = std::max(4.0 * sigma, 6.0);
  };
  auto residual = [&] {
    // resid = grey - paper: the same float subtraction as cv::subtract, without the temporaries.
    paper_render(fit, grey8.size(), paper);
    resid.create(grey8.size(), CV_32F);
    for (int y = 0; y < resid.rows; ++y) {
      const uint8_t* g = grey8.ptr<uint8_t>(y);
      const float* p = paper.ptr<float>(y);
      float* r = resid.ptr<float>(y);
      for (int x = 0; x < resid.cols; ++x) r[x] = float(g[x]) - p[x];
    }
    // Noisy and faint (a shadowed photo): the residual is smoothed before it is thresholded, or
    // its mask would be speckle whose short runs pass for thin strokes (and the closing below,
    // sized by them, would hollow the real ones out). Cleaner images keep every detail, and so
    // do those where the fit saw no ink at all (snr 0: a blank, or a lone speck that smoothing
    // would spread past the speck floor).
    const double smooth = std::min(kRoughSmooth * long_side, 3.0);
    if (fit.snr > 0 && fit.snr < kNoisySnr && smooth > 0.3) {
      ink_detail::gaussian_blur_32f(resid, resid, smooth);
    }
    masses();
  };
  residual();
  bool quadratic_paper = true;  // the paper is the quadratic fit (not the wide median)
  if (found_nothing()) {
    // Nothing beyond the threshold: either a blank image, or a fit that took in the ink. The
    // fallback fit starts from the paper around the median only (see kNarrowFirstBand).
    fit = paper_fit(grey8, kNarrowFirstBand);
    residual();
  }
  if (found_nothing()) {
    // Still nothing: faint ink beside or under a hard shadow, whose edge no quadratic follows
    // and which so inflates sigma that nothing clears the threshold. The paper is then taken
    // from a wide median, which keeps the edge. (Lowering the threshold to 3 sigmas, as before,
    // found specks.) The rough mask only sets polarity and stroke width; the threshold that
    // finds the ink comes later, from the local paper.
    median_residual();
    masses();
    quadratic_paper = false;
  }
  if (dark == 0 && light == 0) no_ink();
  m.light_ink = light > dark;
  // A flash's glare is a broad bright patch that no quadratic follows: beyond the fit it weighs
  // as light ink, and it lifts sigma until dark strokes drop under the threshold. So a photo read
  // as light ink gets a second opinion from the wide median, which follows a glare and keeps pen
  // strokes. When that sees dark ink, three times the light or twice the light and standing out
  // more sharply than the light does, the ink is dark. (Light strokes on a dark board stay
  // light: the median takes them out of the board just as well.) The same second opinion catches
  // a shadow across the paper: beyond the fit, its lit side weighs as light ink, while the median
  // leaves only a band along its edge, which is sharper than pen strokes; so sharpness is asked
  // only when the two masses are close. Paper without grain (a digital drawing: the fit's sigma
  // at its floor of 1) has no glare and skips the median, a few milliseconds at 400 px.
  if (m.light_ink && !drawn_in_alpha && long_side >= kGlareMinSide && fit.sigma > 1.0) {
    const cv::Mat kept = resid.clone();
    const double kept_threshold = fit.threshold, kept_dark = dark, kept_light = light;
    median_residual();
    masses();
    const float tm = float(fit.threshold);
    bool dark_ink = dark > 2.0 * light;
    if (!dark_ink || dark < kMedianDarkSure * light) {
      const cv::Mat dm = mask_beyond(resid, -tm, false), lm = mask_beyond(resid, tm, true);
      if (dark_ink && light > 0) dark_ink = mask_sharpness(dm, resid) > mask_sharpness(lm, resid);
      // Bands along a shadow's edge outweighing the strokes: the pieces that stand alone decide.
      if (!dark_ink) {
        const double dark_apart = mass_apart(dm, lm, resid, tm);
        dark_ink = dark_apart > kMedianDarkSure * mass_apart(lm, dm, resid, tm) &&
                   dark_apart > kApartDarkShare * (dark + light);
      }
    }
    if (dark_ink) {
      m.light_ink = false;
    } else {
      resid = kept;
      fit.threshold = kept_threshold, dark = kept_dark, light = kept_light;
    }
  }
  const float t = float(fit.threshold);
  cv::Mat rough = m.light_ink ? mask_beyond(resid, t, true) : mask_beyond(resid, -t, false);
  MaskShape shape = mask_shape(rough, resid, long_side);
  // ...unless that side is a blob, not strokes (white paper filling less than half of a photo
  // of a dark desk), and the other side holds strokes of a digit's size: then that is the ink.
  // The other side must weigh something beside it (kOtherSideShare): bold strokes in a small
  // JPEG are a blob too, and the faint halo that JPEG's ringing leaves around them is thin, light
  // and as long as the strokes (a brown 7 on pink paper, read in its blue channel, was read as
  // that halo: its light side weighed 0.35% of its dark; the other side of every image of ours
  // that turned weighs a quarter of it or more).
  if (shape.blob_fraction > 0.5 &&
      std::min(dark, light) > kOtherSideShare * std::max(dark, light)) {
    cv::Mat other = m.light_ink ? mask_beyond(resid, -t, false) : mask_beyond(resid, t, true);
    MaskShape other_shape = mask_shape(other, resid, long_side);
    if (other_shape.blob_fraction < 0.2 && other_shape.largest_extent >= 0.1 * long_side) {
      m.light_ink = !m.light_ink;
      rough = other;
      shape = other_shape;
    }
  }
  // Ruled or squared paper: its lines leave the rough mask (they would pass for thin strokes)
  // and, below, the image.
  PaperLines lines;
  if (!drawn_in_alpha) {
    const std::vector<cv::Vec4i> segs = long_segments(rough);
    lines = paper_lines_find(rough, segs);
    crease_add(rough, segs, resid, lines);
    if (!lines.mask.empty()) {
      rough.setTo(0, lines.mask);
      shape = mask_shape(rough, resid, long_side);
    }
  }
  m.stroke_width =
      float(std::clamp(double(shape.stroke_width), 1.0, std::max(1.0, long_side / 8.0)));
  resid.release();
  // From here on the ink is dark on light paper.
  cv::Mat gd8 = grey8;
  if (m.light_ink) {
    gd8 = cv::Mat(grey8.size(), CV_8U);  // a new buffer: grey8 may be the caller's image
    for (int y = 0; y < gd8.rows; ++y) {
      const uint8_t* g = grey8.ptr<uint8_t>(y);
      uint8_t* o = gd8.ptr<uint8_t>(y);
      for (int x = 0; x < gd8.cols; ++x) o[x] = uint8_t(255 - g[x]);
    }
  }
  if (!lines.mask.empty()) {
    if (gd8.data == grey8.data) gd8 = grey8.clone();  // grey8 may be the caller's image
    paper_lines_erase(gd8, lines);
  }

  // Local paper: a closing wider than the strokes removes them and keeps gradients, shadows
  // and large dark areas that are not strokes (a desk beyond the paper's edge). A closing keeps
  // a straight edge exactly where it is, so it runs at full resolution (8-bit, separable rect)
  // and its smoothed copy may only lower it: raised above a dark area near an edge, the
  // background would turn that area's rim into ink.
  //
  // A drawing carried in alpha lies on paper we made, exactly flat: no local estimate is needed,
  // and the closing, capped at a third of the image, would cut a hole into a fat brush's blob.
  // (Flat-looking paper without alpha gets no such trust: a hard-edged shadow is flat too.)
  cv::Mat gain, s, s_smooth;
  double sigma_s = 0, otsu = 0, thresh = 0;
  auto local_pass = [&](const cv::Mat& gd) {
    s_smooth = cv::Mat();  // new buffers throughout: a first pass may be kept (below)
    cv::Mat bg;
    if (drawn_in_alpha) {
      const double level = m.light_ink ? 255.0 - fit.coef[0] : fit.coef[0];  // the fitted paper
      bg = cv::Mat(gd.size(), CV_32F, cv::Scalar(std::max(level, 1.0)));
    } else {
      int k = std::max(3, std::min(odd(2.5 * m.stroke_width + 3), odd(long_side / 3.0)));
      bg = paper_local(gd, k, odd(k / 4.0));  // the closing, softened, >= 1
    }

    // Ink strength s = 1 - (gd / bg) / (paper's ratio): ~0 on paper, ~1 on solid ink.
    gain = long_side >= kGlareMinSide && !m.light_ink && !drawn_in_alpha ? glare_gain(bg)
                                                                         : cv::Mat();
    s = bg;  // computed in place: these images are large and short-lived
    for (int y = 0; y < s.rows; ++y) {  // gd / bg, as cv::divide (bg >= 1: no zero to guard)
      const uint8_t* g = gd.ptr<uint8_t>(y);
      float* o = s.ptr<float>(y);
      for (int x = 0; x < s.cols; ++x) o[x] = float(g[x]) / o[x];
    }
    std::vector<float> samples = grid_samples(s);
    double paper_ratio = std::max(quantile_pick(samples, 0.5), 1e-3);
    s.convertTo(s, CV_32F, -1.0 / paper_ratio, 1.0);
    samples = grid_samples(s);
    double s_med = quantile_pick(samples, 0.5);  // the order of samples does not matter below
    for (float& x : samples) x = std::abs(x - float(s_med));
    sigma_s = std::max(1.4826 * quantile_pick(samples, 0.5), 0.004);

    // Threshold a lightly smoothed copy: Otsu, but never inside the noise or below 12% contrast.
    if (m.stroke_width >= 3) {  // a new buffer: blurring into a header of `s` would blur `s` too
      ink_detail::gaussian_blur_32f(s, s_smooth, std::min(1.0, m.stroke_width / 6.0));
    } else {
      s_smooth = s;
    }
    cv::Mat s8;
    s_smooth.convertTo(s8, CV_8U, 255.0);  // saturates to [0, 255]
    otsu = ink_detail::otsu_level(s8) / 255.0;
    thresh = std::max({otsu, 4.0 * sigma_s, 0.12});
  };
  local_pass(gd8);
  // The closing overestimates paper that darkens towards the frame (a vignette), within half its
  // width of the edge: there the paper passes for faint ink. With bold strokes in a small photo
  // that band is most of the image, the spread of s it leaves sets the threshold (not Otsu) and
  // the strokes come out in pieces or not at all. When so, and the quadratic fit holds the
  // paper, the image is first divided by that fit (light falls off multiplicatively) and the
  // local paper found again.
  if (!drawn_in_alpha && !m.light_ink && quadratic_paper && 4.0 * sigma_s > std::max(otsu, 0.12)) {
    cv::Mat q;
    paper_render(fit, gd8.size(), q);
    const double level = std::max(fit.coef[0], 1.0);
    cv::Mat flat(gd8.size(), CV_8U);
    for (int y = 0; y < flat.rows; ++y) {
      const uint8_t* g = gd8.ptr<uint8_t>(y);
      const float* p = q.ptr<float>(y);
      uint8_t* o = flat.ptr<uint8_t>(y);
      for (int x = 0; x < flat.cols; ++x)
        o[x] = cv::saturate_cast<uint8_t>(g[x] * level / std::max(p[x], 1.0f));
    }
    const auto first = std::make_tuple(gain, s, s_smooth, sigma_s, otsu, thresh);
    local_pass(flat);
    // Kept only when the paper's spread falls to under a third: with a vignette it went from
    // about 0.16 to 0.02-0.05 (MODEL_CARD.md), while on our noisy dim photos, ruled paper and
    // glare it moved by at most a factor of 1.5, and those read better as they were.
    if (!(sigma_s < kFlatSpreadDrop * std::get<3>(first)))
      std::tie(gain, s, s_smooth, sigma_s, otsu, thresh) = first;
  }
  // `s_smooth > thresh`: OpenCV compares a float image with the scalar rounded to float.
  cv::Mat mask0 = mask_beyond(s_smooth, float(thresh), true);
  const int near_window = odd(kLocalWindow * m.stroke_width);
  if (!gain.empty()) {
    const double share = glare_share(gain, mask0, s_smooth);
    if (share > 0.0) {
      cv::pow(gain, share, gain);
      mask_grow_under_glare(mask0, s_smooth.mul(gain), gain,
                            float(std::max(4.0 * sigma_s, kWeakInkFloor)), near_window);
    } else {
      gain.release();
    }
  }

  // Components; specks are small in absolute terms or next to the largest piece.
  cv::Mat stats;
  int n = ink_detail::components_label(mask0, m.labels, stats);
  int max_area = 0;
  for (int i = 1; i < n; ++i) max_area = std::max(max_area, stats.at<int>(i, cv::CC_STAT_AREA));
  std::vector<uint8_t> keep(size_t(std::max(n, 1)), 0);
  for (int i = 1; i < n; ++i) {
    InkComponent c;
    c.label = i;
    c.area = stats.at<int>(i, cv::CC_STAT_AREA);
    c.box = cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    if (std::max(c.box.width, c.box.height) < speck_px || c.area < 0.03 * max_area) continue;
    keep[size_t(i)] = 1;
    m.components.push_back(c);
  }
  if (m.components.empty()) no_ink();
  std::sort(m.components.begin(), m.components.end(),
            [](const InkComponent& a, const InkComponent& b) { return a.area > b.area; });
  m.mask = cv::Mat::zeros(img.size(), CV_8U);
  for (int y = 0; y < img.rows; ++y) {
    const int* lab = m.labels.ptr<int>(y);
    uint8_t* out = m.mask.ptr<uint8_t>(y);
    for (int x = 0; x < img.cols; ++x) out[x] = keep[size_t(lab[x])] ? 255 : 0;
  }

  // Soft ink: from just above the noise to the typical stroke level, so edges stay grey (as
  // MNIST's anti-aliased strokes) and stroke cores saturate; kept only near kept components.
  double lo = std::min(std::max(2.5 * sigma_s, 0.05), 0.8 * thresh);
  double hi = std::max(masked_quantile(s, m.mask, 0.75), lo + 0.1);
  // Under a glare, a stroke saturates at the strongest kept ink near it when that is weaker than
  // the typical stroke, so a stroke fading into the glare is read whole.
  cv::Mat near_hi;
  if (!gain.empty()) {
    cv::Mat kept_s = cv::Mat::zeros(s.size(), CV_32F);
    s.copyTo(kept_s, m.mask);
    cv::dilate(kept_s, near_hi,
               cv::getStructuringElement(cv::MORPH_RECT, cv::Size(near_window, near_window)));
  }
  if (!gain.empty()) s = s.mul(gain);  // the ink's strength as it was before the glare
  cv::Mat ink = s;
  if (near_hi.empty()) {
    s.convertTo(ink, CV_32F, 1.0 / (hi - lo), -lo / (hi - lo));
    for (int y = 0; y < ink.rows; ++y) {  // THRESH_TRUNC at 1, then THRESH_TOZERO at 0
      float* v = ink.ptr<float>(y);
      for (int x = 0; x < ink.cols; ++x) {
        const float c = v[x] > 1.0f ? 1.0f : v[x];
        v[x] = c > 0.0f ? c : 0.0f;
      }
    }
  } else {
    const float flo = float(lo), fhi = float(hi), min_hi = float(lo + 0.1);
    for (int y = 0; y < ink.rows; ++y) {  // (s - lo) / (h - lo), clipped to [0, 1]
      float* v = ink.ptr<float>(y);
      const float* nh = near_hi.ptr<float>(y);
      const float* g = gain.ptr<float>(y);
      for (int x = 0; x < ink.cols; ++x) {
        const float h = g[x] > kGlareMinGain && nh[x] > min_hi ? std::min(fhi, nh[x]) : fhi;
        const float c = (v[x] - flo) / (h - flo);
        v[x] = c > 1.0f ? 1.0f : c > 0.0f ? c : 0.0f;
      }
    }
  }
  m.ink = ink;  // specks are cut away per crop (piece_crop), which only looks near its ink
  return m;
}

}  // namespace scrawl::vision
