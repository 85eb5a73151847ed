// The one thing the server needs from the engine: a batch of 28x28 crops in, ten
// probabilities per crop out. NetworkEngine wraps host/Network; tests use small fakes.
// Tested by tests/server (real model through every route; fakes for timing).
#pragma once

#include <memory>
#include <string>

namespace scrawl {
struct ModelFile;
}

namespace scrawl::server {

constexpr int kImageSide = 28;
constexpr int kImagePixels = kImageSide * kImageSide;  // 784
constexpr int kClasses = 10;

class InferenceEngine {
 public:
  virtual ~InferenceEngine() = default;
  // x (N, 1, 28, 28) host floats in [0, 1], white ink on black; probs (N, 10) host.
  // Called from the batcher's one worker thread only, so it need not be thread-safe.
  // May throw; the batcher turns that into a 500 for the requests of that batch.
  virtual void infer(const float* x, int n, float* probs) = 0;
  virtual std::string device() const = 0;  // "cpu" or "cuda"
  virtual std::string model() const = 0;   // the name clients use, e.g. "default"
};

// Loads a .scrawl model file onto the backend named `device` ("auto", "cuda", "cpu").
// The model's name is the file's stem (models/default.scrawl -> "default").
// `why` receives the backend choice sentence. Throws scrawl::Error (FormatError for a bad
// file, UnavailableError or Error for a backend that cannot be had).
std::unique_ptr<InferenceEngine> network_engine_create(const std::string& model_path,
                                                       const std::string& device,
                                                       std::string* why = nullptr);

// The same from a model file already read (serve reads it before listening, to fail fast).
// cpu_threads > 0: when the backend is the CPU, run inference on that many OpenMP threads
// (serving leaves the other cores to the I/O threads that decode and preprocess).
std::unique_ptr<InferenceEngine> network_engine_create(const scrawl::ModelFile& file,
                                                       const std::string& name,
                                                       const std::string& device,
                                                       std::string* why = nullptr,
                                                       int cpu_threads = 0);

}  // namespace scrawl::server
