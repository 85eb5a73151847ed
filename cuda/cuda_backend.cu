// CudaBackend: host/backend.h on one GPU. Owns the compute and copy streams, the cuBLAS and
// cuDNN handles, the device arena and the workspace; dispatches each convolution pass to the
// custom kernels or cuDNN (per geometry when "auto"); captures and replays CUDA Graphs.
// Tested by tests/gpu (ops vs the reference, graphs vs eager, uploads, a 100-step run).
#include "cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "cuda/adam.cuh"
#include "cuda/common.cuh"
#include "cuda/conv2d.cuh"
#include "cuda/conv2d_cudnn.h"
#include "cuda/dense.cuh"
#include "cuda/elementwise.cuh"
#include "cuda/memory.h"
#include "cuda/pool.cuh"
#include "cuda/softmax_xent.cuh"
#include "host/error.h"

namespace scrawl {
namespace {

using cuda::DeviceBuffer;
using cuda::NvtxRange;
using cuda::PinnedBuffer;

// ---- RAII for the runtime's handles (unique_ptr with deleters; destructors never throw) ----
struct StreamDeleter {
  void operator()(CUstream_st* s) const noexcept { cudaStreamDestroy(s); }
};
struct EventDeleter {
  void operator()(CUevent_st* e) const noexcept { cudaEventDestroy(e); }
};
struct BlasDeleter {
  void operator()(cublasContext* h) const noexcept { cublasDestroy(h); }
};
struct GraphExecDeleter {
  void operator()(CUgraphExec_st* g) const noexcept { cudaGraphExecDestroy(g); }
};
using Stream = std::unique_ptr<CUstream_st, StreamDeleter>;
using Event = std::unique_ptr<CUevent_st, EventDeleter>;
using Blas = std::unique_ptr<cublasContext, BlasDeleter>;
using GraphExec = std::unique_ptr<CUgraphExec_st, GraphExecDeleter>;

Stream stream_create() {
  cudaStream_t s = nullptr;
  // Non-blocking: never serialised behind the legacy default stream other code may use.
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return Stream(s);
}

Event event_create(bool timing) {
  cudaEvent_t e = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
  return Event(e);
}

// What a replayed graph reads instead of its captured arguments (see graph_replay).
struct StepState {
  uint64_t seed_delta;
  float step_size;
};

__global__ void step_state_kernel(StepState* state, uint64_t seed_delta, float step_size) {
  state->seed_delta = seed_delta;
  state->step_size = step_size;
}

// An empty kernel: cudaFuncGetAttributes on it tells whether this build has code for the GPU.
__global__ void probe_kernel() {}

std::string version_string(int v) {  // 12040 -> "12.4"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string compiled_archs() {
#if defined(__CUDA_ARCH_LIST__)
  std::ostringstream s;
  const int list[] = {__CUDA_ARCH_LIST__};
  for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); ++i)
    s << (i ? ", " : "") << "sm_" << list[i] / 10;
  return s.str();
#else
  return "unknown";
#endif
}

enum class ConvAlgo { Custom, Cudnn, Auto };
enum class ConvPath { Custom, Cudnn };
enum class ConvPass { Forward = 0, Data = 1, Filter = 2 };
const char* const kPassNames[] = {"forward", "backward-data", "backward-filter"};

ConvAlgo parse_conv_algo(const std::string& s) {
  if (s == "custom") return ConvAlgo::Custom;
  if (s == "cudnn") return ConvAlgo::Cudnn;
  if (s == "auto") return ConvAlgo::Auto;
  throw Error("unknown convolution algorithm '" + s + "' (use custom, cudnn or auto)");
}

const char* conv_algo_name(ConvAlgo a) {
  return a == ConvAlgo::Custom ? "custom" : a == ConvAlgo::Cudnn ? "cudnn" : "auto";
}

