// Tests for host/vision: decoding limits, EXIF orientation, alpha, and MNIST-style preprocessing
// of digits drawn in code under many conditions (polarity, colours, gradients, shadows, noise,
// transparency), plus number mode (order, broken and touching digits, specks, classifier cuts).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/model_file.h"
#include "host/network.h"
#include "host/vision/cut_samples.h"
#include "host/vision/ink_internal.h"
#include "host/vision/pair_reader.h"
#include "host/vision/preprocess.h"
#include "host/vision/reading.h"
#include "host/vision/second_look.h"

namespace scrawl::vision {
namespace {

using Pixels = std::array<float, 784>;

// ---- fixtures drawn in code ----

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Grey (CV_8U) image: `text` in black on white, glyphs' box centred at `centre`.
cv::Mat text_draw(const std::string& text, cv::Size size, cv::Point centre, double scale,
                  int thickness) {
  cv::Mat img(size, CV_8U, cv::Scalar(255));
  int base = 0;
  cv::Size ts = cv::getTextSize(text, kFont, scale, thickness, &base);
  cv::Point org(centre.x - ts.width / 2, centre.y + ts.height / 2);
  cv::putText(img, text, org, kFont, scale, cv::Scalar(0), thickness, cv::LINE_AA);
  return img;
}

// The reference digit: a "3", 200x200, about 90 px tall, strokes 12 px.
cv::Mat digit_grey(const std::string& d = "3") {
  return text_draw(d, {200, 200}, {100, 100}, 4.0, 12);
}

// Paints the grey drawing in colours: ink where it is dark, paper where it is light.
cv::Mat colourise(const cv::Mat& grey, cv::Scalar ink, cv::Scalar paper) {
  cv::Mat out(grey.size(), CV_8UC3);
  for (int y = 0; y < grey.rows; ++y) {
    for (int x = 0; x < grey.cols; ++x) {
      float t = grey.at<uint8_t>(y, x) / 255.0f;  // 0 = ink, 1 = paper
      for (int c = 0; c < 3; ++c) {
        out.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uint8_t>(ink[c] * (1 - t) + paper[c] * t);
      }
    }
  }
  return out;
}

// A photo under uneven light: reflectance (ink 0.1, paper 0.95) times a left-to-right falloff
// to 45% and a soft shadow in one corner.
cv::Mat photo_lit(const cv::Mat& grey) {
  cv::Mat out(grey.size(), CV_8U);
  for (int y = 0; y < grey.rows; ++y) {
    for (int x = 0; x < grey.cols; ++x) {
      float refl = 0.1f + 0.85f * grey.at<uint8_t>(y, x) / 255.0f;
      float light = 1.0f - 0.55f * x / float(grey.cols - 1);
      float dx = x - 0.85f * grey.cols, dy = y - 0.15f * grey.rows;
      light *= 1.0f - 0.4f * std::exp(-(dx * dx + dy * dy) / (2 * 50.0f * 50.0f));
      out.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(255.0f * refl * light);
    }
  }
  return out;
}

cv::Mat noisy(const cv::Mat& grey, double sigma, uint64_t seed) {
  cv::Mat noise(grey.size(), CV_32F);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, sigma);
  cv::Mat f, out;
  grey.convertTo(f, CV_32F);
  cv::Mat(f + noise).convertTo(out, CV_8U);
  return out;
}

// ---- measurements on 28x28 results ----

double correlation(const Pixels& a, const Pixels& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < 784; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= 784;
  mb /= 784;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < 784; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

// The same, allowing one pixel of placement either way: crops are placed by an integer shift
// (as MNIST), so the same digit under different noise may land one pixel apart.
double similarity(const Pixels& a, const Pixels& b) {
  double best = -1;
  for (int dy = -1; dy <= 1; ++dy) {
    for (int dx = -1; dx <= 1; ++dx) {
      Pixels s{};
      for (int y = std::max(0, -dy); y < std::min(28, 28 - dy); ++y) {
        for (int x = std::max(0, -dx); x < std::min(28, 28 - dx); ++x) {
          s[size_t((y + dy) * 28 + x + dx)] = a[size_t(y * 28 + x)];
        }
      }
      best = std::max(best, correlation(s, b));
    }
  }
  return best;
}

struct Geometry {
  int box_w = 0, box_h = 0;  // of pixels above 0.25
  double cx = 0, cy = 0;     // centre of mass, pixel indices
  double max = 0, mean = 0, border_max = 0;
};

Geometry geometry(const Pixels& p) {
  Geometry g;
  int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
  double m = 0, mx = 0, my = 0;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      float v = p[size_t(y * 28 + x)];
      m += v;
      mx += v * x;
      my += v * y;
      g.max = std::max(g.max, double(v));
      if (x == 0 || y == 0 || x == 27 || y == 27) g.border_max = std::max(g.border_max, double(v));
      if (v > 0.25f) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
    }
  }
  g.mean = m / 784;
  g.cx = m > 0 ? mx / m : 0;
  g.cy = m > 0 ? my / m : 0;
  g.box_w = x1 - x0 + 1;
  g.box_h = y1 - y0 + 1;
  return g;
}

void expect_mnist_like(const Pixels& p, const std::string& what) {
  SCOPED_TRACE(what);
  Geometry g = geometry(p);
  EXPECT_GE(g.max, 0.95) << "ink should reach ~1";
  EXPECT_LT(g.mean, 0.35) << "the background should be black (polarity)";
  EXPECT_LT(g.border_max, 0.05) << "the frame should be empty";
  EXPECT_GE(std::max(g.box_w, g.box_h), 18);
  EXPECT_LE(std::max(g.box_w, g.box_h), 21);
  EXPECT_NEAR(g.cx, 14.0, 0.75);
  EXPECT_NEAR(g.cy, 14.0, 0.75);
}

cv::Mat mnist_to_image(const Pixels& p) {
  cv::Mat img(28, 28, CV_8U);
  for (int i = 0; i < 784; ++i) img.data[i] = cv::saturate_cast<uint8_t>(p[size_t(i)] * 255.0f);
  return img;
}

// ---- preprocessing one digit ----

TEST(VisionDigit, CleanDigitIsMnistLike) {
  DigitCrop c = digit_preprocess(digit_grey());
  expect_mnist_like(c.pixels, "clean");
  // The box is the ink's, in input pixels: the glyph is about 90 px tall around (100, 100).
  EXPECT_GT(c.box.h, 80);
  EXPECT_LT(c.box.h, 110);
  EXPECT_NEAR(c.box.x + c.box.w / 2.0, 100, 10);
  EXPECT_NEAR(c.box.y + c.box.h / 2.0, 100, 10);
}

TEST(VisionDigit, SameDigitUnderManyConditions) {
  cv::Mat grey = digit_grey();
  Pixels clean = digit_preprocess(grey).pixels;

  cv::Mat inverted = 255 - grey;
  cv::Mat grey_bgr;
  cv::cvtColor(grey, grey_bgr, cv::COLOR_GRAY2BGR);
  // Transparent canvas export: colour channels all black, the drawing only in alpha.
  cv::Mat bgra(grey.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
  cv::Mat alpha = 255 - grey;
  cv::insertChannel(alpha, bgra, 3);
  // The same, but white ink on transparent (must not vanish onto white paper).
  cv::Mat bgra_white(grey.size(), CV_8UC4, cv::Scalar(255, 255, 255, 0));
  cv::insertChannel(alpha, bgra_white, 3);
  // Off-centre and smaller, in a larger landscape image.
  cv::Mat small = text_draw("3", {360, 240}, {80, 70}, 2.0, 6);
  // JPEG round trip of the lit photo.
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", photo_lit(grey), jpeg, {cv::IMWRITE_JPEG_QUALITY, 60});

  // A hard-edged shadow over the right part, and the paper lying on a dark desk that fills
  // more of the photo than the paper does.
  cv::Mat shadow = grey.clone();
  shadow.colRange(110, 200) *= 0.55;
  cv::Mat desk(300, 300, CV_8U, cv::Scalar(40));
  grey.copyTo(desk(cv::Rect(50, 50, 200, 200)));

  struct Case {
    std::string name;
    cv::Mat image;
    double min_similarity = 0.97;
  } cases[] = {
      {"BGR black on white", grey_bgr},
      {"white on black", inverted},
      {"blue ink on yellow paper", colourise(grey, {170, 60, 20}, {140, 225, 240})},
      {"green ink on red paper (same luminance)", colourise(grey, {0, 150, 0}, {0, 0, 255})},
      {"white chalk on a green board", colourise(grey, {235, 240, 235}, {40, 80, 30})},
      {"gradient and soft shadow", photo_lit(grey)},
      {"hard shadow", shadow},
      {"paper on a dark desk", desk},
      {"gaussian noise sigma 25", noisy(grey, 25, 7)},
      {"BGRA, ink only in alpha", bgra},
      {"BGRA, white ink on transparent", bgra_white},
      {"small and off-centre (rendered at another size)", small, 0.9},
      {"JPEG photo", image_decode(jpeg.data(), jpeg.size()), 0.9},
  };
  for (const Case& c : cases) {
    Pixels p = digit_preprocess(c.image).pixels;
    expect_mnist_like(p, c.name);
    EXPECT_GT(similarity(p, clean), c.min_similarity) << c.name;
  }
}

TEST(VisionDigit, MnistStyleInputIsAFixedPoint) {
  Pixels once = digit_preprocess(digit_grey()).pixels;
  Pixels twice = digit_preprocess(mnist_to_image(once)).pixels;
  EXPECT_GT(correlation(once, twice), 0.98);
  expect_mnist_like(twice, "re-fed");
}

TEST(VisionDigit, ThinPenIsThickenedToMnistStrokes) {
  // A 2 px pen on a 400 px drawing would be a 0.1 px hairline at 20 px.
  cv::Mat thin = text_draw("3", {400, 400}, {200, 200}, 8.0, 2);
  Pixels p = digit_preprocess(thin).pixels;
  expect_mnist_like(p, "thin pen");
  int strong = 0;
  for (float v : p) strong += v > 0.5f;
  EXPECT_GT(strong, 40) << "strokes should be solid, not a faint hairline";
  EXPECT_GT(similarity(p, digit_preprocess(digit_grey()).pixels), 0.75);
}

TEST(VisionDigit, BrokenStrokeAndSpecksKeepTheDigit) {
  cv::Mat grey = digit_grey();
  Pixels clean = digit_preprocess(grey).pixels;
  cv::Mat broken = grey.clone();
  cv::line(broken, {60, 100}, {140, 100}, cv::Scalar(255), 4);  // cut across the middle
  cv::circle(broken, {15, 15}, 2, cv::Scalar(0), cv::FILLED);   // specks far from the digit
  cv::circle(broken, {185, 180}, 2, cv::Scalar(0), cv::FILLED);
  cv::circle(broken, {20, 170}, 1, cv::Scalar(0), cv::FILLED);
  DigitCrop c = digit_preprocess(broken);
  expect_mnist_like(c.pixels, "broken with specks");
  EXPECT_GT(similarity(c.pixels, clean), 0.85);
  EXPECT_GT(c.box.x, 30) << "specks must not stretch the box";
  EXPECT_LT(c.box.y + c.box.h, 170);
}

TEST(VisionDigit, InkMapReportsPolarityAndStrokeWidth) {
  InkMap dark = ink_find(digit_grey());
  EXPECT_FALSE(dark.light_ink);
  EXPECT_NEAR(dark.stroke_width, 12.0, 5.0);
  InkMap light = ink_find(255 - digit_grey());
  EXPECT_TRUE(light.light_ink);
  ASSERT_EQ(light.mask.size(), cv::Size(200, 200));
  EXPECT_EQ(light.mask.at<uint8_t>(5, 5), 0);
  EXPECT_EQ(light.ink.at<float>(5, 5), 0.0f);

  cv::Mat big = cv::Mat(3000, 2000, CV_8U, cv::Scalar(255));
  cv::resize(digit_grey(), big(cv::Rect(500, 1000, 1000, 1000)), {1000, 1000});
  InkMap m = ink_find(big);
  EXPECT_LE(std::max(m.ink.cols, m.ink.rows), 1024) << "work at a capped resolution";
  DigitCrop c = digit_preprocess(big);
  EXPECT_NEAR(c.box.x + c.box.w / 2.0, 1000, 50) << "boxes are in input pixels";
  EXPECT_NEAR(c.box.y + c.box.h / 2.0, 1500, 50);
}

// A bold digit filling a quarter of a small photo whose light falls off steeply: the paper's
// grey spans as much as the ink's contrast, so a fit that starts wide takes the ink in and
// sees nothing beyond its threshold; the fallback fit must find the digit.
TEST(VisionDigit, BoldDigitOnSteeplyLitPaperIsFound) {
  cv::Mat bold = text_draw("3", {70, 86}, {35, 43}, 2.2, 14);  // ink on 30% of the frame
  cv::Mat photo(bold.size(), CV_8U);
  for (int y = 0; y < bold.rows; ++y) {
    for (int x = 0; x < bold.cols; ++x) {
      const float refl = 0.3f + 0.7f * bold.at<uint8_t>(y, x) / 255.0f;
      const float light = 205.0f - 100.0f * (x + y) / float(bold.cols + bold.rows - 2);
      photo.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(refl * light);
    }
  }
  const cv::Mat shot = noisy(photo, 3, 5);
  // The usual fit takes the ink in (no sample beyond its threshold); the fallback's does not.
  EXPECT_EQ(ink_detail::paper_fit(shot).snr, 0.0) << "the case the fallback is for";
  EXPECT_GT(ink_detail::paper_fit(shot, ink_detail::kNarrowFirstBand).snr, 3.0);
  Pixels want = digit_preprocess(bold).pixels;
  DigitCrop got = digit_preprocess(shot);
  expect_mnist_like(got.pixels, "bold on steep light");
  EXPECT_GT(similarity(got.pixels, want), 0.9);
}

// Thick strokes in a noisy photo with a bright highlight: speckle in the rough mask must not pass
// for thin strokes, or the local paper would follow the strokes and hollow them out.
// A 6 in blue ink beside a hard diagonal shadow (tests/fixtures/README.md): neither quadratic fit
// follows the shadow's edge, and the step so inflates their noise estimate that no ink shows
// beyond their thresholds. The last fallback takes the paper from a wide median, which keeps the
// step; it used to lower the threshold to three of the inflated sigmas instead, which found only
// a 10x18 px speck of the 6 (read as a 1).
TEST(VisionDigit, DigitBesideAHardShadowIsFound) {
  const cv::Mat photo = image_read(std::string(SCRAWL_SOURCE_DIR) + "/tests/fixtures/shadow_six.jpg");
  cv::Mat grey;
  cv::cvtColor(photo, grey, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(ink_detail::paper_fit(grey).snr, 0.0) << "the case the fallback is for";
  EXPECT_EQ(ink_detail::paper_fit(grey, ink_detail::kNarrowFirstBand).snr, 0.0);
  const DigitCrop got = digit_preprocess(photo);
  expect_mnist_like(got.pixels, "beside a hard shadow");
  // The 6 spans about x 119-206, y 85-209 of the 392x365 photo.
  EXPECT_GT(got.box.h, 100) << "the whole digit, not a speck";
  EXPECT_NEAR(got.box.x, 119, 12);
  EXPECT_NEAR(got.box.y, 85, 12);
}

// Bold strokes in a small JPEG with a faint light halo around them (ringing: a brown 7 on pink
// paper, read in its blue channel, had one). The strokes are as wide as a blob and the halo is
// thin and as long as they are, but it weighs next to nothing beside them: the ink stays dark.
// Before, the blob rule took the halo for the strokes, and the 7 came back as a ring of specks
// read at 11%.
TEST(VisionDigit, BoldStrokesKeepTheirInkOverALightHalo) {
  cv::Mat ink = cv::Mat::zeros(100, 100, CV_8U);
  cv::line(ink, {25, 22}, {75, 22}, cv::Scalar(255), 18);
  cv::line(ink, {75, 22}, {45, 80}, cv::Scalar(255), 18);
  cv::Mat halo;
  cv::dilate(ink, halo, cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5}));
  cv::Mat photo(ink.size(), CV_8U, cv::Scalar(236));
  photo.setTo(255, halo);
  photo.setTo(20, ink);
  photo = noisy(photo, 1.5, 3);
  const InkMap m = ink_find(photo);
  EXPECT_FALSE(m.light_ink);
  cv::Mat plain(ink.size(), CV_8U, cv::Scalar(236));
  plain.setTo(20, ink);
  EXPECT_GT(similarity(digit_preprocess(photo).pixels, digit_preprocess(plain).pixels), 0.9);
}

