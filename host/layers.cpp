// The layers: Conv2D, ReLU, MaxPool, Flatten, Dense, Dropout. Each is a thin shell that
// checks shapes and calls Backend ops, so it is written once for every backend.
// Tested by tests/unit/test_layers.cpp (forward vs reference, backward vs finite differences).
#include "host/layers.h"

#include <string>

#include "host/error.h"

namespace scrawl {
namespace {

using nlohmann::json;

int field_int(const json& spec, const char* key, int fallback, int lo, int hi) {
  if (!spec.contains(key)) {
    if (fallback < lo) throw FormatError(std::string("layer field '") + key + "' is required");
    return fallback;
  }
  if (!spec[key].is_number_integer())
    throw FormatError(std::string("layer field '") + key + "' must be an integer");
  const int v = spec[key].get<int>();
  if (v < lo || v > hi)
    throw FormatError(std::string("layer field '") + key + "' = " + std::to_string(v) +
                      " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

class Conv2D final : public Layer {
 public:
  Conv2D(const json& spec, const ActShape& in, int index) : in_(in), index_(index) {
    filters_ = field_int(spec, "filters", -1, 1, 4096);
    kernel_ = field_int(spec, "kernel", -1, 1, 15);
    stride_ = field_int(spec, "stride", 1, 1, 8);
    const std::string padding = spec.value("padding", std::string("valid"));
    if (padding == "same") {
      if (kernel_ % 2 == 0) throw FormatError("conv2d 'same' padding needs an odd kernel");
      pad_ = kernel_ / 2;
    } else if (padding != "valid") {
      throw FormatError("conv2d padding must be 'valid' or 'same', not '" + padding + "'");
    }
    if (dims(1).out_h() < 1 || dims(1).out_w() < 1)
      throw FormatError("conv2d kernel larger than its input");
  }
  std::string type() const override { return "conv2d"; }
  ActShape output_shape() const override { return {filters_, dims(1).out_h(), dims(1).out_w()}; }
  json to_json() const override {
    return {{"type", "conv2d"}, {"filters", filters_}, {"kernel", kernel_}, {"stride", stride_},
            {"padding", pad_ ? "same" : "valid"}};
  }
  std::vector<ParamSpec> param_specs() const override {
    const std::string base = "conv2d_" + std::to_string(index_);
    const int rs = kernel_ * kernel_;
    return {{base + ".weight", {filters_, in_.c, kernel_, kernel_}, in_.c * rs, filters_ * rs, 0},
            {base + ".bias", {filters_}, 0, 0, 0}};
  }
  bool fuse_relu() override { return relu_fused_ = true; }
  void forward(Backend& be, int n, const float* x, float* y, bool, uint64_t) override {
    if (relu_fused_)
      be.conv2d_forward_relu(dims(n), x, weight(params_), bias(params_), y);
    else
      be.conv2d_forward(dims(n), x, weight(params_), bias(params_), y);
  }
  void backward(Backend& be, int n, const float* x, const float*, const float* dy, float* dx,
                uint64_t) override {
    be.conv2d_backward_filter(dims(n), x, dy, weight(grads_), bias(grads_));
    if (dx) be.conv2d_backward_data(dims(n), dy, weight(params_), dx);
  }

 private:
  Conv2dDims dims(int n) const {
    Conv2dDims d;
    d.n = n;
    d.c = in_.c;
    d.h = in_.h;
    d.w = in_.w;
    d.k = filters_;
    d.r = d.s = kernel_;
    d.pad = pad_;
    d.stride = stride_;
    return d;
  }
  float* weight(float* base) const { return base; }
  float* bias(float* base) const {
    return base + static_cast<size_t>(filters_) * in_.c * kernel_ * kernel_;
  }

  ActShape in_;
  int index_;
  int filters_ = 0, kernel_ = 0, stride_ = 1, pad_ = 0;
  bool relu_fused_ = false;
};

class Dense final : public Layer {
 public:
  Dense(const json& spec, const ActShape& in, int index)
      : in_(static_cast<int>(in.size())), index_(index) {
    units_ = field_int(spec, "units", -1, 1, 1 << 16);
  }
  std::string type() const override { return "dense"; }
  ActShape output_shape() const override { return {units_, 1, 1}; }
  json to_json() const override { return {{"type", "dense"}, {"units", units_}}; }
  std::vector<ParamSpec> param_specs() const override {
    const std::string base = "dense_" + std::to_string(index_);
    return {{base + ".weight", {units_, in_}, in_, units_, 0}, {base + ".bias", {units_}, 0, 0, 0}};
  }
  bool fuse_relu() override { return relu_fused_ = true; }
  void forward(Backend& be, int n, const float* x, float* y, bool, uint64_t) override {
    const float* b = params_ + size_t(units_) * in_;
    if (relu_fused_)
      be.dense_forward_relu(n, in_, units_, x, params_, b, y);
    else
      be.dense_forward(n, in_, units_, x, params_, b, y);
  }
  void backward(Backend& be, int n, const float* x, const float*, const float* dy, float* dx,
                uint64_t) override {
    be.dense_backward_params(n, in_, units_, x, dy, grads_, grads_ + size_t(units_) * in_);
    if (dx) be.dense_backward_data(n, in_, units_, dy, params_, dx);
  }

 private:
  int in_, index_, units_ = 0;
  bool relu_fused_ = false;
};

class ReLU final : public Layer {
 public:
  explicit ReLU(const ActShape& in) : shape_(in) {}
  std::string type() const override { return "relu"; }
  ActShape output_shape() const override { return shape_; }
  json to_json() const override { return {{"type", "relu"}}; }
  Storage storage() const override { return Storage::InPlace; }
  void forward(Backend& be, int n, const float* x, float* y, bool, uint64_t) override {
    be.relu_forward(size_t(n) * shape_.size(), x, y);
  }
  void backward(Backend& be, int n, const float*, const float* y, const float* dy, float* dx,
                uint64_t) override {
    if (dx) be.relu_backward(size_t(n) * shape_.size(), y, dy, dx);
  }

 private:
  ActShape shape_;
};

class MaxPool final : public Layer {
 public:
  MaxPool(const json& spec, const ActShape& in) : in_(in) {
    size_ = field_int(spec, "size", 2, 1, 8);
    stride_ = field_int(spec, "stride", size_, 1, 8);
    if (dims(1).out_h() < 1 || dims(1).out_w() < 1)
      throw FormatError("maxpool window larger than its input");
  }
  std::string type() const override { return "maxpool"; }
  ActShape output_shape() const override { return {in_.c, dims(1).out_h(), dims(1).out_w()}; }
  json to_json() const override { return {{"type", "maxpool"}, {"size", size_}, {"stride", stride_}}; }
  void forward(Backend& be, int n, const float* x, float* y, bool, uint64_t) override {
    be.maxpool_forward(dims(n), x, y);
  }
  void backward(Backend& be, int n, const float* x, const float*, const float* dy, float* dx,
                uint64_t) override {
    if (dx) be.maxpool_backward(dims(n), x, dy, dx);
  }

 private:
  Pool2dDims dims(int n) const {
    Pool2dDims d;
    d.n = n;
    d.c = in_.c;
    d.h = in_.h;
    d.w = in_.w;
    d.size = size_;
    d.stride = stride_;
    return d;
  }
  ActShape in_;
  int size_ = 2, stride_ = 2;
};

class Flatten final : public Layer {
 public:
  explicit Flatten(const ActShape& in) : size_(static_cast<int>(in.size())) {}
  std::string type() const override { return "flatten"; }
  ActShape output_shape() const override { return {size_, 1, 1}; }
  json to_json() const override { return {{"type", "flatten"}}; }
  Storage storage() const override { return Storage::Alias; }
  // NCHW is already (N, C*H*W) in memory: nothing to move either way.
  void forward(Backend&, int, const float*, float*, bool, uint64_t) override {}
  void backward(Backend&, int, const float*, const float*, const float*, float*,
                uint64_t) override {}

 private:
  int size_;
};

class Dropout final : public Layer {
 public:
  Dropout(const json& spec, const ActShape& in) : shape_(in) {
    if (!spec.contains("rate") || !spec["rate"].is_number())
      throw FormatError("dropout needs a numeric 'rate'");
    rate_ = spec["rate"].get<float>();
    if (!(rate_ >= 0.0f && rate_ < 1.0f)) throw FormatError("dropout rate must be in [0, 1)");
  }
  std::string type() const override { return "dropout"; }
  ActShape output_shape() const override { return shape_; }
  json to_json() const override { return {{"type", "dropout"}, {"rate", rate_}}; }
  Storage storage() const override { return Storage::InPlace; }
  void forward(Backend& be, int n, const float* x, float* y, bool train, uint64_t seed) override {
    if (train && rate_ > 0.0f) be.dropout_forward(size_t(n) * shape_.size(), rate_, seed, x, y);
    // In evaluation dropout is the identity, and y is x (in place).
  }
  void backward(Backend& be, int n, const float*, const float*, const float* dy, float* dx,
                uint64_t seed) override {
    // The mask is a pure function of (seed, index): applying it again to dy is the backward.
    if (dx && rate_ > 0.0f) be.dropout_forward(size_t(n) * shape_.size(), rate_, seed, dy, dx);
  }

 private:
  ActShape shape_;
  float rate_ = 0.0f;
};

}  // namespace

std::unique_ptr<Layer> layer_create(const json& spec, const ActShape& in, int index) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    throw FormatError("each layer must be an object with a string 'type'");
  const std::string type = spec["type"];
  if (type == "conv2d") return std::make_unique<Conv2D>(spec, in, index);
  if (type == "dense") return std::make_unique<Dense>(spec, in, index);
  if (type == "relu") return std::make_unique<ReLU>(in);
  if (type == "maxpool") return std::make_unique<MaxPool>(spec, in);
  if (type == "flatten") return std::make_unique<Flatten>(in);
  if (type == "dropout") return std::make_unique<Dropout>(spec, in);
  throw FormatError("unknown layer type '" + type +
                    "' (known: conv2d, dense, relu, maxpool, flatten, dropout)");
}

}  // namespace scrawl
