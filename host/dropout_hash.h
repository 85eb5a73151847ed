// The dropout mask hash shared by every backend: a pure function of (seed, index), so the
// CPU loops and the CUDA kernels draw bit-identical masks with no RNG state.
// Host side tested by tests/unit (dropout); device side by tests/gpu (dropout vs reference).
#pragma once

#include <cstdint>

// SCRAWL_HD marks functions usable from host and device code. Plain C++ compilers see
// nothing, so host/ headers including this file stay free of CUDA.
#if defined(__CUDACC__)
#define SCRAWL_HD __host__ __device__
#else
#define SCRAWL_HD
#endif

namespace scrawl {

// splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits with full avalanche.
SCRAWL_HD inline uint64_t hash_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform float in [0, 1) for element `index` of a dropout call with `seed`.
// The seed is mixed once before the index is added, so nearby seeds give unrelated masks;
// the golden-ratio increment is splitmix64's stream step. The top 24 bits are taken so the
// value is exactly representable in a float: k / 2^24 with k in [0, 2^24).
SCRAWL_HD inline float dropout_hash_uniform(uint64_t seed, uint64_t index) {
  const uint64_t key = hash_mix64(seed + 0x9E3779B97F4A7C15ull);
  const uint64_t z = hash_mix64(key + index * 0x9E3779B97F4A7C15ull);
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace scrawl
