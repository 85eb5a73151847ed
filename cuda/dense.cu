// Dense layer (see dense.cuh). cuBLAS is column-major; a row-major (R, C) matrix is the same
// bytes as a column-major (C, R) one, i.e. its transpose. So each row-major product
// A = B C is issued as the column-major A^T = C^T B^T, with the ld of each operand being its
// row-major row length. The handle is bound to the backend's stream by the caller.
// Tested by tests/gpu/test_cuda_ops.cpp (dense forward, backward data, backward params).
#include "cuda/dense.cuh"

#include "cuda/common.cuh"
#include "cuda/elementwise.cuh"

namespace scrawl::cuda {
namespace {

constexpr int kColumnThreads = 128;

// db[o] = sum over rows of dy[:, o]: one thread per column, rows in order (deterministic,
// coalesced across threads).
__global__ void column_sums_kernel(int n, int out, const float* __restrict__ dy,
                                   float* __restrict__ db) {
  const int o = blockIdx.x * kColumnThreads + threadIdx.x;
  if (o >= out) return;
  float acc = 0.0f;
  for (int i = 0; i < n; ++i) acc += dy[static_cast<size_t>(i) * out + o];
  db[o] = acc;
}

}  // namespace

void dense_forward(cublasHandle_t blas, int n, int in, int out, const float* x, const float* w,
                   const float* b, bool relu, float* y, cudaStream_t stream) {
  if (n <= 0 || out <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  // y^T (OUT, N) = w (OUT, IN) x^T (IN, N); w's bytes are w^T column-major, so transpose it.
  CUBLAS_CHECK(
      cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x, in, &zero, y, out));
  bias_act(n, out, 1, b, relu, y, stream);
}

void dense_backward_data(cublasHandle_t blas, int n, int in, int out, const float* dy,
                         const float* w, float* dx) {
  if (n <= 0 || in <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  // dx^T (IN, N) = w^T (IN, OUT) dy^T (OUT, N); both already stored that way.
  CUBLAS_CHECK(
      cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy, out, &zero, dx, in));
}

void dense_backward_params(cublasHandle_t blas, int n, int in, int out, const float* x,
                           const float* dy, float* dw, float* db, cudaStream_t stream) {
  if (in <= 0 || out <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  // dw^T (IN, OUT) = x^T (IN, N) dy (N, OUT); dy's bytes are dy^T, so transpose it.
  CUBLAS_CHECK(
      cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out, &zero, dw, in));
  if (db) {
    column_sums_kernel<<<(out + kColumnThreads - 1) / kColumnThreads, kColumnThreads, 0, stream>>>(
        n, out, dy, db);
    CUDA_LAUNCH_CHECK();
  }
}

}  // namespace scrawl::cuda
