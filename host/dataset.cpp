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
    if (augment_.enabled) {
      std::vector<float> tmp(dst, dst + sz);
      augment_image(augment_, mix(mix(seed_, epoch_), idx), data_->rows, data_->cols, tmp.data(),
                    dst);
    }
    labels[i] = static_cast<float>(data_->labels[idx]);
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

void augment_image(const AugmentOptions& opt, uint64_t seed, int rows, int cols, const float* in,
                   float* out) {
  std::mt19937_64 rng(seed);
  auto uni = [&](float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(rng() >> 40) * (1.0f / 16777216.0f);
  };
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
