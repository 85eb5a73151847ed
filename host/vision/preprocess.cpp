// From ink to MNIST-style (28, 28) crops: one digit, or a row of digits split left to right
// (pieces merged, touching digits cut along straight or bent paths chosen by a classifier, or at
// projection minima without one).
// Tested by tests/unit/test_vision.cpp (geometry of crops, invariance, "2024", broken and
// touching digits, classifier-driven cuts).
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "host/error.h"
#include "host/vision/ink_internal.h"
#include "host/vision/preprocess.h"

namespace scrawl::vision {
namespace {

constexpr int kSide = 28;           // MNIST image side
constexpr int kBoxSide = 20;        // MNIST digits fit a 20x20 box, centre of mass in the middle
constexpr int kPairBoxWidth = 52;   // two digits fit 20 px high and at most this wide, in 28x56
constexpr float kMinStroke = 1.6f;  // thinner strokes (at the 20 px scale) are thickened...
constexpr float kStroke = 2.0f;     // ...to about this, which is MNIST's usual pen

int odd(double x) { return std::max(1, int(std::lround(x)) | 1); }

// CV_8U mask -> CV_8U mask, 255 within `radius` pixels of a set pixel: a dilation by a disc,
// the distance transform's (direct loops on small masks; see ink_internal.h).
cv::Mat mask_grow(const cv::Mat& mask, int radius) { return ink_detail::mask_grow(mask, radius); }

// The bounding box of a CV_32F image's pixels above t (at_least: at least t), as
// cv::boundingRect(img > t) (or >= t) gives it; empty when there are none.
cv::Rect box_where(const cv::Mat& img, float t, bool at_least) {
  int x0 = img.cols, y0 = img.rows, x1 = -1, y1 = -1;
  for (int y = 0; y < img.rows; ++y) {
    const float* r = img.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) {
      if (at_least ? r[x] >= t : r[x] > t) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = y;
      }
    }
  }
  return x1 < 0 ? cv::Rect() : cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
}

// The largest value of a CV_32F image (as cv::minMaxLoc's maximum; the image not empty).
double max_of(const cv::Mat& img) {
  float peak = img.ptr<float>(0)[0];
  for (int y = 0; y < img.rows; ++y) {
    const float* r = img.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x) peak = std::max(peak, r[x]);
  }
  return peak;
}

// Working-resolution rectangle -> input image pixels.
Box box_to_image(const cv::Rect& r, const InkMap& m) {
  int x0 = int(std::floor(r.x / m.scale)), y0 = int(std::floor(r.y / m.scale));
  int x1 = int(std::ceil((r.x + r.width) / m.scale));
  int y1 = int(std::ceil((r.y + r.height) / m.scale));
  x0 = std::clamp(x0, 0, m.image_size.width);
  y0 = std::clamp(y0, 0, m.image_size.height);
  x1 = std::clamp(x1, x0, m.image_size.width);
  y1 = std::clamp(y1, y0, m.image_size.height);
  return Box{x0, y0, x1 - x0, y1 - y0};
}

// A soft ink patch (CV_32F) -> rows x cols, row-major into `out`: the box of the clear ink (faint
// edge pixels would make it jitter) scaled to fit box_h x box_w keeping aspect, soft edges
// spilling a little beyond it; the centre of mass placed at the middle; everything kept inside
// the frame. MNIST's 28x28 with a 20x20 box is patch_to_mnist; the pair reader's is wider.
void patch_fit(const cv::Mat& patch, float stroke_width, int rows, int cols, int box_h, int box_w,
               float* out) {
  constexpr double kClear = 0.2;  // ink at least this strong defines the box
  // kClear compared as float, as OpenCV compares a float image with a scalar.
  cv::Mat p = patch(box_where(patch, 0.0f, false));
  cv::Rect core = box_where(p, float(kClear), true);
  if (core.empty()) core = cv::Rect(0, 0, p.cols, p.rows);
  // The scale that fits the core into the box (for a square box: its side over the longest side).
  auto fit = [&](const cv::Rect& r) {
    return std::min(double(box_w) / r.width, double(box_h) / r.height);
  };
  double f = fit(core);
  float stroke_out = float(stroke_width * f);
  if (stroke_out < kMinStroke) {
    // Thin pen on a large drawing would shrink to a faint hairline: thicken it by grey dilation
    // (soft edges survive), at a reduced scale when the pen is far too thin, then re-measure.
    int grow = odd(kStroke / f - stroke_width + 1);
    if (grow > 7) {
      double q = 7.0 / grow;
      cv::resize(p, p,
                 cv::Size(std::max(1, int(std::lround(p.cols * q))),
                          std::max(1, int(std::lround(p.rows * q)))),
                 0, 0, cv::INTER_AREA);
      double peak;
      cv::minMaxLoc(p, nullptr, &peak);
      if (peak > 0) p /= peak;  // a hairline averages out faint; restore it
      grow = 7;
    }
    int pad = grow / 2;
    cv::Mat padded;
    cv::copyMakeBorder(p, padded, pad, pad, pad, pad, cv::BORDER_CONSTANT, 0);
    cv::dilate(padded, padded, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(grow, grow)));
    p = padded(box_where(padded, 0.0f, false));
    core = box_where(p, float(kClear), true);
    if (core.empty()) core = cv::Rect(0, 0, p.cols, p.rows);
    f = fit(core);
  }
  int w = std::clamp(int(std::lround(p.cols * f)), 1, cols);
  int h = std::clamp(int(std::lround(p.rows * f)), 1, rows);
  cv::Mat small;
  cv::resize(p, small, cv::Size(w, h), 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  for (int y = 0; y < small.rows; ++y) {  // cv::max(small, 0.0), in place: no new image
    float* row = small.ptr<float>(y);
    for (int x = 0; x < small.cols; ++x) row[x] = row[x] > 0.0f ? row[x] : 0.0f;
  }
  const double peak = max_of(small);
  if (peak > 0 && peak < 1) small /= peak;  // strokes reach full ink, as in MNIST

  // Integer shift, as MNIST: a sub-pixel one would blur every digit a little (MNIST digits fed
  // back in come out identical this way); rounding moves the centre by at most half a pixel.
  cv::Moments mo = cv::moments(small);
  double cx = mo.m00 > 0 ? mo.m10 / mo.m00 : (w - 1) / 2.0;
  double cy = mo.m00 > 0 ? mo.m01 / mo.m00 : (h - 1) / 2.0;
  int ox = std::clamp(int(std::lround(cols / 2.0 - cx)), 0, cols - w);
  int oy = std::clamp(int(std::lround(rows / 2.0 - cy)), 0, rows - h);

  std::fill(out, out + size_t(rows) * cols, 0.0f);
  for (int y = 0; y < h; ++y) {
    const float* row = small.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      out[size_t((y + oy) * cols + x + ox)] = std::clamp(row[x], 0.0f, 1.0f);
    }
  }
}

std::array<float, 784> patch_to_mnist(const cv::Mat& patch, float stroke_width) {
  std::array<float, 784> out;
  patch_fit(patch, stroke_width, kSide, kSide, kBoxSide, kBoxSide, out.data());
  return out;
}

// One group of components (a digit, or several touching ones) cut out of the ink map.
struct Group {
  cv::Rect box;             // working pixels
  std::vector<int> labels;  // component labels
};

struct GroupView {
  cv::Rect ext;  // the group's box grown by the soft-edge margin, clamped to the image
  cv::Mat mask;  // CV_8U over ext: 255 on the group's components
  cv::Mat ink;   // CV_32F over ext (a view into InkMap::ink)
  cv::Mat near;  // CV_8U over ext: 255 within margin - 1 of the mask (where soft edges count)
  int margin = 1;
};

// CV_8U over `r` (working pixels): 255 on the group's components.
cv::Mat group_mask(const InkMap& m, const Group& g, const cv::Rect& r) {
  std::vector<uint8_t> member(size_t(*std::max_element(g.labels.begin(), g.labels.end())) + 1, 0);
  for (int l : g.labels) member[size_t(l)] = 1;
  cv::Mat mask = cv::Mat::zeros(r.size(), CV_8U);
  const cv::Mat labels = m.labels(r);
  for (int y = 0; y < r.height; ++y) {
    const int* lab = labels.ptr<int>(y);
    uint8_t* out = mask.ptr<uint8_t>(y);
    for (int x = 0; x < r.width; ++x) {
      if (size_t(lab[x]) < member.size() && member[size_t(lab[x])]) out[x] = 255;
    }
  }
  return mask;
}

GroupView group_view(const InkMap& m, const Group& g) {
  GroupView v;
  v.margin = std::max(1, int(std::lround(0.5 * m.stroke_width))) + 1;
  v.ext = cv::Rect(g.box.x - v.margin, g.box.y - v.margin, g.box.width + 2 * v.margin,
                   g.box.height + 2 * v.margin) &
          cv::Rect(0, 0, m.ink.cols, m.ink.rows);
  v.mask = group_mask(m, g, v.ext);
  v.ink = m.ink(v.ext);
  v.near = mask_grow(v.mask, v.margin - 1);
  return v;
}

