// Shared by every file in cuda/: the checking macros for CUDA, cuBLAS and cuDNN calls and
// kernel launches (each throws scrawl::Error naming the expression, file, line and message),
// launch-size helpers and an NVTX range. Exercised by every test in tests/gpu.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>

#include "host/error.h"

namespace scrawl::cuda {

// Builds "what failed (file:line): message" and throws scrawl::Error. Out of line so the
// macros stay small at every call site.
[[noreturn]] void throw_cuda_error(const char* library, const char* expr, const char* file,
                                   int line, const std::string& message);

const char* cublas_status_string(int status);  // cublasStatus_t as int: no cuBLAS header here
const char* cudnn_status_string(int status);   // cudnnStatus_t as int

}  // namespace scrawl::cuda

#define CUDA_CHECK(expr)                                                                        \
  do {                                                                                          \
    const cudaError_t scrawl_err_ = (expr);                                                     \
    if (scrawl_err_ != cudaSuccess)                                                             \
      ::scrawl::cuda::throw_cuda_error(                                                         \
          "CUDA", #expr, __FILE__, __LINE__,                                                    \
          std::string(cudaGetErrorName(scrawl_err_)) + ": " + cudaGetErrorString(scrawl_err_)); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                \
  do {                                                                                    \
    const int scrawl_st_ = static_cast<int>(expr);                                        \
    if (scrawl_st_ != 0)                                                                  \
      ::scrawl::cuda::throw_cuda_error("cuBLAS", #expr, __FILE__, __LINE__,               \
                                       ::scrawl::cuda::cublas_status_string(scrawl_st_)); \
  } while (0)

#define CUDNN_CHECK(expr)                                                                \
  do {                                                                                   \
    const int scrawl_st_ = static_cast<int>(expr);                                       \
    if (scrawl_st_ != 0)                                                                 \
      ::scrawl::cuda::throw_cuda_error("cuDNN", #expr, __FILE__, __LINE__,               \
                                       ::scrawl::cuda::cudnn_status_string(scrawl_st_)); \
  } while (0)

// After every <<<...>>>: catches bad launch configurations at once. Errors inside a kernel
// surface at the next synchronising call, which goes through CUDA_CHECK as well.
#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaPeekAtLastError())

namespace scrawl::cuda {

constexpr int kBlock = 256;  // threads per block for element-wise kernels

// Blocks for `count` elements at `block` threads each, capped so grid-stride loops cover
// the rest (65535 x 256 is far beyond any tensor here, and keeps the grid legal everywhere).
inline unsigned grid_for(size_t count, int block = kBlock) {
  size_t blocks = (count + block - 1) / block;
  if (blocks == 0) blocks = 1;
  if (blocks > 65535) blocks = 65535;
  return static_cast<unsigned>(blocks);
}

// An NVTX range for Nsight Systems, pushed for the lifetime of the object.
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace scrawl::cuda