// A bold 9 in a small photo whose light falls off strongly towards the corners (a vignette, to a
// third of the middle's). The local paper, a closing as wide as two and a half strokes, rides
// too high within half its width of the frame, which here is most of the image, so the paper
// there looked like faint ink and its spread set the ink threshold above most of the strokes:
// the 9 came back in pieces, or as no ink at all. The photo is now first divided by the quadratic
// paper fit when that spread, not Otsu, sets the threshold.
TEST(VisionDigit, BoldDigitUnderAStrongVignetteIsReadWhole) {
  const cv::Mat grey = text_draw("9", {160, 160}, {80, 80}, 3.2, 22);
  cv::Mat photo(grey.size(), CV_8U);
  for (int y = 0; y < grey.rows; ++y) {
    for (int x = 0; x < grey.cols; ++x) {
      const double dx = x / 159.0 - 0.5, dy = y / 159.0 - 0.5;
      const double light = 1.0 - 0.68 * (dx * dx + dy * dy) / 0.5;
      const double refl = 0.35 + 0.6 * grey.at<uint8_t>(y, x) / 255.0;  // a grey pen
      photo.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(255.0 * refl * light);
    }
  }
  photo = noisy(photo, 3.0, 11);
  const DigitCrop got = digit_preprocess(photo);
  EXPECT_GT(similarity(got.pixels, digit_preprocess(grey).pixels), 0.9);
}

TEST(VisionDigit, NoisyHighlightKeepsThickStrokesSolid) {
  cv::Mat big;
  cv::resize(digit_grey(), big, {320, 320}, 0, 0, cv::INTER_LINEAR);  // strokes ~19 px
  cv::Mat photo(big.size(), CV_8U);
  for (int y = 0; y < big.rows; ++y) {
    for (int x = 0; x < big.cols; ++x) {
      const float refl = 0.35f + 0.6f * big.at<uint8_t>(y, x) / 255.0f;
      const float dx = x - 20.0f, dy = y - 300.0f;
      const float light = 150.0f + 100.0f * std::exp(-(dx * dx + dy * dy) / (2 * 70.0f * 70.0f));
      photo.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(refl * light);
    }
  }
  cv::Mat shot = noisy(photo, 18, 9);
  InkMap m = ink_find(shot);
  EXPECT_GT(m.stroke_width, 10.0f) << "the strokes are ~19 px wide";
  Pixels p = digit_preprocess(shot).pixels;
  expect_mnist_like(p, "noisy highlight");
  EXPECT_GT(similarity(p, digit_preprocess(big).pixels), 0.9);
}

// A dark vignette as an L along two edges of a photo (one component, its box the whole frame)
// is not part of the digit.
TEST(VisionDigit, CornerVignetteIsNotInk) {
  cv::Mat grey = digit_grey();
  Pixels clean = digit_preprocess(grey).pixels;
  cv::Mat framed = grey.clone();
  framed.rowRange(0, 12).setTo(60);
  framed.colRange(188, 200).setTo(60);
  DigitCrop c = digit_preprocess(framed);
  expect_mnist_like(c.pixels, "corner L");
  EXPECT_GT(similarity(c.pixels, clean), 0.95);
  EXPECT_GT(c.box.y, 20) << "the vignette must not stretch the box";
}

// A phone's flash on grey paper: light added towards white, strength g, over a soft spot of
// radius r (pixels) at (cx, cy). A stroke under it keeps its shape but loses most of its
// contrast, and the spot itself is brighter than the paper the way light ink would be.
cv::Mat flash_glare(const cv::Mat& grey, float g, float cx, float cy, float r) {
  cv::Mat out(grey.size(), CV_8U);
  for (int y = 0; y < grey.rows; ++y) {
    for (int x = 0; x < grey.cols; ++x) {
      const float v = 20.0f + 160.0f * grey.at<uint8_t>(y, x) / 255.0f;  // ink 20, paper 180
      const float d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
      const float glare = g * std::exp(-1.5f * d2);
      out.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(v + glare * (255.0f - v));
    }
  }
  return noisy(out, 2.0, 7);
}

// Under the glare part of a stroke fades below the ink threshold: before the strokes were
// grown into it, the 7 lost its bar (similarity 0.60) or the lower half of its stem (0.30).
// Beside the digit, the glare must not pass for light ink on dark paper.
TEST(VisionDigit, FlashGlareIsNotInkAndKeepsTheStrokesUnderIt) {
  cv::Mat seven = text_draw("7", {200, 200}, {100, 100}, 4.0, 12);
  const Pixels clean = digit_preprocess(seven).pixels;
  struct Case {
    const char* name;
    float g, cx, cy, r;
  } cases[] = {
      {"over the bar", 0.9f, 110, 55, 55},
      {"over the stem", 0.85f, 95, 130, 50},
      {"beside the digit", 0.95f, 160, 150, 70},
  };
  for (const Case& c : cases) {
    const cv::Mat photo = flash_glare(seven, c.g, c.cx, c.cy, c.r);
    EXPECT_FALSE(ink_find(photo).light_ink) << c.name;
    EXPECT_GT(similarity(digit_preprocess(photo).pixels, clean), 0.9) << c.name;
  }
}

// A photo in dim light: paper at 40, ink at 15, and sensor noise of sigma 6 or 8 on top (a
// quarter to a third of the contrast). Before the grey image was smoothed first, the noise broke
// the strokes into speckle: the crop held a fragment (similarity 0.03 to 0.35) or no ink was
// found at all.
TEST(VisionDigit, DimNoisyPhotoKeepsItsStrokes) {
  const cv::Mat grey = digit_grey();
  const Pixels clean = digit_preprocess(grey).pixels;
  cv::Mat dim;
  grey.convertTo(dim, CV_8U, 25.0 / 255.0, 15.0);
  for (double sigma : {6.0, 8.0}) {
    for (uint64_t seed : {1, 2, 3}) {
      const DigitCrop c = digit_preprocess(noisy(dim, sigma, seed));
      EXPECT_GT(similarity(c.pixels, clean), 0.9) << "sigma " << sigma << ", seed " << seed;
    }
  }
}

// A folded note: a thin crease from edge to edge (darker by 100 grey levels, 2 px wide) crosses
// the digit, on grey paper, at several angles. Before creases were taken out, the crease and
// the 3 were one piece and the crop was mostly crease (similarity 0.27 to 0.34). A stroke that
// runs from edge to edge but is as thick as the digit's others (a tightly cropped 1) stays.
TEST(VisionDigit, FoldCreaseIsNotInk) {
  const cv::Mat grey = digit_grey();
  cv::Mat paper;
  grey.convertTo(paper, CV_8U, 160.0 / 255.0, 20.0);  // ink 20, paper 180
  const Pixels clean = digit_preprocess(paper).pixels;
  const cv::Point ends[][2] = {{{0, 40}, {199, 150}}, {{30, 0}, {170, 199}}, {{0, 120}, {199, 95}}};
  for (const auto& e : ends) {
    cv::Mat folded = paper.clone();
    cv::line(folded, e[0], e[1], cv::Scalar(80), 2, cv::LINE_AA);
    folded = noisy(folded, 2.0, 5);
    EXPECT_GT(similarity(digit_preprocess(folded).pixels, clean), 0.9)
        << "crease from " << e[0] << " to " << e[1];
  }
  cv::Mat one(200, 200, CV_8U, cv::Scalar(180));
  cv::line(one, {100, 0}, {95, 199}, cv::Scalar(20), 14);
  const DigitCrop c = digit_preprocess(noisy(one, 2.0, 6));
  EXPECT_GT(std::accumulate(c.pixels.begin(), c.pixels.end(), 0.0f), 40.0f) << "the 1 is kept";
}

// A fat brush on a transparent canvas: strokes wider than a third of the image. The paper is
// flat, so nothing local is estimated; a closing (capped at a third of the image) would cut a
// square hole into the blob.
TEST(VisionDigit, FatBrushOnCanvasStaysSolid) {
  cv::Mat canvas(300, 300, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  cv::ellipse(canvas, {150, 150}, {70, 120}, 0, 0, 360, cv::Scalar(180, 20, 200, 255), cv::FILLED,
              cv::LINE_AA);
  InkMap m = ink_find(canvas);
  EXPECT_FALSE(m.light_ink);
  cv::Mat inside(canvas.size(), CV_8U, cv::Scalar(0));
  cv::ellipse(inside, {150, 150}, {60, 110}, 0, 0, 360, cv::Scalar(255), cv::FILLED);
  double lowest = 0;
  cv::minMaxLoc(m.ink, &lowest, nullptr, nullptr, nullptr, inside);
  EXPECT_GT(lowest, 0.95) << "the blob must be solid ink, without a hole";
}

TEST(VisionDigit, NoInkIsRefused) {
  cv::Mat white(200, 200, CV_8U, cv::Scalar(255));
  EXPECT_THROW(digit_preprocess(white), NoInkError);
  EXPECT_THROW(digit_preprocess(cv::Mat(50, 80, CV_8UC3, cv::Scalar(20, 40, 60))), NoInkError);
  EXPECT_THROW(number_segment(white), NoInkError);

  cv::Mat speck = white.clone();
  cv::rectangle(speck, cv::Rect(120, 60, 3, 3), cv::Scalar(0), cv::FILLED);
  EXPECT_THROW(digit_preprocess(speck), NoInkError);

  cv::Mat gradient(200, 300, CV_8U);
  for (int x = 0; x < 300; ++x) gradient.col(x).setTo(255 - x / 2);
  EXPECT_THROW(digit_preprocess(gradient), NoInkError);
  EXPECT_THROW(digit_preprocess(noisy(white, 8, 3)), NoInkError);

  cv::Mat transparent(100, 100, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  EXPECT_THROW(digit_preprocess(transparent), NoInkError);
  EXPECT_THROW(digit_preprocess(cv::Mat()), FormatError);

  // Blank paper under a hard diagonal shadow: the local paper follows the shadow's edge except
  // in the sharp wedge where the edge meets the frame, which used to read as a sure 1.
  cv::Mat shadow(300, 400, CV_8U);
  for (int y = 0; y < shadow.rows; ++y)
    for (int x = 0; x < shadow.cols; ++x)
      shadow.at<uint8_t>(y, x) = x + 0.7 * y > 280 ? 118 : 215;
  cv::GaussianBlur(noisy(shadow, 3, 5), shadow, cv::Size(0, 0), 1.2);
  EXPECT_THROW(digit_preprocess(shadow), NoInkError);
  EXPECT_THROW(number_segment(shadow), NoInkError);
}

// ---- the ink finder's fast statistics against their plain reference (bit for bit) ----

TEST(VisionInkInternals, QuantilesMatchSelection) {
  using namespace ink_detail;
  cv::RNG rng(11);
  for (size_t n : {size_t(1), size_t(2), size_t(7), size_t(784), size_t(9216)}) {
    std::vector<uint8_t> v8(n);
    for (uint8_t& x : v8) x = uint8_t(rng.uniform(0, 256));
    if (n > 100) std::fill(v8.begin(), v8.begin() + long(n / 2), uint8_t(235));  // paper
    const std::vector<double> vd(v8.begin(), v8.end());
    std::vector<double> scratch;
    for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 1.0}) {
      SCOPED_TRACE("n " + std::to_string(n) + " q " + std::to_string(q));
      const double want = quantile_select(vd, q);
      EXPECT_EQ(quantile_u8(v8.data(), n, q), want);
      EXPECT_EQ(quantile_select_into(vd, q, scratch), want);
    }
  }
  EXPECT_EQ(quantile_u8(nullptr, 0, 0.5), 0.0);
  EXPECT_EQ(quantile_select(std::vector<float>{}, 0.5), 0.0);
}