// A cut through a group's view from top to bottom: row y's pixels at x < seam[y] lie left of it.
using Seam = std::vector<int>;

Seam seam_straight(const GroupView& v, int x) {
  return Seam(size_t(v.ext.height), std::clamp(x, 0, v.ext.width));
}

// The group's soft ink between two cuts (left <= x < right on each row) and the box of its mask
// pixels in working coordinates; nullopt when no ink is there.
struct PieceInk {
  cv::Mat soft;  // CV_32F
  cv::Rect box;  // working pixels
};

std::optional<PieceInk> piece_ink(const GroupView& v, const Seam& left, const Seam& right) {
  // Work on the columns the cuts enclose only: number mode crops hundreds of pieces.
  int x0 = v.ext.width, x1 = 0;
  for (int y = 0; y < v.ext.height; ++y) {
    const int a = std::clamp(left[size_t(y)], 0, v.ext.width);
    const int b = std::clamp(right[size_t(y)], 0, v.ext.width);
    if (b > a) x0 = std::min(x0, a), x1 = std::max(x1, b);
  }
  if (x1 <= x0) return std::nullopt;
  const cv::Rect cols(x0, 0, x1 - x0, v.ext.height);
  // Per row, between the cuts: the group's ink (its box is the piece's) and the soft edges near
  // it, not beyond the cuts (the ink where `near` is set, 0 elsewhere).
  int bx0 = x1, by0 = v.ext.height, bx1 = -1, by1 = -1;
  bool soft_ink = false;
  cv::Mat soft = cv::Mat::zeros(cols.size(), CV_32F);
  for (int y = 0; y < v.ext.height; ++y) {
    const int a = std::clamp(left[size_t(y)], x0, x1), b = std::clamp(right[size_t(y)], x0, x1);
    const uint8_t* mk = v.mask.ptr<uint8_t>(y);
    const uint8_t* nr = v.near.ptr<uint8_t>(y);
    const float* ink = v.ink.ptr<float>(y);
    float* o = soft.ptr<float>(y) - x0;
    for (int x = a; x < b; ++x) {
      if (mk[x]) bx0 = std::min(bx0, x), bx1 = std::max(bx1, x), by0 = std::min(by0, y), by1 = y;
      if (nr[x]) {
        o[x] = ink[x];
        soft_ink |= ink[x] > 0;
      }
    }
  }
  if (bx1 < 0) return std::nullopt;
  const cv::Rect ink_box(bx0 - x0, by0, bx1 - bx0 + 1, by1 - by0 + 1);
  if (!soft_ink) return std::nullopt;
  return PieceInk{soft, ink_box + cols.tl() + v.ext.tl()};
}

// The crop of the group's ink between two cuts; nullopt when no ink is there.
std::optional<DigitCrop> piece_crop(const InkMap& m, const GroupView& v, const Seam& left,
                                    const Seam& right) {
  std::optional<PieceInk> p = piece_ink(v, left, right);
  if (!p) return std::nullopt;
  DigitCrop crop;
  crop.pixels = patch_to_mnist(p->soft, m.stroke_width);
  crop.box = box_to_image(p->box, m);
  return crop;
}

// The same ink fitted as the pair reader reads two digits: 20 px high (at most 52 wide), in 28x56.
std::optional<PairCrop> pair_crop(const InkMap& m, const GroupView& v, const Seam& left,
                                  const Seam& right) {
  std::optional<PieceInk> p = piece_ink(v, left, right);
  if (!p) return std::nullopt;
  PairCrop crop;
  patch_fit(p->soft, m.stroke_width, kPairRows, kPairCols, kBoxSide, kPairBoxWidth,
            crop.pixels.data());
  return crop;
}

// The same within columns [a, b) of the view.
std::optional<DigitCrop> piece_crop(const InkMap& m, const GroupView& v, int a, int b) {
  return piece_crop(m, v, seam_straight(v, a), seam_straight(v, b));
}

// The cheapest cut from the top of the view to the bottom near column c: a path moving at most
// one pixel sideways per row, within `band` columns of c, paying for the group's ink it crosses
// (soft edges a little), for straying from c and for bending. Touching digits seldom meet along
// a straight line (a 7's bar over a 4, a slanted 1 leaning on a 0), so a cut that can bend around
// strokes keeps each digit whole where a straight one would slice one.
Seam seam_find(const GroupView& v, int c, int band) {
  const int W = v.ext.width, H = v.ext.height;
  const int lo = std::clamp(c - band, 1, W - 1), hi = std::clamp(c + band, 1, W - 1);
  const int n = hi - lo + 1;
  if (H == 0 || n <= 0) return seam_straight(v, c);
  constexpr float kInkCost = 1.0f, kSoftCost = 0.3f, kStrayCost = 0.02f, kBendCost = 0.01f;
  std::vector<float> cost(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  std::vector<int8_t> from(size_t(H) * size_t(n), 0);
  auto pixel_cost = [&](int y, int x) {
    const float ink = v.ink.at<float>(y, x);
    const bool mine = v.mask.at<uint8_t>(y, x) != 0;
    return (mine ? kInkCost : kSoftCost * ink) + kStrayCost * float(std::abs(x - c));
  };
  for (int i = 0; i < n; ++i) cost[size_t(i)] = pixel_cost(0, lo + i);
  for (int y = 1; y < H; ++y) {
    for (int i = 0; i < n; ++i) {
      float best = cost[size_t(i)];
      int8_t step = 0;
      if (i > 0 && cost[size_t(i - 1)] + kBendCost < best) best = cost[size_t(i - 1)] + kBendCost, step = -1;
      if (i + 1 < n && cost[size_t(i + 1)] + kBendCost < best) best = cost[size_t(i + 1)] + kBendCost, step = 1;
      next[size_t(i)] = best + pixel_cost(y, lo + i);
      from[size_t(y) * size_t(n) + size_t(i)] = step;
    }
    std::swap(cost, next);
  }
  int i = int(std::min_element(cost.begin(), cost.end()) - cost.begin());
  Seam seam(static_cast<size_t>(H));
  for (int y = H - 1; y >= 0; --y) {
    seam[size_t(y)] = lo + i;
    i += from[size_t(y) * size_t(n) + size_t(i)];
  }
  return seam;
}

// Pieces of one digit: components whose x-ranges overlap by at least half the narrower one's
// width and that are not far apart vertically (a 7 with a separate bar, a broken 5, an open 4).
std::vector<Group> groups_merge(const InkMap& m) {
  std::vector<Group> groups;
  for (const InkComponent& c : m.components) groups.push_back(Group{c.box, {c.label}});
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < groups.size() && !changed; ++i) {
      for (size_t j = i + 1; j < groups.size() && !changed; ++j) {
        const cv::Rect& a = groups[i].box;
        const cv::Rect& b = groups[j].box;
        int overlap = std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x);
        int gap = std::max(a.y, b.y) - std::min(a.y + a.height, b.y + b.height);
        if (overlap >= 0.5 * std::min(a.width, b.width) &&
            gap <= 0.6 * std::max(a.height, b.height)) {
          groups[i].box |= b;
          groups[i].labels.insert(groups[i].labels.end(), groups[j].labels.begin(),
                                  groups[j].labels.end());
          groups.erase(groups.begin() + long(j));
          changed = true;
        }
      }
    }
  }
  return groups;
}

// A piece of ink that is short and narrow next to the row's digits (the detached tail of a 6, the
// foot of a 5, a chip of a broken 4) is far more often part of a neighbour than a digit of its
// own: the digits of one number are of a size, give or take. Heights in working pixels.
bool fragment_like(double h, double w, double median_h) {
  return h < 0.4 * median_h || (h < 0.7 * median_h && w < 0.45 * median_h);
}

std::optional<DigitCrop> piece_crop(const InkMap& m, const GroupView& v, int a, int b);

Group groups_union(const Group& a, const Group& b) {
  Group u{a.box | b.box, a.labels};
  u.labels.insert(u.labels.end(), b.labels.begin(), b.labels.end());
  return u;
}

// The shortest distance between the ink of two groups, in working pixels.
double ink_gap(const InkMap& m, const Group& a, const Group& b) {
  const cv::Rect r = a.box | b.box;
  cv::Mat dist;
  cv::distanceTransform(~group_mask(m, b, r), dist, cv::DIST_L2, 3);
  double gap = 1e30;
  cv::minMaxLoc(dist, &gap, nullptr, nullptr, nullptr, group_mask(m, a, r));
  return gap;
}

// The prices of number mode's cuts, in log-confidence (see group_split).
constexpr double kPiecePenalty = 0.2;     // per digit read
constexpr double kFragmentPenalty = 1.0;  // more for a digit shaped like a fragment
constexpr float kPairSure = 0.9f;         // the pair reader's best pair at least this: it wins
constexpr double kChipPenalty = 0.2;      // for leaving a chip of ink unread (chip_like)
constexpr double kWidePenalty = 1.0;      // for reading a piece wider than a digit as one

// Shorter than 0.4 of the row's digit heights: too short to be a digit here (the smallest digits
// of a row, even in rows of mixed sizes, stay near half the typical height).
bool chip_like(double h, double median_h) { return h < 0.4 * median_h; }

