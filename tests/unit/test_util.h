// Shared helpers for the unit tests: seeded random tensors and the agreement check
// |a - b| <= atol + rtol * |ref| that fails on NaN or Inf (as llm.c and ggml do).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace scrawl::test {

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline ::testing::AssertionResult all_close(const std::vector<float>& ref,
                                            const std::vector<float>& got, float atol, float rtol) {
  if (ref.size() != got.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << ref.size();
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const float a = ref[i], b = got[i];
    const bool finite = std::isfinite(a) && std::isfinite(b);
    const double err = std::fabs(double(a) - double(b));
    if (!finite || err > atol + rtol * std::fabs(a)) {
      if (!bad) first = i;
      ++bad;
    }
    if (finite) worst = std::max(worst, err);
  }
  if (bad)
    return ::testing::AssertionFailure()
           << bad << " of " << ref.size() << " values differ; first at " << first << ": ref "
           << ref[first] << " got " << got[first] << " (atol " << atol << ", rtol " << rtol << ")";
  return ::testing::AssertionSuccess() << "max abs error " << worst;
}

}  // namespace scrawl::test
