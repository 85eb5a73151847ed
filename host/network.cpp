// Network: builds the layer stack from an architecture JSON, owns the parameter block and the
// activation buffers, and runs forward/backward on its backend.
// Tested by tests/unit/test_layers.cpp and tests/unit/test_network.cpp.
#include "host/network.h"

#include <cmath>
#include <fstream>
#include <random>

#include "host/error.h"
#include "host/layers.h"

namespace scrawl {

using nlohmann::json;

size_t ParamSpec::size() const {
  size_t n = 1;
  for (int d : shape) n *= static_cast<size_t>(d);
  return n;
}

namespace {

// Per-layer dropout seeds, additive in the step seed so that a recorded CUDA graph replayed
// with a seed shift equals an eager step; the dropout hash itself mixes the bits.
uint64_t mix_seed(uint64_t step_seed, uint64_t layer) {
  return step_seed + 0x9E3779B97F4A7C15ull * (layer + 1);
}

ActShape parse_input(const json& arch) {
  if (!arch.contains("input")) return {1, 28, 28};
  const json& in = arch["input"];
  if (!in.is_array() || in.size() != 3)
    throw FormatError("architecture 'input' must be [C, H, W], e.g. [1, 28, 28]");
  ActShape s;
  for (const auto& v : in)
    if (!v.is_number_integer() || v.get<int>() < 1 || v.get<int>() > 4096)
      throw FormatError("architecture 'input' must hold positive integers");
  s.c = in[0];
  s.h = in[1];
  s.w = in[2];
  return s;
}

}  // namespace

json Network::arch_from_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open architecture file '" + path + "'");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw FormatError("architecture file '" + path + "' is not valid JSON: " + e.what());
  }
}

Network::Network(const json& arch, Backend& backend) : backend_(&backend), arch_(arch) {
  if (!arch.is_object()) throw FormatError("an architecture must be a JSON object");
  if (!arch.contains("layers") || !arch["layers"].is_array() || arch["layers"].empty())
    throw FormatError("an architecture needs a non-empty 'layers' list");
  input_ = parse_input(arch);
  ActShape shape = input_;
  int index = 0;
  const json& list = arch["layers"];
  for (size_t i = 0; i < list.size(); ++i) {
    const json& spec = list[i];
    try {
      layers_.push_back(layer_create(spec, shape, index));
    } catch (const FormatError& e) {
      throw FormatError("layer " + std::to_string(i) + ": " + e.what());
    }
    shape = layers_.back()->output_shape();
    ++index;
    // "activation" on conv2d/dense is shorthand for a following layer; softmax is only
    // allowed last, where it means the network's output is read as probabilities.
    const std::string act = spec.value("activation", std::string("linear"));
    if (act == "relu") {
      layers_.push_back(layer_create(json{{"type", "relu"}}, shape, index++));
    } else if (act == "softmax") {
      if (i + 1 != list.size()) throw FormatError("softmax is only allowed on the last layer");
    } else if (act != "linear") {
      throw FormatError("layer " + std::to_string(i) + ": unknown activation '" + act +
                        "' (known: relu, softmax, linear)");
    }
  }
  for (auto& layer : layers_) {
    for (ParamSpec spec : layer->param_specs()) {
      spec.offset = param_count_;
      param_count_ += spec.size();
      specs_.push_back(spec);
    }
  }
  params_ = Buffer(backend, param_count_);
  grads_ = Buffer(backend, param_count_);
  size_t offset = 0;
  for (auto& layer : layers_) {
    size_t n = 0;
    for (const ParamSpec& spec : layer->param_specs()) n += spec.size();
    layer->bind(params_.data() + offset, grads_.data() + offset);
    offset += n;
  }
  shapes_.clear();
  for (auto& layer : layers_) shapes_.push_back(layer->output_shape());
  for (size_t i = 0; i + 1 < layers_.size(); ++i)
    if (layers_[i + 1]->type() == "relu" && layers_[i]->fuse_relu())
      layers_[i + 1]->set_forward_skipped();
}

Network::~Network() = default;

std::string Network::name() const { return arch_.value("name", std::string("unnamed")); }

ActShape Network::output_shape() const { return layers_.back()->output_shape(); }

TrainDefaults Network::train_defaults() const {
  TrainDefaults t;
  if (!arch_.contains("train")) return t;
  const json& j = arch_["train"];
  t.epochs = j.value("epochs", t.epochs);
  t.batch = j.value("batch", t.batch);
  t.lr = j.value("lr", t.lr);
  t.lr_decay = j.value("lr_decay", t.lr_decay);
  t.augment = j.value("augment", t.augment);
  t.outliers = j.value("outliers", t.outliers);
  t.residue = j.value("residue", t.residue);
  t.pen = j.value("pen", t.pen);
  if (!(t.pen >= 0.0f && t.pen <= 1.0f))
    throw FormatError("architecture: train.pen must be between 0 and 1");
  if (!(t.outliers >= 0.0f && t.residue >= 0.0f && t.outliers + t.residue <= 0.5f))
    throw FormatError("architecture: train.outliers and train.residue must be >= 0 and add up "
                      "to at most 0.5");
  return t;
}

void Network::init_glorot(uint64_t seed) {
  std::vector<float> host(param_count_, 0.0f);
  std::mt19937_64 rng(seed);
  for (const ParamSpec& spec : specs_) {
    if (spec.fan_in == 0) continue;  // biases start at zero
    const double limit = std::sqrt(6.0 / (spec.fan_in + spec.fan_out));
    for (size_t i = 0; i < spec.size(); ++i) {
      // 53 random bits -> [0, 1): the same numbers on every platform, unlike std distributions.
      const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
      host[spec.offset + i] = static_cast<float>((2.0 * u - 1.0) * limit);
    }
  }
  params_from_host(host);
}

