// The layer stack: built from an architecture JSON (models/*.json), run on any Backend.
// Parameters, gradients and both Adam moments each live in one contiguous backend block
// with per-layer views, so Adam is one call and a checkpoint is one copy.
// Tested by tests/unit/test_layers.cpp (forward vs reference, backward vs numerical gradients).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/backend.h"

namespace scrawl {

// Per-sample activation shape (C, H, W); a flat vector is (C, 1, 1).
struct ActShape {
  int c = 1, h = 1, w = 1;
  size_t size() const { return static_cast<size_t>(c) * h * w; }
  bool operator==(const ActShape& o) const { return c == o.c && h == o.h && w == o.w; }
};

// A named parameter tensor of a layer, as it appears in model files.
struct ParamSpec {
  std::string name;        // e.g. "conv2d_0.weight"
  std::vector<int> shape;  // e.g. {64, 1, 3, 3}
  int fan_in = 0, fan_out = 0;  // for Glorot init; 0 for biases (initialised to zero)
  size_t offset = 0;       // in the network's parameter block
  size_t size() const;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string type() const = 0;
  virtual ActShape output_shape() const = 0;
  virtual nlohmann::json to_json() const = 0;
  // Parameters this layer needs (offsets filled in by the Network).
  virtual std::vector<ParamSpec> param_specs() const { return {}; }
  // How the output buffer relates to the input: a fresh buffer; the input buffer itself,
  // overwritten elementwise (ReLU, Dropout); or the input unchanged under a new shape (Flatten).
  enum class Storage { Fresh, InPlace, Alias };
  virtual Storage storage() const { return Storage::Fresh; }
  // n samples; x (N, in), y (N, out). `train` enables dropout. `seed` varies per step.
  virtual void forward(Backend& be, int n, const float* x, float* y, bool train,
                       uint64_t seed) = 0;
  // dx may be nullptr (first layer: no input gradient needed). y is the forward output.
  virtual void backward(Backend& be, int n, const float* x, const float* y, const float* dy,
                        float* dx, uint64_t seed) = 0;
  // Fusing: a conv2d or dense layer followed by a ReLU applies the ReLU in its own forward
  // (Backend::conv2d_forward_relu), and the ReLU layer then skips its forward.
  virtual bool fuse_relu() { return false; }
  void set_forward_skipped() { forward_skipped_ = true; }
  bool forward_skipped() const { return forward_skipped_; }
  // Views into the network's parameter and gradient blocks.
  void bind(float* params, float* grads) {
    params_ = params;
    grads_ = grads;
  }

 protected:
  float* params_ = nullptr;
  float* grads_ = nullptr;
  bool forward_skipped_ = false;
};

// Training options that travel with an architecture (the "train" object of models/*.json).
struct TrainDefaults {
  int epochs = 5;
  int batch = 32;
  float lr = 1e-3f;
  float lr_decay = 1.0f;  // multiply lr by this after each epoch
  bool augment = false;
  float outliers = 0.0f;  // share of augmented samples that are "not a digit" (AugmentOptions)
  float residue = 0.0f;   // share that carry a sliver of a neighbouring digit
  float pen = 0.0f;       // share re-inked with a pen of another weight (AugmentOptions::pen_p)
};

class Network {
 public:
  // Build from an architecture JSON. Throws FormatError with a clear message on bad input.
  Network(const nlohmann::json& arch, Backend& backend);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  static nlohmann::json arch_from_file(const std::string& path);

  Backend& backend() { return *backend_; }
  const nlohmann::json& arch() const { return arch_; }
  std::string name() const;
  ActShape input_shape() const { return input_; }
  int classes() const { return static_cast<int>(output_shape().size()); }
  ActShape output_shape() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  TrainDefaults train_defaults() const;

  // ---- parameters ----
  const std::vector<ParamSpec>& params() const { return specs_; }
  size_t param_count() const { return param_count_; }
  float* param_data() { return params_.data(); }
  float* grad_data() { return grads_.data(); }
  void init_glorot(uint64_t seed);                    // Keras glorot_uniform, zero biases
  std::vector<float> params_to_host() const;          // (param_count)
  void params_from_host(const std::vector<float>& host);

  // ---- running ----
  // Size activation buffers for batches of up to `n`; called automatically, no-op if big enough.
  void reserve(int n);
  int capacity() const { return capacity_; }
  // x (N, C, H, W) on the backend. Returns the backend pointer to the logits (N, classes),
  // valid until the next call.
  const float* forward(int n, const float* x, bool train, uint64_t seed = 0);
  // After forward(train=true): labels (N) on the backend. Computes gradients into grad_data()
  // and accumulates [loss sum, correct count] into stats (2 floats on the backend).
  void backward(int n, const float* x, const float* labels, float* stats, uint64_t seed = 0);

  // Host convenience for inference: x (N, C, H, W) host floats -> probs (N, classes) host.
  void predict(const float* host_x, int n, float* host_probs);

 private:
  Backend* backend_;
  nlohmann::json arch_;
  ActShape input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<ParamSpec> specs_;
  size_t param_count_ = 0;
  Buffer params_, grads_;
  int capacity_ = 0;
  std::vector<Buffer> acts_;          // owned activation buffers, (capacity, size)
  std::vector<float*> outs_;         // outs_[i] = output of layer i (owned or shared)
  std::vector<ActShape> shapes_;     // shapes_[i] = output shape of layer i
  Buffer grad_a_, grad_b_;           // ping-pong activation gradients
  Buffer in_buf_, probs_buf_;  // predict() staging, on a GPU only
  Buffer dlogits_;
};

}  // namespace scrawl
