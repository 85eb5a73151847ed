// Direct convolution kernels (see conv2d.cuh). Each thread of the forward and backward-data
// kernels owns one output pixel for a group of kGroup channels, so a loaded input value feeds
// kGroup FMAs and the weights, being the same address across a warp, are broadcast loads.
// The filter gradient is a reduction over N*OH*OW per tap: one block per (k, c), split over
// the batch when K*C alone would leave SMs idle, partial sums summed in a fixed order so the
// result is deterministic. Tested by tests/gpu/test_cuda_ops.cpp.
#include "cuda/conv2d.cuh"

#include <algorithm>

#include "cuda/common.cuh"

namespace scrawl::cuda {
namespace {

constexpr int kGroup = 8;            // output channels (forward) / input channels (backward data)
constexpr int kPixelThreads = 128;   // pixels per block in forward and backward data
constexpr int kReduceThreads = 256;  // filter and bias gradient reductions
constexpr int kReduceWarps = kReduceThreads / 32;

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// grid.x = N * tiles (tiles of kPixelThreads output pixels), grid.y = ceil(K / kGroup)
__global__ void __launch_bounds__(kPixelThreads)
    conv2d_forward_kernel(Conv2dDims d, int oh, int ow, int tiles, const float* __restrict__ x,
                          const float* __restrict__ w, const float* __restrict__ b, bool relu,
                          float* __restrict__ y) {
  const int n = blockIdx.x / tiles;
  const int p = (blockIdx.x % tiles) * kPixelThreads + threadIdx.x;
  if (p >= oh * ow) return;
  const int i = p / ow, j = p % ow;
  const int k0 = blockIdx.y * kGroup;
  const int groups = min(kGroup, d.k - k0);
  const int rs = d.r * d.s, crs = d.c * rs;
  const float* wk = w + static_cast<size_t>(k0) * crs;
  float acc[kGroup];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) acc[g] = 0.0f;
  for (int c = 0; c < d.c; ++c) {
    const float* xc = x + (static_cast<size_t>(n) * d.c + c) * d.h * d.w;
    for (int r = 0; r < d.r; ++r) {
      const int hi = i * d.stride - d.pad + r;
      if (hi < 0 || hi >= d.h) continue;
      for (int s = 0; s < d.s; ++s) {
        const int wi = j * d.stride - d.pad + s;
        if (wi < 0 || wi >= d.w) continue;
        const float xv = xc[hi * d.w + wi];
        const float* wt = wk + c * rs + r * d.s + s;
#pragma unroll
        for (int g = 0; g < kGroup; ++g)
          if (g < groups) acc[g] = fmaf(xv, wt[static_cast<size_t>(g) * crs], acc[g]);
      }
    }
  }
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    if (g >= groups) break;
    float v = acc[g] + (b ? b[k0 + g] : 0.0f);
    if (relu) v = v > 0.0f ? v : 0.0f;
    y[((static_cast<size_t>(n) * d.k + k0 + g) * oh + i) * ow + j] = v;
  }
}

// grid.x = N * tiles (tiles of kPixelThreads input pixels), grid.y = ceil(C / kGroup).
// dx(h, w) gathers every (oh, ow, r, s) with oh*stride - pad + r == h (same for w).
__global__ void __launch_bounds__(kPixelThreads)
    conv2d_backward_data_kernel(Conv2dDims d, int oh, int ow, int tiles,
                                const float* __restrict__ dy, const float* __restrict__ w,
                                float* __restrict__ dx) {
  const int n = blockIdx.x / tiles;
  const int p = (blockIdx.x % tiles) * kPixelThreads + threadIdx.x;
  if (p >= d.h * d.w) return;
  const int hh = p / d.w, ww = p % d.w;
  const int c0 = blockIdx.y * kGroup;
  const int groups = min(kGroup, d.c - c0);
  const int rs = d.r * d.s, crs = d.c * rs;
  float acc[kGroup];
#pragma unroll
  for (int g = 0; g < kGroup; ++g) acc[g] = 0.0f;
  for (int k = 0; k < d.k; ++k) {
    const float* dyk = dy + (static_cast<size_t>(n) * d.k + k) * oh * ow;
    const float* wk = w + static_cast<size_t>(k) * crs + static_cast<size_t>(c0) * rs;
    for (int r = 0; r < d.r; ++r) {
      const int t = hh + d.pad - r;
      if (t < 0 || t % d.stride != 0) continue;
      const int i = t / d.stride;
      if (i >= oh) continue;
      for (int s = 0; s < d.s; ++s) {
        const int u = ww + d.pad - s;
        if (u < 0 || u % d.stride != 0) continue;
        const int j = u / d.stride;
        if (j >= ow) continue;
        const float g_val = dyk[i * ow + j];
        const float* wt = wk + r * d.s + s;
#pragma unroll
        for (int g = 0; g < kGroup; ++g)
          if (g < groups) acc[g] = fmaf(g_val, wt[g * rs], acc[g]);
      }
    }
  }
#pragma unroll
  for (int g = 0; g < kGroup; ++g) {
    if (g >= groups) break;
    dx[((static_cast<size_t>(n) * d.c + c0 + g) * d.h + hh) * d.w + ww] = acc[g];
  }
}

