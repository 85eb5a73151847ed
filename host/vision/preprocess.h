// Image decoding and MNIST-style preprocessing: user bytes in, (28, 28) crops out.
// decode.cpp checks sizes from the file header before any pixel is allocated and applies EXIF
// orientation; ink.cpp finds the ink; preprocess.cpp crops digits and splits numbers.
// Tested by tests/unit/test_vision.cpp on digits drawn in code under many conditions.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace scrawl::vision {

// ---- decoding ----

struct DecodeLimits {
  size_t max_bytes = 20u << 20;    // encoded size
  int max_side = 10000;            // width or height, in pixels
  size_t max_pixels = 40'000'000;  // width * height
};

enum class ImageFormat { Unknown, Png, Jpeg, Bmp, Webp };

// What the file header says, read without decoding pixels.
struct ImageHeader {
  ImageFormat format = ImageFormat::Unknown;
  int width = 0, height = 0;  // as stored, before EXIF orientation
  int orientation = 1;        // EXIF orientation 1..8 (1 = as stored)
};

// The format by magic bytes; Unknown for anything we do not read (the server answers 415).
ImageFormat image_format_sniff(const void* data, size_t size);
const char* image_format_name(ImageFormat format);  // "PNG", "JPEG", "BMP", "WebP", "unknown"
// Parses PNG IHDR/eXIf, JPEG SOFn/APP1, BMP info header, WebP VP8/VP8L/VP8X/EXIF.
// Throws FormatError when the format is unknown or the header is malformed.
ImageHeader image_header_read(const void* data, size_t size);

// Decodes PNG/JPEG/BMP/WebP bytes to 8-bit grey, BGR or BGRA (alpha kept), EXIF orientation
// applied. Sizes are checked against `limits` from the header before pixels are allocated:
// TooLargeError when over; FormatError for empty input, an unknown format or corrupt data.
cv::Mat image_decode(const void* data, size_t size, const DecodeLimits& limits = {});
// The same for a file; error messages name the path.
cv::Mat image_read(const std::string& path, const DecodeLimits& limits = {});

// ---- preprocessing ----

struct Box {
  int x = 0, y = 0, w = 0, h = 0;  // in the decoded (EXIF-rotated) image's pixels
};

struct DigitCrop {
  std::array<float, 784> pixels{};  // (28, 28) row-major, white ink on black, [0, 1], MNIST-style
  Box box;                          // where the ink was in the input image
  // Number mode: a separator written between this digit and the next: '.' (a point at the foot
  // of the row), ',' (one that reaches below it), '-' (a dash at mid-height), or 0 for none.
  char mark_after = 0;
  // Number mode with a pair reader: this digit's probabilities as the pair reader gave them (the
  // marginal of its pair's), which callers report instead of the classifier's reading of pixels.
  std::optional<std::array<float, 10>> pair_probs;
};

// The ink of an image, found once and shared by digit and number mode. Exposed for tests and
// debugging; everything is at the working resolution (the input scaled so its longest side is at
// most 1024 px), `scale` converts: working = input * scale.
struct InkComponent {
  cv::Rect box;   // working pixels
  int area = 0;   // pixels in the mask
  int label = 0;  // value in InkMap::labels
};

struct InkMap {
  cv::Mat ink;     // CV_32F, [0, 1], white ink on black, soft edges kept, paper at 0 (specks
                   // are still there: crops take only the ink near `mask`)
  cv::Mat mask;    // CV_8U, 255 where a kept component is
  cv::Mat labels;  // CV_32S, connected-component labels of the thresholded ink (specks included)
  std::vector<InkComponent> components;  // kept components (specks dropped), largest first
  cv::Size image_size;                   // the input's size
  double scale = 1.0;
  float stroke_width = 1.0f;  // typical stroke width, working pixels
  bool light_ink = false;     // the input had light ink on dark paper
};

// Alpha composited onto paper; the grey channel with the best ink contrast chosen (handles
// coloured ink on tinted paper); polarity found (the side that forms strokes, not areas); paper
// gradients and shadows divided out by a background estimate (a closing wider than the strokes);
// thresholded; small specks dropped. Throws NoInkError when no ink is left, FormatError for an
// empty image or a pixel type we do not read. Accepts 8/16-bit or float ([0, 1]) grey, grey +
// alpha, BGR, BGRA.
InkMap ink_find(const cv::Mat& image);