std::string dims_string(const Conv2dDims& d) {
  std::ostringstream s;
  s << "x(" << d.n << "," << d.c << "," << d.h << "," << d.w << ") w(" << d.k << "," << d.c << ","
    << d.r << "," << d.s << ") pad " << d.pad << " stride " << d.stride;
  return s.str();
}

void check_conv_dims(const Conv2dDims& d, const char* op) {
  if (d.n < 0 || d.c < 1 || d.h < 1 || d.w < 1 || d.k < 1 || d.r < 1 || d.s < 1 || d.pad < 0 ||
      d.stride < 1 || d.out_h() < 1 || d.out_w() < 1)
    throw Error(std::string(op) + ": invalid convolution geometry " + dims_string(d));
}

void check_pool_dims(const Pool2dDims& d, const char* op) {
  if (d.n < 0 || d.c < 1 || d.h < 1 || d.w < 1 || d.size < 1 || d.stride < 1 || d.out_h() < 1 ||
      d.out_w() < 1)
    throw Error(std::string(op) + ": invalid pooling geometry");
}

class CudaBackend final : public Backend, public CudaExtensions {
 public:
  CudaBackend(int device, ConvAlgo algo) : device_(device), algo_(algo) {
    CUDA_CHECK(cudaSetDevice(device_));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    int runtime = 0, driver = 0;
    CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    CUDA_CHECK(cudaDriverGetVersion(&driver));
    std::ostringstream desc;
    desc << prop.name << " (sm_" << prop.major << prop.minor << ", " << prop.multiProcessorCount
         << " SMs, " << (prop.totalGlobalMem >> 30) << " GiB), CUDA " << version_string(runtime)
         << " (driver " << version_string(driver) << "), cuDNN " << cudnnGetVersion() / 10000 << "."
         << (cudnnGetVersion() / 100) % 100;
    description_ = desc.str();

    stream_ = stream_create();
    copy_stream_ = stream_create();
    compute_mark_ = event_create(false);
    for (Event& e : upload_done_) e = event_create(false);
    timer_begin_ = event_create(true);
    timer_end_ = event_create(true);

    cublasHandle_t blas = nullptr;
    CUBLAS_CHECK(cublasCreate(&blas));
    blas_.reset(blas);
    CUBLAS_CHECK(cublasSetStream(blas_.get(), stream_.get()));
    // Plain FP32 (no TF32), and a workspace of our own so cuBLAS never allocates while a
    // graph is being captured. 32 MiB is NVIDIA's recommendation for Hopper.
    CUBLAS_CHECK(cublasSetMathMode(blas_.get(), CUBLAS_DEFAULT_MATH));
    blas_workspace_ = DeviceBuffer(size_t(32) << 20);
    CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), blas_workspace_.get(), blas_workspace_.bytes()));
    cudnn_ = std::make_unique<cuda::CudnnConv>(stream_.get());

    step_state_ = DeviceBuffer(sizeof(StepState));
    CUDA_CHECK(cudaMemsetAsync(step_state_.get(), 0, sizeof(StepState), stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  }

  ~CudaBackend() override {
    // Let queued work finish before the memory it uses goes away. Errors are dropped: a
    // destructor must not throw, and the owner is usually unwinding from one already.
    if (capturing_) {
      cudaGraph_t g = nullptr;
      cudaStreamEndCapture(stream_.get(), &g);
      if (g) cudaGraphDestroy(g);
    }
    cudaStreamSynchronize(stream_.get());
    cudaStreamSynchronize(copy_stream_.get());
    graphs_.clear();
  }

  // ---- identity ----
  BackendKind kind() const override { return BackendKind::Cuda; }
  std::string name() const override { return "cuda"; }
  std::string description() const override {
    return description_ + ", conv " + conv_algo_name(algo_);
  }

  // ---- memory ----
  float* allocate(size_t count) override {
    not_capturing("allocate");
    const size_t bytes = count * sizeof(float);
    float* p = static_cast<float*>(arena_.allocate(bytes));
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_.get()));
    return p;
  }

  void release(float* ptr) noexcept override { arena_.release(ptr); }

  void upload(float* dst, const float* host_src, size_t count) override {
    NvtxRange r("upload");
    not_capturing("upload");
    if (!count) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, count * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    // From pageable memory the call returns once the data is staged, so the caller may reuse
    // its buffer. From pinned memory the DMA reads it later: wait, to keep upload()'s
    // contract; the asynchronous path is upload_async().
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, host_src) == cudaSuccess && attr.type == cudaMemoryTypeHost)
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    cudaGetLastError();  // clear a benign error from probing an unknown pointer
  }

  void download(float* host_dst, const float* src, size_t count) override {
    NvtxRange r("download");
    not_capturing("download");
    if (!count) return;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, count * sizeof(float), cudaMemcpyDeviceToHost,
                               stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  }

  void copy(float* dst, const float* src, size_t count) override {
    if (dst == src || !count) return;
    CUDA_CHECK(
        cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, stream_.get()));
  }

  void fill(float* dst, float value, size_t count) override {
    cuda::fill(dst, value, count, stream_.get());
  }

  void synchronize() override {
    not_capturing("synchronize");
    CUDA_CHECK(cudaStreamSynchronize(copy_stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  }

  // ---- convolution ----
  void conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* b,
                      float* y) override {
    NvtxRange r("conv2d_forward");
    conv_forward(d, x, w, b, false, y);
  }

  void conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w, const float* b,
                           float* y) override {
    NvtxRange r("conv2d_forward_relu");
    conv_forward(d, x, w, b, true, y);
  }

  void conv2d_backward_data(const Conv2dDims& d, const float* dy, const float* w,
                            float* dx) override {
    NvtxRange r("conv2d_backward_data");
    check_conv_dims(d, "conv2d_backward_data");
    if (!dx || d.n == 0) return;
    auto run = [&](ConvPath p) {
      if (p == ConvPath::Custom) {
        cuda::conv2d_backward_data(d, dy, w, dx, stream_.get());
      } else {
        void* ws = workspace_bytes(cudnn_->workspace_bytes(d));
        cudnn_->backward_data(d, dy, w, dx, ws, workspace_.bytes());
      }
    };
    run(conv_path(d, ConvPass::Data, run));
  }

  void conv2d_backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                              float* db) override {
    NvtxRange r("conv2d_backward_filter");
    check_conv_dims(d, "conv2d_backward_filter");
    if (d.n == 0) {
      fill(dw, 0.0f, size_t(d.k) * d.c * d.r * d.s);
      if (db) fill(db, 0.0f, size_t(d.k));
      return;
    }
    auto run = [&](ConvPath p) {
      if (p == ConvPath::Custom) {
        float* ws = static_cast<float*>(
            workspace_bytes(cuda::conv2d_backward_filter_workspace(d) * sizeof(float)));
        cuda::conv2d_backward_filter(d, x, dy, dw, ws, stream_.get());
      } else {
        void* ws = workspace_bytes(cudnn_->workspace_bytes(d));
        cudnn_->backward_filter(d, x, dy, dw, ws, workspace_.bytes());
      }
    };
    run(conv_path(d, ConvPass::Filter, run));
    cuda::conv2d_backward_bias(d, dy, db, stream_.get());
  }

  // ---- dense ----
  void dense_forward(int n, int in, int out, const float* x, const float* w, const float* b,
                     float* y) override {
    NvtxRange r("dense_forward");
    cuda::dense_forward(blas_.get(), n, in, out, x, w, b, false, y, stream_.get());
  }

  void dense_forward_relu(int n, int in, int out, const float* x, const float* w, const float* b,
                          float* y) override {
    NvtxRange r("dense_forward_relu");
    cuda::dense_forward(blas_.get(), n, in, out, x, w, b, true, y, stream_.get());
  }

  void dense_backward_data(int n, int in, int out, const float* dy, const float* w,
                           float* dx) override {
    NvtxRange r("dense_backward_data");
    if (!dx) return;
    cuda::dense_backward_data(blas_.get(), n, in, out, dy, w, dx);
  }

  void dense_backward_params(int n, int in, int out, const float* x, const float* dy, float* dw,
                             float* db) override {
    NvtxRange r("dense_backward_params");
    cuda::dense_backward_params(blas_.get(), n, in, out, x, dy, dw, db, stream_.get());
  }

  // ---- element-wise, pooling, softmax ----
  void relu_forward(size_t count, const float* x, float* y) override {
    NvtxRange r("relu_forward");
    cuda::relu_forward(count, x, y, stream_.get());
  }

  void relu_backward(size_t count, const float* y, const float* dy, float* dx) override {
    NvtxRange r("relu_backward");
    cuda::relu_backward(count, y, dy, dx, stream_.get());
  }

  void maxpool_forward(const Pool2dDims& d, const float* x, float* y) override {
    NvtxRange r("maxpool_forward");
    check_pool_dims(d, "maxpool_forward");
    cuda::maxpool_forward(d, x, y, stream_.get());
  }

  void maxpool_backward(const Pool2dDims& d, const float* x, const float* dy, float* dx) override {
    NvtxRange r("maxpool_backward");
    check_pool_dims(d, "maxpool_backward");
    cuda::maxpool_backward(d, x, dy, dx, stream_.get());
  }

  void dropout_forward(size_t count, float rate, uint64_t seed, const float* x, float* y) override {
    NvtxRange r("dropout");
    cuda::dropout(count, rate, seed, capturing_ ? &state()->seed_delta : nullptr, x, y,
                  stream_.get());
  }

  void softmax_forward(int n, int classes, const float* logits, float* probs) override {
    NvtxRange r("softmax_forward");
    cuda::softmax_forward(n, classes, logits, probs, stream_.get());
  }

  void softmax_xent(int n, int classes, const float* logits, const float* labels, float* dlogits,
                    float* stats) override {
    NvtxRange r("softmax_xent");
    float* ws =
        static_cast<float*>(workspace_bytes(cuda::softmax_xent_workspace(n) * sizeof(float)));
    cuda::softmax_xent(n, classes, logits, labels, dlogits, stats, ws, stream_.get());
  }

  void adam_update(size_t count, float* param, const float* grad, float* m, float* v,
                   const AdamStep& step) override {
    NvtxRange r("adam_update");
    cuda::adam_update(count, param, grad, m, v, step.beta1, step.beta2, step.eps, step.step_size(),
                      capturing_ ? &state()->step_size : nullptr, stream_.get());
  }

  // ---- CudaExtensions: convolution path ----
  void set_conv_algo(const std::string& algo) override { algo_ = parse_conv_algo(algo); }
  std::string conv_algo() const override { return conv_algo_name(algo_); }
  std::string conv_report() const override {
    std::string out;
    for (const auto& [key, choice] : auto_choice_) out += choice.report + "\n";
    return out;
  }

  // ---- CudaExtensions: pinned uploads ----
  float* host_allocate(size_t count) override {
    PinnedBuffer buffer(count ? count * sizeof(float) : sizeof(float));
    std::memset(buffer.get(), 0, buffer.bytes());
    float* p = buffer.as<float>();
    pinned_.emplace(p, std::move(buffer));
    return p;
  }

  void host_release(float* ptr) noexcept override {
    if (!ptr) return;
    auto it = pinned_.find(ptr);
    if (it != pinned_.end()) pinned_.erase(it);
  }

  uint64_t upload_async(float* dst, const float* host_src, size_t count) override {
    NvtxRange r("upload_async");
    not_capturing("upload_async");
    // The copy waits for what the compute stream has queued so far, not for what comes next.
    CUDA_CHECK(cudaEventRecord(compute_mark_.get(), stream_.get()));
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_.get(), compute_mark_.get(), 0));
    if (count)
      CUDA_CHECK(cudaMemcpyAsync(dst, host_src, count * sizeof(float), cudaMemcpyHostToDevice,
                                 copy_stream_.get()));
    const uint64_t fence = next_fence_++;
    CUDA_CHECK(cudaEventRecord(upload_event(fence), copy_stream_.get()));
    return fence;
  }

  // A ring of events: a fence whose slot was reused maps to a later copy on the same stream,
  // which finishes after it, so waiting on the slot is still correct (just later).
  void upload_join(uint64_t fence) override {
    if (fence == 0) return;
    CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), upload_event(fence), 0));
  }

  void upload_fence_wait(uint64_t fence) override {
    if (fence == 0) return;
    CUDA_CHECK(cudaEventSynchronize(upload_event(fence)));
  }

  void gather_rows(size_t rows, size_t row_len, const float* src, const float* idx,
                   float* dst) override {
    NvtxRange r("gather_rows");
    cuda::gather_rows(rows, row_len, src, idx, dst, stream_.get());
  }

  // ---- CudaExtensions: graphs ----
  bool graph_begin() override {
    not_capturing("graph_begin");
    // Thread-local mode: a forbidden call (cudaMalloc, a sync) from this thread fails loudly
    // instead of silently breaking the capture.
    CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
    capturing_ = true;
    arena_.hold_releases(true);
    return true;
  }

  int graph_end() override {
    if (!capturing_) throw Error("graph_end() without graph_begin()");
    cudaGraph_t graph = nullptr;
    const cudaError_t err = cudaStreamEndCapture(stream_.get(), &graph);
    capturing_ = false;
    if (err != cudaSuccess && graph) cudaGraphDestroy(graph);
    CUDA_CHECK(err);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_CHECK(inst);
    graphs_.emplace_back(exec);
    return static_cast<int>(graphs_.size() - 1);
  }

  void graph_replay(int graph, uint64_t seed_delta, const AdamStep& step) override {
    NvtxRange r("graph_replay");
    not_capturing("graph_replay");
    if (graph < 0 || graph >= static_cast<int>(graphs_.size()) || !graphs_[graph])
      throw Error("graph_replay: no graph " + std::to_string(graph));
    // Kernel arguments are copied at launch, so the host may change them right after.
    step_state_kernel<<<1, 1, 0, stream_.get()>>>(state(), seed_delta, step.step_size());
    CUDA_LAUNCH_CHECK();
    CUDA_CHECK(cudaGraphLaunch(graphs_[graph].get(), stream_.get()));
  }

  void graph_reset() override {
    if (capturing_) {
      cudaGraph_t g = nullptr;
      cudaStreamEndCapture(stream_.get(), &g);
      if (g) cudaGraphDestroy(g);
      capturing_ = false;
      cudaGetLastError();
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    graphs_.clear();
    retired_workspaces_.clear();
    arena_.hold_releases(false);
  }

  // ---- CudaExtensions: profiling and accounting ----
  void range_push(const char* name) override { nvtxRangePushA(name); }
  void range_pop() override { nvtxRangePop(); }
  size_t device_bytes_reserved() const override {
    return arena_.bytes_reserved() + workspace_.bytes() + blas_workspace_.bytes();
  }
  size_t device_malloc_calls() const override { return arena_.cuda_malloc_calls() + ws_grows_; }

 private:
  struct AutoChoice {
    ConvPath path;
    std::string report;
  };
  using ChoiceKey = std::array<int, 10>;

  StepState* state() { return step_state_.as<StepState>(); }

  cudaEvent_t upload_event(uint64_t fence) {
    return upload_done_[fence % upload_done_.size()].get();
  }

  void not_capturing(const char* op) const {
    if (capturing_)
      throw Error(std::string(op) + "() is not allowed while a CUDA Graph is being captured");
  }

  // At least `bytes` of scratch (nullptr when 0). Growing synchronises and reallocates, so
  // it must happen in an eager step, never inside a capture. Old blocks that a recorded graph
  // may point to are kept until graph_reset().
  void* workspace_bytes(size_t bytes) {
    if (bytes == 0) return workspace_.get();
    if (bytes > workspace_.bytes()) {
      if (capturing_)
        throw Error(
            "a CUDA Graph capture needs more workspace than an eager step has set up; "
            "run one eager step with the same shapes before graph_begin()");
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      const size_t grown = std::max(bytes, workspace_.bytes() + workspace_.bytes() / 2);
      if (!graphs_.empty()) retired_workspaces_.push_back(std::move(workspace_));
      workspace_ = DeviceBuffer(grown);
      ++ws_grows_;
    }
    return workspace_.get();
  }

  void conv_forward(const Conv2dDims& d, const float* x, const float* w, const float* b, bool relu,
                    float* y) {
    check_conv_dims(d, "conv2d_forward");
    if (d.n == 0) return;
    auto run = [&](ConvPath p) {
      if (p == ConvPath::Custom) {
        cuda::conv2d_forward(d, x, w, b, relu, y, stream_.get());
      } else {
        void* ws = workspace_bytes(cudnn_->workspace_bytes(d));
        cudnn_->forward(d, x, w, y, ws, workspace_.bytes());
        cuda::bias_act(d.n, d.k, size_t(d.out_h()) * d.out_w(), b, relu, y, stream_.get());
      }
    };
    run(conv_path(d, ConvPass::Forward, run));
  }

  // The path for this geometry and pass. In "auto", the first sight of a (geometry, pass)
  // times both paths on the caller's own buffers (every pass overwrites its outputs, so
  // running it extra times is harmless) and keeps the faster; the caller then runs it once
  // more. Inside a capture nothing can be timed, so an unseen geometry takes cuDNN.
  template <typename Run>
  ConvPath conv_path(const Conv2dDims& d, ConvPass pass, Run& run) {
    if (algo_ == ConvAlgo::Custom) return ConvPath::Custom;
    if (algo_ == ConvAlgo::Cudnn) return ConvPath::Cudnn;
    const ChoiceKey key{d.n, d.c, d.h, d.w, d.k, d.r, d.s, d.pad, d.stride, static_cast<int>(pass)};
    auto it = auto_choice_.find(key);
    if (it != auto_choice_.end()) return it->second.path;
    if (capturing_) return ConvPath::Cudnn;

    NvtxRange r("conv auto-tune");
    constexpr int kReps = 3;
    auto time_ms = [&](ConvPath p) {
      run(p);  // warm-up: plans, workspace, caches
      CUDA_CHECK(cudaEventRecord(timer_begin_.get(), stream_.get()));
      for (int i = 0; i < kReps; ++i) run(p);
      CUDA_CHECK(cudaEventRecord(timer_end_.get(), stream_.get()));
      CUDA_CHECK(cudaEventSynchronize(timer_end_.get()));
      float elapsed = 0;
      CUDA_CHECK(cudaEventElapsedTime(&elapsed, timer_begin_.get(), timer_end_.get()));
      return elapsed / kReps;
    };
    const float custom_ms = time_ms(ConvPath::Custom);
    std::ostringstream report;
    report.precision(1);
    report << std::fixed << "conv " << dims_string(d) << " " << kPassNames[int(pass)] << ": custom "
           << custom_ms * 1000 << " us, cudnn ";
    ConvPath best = ConvPath::Custom;
    // cuDNN may refuse a geometry (no algorithm, workspace cap); the custom kernels take
    // every geometry, so they are the fallback rather than an error.
    try {
      const float cudnn_ms = time_ms(ConvPath::Cudnn);
      if (cudnn_ms < custom_ms) best = ConvPath::Cudnn;
      report << cudnn_ms * 1000 << " us (" << cudnn_->algorithms(d) << ")";
    } catch (const Error& e) {
      report << "unavailable (" << e.what() << ")";
    }
    report << " -> " << (best == ConvPath::Custom ? "custom" : "cudnn");
    auto_choice_.emplace(key, AutoChoice{best, report.str()});
    return best;
  }

  int device_;
  ConvAlgo algo_;
  std::string description_;
  // Declaration order is destruction order reversed: streams outlive everything using them.
  Stream stream_, copy_stream_;
  Event compute_mark_, timer_begin_, timer_end_;
  std::array<Event, 16> upload_done_;
  uint64_t next_fence_ = 1;
  DeviceBuffer blas_workspace_;  // declared first: outlives the handle that uses it
  Blas blas_;
  std::unique_ptr<cuda::CudnnConv> cudnn_;
  cuda::DeviceArena arena_;
  DeviceBuffer workspace_;
  std::vector<DeviceBuffer> retired_workspaces_;
  size_t ws_grows_ = 0;
  DeviceBuffer step_state_;
  std::unordered_map<float*, PinnedBuffer> pinned_;
  std::map<ChoiceKey, AutoChoice> auto_choice_;
  std::vector<GraphExec> graphs_;
  bool capturing_ = false;
};

}  // namespace