// quantile_pick (the first value checked by counting, else a selection) against the selection:
// floats with the first value the answer, below it, above it, shared by a few or by most, and
// all values equal; every quantile.
TEST(VisionInkInternals, QuantilePickMatchesSelection) {
  using namespace ink_detail;
  cv::RNG rng(3);
  int counted = 0;  // cases the first value answered: the fast way is exercised
  for (size_t n : {size_t(1), size_t(2), size_t(5), size_t(784), size_t(9216)}) {
    for (int kind = 0; kind < 5; ++kind) {
      std::vector<float> v(n);
      for (float& x : v) x = float(rng.uniform(-1.0, 2.0));
      const size_t shared = kind == 0 ? 0 : kind == 1 ? n / 10 : kind == 2 ? n / 2 + 1 : n;
      for (size_t i = 0; i < shared; ++i) v[size_t(rng.uniform(0, int(n)))] = 1.0f;
      if (kind == 3) v[0] = -5.0f;  // the first value the smallest
      if (kind == 4) v[0] = 1.0f;   // ...the shared one, as on a flat page
      for (double q : {0.0, 0.25, 0.5, 0.75, 1.0}) {
        SCOPED_TRACE("n " + std::to_string(n) + " kind " + std::to_string(kind) + " q " +
                     std::to_string(q));
        const double want = quantile_select(v, q);
        std::vector<float> work = v;
        EXPECT_EQ(quantile_pick(work, q), want);
        counted += double(v[0]) == want;
      }
    }
  }
  EXPECT_GT(counted, 10);
  std::vector<float> none;
  EXPECT_EQ(quantile_pick(none, 0.5), 0.0);
}

TEST(VisionInkInternals, PaperFitMatchesReference) {
  using namespace ink_detail;
  std::vector<std::pair<std::string, cv::Mat>> cases;
  const cv::Mat three = digit_grey();
  cases.push_back({"clean 200x200", three});
  cases.push_back({"light ink", 255 - three});
  cases.push_back({"lit photo", photo_lit(three)});
  cases.push_back({"noisy photo", noisy(photo_lit(three), 6, 5)});
  cases.push_back({"300x120 wide", text_draw("2024", {300, 120}, {150, 60}, 2.5, 6)});
  cv::Mat small;
  cv::resize(three, small, {28, 28}, 0, 0, cv::INTER_AREA);
  cases.push_back({"28x28", small});
  cases.push_back({"28x28 noisy", noisy(small, 10, 7)});
  cases.push_back({"28x28 MNIST style", 255 - small});
  cases.push_back({"13x5", cv::Mat(small(cv::Rect(8, 10, 13, 5)))});
  cases.push_back({"1x1", cv::Mat(1, 1, CV_8U, cv::Scalar(128))});
  cases.push_back({"3x40 flat", cv::Mat(3, 40, CV_8U, cv::Scalar(200))});
  cv::Mat gradient(60, 90, CV_8U);
  for (int x = 0; x < 90; ++x) gradient.col(x).setTo(250 - x);
  cases.push_back({"gradient", gradient});
  cv::Mat random(50, 70, CV_8U);
  cv::RNG(3).fill(random, cv::RNG::UNIFORM, 0, 256);
  cases.push_back({"uniform noise", random});
  for (const auto& [what, img] : cases) {
    for (double band : {kInlierBand, kNarrowFirstBand}) {  // the usual fit and the fallback
      SCOPED_TRACE(what + ", first band " + std::to_string(band));
      const PaperFit want = paper_fit_reference(img, band), got = paper_fit(img, band);
      for (int k = 0; k < 6; ++k) EXPECT_EQ(got.coef[size_t(k)], want.coef[size_t(k)]) << k;
      EXPECT_EQ(got.sigma, want.sigma);
      EXPECT_EQ(got.threshold, want.threshold);
      EXPECT_EQ(got.dark_ink, want.dark_ink);
      EXPECT_EQ(got.snr, want.snr);
    }
  }
}

TEST(VisionInkInternals, SmallLocalPaperMatchesOpenCv) {
  using namespace ink_detail;
  cv::Mat small;
  cv::resize(digit_grey(), small, {28, 28}, 0, 0, cv::INTER_AREA);
  std::vector<cv::Mat> images = {small, noisy(small, 12, 9), 255 - small,
                                 cv::Mat(small(cv::Rect(3, 5, 17, 9)))};
  cv::Mat random(40, 31, CV_8U);
  cv::RNG(4).fill(random, cv::RNG::UNIFORM, 0, 256);
  images.push_back(random);
  images.push_back(cv::Mat(3, 3, CV_8U, cv::Scalar(7)));
  for (const cv::Mat& img : images) {
    for (int k : {3, 5, 9, 15}) {
      for (int soften : {1, 3, 5}) {
        SCOPED_TRACE(std::to_string(img.cols) + "x" + std::to_string(img.rows) + " k " +
                     std::to_string(k) + " soften " + std::to_string(soften));
        const cv::Mat want = paper_local_opencv(img, k, soften), got = paper_local(img, k, soften);
        ASSERT_EQ(got.size(), want.size());
        ASSERT_EQ(got.type(), want.type());
        EXPECT_EQ(std::memcmp(got.data, want.data, want.total() * want.elemSize()), 0);
      }
    }
  }
}

// ---- number mode ----

// Digits drawn one by one with clear gaps; returns the image and each digit's centre x.
cv::Mat row_draw(const std::string& digits, int pitch, std::vector<int>* centres = nullptr) {
  cv::Mat img(160, 40 + pitch * int(digits.size()), CV_8U, cv::Scalar(255));
  for (size_t i = 0; i < digits.size(); ++i) {
    int cx = 20 + pitch / 2 + pitch * int(i);
    cv::Mat glyph = text_draw(digits.substr(i, 1), {pitch, 160}, {pitch / 2, 80}, 3.0, 9);
    cv::Mat roi = img(cv::Rect(cx - pitch / 2, 0, pitch, 160));
    cv::min(roi, glyph, roi);
    if (centres) centres->push_back(cx);
  }
  return img;
}

Pixels reference(const std::string& d) {
  return digit_preprocess(text_draw(d, {120, 160}, {60, 80}, 3.0, 9)).pixels;
}

// Ruled and squared paper: printed lines across the page are not ink. A digit written over
// them (colour photo: blue lines, dark ink) reads as on plain paper; a blank ruled page has no
// ink; a row of 1s on ruled paper keeps its 1s (vertical strokes count as lines only beside
// horizontal lines as far apart as they are, and full height).
cv::Mat lined(const cv::Mat& grey, int step, bool squared) {
  cv::Mat img = colourise(grey, cv::Scalar(40, 30, 30), cv::Scalar(235, 240, 240));
  const cv::Scalar line(225, 180, 150);  // BGR: light blue
  for (int y = step / 2; y < img.rows; y += step) cv::line(img, {0, y}, {img.cols, y}, line, 2);
  if (squared)
    for (int x = step / 3; x < img.cols; x += step) cv::line(img, {x, 0}, {x, img.rows}, line, 2);
  cv::Mat out;
  cv::min(img, colourise(grey, cv::Scalar(40, 30, 30), cv::Scalar(255, 255, 255)), out);
  return out;
}

TEST(VisionDigit, RuledAndSquaredPaperLinesAreNotInk) {
  for (const std::string d : {"3", "4", "7"}) {
    const cv::Mat grey = digit_grey(d);
    const Pixels clean = digit_preprocess(grey).pixels;
    for (bool squared : {false, true}) {
      SCOPED_TRACE(d + (squared ? " squared" : " ruled"));
      const Pixels p = digit_preprocess(lined(grey, 32, squared)).pixels;
      EXPECT_GT(similarity(p, clean), 0.85);
    }
  }
  cv::Mat blank(200, 300, CV_8U, cv::Scalar(255));
  EXPECT_THROW(digit_preprocess(lined(blank, 30, false)), NoInkError);
  EXPECT_THROW(digit_preprocess(lined(blank, 30, true)), NoInkError);

  cv::Mat ones = row_draw("1111", 60);
  std::vector<DigitCrop> crops = number_segment(lined(ones, 36, false));
  EXPECT_EQ(crops.size(), 4u);
}

TEST(VisionNumber, DigitsLeftToRight) {
  std::vector<int> centres;
  cv::Mat img = row_draw("2024", 90, &centres);
  std::vector<DigitCrop> crops = number_segment(img);
  ASSERT_EQ(crops.size(), 4u);
  const std::string digits = "2024";
  for (size_t i = 0; i < crops.size(); ++i) {
    SCOPED_TRACE(i);
    if (i > 0) {
      EXPECT_GT(crops[i].box.x, crops[i - 1].box.x + crops[i - 1].box.w);
    }
    EXPECT_NEAR(crops[i].box.x + crops[i].box.w / 2.0, centres[i], 8);
    expect_mnist_like(crops[i].pixels, "digit of 2024");
    EXPECT_GT(similarity(crops[i].pixels, reference(digits.substr(i, 1))), 0.9);
  }
}

// A row photographed in a lit band between shadows with hard edges: beyond the quadratic fit
// the band weighs as light ink, and the wide median's second opinion leaves bands along the
// edges that are sharper than the strokes and, for faint ink under deep shadows, outweigh them.
// Dark ink must be found dark (read as light ink, the row came back as pieces of the band's
// edges, or as no ink at all), and chalk on a board in the same light must stay light.
cv::Mat row_in_lit_band(const cv::Mat& row, double scale, double ink, double shade, bool chalk) {
  cv::Mat small;
  cv::resize(row, small, cv::Size(), scale, scale, cv::INTER_AREA);
  cv::Mat light(small.size(), CV_32F);
  for (int y = 0; y < small.rows; ++y) {
    for (int x = 0; x < small.cols; ++x) {
      const double u = (x + 1.3 * y) / small.cols;
      light.at<float>(y, x) = u > 0.2 && u < 0.8 ? 1.0f : float(shade);
    }
  }
  cv::GaussianBlur(light, light, cv::Size(0, 0), 1.0);
  cv::Mat photo(small.size(), CV_8U);
  for (int y = 0; y < small.rows; ++y) {
    for (int x = 0; x < small.cols; ++x) {
      const double paper = small.at<uint8_t>(y, x) / 255.0;  // 1 on paper, 0 on the strokes
      const double refl = chalk ? 1.0 - (1.0 - ink) * paper : ink + (1.0 - ink) * paper;
      photo.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(160.0 * light.at<float>(y, x) * refl);
    }
  }
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", noisy(photo, 4.0, 3), jpeg, {cv::IMWRITE_JPEG_QUALITY, 80});
  return image_decode(jpeg.data(), jpeg.size());
}

TEST(VisionNumber, RowInALitBandBetweenShadowsKeepsItsPolarity) {
  std::vector<int> centres;
  const cv::Mat row = row_draw("851", 90, &centres);
  struct Case {
    double scale, ink, shade;  // image scale; ink and shadow as fractions of the lit paper
  } cases[] = {{0.6, 0.2, 0.5}, {0.4, 0.35, 0.6}, {0.7, 0.6, 0.5}, {1.2, 0.35, 0.5}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "scale " << c.scale << " ink " << c.ink);
    const cv::Mat image = row_in_lit_band(row, c.scale, c.ink, c.shade, false);
    EXPECT_FALSE(ink_find(image).light_ink);
    const std::vector<DigitCrop> crops = number_segment(image);
    ASSERT_EQ(crops.size(), 3u);
    for (size_t i = 0; i < crops.size(); ++i) {
      EXPECT_NEAR(crops[i].box.x + crops[i].box.w / 2.0, c.scale * centres[i], 12 * c.scale) << i;
      EXPECT_GT(similarity(crops[i].pixels, reference(std::string("851").substr(i, 1))), 0.8) << i;
    }
    SCOPED_TRACE("chalk");
    EXPECT_TRUE(ink_find(row_in_lit_band(row, c.scale, 0.3, c.shade, true)).light_ink);
    EXPECT_TRUE(ink_find(row_in_lit_band(row, c.scale, 0.3, 1.0, true)).light_ink);
  }
}

// Bold green strokes of a tilted row, half of them under a hard diagonal shadow
// (tests/fixtures/README.md). The quadratic paper fit cannot follow the shadow's edge, so its
// sigma (and threshold) rise until only a handful of the darkest stroke pixels lie beyond it.
// Those few pixels count as no ink found, as nothing beyond the threshold would: the wide median
// takes over and the strokes keep their width. Before, the rough mask of those few pixels
// measured the strokes 1.8 px wide, the local paper's closing then hollowed each stroke down to
// its core, and the row came apart into twelve pieces and seven digits (its 8 read as a 3).
TEST(VisionNumber, BoldRowHalfInHardShadowKeepsItsStrokes) {
  const cv::Mat photo =
      image_read(std::string(SCRAWL_SOURCE_DIR) + "/tests/fixtures/shadow_row.jpg");
  const InkMap m = ink_find(photo);
  EXPECT_FALSE(m.light_ink);
  EXPECT_GT(m.stroke_width, 10.0f);  // the strokes are about 18 px wide
  EXPECT_EQ(m.components.size(), 6u) << "one piece per digit of 375598";
  const std::vector<DigitCrop> crops = number_segment(photo);
  ASSERT_EQ(crops.size(), 6u);
  // The 8 under the shadow, solid: hollowed to its core, its crop held half the ink.
  float mass = 0;
  for (float p : crops.back().pixels) mass += p;
  EXPECT_GT(mass, 150.0f);
}

