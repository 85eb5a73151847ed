// IDX reading (every malformation named in the error), the batch loader's seeded shuffling,
// and augmentation's determinism and bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "host/dataset.h"
#include "host/error.h"
#include "host/file_util.h"

namespace scrawl {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> idx_bytes(std::vector<uint32_t> dims, size_t data_bytes, uint8_t fill = 0) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.resize(b.size() + data_bytes, fill);
  return b;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scrawl-idx-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::vector<uint8_t>& b) {
    const std::string p = (dir_ / name).string();
    file_write_atomic(p, b.data(), b.size());
    return p;
  }
  std::string refusal(const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels) {
    const std::string i = write("i", images), l = write("l", labels);
    try {
      idx_load(i, l);
    } catch (const FormatError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted a bad IDX pair";
    return "";
  }
  fs::path dir_;
};

TEST_F(IdxTest, ReadsAGoodPair) {
  std::vector<uint8_t> labels = idx_bytes({3}, 0);
  labels.insert(labels.end(), {4, 0, 9});
  const Dataset d = idx_load(write("i", idx_bytes({3, 28, 28}, 3 * 784, 7)), write("l", labels));
  EXPECT_EQ(d.count, 3);
  EXPECT_EQ(d.rows, 28);
  EXPECT_EQ(d.labels, (std::vector<uint8_t>{4, 0, 9}));
  EXPECT_EQ(d.images.size(), 3u * 784);
}

