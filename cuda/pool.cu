// Max pooling kernels (see pool.cuh). Backward is a gather, one thread per input element: it
// re-finds the argmax of every window that covers its element and sums the dy of those that
// chose it. No atomics, so overlapping windows stay deterministic, and no index buffer
// has to be kept between forward and backward. Tested by tests/gpu/test_cuda_ops.cpp.
#include "cuda/pool.cuh"

#include "cuda/common.cuh"

namespace scrawl::cuda {
namespace {

// Offset (r * W + s) of the first maximum of the window at (i, j) within plane `xp`.
// Starts from -inf and takes strictly greater values, exactly as the reference does.
__device__ __forceinline__ int window_argmax(const float* xp, int w, int i, int j, int size,
                                             int stride) {
  float best = -INFINITY;
  int arg = (i * stride) * w + j * stride;
  for (int r = 0; r < size; ++r)
    for (int s = 0; s < size; ++s) {
      const int off = (i * stride + r) * w + j * stride + s;
      const float v = xp[off];
      if (v > best) {
        best = v;
        arg = off;
      }
    }
  return arg;
}

__global__ void maxpool_forward_kernel(Pool2dDims d, int oh, int ow, size_t total,
                                       const float* __restrict__ x, float* __restrict__ y) {
  for (size_t o = blockIdx.x * size_t(blockDim.x) + threadIdx.x; o < total;
       o += size_t(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(o % ow);
    const int i = static_cast<int>((o / ow) % oh);
    const size_t plane = o / (static_cast<size_t>(oh) * ow);
    const float* xp = x + plane * d.h * d.w;
    // std::max(best, v) in the reference keeps `best` unless v > best: the same as here.
    float best = -INFINITY;
    for (int r = 0; r < d.size; ++r)
      for (int s = 0; s < d.size; ++s) {
        const float v = xp[(i * d.stride + r) * d.w + j * d.stride + s];
        best = v > best ? v : best;
      }
    y[o] = best;
  }
}

__global__ void maxpool_backward_kernel(Pool2dDims d, int oh, int ow, size_t total,
                                        const float* __restrict__ x, const float* __restrict__ dy,
                                        float* __restrict__ dx) {
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < total;
       e += size_t(gridDim.x) * blockDim.x) {
    const int ww = static_cast<int>(e % d.w);
    const int hh = static_cast<int>((e / d.w) % d.h);
    const size_t plane = e / (static_cast<size_t>(d.h) * d.w);
    const float* xp = x + plane * d.h * d.w;
    const float* dyp = dy + plane * oh * ow;
    const int self = hh * d.w + ww;
    // Windows i with i*stride <= hh < i*stride + size, clipped to [0, OH).
    const int i_lo = hh >= d.size ? (hh - d.size) / d.stride + 1 : 0;
    const int i_hi = min(hh / d.stride, oh - 1);
    const int j_lo = ww >= d.size ? (ww - d.size) / d.stride + 1 : 0;
    const int j_hi = min(ww / d.stride, ow - 1);
    float acc = 0.0f;
    for (int i = i_lo; i <= i_hi; ++i)
      for (int j = j_lo; j <= j_hi; ++j) {
        if (window_argmax(xp, d.w, i, j, d.size, d.stride) == self) acc += dyp[i * ow + j];
      }
    dx[e] = acc;
  }
}

}  // namespace

void maxpool_forward(const Pool2dDims& d, const float* x, float* y, cudaStream_t stream) {
  const int oh = d.out_h(), ow = d.out_w();
  if (d.n <= 0 || d.c <= 0 || oh <= 0 || ow <= 0) return;
  const size_t total = static_cast<size_t>(d.n) * d.c * oh * ow;
  maxpool_forward_kernel<<<grid_for(total), kBlock, 0, stream>>>(d, oh, ow, total, x, y);
  CUDA_LAUNCH_CHECK();
}

void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy, float* dx,
                      cudaStream_t stream) {
  const int oh = d.out_h(), ow = d.out_w();
  if (d.n <= 0 || d.c <= 0 || oh <= 0 || ow <= 0) return;
  const size_t total = static_cast<size_t>(d.n) * d.c * d.h * d.w;
  maxpool_backward_kernel<<<grid_for(total), kBlock, 0, stream>>>(d, oh, ow, total, x, dy, dx);
  CUDA_LAUNCH_CHECK();
}

}  // namespace scrawl::cuda