// A row photographed askew is read level: turned back by the tilt that makes its band of ink
// thinnest, split there, and each digit's box mapped back to where it is in the image. A single
// slanted stroke is no row and is left as it is.
cv::Mat turned(const cv::Mat& img, double deg, cv::Mat* fwd) {
  const cv::Point2f centre(img.cols / 2.0f, img.rows / 2.0f);
  *fwd = cv::getRotationMatrix2D(centre, deg, 1.0);
  const cv::Rect2f bound = cv::RotatedRect(centre, img.size(), float(deg)).boundingRect2f();
  fwd->at<double>(0, 2) -= bound.x;
  fwd->at<double>(1, 2) -= bound.y;
  cv::Mat out;
  cv::warpAffine(img, out, *fwd,
                 cv::Size(int(std::ceil(bound.width)), int(std::ceil(bound.height))),
                 cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(255));
  return out;
}

TEST(VisionNumber, TiltedRowIsReadLevel) {
  const std::string digits = "7142";
  std::vector<int> centres;
  const cv::Mat level = row_draw(digits, 70, &centres);
  for (double deg : {-14.0, 9.0}) {
    SCOPED_TRACE(deg);
    cv::Mat fwd;
    const cv::Mat img = turned(level, deg, &fwd);
    std::vector<DigitCrop> crops = number_segment(img);
    ASSERT_EQ(crops.size(), digits.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      SCOPED_TRACE(i);
      // Upright again: as like the lone digit as the level row's crops are (read where they
      // stand, turned 9-14 degrees, these digits score 0.71 to 0.87).
      EXPECT_GT(similarity(crops[i].pixels, reference(digits.substr(i, 1))), 0.9);
      // The box is around the digit where the turned image has it.
      const double cx =
          fwd.at<double>(0, 0) * centres[i] + fwd.at<double>(0, 1) * 80 + fwd.at<double>(0, 2);
      const double cy =
          fwd.at<double>(1, 0) * centres[i] + fwd.at<double>(1, 1) * 80 + fwd.at<double>(1, 2);
      const Box& b = crops[i].box;
      EXPECT_NEAR(b.x + b.w / 2.0, cx, 10);
      EXPECT_NEAR(b.y + b.h / 2.0, cy, 10);
      EXPECT_GE(b.x, 0);
      EXPECT_LE(b.x + b.w, img.cols);
      EXPECT_LE(b.y + b.h, img.rows);
    }
  }
  cv::Mat fwd;
  const cv::Mat one = turned(text_draw("1", {120, 160}, {60, 80}, 3.0, 9), 15.0, &fwd);
  std::vector<DigitCrop> crops = number_segment(one);
  ASSERT_EQ(crops.size(), 1u);
  EXPECT_EQ(crops[0].pixels, digit_preprocess(one).pixels);
}

// A sheet of paper lying on a darker, grainy desk, turned by deg and shaded towards one side:
// the paper (grey, white paper) drawn into a desk 1.4 times its size. *corners: the sheet's
// corners in the photo (top-left, top-right, bottom-right, bottom-left).
cv::Mat on_desk(const cv::Mat& paper, double deg, std::array<cv::Point2f, 4>* corners) {
  const cv::Size size(int(paper.cols * 1.4), int(paper.rows * 1.4));
  // Wood-like grain: noise at a quarter of the resolution, smoothed up.
  cv::Mat grain(size.height / 4 + 1, size.width / 4 + 1, CV_32FC3), desk;
  cv::RNG rng(5);
  rng.fill(grain, cv::RNG::NORMAL, cv::Scalar(50, 70, 100), cv::Scalar(14, 14, 14));
  cv::resize(grain, grain, size, 0, 0, cv::INTER_LINEAR);
  grain.convertTo(desk, CV_8UC3);
  cv::Mat lit(paper.size(), CV_8UC3);
  for (int y = 0; y < paper.rows; ++y)
    for (int x = 0; x < paper.cols; ++x) {
      const float shade = 1.0f - 0.3f * x / float(paper.cols);  // darker to the right
      // Pale ink: reflectance 0.45 against the paper's 0.95, a ballpoint's blue-grey.
      const float v = (0.45f + 0.5f * paper.at<uint8_t>(y, x) / 255.0f) * shade * 255.0f;
      lit.at<cv::Vec3b>(y, x) =
          cv::Vec3b(cv::saturate_cast<uint8_t>(v * 0.95f), cv::saturate_cast<uint8_t>(v),
                    cv::saturate_cast<uint8_t>(v));
    }
  cv::Mat fwd = cv::getRotationMatrix2D(cv::Point2f(paper.cols / 2.0f, paper.rows / 2.0f), deg, 1);
  fwd.at<double>(0, 2) += (size.width - paper.cols) / 2.0;
  fwd.at<double>(1, 2) += (size.height - paper.rows) / 2.0;
  cv::Mat sheet, mask;
  cv::warpAffine(lit, sheet, fwd, size, cv::INTER_LINEAR);
  cv::warpAffine(cv::Mat(paper.size(), CV_8U, cv::Scalar(255)), mask, fwd, size, cv::INTER_NEAREST);
  sheet.copyTo(desk, mask);
  const cv::Point2f flat[4] = {{0, 0},
                               {float(paper.cols), 0},
                               {float(paper.cols), float(paper.rows)},
                               {0, float(paper.rows)}};
  for (int i = 0; i < 4; ++i) {
    (*corners)[size_t(i)] =
        cv::Point2f(float(fwd.at<double>(0, 0) * flat[i].x + fwd.at<double>(0, 1) * flat[i].y +
                          fwd.at<double>(0, 2)),
                    float(fwd.at<double>(1, 0) * flat[i].x + fwd.at<double>(1, 1) * flat[i].y +
                          fwd.at<double>(1, 2)));
  }
  return desk;
}

// A photo of a note on a desk reads as the note alone: the sheet is found (its corners a little
// inside the true ones), warped flat, and boxes come back in the photo's pixels. Before, the
// desk's darkness passed for ink.
TEST(VisionSheet, NoteOnADeskIsReadAsTheNote) {
  std::array<cv::Point2f, 4> truth;
  const cv::Mat photo = on_desk(text_draw("5", {200, 200}, {100, 100}, 2.5, 5), 7.0, &truth);
  const auto found = sheet_find(photo);
  ASSERT_TRUE(found.has_value());
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_LT(cv::norm((*found)[i] - truth[i]), 14.0) << "within 2.5% of the sheet, plus a pixel";
  }
  const DigitCrop crop = digit_preprocess(photo);
  EXPECT_GT(similarity(crop.pixels, reference("5")), 0.85);
  // The digit's box: inside the sheet, around the middle of it (where text_draw put the 5).
  const cv::Point2f centre = (truth[0] + truth[1] + truth[2] + truth[3]) * 0.25f;
  EXPECT_NEAR(crop.box.x + crop.box.w / 2.0, centre.x, 12);
  EXPECT_NEAR(crop.box.y + crop.box.h / 2.0, centre.y, 12);

  // A blank note on the desk is a sheet with no ink, not its edges read as a digit.
  const cv::Mat blank = on_desk(cv::Mat(200, 200, CV_8U, cv::Scalar(255)), 7.0, &truth);
  EXPECT_TRUE(sheet_find(blank).has_value());
  EXPECT_THROW(digit_preprocess(blank), NoInkError);
  EXPECT_THROW(number_segment(blank), NoInkError);

  // Running off the bottom of the photo: still the sheet (nothing is written on the desk). Its
  // visible part has lost a corner, so the warp is only near square: a little less alike.
  const cv::Mat cut = photo(cv::Rect(0, 0, photo.cols, int(truth[2].y) - 15)).clone();
  ASSERT_TRUE(sheet_find(cut).has_value());
  EXPECT_GT(similarity(digit_preprocess(cut).pixels, reference("5")), 0.8);

  const cv::Mat row = on_desk(row_draw("4096", 80), -5.0, &truth);
  std::vector<DigitCrop> digits = number_segment(row);
  ASSERT_EQ(digits.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_GT(similarity(digits[i].pixels, reference(std::string(1, "4096"[i]))), 0.8);
    if (i > 0) {
      EXPECT_GT(digits[i].box.x, digits[i - 1].box.x);
    }
  }
}

// No sheet where the paper fills the frame (with a shadow whose lit side is a clean
// quadrilateral reaching the frame), for a bold stroke on a dark canvas (bright, but holding no
// ink and round-edged), for drawings in alpha and for tiny images.
TEST(VisionSheet, NoSheetWhereThereIsNone) {
  EXPECT_FALSE(sheet_find(photo_lit(digit_grey("3"))).has_value());
  cv::Mat shadowed = colourise(digit_grey("7"), cv::Scalar(30, 30, 30), cv::Scalar(230, 235, 235));
  std::vector<cv::Point> wedge = {{0, 0}, {200, 0}, {0, 130}};
  cv::fillConvexPoly(shadowed, wedge, cv::Scalar(70, 70, 70));
  EXPECT_FALSE(sheet_find(shadowed).has_value());
  // A shadow over the top and the sides, its lit part a clean rectangle running off the bottom:
  // the 7 written in the shadow is writing outside the lit part (which holds a 4), so that is no
  // sheet on a desk.
  cv::Mat written;
  cv::min(text_draw("7", {200, 200}, {100, 45}, 2.0, 8),
          text_draw("4", {200, 200}, {100, 150}, 2.0, 8), written);
  cv::Mat band = colourise(written, cv::Scalar(30, 30, 30), cv::Scalar(230, 235, 235));
  cv::Mat dim;
  cv::multiply(band, cv::Scalar(0.35, 0.35, 0.35), dim);
  cv::Mat lit = cv::Mat::zeros(band.size(), CV_8U);
  cv::rectangle(lit, cv::Rect(40, 100, 120, 100), cv::Scalar(255), cv::FILLED);
  dim.copyTo(band, ~lit);
  EXPECT_FALSE(sheet_find(band).has_value());
  cv::Mat bold(240, 240, CV_8U, cv::Scalar(12));
  cv::putText(bold, "8", {60, 200}, cv::FONT_HERSHEY_SIMPLEX, 6.0, cv::Scalar(250), 40);
  EXPECT_FALSE(sheet_find(bold).has_value());
  cv::Mat rect(240, 240, CV_8U, cv::Scalar(12));
  cv::rectangle(rect, cv::Rect(60, 50, 120, 140), cv::Scalar(250), cv::FILLED);
  EXPECT_FALSE(sheet_find(rect).has_value()) << "a bright block holding nothing";
  std::array<cv::Point2f, 4> truth;
  cv::Mat rgba;
  cv::cvtColor(on_desk(digit_grey("2"), 5.0, &truth), rgba, cv::COLOR_BGR2BGRA);
  EXPECT_FALSE(sheet_find(rgba).has_value());
  cv::Mat tiny;
  cv::resize(on_desk(digit_grey("2"), 5.0, &truth), tiny, {56, 56}, 0, 0, cv::INTER_AREA);
  EXPECT_FALSE(sheet_find(tiny).has_value());
}

// A fat 1 drawn white on black: a bright bar whose edges fade into the canvas over several
// pixels and run a little crooked. It is a rectangle, brighter than what lies around it, and its
// soft edges are darker than its middle, but they reach its outline: no ink lies on it, so it is
// no sheet. Read as a sheet before, its own edges were the "ink" and it came back a hollow 0.
TEST(VisionSheet, FatBrightStrokeOnBlackIsNoSheet) {
  cv::Mat bar(280, 280, CV_8U, cv::Scalar(0));
  const std::vector<cv::Point> outline = {{118, 40},  {150, 38},  {156, 120}, {160, 238},
                                          {122, 240}, {124, 150}, {116, 100}};
  cv::fillPoly(bar, std::vector<std::vector<cv::Point>>{outline}, cv::Scalar(255));
  cv::GaussianBlur(bar, bar, {0, 0}, 4.0);
  EXPECT_FALSE(sheet_find(bar).has_value());
  const DigitCrop got = digit_preprocess(bar);
  // Solid: the middle column of the crop is as bright as the bar's sides, not a dark core.
  float centre = 0, edge_max = 0;
  for (int y = 6; y < 22; ++y) {
    float row_max = 0;
    for (int x = 0; x < 28; ++x) row_max = std::max(row_max, got.pixels[size_t(y * 28 + x)]);
    centre += got.pixels[size_t(y * 28 + 14)];
    edge_max += row_max;
  }
  EXPECT_GT(centre, 0.8f * edge_max);
}

// The lowest row holding dark ink (< 128) of a grey image; 0 when there is none.
int lowest_ink_row(const cv::Mat& img) {
  int foot = 0;
  for (int y = 0; y < img.rows; ++y)
    if (cv::countNonZero(img.row(y) < 128) > 0) foot = y;
  return foot;
}

