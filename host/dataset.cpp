// IDX reading and the batch loader (see dataset.h).
#include "host/dataset.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "host/error.h"
#include "host/file_util.h"

namespace scrawl {
namespace {

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) |
         uint32_t(b[at + 3]);
}

// IDX: 2 zero bytes, a type byte (0x08 = unsigned byte), a dimension count, then the
// dimensions as big-endian u32s, then the data.
std::vector<uint32_t> idx_header(const std::vector<uint8_t>& b, const std::string& path,
                                 int want_dims) {
  const std::string where = "IDX file '" + path + "'";
  if (b.size() < 4) throw FormatError(where + " is too short to be an IDX file");
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08)
    throw FormatError(where + " has a bad magic number (not an unsigned-byte IDX file; "
                      "is it still gzip-compressed?)");
  if (b[3] != want_dims)
    throw FormatError(where + " has " + std::to_string(b[3]) + " dimensions, expected " +
                      std::to_string(want_dims) + (want_dims == 3 ? " (an image file)" :
                                                                    " (a label file)"));
  if (b.size() < 4 + 4 * size_t(want_dims)) throw FormatError(where + " has a truncated header");
  std::vector<uint32_t> dims;
  uint64_t total = 1;
  for (int i = 0; i < want_dims; ++i) {
    dims.push_back(be32(b, 4 + 4 * i));
    total *= dims.back();
  }
  const uint64_t expected = 4 + 4 * uint64_t(want_dims) + total;
  if (b.size() != expected)
    throw FormatError(where + " should be " + std::to_string(expected) + " bytes for its " +
                      "dimensions but is " + std::to_string(b.size()) +
                      (b.size() < expected ? " (truncated)" : " (trailing bytes)"));
  return dims;
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Dataset idx_load(const std::string& images_path, const std::string& labels_path) {
  const std::vector<uint8_t> ib = file_read_all(images_path);
  const std::vector<uint8_t> lb = file_read_all(labels_path);
  const std::vector<uint32_t> idims = idx_header(ib, images_path, 3);
  const std::vector<uint32_t> ldims = idx_header(lb, labels_path, 1);
  if (idims[0] != ldims[0])
    throw FormatError("'" + images_path + "' holds " + std::to_string(idims[0]) + " images but '" +
                      labels_path + "' holds " + std::to_string(ldims[0]) + " labels");
  if (idims[1] == 0 || idims[2] == 0 || idims[1] > 1024 || idims[2] > 1024)
    throw FormatError("'" + images_path + "' has implausible image dimensions");
  Dataset d;
  d.count = static_cast<int>(idims[0]);
  d.rows = static_cast<int>(idims[1]);
  d.cols = static_cast<int>(idims[2]);
  d.images.assign(ib.begin() + 16, ib.end());
  d.labels.assign(lb.begin() + 8, lb.end());
  for (size_t i = 0; i < d.labels.size(); ++i)
    if (d.labels[i] > 9)
      throw FormatError("'" + labels_path + "' has label " + std::to_string(d.labels[i]) +
                        " at index " + std::to_string(i) + "; labels must be 0..9");
  return d;
}

Dataset mnist_load(const std::string& dir, bool train) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  try {
    return idx_load(prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte");
  } catch (const FormatError&) {
    throw;
  } catch (const Error& e) {
    throw Error(std::string(e.what()) +
                "\n  (MNIST is fetched by `bash scripts/fetch_mnist.sh`, which prints its folder)");
  }
}

BatchLoader::BatchLoader(const Dataset& data, int batch, uint64_t seed, AugmentOptions augment)
    : data_(&data), batch_(batch), seed_(seed), augment_(augment) {
  if (batch < 1) throw Error("batch size must be at least 1");
  if (data.count < 1) throw Error("the dataset is empty");
  order_.resize(data.count);
  epoch_begin(0);
}

void BatchLoader::epoch_begin(int epoch) {
  epoch_ = epoch;
  for (int i = 0; i < data_->count; ++i) order_[i] = i;
  // Fisher-Yates with our own draws, so the order is the same with any standard library.
  std::mt19937_64 rng(mix(seed_, uint64_t(epoch) + 1));
  for (int i = data_->count - 1; i > 0; --i) {
    const int j = static_cast<int>(rng() % uint64_t(i + 1));
    std::swap(order_[i], order_[j]);
  }
}

