// Training and evaluation on any backend: batches from BatchLoader, forward, fused softmax
// cross-entropy, backward, one Adam call over the whole parameter block; a live progress bar.
// Tested by tests/unit/test_trainer.cpp (Adam by hand, determinism) and tests/data (real MNIST).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/backend.h"
#include "host/dataset.h"
#include "host/network.h"

namespace scrawl {

struct TrainOptions {
  int epochs = 5;
  int batch = 32;
  float lr = 1e-3f;
  float lr_decay = 1.0f;  // lr for epoch e is lr * lr_decay^e
  uint64_t seed = 1;
  AugmentOptions augment;
  bool progress = true;   // progress bar on stderr
  int eval_batch = 1000;
  // Where the training images live during training: Host streams each batch through two
  // staging buffers (pinned on a GPU) whose uploads overlap compute; Device uploads the whole
  // set once and gathers batches there (no augmentation: that runs on the host). Auto picks
  // Device on a GPU when augmentation is off.
  enum class Placement { Auto, Host, Device };
  Placement placement = Placement::Auto;
  bool graphs = true;     // record the step once and replay it, where the backend can
};

// "auto" | "host" | "device"; throws Error otherwise.
TrainOptions::Placement placement_parse(const std::string& s);

struct EpochReport {
  int epoch = 0;          // 1-based
  double loss = 0;        // mean training loss
  double train_accuracy = 0;
  double test_accuracy = -1;  // -1 when there is no test set
  double test_loss = -1;
  double seconds = 0;     // training time of the epoch (evaluation excluded)
};

struct EvalResult {
  int count = 0;
  double accuracy = 0, loss = 0;
  std::vector<std::vector<int>> confusion;  // [true][predicted], classes x classes
  int second_looks = 0;  // images read again (second_look = true only)
};

class Trainer {
 public:
  Trainer(Network& net, TrainOptions options);
  // Trains; `test` (may be null) is evaluated after each epoch. on_epoch is called per epoch.
  std::vector<EpochReport> fit(const Dataset& train, const Dataset* test,
                               const std::function<void(const EpochReport&)>& on_epoch = {});
  // One optimisation step on a batch already on the backend; returns nothing, stats accumulate.
  void step(int n, const float* x, const float* labels, float lr);
  int64_t steps() const { return t_; }
  // Whether the last fit() placed the data on the backend and replayed recorded steps.
  bool used_device_data() const { return used_device_data_; }
  int64_t replayed_steps() const { return replayed_; }

 private:
  // Runs step t_ on batch slot `slot` (x_[slot], labels_[slot]), replaying a recorded graph
  // for full batches where the backend records them.
  void step_slot(int n, int slot, float lr);
  uint64_t step_seed() const { return opt_.seed * 0x100000001B3ull + uint64_t(t_); }

  Network& net_;
  TrainOptions opt_;
  Buffer m_, v_, stats_;
  int64_t t_ = 0;
  Buffer x_[2], labels_[2];
  int graph_[2] = {-1, -1};
  uint64_t graph_seed_[2] = {0, 0};
  int64_t eager_full_steps_ = 0;
  int64_t replayed_ = 0;
  bool used_device_data_ = false;
};

// Accuracy, mean loss and confusion matrix of the network over a dataset.
// second_look: as images are read (host/vision/second_look.h), not the model alone.
EvalResult evaluate(Network& net, const Dataset& data, int batch = 1000, bool second_look = false);

// Converts dataset images [first, first+n) to floats in [0, 1], (n, 1, rows, cols).
void dataset_to_float(const Dataset& data, int first, int n, float* out);

}  // namespace scrawl
