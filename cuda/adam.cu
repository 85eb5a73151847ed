// The fused Adam kernel (see adam.cuh): one read of p, g, m, v and one write of p, m, v per
// parameter; float4 loads when the block is 16-byte aligned (the arena aligns to 256).
// The arithmetic is the reference's, in the same order. Tested by tests/gpu/test_cuda_ops.cpp.
#include "cuda/adam.cuh"

#include <cstdint>

#include "cuda/common.cuh"

namespace scrawl::cuda {
namespace {

struct AdamConsts {
  float beta1, beta2, eps, step_size;
};

__device__ __forceinline__ void adam_one(const AdamConsts& k, float a, float& p, float g, float& m,
                                         float& v) {
  m = k.beta1 * m + (1.0f - k.beta1) * g;
  v = k.beta2 * v + (1.0f - k.beta2) * g * g;
  p -= a * m / (sqrtf(v) + k.eps);
}

__global__ void adam_kernel(size_t count, float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, AdamConsts k,
                            const float* __restrict__ step_size_dev) {
  const float a = step_size_dev ? *step_size_dev : k.step_size;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    adam_one(k, a, param[i], grad[i], m[i], v[i]);
}

// Same over float4 groups; count4 = count / 4, the tail is left to adam_kernel.
__global__ void adam_kernel4(size_t count4, float4* __restrict__ param,
                             const float4* __restrict__ grad, float4* __restrict__ m,
                             float4* __restrict__ v, AdamConsts k,
                             const float* __restrict__ step_size_dev) {
  const float a = step_size_dev ? *step_size_dev : k.step_size;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count4;
       i += size_t(gridDim.x) * blockDim.x) {
    float4 p4 = param[i], m4 = m[i], v4 = v[i];
    const float4 g4 = grad[i];
    adam_one(k, a, p4.x, g4.x, m4.x, v4.x);
    adam_one(k, a, p4.y, g4.y, m4.y, v4.y);
    adam_one(k, a, p4.z, g4.z, m4.z, v4.z);
    adam_one(k, a, p4.w, g4.w, m4.w, v4.w);
    param[i] = p4;
    m[i] = m4;
    v[i] = v4;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void adam_update(size_t count, float* param, const float* grad, float* m, float* v, float beta1,
                 float beta2, float eps, float step_size, const float* step_size_dev,
                 cudaStream_t stream) {
  if (count == 0) return;
  const AdamConsts k{beta1, beta2, eps, step_size};
  size_t done = 0;
  if (aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v) && count >= 4) {
    const size_t count4 = count / 4;
    adam_kernel4<<<grid_for(count4), kBlock, 0, stream>>>(
        count4, reinterpret_cast<float4*>(param), reinterpret_cast<const float4*>(grad),
        reinterpret_cast<float4*>(m), reinterpret_cast<float4*>(v), k, step_size_dev);
    CUDA_LAUNCH_CHECK();
    done = count4 * 4;
  }
  if (done < count) {
    adam_kernel<<<grid_for(count - done), kBlock, 0, stream>>>(
        count - done, param + done, grad + done, m + done, v + done, k, step_size_dev);
    CUDA_LAUNCH_CHECK();
  }
}

}  // namespace scrawl::cuda
