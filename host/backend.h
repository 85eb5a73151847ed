// The one compute interface that layers and the trainer are written against.
// Implementations: CpuBackend (fast: im2col + OpenBLAS, OpenMP over both cores),
// ReferenceBackend (plain loops, the specification) and, when built with CUDA,
// the CUDA backend in cuda/. tests/unit and tests/gpu compare them op by op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace scrawl {

// Convolution geometry. Input (N, C, H, W), filters (K, C, R, S), output (N, K, OH, OW).
struct Conv2dDims {
  int n = 0, c = 0, h = 0, w = 0;
  int k = 0, r = 0, s = 0;
  int pad = 0, stride = 1;
  int out_h() const { return (h + 2 * pad - r) / stride + 1; }
  int out_w() const { return (w + 2 * pad - s) / stride + 1; }
};

// Max-pooling geometry. Input (N, C, H, W), output (N, C, OH, OW); windows never overhang.
struct Pool2dDims {
  int n = 0, c = 0, h = 0, w = 0;
  int size = 2, stride = 2;
  int out_h() const { return (h - size) / stride + 1; }
  int out_w() const { return (w - size) / stride + 1; }
};

// One Adam step with Keras' formulation:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
struct AdamStep {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-7f;
  int64_t t = 1;  // 1-based step count
  float step_size() const;  // lr * sqrt(1-b2^t)/(1-b1^t), computed in double
};

// Deterministic dropout mask shared by every backend: element i of a call with
// `seed` is kept when dropout_uniform(seed, i) >= rate, and scaled by 1/(1-rate).
// A counter-based hash, so CPU and GPU draw the same mask with no RNG state.
float dropout_uniform(uint64_t seed, uint64_t index);

