// The paper fit of ink.cpp as it was first written, kept as the specification of the fast one
// (ink.cpp's paper_fit must return the very same values). Used by tests/unit/test_vision.cpp and
// profiling/bench_vision.cpp only.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>

#include "host/vision/ink_internal.h"

namespace scrawl::vision::ink_detail {

PaperFit paper_fit_reference(const cv::Mat& grey8, double first_band) {
  int nx = std::min(grey8.cols, kSampleSide), ny = std::min(grey8.rows, kSampleSide);
  std::vector<std::array<double, 6>> f;
  std::vector<double> v;
  f.reserve(size_t(nx) * ny);
  v.reserve(size_t(nx) * ny);
  for (int j = 0; j < ny; ++j) {
    int y = std::min(grey8.rows - 1, int((j + 0.5) * grey8.rows / ny));
    const uint8_t* row = grey8.ptr<uint8_t>(y);
    for (int i = 0; i < nx; ++i) {
      int x = std::min(grey8.cols - 1, int((i + 0.5) * grey8.cols / nx));
      std::array<double, 6> b;
      basis(coord(x, grey8.cols), coord(y, grey8.rows), b.data());
      f.push_back(b);
      v.push_back(row[x]);
    }
  }
  const size_t n = v.size();
  PaperFit fit;
  fit.coef[0] = quantile_select(v, 0.5);
  std::vector<double> r(n), dev(n);
  double med = 0.0;
  for (int iter = 0;; ++iter) {
    for (size_t i = 0; i < n; ++i) {
      double p = 0;
      for (int k = 0; k < 6; ++k) p += fit.coef[k] * f[i][k];
      r[i] = v[i] - p;
    }
    med = quantile_select(r, 0.5);
    for (size_t i = 0; i < n; ++i) dev[i] = std::abs(r[i] - med);
    fit.sigma = std::max(1.4826 * quantile_select(dev, 0.5), 1.0);
    if (iter == 3) break;
    // Least squares over the inliers (paper): normal equations, 6x6, upper triangle.
    cv::Matx66d ata = cv::Matx66d::zeros();
    cv::Vec6d atb = cv::Vec6d::all(0);
    size_t inliers = 0;
    for (size_t i = 0; i < n; ++i) {
      if (dev[i] > (iter == 0 ? first_band : kInlierBand) * fit.sigma) continue;
      ++inliers;
      const double* fi = f[i].data();
      for (int a = 0; a < 6; ++a) {
        atb[a] += fi[a] * v[i];
        for (int b = a; b < 6; ++b) ata(a, b) += fi[a] * fi[b];
      }
    }
    if (inliers < 12) break;
    // Every inlier exactly on the fit (flat digital paper: a PNG export, an MNIST crop): the
    // fit is already the least-squares solution; a solve would only add rounding.
    bool exact = true;
    for (size_t i = 0; i < n && exact; ++i)
      exact = dev[i] > (iter == 0 ? first_band : kInlierBand) * fit.sigma || r[i] == 0.0;
    if (exact) continue;
    for (int a = 0; a < 6; ++a) {
      for (int b = 0; b < a; ++b) ata(a, b) = ata(b, a);
    }
    cv::Vec6d sol;
    cv::solve(ata, atb, sol, cv::DECOMP_SVD);
    for (int k = 0; k < 6; ++k) fit.coef[k] = sol[k];
  }
  fit.coef[0] += med;

  fit.threshold = std::max(4.0 * fit.sigma, 6.0);
  double dark = 0, light = 0;
  std::vector<double> dark_mag, light_mag;
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
  if (ink.size() >= std::max<size_t>(3, n / 2000)) fit.snr = quantile_select(ink, 0.5) / fit.sigma;
  return fit;
}

}  // namespace scrawl::vision::ink_detail