// An underlined amount (a pen line under the row, clear of it or touching its feet, a little
// sloped) reads as its digits: the line is no digit and joins none.
TEST(VisionNumber, UnderlinedRowIsReadWithoutItsLine) {
  const std::string digits = "4096";
  for (int gap : {10, 0}) {
    SCOPED_TRACE(gap);
    cv::Mat img = row_draw(digits, 80);
    const int foot = lowest_ink_row(img);
    const int y = foot + gap;
    cv::line(img, {15, y + 3}, {img.cols - 15, y - 3}, cv::Scalar(0), 6, cv::LINE_AA);
    std::vector<DigitCrop> crops = number_segment(img);
    ASSERT_EQ(crops.size(), digits.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_GT(similarity(crops[i].pixels, reference(digits.substr(i, 1))), 0.85);
      // Not the line: no wider than the digit's own cell, and no lower than the line's foot (a
      // digit resting on the line keeps the bit under its own stroke).
      EXPECT_LT(crops[i].box.w, 80);
      EXPECT_LE(crops[i].box.y + crops[i].box.h, y + 7);
    }
  }
}

// A thin pen line photographed askew (a 2 px stroke dropping 1 in 20) crosses each row of
// pixels for a few dozen columns only, far shorter than the 1.6 digit heights a line must run:
// it is found along its own slope, and taken out as the level one is (clear of the feet, and
// touching them).
TEST(VisionNumber, ThinSlopedUnderlineIsTakenOut) {
  const std::string digits = "4096";
  for (int gap : {8, 0}) {
    SCOPED_TRACE(gap);
    cv::Mat img = row_draw(digits, 80);
    const int foot = lowest_ink_row(img);
    cv::Mat tall;
    cv::copyMakeBorder(img, tall, 0, 30, 0, 0, cv::BORDER_CONSTANT, cv::Scalar(255));
    const int drop = int(std::lround(0.025 * tall.cols));
    // Through y = foot + gap under the middle digits, sloping down to the right.
    cv::line(tall, {10, foot + gap - drop}, {tall.cols - 10, foot + gap + drop}, cv::Scalar(0), 2,
             cv::LINE_AA);
    std::vector<DigitCrop> crops = number_segment(tall);
    ASSERT_EQ(crops.size(), digits.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_GT(similarity(crops[i].pixels, reference(digits.substr(i, 1))), 0.85);
      EXPECT_LT(crops[i].box.w, 80);
    }
  }
}

// A box drawn around an amount, or around one digit (a form's field), is not ink: the digits
// read as without it. An empty rectangle stays what it is (there is nothing else to read).
TEST(VisionNumber, BoxAroundTheWritingIsNotInk) {
  const std::string digits = "4096";
  cv::Mat row = row_draw(digits, 80);
  cv::Mat padded;
  cv::copyMakeBorder(row, padded, 30, 30, 30, 30, cv::BORDER_CONSTANT, cv::Scalar(255));
  cv::rectangle(padded, cv::Rect(20, 40, padded.cols - 40, padded.rows - 80), cv::Scalar(0), 4);
  std::vector<DigitCrop> crops = number_segment(padded);
  ASSERT_EQ(crops.size(), digits.size());
  for (size_t i = 0; i < crops.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_GT(similarity(crops[i].pixels, reference(digits.substr(i, 1))), 0.85);
    EXPECT_LT(crops[i].box.w, 80);
  }

  cv::Mat one = digit_grey("7");
  cv::rectangle(one, cv::Rect(30, 30, 140, 140), cv::Scalar(0), 4);
  EXPECT_GT(similarity(digit_preprocess(one).pixels, reference("7")), 0.85);

  cv::Mat empty(200, 200, CV_8U, cv::Scalar(255));
  cv::rectangle(empty, cv::Rect(40, 40, 120, 120), cv::Scalar(0), 6);
  EXPECT_NO_THROW(digit_preprocess(empty));
}

TEST(VisionNumber, PiecesOfOneDigitStayTogetherAndSpecksAreIgnored) {
  cv::Mat img = row_draw("2024", 90);
  // Break the first "2" across its diagonal and the "4" across its upright.
  cv::line(img, {60, 90}, {100, 60}, cv::Scalar(255), 5);
  cv::line(img, {300, 75}, {350, 75}, cv::Scalar(255), 5);
  // Specks and a dot between digits.
  cv::RNG rng(11);
  for (int i = 0; i < 25; ++i) {
    cv::circle(img, {rng.uniform(0, img.cols), rng.uniform(0, 25)}, 1, cv::Scalar(0), cv::FILLED);
  }
  cv::circle(img, {110, 120}, 6, cv::Scalar(0), cv::FILLED);  // a dot, not a digit
  std::vector<DigitCrop> crops = number_segment(img);
  ASSERT_EQ(crops.size(), 4u);
  EXPECT_GT(similarity(crops[0].pixels, reference("2")), 0.8);
  EXPECT_GT(similarity(crops[3].pixels, reference("4")), 0.8);
}

// Separators written between digits are reported after the digit they follow (a comma reaches
// below the row's foot, a point does not, a dash sits at mid-height); they are never digits, and
// the loose specks and the dot above the row in the test before are not separators.
TEST(VisionNumber, PointsCommasAndDashesAreMarked) {
  // Wide gaps: a mark within 0.15 digit heights of a digit may be taken as a loose piece of it.
  std::vector<int> c;
  cv::Mat img = row_draw("1250", 130, &c);  // digits span rows ~47-113
  const int gap01 = (c[0] + c[1]) / 2, gap12 = (c[1] + c[2]) / 2, gap23 = (c[2] + c[3]) / 2;
  cv::circle(img, {gap01, 108}, 4, cv::Scalar(0), cv::FILLED);  // comma: a point and a tail
  cv::line(img, {gap01 + 2, 110}, {gap01 - 3, 126}, cv::Scalar(0), 4);
  cv::circle(img, {gap12, 107}, 5, cv::Scalar(0), cv::FILLED);  // point
  cv::line(img, {gap23 - 12, 80}, {gap23 + 12, 80}, cv::Scalar(0), 6);  // dash
  std::vector<DigitCrop> crops = number_segment(img);
  ASSERT_EQ(crops.size(), 4u);
  EXPECT_EQ(crops[0].mark_after, ',');
  EXPECT_EQ(crops[1].mark_after, '.');
  EXPECT_EQ(crops[2].mark_after, '-');
  EXPECT_EQ(crops[3].mark_after, 0);
  EXPECT_GT(similarity(crops[2].pixels, reference("5")), 0.8);

  // The same row without them, with specks of noise and a dot well above the row: no marks.
  cv::Mat plain = row_draw("1250", 130);
  cv::RNG rng(5);
  for (int i = 0; i < 40; ++i)
    cv::circle(plain, {rng.uniform(0, plain.cols), rng.uniform(100, 150)}, 1, cv::Scalar(0),
               cv::FILLED);
  cv::circle(plain, {gap12, 30}, 5, cv::Scalar(0), cv::FILLED);
  for (const DigitCrop& d : number_segment(plain)) EXPECT_EQ(d.mark_after, 0);
}

TEST(VisionNumber, SevenWithSeparateBarIsOneDigit) {
  cv::Mat img(200, 320, CV_8U, cv::Scalar(255));
  cv::line(img, {40, 40}, {130, 40}, cv::Scalar(0), 10, cv::LINE_AA);   // bar
  cv::line(img, {128, 58}, {80, 170}, cv::Scalar(0), 10, cv::LINE_AA);  // stem, not touching
  cv::Mat one = text_draw("1", {100, 200}, {50, 105}, 4.0, 10);
  cv::Mat roi = img(cv::Rect(200, 0, 100, 200));
  cv::min(roi, one, roi);
  std::vector<DigitCrop> crops = number_segment(img);
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_LE(crops[0].box.y, 36);
  EXPECT_GE(crops[0].box.y + crops[0].box.h, 170);
  EXPECT_GT(crops[1].box.x, 200);
}

// "5" and "7" drawn so close that their top bars touch, as in hurried handwriting. The 7 moves
// left until the two are one connected component; *junction_x is where the bars meet.
cv::Mat touching_pair(int* junction_x) {
  cv::Mat five = text_draw("5", {120, 160}, {60, 80}, 3.0, 9);
  cv::Mat seven = text_draw("7", {120, 160}, {60, 80}, 3.0, 9);
  cv::Rect r5 = cv::boundingRect(five < 250), r7 = cv::boundingRect(seven < 250);
  for (int overlap = 0; overlap < 20; ++overlap) {
    cv::Mat img(160, 220, CV_8U, cv::Scalar(255));
    int x7 = 20 + r5.width - overlap;
    cv::Mat a = img(cv::Rect(20, r5.y, r5.width, r5.height));
    cv::Mat b = img(cv::Rect(x7, r7.y, r7.width, r7.height));
    cv::min(a, five(r5), a);
    cv::min(b, seven(r7), b);
    cv::Mat labels;
    if (cv::connectedComponents(img < 128, labels) == 2) {
      *junction_x = x7;
      return img;
    }
  }
  ADD_FAILURE() << "fixture: the digits never touch";
  return {};
}

// A template classifier: confidence = similarity to the nearest of the lone digits `refs`;
// counts its calls in *calls when given.
Classifier template_classifier(std::vector<Pixels> refs, int* calls = nullptr) {
  return [refs = std::move(refs), calls](const std::vector<DigitCrop>& crops) {
    if (calls) ++*calls;
    std::vector<float> out;
    for (const DigitCrop& c : crops) {
      double best = 0;
      for (const Pixels& r : refs) best = std::max(best, similarity(c.pixels, r));
      out.push_back(float(std::max(best, 0.0)));
    }
    return out;
  };
}

TEST(VisionNumber, TouchingDigitsAreSplit) {
  int junction = 0;
  cv::Mat img = touching_pair(&junction);
  ASSERT_FALSE(img.empty());

  std::vector<DigitCrop> plain = number_segment(img);  // no classifier: projection minima
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_NEAR(plain[0].box.x + plain[0].box.w, junction, 12);

  std::vector<Pixels> refs = {reference("5"), reference("7")};
  int calls = 0;
  Classifier templates = template_classifier(refs, &calls);
  std::vector<DigitCrop> judged = number_segment(img, templates);
  EXPECT_EQ(calls, 2) << "the groups whole in one batch, then all of a group's pieces in one";
  ASSERT_EQ(judged.size(), 2u);
  EXPECT_GT(similarity(judged[0].pixels, refs[0]), 0.85);
  EXPECT_GT(similarity(judged[1].pixels, refs[1]), 0.85);
  EXPECT_LT(judged[0].box.x, judged[1].box.x);

  // A classifier that is sure the whole thing is one digit vetoes the split.
  Classifier whole = [](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) out.push_back(c.box.w > c.box.h ? 0.99f : 0.2f);
    return out;
  };
  EXPECT_EQ(number_segment(img, whole).size(), 1u);

  Classifier broken = [](const std::vector<DigitCrop>&) { return std::vector<float>{0.5f}; };
  EXPECT_THROW(number_segment(img, broken), std::invalid_argument);
}

