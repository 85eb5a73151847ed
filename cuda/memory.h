// Owners of GPU and pinned host memory: DeviceBuffer (cudaMalloc), PinnedBuffer
// (cudaMallocHost), both RAII and move-only, and DeviceArena, the backend's sub-allocator.
// Tested by tests/gpu/test_cuda_memory.cpp.
#pragma once

#include <cstddef>
#include <map>
#include <unordered_map>
#include <vector>

namespace scrawl::cuda {

// One cudaMalloc'd block. Destructor frees without throwing (errors are dropped: a destructor
// may run while another CUDA error is already propagating).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void reset() noexcept;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory: the source of asynchronous uploads that overlap compute.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer() { reset(); }
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void reset() noexcept;

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Sub-allocates from large cudaMalloc'd slabs so that a network's parameters, gradients,
// moments and activations come from a few blocks and, once a batch size has been seen,
// no cudaMalloc happens again: released blocks go to a free list and are reused for
// requests of the same rounded size. Blocks of kLargeBytes or more get a slab of their own,
// given back by release() (cudaFree synchronises, so only do that outside the hot loop).
// All work is on one compute stream, so stream order makes reuse after release safe.
class DeviceArena {
 public:
  static constexpr size_t kAlign = 256;             // cudaMalloc's own alignment
  static constexpr size_t kSlabBytes = 64u << 20;   // a fresh slab when the current is full
  static constexpr size_t kLargeBytes = 16u << 20;  // dedicated allocation from here on

  DeviceArena() = default;
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  void* allocate(size_t bytes);      // throws scrawl::Error when the device is out of memory
  void release(void* ptr) noexcept;  // unknown pointers are ignored; nullptr is fine
  bool owns(const void* ptr) const;
  size_t bytes_reserved() const;  // cudaMalloc'd in total
  size_t bytes_in_use() const { return in_use_; }
  size_t cuda_malloc_calls() const { return malloc_calls_; }  // tests: no growth in the loop

  // While held, released blocks are quarantined instead of reused or freed: a recorded CUDA
  // Graph may still hold their addresses. Ending the hold releases them for real.
  void hold_releases(bool hold);

 private:
  struct Slab {
    DeviceBuffer buffer;
    size_t used = 0;
  };
  std::vector<Slab> slabs_;
  std::unordered_map<void*, DeviceBuffer> large_;
  std::unordered_map<void*, size_t> live_;  // pointer -> rounded size, for slab blocks
  std::multimap<size_t, void*> free_;       // rounded size -> released slab block
  std::vector<void*> held_;                 // released while hold_ is set
  bool hold_ = false;
  size_t in_use_ = 0;
  size_t malloc_calls_ = 0;
};

}  // namespace scrawl::cuda
