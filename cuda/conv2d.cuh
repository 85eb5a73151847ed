// Hand-written convolution kernels (direct, no im2col): forward with bias and optional ReLU
// fused, backward data, backward filter (split-K, deterministic) and the bias gradient.
// Tested by tests/gpu/test_cuda_ops.cpp against the reference on several geometries.
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

#include "host/backend.h"

namespace scrawl::cuda {

// y = conv(x, w) + b, then ReLU when `relu`.  x (N,C,H,W), w (K,C,R,S), b (K) or nullptr,
// y (N,K,OH,OW)
void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b, bool relu,
                    float* y, cudaStream_t stream);

// dx = conv_transpose(dy, w).  dy (N,K,OH,OW), w (K,C,R,S), dx (N,C,H,W)
void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w, float* dx,
                          cudaStream_t stream);

// Floats of scratch conv2d_backward_filter needs for these dims (0: none).
size_t conv2d_backward_filter_workspace(const Conv2dDims& d);

// dw = sum over n of dy * x.  x (N,C,H,W), dy (N,K,OH,OW), dw (K,C,R,S); `workspace` holds
// conv2d_backward_filter_workspace(d) floats. Does not touch the bias gradient.
void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                            float* workspace, cudaStream_t stream);

// db (K) = sum over (n, oh, ow) of dy (N,K,OH,OW). Shared by the custom and cuDNN paths.
void conv2d_backward_bias(const Conv2dDims& d, const float* dy, float* db, cudaStream_t stream);

}  // namespace scrawl::cuda
