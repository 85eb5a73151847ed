// Inference for the report's network shape, conv2d -> relu -> flatten -> dense (the seed
// network), as one fused CPU pass that skips the background. A convolution window that covers
// only zero input gives relu(bias) whatever the filter, so its share of every logit is fixed by
// the weights: it is summed once, when the plan is made. A forward pass then computes the
// convolution only where its window touches ink and adds that position's change to the logits
// at once; the (N, K, OH, OW) activation map is never written. A centred 28x28 digit leaves
// about two thirds of the seed network's 676 windows blank.
// Tested by tests/unit/test_conv_dense_plan.cpp (against Network::forward on ReferenceBackend).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "host/backend.h"
#include "host/network.h"

namespace scrawl {

class ConvDensePlan {
 public:
  // A plan over a snapshot of `net`'s weights (later changes to them are not seen), or nullptr
  // when its layers are not exactly conv2d, relu, flatten, dense. threads: OpenMP threads for
  // batches of more than 16 images (<= 0: every core OpenMP reports).
  static std::unique_ptr<ConvDensePlan> create(const Network& net, int threads = 1);

  // x (N, C, H, W) host floats -> logits (N, OUT) or probabilities (N, OUT) (softmax).
  void logits(const float* x, int n, float* logits) const;
  void predict(const float* x, int n, float* probs) const;

  int outputs() const { return out_; }

 private:
  ConvDensePlan() = default;
  // Images [lo, hi) of x into logits; at most 64 of them.
  void logits_range(const float* x, int lo, int hi, float* logits) const;
  void inked_map(const float* x, uint8_t* inked, std::vector<uint8_t>& rows) const;

  Conv2dDims d_;       // n unused
  int kv_ = 0;         // filters rounded up to whole 8-float vectors, in vectors
  int crs_ = 0;        // window size C*R*S
  int positions_ = 0;  // OH*OW
  int out_ = 0;        // dense outputs
  int threads_ = 1;
  std::vector<float> conv_w_;      // (CRS, KV*8): filter j of every channel, padded with zeros
  std::vector<float> conv_b_;      // (KV*8)
  std::vector<float> blank_;       // (KV*8) relu(bias): a blank window's activation
  std::vector<float> dense_w_;     // (P, OUT, KV*8): position-major, zero-padded channels
  std::vector<float> base_;        // (OUT) dense bias + every window blank, summed in double
  std::vector<int> window_;        // (P, CRS) input offset within an image, or -1 for padding
  std::unique_ptr<Backend> rows_;  // the reference backend, for its softmax
};

}  // namespace scrawl
