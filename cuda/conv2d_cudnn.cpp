// CudnnConv (see conv2d_cudnn.h): the legacy cuDNN convolution API, still shipped and
// supported in cuDNN 9, with one Plan (descriptors + chosen algorithms) per geometry.
// Tested by tests/gpu/test_cuda_ops.cpp ("cudnn" variants of every convolution pass).
#include "cuda/conv2d_cudnn.h"

#include <vector>

#include "cuda/common.cuh"

namespace scrawl::cuda {
namespace {

// cuDNN may ask for large workspaces for marginal gains; beyond this we take a leaner algo.
constexpr size_t kMaxWorkspace = size_t(256) << 20;

struct TensorDescDeleter {
  void operator()(cudnnTensorStruct* p) const noexcept { cudnnDestroyTensorDescriptor(p); }
};
struct FilterDescDeleter {
  void operator()(cudnnFilterStruct* p) const noexcept { cudnnDestroyFilterDescriptor(p); }
};
struct ConvDescDeleter {
  void operator()(cudnnConvolutionStruct* p) const noexcept {
    cudnnDestroyConvolutionDescriptor(p);
  }
};

bool is_tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// Picks from cuDNN's heuristic ranking: the best-ranked algorithm that runs, fits the
// workspace cap, uses plain FP32 FMA math and is deterministic; failing that, relaxes
// determinism, then takes the first one that runs at all.
template <typename Perf>
const Perf& choose(const std::vector<Perf>& perf, int count, const char* pass) {
  auto fits = [&](const Perf& p, bool need_det, bool need_fma) {
    return p.status == CUDNN_STATUS_SUCCESS && p.memory <= kMaxWorkspace &&
           (!need_det || p.determinism == CUDNN_DETERMINISTIC) &&
           (!need_fma || !is_tensor_op(p.mathType));
  };
  for (int pass_i = 0; pass_i < 3; ++pass_i)
    for (int i = 0; i < count; ++i)
      if (fits(perf[i], pass_i == 0, pass_i < 2)) return perf[i];
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return perf[i];
  throw Error(std::string("cuDNN offers no usable ") + pass + " convolution algorithm");
}

}  // namespace

struct CudnnConv::Plan {
  std::unique_ptr<cudnnTensorStruct, TensorDescDeleter> x, y;
  std::unique_ptr<cudnnFilterStruct, FilterDescDeleter> w;
  std::unique_ptr<cudnnConvolutionStruct, ConvDescDeleter> conv;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t data{};
  cudnnConvolutionBwdFilterAlgo_t filter{};
  size_t fwd_bytes = 0, data_bytes = 0, filter_bytes = 0;
};

CudnnConv::CudnnConv(cudaStream_t stream) {
  CUDNN_CHECK(cudnnCreate(&handle_));
  CUDNN_CHECK(cudnnSetStream(handle_, stream));
}

CudnnConv::~CudnnConv() {
  plans_.clear();
  if (handle_) cudnnDestroy(handle_);
}

CudnnConv::Plan& CudnnConv::plan(const Conv2dDims& d) {
  const Key key{d.n, d.c, d.h, d.w, d.k, d.r, d.s, d.pad, d.stride};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  auto p = std::make_unique<Plan>();
  cudnnTensorDescriptor_t td;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&td));
  p->x.reset(td);
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&td));
  p->y.reset(td);
  cudnnFilterDescriptor_t fd;
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&fd));
  p->w.reset(fd);
  cudnnConvolutionDescriptor_t cd;
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
  p->conv.reset(cd);

  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d.n, d.c,
                                         d.h, d.w));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d.k, d.c,
                                         d.r, d.s));
  // Cross-correlation, as every deep-learning framework (and the reference) computes it.
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv.get(), d.pad, d.pad, d.stride, d.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FMA only: TF32 tensor cores would cost ~3 decimal digits against the reference.
  CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv.get(), CUDNN_FMA_MATH));
  int on = 0, ok = 0, oh = 0, ow = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv.get(), p->x.get(), p->w.get(), &on, &ok,
                                                    &oh, &ow));
  if (on != d.n || ok != d.k || oh != d.out_h() || ow != d.out_w())
    throw Error("cuDNN computes a different convolution output shape than Conv2dDims");
  CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p->y.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, on, ok, oh, ow));

  int max_count = 0, count = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(max_count);
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle_, p->x.get(), p->w.get(), p->conv.get(),
                                                     p->y.get(), max_count, &count, fwd.data()));
  const auto& f = choose(fwd, count, "forward");
  p->fwd = f.algo;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
      handle_, p->x.get(), p->w.get(), p->conv.get(), p->y.get(), p->fwd, &p->fwd_bytes));

  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle_, &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(max_count);
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      handle_, p->w.get(), p->y.get(), p->conv.get(), p->x.get(), max_count, &count, data.data()));
  p->data = choose(data, count, "backward-data").algo;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      handle_, p->w.get(), p->y.get(), p->conv.get(), p->x.get(), p->data, &p->data_bytes));

  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle_, &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(max_count);
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle_, p->x.get(), p->y.get(),
                                                            p->conv.get(), p->w.get(), max_count,
                                                            &count, filter.data()));
  p->filter = choose(filter, count, "backward-filter").algo;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      handle_, p->x.get(), p->y.get(), p->conv.get(), p->w.get(), p->filter, &p->filter_bytes));

  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

size_t CudnnConv::workspace_bytes(const Conv2dDims& d) {
  const Plan& p = plan(d);
  return std::max(p.fwd_bytes, std::max(p.data_bytes, p.filter_bytes));
}

std::string CudnnConv::algorithms(const Conv2dDims& d) {
  const Plan& p = plan(d);
  return "fwd=" + std::to_string(static_cast<int>(p.fwd)) +
         " data=" + std::to_string(static_cast<int>(p.data)) +
         " filter=" + std::to_string(static_cast<int>(p.filter));
}

void CudnnConv::forward(const Conv2dDims& d, const float* x, const float* w, float* y,
                        void* workspace, size_t workspace_bytes) {
  Plan& p = plan(d);
  if (workspace_bytes < p.fwd_bytes) throw Error("cuDNN forward: workspace too small");
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, p.x.get(), x, p.w.get(), w, p.conv.get(),
                                      p.fwd, workspace, workspace_bytes, &zero, p.y.get(), y));
}

void CudnnConv::backward_data(const Conv2dDims& d, const float* dy, const float* w, float* dx,
                              void* workspace, size_t workspace_bytes) {
  Plan& p = plan(d);
  if (workspace_bytes < p.data_bytes) throw Error("cuDNN backward data: workspace too small");
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &one, p.w.get(), w, p.y.get(), dy, p.conv.get(),
                                           p.data, workspace, workspace_bytes, &zero, p.x.get(),
                                           dx));
}

void CudnnConv::backward_filter(const Conv2dDims& d, const float* x, const float* dy, float* dw,
                                void* workspace, size_t workspace_bytes) {
  Plan& p = plan(d);
  if (workspace_bytes < p.filter_bytes) throw Error("cuDNN backward filter: workspace too small");
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &one, p.x.get(), x, p.y.get(), dy,
                                             p.conv.get(), p.filter, workspace, workspace_bytes,
                                             &zero, p.w.get(), dw));
}

}  // namespace scrawl::cuda
