// MNIST-style datasets from IDX files, checked at the boundary (magic, dimensions, sizes),
// and the batch loader: seeded shuffling every epoch and optional augmentation.
// Tested by tests/unit/test_dataset.cpp (IDX errors, shuffling, augmentation) and tests/data.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace scrawl {

struct Dataset {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // (count, rows, cols), 0 = paper, 255 = ink
  std::vector<uint8_t> labels;  // (count), 0..9, or kOutlierByte (not a digit)
  size_t image_size() const { return static_cast<size_t>(rows) * cols; }
};

// Reads an IDX3 image file and its IDX1 label file. Throws FormatError saying what is wrong.
Dataset idx_load(const std::string& images_path, const std::string& labels_path);

// Loads dir/train-* (train = true) or dir/t10k-*. The error for a missing folder says how
// to fetch the data.
Dataset mnist_load(const std::string& dir, bool train);

struct AugmentOptions {
  bool enabled = false;
  float rotate_deg = 12.0f;     // uniform in [-rotate, rotate]
  float scale_min = 0.85f, scale_max = 1.12f;
  float shear = 0.2f;           // horizontal shear factor, uniform in [-shear, shear]
  float shift_px = 2.5f;        // uniform translation in each axis
  float thickness_p = 0.3f;     // chance of a 2x2 dilation or erosion of the stroke
  float blur_p = 0.15f;         // chance of a light Gaussian blur
  float noise_p = 0.15f;        // chance of additive Gaussian noise
  // Chance of re-inking the digit with a pen of another weight (pen_reink): MNIST's strokes fade
  // out in a grey ramp, a pen's are solid with a thin soft edge, and how bold a photographed digit
  // comes out depends on where its ink is cut from the paper. 0 leaves the draws as they were.
  float pen_p = 0.0f;
  // Samples that teach the model what a bad cut of a number looks like (see compose_sample):
  // outliers (label -1, "not a digit": two digits squeezed into one crop, part of a digit, a
  // digit with a large piece of its neighbour) and digits with a sliver of a neighbour left on.
  float outlier_p = 0.0f;
  float residue_p = 0.0f;
};

// Hands out batches of one epoch in a seeded random order, as float images in [0, 1]
// (N, 1, rows, cols) and float labels (N), into any host buffers (pinned ones for the GPU).
class BatchLoader {
 public:
  BatchLoader(const Dataset& data, int batch, uint64_t seed, AugmentOptions augment = {});
  void epoch_begin(int epoch);  // reshuffles; the order depends on (seed, epoch) only
  int batches() const { return (data_->count + batch_ - 1) / batch_; }
  int batch_size() const { return batch_; }
  // Fills batch b of the current epoch; returns how many samples it holds (the last may be short).
  int fill(int b, float* x, float* labels) const;
  // The dataset indices of batch b, as floats (for a dataset that lives on the backend).
  int indices(int b, float* out) const;
  bool augmenting() const { return augment_.enabled; }

 private:
  const Dataset* data_;
  int batch_;
  uint64_t seed_;
  int epoch_ = 0;
  AugmentOptions augment_;
  std::vector<int> order_;
};

// The label of a composed sample: a digit's, or this for "not a digit" (a uniform target).
constexpr float kOutlierLabel = -1.0f;
// A dataset's label byte for a sample that is no digit (cut_samples' bad cuts); BatchLoader
// hands it out as kOutlierLabel and composes nothing onto it.
constexpr uint8_t kOutlierByte = 255;
inline float label_of(uint8_t v) { return v == kOutlierByte ? kOutlierLabel : float(v); }

// Builds a training sample from digit `a` (label `label`) and a second digit `b`, both (rows,
// cols) in [0, 1], deterministic in `seed`, and returns its label. With chance outlier_p it is an
// outlier, built as number mode's crops are (cropped to the ink, longest side 20 px, centre of
// mass in the middle): a and b side by side, touching or overlapping a little; the left or right
// 35-65% of a wide digit; a with 30-60% of b against it. With chance residue_p it is a with a
// 4-14% sliver of b against it, labelled as a. Otherwise a is copied unchanged.
float compose_sample(const AugmentOptions& opt, uint64_t seed, int rows, int cols, const float* a,
                     float label, const float* b, float* out);

// A draw in [lo, hi) from the top 24 bits of rng: the same on every standard library (the
// standard distributions are not), so seeded samples are too.
float uniform_draw(std::mt19937_64& rng, float lo, float hi);

// Redraws a (rows, cols) digit in [0, 1] in place as a solid pen stroke: the grey image
// upsampled 2x, its level above `level` (0-1: higher, a finer pen) turned to ink with a soft edge
// `soft` wide in level units, and brought back to size by area averaging (an anti-aliased edge).
void pen_reink(float* img, int rows, int cols, float level, float soft);

// Writes one augmented copy of a (rows, cols) image in [0, 1]; deterministic in `seed`.
void augment_image(const AugmentOptions& opt, uint64_t seed, int rows, int cols, const float* in,
                   float* out);

}  // namespace scrawl
