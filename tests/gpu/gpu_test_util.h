// Helpers for tests/gpu: getting the CUDA backend or skipping with the reason, moving vectors
// to and from a backend, seeded inputs, and the agreement check |got - ref| <= atol + rtol*|ref|
// that fails on NaN or Inf. Compiles without CUDA (only host/ and the plain cuda_backend.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "host/backend.h"
#include "host/cpu_backend.h"
#include "host/error.h"

namespace scrawl::gpu_test {

// A fresh CUDA backend with the given convolution path, or nullptr and the reason there is
// none (a build without CUDA, no driver, no device, ...). Goes through backend_create, the
// same door the CLI uses, so the test binary links in builds without CUDA.
inline std::unique_ptr<Backend> cuda_backend_or_reason(const std::string& conv_algo,
                                                       std::string* reason) {
  if (!backend_cuda_compiled()) {
    *reason = "this build has no CUDA backend (-DSCRAWL_CUDA=OFF)";
    return nullptr;
  }
  try {
    auto be = backend_create("cuda");
    if (auto* ext = dynamic_cast<CudaExtensions*>(be.get())) ext->set_conv_algo(conv_algo);
    return be;
  } catch (const UnavailableError& e) {
    *reason = e.what();
    return nullptr;
  }
}

inline CudaExtensions& ext(Backend& be) {
  auto* e = dynamic_cast<CudaExtensions*>(&be);
  if (!e) throw Error("not the CUDA backend: " + be.name());
  return *e;
}

// In a TEST body: `SCRAWL_CUDA_OR_SKIP(be, "custom");` declares `be`, or skips the test with
// "no CUDA device: <why>".
#define SCRAWL_CUDA_OR_SKIP(var, algo)                                     \
  std::string var##_why;                                                   \
  auto var = ::scrawl::gpu_test::cuda_backend_or_reason(algo, &var##_why); \
  if (!var) GTEST_SKIP() << "no CUDA device: " << var##_why

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Values on a coarse grid (multiples of 1/4 in [-2, 2]): many exact ties, for max pooling's
// and argmax's first-maximum rule.
inline std::vector<float> tied_vector(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(-8, 8);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng) * 0.25f;
  return v;
}

// A backend buffer holding `host`.
inline Buffer to_backend(Backend& be, const std::vector<float>& host) {
  Buffer b(be, host.size());
  if (!host.empty()) be.upload(b.data(), host.data(), host.size());
  return b;
}

inline std::vector<float> to_host(Backend& be, const float* src, size_t n) {
  std::vector<float> out(n);
  if (n) be.download(out.data(), src, n);
  return out;
}

inline std::vector<float> to_host(Backend& be, const Buffer& b) {
  return to_host(be, b.data(), b.size());
}

// |got - ref| <= atol + rtol * |ref| everywhere; any NaN or Inf on either side fails.
inline ::testing::AssertionResult all_close(const std::vector<float>& ref,
                                            const std::vector<float>& got, double atol,
                                            double rtol) {
  if (ref.size() != got.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << ref.size();
  size_t bad = 0, first = 0, worst_i = 0;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double a = ref[i], b = got[i];
    const bool finite = std::isfinite(a) && std::isfinite(b);
    const double err = std::fabs(a - b);
    if (!finite || err > atol + rtol * std::fabs(a)) {
      if (!bad) first = i;
      ++bad;
    }
    if (finite && err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  if (bad)
    return ::testing::AssertionFailure()
           << bad << " of " << ref.size() << " values differ; first at " << first << ": ref "
           << ref[first] << " got " << got[first] << "; worst abs error " << worst << " at "
           << worst_i << " (atol " << atol << ", rtol " << rtol << ")";
  return ::testing::AssertionSuccess() << "max abs error " << worst;
}

// Tolerance for a float32 sum of `terms` products of values in [-1, 1]. The reference adds
// sequentially, the GPU in trees or another order, so the difference can grow with the
// number of terms: 1e-4 plus 5e-8 (under one float epsilon) per term, rtol 1e-4.
struct Tol {
  double atol, rtol;
};
inline Tol sum_tol(size_t terms) { return {1e-4 + 5e-8 * double(terms), 1e-4}; }

}  // namespace scrawl::gpu_test
