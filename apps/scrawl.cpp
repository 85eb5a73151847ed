// The `scrawl` command line: train, eval, predict, bench (and serve, when the server is built).
// Library code throws typed errors; this file alone turns them into messages and exit codes.
// Exercised end to end by tests/unit/test_cli.cpp.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core/utils/logger.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "apps/common.h"
#include "host/cpu_backend.h"
#include "host/dataset.h"
#include "host/error.h"
#include "host/model_file.h"
#include "host/network.h"
#include "host/trainer.h"
#include "host/vision/cut_samples.h"
#include "host/vision/pair_reader.h"
#include "host/vision/preprocess.h"
#include "host/vision/reading.h"
#include "host/vision/second_look.h"

#if defined(SCRAWL_WITH_SERVER)
#include "server/serve.h"
#endif

namespace scrawl::app {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- train
struct TrainArgs {
  std::string data, arch, out, device = "auto";
  int epochs = 0, batch = 0;
  float lr = 0, lr_decay = 0;
  uint64_t seed = 1;
  bool json_out = false, quiet = false;
  std::string augment;  // "", "on", "off": empty = the architecture's default
  float outliers = -1;  // < 0: the architecture's default
  float residue = -1;   // likewise
  float pen = -1;       // likewise
  std::string init;     // start from this model file's weights instead of Glorot
  std::string placement = "auto";
  bool no_graphs = false;
  int cut_rows = 0;  // rows read by the splitter, whose crops join the training set (needs init)
  int pairs = 0;     // > 0: train the pair reader on this many pairs of touching training digits
};

// Number mode's classifier: the network's best probability for each crop.
vision::Classifier segment_classifier(Network& net) {
  return [&net](const std::vector<vision::DigitCrop>& crops) {
    std::vector<float> x(crops.size() * 784), probs(crops.size() * 10);
    for (size_t i = 0; i < crops.size(); ++i)
      std::copy(crops[i].pixels.begin(), crops[i].pixels.end(), x.begin() + i * 784);
    if (!crops.empty()) net.predict(x.data(), static_cast<int>(crops.size()), probs.data());
    return vision::crop_confidences(probs.data(), crops.size());
  };
}

int train_run(const TrainArgs& a) {
  const json arch = Network::arch_from_file(a.arch);
  std::string why;
  auto backend = backend_create(a.device, &why);
  std::fprintf(stderr, "scrawl: %s\n", why.c_str());
  Network net(arch, *backend);
  const TrainDefaults d = net.train_defaults();
  TrainOptions opt;
  opt.epochs = a.epochs > 0 ? a.epochs : d.epochs;
  opt.batch = a.batch > 0 ? a.batch : d.batch;
  opt.lr = a.lr > 0 ? a.lr : d.lr;
  opt.lr_decay = a.lr_decay > 0 ? a.lr_decay : d.lr_decay;
  opt.seed = a.seed;
  opt.augment.enabled = a.augment.empty() ? d.augment : a.augment == "on";
  opt.augment.outlier_p = a.outliers >= 0 ? a.outliers : d.outliers;
  opt.augment.residue_p = a.residue >= 0 ? a.residue : d.residue;
  opt.augment.pen_p = a.pen >= 0 ? a.pen : d.pen;
  if (opt.augment.outlier_p + opt.augment.residue_p > 0.5f)
    throw Error("the outlier and residue shares must add up to at most 0.5");
  if (!opt.augment.enabled && opt.augment.outlier_p + opt.augment.residue_p > 0.0f)
    std::fprintf(stderr, "scrawl: outlier and residue samples need augmentation: not used\n");
  opt.progress = !a.quiet;
  opt.placement = placement_parse(a.placement);
  opt.graphs = !a.no_graphs;
  if (a.cut_rows > 0 && a.init.empty())
    throw Error("--cut-rows needs --init: the crops are those the model's own cuts leave");
  const ActShape in = net.input_shape();
  const bool pair_shaped = net.classes() == vision::kPairClasses && in.h == vision::kPairRows &&
                           in.w == vision::kPairCols;
  if (a.pairs == 0 && pair_shaped)
    throw Error("'" + net.name() + "' reads pairs of digits (28x56, " +
                std::to_string(vision::kPairClasses) +
                " classes): train it on touching pairs with --pairs N, e.g. --pairs 150000");
  if (a.pairs > 0) {
    if (!pair_shaped)
      throw Error("--pairs trains the pair reader: the architecture must read (1, " +
                  std::to_string(vision::kPairRows) + ", " + std::to_string(vision::kPairCols) +
                  ") into " + std::to_string(vision::kPairClasses) +
                  " classes (see models/pairs.json)");
    if (a.cut_rows > 0) throw Error("--pairs and --cut-rows train different models");
  }
  Dataset train = mnist_load(a.data, true);
  Dataset test = mnist_load(a.data, false);
  if (a.pairs > 0) {
    // Touching pairs of training digits for training, of test digits for the figures.
    const auto c0 = Clock::now();
    std::fprintf(stderr, "scrawl: rendering %d pairs of touching digits...\n", a.pairs);
    train = vision::pair_samples(train, a.pairs, a.seed ^ 0x70616972u);
    test = vision::pair_samples(test, std::clamp(a.pairs / 10, 1000, 10000), a.seed ^ 0x74657374u);
    std::fprintf(stderr, "scrawl: %d training and %d test pairs (%.1f s)\n", train.count,
                 test.count, std::chrono::duration<double>(Clock::now() - c0).count());
  }
  auto share = [&](float p, const char* what) {
    return opt.augment.enabled && p > 0
               ? ", " + std::to_string(int(std::lround(p * 100))) + "% " + what
               : std::string();
  };
  std::fprintf(
      stderr,
      "scrawl: training '%s' (%zu parameters) on %d images, %d epochs, batch %d, "
      "lr %g%s%s%s, seed %llu\n",
      net.name().c_str(), net.param_count(), train.count, opt.epochs, opt.batch, double(opt.lr),
      opt.augment.enabled ? ", augmented" : "", share(opt.augment.outlier_p, "outliers").c_str(),
      share(opt.augment.pen_p, "re-inked").c_str(), static_cast<unsigned long long>(opt.seed));
  net.init_glorot(opt.seed);
  if (!a.init.empty()) {
    // Names and shapes are checked against the architecture: a mismatch is a clear error.
    model_file_to_network(model_file_read(a.init), net);
    std::fprintf(stderr, "scrawl: starting from the weights of %s\n", a.init.c_str());
  }
  if (a.cut_rows > 0) {
    vision::CutSampleStats cut_stats;
    // The splitter's crops of rows of training digits, read with the starting weights.
    const auto c0 = Clock::now();
    const Dataset cuts = vision::cut_samples(train, a.cut_rows, opt.seed ^ 0x637574u,
                                             segment_classifier(net), 2, &cut_stats);
    train.images.insert(train.images.end(), cuts.images.begin(), cuts.images.end());
    train.labels.insert(train.labels.end(), cuts.labels.begin(), cuts.labels.end());
    train.count += cuts.count;
    std::fprintf(stderr,
                 "scrawl: %d rows read by the splitter (%.1f s): %d crops asked about, %d kept "
                 "as digits, %d as not digits; training on %d images\n",
                 cut_stats.rows, std::chrono::duration<double>(Clock::now() - c0).count(),
                 cut_stats.asked, cut_stats.digits, cut_stats.outliers, train.count);
  }
  Trainer trainer(net, opt);
  const auto t0 = Clock::now();
  const auto reports = trainer.fit(train, &test, [](const EpochReport& r) {
    std::printf("epoch %d: loss %.4f  train acc %.4f  test acc %.4f  test loss %.4f  %.1f s\n",
                r.epoch, r.loss, r.train_accuracy, r.test_accuracy, r.test_loss, r.seconds);
    std::fflush(stdout);
  });
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  double train_seconds = 0;
  json epochs = json::array();
  for (const auto& r : reports) {
    train_seconds += r.seconds;
    epochs.push_back({{"epoch", r.epoch}, {"loss", r.loss}, {"train_accuracy", r.train_accuracy},
                      {"test_accuracy", r.test_accuracy}, {"test_loss", r.test_loss},
                      {"seconds", r.seconds}});
  }
  const json meta = {
      {"trained_by", "scrawl train"},
      {"epochs", opt.epochs},
      {"batch", opt.batch},
      {"lr", opt.lr},
      {"lr_decay", opt.lr_decay},
      {"seed", opt.seed},
      {"augment", opt.augment.enabled},
      {"init", a.init.empty() ? json(nullptr) : json(std::filesystem::path(a.init).filename())},
      {"outliers", opt.augment.enabled ? opt.augment.outlier_p : 0.0f},
      {"residue", opt.augment.enabled ? opt.augment.residue_p : 0.0f},
      {"pen", opt.augment.enabled ? opt.augment.pen_p : 0.0f},
      {"cut_rows", a.cut_rows},
      {"pairs", a.pairs},
      {"device", backend->name()},
      {"train_seconds", train_seconds},
      {"test_accuracy", reports.back().test_accuracy}};
  model_file_write(a.out, model_file_from_network(net, meta));
  std::fprintf(stderr, "scrawl: wrote %s (test accuracy %.4f, %.1f s)\n", a.out.c_str(),
               reports.back().test_accuracy, total);
  if (a.json_out) {
    json summary = meta;
    summary["model"] = a.out;
    summary["epochs_detail"] = epochs;
    summary["total_seconds"] = total;
    std::printf("%s\n", summary.dump().c_str());
  }
  return 0;
}

// ---------------------------------------------------------------- eval
int eval_run(const std::string& model, const std::string& data, const std::string& device,
             bool json_out, bool second_look) {
  LoadedModel m = model_load(model, device, json_out);
  const Dataset test = mnist_load(data, false);
  const EvalResult r = evaluate(*m.net, test, 1000, second_look);
  std::vector<double> precision(10), recall(10);
  for (int c = 0; c < 10; ++c) {
    int tp = r.confusion[c][c], row = 0, col = 0;
    for (int k = 0; k < 10; ++k) {
      row += r.confusion[c][k];
      col += r.confusion[k][c];
    }
    recall[c] = row ? double(tp) / row : 0.0;
    precision[c] = col ? double(tp) / col : 0.0;
  }
  if (json_out) {
    json conf = json::array();
    for (const auto& row : r.confusion) conf.push_back(std::vector<int>(row.begin(), row.end()));
    std::printf("%s\n", json({{"model", m.path}, {"count", r.count}, {"accuracy", r.accuracy},
                              {"loss", r.loss}, {"confusion", conf}, {"precision", precision},
                              {"recall", recall}, {"second_look", second_look},
                              {"second_looks", r.second_looks}})
                            .dump()
                            .c_str());
    return 0;
  }
  std::printf("model     %s\nimages    %d\naccuracy  %.4f\nloss      %.4f\n", m.path.c_str(),
              r.count, r.accuracy, r.loss);
  if (second_look)
    std::printf("second look: %d images the model was unsure of were read again\n",
                r.second_looks);
  std::printf("\n");
  std::printf("confusion (rows: true digit, columns: predicted)\n     ");
  for (int c = 0; c < 10; ++c) std::printf("%6d", c);
  std::printf("\n");
  for (int t = 0; t < 10; ++t) {
    std::printf("%4d ", t);
    for (int p = 0; p < 10; ++p) std::printf("%6d", r.confusion[t][p]);
    std::printf("\n");
  }
  std::printf("\ndigit  precision  recall\n");
  for (int c = 0; c < 10; ++c) std::printf("%5d  %9.4f  %6.4f\n", c, precision[c], recall[c]);
  return 0;
}

// ---------------------------------------------------------------- predict
int predict_run(const std::string& model, const std::string& pair_model,
                const std::string& mode_name, const std::string& device, bool json_out,
                const std::vector<std::string>& files) {
  const vision::ReadMode mode = vision::read_mode_parse(mode_name);
  LoadedModel m = model_load(model, device, json_out);
  Network& net = *m.net;
  const vision::Classifier classify = segment_classifier(net);
  vision::PairReader read_pair;
  if (mode == vision::ReadMode::Number) {
    const std::string path = pair_model_path(pair_model);
    if (!path.empty())
      read_pair = vision::pair_reader_create(backend_create(device), model_file_read(path));
  }
  int rejected = 0;
  for (const std::string& file : files) {
    json out = {{"file", file}};
    try {
      const cv::Mat image = vision::image_read(file);
      std::vector<vision::DigitCrop> crops;
      if (mode == vision::ReadMode::Number)
        crops = vision::number_segment(image, classify, read_pair);
      else
        crops.push_back(vision::digit_preprocess(image));
      std::vector<float> x(crops.size() * 784), probs(crops.size() * 10);
      for (size_t i = 0; i < crops.size(); ++i)
        std::copy(crops[i].pixels.begin(), crops[i].pixels.end(), x.begin() + i * 784);
      const auto infer = [&net](const float* v, int k, float* p) { net.predict(v, k, p); };
      infer(x.data(), static_cast<int>(crops.size()), probs.data());
      vision::second_look(x.data(), static_cast<int>(crops.size()), probs.data(), infer);
      vision::pair_probs_apply(crops, probs.data());
      out.update(vision::reading_json(crops, probs.data()));
      const std::string number = out["text"];  // with any separators: "1,250.00"
      if (json_out) {
        std::printf("%s\n", out.dump().c_str());
      } else {
        const float* p = probs.data();
        std::vector<int> order(10);
        for (int i = 0; i < 10; ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
        const char* unsure = out["sure"].get<bool>() ? "" : "  (not sure)";
        if (mode == vision::ReadMode::Number)
          std::printf("%s: %s%s\n", file.c_str(), number.c_str(), unsure);
        else
          std::printf("%s: %d (%.1f%%)  next: %d (%.1f%%), %d (%.1f%%)%s\n", file.c_str(),
                      order[0], 100 * p[order[0]], order[1], 100 * p[order[1]], order[2],
                      100 * p[order[2]], unsure);
      }
    } catch (const std::exception& e) {
      // Any file we cannot read is reported and skipped; the others are still answered.
      ++rejected;
      if (json_out)
        std::printf("%s\n", json({{"file", file}, {"error", e.what()}}).dump().c_str());
      else
        std::fprintf(stderr, "scrawl: %s: %s\n", file.c_str(), e.what());
    }
    std::fflush(stdout);
  }
  return rejected ? 2 : 0;
}

// ---------------------------------------------------------------- bench
struct BenchArgs {
  std::string arch = "models/seed.json", data, device = "auto";
  int epochs = 1, batch = 32, threads = 0;
  std::vector<int> infer_batches = {1, 256};
  std::string infer_data = "host";  // host: predict() from host memory; device: resident data
  bool infer_only = false, json_out = false;
};

int bench_run(const BenchArgs& a) {
  const json arch = Network::arch_from_file(a.arch);
  std::string why;
  auto backend = a.device == "cpu" && a.threads > 0 ? cpu_backend_create(a.threads)
                                                    : backend_create(a.device, &why);
  if (!a.json_out) std::fprintf(stderr, "scrawl: %s\n", why.c_str());
  for (int b : a.infer_batches)
    if (b < 1) throw Error("--infer-batches: " + std::to_string(b) + " is not a batch size");
  Network net(arch, *backend);
  const Dataset test = mnist_load(a.data, false);
  for (int b : a.infer_batches)
    if (b > test.count)
      throw Error("--infer-batches: " + std::to_string(b) + " is more than the " +
                  std::to_string(test.count) + " test images");
  net.init_glorot(1);
  json r = {{"arch", net.name()}, {"device", backend->name()},
            {"description", backend->description()},
            {"threads", a.threads > 0 ? json(a.threads) : json("all")}};
  if (!a.infer_only) {
    const Dataset train = mnist_load(a.data, true);
    TrainOptions opt;
    opt.epochs = a.epochs;
    opt.batch = a.batch;
    opt.progress = !a.json_out;
    Trainer trainer(net, opt);
    const auto t0 = Clock::now();
    trainer.fit(train, nullptr);
    backend->synchronize();
    const double train_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const EvalResult ev = evaluate(net, test);
    r.update({{"epochs", a.epochs}, {"batch", a.batch}, {"train_seconds", train_s},
              {"train_images_per_s", double(train.count) * a.epochs / train_s},
              {"test_accuracy", ev.accuracy}});
  }

  // Host data: predict() from host floats to host probabilities, copies included, as a caller
  // without device memory would run it.
  auto infer_rate_host = [&](int b) {
    const int images = b == 1 ? 3000 : std::max(40960, 8 * b);
    std::vector<float> x(size_t(b) * 784), probs(size_t(b) * 10);
    int done = 0;
    dataset_to_float(test, 0, b, x.data());
    net.predict(x.data(), b, probs.data());  // warm-up: sizes the buffers
    const auto s0 = Clock::now();
    while (done < images) {
      const int first = done % (test.count - b + 1);
      dataset_to_float(test, first, b, x.data());
      net.predict(x.data(), b, probs.data());
      done += b;
    }
    return done / std::chrono::duration<double>(Clock::now() - s0).count();
  };
  // Device data: the test set uploaded once, forward to logits on the backend, one
  // synchronisation at the end of the timed run (about half a second).
  Buffer resident;
  auto infer_rate_device = [&](int b) {
    const size_t sz = test.image_size();
    if (resident.data() == nullptr) {
      std::vector<float> host(size_t(test.count) * sz);  // (N, 1, 28, 28)
      dataset_to_float(test, 0, test.count, host.data());
      resident = Buffer(*backend, host.size());
      backend->upload(resident.data(), host.data(), host.size());
    }
    const int starts = test.count - b + 1;
    long calls = 0;
    auto run = [&](long n) {
      for (long i = 0; i < n; ++i, ++calls)
        net.forward(b, resident.data() + size_t((calls * b) % starts) * sz, false);
      backend->synchronize();
    };
    run(3);  // warm-up: sizes the buffers, picks the convolution algorithms
    auto s0 = Clock::now();
    run(4);
    const double per_call = std::chrono::duration<double>(Clock::now() - s0).count() / 4;
    const long n = std::max(8L, std::min(1000000L, long(0.5 / std::max(per_call, 1e-7))));
    s0 = Clock::now();
    run(n);
    return double(n) * b / std::chrono::duration<double>(Clock::now() - s0).count();
  };
  r["infer_data"] = a.infer_data;
  for (int b : a.infer_batches)
    r["infer_b" + std::to_string(b) + "_images_per_s"] =
        a.infer_data == "device" ? infer_rate_device(b) : infer_rate_host(b);
  if (a.json_out)
    std::printf("%s\n", r.dump().c_str());
  else
    std::printf("%s\n", r.dump(2).c_str());
  return 0;
}

}  // namespace
}  // namespace scrawl::app

