// The two CPU implementations of Backend.
//  - CpuBackend: the fast path: im2col + OpenBLAS single-threaded GEMMs, parallelised with
//    OpenMP over the batch or over GEMM blocks, so both cores work on every op.
//  - ReferenceBackend: plain, readable loops; the specification every other backend is
//    tested against (tests/unit/test_backend.cpp, tests/gpu/).
#pragma once

#include <memory>

#include "host/backend.h"

namespace scrawl {

// threads <= 0: use every core OpenMP reports.
std::unique_ptr<Backend> cpu_backend_create(int threads = 0);
std::unique_ptr<Backend> reference_backend_create();

}  // namespace scrawl