TEST_F(IdxTest, NamesWhatIsWrong) {
  const auto labels = idx_bytes({3}, 3);
  EXPECT_NE(refusal({0x1f, 0x8b, 0x08, 0x00, 1, 2, 3}, labels).find("gzip"), std::string::npos);
  EXPECT_NE(refusal(labels, labels).find("expected 3"), std::string::npos);
  EXPECT_NE(refusal(idx_bytes({3, 28, 28}, 3 * 784 - 5), labels).find("truncated"),
            std::string::npos);
  EXPECT_NE(refusal(idx_bytes({3, 28, 28}, 3 * 784 + 5), labels).find("trailing"),
            std::string::npos);
  EXPECT_NE(refusal(idx_bytes({4, 28, 28}, 4 * 784), labels).find("4 images"), std::string::npos);
  EXPECT_NE(refusal(idx_bytes({3, 28, 28}, 3 * 784), idx_bytes({3}, 3, 12)).find("label 12"),
            std::string::npos);
  EXPECT_NE(refusal({0, 0}, labels).find("too short"), std::string::npos);
  try {
    mnist_load((dir_ / "nowhere").string(), true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fetch_mnist.sh"), std::string::npos) << e.what();
  }
}

Dataset tiny(int count) {
  Dataset d;
  d.count = count;
  d.rows = d.cols = 28;
  d.images.resize(size_t(count) * 784);
  d.labels.resize(count);
  for (int i = 0; i < count; ++i) {
    d.labels[i] = static_cast<uint8_t>(i % 10);
    d.images[size_t(i) * 784 + 14 * 28 + 14] = static_cast<uint8_t>(i % 256);  // identifies it
    for (int r = 8; r < 20; ++r) d.images[size_t(i) * 784 + r * 28 + 12] = 255;
  }
  return d;
}

TEST(BatchLoader, EachEpochIsASeededPermutation) {
  const Dataset d = tiny(100);
  BatchLoader a(d, 32, 7), b(d, 32, 7), c(d, 32, 8);
  EXPECT_EQ(a.batches(), 4);
  std::vector<float> x(32 * 784), l(32);
  auto epoch_labels = [&](BatchLoader& loader, int epoch) {
    loader.epoch_begin(epoch);
    std::vector<float> all;
    for (int bi = 0; bi < loader.batches(); ++bi) {
      const int n = loader.fill(bi, x.data(), l.data());
      EXPECT_EQ(n, bi == 3 ? 4 : 32);
      for (int i = 0; i < n; ++i) all.push_back(x[size_t(i) * 784 + 14 * 28 + 14] * 255.0f + l[i] * 1000.0f);
    }
    return all;
  };
  const auto e0 = epoch_labels(a, 0), e1 = epoch_labels(a, 1);
  EXPECT_EQ(e0, epoch_labels(b, 0));  // same seed, same order
  EXPECT_NE(e0, e1);                  // reshuffled every epoch
  EXPECT_NE(e0, epoch_labels(c, 0));  // another seed, another order
  EXPECT_EQ(std::set<float>(e0.begin(), e0.end()).size(), 100u);  // every sample exactly once
}

TEST(BatchLoader, OutlierBytesBecomeUniformTargetsAndAreNotComposed) {
  Dataset d = tiny(10);
  d.labels[3] = kOutlierByte;  // a crop that is no digit (cut_samples)
  AugmentOptions opt;
  opt.enabled = true;
  opt.outlier_p = 1.0f;  // every digit is composed into an outlier, but not this sample
  opt.rotate_deg = 0, opt.scale_min = opt.scale_max = 1, opt.shear = 0, opt.shift_px = 0;
  opt.thickness_p = opt.blur_p = opt.noise_p = 0;
  BatchLoader loader(d, 10, 1, opt);
  loader.epoch_begin(0);
  std::vector<float> x(10 * 784), l(10);
  ASSERT_EQ(loader.fill(0, x.data(), l.data()), 10);
  int outliers = 0;
  for (int i = 0; i < 10; ++i) {
    const int id = int(std::lround(x[size_t(i) * 784 + 14 * 28 + 14] * 255.0f));
    if (id != 3) continue;
    ++outliers;
    EXPECT_EQ(l[size_t(i)], kOutlierLabel);
    for (int p = 0; p < 784; ++p)  // the image as stored: nothing pasted beside it
      EXPECT_FLOAT_EQ(x[size_t(i) * 784 + size_t(p)], d.images[3 * 784 + size_t(p)] / 255.0f);
  }
  EXPECT_EQ(outliers, 1);
  EXPECT_EQ(label_of(7), 7.0f);
  EXPECT_EQ(label_of(kOutlierByte), kOutlierLabel);
}

TEST(Augment, DeterministicBoundedAndDifferent) {
  const Dataset d = tiny(1);
  std::vector<float> in(784), a(784), b(784), c(784);
  for (int i = 0; i < 784; ++i) in[i] = d.images[i] / 255.0f;
  AugmentOptions opt;
  opt.enabled = true;
  augment_image(opt, 5, 28, 28, in.data(), a.data());
  augment_image(opt, 5, 28, 28, in.data(), b.data());
  augment_image(opt, 6, 28, 28, in.data(), c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double ink = 0;
  for (float v : a) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
    ink += v;
  }
  EXPECT_GT(ink, 3.0);  // the stroke survives
}

// A stroke that fades out as MNIST's do: a vertical bar whose level falls off linearly from
// 1 on its axis (column 14) to 0 five columns away.
std::vector<float> ramp_stroke() {
  std::vector<float> img(784, 0.0f);
  for (int y = 4; y < 24; ++y)
    for (int x = 9; x <= 19; ++x)
      img[size_t(y * 28 + x)] = std::max(0.0f, 1.0f - std::abs(float(x - 14)) / 5.0f);
  return img;
}

double ink_sum(const std::vector<float>& img) {
  double s = 0;
  for (float v : img) s += v;
  return s;
}

TEST(Augment, PenReinkMakesASolidStrokeWhoseWidthFollowsTheLevel) {
  const std::vector<float> ramp = ramp_stroke();
  std::vector<float> fine = ramp, bold = ramp;
  pen_reink(fine.data(), 28, 28, 0.6f, 0.1f);
  pen_reink(bold.data(), 28, 28, 0.2f, 0.1f);
  // Solid on the axis, nothing far off it, and the same for every row of the bar.
  for (const auto* img : {&fine, &bold}) {
    EXPECT_NEAR((*img)[14 * 28 + 14], 1.0f, 1e-5f);
    EXPECT_NEAR((*img)[14 * 28 + 3], 0.0f, 1e-6f);
    for (float v : *img) EXPECT_TRUE(v >= 0.0f && v <= 1.0f) << v;
    for (int x = 0; x < 28; ++x) EXPECT_FLOAT_EQ((*img)[10 * 28 + x], (*img)[17 * 28 + x]);
  }
  // A higher level keeps less of the ramp: the fine pen's stroke is narrower than the bold one's.
  EXPECT_LT(ink_sum(fine), ink_sum(bold));
  // Level 0.6 keeps |dx| < 2 columns of 5 (a 3-4 column stroke); 0.2 keeps |dx| < 4 (7-8).
  EXPECT_NEAR(ink_sum(fine) / 20.0, 4.0, 0.75);
  EXPECT_NEAR(ink_sum(bold) / 20.0, 8.0, 0.75);
  // The grey ramp has become a solid stroke: few pixels are left half-inked.
  auto half_inked = [](const std::vector<float>& img) {
    return std::count_if(img.begin(), img.end(), [](float v) { return v > 0.15f && v < 0.85f; });
  };
  EXPECT_LT(half_inked(fine), half_inked(ramp) / 2);
  EXPECT_THROW(pen_reink(fine.data(), 28, 28, 0.5f, 0.0f), Error);
}

TEST(Augment, PenShareDrawsRedrawnStrokesAndZeroLeavesSamplesAsTheyWere) {
  const std::vector<float> ramp = ramp_stroke();
  AugmentOptions plain;
  plain.enabled = true;
  plain.rotate_deg = 0, plain.scale_min = plain.scale_max = 1, plain.shear = 0;
  plain.shift_px = 0, plain.thickness_p = plain.blur_p = plain.noise_p = 0;
  AugmentOptions pen = plain;
  pen.pen_p = 1.0f;
  int redrawn = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> a(784), b(784);
    augment_image(plain, seed, 28, 28, ramp.data(), a.data());
    augment_image(pen, seed, 28, 28, ramp.data(), b.data());
    for (int i = 0; i < 784; ++i) EXPECT_NEAR(a[size_t(i)], ramp[size_t(i)], 1e-5f);  // identity
    redrawn += a != b;
    EXPECT_NEAR(b[14 * 28 + 14], 1.0f, 1e-5f);  // whatever the pen, the axis stays inked
  }
  EXPECT_EQ(redrawn, 20);
  // At 0 the share takes no draw, so the later draws (stroke, blur, noise) are those of a model
  // trained before it existed. A share too small ever to re-ink still takes its draw and moves
  // them: if 0 took one too, the two would agree on every seed.
  AugmentOptions usual;
  usual.enabled = true;
  AugmentOptions tiny = usual;
  tiny.pen_p = 1e-30f;
  int moved = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> a(784), b(784);
    augment_image(usual, seed, 28, 28, ramp.data(), a.data());
    augment_image(tiny, seed, 28, 28, ramp.data(), b.data());
    moved += a != b;
  }
  EXPECT_GT(moved, 0);
}