// One digit: the whole pipeline. Crop to the ink's bounding box (all kept components), strokes
// thickened when they would be thinner than MNIST's, longest side scaled to 20 px keeping aspect
// (INTER_AREA), placed in 28x28 by an integer shift so the centre of mass is within half a pixel
// of (14, 14), as MNIST was made (MNIST digits fed back in come out unchanged). Throws NoInkError.
DigitCrop digit_preprocess(const cv::Mat& image);

// A sheet of paper lying on something darker (a photo of a note on a desk): its four corners in
// image pixels (top-left, top-right, bottom-right, bottom-left), taken a little inside its
// edge. Found as the largest region that is not the surface the frame's edge shows, when it is a
// convex quadrilateral (clear of the frame, or running off one side of it with nothing written
// beyond it), covering 8-92% of the image, much brighter than what lies around it and holding
// ink, or blank on a surface that is no black canvas. nullopt when there is no such sheet: paper
// filling the frame, a drawing carried in alpha, images under 64 px a side. FormatError for a
// pixel type ink_find does not read either. See sheet.cpp.
std::optional<std::array<cv::Point2f, 4>> sheet_find(const cv::Mat& image);

// The image digit and number mode read: the sheet, warped flat and square to the view (which
// also turns the writing upright with the sheet), or the image itself when there is none.
struct SheetView {
  cv::Mat image;        // what ink_find reads
  cv::Mat back;         // 3x3 homography from view pixels to image pixels; empty: the same
  cv::Size image_size;  // the input's size
  Box to_image(const Box& b) const;  // a box of the view -> the box around it in the input
};
SheetView sheet_view(const cv::Mat& image);

// Given crops, returns one confidence in [0, 1] per crop (e.g. the classifier's max probability).
using Classifier = std::function<std::vector<float>(const std::vector<DigitCrop>&)>;

// Two touching digits read as one image by the pair reader (models/pairs.json): the group's ink
// 20 px high (at most 52 px wide) keeping aspect, centre of mass in the middle of 28x56.
constexpr int kPairRows = 28, kPairCols = 56, kPairClasses = 100;
struct PairCrop {
  std::array<float, size_t(kPairRows) * kPairCols> pixels{};  // row-major, white ink on black
};
// Given pair crops, returns kPairClasses probabilities per crop, row after row; class 10 a + b
// is the digit a on the left of the digit b.
using PairReader = std::function<std::vector<float>(const std::vector<PairCrop>&)>;

// The whole ink of an image (as digit_preprocess finds it) as a pair crop: what the pair reader
// is trained on. Throws NoInkError.
PairCrop pair_preprocess(const cv::Mat& image);

// Number mode: the digits of a row, left to right, each preprocessed as digit_preprocess does.
// Pieces of one digit are merged (components whose x-ranges overlap strongly), specks, marks much
// shorter than the digits and frame-hugging blobs (dark photo corners) ignored. With `classify`,
// the groups are first read whole; a group wider than half its height that is not read with
// confidence >= 0.9 is searched for cuts: straight ones and ones bent around the strokes, at the
// vertical-projection minima and on a grid; every piece between two cuts is scored in one
// classifier call, and dynamic programming picks the cuts with the best product of confidences
// less a price per digit. Without `classify`, a group wider than 1.2 digit heights (or 1.75
// typical digit widths) is cut at the deepest projection minima near the widths the other digits
// suggest. With `read_pair` too, every two neighbouring digits cut from one group are read again
// as one image (pair_crop's 28x56), and when its best pair has probability >= 0.9 the two digits
// carry its marginals in DigitCrop::pair_probs (a digit in a chain takes the surer of its two
// pairs); the cuts stay the same. Throws NoInkError; std::invalid_argument when `classify` or
// `read_pair` returns the wrong number of values.
std::vector<DigitCrop> number_segment(const cv::Mat& image, const Classifier& classify = {},
                                      const PairReader& read_pair = {});

// ---- modes (shared by the CLI and the server) ----

enum class ReadMode { Digit, Number };

ReadMode read_mode_parse(const std::string& s);  // "digit" | "number"; otherwise FormatError
const char* read_mode_name(ReadMode mode);       // "digit" | "number"

}  // namespace scrawl::vision