std::vector<float> Network::params_to_host() const {
  std::vector<float> host(param_count_);
  backend_->download(host.data(), params_.data(), param_count_);
  return host;
}

void Network::params_from_host(const std::vector<float>& host) {
  if (host.size() != param_count_)
    throw FormatError("parameter count mismatch: got " + std::to_string(host.size()) +
                      ", the network has " + std::to_string(param_count_));
  backend_->upload(params_.data(), host.data(), param_count_);
}

void Network::reserve(int n) {
  if (n <= capacity_) return;
  acts_.clear();
  outs_.assign(layers_.size(), nullptr);
  size_t biggest = input_.size();
  for (size_t i = 0; i < layers_.size(); ++i) {
    biggest = std::max(biggest, shapes_[i].size());
    const Layer::Storage st = layers_[i]->storage();
    // The first layer never writes into the caller's input, so it always gets a buffer.
    if (i > 0 && st != Layer::Storage::Fresh) continue;
    acts_.emplace_back(*backend_, static_cast<size_t>(n) * shapes_[i].size());
  }
  grad_a_ = Buffer(*backend_, static_cast<size_t>(n) * biggest);
  grad_b_ = Buffer(*backend_, static_cast<size_t>(n) * biggest);
  dlogits_ = Buffer(*backend_, static_cast<size_t>(n) * output_shape().size());
  capacity_ = n;
  // outs_ is filled per forward() since layer 0's input changes each call.
}

const float* Network::forward(int n, const float* x, bool train, uint64_t seed) {
  if (n < 1) throw Error("forward() needs at least one sample");
  reserve(n);
  size_t owned = 0;
  const float* in = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = *layers_[i];
    const Layer::Storage st = layer.storage();
    float* out;
    if (i == 0 || st == Layer::Storage::Fresh) {
      out = acts_[owned++].data();
      if (i == 0 && st != Layer::Storage::Fresh)
        backend_->copy(out, in, static_cast<size_t>(n) * shapes_[0].size());
    } else {
      out = const_cast<float*>(in);  // in place or alias: the previous layer's buffer
    }
    const float* layer_in = (i == 0 && st != Layer::Storage::Fresh) ? out : in;
    if (!layer.forward_skipped()) {
      BackendRange range(*backend_, layer.type().c_str());
      layer.forward(*backend_, n, layer_in, out, train, mix_seed(seed, i));
    }
    outs_[i] = out;
    in = out;
  }
  return in;
}

void Network::backward(int n, const float* x, const float* labels, float* stats, uint64_t seed) {
  if (n > capacity_ || outs_.empty()) throw Error("backward() needs a forward() of the same batch");
  const int classes = this->classes();
  backend_->softmax_xent(n, classes, outs_.back(), labels, dlogits_.data(), stats);
  const float* dy = dlogits_.data();
  float* spare[2] = {grad_a_.data(), grad_b_.data()};
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& layer = *layers_[i];
    const Layer::Storage st = layer.storage();
    const float* layer_in = i == 0 ? (st == Layer::Storage::Fresh ? x : outs_[0]) : outs_[i - 1];
    // Fresh layers write their input gradient into whichever spare buffer dy is not in;
    // in-place and alias layers hand it back in dy's own buffer. Layer 0 needs none.
    float* dx = nullptr;
    if (i > 0) {
      if (st == Layer::Storage::Fresh)
        dx = dy == spare[0] ? spare[1] : spare[0];
      else
        dx = const_cast<float*>(dy);
    }
    BackendRange range(*backend_, layer.type().c_str());
    layer.backward(*backend_, n, layer_in, outs_[i], dy, dx, mix_seed(seed, i));
    if (dx) dy = dx;
  }
}

void Network::predict(const float* host_x, int n, float* host_probs) {
  const size_t in_size = input_.size(), out_size = output_shape().size();
  const int classes = static_cast<int>(out_size);
  // On the CPU, chunks small enough that every activation stays in cache (about 4 MB) beat
  // big batches that stream each layer's output through memory; a GPU wants big batches.
  size_t widest = in_size;
  for (const ActShape& s : shapes_) widest = std::max(widest, s.size());
  const int cache_chunk = static_cast<int>((size_t(4) << 20) / (widest * sizeof(float)));
  const bool on_host = backend_->kind() != BackendKind::Cuda;
  const int chunk_cap = on_host ? std::max(8, std::min(1024, cache_chunk)) : 8192;
  for (int done = 0; done < n;) {
    const int m = std::min(chunk_cap, n - done);
    const float* x = host_x + static_cast<size_t>(done) * in_size;
    float* probs = host_probs + static_cast<size_t>(done) * out_size;
    if (on_host) {
      // Host memory is the backend's memory: no staging copies in or out. forward() never
      // writes its input.
      backend_->softmax_forward(m, classes, forward(m, x, false), probs);
    } else {
      if (in_buf_.size() < static_cast<size_t>(m) * in_size) {
        const int cap = std::max(m, std::min(n, chunk_cap));
        in_buf_ = Buffer(*backend_, static_cast<size_t>(cap) * in_size);
        probs_buf_ = Buffer(*backend_, static_cast<size_t>(cap) * out_size);
      }
      backend_->upload(in_buf_.data(), x, m * in_size);
      const float* logits = forward(m, in_buf_.data(), false);
      backend_->softmax_forward(m, classes, logits, probs_buf_.data());
      backend_->download(probs, probs_buf_.data(), m * out_size);
    }
    done += m;
  }
}

}  // namespace scrawl