// A 28x28 image with a filled box [x0, x1) x [y0, y1) of ink.
std::vector<float> box_digit(int x0, int x1, int y0, int y1) {
  std::vector<float> img(784, 0.0f);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) img[size_t(y * 28 + x)] = 1.0f;
  return img;
}

struct InkStats {
  int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  double cx = 0, cy = 0, mass = 0;
};

InkStats ink_stats(const std::vector<float>& img) {
  InkStats s;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      const float v = img[size_t(y * 28 + x)];
      if (v > 0.1f) {
        s.x0 = std::min(s.x0, x), s.x1 = std::max(s.x1, x);
        s.y0 = std::min(s.y0, y), s.y1 = std::max(s.y1, y);
      }
      s.mass += v, s.cx += v * x, s.cy += v * y;
    }
  }
  if (s.mass > 0) s.cx /= s.mass, s.cy /= s.mass;
  return s;
}

TEST(ComposeSample, OutliersResidueAndPlainCopies) {
  // a: a box 12 px wide, 20 tall (a "digit"), b: one 10 px wide.
  const auto a = box_digit(8, 20, 4, 24), b = box_digit(9, 19, 4, 24);
  std::vector<float> out(784), again(784);
  AugmentOptions none;
  EXPECT_EQ(compose_sample(none, 3, 28, 28, a.data(), 7.0f, b.data(), out.data()), 7.0f);
  EXPECT_EQ(out, a);  // no composition asked: a unchanged

  AugmentOptions all_out;
  all_out.outlier_p = 1.0f;
  AugmentOptions all_res;
  all_res.residue_p = 1.0f;
  int wider = 0, narrower = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed);
    EXPECT_EQ(compose_sample(all_out, seed, 28, 28, a.data(), 7.0f, b.data(), out.data()),
              kOutlierLabel);
    compose_sample(all_out, seed, 28, 28, a.data(), 7.0f, b.data(), again.data());
    EXPECT_EQ(out, again);  // deterministic in the seed
    // Cropped and fitted as number mode fits a crop: longest side 20 px, mass near the centre.
    InkStats s = ink_stats(out);
    ASSERT_GT(s.mass, 0.0);
    EXPECT_NEAR(std::max(s.x1 - s.x0, s.y1 - s.y0) + 1, 20, 1);
    EXPECT_NEAR(s.cx, 14.0, 1.0);
    EXPECT_NEAR(s.cy, 14.0, 1.0);
    // a alone is 12/20 wide; a pair or a digit with a big piece is wider, a part narrower.
    const double aspect = double(s.x1 - s.x0 + 1) / (s.y1 - s.y0 + 1);
    wider += aspect > 0.7;
    narrower += aspect < 0.5;

    EXPECT_EQ(compose_sample(all_res, seed, 28, 28, a.data(), 7.0f, b.data(), out.data()), 7.0f);
    s = ink_stats(out);
    const double res_aspect = double(s.x1 - s.x0 + 1) / (s.y1 - s.y0 + 1);
    EXPECT_GE(res_aspect, 0.5);   // a and a sliver (b may sit 2 px lower: the box grows)...
    EXPECT_LT(res_aspect, 0.75);  // ...and not much more
  }
  EXPECT_GT(wider, 15);  // every kind shows up
  EXPECT_GT(narrower, 5);

  // The loader uses it: with outlier_p = 1 every label is the outlier label.
  const Dataset d = tiny(40);
  AugmentOptions opt;
  opt.enabled = true;
  opt.outlier_p = 1.0f;
  BatchLoader loader(d, 40, 1, opt);
  std::vector<float> x(40 * 784), l(40);
  loader.fill(0, x.data(), l.data());
  for (float v : l) EXPECT_EQ(v, kOutlierLabel);
}

}  // namespace
}  // namespace scrawl
