// Dense (fully connected) layer on cuBLAS: the three products as SGEMMs on row-major data,
// bias (+ ReLU) as an epilogue kernel, the bias gradient as a column-sum kernel.
// Tested by tests/gpu/test_cuda_ops.cpp against the reference.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace scrawl::cuda {

// y = x w^T + b, then ReLU when `relu`.  x (N,IN), w (OUT,IN), b (OUT) or nullptr, y (N,OUT)
void dense_forward(cublasHandle_t blas, int n, int in, int out, const float* x, const float* w,
                   const float* b, bool relu, float* y, cudaStream_t stream);

// dx = dy w.  dy (N,OUT), w (OUT,IN), dx (N,IN)
void dense_backward_data(cublasHandle_t blas, int n, int in, int out, const float* dy,
                         const float* w, float* dx);

// dw = dy^T x, db = column sums of dy.  x (N,IN), dy (N,OUT), dw (OUT,IN), db (OUT) or nullptr
void dense_backward_params(cublasHandle_t blas, int n, int in, int out, const float* x,
                           const float* dy, float* dw, float* db, cudaStream_t stream);

}  // namespace scrawl::cuda
