// Row-wise softmax, and softmax fused with mean cross-entropy and its gradient, accumulating
// [loss sum, correct count] on the device so an epoch needs no host round trip.
// Tested by tests/gpu/test_cuda_ops.cpp against the reference (values, gradient, stats).
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

namespace scrawl::cuda {

// logits (N,CLASSES), probs (N,CLASSES)
void softmax_forward(int n, int classes, const float* logits, float* probs, cudaStream_t stream);

// Floats of scratch softmax_xent needs for n rows.
inline size_t softmax_xent_workspace(int n) { return 2 * static_cast<size_t>(n > 0 ? n : 0); }

// dlogits (N,CLASSES) = (softmax(logits) - onehot(labels)) / N; labels (N) class indices as
// floats; stats (2) += [sum of -log softmax[label], count of argmax == label]. A label outside
// [0, CLASSES) gives a NaN loss, so a bad dataset cannot train silently.
void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                  float* stats, float* workspace, cudaStream_t stream);

}  // namespace scrawl::cuda