// A fragment that lies against a neighbour (boxes overlapping or within 0.15 digit heights)
// joins the neighbour that reads better for it (a 5's bar belongs to the hook it completes, not to
// the 1 beside it), when that gains more than reading the fragment as a digit of its own would:
// log c(neighbour + fragment) - log c(neighbour) > log c(fragment) - the prices of a fragment
// digit. A mark too short to be a digit (`short_mark`) joins only when it helps its neighbour.
// Without a classifier the nearer neighbour takes it. Groups are sorted by x.
//
// With a classifier, a tall narrow stroke (narrower than 0.45 digit heights, as a 1 is) that the
// model reads at under kStrokeDoubt is judged the same way, at the price of a plain digit: it is
// then no 1 but a loose part of a neighbour (the stem and bar of a 5 whose hook is apart: "15474"
// was read as "115474", the stem a "1" at 0.14). Real 1s read far surer than that.
constexpr double kStrokeDoubt = 0.3;
//
// A small digit in a row of digits of mixed sizes is shaped like a fragment too, and the model
// reads its neighbour about as surely with it as without ("9998" with a small first 9 was read
// "998"). A fragment the model reads at kFragmentSure or more, at least 0.12 digit heights wide
// (thinner is a sliver of a curve), whose ink lies more than kApart digit heights from the
// neighbour's, joins it only when the neighbour reads better for it. The bar of a broken 5, the
// tail of a 6 and the chip of a 4 lie closer, or read unsurely alone.
constexpr double kFragmentSure = 0.9;
constexpr double kApart = 0.03;
void fragments_join(const InkMap& m, std::vector<Group>& groups, double median_h,
                    const std::function<bool(const Group&)>& short_mark,
                    const Classifier& classify) {
  auto read = [&](const std::vector<Group>& gs) {
    std::vector<DigitCrop> crops;
    for (const Group& g : gs) {
      const GroupView v = group_view(m, g);
      if (auto c = piece_crop(m, v, 0, v.ext.width)) crops.push_back(*c);
    }
    std::vector<float> conf = crops.size() == gs.size() ? classify(crops) : std::vector<float>{};
    std::vector<double> logc(gs.size(), std::log(1e-6));
    for (size_t i = 0; i < conf.size() && i < gs.size(); ++i)
      logc[i] = std::log(std::clamp(double(conf[i]), 1e-6, 1.0));
    return logc;
  };
  for (size_t i = 0; i < groups.size();) {
    const Group f = groups[i];
    const bool fragment = fragment_like(f.box.height, f.box.width, median_h);
    const bool stroke = !fragment && classify && f.box.width < 0.45 * median_h;
    if (!fragment && !stroke) {
      ++i;
      continue;
    }
    std::vector<size_t> near;
    for (size_t j : {i - 1, i + 1}) {  // i - 1 wraps around for i == 0
      if (j >= groups.size()) continue;
      const cv::Rect& b = groups[j].box;
      const int gap = std::max(b.x, f.box.x) - std::min(b.x + b.width, f.box.x + f.box.width);
      if (gap <= 0.15 * median_h) near.push_back(j);
    }
    size_t into = groups.size();
    if (!near.empty() && !classify) {
      into = near.front();
      if (near.size() == 2 && groups[near[1]].box.x - (f.box.x + f.box.width) <
                                  f.box.x - (groups[near[0]].box.x + groups[near[0]].box.width))
        into = near[1];
    } else if (!near.empty()) {
      std::vector<Group> ask{f};
      for (size_t j : near) ask.push_back(groups[j]), ask.push_back(groups_union(groups[j], f));
      const std::vector<double> logc = read(ask);
      double best = short_mark(f) || chip_like(f.box.height, median_h)
                        ? 0.0
                        : logc[0] - kPiecePenalty - (fragment ? kFragmentPenalty : 0.0);
      // A stroke read as a digit with any confidence is one (a 1, a narrow 7): it stays.
      const bool digit_alone = stroke && logc[0] >= std::log(kStrokeDoubt);
      // A sure digit of its own, wide enough to be one, whose ink stands apart from a
      // neighbour's joins that neighbour only if the neighbour then reads better.
      const bool sure_alone = logc[0] >= std::log(kFragmentSure) && !short_mark(f) &&
                              !chip_like(f.box.height, median_h) && f.box.width >= 0.12 * median_h;
      for (size_t k = 0; k < near.size() && !digit_alone; ++k) {
        const double gain = logc[2 * k + 2] - logc[2 * k + 1];
        if (gain <= best) continue;
        if (sure_alone && gain <= 0.0 && ink_gap(m, f, groups[near[k]]) > kApart * median_h)
          continue;
        best = gain, into = near[k];
      }
    }
    if (into == groups.size()) {
      ++i;
      continue;
    }
    groups[into] = groups_union(groups[into], f);
    groups.erase(groups.begin() + long(i));
    if (into > i) --into;
    i = into;  // the grown group is judged again only if it is still a fragment or a stroke
  }
}