int BatchLoader::fill(int b, float* x, float* labels) const {
  const int begin = b * batch_;
  const int n = std::min(batch_, data_->count - begin);
  if (n <= 0) throw Error("batch index out of range");
  const size_t sz = data_->image_size();
#pragma omp parallel for schedule(static) if (augment_.enabled)
  for (int i = 0; i < n; ++i) {
    const int idx = order_[begin + i];
    const uint8_t* src = data_->images.data() + size_t(idx) * sz;
    float* dst = x + size_t(i) * sz;
    for (size_t p = 0; p < sz; ++p) dst[p] = src[p] * (1.0f / 255.0f);
    float label = label_of(data_->labels[idx]);
    if (augment_.enabled) {
      const uint64_t s = mix(mix(seed_, epoch_), idx);
      std::vector<float> tmp(dst, dst + sz);
      if ((augment_.outlier_p > 0.0f || augment_.residue_p > 0.0f) && label != kOutlierLabel) {
        const size_t other = size_t(mix(s, 0x6f746865u) % uint64_t(data_->count));
        std::vector<float> a(dst, dst + sz), b(sz);
        const uint8_t* bsrc = data_->images.data() + other * sz;
        for (size_t p = 0; p < sz; ++p) b[p] = bsrc[p] * (1.0f / 255.0f);
        label = compose_sample(augment_, mix(s, 1), data_->rows, data_->cols, a.data(), label,
                               b.data(), tmp.data());
      }
      augment_image(augment_, s, data_->rows, data_->cols, tmp.data(), dst);
    }
    labels[i] = label;
  }
  return n;
}

int BatchLoader::indices(int b, float* out) const {
  const int begin = b * batch_;
  const int n = std::min(batch_, data_->count - begin);
  if (n <= 0) throw Error("batch index out of range");
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(order_[begin + i]);
  return n;
}

namespace {

constexpr float kInk = 0.1f;  // a pixel above this is ink, for boxes


// The box of the ink, or an empty rect.
cv::Rect ink_box(const cv::Mat& img) {
  cv::Mat on = img > kInk;
  return cv::countNonZero(on) ? cv::boundingRect(on) : cv::Rect();
}

// Pastes src at (x, y) into dst by max, clipped to dst.
void paste_max(cv::Mat& dst, const cv::Mat& src, int x, int y) {
  cv::Rect r = cv::Rect(x, y, src.cols, src.rows) & cv::Rect(0, 0, dst.cols, dst.rows);
  if (r.empty()) return;
  cv::Mat d = dst(r);
  cv::max(d, src(cv::Rect(r.x - x, r.y - y, r.width, r.height)), d);
}

// As number mode makes a crop: the ink's box, longest side to 20 px (INTER_AREA), placed so the
// centre of mass is at (14, 14) of a 28x28 image. `out` must be 28x28 CV_32F.
void fit_like_mnist(const cv::Mat& canvas, cv::Mat& out) {
  out.setTo(0.0f);
  const cv::Rect box = ink_box(canvas);
  if (box.empty()) return;
  const double f = 20.0 / std::max(box.width, box.height);
  const cv::Size size(std::max(1, int(std::lround(box.width * f))),
                      std::max(1, int(std::lround(box.height * f))));
  cv::Mat small;
  cv::resize(canvas(box), small, size, 0, 0, f < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  const cv::Moments mo = cv::moments(small);
  const double cx = mo.m00 > 0 ? mo.m10 / mo.m00 : (size.width - 1) / 2.0;
  const double cy = mo.m00 > 0 ? mo.m01 / mo.m00 : (size.height - 1) / 2.0;
  const int ox = std::clamp(int(std::lround(14.0 - cx)), 0, 28 - size.width);
  const int oy = std::clamp(int(std::lround(14.0 - cy)), 0, 28 - size.height);
  small.copyTo(out(cv::Rect(ox, oy, size.width, size.height)));
}

}  // namespace

float uniform_draw(std::mt19937_64& rng, float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f);
}

