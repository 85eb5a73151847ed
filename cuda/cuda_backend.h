// The CUDA backend's public face: a plain C++ header (no CUDA types), so host/, server/ and
// engine/ can include it in builds with or without the toolkit. The kernels live in cuda/*.cu.
// Tested by tests/gpu (every op against the reference; skipped with the reason when no GPU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "host/backend.h"

namespace scrawl {

// True when a CUDA device answers and can run this build's kernels; otherwise false and
// *why (if given) says why: no driver, driver too old, no device, unsupported GPU, ...
// Never throws, and works on a machine with no NVIDIA driver at all.
bool cuda_device_available(std::string* why);

// The CUDA backend on `device`. conv_algo picks the convolution implementation for every
// layer: "custom" (the kernels in cuda/conv2d.cu), "cudnn", or "auto": per geometry and pass,
// the faster of the two after a short timed run on first use. With "auto", the environment
// variable SCRAWL_CONV_ALGO=custom|cudnn|auto overrides, for profiling either path through
// the unchanged CLI. Throws UnavailableError when no device answers, Error for a bad name.
std::unique_ptr<Backend> cuda_backend_create(int device = 0, const std::string& conv_algo = "auto");

// Hooks the CUDA backend offers beyond host/backend.h, for the trainer's fast paths; reach
// them with dynamic_cast<CudaExtensions*>(backend). Pure virtual and header-only, so code that
// merely asks (tests/gpu) links in builds without CUDA. Proposed as Backend virtuals with
// CPU defaults (see the notes at each): once they are there, these override them.
class CudaExtensions {
 public:
  virtual ~CudaExtensions() = default;

  // ---- convolution path ----
  virtual void set_conv_algo(const std::string& algo) = 0;  // "custom" | "cudnn" | "auto"
  virtual std::string conv_algo() const = 0;
  // One line per (geometry, pass) that "auto" has timed: both times and the choice.
  virtual std::string conv_report() const = 0;

  // ---- fused epilogues (CPU default: the op, then relu_forward on y) ----
  // y = relu(conv(x, w) + b).  x (N,C,H,W), w (K,C,R,S), b (K), y (N,K,OH,OW)
  virtual void conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w,
                                   const float* b, float* y) = 0;
  // y = relu(x w^T + b).  x (N,IN), w (OUT,IN), b (OUT), y (N,OUT)
  virtual void dense_forward_relu(int n, int in, int out, const float* x, const float* w,
                                  const float* b, float* y) = 0;

  // ---- pinned, double-buffered uploads ----
  // Page-locked host memory (CPU default: ordinary zeroed heap memory).
  virtual float* host_allocate(size_t count) = 0;
  virtual void host_release(float* ptr) noexcept = 0;
  // Queues a host -> backend copy on a separate copy stream and returns a fence at once.
  // The copy starts when all work queued on the compute stream before this call is done
  // (so dst may be a buffer that earlier ops still read) and overlaps work queued after it.
  // The host buffer must stay untouched until upload_fence_wait(fence) returns.
  // CPU default: memcpy now, return 0.
  virtual uint64_t upload_async(float* dst, const float* host_src, size_t count) = 0;
  // Work queued after this call sees the copy's data; the host does not block. CPU: no-op.
  virtual void upload_join(uint64_t fence) = 0;
  // Blocks the host until the copy has read its host buffer. CPU: no-op.
  virtual void upload_fence_wait(uint64_t fence) = 0;

  // ---- device-resident dataset ----
  // dst row r = src row idx[r].  src (ROWS_SRC, ROW_LEN), idx (ROWS) row numbers as floats
  // (exact below 2^24), dst (ROWS, ROW_LEN); all on the backend. CPU default: a loop.
  virtual void gather_rows(size_t rows, size_t row_len, const float* src, const float* idx,
                           float* dst) = 0;

  // ---- CUDA Graphs (CPU default: graph_begin returns false and the caller runs eagerly) ----
  // Records instead of running every op queued until graph_end(). No allocate, upload,
  // download or synchronize in between; run one eager step first so workspaces are sized.
  virtual bool graph_begin() = 0;
  virtual int graph_end() = 0;  // a handle for graph_replay
  // Runs a recorded graph as if its ops were called again, except that every dropout seed
  // becomes (captured seed + seed_delta) and adam_update uses `step` (lr and t) instead of
  // the captured AdamStep (betas and eps stay). So if layers derive their seeds additively
  // from the step seed, replaying with seed_delta = step_seed - captured_step_seed equals
  // an eager step. Pointers are baked in: the buffers a graph touches must stay allocated
  // (released ones are quarantined until graph_reset, so a stale graph cannot corrupt).
  virtual void graph_replay(int graph, uint64_t seed_delta, const AdamStep& step) = 0;
  virtual void graph_reset() = 0;  // drops every graph (and any capture in progress)

  // ---- profiling (CPU default: no-op) ----
  virtual void range_push(const char* name) = 0;  // an NVTX range for Nsight Systems
  virtual void range_pop() = 0;

  // ---- memory accounting, for tests and logs ----
  virtual size_t device_bytes_reserved() const = 0;  // cudaMalloc'd by the arena
  virtual size_t device_malloc_calls() const = 0;    // arena cudaMalloc calls so far
};

}  // namespace scrawl
