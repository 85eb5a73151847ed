// Out-of-line halves of common.cuh: the error builder and the cuBLAS/cuDNN status names.
// Exercised whenever a check fails; tests/gpu checks a bad call reports file and line.
#include "cuda/common.cuh"

#include <cublas_v2.h>
#include <cudnn.h>

namespace scrawl::cuda {

void throw_cuda_error(const char* library, const char* expr, const char* file, int line,
                      const std::string& message) {
  throw Error(std::string(library) + " call failed: " + expr + " (" + file + ":" +
              std::to_string(line) + "): " + message);
}

const char* cublas_status_string(int status) {
  return cublasGetStatusString(static_cast<cublasStatus_t>(status));
}

const char* cudnn_status_string(int status) {
  return cudnnGetErrorString(static_cast<cudnnStatus_t>(status));
}

}  // namespace scrawl::cuda
