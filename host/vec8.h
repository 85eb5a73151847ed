// Eight floats in one AVX2 register (GCC/Clang vector extension; two SSE halves on a baseline
// x86-64 build), for the CPU kernels of cpu_backend.cpp and conv_dense_plan.cpp. memcpy keeps
// the loads and stores unaligned-safe. Tested through those kernels' tests against the reference.
#pragma once

#include <cstring>

namespace scrawl::vec8 {

typedef float v8f __attribute__((vector_size(32)));
constexpr int kLanes = 8;

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
inline v8f splat8(float a) { return v8f{a, a, a, a, a, a, a, a}; }  // one vbroadcastss
inline v8f relu8(v8f v) { return v > 0.0f ? v : v8f{}; }
inline float sum8(v8f v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

}  // namespace scrawl::vec8
