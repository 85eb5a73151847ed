// Element-wise kernels: fill, ReLU forward/backward, bias (+ ReLU) over channels, inverted
// dropout with the shared hash of host/dropout_hash.h, and the row gather that cuts batches
// out of a device-resident dataset. Tested by tests/gpu/test_cuda_ops.cpp against the reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace scrawl::cuda {

void fill(float* dst, float value, size_t count, cudaStream_t stream);

// y = max(x, 0); x == y is allowed (in-place layers).
void relu_forward(size_t count, const float* x, float* y, cudaStream_t stream);
// dx = dy where y > 0, else 0; dx == dy is allowed.
void relu_backward(size_t count, const float* y, const float* dy, float* dx, cudaStream_t stream);

// y (N, C, INNER) += b (C), then ReLU when `relu`: the epilogue of cuBLAS and cuDNN outputs.
void bias_act(int n, int c, size_t inner, const float* b, bool relu, float* y, cudaStream_t stream);

// y = x / (1 - rate) where dropout_hash_uniform(seed + *seed_delta, i) >= rate, else 0.
// seed_delta is a device scalar a replayed CUDA Graph reads (nullptr: 0). x == y is allowed.
void dropout(size_t count, float rate, uint64_t seed, const uint64_t* seed_delta, const float* x,
             float* y, cudaStream_t stream);

// dst row r = src row idx[r].  src (ROWS_SRC, ROW_LEN), idx (ROWS) row numbers stored as
// floats (exact below 2^24), dst (ROWS, ROW_LEN).
void gather_rows(size_t rows, size_t row_len, const float* src, const float* idx, float* dst,
                 cudaStream_t stream);

}  // namespace scrawl::cuda