int main(int argc, char** argv) {
  using namespace scrawl::app;
  // Corrupt uploads are reported by our own errors; OpenCV's decoder warnings would only repeat
  // them on stderr.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  CLI::App app{"scrawl: learns to read handwritten digits, and serves what it learned"};
  app.set_version_flag("--version", SCRAWL_VERSION);
  app.require_subcommand(1);

  TrainArgs ta;
  auto* train = app.add_subcommand("train", "Train a network on MNIST and write a model file");
  train->add_option("--data", ta.data, "MNIST folder (from scripts/fetch_mnist.sh)")->required();
  train->add_option("--arch", ta.arch, "Architecture JSON, e.g. models/seed.json")->required();
  train->add_option("--out", ta.out, "Model file to write (.scrawl)")->required();
  // TrainArgs marks "not given" with 0 or -1, so a zero, negative or NaN value (CLI11's checks
  // let "nan" through: every comparison with it is false) would silently become the default.
  auto number_check = [](bool positive) {
    return CLI::Validator(
        [positive](std::string& text) {
          char* end = nullptr;
          const double v = std::strtod(text.c_str(), &end);
          if (end == text.c_str() || *end != '\0' || !std::isfinite(v))
            return "Value " + text + " is not a finite number";
          if (positive && !(v > 0)) return "Value " + text + " is not a positive number";
          return std::string();
        },
        positive ? "POSITIVE" : "FINITE");
  };
  const CLI::Validator finite = number_check(false), positive = number_check(true);
  train->add_option("--epochs", ta.epochs, "Epochs (default: the architecture's, else 5)")
      ->check(positive);
  train->add_option("--batch", ta.batch, "Batch size (default: the architecture's, else 32)")
      ->check(positive);
  train->add_option("--lr", ta.lr, "Adam learning rate (default: 1e-3)")->check(positive);
  train->add_option("--lr-decay", ta.lr_decay, "Multiply the learning rate by this each epoch")
      ->check(positive);
  train->add_option("--seed", ta.seed, "Seed for initialisation, shuffling and dropout")
      ->capture_default_str();
  train->add_option("--augment", ta.augment, "Data augmentation (default: the architecture's)")
      ->check(CLI::IsMember({"on", "off"}));
  train
      ->add_option("--outliers", ta.outliers,
                   "Share of augmented samples that are 'not a digit' (bad cuts of a number), "
                   "trained towards a uniform answer (default: the architecture's, else 0)")
      ->check(finite)
      ->check(CLI::Range(0.0, 0.5));
  train
      ->add_option("--residue", ta.residue,
                   "Share of augmented samples that carry a sliver of a neighbouring digit "
                   "(default: the architecture's, else 0)")
      ->check(finite)
      ->check(CLI::Range(0.0, 0.5));
  train
      ->add_option("--pen", ta.pen,
                   "Share of augmented samples re-inked with a pen of another weight, finer or "
                   "bolder, with a solid stroke (default: the architecture's, else 0)")
      ->check(finite)
      ->check(CLI::Range(0.0, 1.0));
  train->add_option("--cut-rows", ta.cut_rows,
                    "Fine-tune on number mode's own cuts too: this many rows of 2-4 training "
                    "digits (60% touching) read by the splitter with the --init weights, every "
                    "crop it weighed labelled as a digit or 'not a digit' (default 0)")
      ->check(CLI::Range(0, 1000000));
  train->add_option("--pairs", ta.pairs,
                    "Train the pair reader instead (an architecture of 28x56 inputs and 100 "
                    "classes, as models/pairs.json): this many pairs of touching training "
                    "digits, each read whole as number mode reads a touching group")
      ->check(CLI::Range(1, 10000000));
  train->add_option("--device", ta.device, "auto, cuda or cpu")->capture_default_str();
  train->add_option("--init", ta.init,
                    "Fine-tune: start from this model file's weights (same architecture)")
      ->check(CLI::ExistingFile);
  train->add_option("--data-placement", ta.placement,
                    "host: stream batches through staging buffers; device: keep the whole set "
                    "on the GPU (no augmentation); auto: device on a GPU when not augmenting")
      ->check(CLI::IsMember({"auto", "host", "device"}))
      ->capture_default_str();
  train->add_flag("--no-graphs", ta.no_graphs, "Run every step eagerly (no CUDA Graph replay)");
  train->add_flag("--json", ta.json_out, "Print a JSON summary on stdout at the end");
  train->add_flag("--quiet", ta.quiet, "No progress bar");

  std::string model, pair_model, data, device = "auto", mode = "digit";
  bool json_out = false, second_look = false;
  auto* eval = app.add_subcommand("eval", "Accuracy, loss and confusion matrix on the MNIST test set");
  eval->add_option("--model", model, "Model file (default: the shipped models/default.scrawl)");
  eval->add_option("--data", data, "MNIST folder")->required();
  eval->add_option("--device", device, "auto, cuda or cpu")->capture_default_str();
  eval->add_flag("--json", json_out, "JSON output");
  eval->add_flag("--second-look", second_look,
                 "Read unsure images again in more views, as predict and serve do (default: "
                 "the model alone)");

  std::vector<std::string> files;
  auto* predict = app.add_subcommand("predict", "Read the digit (or number) in image files");
  predict->add_option("--model", model, "Model file (default: the shipped models/default.scrawl)");
  predict->add_option("--mode", mode, "digit or number")->check(CLI::IsMember({"digit", "number"}))
      ->capture_default_str();
  predict->add_option("--device", device, "auto, cuda or cpu")->capture_default_str();
  predict->add_flag("--json", json_out, "One JSON object per file per line");
  predict->add_option("--pair-model", pair_model,
                      "Number mode: the pair reader, which reads two touching digits as one "
                      "image (default: the shipped models/pairs.scrawl; none: without it)");
  predict->add_option("files", files, "PNG, JPEG, BMP or WebP files")->required();

  BenchArgs ba;
  auto* bench = app.add_subcommand(
      "bench", "Time training epochs and inference (default: batches 1 and 256 from host memory)");
  bench->add_option("--arch", ba.arch, "Architecture JSON")->required();
  bench->add_option("--data", ba.data, "MNIST folder")->required();
  bench->add_option("--epochs", ba.epochs, "Epochs to time")->capture_default_str();
  bench->add_option("--batch", ba.batch, "Training batch size")->capture_default_str();
  bench->add_option("--threads", ba.threads, "CPU threads (default: all)");
  bench->add_option("--device", ba.device, "auto, cuda or cpu")->capture_default_str();
  bench->add_option("--infer-batches", ba.infer_batches,
                    "Inference batch sizes to time, comma-separated (at most the test set's size)")
      ->delimiter(',')
      ->capture_default_str();
  bench->add_option("--infer-data", ba.infer_data,
                    "host: predict() from host memory, copies included; device: the test set "
                    "resident on the backend, forward to logits, no copies")
      ->check(CLI::IsMember({"host", "device"}))
      ->capture_default_str();
  bench->add_flag("--infer-only", ba.infer_only, "Skip training (untrained weights: speed only)");
  bench->add_flag("--json", ba.json_out, "One JSON object on stdout");

#if defined(SCRAWL_WITH_SERVER)
  scrawl::serve_command_add(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*train) return train_run(ta);
    if (*eval) return eval_run(model, data, device, json_out, second_look);
    if (*predict) return predict_run(model, pair_model, mode, device, json_out, files);
    if (*bench) return bench_run(ba);
#if defined(SCRAWL_WITH_SERVER)
    return scrawl::serve_command_run(app);
#endif
  } catch (const scrawl::Error& e) {
    std::fprintf(stderr, "scrawl: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scrawl: unexpected error: %s\n", e.what());
    return 1;
  }
  return 1;
}