float compose_sample(const AugmentOptions& opt, uint64_t seed, int rows, int cols, const float* a,
                     float label, const float* b, float* out) {
  std::mt19937_64 rng(seed);
  auto uni = [&](float lo, float hi) { return uniform_draw(rng, lo, hi); };
  const cv::Mat A(rows, cols, CV_32F, const_cast<float*>(a));
  const cv::Mat B(rows, cols, CV_32F, const_cast<float*>(b));
  cv::Mat dst(rows, cols, CV_32F, out);
  const cv::Rect ba = ink_box(A), bb = ink_box(B);
  const float draw = uni(0.0f, 1.0f);
  if (ba.empty() || bb.empty() || draw >= opt.outlier_p + opt.residue_p || rows != 28 ||
      cols != 28) {
    A.copyTo(dst);
    return label;
  }
  const cv::Mat ia = A(ba), ib = B(bb);
  // A canvas wide enough for two digits side by side, both on their own rows as MNIST placed
  // them (vertically centred), with a little vertical jitter for b.
  cv::Mat canvas = cv::Mat::zeros(rows + 8, 3 * cols, CV_32F);
  const int x0 = 4, y0 = 4;
  const int dy = int(std::lround(uni(-2.0f, 2.0f)));
  // Piece [f0, f1) of b's width, placed touching a's right side (or left side when `left`).
  auto attach = [&](float f0, float f1, bool left, float gap_frac) {
    const int c0 = int(std::lround(f0 * bb.width)), c1 = std::max(c0 + 1, int(std::lround(f1 * bb.width)));
    const cv::Mat piece = ib(cv::Rect(c0, 0, std::min(c1, bb.width) - c0, bb.height));
    const int gap = int(std::lround(gap_frac * 20.0f));
    const int ax = x0 + cols;  // a's box starts here
    paste_max(canvas, ia, ax, y0 + ba.y);
    const int px = left ? ax - gap - piece.cols : ax + ba.width + gap;
    paste_max(canvas, piece, px, y0 + bb.y + dy);
  };
  cv::Mat fitted(28, 28, CV_32F);
  if (draw >= opt.outlier_p) {
    // A digit with a sliver of its neighbour: still that digit.
    const float f = uni(0.04f, 0.14f);
    const bool left = uni(0.0f, 1.0f) < 0.5f;
    attach(left ? 1.0f - f : 0.0f, left ? 1.0f : f, left, uni(-0.05f, 0.03f));
    fit_like_mnist(canvas, fitted);
    fitted.copyTo(dst);
    return label;
  }
  const float kind = uni(0.0f, 1.0f);
  if (kind < 0.45f) {
    attach(0.0f, 1.0f, uni(0.0f, 1.0f) < 0.5f, uni(-0.15f, 0.1f));  // two digits in one crop
  } else if (kind < 0.65f && ba.width >= 0.6f * ba.height) {
    // Part of a wide digit, as a cut through its middle leaves it. (Rarer than the others: some
    // halves look like digits, and those teach the model to doubt real ones.)
    const int c = std::clamp(int(std::lround(uni(0.35f, 0.65f) * ba.width)), 1, ba.width - 1);
    const cv::Rect keep = uni(0.0f, 1.0f) < 0.5f ? cv::Rect(0, 0, c, ba.height)
                                                 : cv::Rect(c, 0, ba.width - c, ba.height);
    paste_max(canvas, ia(keep), x0 + cols, y0 + ba.y);
  } else {
    // A digit with a large piece of its neighbour.
    const float f = uni(0.3f, 0.6f);
    const bool left = uni(0.0f, 1.0f) < 0.5f;
    attach(left ? 1.0f - f : 0.0f, left ? 1.0f : f, left, uni(-0.1f, 0.05f));
  }
  fit_like_mnist(canvas, fitted);
  fitted.copyTo(dst);
  return kOutlierLabel;
}

void pen_reink(float* img, int rows, int cols, float level, float soft) {
  if (!(soft > 0.0f)) throw Error("pen_reink: the edge width must be positive");
  cv::Mat m(rows, cols, CV_32F, img), big;
  cv::resize(m, big, {2 * cols, 2 * rows}, 0, 0, cv::INTER_LINEAR);
  big = (big - level) * (1.0f / soft) + 0.5f;
  cv::min(cv::max(big, 0.0f), 1.0f, big);
  cv::resize(big, m, m.size(), 0, 0, cv::INTER_AREA);  // writes img: m's size and type match
}

void augment_image(const AugmentOptions& opt, uint64_t seed, int rows, int cols, const float* in,
                   float* out) {
  std::mt19937_64 rng(seed);
  auto uni = [&](float lo, float hi) { return uniform_draw(rng, lo, hi); };
  cv::Mat src(rows, cols, CV_32F, const_cast<float*>(in));
  cv::Mat dst(rows, cols, CV_32F, out);
  const float angle = uni(-opt.rotate_deg, opt.rotate_deg) * float(M_PI / 180.0);
  const float scale = uni(opt.scale_min, opt.scale_max);
  const float shear = uni(-opt.shear, opt.shear);
  const float tx = uni(-opt.shift_px, opt.shift_px), ty = uni(-opt.shift_px, opt.shift_px);
  // A = R(angle) * S(scale) * Shear, about the image centre, then shifted.
  const float c = std::cos(angle) * scale, s = std::sin(angle) * scale;
  const float a00 = c, a01 = c * shear - s, a10 = s, a11 = s * shear + c;
  const float cx = (cols - 1) * 0.5f, cy = (rows - 1) * 0.5f;
  cv::Mat m = (cv::Mat_<float>(2, 3) << a00, a01, cx - a00 * cx - a01 * cy + tx,  //
               a10, a11, cy - a10 * cx - a11 * cy + ty);
  cv::warpAffine(src, dst, m, dst.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0.0);
  // Drawn only when asked for, so models trained without it see the very same samples as before.
  if (opt.pen_p > 0.0f && uni(0, 1) < opt.pen_p) {
    const float level = uni(0.15f, 0.6f), soft = uni(0.06f, 0.25f);
    pen_reink(out, rows, cols, level, soft);
  }
  if (uni(0, 1) < opt.thickness_p) {
    const cv::Mat k = cv::getStructuringElement(cv::MORPH_RECT, {2, 2});
    if (uni(0, 1) < 0.5f)
      cv::dilate(dst, dst, k);
    else
      cv::erode(dst, dst, k);
  }
  if (uni(0, 1) < opt.blur_p) cv::GaussianBlur(dst, dst, {3, 3}, uni(0.4f, 0.9f));
  if (uni(0, 1) < opt.noise_p) {
    const float sigma = uni(0.02f, 0.08f);
    std::normal_distribution<float> noise(0.0f, sigma);
    for (int i = 0; i < rows * cols; ++i) out[i] += noise(rng);
  }
  for (int i = 0; i < rows * cols; ++i) out[i] = std::min(1.0f, std::max(0.0f, out[i]));
}

}  // namespace scrawl