TEST(VisionNumber, ClassifierFindsCutsWhereTheProjectionPeaks) {
  // Two rings side by side: the only right cut is where they meet, which is where the vertical
  // projection is highest. The classifier is offered cuts there too.
  cv::Mat img(160, 240, CV_8U, cv::Scalar(255));
  cv::ellipse(img, {70, 80}, {32, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  cv::ellipse(img, {140, 80}, {32, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  cv::Mat lone(160, 120, CV_8U, cv::Scalar(255));
  cv::ellipse(lone, {60, 80}, {32, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  Pixels ring = digit_preprocess(lone).pixels;
  Classifier zero = [&](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops)
      out.push_back(float(std::max(0.0, similarity(c.pixels, ring))));
    return out;
  };
  std::vector<DigitCrop> crops = number_segment(img, zero);
  ASSERT_EQ(crops.size(), 2u);
  for (const DigitCrop& c : crops) EXPECT_GT(similarity(c.pixels, ring), 0.9);
  EXPECT_NEAR(crops[0].box.x + crops[0].box.w, 106, 8);
  EXPECT_NEAR(crops[1].box.x, 104, 8);
}

// A 5 whose bar came loose and drifted right, against the top of a 1 beside it (a hurried
// hand). The bar is too short to be a digit; it joins the neighbour it completes, judged by the
// classifier (here: similarity to the whole 5 and to the lone 1), not the nearer one.
TEST(VisionNumber, LooseBarJoinsTheDigitItCompletes) {
  auto body = [](cv::Mat& img) {
    cv::line(img, {50, 58}, {46, 100}, cv::Scalar(0), 9, cv::LINE_AA);
    cv::ellipse(img, {70, 122}, {28, 26}, 0, -150, 140, cv::Scalar(0), 9, cv::LINE_AA);
  };
  auto bar = [](cv::Mat& img) {
    cv::line(img, {82, 46}, {136, 46}, cv::Scalar(0), 9, cv::LINE_AA);
  };
  auto one = [](cv::Mat& img) {
    cv::line(img, {172, 44}, {146, 150}, cv::Scalar(0), 9, cv::LINE_AA);
  };
  const cv::Mat blank(190, 230, CV_8U, cv::Scalar(255));
  cv::Mat img = blank.clone(), five = blank.clone(), lone = blank.clone();
  body(img), bar(img), one(img);
  body(five), bar(five);
  one(lone);
  const std::vector<Pixels> refs = {digit_preprocess(five).pixels, digit_preprocess(lone).pixels};
  Classifier templates = [&](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) {
      double best = 0;
      for (const Pixels& r : refs) best = std::max(best, similarity(c.pixels, r));
      out.push_back(float(best));
    }
    return out;
  };
  std::vector<DigitCrop> crops = number_segment(img, templates);
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_GT(similarity(crops[0].pixels, refs[0]), 0.97);
  EXPECT_GE(crops[0].box.x + crops[0].box.w, 136) << "the bar is part of the 5";
  EXPECT_GT(similarity(crops[1].pixels, refs[1]), 0.97);
  EXPECT_GE(crops[1].box.x, 138) << "the bar is not part of the 1";
}

// A short slanted 1 against a 0 (its foot touching the ring). Cut across its middle, it falls
// into two pieces each too short to be a digit, which may be dropped as chips, and two drops cost
// less than reading an unsure 1 shaped like a fragment. A chip may not follow a dropped chip, so
// the 1 is read (here the classifier knows the ring, and the 1 only unsurely).
TEST(VisionNumber, DigitSlicedIntoChipsIsNotDropped) {
  auto ring = [](cv::Mat& img) {
    cv::ellipse(img, {70, 80}, {32, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  };
  auto one = [](cv::Mat& img) {
    cv::line(img, {104, 120}, {134, 66}, cv::Scalar(0), 9, cv::LINE_AA);
  };
  const cv::Mat blank(160, 170, CV_8U, cv::Scalar(255));
  cv::Mat img = blank.clone(), lone_ring = blank.clone(), lone_one = blank.clone();
  ring(img), one(img), ring(lone_ring), one(lone_one);
  const Pixels zero = digit_preprocess(lone_ring).pixels,
               stroke = digit_preprocess(lone_one).pixels;
  Classifier reader = [&](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) {
      if (similarity(c.pixels, zero) > 0.95) {
        out.push_back(1.0f);
      } else if (similarity(c.pixels, stroke) > 0.85) {
        out.push_back(0.65f);  // an unsure 1
      } else {
        out.push_back(0.1f);  // a bad piece
      }
    }
    return out;
  };
  const std::vector<DigitCrop> crops = number_segment(img, reader);
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_GT(similarity(crops[0].pixels, zero), 0.95);
  EXPECT_GT(similarity(crops[1].pixels, stroke), 0.85);
}

// A narrow digit the model reads as one, if unsurely (an "H"-like 4 at 0.5), is not cut: each
// of its strokes alone reads as a sure 1, and two of them beat the whole's reading, but a piece
// of ink 0.4 digit heights wide holds one digit. (Before: ring, 1, 1.)
TEST(VisionNumber, NarrowDigitReadAsOneIsNotCut) {
  cv::Mat img(160, 220, CV_8U, cv::Scalar(255));
  cv::ellipse(img, {60, 80}, {30, 48}, 0, 0, 360, cv::Scalar(0), 8, cv::LINE_AA);
  cv::line(img, {140, 32}, {140, 128}, cv::Scalar(0), 8, cv::LINE_AA);
  cv::line(img, {172, 32}, {172, 128}, cv::Scalar(0), 8, cv::LINE_AA);
  cv::line(img, {140, 84}, {172, 84}, cv::Scalar(0), 8, cv::LINE_AA);
  // By shape alone: a ring is a sure 0, the narrow H an unsure 4, a lone stroke a sure 1.
  Classifier by_aspect = [](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) {
      const double aspect = double(c.box.w) / c.box.h;
      out.push_back(aspect > 0.55 && aspect < 0.8  ? 0.99f
                    : aspect > 0.3 && aspect < 0.5 ? 0.5f
                    : aspect < 0.3                 ? 0.97f
                                                   : 0.1f);
    }
    return out;
  };
  const std::vector<DigitCrop> crops = number_segment(img, by_aspect);
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_LT(crops[0].box.x + crops[0].box.w, 100);
  EXPECT_LT(crops[1].box.x, 140);
  EXPECT_GT(crops[1].box.x + crops[1].box.w, 172);
}

// A tall stroke the model doubts as a digit of its own (a 5's stem and bar apart from its hook)
// joins the neighbour it completes; a stroke read as a sure 1 stays a digit.
TEST(VisionNumber, DoubtedStrokeJoinsItsNeighbour) {
  cv::Mat img(160, 200, CV_8U, cv::Scalar(255));
  cv::line(img, {60, 32}, {60, 128}, cv::Scalar(0), 8, cv::LINE_AA);
  cv::ellipse(img, {110, 80}, {30, 48}, 0, 0, 360, cv::Scalar(0), 8, cv::LINE_AA);
  for (const float stroke_conf : {0.14f, 0.9f}) {
    // By shape: the stroke alone as given, the ring alone an unsure digit, both a sure one.
    Classifier by_aspect = [&](const std::vector<DigitCrop>& crops) {
      std::vector<float> out;
      for (const DigitCrop& c : crops) {
        const double aspect = double(c.box.w) / c.box.h;
        out.push_back(aspect < 0.3 ? stroke_conf : aspect < 0.75 ? 0.6f : 0.95f);
      }
      return out;
    };
    const std::vector<DigitCrop> crops = number_segment(img, by_aspect);
    EXPECT_EQ(crops.size(), stroke_conf < 0.3f ? 1u : 2u) << "the stroke read at " << stroke_conf;
  }
}

// In a row of digits of mixed sizes, a small digit is shaped like a fragment. Standing clear of
// its neighbour's ink, and read surely, it stays a digit when joining it does not make the
// neighbour read better (before: the small ring joined the first large one, two digits).
TEST(VisionNumber, SmallDigitApartFromItsNeighbourStaysADigit) {
  cv::Mat img(180, 320, CV_8U, cv::Scalar(255));
  cv::ellipse(img, {50, 110}, {15, 25}, 0, 0, 360, cv::Scalar(0), 7, cv::LINE_AA);
  cv::ellipse(img, {118, 90}, {30, 48}, 0, 0, 360, cv::Scalar(0), 7, cv::LINE_AA);
  cv::ellipse(img, {230, 90}, {30, 48}, 0, 0, 360, cv::Scalar(0), 7, cv::LINE_AA);
  // Each ring a sure digit; a small ring with a large one a little less sure.
  Classifier rings = [](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) out.push_back(double(c.box.w) / c.box.h < 0.8 ? 0.99f : 0.98f);
    return out;
  };
  const std::vector<DigitCrop> crops = number_segment(img, rings);
  ASSERT_EQ(crops.size(), 3u);
  EXPECT_LT(crops[0].box.x + crops[0].box.w, 76);
  EXPECT_GT(crops[1].box.x, 80);
}

// Two wide rings side by side make a group half as wide again as it is tall: two digits, even
// when the model is surer of the whole (as of a 0 against a 2 read as one confident 2) than of
// either half.
TEST(VisionNumber, PieceWiderThanADigitIsCut) {
  cv::Mat img(160, 260, CV_8U, cv::Scalar(255));
  cv::ellipse(img, {80, 80}, {40, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  cv::ellipse(img, {162, 80}, {40, 50}, 0, 0, 360, cv::Scalar(0), 9, cv::LINE_AA);
  // Sure of the whole pair, fairly sure of one ring, unsure of anything else.
  Classifier sure_of_wide = [](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) {
      const double aspect = double(c.box.w) / c.box.h;
      out.push_back(aspect > 1.4 ? 0.99f : aspect > 0.7 && aspect < 0.95 ? 0.9f : 0.3f);
    }
    return out;
  };
  std::vector<DigitCrop> crops = number_segment(img, sure_of_wide);
  ASSERT_EQ(crops.size(), 2u);
  EXPECT_LT(crops[0].box.x + crops[0].box.w, 140);
  EXPECT_GT(crops[1].box.x, 100);
}

TEST(VisionNumber, ModeParsing) {
  EXPECT_EQ(read_mode_parse("digit"), ReadMode::Digit);
  EXPECT_EQ(read_mode_parse("number"), ReadMode::Number);
  EXPECT_EQ(read_mode_parse("Number"), ReadMode::Number);
  EXPECT_THROW(read_mode_parse("numbers"), FormatError);
  EXPECT_THROW(read_mode_parse(""), FormatError);
  EXPECT_STREQ(read_mode_name(ReadMode::Number), "number");
}

// ---- decoding ----

void be32_put(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::vector<uint8_t> png_chunk(const char* type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  be32_put(out, uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  be32_put(out, crc32(body.data(), body.size()));
  return out;
}

// A big-endian TIFF block holding one IFD entry: Orientation (0x0112, SHORT) = `orientation`.
std::vector<uint8_t> tiff_orientation(int orientation) {
  return {'M',  'M',  0, 42, 0, 0, 0, 8,  // header, IFD at 8
          0,    1,                        // one entry
          0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, uint8_t(orientation), 0, 0, 0, 0, 0, 0};  // no next IFD
}

// cv::imencode's JPEG with an APP1 EXIF segment inserted right after SOI.
std::vector<uint8_t> jpeg_with_orientation(const cv::Mat& img, int orientation) {
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  std::vector<uint8_t> tiff = tiff_orientation(orientation);
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  size_t len = app1.size() - 2;
  app1[2] = uint8_t(len >> 8);
  app1[3] = uint8_t(len);
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  return jpeg;
}

// 60 wide, 40 tall, black with a white 10x10 square in the top-left corner.
cv::Mat corner_marker(int type = CV_8UC3) {
  cv::Mat img(40, 60, type, cv::Scalar::all(0));
  cv::rectangle(img, cv::Rect(0, 0, 10, 10), cv::Scalar::all(255), cv::FILLED);
  return img;
}

// Which corner of the decoded image holds the marker: "tl", "tr", "bl" or "br".
std::string marker_corner(const cv::Mat& img) {
  cv::Mat grey;
  if (img.channels() == 1) {
    grey = img;
  } else {
    cv::extractChannel(img, grey, 0);
  }
  int w = grey.cols, h = grey.rows;
  auto bright = [&](int x, int y) { return grey.at<uint8_t>(y, x) > 128; };
  if (bright(3, 3)) return "tl";
  if (bright(w - 4, 3)) return "tr";
  if (bright(3, h - 4)) return "bl";
  if (bright(w - 4, h - 4)) return "br";
  return "none";
}

TEST(VisionDecode, FormatsRoundTripAndKeepAlpha) {
  cv::Mat bgr = corner_marker();
  for (const char* ext : {".png", ".jpg", ".bmp", ".webp"}) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(cv::imencode(ext, bgr, bytes)) << ext;
    cv::Mat out = image_decode(bytes.data(), bytes.size());
    EXPECT_EQ(out.size(), bgr.size()) << ext;
    EXPECT_EQ(out.type(), CV_8UC3) << ext;
    EXPECT_EQ(marker_corner(out), "tl") << ext;
    ImageHeader h = image_header_read(bytes.data(), bytes.size());
    EXPECT_EQ(h.width, 60) << ext;
    EXPECT_EQ(h.height, 40) << ext;
  }
  std::vector<uint8_t> png;
  cv::imencode(".png", corner_marker(CV_8UC4), png);
  EXPECT_EQ(image_decode(png.data(), png.size()).type(), CV_8UC4);
  cv::imencode(".png", corner_marker(CV_8UC1), png);
  EXPECT_EQ(image_decode(png.data(), png.size()).type(), CV_8UC1);
  cv::Mat deep(20, 30, CV_16UC3, cv::Scalar::all(65535));
  cv::imencode(".png", deep, png);
  cv::Mat out = image_decode(png.data(), png.size());
  EXPECT_EQ(out.type(), CV_8UC3);
  EXPECT_EQ(out.at<cv::Vec3b>(5, 5)[0], 255);
}

TEST(VisionDecode, LimitsAreCheckedFromTheHeader) {
  // A PNG whose IHDR claims 100000 x 100000 and that holds no pixel data at all: refused from
  // the header alone (decoding would need 30 GB).
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  be32_put(ihdr, 100000);
  be32_put(ihdr, 100000);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  auto chunk = png_chunk("IHDR", ihdr);
  png.insert(png.end(), chunk.begin(), chunk.end());
  EXPECT_THROW(image_decode(png.data(), png.size()), TooLargeError);

  // A real JPEG whose SOF is patched to 60000 x 60000.
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", corner_marker(), jpeg);
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      jpeg[i + 5] = 0xEA, jpeg[i + 6] = 0x60, jpeg[i + 7] = 0xEA, jpeg[i + 8] = 0x60;
      break;
    }
  }
  EXPECT_EQ(image_header_read(jpeg.data(), jpeg.size()).width, 60000);
  EXPECT_THROW(image_decode(jpeg.data(), jpeg.size()), TooLargeError);

  // A BMP header claiming 50000 x 50000.
  std::vector<uint8_t> bmp;
  cv::imencode(".bmp", corner_marker(), bmp);
  bmp[18] = 0x50, bmp[19] = 0xC3, bmp[20] = 0, bmp[21] = 0;
  bmp[22] = 0x50, bmp[23] = 0xC3, bmp[24] = 0, bmp[25] = 0;
  EXPECT_THROW(image_decode(bmp.data(), bmp.size()), TooLargeError);

  // Limits given by the caller: side, pixels, bytes.
  std::vector<uint8_t> ok;
  cv::imencode(".png", corner_marker(), ok);
  DecodeLimits side;
  side.max_side = 50;
  EXPECT_THROW(image_decode(ok.data(), ok.size(), side), TooLargeError);
  DecodeLimits pixels;
  pixels.max_pixels = 60 * 40 - 1;
  EXPECT_THROW(image_decode(ok.data(), ok.size(), pixels), TooLargeError);
  DecodeLimits bytes;
  bytes.max_bytes = ok.size() - 1;
  EXPECT_THROW(image_decode(ok.data(), ok.size(), bytes), TooLargeError);
  EXPECT_NO_THROW(image_decode(ok.data(), ok.size()));
}

TEST(VisionDecode, GarbageIsAFormatError) {
  EXPECT_THROW(image_decode(nullptr, 0), FormatError);
  std::vector<uint8_t> empty;
  EXPECT_THROW(image_decode(empty.data(), 0), FormatError);
  std::string text = "hello, this is not an image";
  EXPECT_THROW(image_decode(text.data(), text.size()), FormatError);
  std::vector<uint8_t> noise(4096);
  cv::RNG rng(5);
  for (uint8_t& b : noise) b = uint8_t(rng.uniform(0, 256));
  EXPECT_THROW(image_decode(noise.data(), noise.size()), FormatError);
  std::string gif = "GIF89a\x10\x00\x10\x00";
  EXPECT_EQ(image_format_sniff(gif.data(), gif.size()), ImageFormat::Unknown);
  EXPECT_THROW(image_decode(gif.data(), gif.size()), FormatError);

  // Right magic, broken body.
  std::vector<uint8_t> png;
  cv::imencode(".png", corner_marker(), png);
  std::vector<uint8_t> truncated(png.begin(), png.begin() + 40);
  EXPECT_THROW(image_decode(truncated.data(), truncated.size()), FormatError);
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00};
  EXPECT_THROW(image_decode(jpeg.data(), jpeg.size()), FormatError);
  std::string riff = "RIFF\x10\0\0\0WEBPVP8 \x04\0\0\0abcd";
  EXPECT_THROW(image_decode(riff.data(), riff.size()), FormatError);
}

TEST(VisionDecode, ExifOrientationIsApplied) {
  cv::Mat img = corner_marker();  // 60 x 40, marker top-left
  struct Case {
    int orientation;
    cv::Size size;
    std::string corner;
  } cases[] = {{1, {60, 40}, "tl"}, {3, {60, 40}, "br"}, {6, {40, 60}, "tr"},
               {8, {40, 60}, "bl"}, {2, {60, 40}, "tr"}, {5, {40, 60}, "tl"}};
  for (const Case& c : cases) {
    std::vector<uint8_t> jpeg = jpeg_with_orientation(img, c.orientation);
    EXPECT_EQ(image_header_read(jpeg.data(), jpeg.size()).orientation, c.orientation);
    cv::Mat out = image_decode(jpeg.data(), jpeg.size());
    EXPECT_EQ(out.size(), c.size) << "orientation " << c.orientation;
    EXPECT_EQ(marker_corner(out), c.corner) << "orientation " << c.orientation;
  }

  // PNG with an eXIf chunk (after IHDR): rotated, and the alpha channel kept.
  std::vector<uint8_t> png;
  cv::imencode(".png", corner_marker(CV_8UC4), png);
  auto exif = png_chunk("eXIf", tiff_orientation(6));
  png.insert(png.begin() + 33, exif.begin(), exif.end());  // signature 8 + IHDR chunk 25
  cv::Mat out = image_decode(png.data(), png.size());
  EXPECT_EQ(out.type(), CV_8UC4);
  EXPECT_EQ(out.size(), cv::Size(40, 60));
  EXPECT_EQ(marker_corner(out), "tr");
}

TEST(VisionDecode, ReadNamesThePath) {
  std::string dir = testing::TempDir();
  std::string missing = dir + "/scrawl_no_such_image.png";
  try {
    image_read(missing);
    ADD_FAILURE() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  std::string junk = dir + "/scrawl_junk_image.png";
  {
    std::ofstream f(junk, std::ios::binary);
    f << "\x89PNG\r\n\x1a\n but then nothing sensible";
  }
  try {
    image_read(junk);
    ADD_FAILURE() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
  std::string good = dir + "/scrawl_good_image.png";
  ASSERT_TRUE(cv::imwrite(good, digit_grey()));
  EXPECT_EQ(image_read(good).size(), cv::Size(200, 200));
  std::remove(junk.c_str());
  std::remove(good.c_str());
}

// ---- the small-image ways against OpenCV (ink_internal.h) ----

// Random masks of many sizes and densities, blobs of a few pixels among them, plus thresholded
// digits: the ones OpenCV's labels and distance transform are given in ink_find and the crops.
std::vector<cv::Mat> masks_assorted() {
  std::vector<cv::Mat> out;
  cv::RNG rng(11);
  for (int i = 0; i < 300; ++i) {
    const int rows = 1 + rng.uniform(0, 60), cols = 1 + rng.uniform(0, 60);
    cv::Mat noise(rows, cols, CV_8U);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
    if (i % 3 == 1) cv::blur(noise, noise, cv::Size(3, 3));  // blobs rather than salt
    const int cut = i % 3 == 1 ? 128 : rng.uniform(0, 256);
    out.push_back((noise > cut) & 255);
  }
  cv::Mat small;
  cv::resize(digit_grey(), small, {28, 28}, 0, 0, cv::INTER_AREA);
  out.push_back(small < 128);
  out.push_back(digit_grey() < 128);  // 200x200: more than the direct ways take
  out.push_back(cv::Mat(28, 28, CV_8U, cv::Scalar(255)));  // no background at all
  out.push_back(cv::Mat(28, 28, CV_8U, cv::Scalar(0)));
  return out;
}

TEST(VisionInkInternals, ComponentsMatchOpenCv) {
  using namespace ink_detail;
  for (const cv::Mat& mask : masks_assorted()) {
    SCOPED_TRACE(std::to_string(mask.cols) + "x" + std::to_string(mask.rows));
    cv::Mat want_labels, want_stats, got_labels, got_stats;
    const int want = components_label_opencv(mask, want_labels, want_stats);
    const int got = components_label(mask, got_labels, got_stats);
    ASSERT_EQ(got, want);
    ASSERT_EQ(got_labels.type(), CV_32S);
    ASSERT_EQ(cv::countNonZero(got_labels != want_labels), 0);
    // Row 0 (the background) too, but not its box when there is no background pixel (OpenCV
    // leaves integer overflow there).
    for (int l = want_stats.at<int>(0, cv::CC_STAT_AREA) ? 0 : 1; l < want; ++l) {
      for (int c = 0; c < 5; ++c)
        ASSERT_EQ(got_stats.at<int>(l, c), want_stats.at<int>(l, c)) << "label " << l;
    }
  }
}

// otsu_level against cv::threshold's Otsu on what it meets: two-level images (the ink strength
// of a crop), noise, a single level, a single pixel, a ramp, and a view into a larger image.
TEST(VisionInkInternals, OtsuLevelMatchesOpenCv) {
  cv::RNG rng(11);
  std::vector<cv::Mat> images;
  for (int n = 0; n < 40; ++n) {
    const int w = 1 + rng.uniform(0, 120), h = 1 + rng.uniform(0, 90);
    cv::Mat img(h, w, CV_8U);
    const int kind = n % 4;
    if (kind == 0) rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    if (kind == 1) rng.fill(img, cv::RNG::NORMAL, rng.uniform(20, 230), rng.uniform(1, 40));
    if (kind == 2) {  // paper near 0, a stroke near 200
      img.setTo(rng.uniform(0, 12));
      cv::line(img, {0, 0}, {w - 1, h - 1}, cv::Scalar(rng.uniform(150, 256)), 1 + n % 3);
    }
    if (kind == 3) img.setTo(rng.uniform(0, 256));  // one level: no split
    images.push_back(img);
  }
  cv::Mat ramp(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) ramp.at<uint8_t>(0, i) = uint8_t(i);
  images.push_back(ramp);
  cv::Mat big(64, 64, CV_8U);
  rng.fill(big, cv::RNG::UNIFORM, 0, 256);
  images.push_back(big(cv::Rect(5, 7, 30, 20)));  // not continuous
  for (const cv::Mat& img : images) {
    SCOPED_TRACE(std::to_string(img.cols) + "x" + std::to_string(img.rows));
    cv::Mat unused;
    const double want = cv::threshold(img, unused, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    EXPECT_EQ(ink_detail::otsu_level(img), want);
  }
}

TEST(VisionInkInternals, MaskGrowMatchesDistanceTransform) {
  using namespace ink_detail;
  for (const cv::Mat& mask : masks_assorted()) {
    for (int radius : {0, 1, 2, 3, 4, 6, 9}) {
      SCOPED_TRACE(std::to_string(mask.cols) + "x" + std::to_string(mask.rows) + " radius " +
                   std::to_string(radius));
      const cv::Mat want = mask_grow_opencv(mask, radius), got = mask_grow(mask, radius);
      ASSERT_EQ(got.type(), want.type());
      ASSERT_EQ(cv::countNonZero(got != want), 0);
    }
  }
}

// gaussian_blur_32f against cv::GaussianBlur, bit for bit: the sigmas ink_find uses (stroke width
// / 6 up to 1, and up to 3 on the residual), sizes from one pixel to larger than the kernel
// either way, one row and one column, in place, a view into a larger image, and a sigma asked
// for again after others (the kept kernel).
TEST(VisionInkInternals, GaussianBlurMatchesOpenCv) {
  cv::RNG rng(5);
  std::vector<cv::Mat> images;
  for (cv::Size size : {cv::Size(1, 1), cv::Size(1, 40), cv::Size(40, 1), cv::Size(3, 5),
                        cv::Size(28, 28), cv::Size(57, 31), cv::Size(200, 120)}) {
    cv::Mat img(size, CV_32F);
    rng.fill(img, cv::RNG::UNIFORM, -1.0, 2.0);
    images.push_back(img);
  }
  cv::Mat big(64, 64, CV_32F);
  rng.fill(big, cv::RNG::NORMAL, 0.0, 20.0);
  images.push_back(big(cv::Rect(3, 9, 40, 30)));  // not continuous
  images.push_back(big(cv::Rect(3, 9, 40, 1)));   // one row of a larger image: filtered across
  for (double sigma : {0.3, 0.5, 2.0 / 3.0, 1.0, 1.7, 3.0, 0.5}) {
    for (const cv::Mat& img : images) {
      SCOPED_TRACE(std::to_string(img.cols) + "x" + std::to_string(img.rows) + " sigma " +
                   std::to_string(sigma));
      cv::Mat want, got;
      cv::GaussianBlur(img, want, cv::Size(0, 0), sigma);
      ink_detail::gaussian_blur_32f(img, got, sigma);
      ASSERT_EQ(got.type(), CV_32F);
      ASSERT_EQ(got.size(), want.size());
      ASSERT_EQ(cv::norm(got, want, cv::NORM_INF), 0.0);
      // In place (a view reads the pixels around it for its borders, a copy does not).
      cv::Mat same = img.clone(), want_same;
      cv::GaussianBlur(same, want_same, cv::Size(0, 0), sigma);
      ink_detail::gaussian_blur_32f(same, same, sigma);
      ASSERT_EQ(cv::norm(same, want_same, cv::NORM_INF), 0.0);
    }
  }
}

// ---- second look (second_look.h) ----

// A (28, 28) crop with a bar of ink: rows 8..19, columns 12..15.
Pixels bar_crop() {
  Pixels c{};
  for (int y = 8; y < 20; ++y)
    for (int x = 12; x < 16; ++x) c[y * 28 + x] = 1.0f;
  return c;
}

double mass_of(const float* p) {
  double m = 0;
  for (int i = 0; i < 784; ++i) m += p[i];
  return m;
}

TEST(SecondLook, ViewsAreSmallMovesOfTheCrop) {
  const Pixels c = bar_crop();
  std::vector<float> views(kSecondLookViews * 784);
  second_look_views(c.data(), views.data());
  // Views 0-3 are whole-pixel shifts: right, left, down, up; exact copies moved by one pixel.
  const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
  for (int v = 0; v < 4; ++v)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const int sx = x - dx[v], sy = y - dy[v];
        const float want = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? c[sy * 28 + sx] : 0.0f;
        ASSERT_NEAR(views[v * 784 + y * 28 + x], want, 1e-5)
            << "view " << v << " at " << x << "," << y;
      }
  // Views 4-5 turn the bar about its centre of mass: the same ink, not the same pixels.
  for (int v = 4; v < 6; ++v) {
    EXPECT_NEAR(mass_of(&views[v * 784]), mass_of(c.data()), 0.05 * mass_of(c.data()));
    double moved = 0;
    for (int i = 0; i < 784; ++i) moved += std::fabs(views[v * 784 + i] - c[i]);
    EXPECT_GT(moved, 4.0) << "view " << v << " should be turned";
  }
  // Views 6-7 scale it by 0.9 and 1.1: the ink's area by about 0.81 and 1.21.
  EXPECT_NEAR(mass_of(&views[6 * 784]) / mass_of(c.data()), 0.81, 0.06);
  EXPECT_NEAR(mass_of(&views[7 * 784]) / mass_of(c.data()), 1.21, 0.06);
}

TEST(SecondLook, OnlyUnsureRowsAreReadAgainAndAveraged) {
  // Three crops: sure (0.95), unsure (0.5), and sure at exactly the threshold (0.9).
  std::vector<float> x(3 * 784);
  const Pixels c = bar_crop();
  for (int i = 0; i < 3; ++i) std::copy(c.begin(), c.end(), x.begin() + i * 784);
  std::vector<float> probs(30, 0.0f);
  probs[0 * 10 + 1] = 0.95f, probs[0 * 10 + 7] = 0.05f;
  probs[1 * 10 + 1] = 0.5f, probs[1 * 10 + 7] = 0.5f;
  probs[2 * 10 + 1] = 0.9f, probs[2 * 10 + 7] = 0.1f;
  const std::vector<float> before = probs;
  int calls = 0, seen = 0;
  // The "model" reads every extra view as a sure 7.
  const Infer infer = [&](const float*, int m, float* p) {
    ++calls;
    seen = m;
    std::fill(p, p + m * 10, 0.0f);
    for (int i = 0; i < m; ++i) p[i * 10 + 7] = 1.0f;
  };
  EXPECT_EQ(second_look(x.data(), 3, probs.data(), infer), 1);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, kSecondLookViews);
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(probs[k], before[k]) << "a sure row is left alone";
    EXPECT_EQ(probs[20 + k], before[20 + k]) << "a row at the threshold counts as sure";
  }
  // The unsure row: the mean of its own reading and eight sure 7s.
  EXPECT_NEAR(probs[10 + 1], 0.5f / 9, 1e-6);
  EXPECT_NEAR(probs[10 + 7], (0.5f + 8.0f) / 9, 1e-6);
  float sum = 0;
  for (int k = 0; k < 10; ++k) sum += probs[10 + k];
  EXPECT_NEAR(sum, 1.0f, 1e-5);

  // All sure: the model is not asked again.
  calls = 0;
  probs = before;
  probs[1 * 10 + 1] = 0.9f, probs[1 * 10 + 7] = 0.1f;  // at the threshold counts as sure
  EXPECT_EQ(second_look(x.data(), 2, probs.data(), infer), 0);
  EXPECT_EQ(calls, 0);
}


// ---- cut_samples: the splitter's own crops as training samples ----

// Ten printed digits, 28x28 white on black as MNIST stores them, each `copies` times.
Dataset printed_digits(int copies) {
  Dataset d;
  d.rows = d.cols = 28;
  for (int k = 0; k < copies; ++k) {
    for (int digit = 0; digit < 10; ++digit) {
      cv::Mat grey = text_draw(std::to_string(digit), {28, 28}, {14, 14}, 0.75, 2);
      for (int i = 0; i < 784; ++i) d.images.push_back(uint8_t(255 - grey.data[i]));
      d.labels.push_back(uint8_t(digit));
      ++d.count;
    }
  }
  return d;
}

double cosine(const float* a, const float* b) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < 784; ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

TEST(CutSamples, CropsAreLabelledByTheDigitTheyHold) {
  const Dataset digits = printed_digits(3);
  // Each glyph as number mode crops it alone: what a crop labelled with it should look like.
  std::vector<Pixels> refs;
  for (int digit = 0; digit < 10; ++digit)
    refs.push_back(digit_preprocess(text_draw(std::to_string(digit), {200, 200}, {100, 100}, 3.0, 8)).pixels);
  int calls = 0;
  const Classifier unsure = [&](const std::vector<DigitCrop>& crops) {
    ++calls;
    return std::vector<float>(crops.size(), 0.5f);  // every group is searched for cuts
  };
  CutSampleStats st;
  const Dataset cuts = cut_samples(digits, 60, 3, unsure, 2, &st);
  ASSERT_GT(calls, 0);
  EXPECT_EQ(st.rows, 60);
  EXPECT_EQ(cuts.count, st.digits + st.outliers);
  EXPECT_EQ(cuts.images.size(), size_t(cuts.count) * 784);
  EXPECT_GE(st.digits, 120);  // at least the 2-4 digits of each row, read whole or cut right
  EXPECT_GT(st.outliers, 0);
  EXPECT_LE(st.outliers, 60 * 4);  // at most 2 pairs and 2 other bad cuts per row
  int right = 0;
  for (int i = 0; i < cuts.count; ++i) {
    const uint8_t label = cuts.labels[size_t(i)];
    if (label == kCutOutlier) continue;
    ASSERT_LT(label, 10);
    std::vector<float> x(784);
    for (int p = 0; p < 784; ++p) x[size_t(p)] = cuts.images[size_t(i) * 784 + size_t(p)] / 255.0f;
    int best = 0;
    for (int digit = 1; digit < 10; ++digit)
      if (cosine(x.data(), refs[size_t(digit)].data()) > cosine(x.data(), refs[size_t(best)].data()))
        best = digit;
    right += best == label;
  }
  EXPECT_GE(right, 0.85 * st.digits) << right << " of " << st.digits;
  // Deterministic in the seed.
  const Dataset again = cut_samples(digits, 60, 3, unsure, 2);
  EXPECT_EQ(again.labels, cuts.labels);
  EXPECT_EQ(again.images, cuts.images);
  EXPECT_NE(cut_samples(digits, 60, 4, unsure, 2).images, cuts.images);
}

TEST(CutSamples, RefusesWhatItCannotUse) {
  Dataset small = printed_digits(1);
  EXPECT_THROW(cut_samples(small, 5, 1, Classifier{}), Error);  // the cuts need a classifier
  small.rows = small.cols = 14;
  const Classifier any = [](const std::vector<DigitCrop>& c) { return std::vector<float>(c.size(), 1.0f); };
  EXPECT_THROW(cut_samples(small, 5, 1, any), Error);
}

// ---- the pair reader: two touching digits read as one image ----

// The ink of a pair crop: rows and columns holding clear ink (>= 0.2), and its centre of mass.
struct PairInk {
  int rows = 0, x0 = kPairCols, x1 = -1;
  double cx = 0, cy = 0;
};

PairInk pair_ink(const float* p) {
  PairInk k;
  double mass = 0;
  for (int y = 0; y < kPairRows; ++y) {
    bool any = false;
    for (int x = 0; x < kPairCols; ++x) {
      const float v = p[y * kPairCols + x];
      mass += v, k.cx += v * x, k.cy += v * y;
      if (v >= 0.2f) any = true, k.x0 = std::min(k.x0, x), k.x1 = std::max(k.x1, x);
    }
    k.rows += any;
  }
  if (mass > 0) k.cx /= mass, k.cy /= mass;
  return k;
}

TEST(PairReader, PairCropIsTwentyHighWithItsMassInTheMiddle) {
  int junction = 0;
  const cv::Mat img = touching_pair(&junction);
  ASSERT_FALSE(img.empty());
  const PairCrop c = pair_preprocess(img);
  const PairInk k = pair_ink(c.pixels.data());
  EXPECT_NEAR(k.rows, 20, 1);  // the pair's height, as MNIST's digits are 20 px
  EXPECT_GT(k.x1 - k.x0, 25);  // a 5 and a 7 side by side: wider than tall
  EXPECT_LT(k.x1 - k.x0, 53);
  EXPECT_NEAR(k.cx, kPairCols / 2.0, 0.75);
  EXPECT_NEAR(k.cy, kPairRows / 2.0, 0.75);
  EXPECT_THROW(pair_preprocess(cv::Mat(60, 90, CV_8U, cv::Scalar(255))), NoInkError);
}

TEST(PairReader, ASureReadingGivesEachDigitItsMarginal) {
  int junction = 0;
  const cv::Mat img = touching_pair(&junction);
  ASSERT_FALSE(img.empty());
  Classifier templates = template_classifier({reference("5"), reference("7")});
  int calls = 0;
  std::vector<float> answer(kPairClasses, 0.0f);
  PairReader reader = [&](const std::vector<PairCrop>& crops) {
    ++calls;
    EXPECT_EQ(crops.size(), 1u);
    const PairInk k = pair_ink(crops[0].pixels.data());
    EXPECT_NEAR(k.rows, 20, 1) << "the whole group, not one of its pieces";
    EXPECT_GT(k.x1 - k.x0, 25);
    return answer;
  };
  answer[57] = 0.93f, answer[51] = 0.05f, answer[87] = 0.02f;
  std::vector<DigitCrop> read = number_segment(img, templates, reader);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(read.size(), 2u);
  ASSERT_TRUE(read[0].pair_probs && read[1].pair_probs);
  EXPECT_NEAR((*read[0].pair_probs)[5], 0.98f, 1e-6);  // 57 and 51
  EXPECT_NEAR((*read[0].pair_probs)[8], 0.02f, 1e-6);
  EXPECT_NEAR((*read[1].pair_probs)[7], 0.95f, 1e-6);  // 57 and 87
  EXPECT_NEAR((*read[1].pair_probs)[1], 0.05f, 1e-6);
  // The same cuts as without the reader: it reads the digits, it does not move them.
  std::vector<DigitCrop> plain = number_segment(img, templates);
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_FALSE(plain[0].pair_probs || plain[1].pair_probs);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(plain[i].pixels, read[i].pixels);

  // The model's probabilities are replaced for those digits only.
  std::vector<float> probs(30, 0.0f);
  probs[0 * 10 + 3] = probs[1 * 10 + 3] = probs[2 * 10 + 4] = 1.0f;
  std::vector<DigitCrop> three = {read[0], read[1], plain[0]};
  pair_probs_apply(three, probs.data());
  EXPECT_NEAR(probs[5], 0.98f, 1e-6);
  EXPECT_EQ(probs[3], 0.0f);
  EXPECT_NEAR(probs[10 + 7], 0.95f, 1e-6);
  EXPECT_EQ(probs[20 + 4], 1.0f);

  // Unsure (its best pair under 0.9): the cut pieces' own readings stand.
  std::fill(answer.begin(), answer.end(), 0.0f);
  answer[57] = 0.6f, answer[51] = 0.4f;
  read = number_segment(img, templates, reader);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_FALSE(read[0].pair_probs || read[1].pair_probs);

  // A group read whole is never asked about.
  calls = 0;
  Classifier whole = [](const std::vector<DigitCrop>& crops) {
    std::vector<float> out;
    for (const DigitCrop& c : crops) out.push_back(c.box.w > c.box.h ? 0.99f : 0.2f);
    return out;
  };
  EXPECT_EQ(number_segment(img, whole, reader).size(), 1u);
  EXPECT_EQ(calls, 0);

  PairReader broken = [](const std::vector<PairCrop>&) { return std::vector<float>(10, 0.1f); };
  EXPECT_THROW(number_segment(img, templates, broken), std::invalid_argument);
}

TEST(PairSamples, TouchingPairsAreLabelledLeftThenRight) {
  // Only 1s and 0s, so each pair is 00, 01, 10 or 11; a sample labelled 10 must look more like
  // "10" than like "01" (each printed and read whole the same way).
  Dataset digits = printed_digits(4);
  Dataset ones_zeros;
  ones_zeros.rows = ones_zeros.cols = 28;
  for (int i = 0; i < digits.count; ++i) {
    if (digits.labels[size_t(i)] > 1) continue;
    ones_zeros.images.insert(ones_zeros.images.end(), digits.images.begin() + long(i) * 784,
                             digits.images.begin() + long(i + 1) * 784);
    ones_zeros.labels.push_back(digits.labels[size_t(i)]);
    ++ones_zeros.count;
  }
  std::map<int, PairCrop> refs;
  for (int label : {0, 1, 10, 11}) {
    const std::string text = std::to_string(label / 10) + std::to_string(label % 10);
    refs[label] = pair_preprocess(text_draw(text, {300, 160}, {150, 80}, 3.0, 8));
  }
  auto cos = [](const float* a, const float* b) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < kPairRows * kPairCols; ++i)
      ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
  };
  const Dataset pairs = pair_samples(ones_zeros, 60, 9);
  ASSERT_EQ(pairs.count, 60);
  EXPECT_EQ(pairs.rows, kPairRows);
  EXPECT_EQ(pairs.cols, kPairCols);
  ASSERT_EQ(pairs.images.size(), size_t(60) * kPairRows * kPairCols);
  int mixed = 0, right = 0;
  for (int i = 0; i < pairs.count; ++i) {
    const int label = pairs.labels[size_t(i)];
    ASSERT_TRUE(refs.count(label)) << label;
    std::vector<float> x(size_t(kPairRows) * kPairCols);
    for (size_t p = 0; p < x.size(); ++p)
      x[p] = pairs.images[size_t(i) * x.size() + p] / 255.0f;
    EXPECT_NEAR(pair_ink(x.data()).rows, 20, 1);
    if (label != 1 && label != 10) continue;
    ++mixed;
    const int other = label == 1 ? 10 : 1;
    right += cos(x.data(), refs[label].pixels.data()) > cos(x.data(), refs[other].pixels.data());
  }
  EXPECT_GT(mixed, 15);
  EXPECT_GE(right, 0.85 * mixed) << right << " of " << mixed << " mixed pairs look like their label";
  EXPECT_EQ(pair_samples(ones_zeros, 60, 9).images, pairs.images);  // deterministic in the seed
  EXPECT_NE(pair_samples(ones_zeros, 60, 10).images, pairs.images);
  Dataset small = ones_zeros;
  small.rows = small.cols = 14;
  EXPECT_THROW(pair_samples(small, 5, 1), Error);
}

