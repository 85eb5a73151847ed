// The cuDNN convolution path: descriptors and algorithm choices cached per geometry, FP32
// FMA math only (no TF32, so results stay within float rounding of the reference) and
// deterministic algorithms preferred. Bias and ReLU are left to the caller's epilogue kernel.
// Tested by tests/gpu/test_cuda_ops.cpp (the "cudnn" variants) against the reference.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "host/backend.h"

namespace scrawl::cuda {

class CudnnConv {
 public:
  explicit CudnnConv(cudaStream_t stream);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Bytes of workspace the three passes need for d; makes the plan on first sight of d
  // (host work and heuristics queries only: call it outside graph capture).
  size_t workspace_bytes(const Conv2dDims& d);
  // Names of the chosen algorithms, for logs and profiles: "fwd=..., data=..., filter=...".
  std::string algorithms(const Conv2dDims& d);

  // y = conv(x, w).  x (N,C,H,W), w (K,C,R,S), y (N,K,OH,OW)
  void forward(const Conv2dDims& d, const float* x, const float* w, float* y, void* workspace,
               size_t workspace_bytes);
  // dx = conv_transpose(dy, w).  dy (N,K,OH,OW), dx (N,C,H,W)
  void backward_data(const Conv2dDims& d, const float* dy, const float* w, float* dx,
                     void* workspace, size_t workspace_bytes);
  // dw = sum_n dy * x.  dw (K,C,R,S)
  void backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                       void* workspace, size_t workspace_bytes);

 private:
  struct Plan;
  using Key = std::array<int, 9>;
  Plan& plan(const Conv2dDims& d);

  cudnnHandle_t handle_ = nullptr;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace scrawl::cuda
