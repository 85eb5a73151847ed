// Memory half of Backend for backends whose tensors live in ordinary host memory
// (the CPU fast path and the reference). 64-byte aligned so AVX-512 loads never split.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "host/backend.h"

namespace scrawl {

class HostMemoryBackend : public Backend {
 public:
  float* allocate(size_t count) override {
    const size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return static_cast<float*>(p);
  }
  void release(float* ptr) noexcept override { std::free(ptr); }
  void upload(float* dst, const float* src, size_t count) override { copy(dst, src, count); }
  void download(float* dst, const float* src, size_t count) override { copy(dst, src, count); }
  void copy(float* dst, const float* src, size_t count) override {
    if (dst != src && count) std::memmove(dst, src, count * sizeof(float));
  }
  void fill(float* dst, float value, size_t count) override { std::fill(dst, dst + count, value); }
  void synchronize() override {}
};

}  // namespace scrawl