enum class BackendKind { Cpu, Reference, Cuda };

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  virtual BackendKind kind() const = 0;
  virtual std::string name() const = 0;         // "cpu", "reference", "cuda"
  virtual std::string description() const = 0;  // e.g. "CPU, 2 threads, OpenBLAS" or the GPU's name

  // ---- memory: pointers from allocate() are only meaningful to this backend ----
  virtual float* allocate(size_t count) = 0;            // zero-initialised
  virtual void release(float* ptr) noexcept = 0;        // nullptr is fine
  virtual void upload(float* dst, const float* host_src, size_t count) = 0;
  virtual void download(float* host_dst, const float* src, size_t count) = 0;
  virtual void copy(float* dst, const float* src, size_t count) = 0;  // within the backend
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void synchronize() = 0;  // wait for queued work (no-op on the CPU)

  // ---- ops: all tensors NCHW, float32; outputs are overwritten, never accumulated ----
  // y = conv(x, w) + b.  x (N,C,H,W), w (K,C,R,S), b (K), y (N,K,OH,OW)
  virtual void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b,
                              float* y) = 0;
  // dx = conv_transpose(dy, w).  dy (N,K,OH,OW), dx (N,C,H,W)
  virtual void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w,
                                    float* dx) = 0;
  // dw = sum_n dy * x, db = sum over (n, oh, ow) of dy.  dw (K,C,R,S), db (K)
  virtual void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy,
                                      float* dw, float* db) = 0;

  // y = x w^T + b.  x (N,IN), w (OUT,IN), b (OUT), y (N,OUT)
  virtual void dense_forward(int n, int in, int out, const float* x, const float* w,
                             const float* b, float* y) = 0;
  // dx = dy w.  dy (N,OUT), dx (N,IN)
  virtual void dense_backward_data(int n, int in, int out, const float* dy, const float* w,
                                   float* dx) = 0;
  // dw = dy^T x, db = column sums of dy.  dw (OUT,IN), db (OUT)
  virtual void dense_backward_params(int n, int in, int out, const float* x, const float* dy,
                                     float* dw, float* db) = 0;

  virtual void relu_forward(size_t count, const float* x, float* y) = 0;
  // dx = dy where y > 0, else 0 (y is the forward output)
  virtual void relu_backward(size_t count, const float* y, const float* dy, float* dx) = 0;

  // First maximum wins on ties, on every backend.
  virtual void maxpool_forward(const Pool2dDims& d, const float* x, float* y) = 0;
  virtual void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy,
                                float* dx) = 0;

  // Inverted dropout with the shared mask (see dropout_uniform). Same call for backward
  // (the mask is a pure function of seed and index), so backward = forward on dy.
  virtual void dropout_forward(size_t count, float rate, uint64_t seed, const float* x,
                               float* y) = 0;

  // Row-wise softmax.  logits (N,CLASSES), probs (N,CLASSES)
  virtual void softmax_forward(int n, int classes, const float* logits, float* probs) = 0;
  // Fused softmax + mean cross-entropy and its gradient.
  //   labels (N) class indices stored as floats; dlogits (N,CLASSES) = (softmax - onehot) / N.
  //   A negative label marks a sample that is not a digit (an outlier): its target is uniform,
  //   1/CLASSES for every class, so the model learns to be unsure of it; it counts as correct
  //   when no class gets half the probability.
  //   stats (2): stats[0] += sum of per-sample losses, stats[1] += number of correct argmaxes.
  // Accumulating into stats lets a whole epoch run without a host round trip.
  virtual void softmax_xent(int n, int classes, const float* logits, const float* labels,
                            float* dlogits, float* stats) = 0;

  // One fused Adam step over `count` contiguous parameters.
  virtual void adam_update(size_t count, float* param, const float* grad, float* m, float* v,
                           const AdamStep& step) = 0;

  // ---- optional fast paths; the defaults are correct everywhere, backends may do better ----
  // y = relu(conv(x, w) + b) and y = relu(x w^T + b): the op with its ReLU fused.
  virtual void conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w,
                                   const float* b, float* y);
  virtual void dense_forward_relu(int n, int in, int out, const float* x, const float* w,
                                  const float* b, float* y);

  // Host staging memory for uploads: page-locked on a GPU, ordinary memory here.
  virtual float* host_allocate(size_t count);
  virtual void host_release(float* ptr) noexcept;
  // An upload that may overlap compute: it starts once the work queued before it is done and
  // returns a fence at once. The host buffer stays untouched until upload_fence_wait(fence);
  // work queued after upload_join(fence) sees the data. Default: a plain upload, fence 0.
  virtual uint64_t upload_async(float* dst, const float* host_src, size_t count);
  virtual void upload_join(uint64_t fence) {}
  virtual void upload_fence_wait(uint64_t fence) {}

  // dst row r = src row idx[r]; idx holds row numbers as floats. src (ROWS_SRC, ROW_LEN),
  // idx (ROWS), dst (ROWS, ROW_LEN). Lets a dataset live on the backend.
  virtual void gather_rows(size_t rows, size_t row_len, const float* src, const float* idx,
                           float* dst);

  // Recording and replaying a training step (CUDA Graphs). graph_begin() returns false where
  // the backend cannot record, and the caller runs eagerly. A replay runs the recorded ops
  // again with every dropout seed shifted by seed_delta and Adam's lr and t from `step`.
  virtual bool graph_begin() { return false; }
  virtual int graph_end() { return -1; }
  virtual void graph_replay(int graph, uint64_t seed_delta, const AdamStep& step) {}
  virtual void graph_reset() {}

  // Named ranges for profilers (NVTX on the GPU); no-ops here.
  virtual void range_push(const char* name) {}
  virtual void range_pop() {}
};

// Opens a profiler range for the scope.
class BackendRange {
 public:
  BackendRange(Backend& be, const char* name) : be_(be) { be_.range_push(name); }
  ~BackendRange() { be_.range_pop(); }
  BackendRange(const BackendRange&) = delete;
  BackendRange& operator=(const BackendRange&) = delete;

 private:
  Backend& be_;
};

// RAII owner of one backend allocation. Move-only; never throws from its destructor.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, size_t count) : backend_(&backend), count_(count) {
    if (count) ptr_ = backend.allocate(count);
  }
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept : backend_(o.backend_), ptr_(o.ptr_), count_(o.count_) {
    o.ptr_ = nullptr;
    o.count_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      ptr_ = o.ptr_;
      count_ = o.count_;
      o.ptr_ = nullptr;
      o.count_ = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  float* data() { return ptr_; }
  const float* data() const { return ptr_; }
  size_t size() const { return count_; }
  void reset() noexcept {
    if (ptr_ && backend_) backend_->release(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }

 private:
  Backend* backend_ = nullptr;
  float* ptr_ = nullptr;
  size_t count_ = 0;
};

// Backend selection: "auto" takes CUDA when a device answers, else the CPU.
// `why` receives one human sentence saying which backend was chosen and why.
// Throws scrawl::Error for an unknown name or for "cuda" when no GPU answers.
std::unique_ptr<Backend> backend_create(const std::string& name, std::string* why = nullptr);

// True when this binary was built with the CUDA backend.
bool backend_cuda_compiled();

}  // namespace scrawl