// Candidate cut columns (view coordinates): centres of local-minimum runs of the smoothed
// vertical projection, at least min_w from the group's ends, deepest first, at most 8.
std::vector<int> cut_candidates(const GroupView& v, const cv::Rect& box, int min_w,
                                float stroke_width, std::vector<float>* profile) {
  cv::Mat col_sum;
  cv::reduce(v.mask / 255, col_sum, 0, cv::REDUCE_SUM, CV_32F);
  cv::Mat smooth;
  int sw = odd(stroke_width / 2.0);
  cv::blur(col_sum, smooth, cv::Size(sw, 1), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  std::vector<float> p(smooth.begin<float>(), smooth.end<float>());
  int x0 = box.x - v.ext.x, x1 = x0 + box.width;
  int lo = x0 + min_w, hi = x1 - min_w;
  std::vector<int> cands;
  for (int x = std::max(lo, 1); x < std::min(hi, int(p.size()) - 1);) {
    int e = x;
    while (e + 1 < hi && p[size_t(e + 1)] == p[size_t(x)]) ++e;  // a run of equal values
    bool left_up = p[size_t(x - 1)] > p[size_t(x)];
    bool right_up = e + 1 >= int(p.size()) || p[size_t(e + 1)] > p[size_t(x)];
    if (left_up && right_up) cands.push_back((x + e) / 2);
    x = e + 1;
  }
  std::sort(cands.begin(), cands.end(), [&](int a, int b) { return p[size_t(a)] < p[size_t(b)]; });
  std::vector<int> picked;
  for (int c : cands) {
    bool near = std::any_of(picked.begin(), picked.end(),
                            [&](int q) { return std::abs(q - c) < std::max(2, min_w / 2); });
    if (!near) picked.push_back(c);
    if (picked.size() == 8) break;
  }
  std::sort(picked.begin(), picked.end());
  if (profile) *profile = std::move(p);
  return picked;
}

// The pair reader's probabilities (kPairClasses) for two neighbouring digits: when its best pair
// is sure enough, each digit gets its marginal as DigitCrop::pair_probs, unless a surer reading
// of another pair gave it one already (surest_*: the best pair probability behind each).
void pair_apply(const float* p, DigitCrop& left, DigitCrop& right, float& surest_left,
                float& surest_right) {
  const float top = *std::max_element(p, p + kPairClasses);
  if (top < kPairSure) return;
  std::array<float, 10> a{}, b{};
  for (int i = 0; i < kPairClasses; ++i) a[size_t(i / 10)] += p[i], b[size_t(i % 10)] += p[i];
  if (top > surest_left) left.pair_probs = a, surest_left = top;
  if (top > surest_right) right.pair_probs = b, surest_right = top;
}

// Splits a group that is too wide for one digit. Returns its crops left to right.
std::vector<DigitCrop> group_split(const InkMap& m, const Group& g, float typical_width,
                                   float median_h, const Classifier& classify,
                                   const PairReader& read_pair) {
  GroupView v = group_view(m, g);
  const int W = g.box.width, H = g.box.height;
  // The narrowest piece: a 1 can be little more than a stroke wide; the classifier judges slivers.
  const int min_w = std::max(2, int(std::lround((classify ? 0.08 : 0.15) * H)));
  std::vector<float> profile;
  std::vector<int> cands = cut_candidates(v, g.box, min_w, m.stroke_width, &profile);
  const int x0 = g.box.x - v.ext.x, x1 = x0 + W;

  // Pieces between consecutive cuts; the outer pieces reach the view's edges (soft edges).
  auto pieces_of = [&](const std::vector<int>& cuts) {
    std::vector<std::pair<int, int>> out;
    int a = 0;
    for (int c : cuts) {
      out.emplace_back(a, c);
      a = c;
    }
    out.emplace_back(a, v.ext.width);
    return out;
  };
  auto widths_ok = [&](const std::vector<int>& cuts) {
    int prev = x0;
    for (int c : cuts) {
      if (c - prev < min_w) return false;
      prev = c;
    }
    return x1 - prev >= min_w;
  };
  auto whole = [&]() {
    std::vector<DigitCrop> out;
    if (auto c = piece_crop(m, v, 0, v.ext.width)) out.push_back(*c);
    return out;
  };

  if (!classify) {
    // As many digits as the other digits' widths suggest; each cut at the deepest minimum near
    // its ideal place (depth and distance traded off), or at the ideal place if none is near.
    int n = std::clamp(int(std::lround(W / std::max(typical_width, 1.0f))), 2, 5);
    float step = float(W) / n;
    float peak = std::max(1.0f, *std::max_element(profile.begin(), profile.end()));
    std::vector<int> cuts;
    for (int k = 1; k < n; ++k) {
      float ideal = x0 + k * step;
      int best = int(std::lround(ideal));
      float best_cost = 1e30f;
      for (int c : cands) {
        float dist = std::abs(c - ideal) / step;
        if (dist > 0.5f) continue;
        float cost = profile[size_t(c)] / peak + 0.5f * dist;
        if (cost < best_cost) {
          best_cost = cost;
          best = c;
        }
      }
      cuts.push_back(best);
    }
    if (!std::is_sorted(cuts.begin(), cuts.end()) || !widths_ok(cuts)) return whole();
    std::vector<DigitCrop> out;
    for (auto [a, b] : pieces_of(cuts)) {
      if (auto c = piece_crop(m, v, a, b)) out.push_back(*c);
    }
    return out;
  }

  // With a classifier: cuts near the projection minima and on a grid of columns (some touching
  // pairs meet where the projection peaks, two 0s side by side), each bent around the strokes
  // (seam_find). Every piece between two cuts that is neither too narrow nor much wider than a
  // digit goes to the classifier in one batch; then dynamic programming finds the cuts with the
  // best product of confidences, less a price per digit (kPiecePenalty). The model is trained to
  // be unsure of bad pieces (two digits in one crop, half a digit, a digit with a large piece of
  // its neighbour: see compose_sample in host/dataset.h), which is what makes this work. (A
  // geometric mean, which compares counts without a price, rewards cutting confident slivers.)
  const int grid = std::max({2, int(std::lround(H / 9.0)), W / 48});
  for (int c = x0 + min_w; c <= x1 - min_w; c += grid) {
    bool near = std::any_of(cands.begin(), cands.end(),
                            [&](int q) { return std::abs(q - c) < grid / 2 + 1; });
    if (!near) cands.push_back(c);
  }
  std::sort(cands.begin(), cands.end());
  const int band = std::max(2, int(std::lround(0.2 * H)));
  std::vector<Seam> seams{seam_straight(v, 0)};
  std::vector<float> pos{float(x0)};  // where each cut crosses the ink, on average
  for (int c : cands) {
    // Both the straight cut and the bent one: the cheapest path is not always right (two 0s
    // whose sides overlap are cheaper to cut across one ring than along the shared stroke).
    for (Seam seam : {seam_straight(v, c), seam_find(v, c, band)}) {
      if (std::find(seams.begin(), seams.end(), seam) != seams.end()) continue;
      pos.push_back(float(std::accumulate(seam.begin(), seam.end(), 0.0) / double(seam.size())));
      seams.push_back(std::move(seam));
    }
  }
  seams.push_back(seam_straight(v, v.ext.width));
  pos.push_back(float(x1));
  // Cuts in left-to-right order (bent cuts can trade places with straight neighbours).
  std::vector<size_t> order(seams.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin() + 1, order.end() - 1,
                   [&](size_t a, size_t b) { return pos[a] < pos[b]; });
  const size_t K = seams.size();
  const float max_w = 1.4f * float(H);
  std::vector<int> piece_index(K * K, -1);  // (i, j) -> index in crops, -1: not a piece
  std::vector<DigitCrop> crops;
  for (size_t i = 0; i + 1 < K; ++i) {
    for (size_t j = i + 1; j < K; ++j) {
      const float w = pos[order[j]] - pos[order[i]];
      const bool whole = i == 0 && j == K - 1;
      if (!whole && (w < float(min_w) || w > max_w)) continue;
      auto c = piece_crop(m, v, seams[order[i]], seams[order[j]]);
      if (!c) continue;
      piece_index[i * K + j] = int(crops.size());
      crops.push_back(*c);
    }
  }
  if (crops.empty()) return {};
  std::vector<float> conf = classify(crops);
  if (conf.size() != crops.size()) {
    throw std::invalid_argument("number_segment: the classifier returned " +
                                std::to_string(conf.size()) + " confidences for " +
                                std::to_string(crops.size()) + " crops");
  }
  // best[k][j]: the best score of k digits read from the pieces covering cuts 0..j; back[k][j]
  // the cut before the last piece, and whether that piece was dropped rather than read.
  const size_t n_max = std::min<size_t>(K - 1, size_t(W / std::max(1, min_w)) + 1);
  // Each digit more must raise the product of confidences by e^0.2 (22%): a sliver of a stroke
  // reads as a confident 1, and without a price per digit such slivers would be cut off freely.
  // A piece shaped like a fragment (fragment_like) pays kFragmentPenalty too, and a chip too
  // short to be a digit is not read at all: it can be dropped, for kChipPenalty (the detached
  // tail of a 6 reads as a confident 7, and would otherwise have to go somewhere).
  std::vector<char> fragment(crops.size(), 0), chip(crops.size(), 0), wide(crops.size(), 0);
  if (median_h > 0.0f) {
    for (size_t i = 0; i < crops.size(); ++i) {
      const Box& b = crops[i].box;
      // A cut-out narrower than 0.12 digit heights is a sliver of a curve (the side of a 0), not
      // a 1: the thinnest 1s of our sets are 0.16 of their row's height wide.
      fragment[i] = fragment_like(b.h * m.scale, b.w * m.scale, median_h) ||
                    b.w * m.scale < 0.12 * median_h;
      chip[i] = chip_like(b.h * m.scale, median_h);
      // Wider than 1.35 digit heights: two digits, however surely the model reads them as one
      // (a 0 against a 2 reads as a confident 2). The widest single digits of our sets are 1.3.
      wide[i] = b.w * m.scale > 1.35 * median_h;
    }
    const int whole_piece = piece_index[K - 1];  // cuts 0 .. K-1: the group uncut
    if (whole_piece >= 0) fragment[size_t(whole_piece)] = chip[size_t(whole_piece)] = 0;
  }
  constexpr double kNone = -1e300;
  // Two states per (k, j): [0] the piece ending at cut j was read (or j is the start), [1] it was
  // a chip dropped. A chip may not follow a dropped chip: a run of them is the piece that spans
  // them, dropped once if it is itself a chip; else a 1 sliced into two short chips would vanish
  // for the price of two.
  struct Step {
    size_t from = 0;     // the cut before the last piece
    int from_state = 0;  // the state at that cut
  };
  std::vector<std::vector<std::array<double, 2>>> best(
      n_max + 1, std::vector<std::array<double, 2>>(K, {kNone, kNone}));
  std::vector<std::vector<std::array<Step, 2>>> back(n_max + 1,
                                                     std::vector<std::array<Step, 2>>(K));
  best[0][0][0] = 0.0;
  for (size_t k = 0; k <= n_max; ++k) {
    for (size_t j = 1; j < K; ++j) {
      for (size_t i = 0; i < j; ++i) {
        const int p = piece_index[i * K + j];
        if (p < 0) continue;
        if (chip[size_t(p)]) {
          if (best[k][i][0] == kNone) continue;
          const double score = best[k][i][0] - kChipPenalty;
          if (score > best[k][j][1]) best[k][j][1] = score, back[k][j][1] = {i, 0};
          continue;
        }
        if (k == 0) continue;
        const int s = best[k - 1][i][1] > best[k - 1][i][0] ? 1 : 0;
        if (best[k - 1][i][size_t(s)] == kNone) continue;
        const double score =
            best[k - 1][i][size_t(s)] + std::log(std::clamp(double(conf[size_t(p)]), 1e-6, 1.0)) -
            (fragment[size_t(p)] ? kFragmentPenalty : 0.0) - (wide[size_t(p)] ? kWidePenalty : 0.0);
        if (score > best[k][j][0]) best[k][j][0] = score, back[k][j][0] = {i, s};
      }
    }
  }
  size_t best_k = 0;
  int best_state = 0;
  double best_score = kNone;
  for (size_t k = 1; k <= n_max; ++k) {
    for (int st : {0, 1}) {
      if (best[k][K - 1][size_t(st)] == kNone) continue;
      const double score = best[k][K - 1][size_t(st)] - kPiecePenalty * double(k);
      if (score > best_score) best_score = score, best_k = k, best_state = st;
    }
  }
  if (best_k == 0) return {};
  std::vector<std::pair<size_t, size_t>> spans;  // each digit's cuts (i, j), in cut order
  for (size_t k = best_k, j = K - 1; j > 0;) {
    const Step step = back[k][j][size_t(best_state)];
    if (best_state == 0) spans.emplace_back(step.from, j), --k;
    j = step.from;
    best_state = step.from_state;
  }
  std::reverse(spans.begin(), spans.end());
  std::vector<DigitCrop> out;
  for (const auto& [i, j] : spans) out.push_back(crops[size_t(piece_index[i * K + j])]);
  // Two digits cut from one group, nothing dropped between them: the pair reader reads them as
  // one image, which keeps what a cut takes from one digit and gives the other. Its reading wins
  // when it is sure (pair_apply). In a longer chain each neighbouring pair is read; a digit takes
  // the surest reading it is part of.
  if (read_pair && out.size() >= 2) {
    std::vector<PairCrop> pcs;
    std::vector<size_t> at;  // pcs[k] holds digits at[k] and at[k] + 1
    for (size_t t = 0; t + 1 < out.size(); ++t) {
      if (spans[t].second != spans[t + 1].first) continue;
      std::optional<PairCrop> pc =
          pair_crop(m, v, seams[order[spans[t].first]], seams[order[spans[t + 1].second]]);
      if (pc) pcs.push_back(*pc), at.push_back(t);
    }
    if (!pcs.empty()) {
      const std::vector<float> p = read_pair(pcs);
      if (p.size() != pcs.size() * size_t(kPairClasses)) {
        throw std::invalid_argument("number_segment: the pair reader returned " +
                                    std::to_string(p.size()) + " probabilities for " +
                                    std::to_string(pcs.size()) + " crops");
      }
      std::vector<float> surest(out.size(), 0.0f);
      for (size_t k = 0; k < pcs.size(); ++k)
        pair_apply(p.data() + k * kPairClasses, out[at[k]], out[at[k] + 1], surest[at[k]],
                   surest[at[k] + 1]);
    }
  }
  return out;
}

// Dark photo corners, vignetting and the edges of hard shadows can survive as "ink" that runs into
// the frame: blobs far thicker than any stroke, or strips hugging an edge. When a component of
// some size lies clear of the frame, such frame-touching pieces are not part of the writing and
// are dropped. (Half the widest width, the largest distance to the background, tells a blob from
// a stroke; a strip or a corner's L keeps most of its pixels within 12% of the image's side from
// the frame.)
void drop_frame_blobs(InkMap& m) {
  if (m.components.empty()) return;
  const cv::Size size = m.labels.size();
  auto touches = [&](const cv::Rect& b) {
    return b.x <= 0 || b.y <= 0 || b.x + b.width >= size.width || b.y + b.height >= size.height;
  };
  auto half_width = [&](const InkComponent& c) {
    cv::Mat mine = m.labels(c.box) == c.label, dist;
    cv::copyMakeBorder(mine, mine, 1, 1, 1, 1, cv::BORDER_CONSTANT, 0);
    cv::distanceTransform(mine, dist, cv::DIST_L2, cv::DIST_MASK_3);
    double mx = 0;
    cv::minMaxLoc(dist, nullptr, &mx);
    return mx;
  };
  // Most of the component's pixels within the band along the frame: a strip along one edge, or
  // an L or U around a corner (a vignette), however far its box reaches.
  const int band_x = int(0.12 * size.width), band_y = int(0.12 * size.height);
  auto hugs_frame = [&](const InkComponent& c) {
    int in_band = 0;
    for (int y = c.box.y; y < c.box.y + c.box.height; ++y) {
      const int* lab = m.labels.ptr<int>(y);
      const bool row_in = y < band_y || y >= size.height - band_y;
      for (int x = c.box.x; x < c.box.x + c.box.width; ++x) {
        if (lab[x] == c.label && (row_in || x < band_x || x >= size.width - band_x)) ++in_band;
      }
    }
    return in_band >= 0.8 * c.area;
  };
  auto drop_if = [&](const std::function<bool(const InkComponent&)>& drop) {
    m.components.erase(std::remove_if(m.components.begin(), m.components.end(), drop),
                       m.components.end());
  };
  // Only pieces that touch the frame are ever dropped: with none, there is nothing to weigh (and
  // the distance transforms below are most of this function's cost on a clean crop).
  if (std::none_of(m.components.begin(), m.components.end(),
                   [&](const InkComponent& c) { return touches(c.box); }))
    return;
  int largest_inner = 0;
  for (const InkComponent& c : m.components)
    if (!touches(c.box)) largest_inner = std::max(largest_inner, c.area);
  if (largest_inner < 8.0f * m.stroke_width * m.stroke_width) {
    // Nothing of a digit's size clear of the frame. Small pieces that hug it are where a hard
    // shadow's edge or a vignette meets the frame, not writing; a digit that touches the frame
    // spans more of it (even a 0 inscribed in the frame, whose ring lies mostly in the band).
    const double quarter = 0.25 * double(size.area());
    drop_if([&](const InkComponent& c) {
      return touches(c.box) && double(c.box.area()) < quarter && hugs_frame(c);
    });
    return;
  }
  double ref = 0;
  for (const InkComponent& c : m.components)
    if (!touches(c.box) && c.area >= largest_inner / 4) ref = std::max(ref, half_width(c));
  drop_if([&](const InkComponent& c) {
    return touches(c.box) && (hugs_frame(c) || half_width(c) > 2.2 * ref);
  });
}

// A box drawn around the writing (an amount box, a form's field): a piece whose pixels all lie
// along the four sides of the smallest (turned) rectangle around it, each side drawn along most
// of its length, with other ink inside it (at least a tenth of its own). Every test of ink takes it for writing: it
// joins the digits into one group and becomes the crop. It is dropped; a box that touches a
// digit is one piece with it and is left (the digit's strokes are not along the sides). A
// rectangular 0 holds no ink of its own.
void boxes_drop(InkMap& m) {
  if (m.components.size() < 2) return;
  std::vector<int> drop;
  for (const InkComponent& c : m.components) {
    const cv::Rect& b = c.box;
    if (b.width < 8 || b.height < 8) continue;
    // The smallest turned rectangle around the piece (a box on a row turned a few degrees).
    std::vector<cv::Point> pts;
    for (int y = b.y; y < b.y + b.height; ++y) {
      const int* lab = m.labels.ptr<int>(y);
      for (int x = b.x; x < b.x + b.width; ++x)
        if (lab[x] == c.label) pts.emplace_back(x, y);
    }
    const cv::RotatedRect r = cv::minAreaRect(pts);
    cv::Point2f corner[4];
    r.points(corner);
    const std::vector<cv::Point2f> rect(corner, corner + 4);
    int held = 0;
    for (const InkComponent& o : m.components) {
      if (o.label == c.label) continue;
      const cv::Rect& q = o.box;
      bool in = true;
      for (const cv::Point2f p : {cv::Point2f(float(q.x), float(q.y)),
                                  cv::Point2f(float(q.br().x), float(q.y)),
                                  cv::Point2f(float(q.x), float(q.br().y)),
                                  cv::Point2f(float(q.br().x), float(q.br().y))})
        in = in && cv::pointPolygonTest(rect, p, false) > 0;
      if (in) held += o.area;
    }
    if (held < c.area / 10) continue;
    // Pixels within d of a side, and how much of each side has them.
    const float w2 = r.size.width / 2, h2 = r.size.height / 2;
    const float d = std::max(3.0f, 0.12f * std::min(r.size.width, r.size.height));
    const float a = r.angle * float(CV_PI) / 180.0f, ca = std::cos(a), sa = std::sin(a);
    const size_t nu = size_t(std::ceil(2 * w2)) + 1, nv = size_t(std::ceil(2 * h2)) + 1;
    std::vector<uint8_t> top(nu, 0), bottom(nu, 0), left(nv, 0), right(nv, 0);
    int near_side = 0;
    for (const cv::Point& p : pts) {
      const float dx = float(p.x) - r.center.x, dy = float(p.y) - r.center.y;
      const float u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
      const size_t iu = size_t(std::clamp(u + w2, 0.0f, float(nu - 1)));
      const size_t iv = size_t(std::clamp(v + h2, 0.0f, float(nv - 1)));
      const bool t = v + h2 < d, bo = h2 - v < d, l = u + w2 < d, ri = w2 - u < d;
      near_side += t || bo || l || ri;
      if (t) top[iu] = 1;
      if (bo) bottom[iu] = 1;
      if (l) left[iv] = 1;
      if (ri) right[iv] = 1;
    }
    auto covered = [](const std::vector<uint8_t>& v) {
      return std::count(v.begin(), v.end(), 1) >= 0.7 * double(v.size());
    };
    if (near_side >= 0.9 * c.area && covered(top) && covered(bottom) && covered(left) &&
        covered(right))
      drop.push_back(c.label);
  }
  if (drop.empty()) return;
  // Out of every image of the map, as rules_drop does with lines.
  cv::Mat gone = cv::Mat::zeros(m.labels.size(), CV_8U);
  for (int l : drop) gone.setTo(255, m.labels == l);
  cv::Mat wide;
  cv::dilate(gone, wide, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  m.ink.setTo(0.0f, wide);
  m.mask.setTo(0, gone);
  m.labels.setTo(0, gone);
  m.components.erase(std::remove_if(m.components.begin(), m.components.end(),
                                    [&](const InkComponent& c) {
                                      return std::find(drop.begin(), drop.end(), c.label) !=
                                             drop.end();
                                    }),
                     m.components.end());
}

// Every kept component as one group: the whole ink of an image (m has components).
Group group_all(const InkMap& m) {
  Group all;
  all.box = m.components.front().box;
  for (const InkComponent& c : m.components) {
    all.box |= c.box;
    all.labels.push_back(c.label);
  }
  return all;
}

template <typename T>
T median_of(std::vector<T> v) {
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

DigitCrop digit_preprocess(const cv::Mat& image) {
  const SheetView sheet = sheet_view(image);
  InkMap m = ink_find(sheet.image);
  drop_frame_blobs(m);
  boxes_drop(m);
  if (m.components.empty()) throw NoInkError("no ink found in the image");
  const GroupView v = group_view(m, group_all(m));
  std::optional<DigitCrop> crop = piece_crop(m, v, 0, v.ext.width);
  if (!crop) throw NoInkError("no ink found in the image");
  crop->box = sheet.to_image(crop->box);
  return *crop;
}

PairCrop pair_preprocess(const cv::Mat& image) {
  InkMap m = ink_find(sheet_view(image).image);
  drop_frame_blobs(m);
  boxes_drop(m);
  if (m.components.empty()) throw NoInkError("no ink found in the image");
  const GroupView v = group_view(m, group_all(m));
  std::optional<PairCrop> crop =
      pair_crop(m, v, seam_straight(v, 0), seam_straight(v, v.ext.width));
  if (!crop) throw NoInkError("no ink found in the image");
  return *crop;
}

namespace {

// Separators between the digits of a number: points, commas and dashes. They are not digits, but
// an amount read without its point is another amount. A candidate is any piece of ink that is no
// part of a digit (the short marks number mode set aside, and specks too small for ink_find's
// floor: a written point is often under it) lying in the gap between two neighbouring digits,
// clear of both by 0.04 digit heights (a digit's loose bit lies against it). It
// must be solid ink (mean ink >= 0.5, filling a third of its box), at least 0.08 digit heights
// across: noise passes neither. A point or comma sits in the bottom third of the row, at most 0.4
// digit heights tall; a comma reaches below the digits' foot by 0.08 digit heights or more. A
// dash is at least twice as wide as tall, 0.2-0.9 digit heights wide, at mid-height. Image pixels.
void marks_find(const InkMap& m, const std::vector<Group>& digit_groups,
                std::vector<DigitCrop>& digits) {
  if (digits.size() < 2 || m.labels.empty()) return;
  double n_labels = 0;
  cv::minMaxLoc(m.labels, nullptr, &n_labels);
  struct Piece {
    int x0 = INT_MAX, y0 = INT_MAX, x1 = -1, y1 = -1, area = 0;
    double ink = 0;
  };
  std::vector<Piece> pieces(size_t(n_labels) + 1);
  for (int y = 0; y < m.labels.rows; ++y) {
    const int* lab = m.labels.ptr<int>(y);
    const float* ink = m.ink.ptr<float>(y);
    for (int x = 0; x < m.labels.cols; ++x) {
      if (lab[x] <= 0) continue;
      Piece& p = pieces[size_t(lab[x])];
      p.x0 = std::min(p.x0, x), p.x1 = std::max(p.x1, x);
      p.y0 = std::min(p.y0, y), p.y1 = std::max(p.y1, y);
      ++p.area;
      p.ink += ink[x];
    }
  }
  for (const Group& g : digit_groups)
    for (int l : g.labels) pieces[size_t(l)].area = 0;  // ink of a digit
  std::vector<int> tops, bottoms, heights;
  for (const DigitCrop& d : digits) {
    tops.push_back(d.box.y);
    bottoms.push_back(d.box.y + d.box.h);
    heights.push_back(d.box.h);
  }
  const double top = median_of(tops), foot = median_of(bottoms);
  const double h = std::max(1.0, double(median_of(std::move(heights))));
  const double row_h = std::max(1.0, foot - top);
  std::vector<double> best_size(digits.size(), 0.0);
  for (const Piece& p : pieces) {
    if (p.area == 0) continue;
    const Box b = box_to_image(cv::Rect(p.x0, p.y0, p.x1 - p.x0 + 1, p.y1 - p.y0 + 1), m);
    const int box_area = (p.x1 - p.x0 + 1) * (p.y1 - p.y0 + 1);
    if (p.ink < 0.5 * p.area || p.area * 3 < box_area) continue;  // faint or hairline
    if (std::max(b.w, b.h) < 0.08 * h) continue;                  // a speck
    // Between digits i and i + 1, clear of both.
    size_t i = 0;
    while (i + 1 < digits.size() && digits[i + 1].box.x < b.x + b.w) ++i;
    if (i + 1 >= digits.size()) continue;
    const Box& l = digits[i].box;
    const Box& r = digits[i + 1].box;
    const double clear = 0.04 * h;  // a separator is written apart; a digit's loose bit is not
    if (b.x < l.x + l.w + clear || b.x + b.w + clear > r.x) continue;
    const double cy = b.y + b.h / 2.0;
    char mark = 0;
    if (b.h <= 0.4 * h && b.w <= 0.4 * h && cy >= top + 0.67 * row_h) {
      mark = b.y + b.h >= foot + 0.08 * h ? ',' : '.';
    } else if (b.w >= 2 * b.h && b.w >= 0.2 * h && b.w <= 0.9 * h && cy > top + 0.3 * row_h &&
               cy < top + 0.75 * row_h) {
      mark = '-';
    }
    // The largest mark in a gap is the one reported.
    if (mark && b.w * b.h > best_size[i]) {
      best_size[i] = b.w * b.h;
      digits[i].mark_after = mark;
    }
  }
}

// The tilt of a row of writing, in degrees as cv::getRotationMatrix2D counts them: the turn
// (within 20 degrees) that makes the band holding the middle 90% of the row's ink thinnest. A
// number photographed askew leans its digits on each other and lifts one end of the row; read
// level, it splits as a level one does (at 12 degrees our numbers went 94% -> 80% without this).
// 0 unless the row is clearly one: the turned band at most 0.85 of the level one, the row at
// least 1.2 times longer than the band is high (a single slanted 1 turned towards the horizontal
// also thins, but is no row), and a turn of 3 degrees or more (smaller ones, within what every
// row of our level sets has, changed nothing for the better there).
double row_tilt(const InkMap& m) {
  if (m.components.empty()) return 0.0;
  int max_label = 0;
  size_t area = 0;
  for (const InkComponent& c : m.components) {
    max_label = std::max(max_label, c.label);
    area += size_t(c.area);
  }
  std::vector<uint8_t> kept(size_t(max_label) + 1, 0);
  for (const InkComponent& c : m.components) kept[size_t(c.label)] = 1;
  // At most about 4000 of the ink's pixels, evenly taken.
  const size_t step = std::max<size_t>(1, area / 4000);
  std::vector<cv::Point2f> pts;
  size_t seen = 0;
  for (int y = 0; y < m.labels.rows; ++y) {
    const int* lab = m.labels.ptr<int>(y);
    for (int x = 0; x < m.labels.cols; ++x) {
      if (lab[x] > 0 && lab[x] <= max_label && kept[size_t(lab[x])] && seen++ % step == 0)
        pts.emplace_back(float(x), float(y));
    }
  }
  if (pts.size() < 20) return 0.0;
  std::vector<float> v(pts.size());
  // The 5% .. 95% spread of the points' coordinate across (or along) the row turned by deg.
  auto spread = [&](double deg, bool along) {
    const double a = deg * CV_PI / 180.0, c = std::cos(a), s = std::sin(a);
    for (size_t i = 0; i < pts.size(); ++i)
      v[i] = float(along ? c * pts[i].x + s * pts[i].y : c * pts[i].y - s * pts[i].x);
    const size_t lo = v.size() / 20, hi = v.size() - 1 - v.size() / 20;
    std::nth_element(v.begin(), v.begin() + long(hi), v.end());
    const float top = v[hi];
    std::nth_element(v.begin(), v.begin() + long(lo), v.begin() + long(hi));
    return double(top - v[lo]);
  };
  double best = 0.0, best_band = spread(0.0, false);
  const double level_band = best_band;
  for (double deg = -20.0; deg <= 20.0; deg += 1.0) {
    const double b = spread(deg, false);
    if (b < best_band) best_band = b, best = deg;
  }
  const double coarse = best;
  for (double deg = coarse - 0.75; deg <= coarse + 0.75; deg += 0.25) {
    const double b = spread(deg, false);
    if (b < best_band) best_band = b, best = deg;
  }
  if (std::abs(best) < 3.0 || best_band > 0.85 * level_band || spread(best, true) < 1.2 * best_band)
    return 0.0;
  return best;
}

// Turns the ink map by deg about its centre (cv::getRotationMatrix2D's sense), growing the frame
// to hold every corner. The soft ink is interpolated, the labels taken from the nearest pixel
// (a label is a value, so a thin stroke's pixels keep their component even where the turn
// breaks their chain); the kept components are measured again. Returns the affine transform from
// the turned working frame back to the original one.
cv::Mat ink_rotate(InkMap& m, double deg) {
  const cv::Size size = m.ink.size();
  cv::Mat fwd =
      cv::getRotationMatrix2D(cv::Point2f(size.width / 2.0f, size.height / 2.0f), deg, 1.0);
  const cv::Rect2f bound = cv::RotatedRect(cv::Point2f(size.width / 2.0f, size.height / 2.0f),
                                           cv::Size2f(size), float(-deg))
                               .boundingRect2f();
  fwd.at<double>(0, 2) -= bound.x;
  fwd.at<double>(1, 2) -= bound.y;
  const cv::Size out(int(std::ceil(bound.width)), int(std::ceil(bound.height)));
  cv::Mat ink, labels_f, labels;
  cv::warpAffine(m.ink, ink, fwd, out, cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
  m.labels.convertTo(labels_f, CV_32F);  // exact: labels stay far below 2^24
  cv::warpAffine(labels_f, labels_f, fwd, out, cv::INTER_NEAREST, cv::BORDER_CONSTANT, 0);
  labels_f.convertTo(labels, CV_32S);
  m.ink = ink;
  m.labels = labels;
  int max_label = 0;
  for (const InkComponent& c : m.components) max_label = std::max(max_label, c.label);
  std::vector<int> slot(size_t(max_label) + 1, -1);
  for (size_t i = 0; i < m.components.size(); ++i) slot[size_t(m.components[i].label)] = int(i);
  std::vector<cv::Point> lo(m.components.size(), cv::Point(INT_MAX, INT_MAX)),
      hi(m.components.size(), cv::Point(-1, -1));
  std::vector<int> count(m.components.size(), 0);
  m.mask = cv::Mat::zeros(out, CV_8U);
  for (int y = 0; y < out.height; ++y) {
    const int* lab = m.labels.ptr<int>(y);
    uint8_t* mk = m.mask.ptr<uint8_t>(y);
    for (int x = 0; x < out.width; ++x) {
      if (lab[x] <= 0 || lab[x] > max_label || slot[size_t(lab[x])] < 0) continue;
      const size_t i = size_t(slot[size_t(lab[x])]);
      mk[x] = 255;
      ++count[i];
      lo[i] = cv::Point(std::min(lo[i].x, x), std::min(lo[i].y, y));
      hi[i] = cv::Point(std::max(hi[i].x, x), std::max(hi[i].y, y));
    }
  }
  std::vector<InkComponent> kept;
  for (size_t i = 0; i < m.components.size(); ++i) {
    if (count[i] == 0) continue;
    InkComponent c = m.components[i];
    c.area = count[i];
    c.box = cv::Rect(lo[i], hi[i] + cv::Point(1, 1));
    kept.push_back(c);
  }
  m.components = std::move(kept);
  m.image_size =
      cv::Size(int(std::ceil(out.width / m.scale)), int(std::ceil(out.height / m.scale)));
  cv::Mat back;
  cv::invertAffineTransform(fwd, back);
  return back;
}

// Underlines and the printed line of a form field: a stroke running level under (or through the
// feet of) the digits, longer than any stroke of a digit can be (1.6 digit heights; the widest
// digits are 1.3 wide). Left in, it joins the digits it touches into one piece and passes for a
// wide digit of its own. It is looked for along the slope at which the ink holds its longest
// run (a thin line a few degrees askew is no long run of any one row), then followed column by
// column; its pixels are taken out of the ink, except where the column's run of ink is thicker
// than the line (a foot resting on it, a stem crossing it), and the pieces are counted again.
// Runs thicker than 0.3 digit heights on average, or sloping more than 1 in 10, are no line and
// are kept; so is a band of runs with more than 5% of the ink below it (and below as much again:
// the rest of a line whose runs are shorter), where two digits whose bars touch make a long run
// too, at mid-height. Digit heights: the median height of the pieces that
// are not themselves wide and thin, nor under half the tallest of those (fragments); with none
// such (the line joins every digit), the pieces' own.
void rules_drop(InkMap& m) {
  if (m.components.empty()) return;
  int tallest = 0;
  for (const InkComponent& c : m.components)
    if (c.box.width < 3 * c.box.height) tallest = std::max(tallest, c.box.height);
  std::vector<int> heights;
  for (const InkComponent& c : m.components)
    if (c.box.width < 3 * c.box.height && 2 * c.box.height >= tallest)
      heights.push_back(c.box.height);
  if (heights.empty()) {  // one wide piece: the line with every digit on it
    for (const InkComponent& c : m.components) heights.push_back(c.box.height);
  }
  std::nth_element(heights.begin(), heights.begin() + long(heights.size() / 2), heights.end());
  const int h = heights[heights.size() / 2];
  const int min_run = std::max(8, int(std::lround(1.6 * h)));
  const int max_thick = std::max(2, int(std::lround(0.3 * h)));
  // A line's run lies within one piece: without a piece that long there is none.
  if (std::none_of(m.components.begin(), m.components.end(),
                   [&](const InkComponent& c) { return c.box.width >= min_run; }))
    return;
  cv::Mat& mask = m.mask;
  // A line is found along the slope at which the mask holds its longest run (a thin line
  // photographed a few degrees askew crosses each row for only thickness / slope pixels): the
  // mask is sheared level for that slope (row y' of `level` is y - slope * x + shift of the
  // mask), the long runs are looked for there, and their pixels fitted in the mask's own rows.
  auto longest_run = [](const cv::Mat& mk) {
    int best = 0;
    for (int y = 0; y < mk.rows; ++y) {
      const uint8_t* r = mk.ptr<uint8_t>(y);
      for (int x = 0, run = 0; x < mk.cols; ++x)
        run = r[x] ? run + 1 : 0, best = std::max(best, run);
    }
    return best;
  };
  auto shear_level = [&](double s, int shift) {
    cv::Mat out;
    const cv::Matx23d a(1, 0, 0, -s, 1, shift);
    cv::warpAffine(mask, out, a, cv::Size(mask.cols, mask.rows + 2 * shift), cv::INTER_NEAREST,
                   cv::BORDER_CONSTANT, 0);
    return out;
  };
  constexpr double kMaxSlope = 0.1;  // 1 in 10: steeper is no line of the row
  const int shift = int(std::ceil(kMaxSlope * mask.cols)) + 1;
  double shear = 0.0;
  cv::Mat level = mask;  // the mask sheared level for `shear` (the mask itself for 0)
  int shear_run = longest_run(mask);
  if (shear_run < min_run) {
    for (int k = -10; k <= 10; ++k) {  // slopes of kMaxSlope / 10 apart
      if (k == 0) continue;
      const double s = kMaxSlope * k / 10.0;
      cv::Mat sheared = shear_level(s, shift);
      const int run = longest_run(sheared);
      if (run > shear_run) shear_run = run, shear = s, level = std::move(sheared);
    }
  }
  if (shear_run < min_run) return;
  const int dy = shear == 0.0 ? 0 : shift;  // mask row = level row + shear * x - dy
  auto mask_row = [&](int x, int yl) { return int(std::lround(yl + shear * x)) - dy; };
  // Rows of `level` holding a long run, and the run's columns.
  std::vector<std::vector<std::pair<int, int>>> runs(size_t(level.rows));
  for (int y = 0; y < level.rows; ++y) {
    const uint8_t* r = level.ptr<uint8_t>(y);
    for (int x = 0; x < level.cols;) {
      if (!r[x]) {
        ++x;
        continue;
      }
      int e = x;
      while (e < level.cols && r[e]) ++e;
      if (e - x >= min_run) runs[size_t(y)].emplace_back(x, e);
      x = e;
    }
  }
  const int ink_total = cv::countNonZero(mask);
  cv::Mat erase = cv::Mat::zeros(mask.size(), CV_8U);
  for (int y0 = 0; y0 < level.rows;) {
    if (runs[size_t(y0)].empty()) {
      ++y0;
      continue;
    }
    int y1 = y0;
    while (y1 < level.rows && !runs[size_t(y1)].empty()) ++y1;
    int below = 0;
    for (int y = y1 + std::max(2, y1 - y0); y < level.rows; ++y)
      below += cv::countNonZero(level.row(y));
    if (below <= ink_total / 20) {
      // The line through the runs' pixels (least squares, y on x, in the mask's rows) and its
      // mean thickness. Then it is followed both ways from its middle while ink lies near it (a
      // gap of 3 columns ends it), tracking the ink it finds (a line drawn by hand bends a
      // little). In each column the ink run on the line is erased when it is no thicker than the
      // line can be; a longer one is a digit's stroke crossing or resting on it, and is kept.
      double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
      int xa = mask.cols, xb = -1;
      for (int y = y0; y < y1; ++y)
        for (auto [a, b] : runs[size_t(y)]) {
          for (int x = a; x < b; ++x) {
            const double my = mask_row(x, y);
            n += 1, sx += x, sy += my, sxx += double(x) * x, sxy += double(x) * my;
          }
          xa = std::min(xa, a), xb = std::max(xb, b - 1);
        }
      const double den = n * sxx - sx * sx;
      const double slope = den > 0 ? (n * sxy - sx * sy) / den : 0.0;
      const double icept = (sy - slope * sx) / n;
      const double thick = n / std::max(1, xb - xa + 1);
      if (thick > max_thick || std::abs(slope) > kMaxSlope) {
        y0 = y1;
        continue;
      }
      const int reach = int(std::ceil(0.5 * thick)) + 2;      // how far from the centre
      const int max_len = int(std::lround(1.6 * thick)) + 2;  // the thickest line run
      // The run of ink in column x that covers or lies nearest to row c, within reach of it.
      auto run_at = [&](int x, double c) -> std::optional<std::pair<int, int>> {
        const int ci = int(std::lround(c));
        int best = -1;
        for (int d = 0; d <= reach && best < 0; ++d) {
          for (int y : {ci - d, ci + d})
            if (y >= 0 && y < mask.rows && mask.at<uint8_t>(y, x)) {
              best = y;
              break;
            }
        }
        if (best < 0) return std::nullopt;
        int a = best, b = best;
        while (a > 0 && mask.at<uint8_t>(a - 1, x)) --a;
        while (b + 1 < mask.rows && mask.at<uint8_t>(b + 1, x)) ++b;
        return std::pair<int, int>(a, b);
      };
      const int mid = (xa + xb) / 2;
      for (int dir : {1, -1}) {
        double drift = 0.0;  // the ink's centre less the fitted line's, as tracked
        for (int x = dir > 0 ? mid : mid - 1, gap = 0; x >= 0 && x < mask.cols && gap <= 2;
             x += dir) {
          const double c = icept + slope * x + drift;
          const auto r = run_at(x, c);
          if (!r) {
            if (x < xa || x > xb) ++gap;
            continue;
          }
          gap = 0;
          const auto [a, b] = *r;
          if (b - a + 1 > max_len) continue;  // a stroke crosses or rests here
          drift = 0.8 * drift + 0.2 * (0.5 * (a + b) - (icept + slope * x));
          for (int y = a; y <= b; ++y) erase.at<uint8_t>(y, x) = 255;
        }
      }
    }
    y0 = y1;
  }
  if (cv::countNonZero(erase) == 0) return;
  // The lines' pixels (and their soft edges, grown by the stroke) leave every image of the map.
  cv::Mat wide;
  cv::dilate(erase, wide, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
  m.ink.setTo(0.0f, wide);
  mask.setTo(0, erase);
  m.labels.setTo(0, erase);
  // Pieces counted again on the kept ink; specks stay labelled for the separators (marks_find).
  cv::Mat stats, kept_labels;
  const int n = ink_detail::components_label(mask, kept_labels, stats);
  std::vector<InkComponent> kept;
  int max_area = 0;
  for (int i = 1; i < n; ++i) max_area = std::max(max_area, stats.at<int>(i, cv::CC_STAT_AREA));
  const int offset = [&] {
    double top = 0;
    cv::minMaxLoc(m.labels, nullptr, &top);
    return int(top);
  }();
  std::vector<uint8_t> keep(size_t(std::max(n, 1)), 0);
  for (int i = 1; i < n; ++i) {
    InkComponent c;
    c.label = offset + i;
    c.area = stats.at<int>(i, cv::CC_STAT_AREA);
    c.box = cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    if (std::max(c.box.width, c.box.height) < 3 || c.area < 0.03 * max_area) continue;
    keep[size_t(i)] = 1;
    kept.push_back(c);
  }
  for (int y = 0; y < mask.rows; ++y) {
    const int* k = kept_labels.ptr<int>(y);
    int* lab = m.labels.ptr<int>(y);
    uint8_t* mk = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (k[x] > 0 && keep[size_t(k[x])]) {
        lab[x] = offset + k[x];
      } else if (mk[x]) {
        mk[x] = 0;  // a sliver the line left: ink still, no piece
      }
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const InkComponent& a, const InkComponent& b) { return a.area > b.area; });
  m.components = std::move(kept);
}

}  // namespace

std::vector<DigitCrop> number_segment(const cv::Mat& image, const Classifier& classify,
                                      const PairReader& read_pair) {
  const SheetView sheet = sheet_view(image);
  InkMap m = ink_find(sheet.image);
  drop_frame_blobs(m);
  boxes_drop(m);
  const cv::Size image_size = m.image_size;
  const double tilt = row_tilt(m);
  const cv::Mat back = tilt != 0.0 ? ink_rotate(m, tilt) : cv::Mat();
  rules_drop(m);
  if (m.components.empty()) throw NoInkError("no digits found in the image");
  std::vector<Group> groups = groups_merge(m);

  // Marks much shorter than the tallest digit (dashes, dots, smudges) are not digits; those that
  // lie against a digit and read as part of it (a 5's bar) join it first.
  int max_h = 0;
  for (const Group& g : groups) max_h = std::max(max_h, g.box.height);
  auto short_mark = [&](const Group& g) { return g.box.height < 0.35 * max_h; };
  std::sort(groups.begin(), groups.end(),
            [](const Group& a, const Group& b) { return a.box.x < b.box.x; });
  std::vector<int> heights;
  for (const Group& g : groups) {
    if (!short_mark(g)) heights.push_back(g.box.height);
  }
  if (heights.empty()) throw NoInkError("no digits found in the image");
  const float median_h = float(median_of(heights));
  fragments_join(m, groups, median_h, short_mark, classify);
  groups.erase(std::remove_if(groups.begin(), groups.end(), short_mark), groups.end());
  // Too wide for one digit: wider than 1.2 digit heights, or, when there are other digits to
  // compare with, than 1.75 of their typical width (catches touching narrow pairs).
  auto wide_for_height = [&](const Group& g) {
    return g.box.width > 1.2f * std::max(median_h, float(g.box.height));
  };
  std::vector<int> normal_widths;
  for (const Group& g : groups) {
    if (!wide_for_height(g)) normal_widths.push_back(g.box.width);
  }
  const float typical_width =
      normal_widths.empty() ? 0.6f * median_h : float(median_of(normal_widths));
  auto too_wide = [&](const Group& g) {
    return wide_for_height(g) || (normal_widths.size() >= 2 && g.box.width > 1.75f * typical_width);
  };

  // Each group whole, first. Without a classifier, only groups too wide for one digit are split.
  // With one, every group that could hold two digits (a 1 leaning on a 4 is no wider than a 0;
  // two touching 1s are a third as wide as they are tall) and that the classifier does not read
  // as one digit with confidence is searched for cuts.
  std::vector<std::optional<DigitCrop>> whole;
  std::vector<DigitCrop> whole_crops;
  for (const Group& g : groups) {
    const GroupView v = group_view(m, g);
    whole.push_back(piece_crop(m, v, 0, v.ext.width));
    if (whole.back()) whole_crops.push_back(*whole.back());
  }
  std::vector<float> whole_conf;
  if (classify && !whole_crops.empty()) {
    whole_conf = classify(whole_crops);
    if (whole_conf.size() != whole_crops.size()) {
      throw std::invalid_argument("number_segment: the classifier returned " +
                                  std::to_string(whole_conf.size()) + " confidences for " +
                                  std::to_string(whole_crops.size()) + " crops");
    }
  }
  constexpr float kSureWhole = 0.9f;
  // Narrower than 0.6 digit heights and read as one digit with some confidence: one digit, not
  // searched for cuts. Two digits side by side need room; in so little only two touching 1s fit
  // (or a 1 against a narrow digit), and the model, trained to doubt two digits in one crop,
  // reads most such pairs low (0.13 and 0.18 for two of the narrowest on the second draw, 0.65
  // digit heights wide; a third read 0.52). Cut, a narrow digit (a 4, a 5, a thick 1) splits along
  // its strokes into two confident 1s whose product beats the whole's unsure reading ("4493" was
  // read as "41193"). On the second draw of our sets (models/MODEL_CARD.md) every split of a
  // group this narrow and this surely read was wrong. A group too wide for the row's typical
  // digit (two touching 1s among 1s) is still searched.
  constexpr float kNarrowGroup = 0.6f, kNarrowSure = 0.25f;
  auto narrow_digit = [&](const Group& g, float conf) {
    return g.box.width < kNarrowGroup * std::max(median_h, float(g.box.height)) &&
           conf >= kNarrowSure;
  };
  std::vector<DigitCrop> out;
  for (size_t i = 0, k = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    if (!whole[i]) continue;
    const float conf = classify ? whole_conf[k] : 0.0f;
    ++k;
    const bool judge =
        classify ? g.box.width > 0.3f * float(g.box.height) &&
                       (too_wide(g) || (conf < kSureWhole && !narrow_digit(g, conf)))
                 : too_wide(g);
    if (judge) {
      for (DigitCrop& c : group_split(m, g, typical_width, median_h, classify, read_pair))
        out.push_back(c);
    } else {
      out.push_back(*whole[i]);
    }
  }
  if (out.empty()) throw NoInkError("no digits found in the image");
  marks_find(m, groups, out);
  for (DigitCrop& c : out) {
    if (!back.empty()) c.box = ink_detail::box_map(c.box, back, image_size, m.scale);
    c.box = sheet.to_image(c.box);
  }
  return out;
}

ReadMode read_mode_parse(const std::string& s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (lower == "digit") return ReadMode::Digit;
  if (lower == "number") return ReadMode::Number;
  throw FormatError("unknown mode '" + s + "': expected 'digit' or 'number'");
}

const char* read_mode_name(ReadMode mode) { return mode == ReadMode::Number ? "number" : "digit"; }

}  // namespace scrawl::vision
