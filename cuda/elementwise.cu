// Element-wise kernels (see elementwise.cuh). Grid-stride loops, one element per step: these
// are bandwidth-bound and small next to the convolutions, so plain loads suffice.
// Tested by tests/gpu/test_cuda_ops.cpp (relu, dropout, fill, gather) against the reference.
#include "cuda/elementwise.cuh"

#include "cuda/common.cuh"
#include "host/dropout_hash.h"

namespace scrawl::cuda {
namespace {

__global__ void fill_kernel(float* dst, float value, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

__global__ void relu_forward_kernel(size_t count, const float* x, float* y) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(size_t count, const float* y, const float* dy, float* dx) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void bias_act_kernel(size_t total, int c, size_t inner, const float* b, bool relu,
                                float* y) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total;
       i += size_t(gridDim.x) * blockDim.x) {
    float v = y[i] + b[(i / inner) % c];
    y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;  // the reference's ReLU, NaN included
  }
}

__global__ void dropout_kernel(size_t count, float rate, float scale, uint64_t seed,
                               const uint64_t* seed_delta, const float* x, float* y) {
  const uint64_t s = seed + (seed_delta ? *seed_delta : 0);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    y[i] = dropout_hash_uniform(s, i) >= rate ? x[i] * scale : 0.0f;
}

__global__ void gather_rows_kernel(size_t rows, size_t row_len, const float* src, const float* idx,
                                   float* dst) {
  const size_t total = rows * row_len;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < total;
       i += size_t(gridDim.x) * blockDim.x) {
    const size_t r = i / row_len, j = i - r * row_len;
    dst[i] = src[static_cast<size_t>(idx[r]) * row_len + j];
  }
}

}  // namespace

void fill(float* dst, float value, size_t count, cudaStream_t stream) {
  if (count == 0) return;
  fill_kernel<<<grid_for(count), kBlock, 0, stream>>>(dst, value, count);
  CUDA_LAUNCH_CHECK();
}

void relu_forward(size_t count, const float* x, float* y, cudaStream_t stream) {
  if (count == 0) return;
  relu_forward_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, x, y);
  CUDA_LAUNCH_CHECK();
}

void relu_backward(size_t count, const float* y, const float* dy, float* dx, cudaStream_t stream) {
  if (count == 0) return;
  relu_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, y, dy, dx);
  CUDA_LAUNCH_CHECK();
}

void bias_act(int n, int c, size_t inner, const float* b, bool relu, float* y,
              cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n) * c * inner;
  if (total == 0) return;
  if (!b && !relu) return;
  if (!b) {
    relu_forward(total, y, y, stream);
    return;
  }
  bias_act_kernel<<<grid_for(total), kBlock, 0, stream>>>(total, c, inner, b, relu, y);
  CUDA_LAUNCH_CHECK();
}

void dropout(size_t count, float rate, uint64_t seed, const uint64_t* seed_delta, const float* x,
             float* y, cudaStream_t stream) {
  if (count == 0) return;
  // The same float scale as the reference, so kept elements match bit for bit.
  const float scale = 1.0f / (1.0f - rate);
  dropout_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, rate, scale, seed, seed_delta, x,
                                                         y);
  CUDA_LAUNCH_CHECK();
}

void gather_rows(size_t rows, size_t row_len, const float* src, const float* idx, float* dst,
                 cudaStream_t stream) {
  if (rows == 0 || row_len == 0) return;
  gather_rows_kernel<<<grid_for(rows * row_len), kBlock, 0, stream>>>(rows, row_len, src, idx, dst);
  CUDA_LAUNCH_CHECK();
}

}  // namespace scrawl::cuda
