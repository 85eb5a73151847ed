// A second look at digits the model is unsure of: test-time augmentation for the few crops
// whose best probability is below kSecondLookBelow. Such a crop is read again in eight slightly
// moved views (1 px shifts, +-8 degree turns, 0.9x and 1.1x sizes, all about its centre of
// mass), and its probabilities become the mean over the nine views. Sure crops (about 96% of
// the photos, 98% of the MNIST test set) are left as they were, so the cost is small.
// Used by `scrawl predict` and by the server's readings of images; not by `scrawl eval`, the
// KServe tensor route or number mode's search for cuts, which report or need the model alone.
// Tested by tests/unit/test_vision.cpp (SecondLook*); figures in models/MODEL_CARD.md.
#pragma once

#include <functional>

namespace scrawl::vision {

constexpr float kSecondLookBelow = 0.9f;
constexpr int kSecondLookViews = 8;  // views besides the crop itself

// The eight other views of one (28, 28) crop, written to out (8, 28, 28).
void second_look_views(const float* crop, float* out);

// The model: x (m, 28, 28) -> probs (m, 10).
using Infer = std::function<void(const float* x, int m, float* probs)>;

// x (n, 28, 28) with probs (n, 10) from a first pass. Rows below kSecondLookBelow get their
// second look through `infer`, in one call; probs is updated in place. Returns how many rows
// were looked at again.
int second_look(const float* x, int n, float* probs, const Infer& infer);

}  // namespace scrawl::vision
