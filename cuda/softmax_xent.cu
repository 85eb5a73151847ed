// Softmax and fused softmax cross-entropy (see softmax_xent.cuh). One warp per row: max and
// first argmax, then the sum of exponentials, all by shuffles. Per-row losses and hits go to
// scratch and one block adds them up in a fixed order before touching `stats`, so the epoch
// totals are deterministic (no float atomics). Tested by tests/gpu/test_cuda_ops.cpp.
#include "cuda/softmax_xent.cuh"

#include <cmath>

#include "cuda/common.cuh"

namespace scrawl::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // one warp each
constexpr int kSumThreads = 1024;

struct RowMax {
  float value;
  int index;
};

// Max over the warp; ties go to the lower class index, as std::max_element does.
__device__ __forceinline__ RowMax warp_argmax(RowMax m) {
  for (int off = 16; off > 0; off >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, m.value, off);
    const int k = __shfl_xor_sync(0xffffffffu, m.index, off);
    if (v > m.value || (v == m.value && k < m.index)) {
      m.value = v;
      m.index = k;
    }
  }
  return m;
}

__device__ __forceinline__ float warp_sum_all(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Max and first argmax of row z, known to every lane.
__device__ __forceinline__ RowMax row_max(const float* z, int classes, int lane) {
  RowMax m{-INFINITY, classes};
  for (int c = lane; c < classes; c += 32)
    if (z[c] > m.value || (z[c] == m.value && c < m.index)) m = RowMax{z[c], c};
  return warp_argmax(m);
}

__global__ void softmax_kernel(int n, int classes, const float* __restrict__ logits,
                               float* __restrict__ probs) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= n) return;  // whole warps leave together: rows are per warp
  const float* z = logits + static_cast<size_t>(row) * classes;
  float* p = probs + static_cast<size_t>(row) * classes;
  const float mx = row_max(z, classes, lane).value;
  float sum = 0.0f;
  for (int c = lane; c < classes; c += 32) sum += expf(z[c] - mx);
  sum = warp_sum_all(sum);
  for (int c = lane; c < classes; c += 32) p[c] = expf(z[c] - mx) / sum;
}

__global__ void softmax_xent_kernel(int n, int classes, const float* __restrict__ logits,
                                    const float* __restrict__ labels, float* __restrict__ dlogits,
                                    float* __restrict__ row_loss, float* __restrict__ row_hit) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= n) return;
  const float* z = logits + static_cast<size_t>(row) * classes;
  float* g = dlogits + static_cast<size_t>(row) * classes;
  const float label_f = labels[row];
  const int label = static_cast<int>(label_f);
  // A negative label is an outlier (not a digit): uniform target, as in the host backends.
  const bool outlier = label_f < 0.0f;
  const bool valid = outlier || label < classes;
  const RowMax m = row_max(z, classes, lane);
  float sum = 0.0f, zsum = 0.0f;
  for (int c = lane; c < classes; c += 32) {
    sum += expf(z[c] - m.value);
    zsum += z[c] - m.value;
  }
  sum = warp_sum_all(sum);
  zsum = warp_sum_all(zsum);
  const float fn = static_cast<float>(n);
  const float uniform = 1.0f / static_cast<float>(classes);
  for (int c = lane; c < classes; c += 32) {
    const float target = outlier ? uniform : (c == label ? 1.0f : 0.0f);
    g[c] = (expf(z[c] - m.value) / sum - target) / fn;
  }
  if (lane == 0) {
    if (outlier) {
      row_loss[row] = logf(sum) - zsum * uniform;
      row_hit[row] = 1.0f / sum < 0.5f ? 1.0f : 0.0f;
    } else {
      row_loss[row] = valid ? logf(sum) - (z[label] - m.value) : NAN;
      row_hit[row] = valid && m.index == label ? 1.0f : 0.0f;
    }
  }
}

// stats[0] += sum(row_loss), stats[1] += sum(row_hit); one block, fixed order.
__global__ void __launch_bounds__(kSumThreads)
    add_stats_kernel(int n, const float* __restrict__ row_loss, const float* __restrict__ row_hit,
                     float* __restrict__ stats) {
  __shared__ float loss_part[kSumThreads / 32], hit_part[kSumThreads / 32];
  float loss = 0.0f, hit = 0.0f;
  for (int i = threadIdx.x; i < n; i += kSumThreads) {
    loss += row_loss[i];
    hit += row_hit[i];
  }
  loss = warp_sum_all(loss);
  hit = warp_sum_all(hit);
  if (threadIdx.x % 32 == 0) {
    loss_part[threadIdx.x / 32] = loss;
    hit_part[threadIdx.x / 32] = hit;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float l = 0.0f, h = 0.0f;
    for (int q = 0; q < kSumThreads / 32; ++q) {
      l += loss_part[q];
      h += hit_part[q];
    }
    stats[0] += l;
    stats[1] += h;
  }
}

}  // namespace

void softmax_forward(int n, int classes, const float* logits, float* probs, cudaStream_t stream) {
  if (n <= 0 || classes <= 0) return;
  const unsigned blocks = static_cast<unsigned>((n + kRowsPerBlock - 1) / kRowsPerBlock);
  softmax_kernel<<<blocks, kRowsPerBlock * 32, 0, stream>>>(n, classes, logits, probs);
  CUDA_LAUNCH_CHECK();
}

void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                  float* stats, float* workspace, cudaStream_t stream) {
  if (n <= 0 || classes <= 0) return;
  float* row_loss = workspace;
  float* row_hit = workspace + n;
  const unsigned blocks = static_cast<unsigned>((n + kRowsPerBlock - 1) / kRowsPerBlock);
  softmax_xent_kernel<<<blocks, kRowsPerBlock * 32, 0, stream>>>(n, classes, logits, labels,
                                                                 dlogits, row_loss, row_hit);
  CUDA_LAUNCH_CHECK();
  add_stats_kernel<<<1, kSumThreads, 0, stream>>>(n, row_loss, row_hit, stats);
  CUDA_LAUNCH_CHECK();
}

}  // namespace scrawl::cuda