// grid.x = K * C, grid.y = splits. Block (k, c, split) sums dy * x over its slice of the
// N*OH*OW positions for every tap (r, s) at once, held in registers: MAXR x MAXS bounds the
// filter size so the taps unroll into fixed registers. out: (splits, K, C, R, S).
template <int MAXR, int MAXS>
__global__ void __launch_bounds__(kReduceThreads)
    conv2d_backward_filter_kernel(Conv2dDims d, int oh, int ow, const float* __restrict__ x,
                                  const float* __restrict__ dy, float* __restrict__ out) {
  const int k = blockIdx.x / d.c, c = blockIdx.x % d.c;
  const int pq = oh * ow;
  const long long total = static_cast<long long>(d.n) * pq;
  const long long chunk = (total + gridDim.y - 1) / gridDim.y;
  const long long begin = blockIdx.y * chunk;
  const long long end = min(total, begin + chunk);
  float acc[MAXR * MAXS];
#pragma unroll
  for (int t = 0; t < MAXR * MAXS; ++t) acc[t] = 0.0f;
  for (long long idx = begin + threadIdx.x; idx < end; idx += kReduceThreads) {
    const int n = static_cast<int>(idx / pq), p = static_cast<int>(idx % pq);
    const int i = p / ow, j = p % ow;
    const float g = dy[(static_cast<size_t>(n) * d.k + k) * pq + p];
    const float* xc = x + (static_cast<size_t>(n) * d.c + c) * d.h * d.w;
#pragma unroll
    for (int r = 0; r < MAXR; ++r) {
      const int hi = i * d.stride - d.pad + r;
      if (r >= d.r || hi < 0 || hi >= d.h) continue;
#pragma unroll
      for (int s = 0; s < MAXS; ++s) {
        const int wi = j * d.stride - d.pad + s;
        if (s >= d.s || wi < 0 || wi >= d.w) continue;
        acc[r * MAXS + s] = fmaf(g, xc[hi * d.w + wi], acc[r * MAXS + s]);
      }
    }
  }
  // Warp sums, then the warps' partials summed in warp order: the same order every run.
  __shared__ float partial[MAXR * MAXS][kReduceWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int t = 0; t < MAXR * MAXS; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) partial[t][warp] = v;
  }
  __syncthreads();
  const int rs = d.r * d.s;
  float* o = out + static_cast<size_t>(blockIdx.y) * d.k * d.c * rs +
             (static_cast<size_t>(k) * d.c + c) * rs;
  for (int t = threadIdx.x; t < rs; t += kReduceThreads) {
    const int r = t / d.s, s = t % d.s;
    float sum = 0.0f;
    for (int q = 0; q < kReduceWarps; ++q) sum += partial[r * MAXS + s][q];
    o[t] = sum;
  }
}

// Filters larger than 7x7: one block per tap, no register tiling. Correct, not tuned.
__global__ void __launch_bounds__(kReduceThreads)
    conv2d_backward_filter_generic_kernel(Conv2dDims d, int oh, int ow, const float* __restrict__ x,
                                          const float* __restrict__ dy, float* __restrict__ dw) {
  const int rs = d.r * d.s;
  const int tap = blockIdx.x % rs, kc = blockIdx.x / rs;
  const int k = kc / d.c, c = kc % d.c, r = tap / d.s, s = tap % d.s;
  const int pq = oh * ow;
  const long long total = static_cast<long long>(d.n) * pq;
  float acc = 0.0f;
  for (long long idx = threadIdx.x; idx < total; idx += kReduceThreads) {
    const int n = static_cast<int>(idx / pq), p = static_cast<int>(idx % pq);
    const int hi = (p / ow) * d.stride - d.pad + r, wi = (p % ow) * d.stride - d.pad + s;
    if (hi < 0 || hi >= d.h || wi < 0 || wi >= d.w) continue;
    acc = fmaf(dy[(static_cast<size_t>(n) * d.k + k) * pq + p],
               x[((static_cast<size_t>(n) * d.c + c) * d.h + hi) * d.w + wi], acc);
  }
  __shared__ float partial[kReduceWarps];
  acc = warp_sum(acc);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int q = 0; q < kReduceWarps; ++q) sum += partial[q];
    dw[blockIdx.x] = sum;
  }
}

// dw[i] = sum over splits of part[split][i], in split order.
__global__ void sum_splits_kernel(size_t count, int splits, const float* __restrict__ part,
                                  float* __restrict__ dw) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (int q = 0; q < splits; ++q) sum += part[q * count + i];
    dw[i] = sum;
  }
}

