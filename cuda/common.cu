// Out-of-line halves of common.cuh: the error builder and the cuBLAS/cuDNN status names.
// Exercised whenever a check fails; tests/gpu checks a bad call reports file and line.
#include "cuda/common.cuh"

#include <cublas_v2.h>
#include <cudnn.h>

namespace scrawl::cuda {

void throw_cuda_error(const char* library, const char* expr, const char* file, int line,
                      const std::string& message) {
  // __FILE__ is the build's absolute path; from "cuda/" on is what a reader needs.
  std::string where = file;
  if (const size_t at = where.rfind("cuda/"); at != std::string::npos) where = where.substr(at);
  throw Error(std::string(library) + " call failed: " + expr + " (" + where + ":" +
              std::to_string(line) + "): " + message);
}

const char* cublas_status_string(int status) {
  return cublasGetStatusString(static_cast<cublasStatus_t>(status));
}

const char* cudnn_status_string(int status) {
  return cudnnGetErrorString(static_cast<cudnnStatus_t>(status));
}

}  // namespace scrawl::cuda
