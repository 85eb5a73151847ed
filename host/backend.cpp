// Small shared pieces of the Backend interface: Adam's step size and the dropout mask.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "host/backend.h"
#include "host/dropout_hash.h"

namespace scrawl {

float AdamStep::step_size() const {
  const double t_d = static_cast<double>(t);
  return static_cast<float>(lr * std::sqrt(1.0 - std::pow(double(beta2), t_d)) /
                            (1.0 - std::pow(double(beta1), t_d)));
}

float dropout_uniform(uint64_t seed, uint64_t index) { return dropout_hash_uniform(seed, index); }

void Backend::conv2d_forward_relu(const Conv2dDims& d, const float* x, const float* w,
                                  const float* b, float* y) {
  conv2d_forward(d, x, w, b, y);
  relu_forward(size_t(d.n) * d.k * d.out_h() * d.out_w(), y, y);
}

void Backend::dense_forward_relu(int n, int in, int out, const float* x, const float* w,
                                 const float* b, float* y) {
  dense_forward(n, in, out, x, w, b, y);
  relu_forward(size_t(n) * out, y, y);
}

float* Backend::host_allocate(size_t count) {
  void* p = std::calloc(count ? count : 1, sizeof(float));
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

void Backend::host_release(float* ptr) noexcept { std::free(ptr); }

uint64_t Backend::upload_async(float* dst, const float* host_src, size_t count) {
  upload(dst, host_src, count);
  return 0;
}

void Backend::gather_rows(size_t rows, size_t row_len, const float* src, const float* idx,
                          float* dst) {
  // Through download/upload so the default is right for any memory kind, if slow off-host.
  std::vector<float> index(rows), row(row_len);
  download(index.data(), idx, rows);
  for (size_t r = 0; r < rows; ++r)
    copy(dst + r * row_len, src + static_cast<size_t>(index[r]) * row_len, row_len);
}

}  // namespace scrawl
