// Adam as one fused kernel over the whole contiguous parameter block (Keras' formulation, see
// AdamStep in host/backend.h). Tested by tests/gpu/test_cuda_ops.cpp against the reference.
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

namespace scrawl::cuda {

// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= step_size * m / (sqrt(v) + eps).
// step_size_dev: a device scalar that replaces step_size when not null (a replayed CUDA
// Graph reads the current step's value there). param, grad, m, v (COUNT)
void adam_update(size_t count, float* param, const float* grad, float* m, float* v, float beta1,
                 float beta2, float eps, float step_size, const float* step_size_dev,
                 cudaStream_t stream);

}  // namespace scrawl::cuda
