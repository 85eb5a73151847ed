// DeviceBuffer, PinnedBuffer and DeviceArena (see memory.h).
// Tested by tests/gpu/test_cuda_memory.cpp.
#include "cuda/memory.h"

#include <utility>

#include "cuda/common.cuh"

namespace scrawl::cuda {

DeviceBuffer::DeviceBuffer(size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  bytes_ = bytes;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() noexcept {
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
  bytes_ = bytes;
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void PinnedBuffer::reset() noexcept {
  if (ptr_) cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void* DeviceArena::allocate(size_t bytes) {
  const size_t size = ((bytes ? bytes : 1) + kAlign - 1) / kAlign * kAlign;
  if (size >= kLargeBytes) {
    DeviceBuffer buffer(size);
    ++malloc_calls_;
    void* ptr = buffer.get();
    large_.emplace(ptr, std::move(buffer));
    in_use_ += size;
    return ptr;
  }
  // Best fit among released blocks, if it wastes at most half of itself (no splitting).
  auto it = free_.lower_bound(size);
  if (it != free_.end() && it->first <= 2 * size) {
    void* ptr = it->second;
    live_[ptr] = it->first;
    in_use_ += it->first;
    free_.erase(it);
    return ptr;
  }
  if (slabs_.empty() || slabs_.back().used + size > slabs_.back().buffer.bytes()) {
    Slab slab;
    slab.buffer = DeviceBuffer(kSlabBytes);
    ++malloc_calls_;
    slabs_.push_back(std::move(slab));
  }
  Slab& slab = slabs_.back();
  void* ptr = slab.buffer.as<char>() + slab.used;
  slab.used += size;
  live_[ptr] = size;
  in_use_ += size;
  return ptr;
}

void DeviceArena::release(void* ptr) noexcept {
  if (!ptr) return;
  if (hold_) {
    if (owns(ptr)) {
      try {
        held_.push_back(ptr);
        return;
      } catch (...) {
        // Out of host memory for the list: release for real below; a stale graph is the
        // lesser risk than a leak that cannot be reported from here.
      }
    }
  }
  if (auto it = large_.find(ptr); it != large_.end()) {
    in_use_ -= it->second.bytes();
    large_.erase(it);  // cudaFree: synchronises the device, so the block is idle
    return;
  }
  if (auto it = live_.find(ptr); it != live_.end()) {
    in_use_ -= it->second;
    free_.emplace(it->second, ptr);
    live_.erase(it);
  }
}

void DeviceArena::hold_releases(bool hold) {
  hold_ = hold;
  if (hold) return;
  std::vector<void*> held;
  held.swap(held_);
  for (void* ptr : held) release(ptr);
}

bool DeviceArena::owns(const void* ptr) const {
  void* p = const_cast<void*>(ptr);
  return live_.count(p) != 0 || large_.count(p) != 0;
}

size_t DeviceArena::bytes_reserved() const {
  size_t total = 0;
  for (const Slab& s : slabs_) total += s.buffer.bytes();
  for (const auto& [ptr, buffer] : large_) total += buffer.bytes();
  return total;
}

}  // namespace scrawl::cuda
