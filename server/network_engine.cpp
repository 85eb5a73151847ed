// InferenceEngine over host/Network: loads a .scrawl file onto the chosen backend.
// Tested by tests/server (every predict route runs the shipped model through it).
#include <filesystem>
#include <utility>

#include "host/backend.h"
#include "host/conv_dense_plan.h"
#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/model_file.h"
#include "host/network.h"
#include "server/inference.h"

namespace scrawl::server {
namespace {

class NetworkEngine final : public InferenceEngine {
 public:
  NetworkEngine(std::unique_ptr<Backend> backend, const ModelFile& file, std::string name,
                int cpu_threads)
      : backend_(std::move(backend)), net_(file.arch, *backend_), name_(std::move(name)) {
    model_file_to_network(file, net_);
    // The served weights never change, so on the CPU the report's network shape runs as one
    // fused pass that skips the blank background (host/conv_dense_plan.h).
    if (backend_->kind() == BackendKind::Cpu) plan_ = ConvDensePlan::create(net_, cpu_threads);
    const ActShape in = net_.input_shape();
    if (in.c != 1 || in.h != kImageSide || in.w != kImageSide || net_.classes() != kClasses)
      throw FormatError("model takes (" + std::to_string(in.c) + ", " + std::to_string(in.h) +
                        ", " + std::to_string(in.w) + ") and gives " +
                        std::to_string(net_.classes()) +
                        " classes; the server needs (1, 28, 28) and 10");
  }
  void infer(const float* x, int n, float* probs) override {
    if (plan_)
      plan_->predict(x, n, probs);
    else
      net_.predict(x, n, probs);
  }
  std::string device() const override { return backend_->name(); }
  std::string model() const override { return name_; }

 private:
  std::unique_ptr<Backend> backend_;  // declared before net_: the network holds a reference
  Network net_;
  std::string name_;
  std::unique_ptr<ConvDensePlan> plan_;  // null unless CPU and conv2d-relu-flatten-dense
};

}  // namespace

std::unique_ptr<InferenceEngine> network_engine_create(const std::string& model_path,
                                                       const std::string& device,
                                                       std::string* why) {
  const ModelFile file = model_file_read(model_path);
  return network_engine_create(file, std::filesystem::path(model_path).stem().string(), device,
                               why);
}

std::unique_ptr<InferenceEngine> network_engine_create(const ModelFile& file,
                                                       const std::string& name,
                                                       const std::string& device, std::string* why,
                                                       int cpu_threads) {
  std::unique_ptr<Backend> backend = backend_create(device, why);
  if (backend->kind() == BackendKind::Cpu && cpu_threads > 0) {
    backend = cpu_backend_create(cpu_threads);
    if (why) *why += "; inference on " + std::to_string(cpu_threads) + " thread(s)";
  }
  return std::make_unique<NetworkEngine>(std::move(backend), file, name.empty() ? "default" : name,
                                         cpu_threads);
}

}  // namespace scrawl::server