TEST(PairReader, ModelMustReadPairsIntoAHundredClasses) {
  auto arch = [](int w, int classes) {
    return nlohmann::json{
        {"name", "tiny"},
        {"input", {1, 28, w}},
        {"layers",
         {{{"type", "conv2d"}, {"filters", 2}, {"kernel", 3}, {"activation", "relu"}},
          {{"type", "maxpool"}, {"size", 2}},
          {{"type", "flatten"}},
          {{"type", "dense"}, {"units", classes}, {"activation", "softmax"}}}}};
  };
  auto file_of = [](const nlohmann::json& a) {
    auto backend = cpu_backend_create(1);
    Network net(a, *backend);
    net.init_glorot(3);
    return model_file_from_network(net, nlohmann::json::object());
  };
  EXPECT_THROW(pair_reader_create(cpu_backend_create(1), file_of(arch(28, 10))), FormatError);
  EXPECT_THROW(pair_reader_create(cpu_backend_create(1), file_of(arch(56, 10))), FormatError);
  const PairReader read = pair_reader_create(cpu_backend_create(1), file_of(arch(56, 100)));
  std::vector<PairCrop> crops(3);
  crops[1].pixels[28 * 14 + 10] = 1.0f;
  const std::vector<float> p = read(crops);
  ASSERT_EQ(p.size(), 3u * kPairClasses);
  for (int i = 0; i < 3; ++i) {
    double sum = 0;
    for (int k = 0; k < kPairClasses; ++k) sum += p[size_t(i * kPairClasses + k)];
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }
  EXPECT_TRUE(read({}).empty());
}

}  // namespace
}  // namespace scrawl::vision