// grid.x = K: db[k] = sum over n and pixels of dy[n, k, :].
__global__ void __launch_bounds__(kReduceThreads)
    bias_grad_kernel(int n_count, int k_count, int pq, const float* __restrict__ dy,
                     float* __restrict__ db) {
  const int k = blockIdx.x;
  const long long total = static_cast<long long>(n_count) * pq;
  float acc = 0.0f;
  for (long long idx = threadIdx.x; idx < total; idx += kReduceThreads) {
    const int n = static_cast<int>(idx / pq), p = static_cast<int>(idx % pq);
    acc += dy[(static_cast<size_t>(n) * k_count + k) * pq + p];
  }
  __shared__ float partial[kReduceWarps];
  acc = warp_sum(acc);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int q = 0; q < kReduceWarps; ++q) sum += partial[q];
    db[k] = sum;
  }
}

bool dims_empty(const Conv2dDims& d) {
  return d.n <= 0 || d.k <= 0 || d.c <= 0 || d.out_h() <= 0 || d.out_w() <= 0;
}

// Splits of the batch reduction in the filter gradient: enough blocks to fill the GPU
// (>= ~512) while each block keeps at least ~2048 positions to sum.
int filter_splits(const Conv2dDims& d) {
  if (d.r > 7 || d.s > 7) return 1;  // the generic kernel does not split
  const long long blocks = static_cast<long long>(d.k) * d.c;
  const long long total = static_cast<long long>(d.n) * d.out_h() * d.out_w();
  long long splits = (512 + blocks - 1) / blocks;
  splits = std::min(splits, std::max(1LL, total / 2048));
  splits = std::min(splits, 64LL);
  return static_cast<int>(std::max(1LL, splits));
}

template <int MAXR, int MAXS>
void launch_filter(const Conv2dDims& d, int splits, const float* x, const float* dy, float* out,
                   cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(d.k * d.c), static_cast<unsigned>(splits));
  conv2d_backward_filter_kernel<MAXR, MAXS>
      <<<grid, kReduceThreads, 0, stream>>>(d, d.out_h(), d.out_w(), x, dy, out);
  CUDA_LAUNCH_CHECK();
}

}  // namespace

void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b, bool relu,
                    float* y, cudaStream_t stream) {
  if (dims_empty(d)) return;
  const int oh = d.out_h(), ow = d.out_w();
  const int tiles = (oh * ow + kPixelThreads - 1) / kPixelThreads;
  const dim3 grid(static_cast<unsigned>(d.n * tiles),
                  static_cast<unsigned>((d.k + kGroup - 1) / kGroup));
  conv2d_forward_kernel<<<grid, kPixelThreads, 0, stream>>>(d, oh, ow, tiles, x, w, b, relu, y);
  CUDA_LAUNCH_CHECK();
}

void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w, float* dx,
                          cudaStream_t stream) {
  if (dims_empty(d)) return;
  const int tiles = (d.h * d.w + kPixelThreads - 1) / kPixelThreads;
  const dim3 grid(static_cast<unsigned>(d.n * tiles),
                  static_cast<unsigned>((d.c + kGroup - 1) / kGroup));
  conv2d_backward_data_kernel<<<grid, kPixelThreads, 0, stream>>>(d, d.out_h(), d.out_w(), tiles,
                                                                  dy, w, dx);
  CUDA_LAUNCH_CHECK();
}

size_t conv2d_backward_filter_workspace(const Conv2dDims& d) {
  if (dims_empty(d)) return 0;
  const int splits = filter_splits(d);
  return splits > 1 ? static_cast<size_t>(splits) * d.k * d.c * d.r * d.s : 0;
}

void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                            float* workspace, cudaStream_t stream) {
  if (dims_empty(d)) return;
  if (d.r > 7 || d.s > 7) {
    const unsigned blocks = static_cast<unsigned>(d.k * d.c * d.r * d.s);
    conv2d_backward_filter_generic_kernel<<<blocks, kReduceThreads, 0, stream>>>(
        d, d.out_h(), d.out_w(), x, dy, dw);
    CUDA_LAUNCH_CHECK();
    return;
  }
  const int splits = filter_splits(d);
  float* out = splits > 1 ? workspace : dw;
  if (splits > 1 && !workspace) throw Error("conv2d_backward_filter: missing workspace");
  // Three register tilings cover 1x1 to 7x7 without a template per filter size.
  if (d.r <= 3 && d.s <= 3)
    launch_filter<3, 3>(d, splits, x, dy, out, stream);
  else if (d.r <= 5 && d.s <= 5)
    launch_filter<5, 5>(d, splits, x, dy, out, stream);
  else
    launch_filter<7, 7>(d, splits, x, dy, out, stream);
  if (splits > 1) {
    const size_t count = static_cast<size_t>(d.k) * d.c * d.r * d.s;
    sum_splits_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, splits, workspace, dw);
    CUDA_LAUNCH_CHECK();
  }
}

void conv2d_backward_bias(const Conv2dDims& d, const float* dy, float* db, cudaStream_t stream) {
  if (dims_empty(d) || !db) return;
  bias_grad_kernel<<<static_cast<unsigned>(d.k), kReduceThreads, 0, stream>>>(
      d.n, d.k, d.out_h() * d.out_w(), dy, db);
  CUDA_LAUNCH_CHECK();
}

}  // namespace scrawl::cuda
