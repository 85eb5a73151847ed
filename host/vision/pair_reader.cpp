// See pair_reader.h.
#include "host/vision/pair_reader.h"

#include <algorithm>
#include <mutex>
#include <string>

#include "host/error.h"
#include "host/network.h"

namespace scrawl::vision {
namespace {

struct PairNet {
  std::unique_ptr<Backend> backend;  // before net: the network holds a reference
  std::unique_ptr<Network> net;
  std::mutex mu;
};

}  // namespace

PairReader pair_reader_create(std::unique_ptr<Backend> backend, const ModelFile& file) {
  auto s = std::make_shared<PairNet>();
  s->backend = std::move(backend);
  s->net = std::make_unique<Network>(file.arch, *s->backend);
  const ActShape in = s->net->input_shape();
  if (in.c != 1 || in.h != kPairRows || in.w != kPairCols || s->net->classes() != kPairClasses)
    throw FormatError("the pair model takes (" + std::to_string(in.c) + ", " +
                      std::to_string(in.h) + ", " + std::to_string(in.w) + ") and gives " +
                      std::to_string(s->net->classes()) + " classes; a pair reader needs (1, " +
                      std::to_string(kPairRows) + ", " + std::to_string(kPairCols) + ") and " +
                      std::to_string(kPairClasses) + " (see models/pairs.json)");
  model_file_to_network(file, *s->net);
  return [s](const std::vector<PairCrop>& crops) {
    constexpr size_t kSize = size_t(kPairRows) * kPairCols;
    std::vector<float> x(crops.size() * kSize), probs(crops.size() * kPairClasses);
    for (size_t i = 0; i < crops.size(); ++i)
      std::copy(crops[i].pixels.begin(), crops[i].pixels.end(), x.begin() + i * kSize);
    if (!crops.empty()) {
      std::lock_guard<std::mutex> lk(s->mu);
      s->net->predict(x.data(), static_cast<int>(crops.size()), probs.data());
    }
    return probs;
  };
}

}  // namespace scrawl::vision