bool cuda_device_available(std::string* why) {
  auto say = [&](const std::string& s) {
    if (why) *why = s;
  };
  try {
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    if (driver == 0) {
      say("no NVIDIA driver found (libcuda.so.1 is not installed or cannot be loaded)");
      return false;
    }
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err == cudaErrorInsufficientDriver) {
      cudaGetLastError();
      say("the NVIDIA driver supports CUDA " + version_string(driver) +
          ", older than this build's CUDA runtime " + version_string(runtime) +
          "; update the driver");
      return false;
    }
    if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
      cudaGetLastError();
      say("the NVIDIA driver reports no CUDA device (is CUDA_VISIBLE_DEVICES empty?)");
      return false;
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      say(std::string("CUDA cannot list devices: ") + cudaGetErrorName(err) + ": " +
          cudaGetErrorString(err));
      return false;
    }
    cudaDeviceProp prop{};
    err = cudaGetDeviceProperties(&prop, 0);
    if (err == cudaSuccess) err = cudaSetDevice(0);
    if (err == cudaSuccess) err = cudaFree(nullptr);  // creates the context: busy GPUs fail here
    if (err != cudaSuccess) {
      cudaGetLastError();
      say(std::string("CUDA device 0 does not answer: ") + cudaGetErrorName(err) + ": " +
          cudaGetErrorString(err));
      return false;
    }
    cudaFuncAttributes attr{};
    err = cudaFuncGetAttributes(&attr, probe_kernel);
    if (err != cudaSuccess) {
      cudaGetLastError();
      say(std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
          std::to_string(prop.minor) + ") cannot run this build's kernels (built for " +
          compiled_archs() + "): " + cudaGetErrorString(err));
      return false;
    }
    say(std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) +
        ", driver CUDA " + version_string(driver) + ")");
    return true;
  } catch (const std::exception& e) {
    say(std::string("CUDA probe failed: ") + e.what());
    return false;
  } catch (...) {
    say("CUDA probe failed");
    return false;
  }
}

std::unique_ptr<Backend> cuda_backend_create(int device, const std::string& conv_algo) {
  ConvAlgo algo = parse_conv_algo(conv_algo);
  if (algo == ConvAlgo::Auto) {
    if (const char* env = std::getenv("SCRAWL_CONV_ALGO"); env && *env) {
      try {
        algo = parse_conv_algo(env);
      } catch (const Error& e) {
        throw Error(std::string("SCRAWL_CONV_ALGO: ") + e.what());
      }
    }
  }
  std::string why;
  if (!cuda_device_available(&why)) throw UnavailableError("no usable CUDA device: " + why);
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    throw UnavailableError("CUDA device " + std::to_string(device) + " does not exist (" +
                           std::to_string(count) + " found)");
  return std::make_unique<CudaBackend>(device, algo);
}

}  // namespace scrawl
