// Max pooling, forward and backward, first maximum in row-major window order winning ties
// on every backend. Tested by tests/gpu/test_cuda_ops.cpp against the reference.
#pragma once

#include <cuda_runtime_api.h>

#include "host/backend.h"

namespace scrawl::cuda {

// x (N,C,H,W), y (N,C,OH,OW)
void maxpool_forward(const Pool2dDims& d, const float* x, float* y, cudaStream_t stream);

// dx (N,C,H,W): each dy goes to its window's first maximum; windows may overlap.
void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy, float* dx,
                      cudaStream_t stream);

}  // namespace scrawl::cuda
