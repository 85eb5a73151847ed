// Training samples made by number mode's own splitter: rows of MNIST training digits, some of
// them touching, read as number mode reads a number, and every crop the splitter asked the
// classifier about, labelled by what it holds. A model trained on them learns what the splitter's
// good and bad cuts look like (the outlier samples of host/dataset.h imitate them; these are them).
// Tested by tests/unit/test_vision.cpp (CutSamples.*).
#pragma once

#include <cstdint>

#include "host/dataset.h"
#include "host/vision/preprocess.h"

namespace scrawl::vision {

// The label of a crop that is no digit (a bad cut: two digits, part of one, one with a large
// piece of its neighbour); BatchLoader trains it towards a uniform answer (kOutlierLabel).
constexpr uint8_t kCutOutlier = kOutlierByte;

struct CutSampleStats {
  int rows = 0;       // rows rendered and read
  int asked = 0;      // crops the splitter asked about
  int digits = 0;     // kept as digits
  int outliers = 0;   // kept as outliers
  int skipped = 0;    // neither (a crop half on a digit), or outliers over the per-row cap
};

// Renders `rows` rows of 2-4 digits drawn from `digits` (its images are white ink on black,
// 28x28; pass the training set) on grey paper, 60% of the rows with touching digits (ink 0-4%
// of the digit height apart, or crossing that much), heights 28-64 px, each digit scaled by
// 0.85-1.15; reads each with number_segment(image, classify), and keeps the crops classify was
// asked about (once per box):
// - a crop that holds 60% or more of two digits' ink boxes is a pair: not a digit;
// - one whose box matches one digit's ink box (intersection over union >= 0.85) is that digit;
// - one that matches none (every IoU under 0.5) and is no chip (at least 0.4 digit heights
//   tall) is a bad cut: not a digit;
// - the rest are skipped. Of the pairs and of the bad cuts, at most `outliers_per_row` each are
//   kept per row, those classify read most surely first (they are the ones that mislead).
// Deterministic in `seed` and in what classify answers. Returns the kept crops as a Dataset
// (28x28, 0..255) with labels 0..9 or kCutOutlier. Error without a classifier or for digits
// that are not 28x28.
Dataset cut_samples(const Dataset& digits, int rows, uint64_t seed, const Classifier& classify,
                    int outliers_per_row = 2, CutSampleStats* stats = nullptr);

// The pair reader's training samples: `count` pairs of touching digits drawn from `digits` (28x28,
// white on black: pass the training set), rendered as cut_samples renders its rows, and read
// whole by pair_preprocess: (28, 56) images, 0..255, labelled 10 a + b (a on the left).
// Deterministic in `seed`.
Dataset pair_samples(const Dataset& digits, int count, uint64_t seed);

}  // namespace scrawl::vision
