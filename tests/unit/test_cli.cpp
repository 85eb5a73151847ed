// The `scrawl` binary as a user meets it: --help on every subcommand, clear errors with a
// non-zero exit for bad flags and files, and predict's exit codes and JSON lines.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace {

struct CliRun {
  int code;
  std::string out;
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(SCRAWL_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kSrc = SCRAWL_SOURCE_DIR;

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"train", "eval", "predict", "bench"}) {
    const CliRun r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("--"), std::string::npos) << sub;
  }
  EXPECT_NE(run("").code, 0);
  EXPECT_NE(run("frobnicate").code, 0);
}

TEST(Cli, TrainRefusesBadInputsClearly) {
  CliRun r = run("train --data /nonexistent --arch " + kSrc + "/models/seed.json --out /tmp/x.scrawl --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("fetch_mnist.sh"), std::string::npos) << r.out;
  r = run("train --data /nonexistent --arch /nonexistent.json --out /tmp/x.scrawl");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("cannot open architecture file"), std::string::npos) << r.out;
  r = run("train --data /tmp --arch " + kSrc + "/models/seed.json --out /tmp/x.scrawl --device tpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("unknown device"), std::string::npos) << r.out;
  r = run("train --data /nonexistent --arch " + kSrc + "/models/default.json --out /tmp/x.scrawl --cut-rows 5 --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--cut-rows needs --init"), std::string::npos) << r.out;
  EXPECT_NE(run("train --data /tmp --arch " + kSrc + "/models/default.json --out /tmp/x.scrawl --cut-rows -1").code, 0);
  EXPECT_NE(run("train --arch a.json").code, 0);  // --data and --out are required
  // Values the "not given" markers (0, -1) would otherwise swallow, taking the default silently.
  const std::string base = "train --data /nonexistent --arch " + kSrc +
                           "/models/default.json --out /tmp/x.scrawl --device cpu ";
  for (const char* bad :
       {"--pen nan", "--outliers nan", "--residue nan", "--lr nan", "--lr inf", "--pen 0.3x"}) {
    r = run(base + bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_NE(r.out.find("is not a finite number"), std::string::npos) << bad << ": " << r.out;
  }
  for (const char* bad : {"--lr -1", "--lr 0", "--lr-decay 0", "--epochs -3", "--batch 0"}) {
    r = run(base + bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_NE(r.out.find("is not a positive number"), std::string::npos) << bad << ": " << r.out;
  }
  // Good values pass the checks and reach the missing data.
  r = run(base + "--lr 1e-3 --lr-decay 0.6 --epochs 2 --batch 64 --pen 0.35 --outliers 0");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("fetch_mnist.sh"), std::string::npos) << r.out;
}

TEST(Cli, BenchRefusesBadInferenceOptions) {
  const std::string base = "bench --arch " + kSrc + "/models/seed.json --data /nonexistent ";
  CliRun r = run(base + "--device cpu --infer-only --infer-batches 1,0");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--infer-batches: 0"), std::string::npos) << r.out;
  EXPECT_NE(run(base + "--infer-data gpu").code, 0);
}

TEST(Cli, PredictAnswersEachFileAndSetsTheExitCode) {
  const std::string model = kSrc + "/models/default.scrawl";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no shipped model yet";
  const std::string seven = kSrc + "/tests/fixtures/seven.png";
  CliRun r = run("predict --json --device cpu " + seven);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto line = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(line["digit"], 7) << r.out;
  EXPECT_EQ(line["probabilities"].size(), 10u);
  EXPECT_EQ(line["number"], "7");
  // A file that is not an image: its own JSON error line, the other file still answered, exit 2.
  r = run("predict --json --device cpu " + seven + " " + kSrc + "/models/seed.json /nonexistent.png");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n') >= 3, true) << r.out;
  EXPECT_NE(r.out.find("\"error\""), std::string::npos);
  EXPECT_NE(r.out.find("\"digit\":7"), std::string::npos) << r.out;
  // A corrupted model is refused with a message, not a crash.
  const std::string bad = (std::filesystem::temp_directory_path() / "scrawl-cli-bad.scrawl").string();
  std::ofstream(bad) << "SCRAWLMF garbage";
  r = run("predict --model " + bad + " " + seven);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out;
  std::filesystem::remove(bad);
}

TEST(Cli, PredictRefusesABadPairModel) {
  const std::string model = kSrc + "/models/default.scrawl";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no shipped model yet";
  const std::string seven = kSrc + "/tests/fixtures/seven.png";
  // The digit model given as the pair reader: the wrong shape, said so, exit 1.
  CliRun r = run("predict --mode number --device cpu --pair-model " + model + " " + seven);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("pair reader needs (1, 28, 56)"), std::string::npos) << r.out;
  r = run("predict --mode number --device cpu --pair-model /nonexistent.scrawl " + seven);
  EXPECT_EQ(r.code, 1) << r.out;
  // Without a pair reader, number mode still reads.
  r = run("predict --mode number --json --device cpu --pair-model none " + seven);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(r.out.find('{')))["number"], "7") << r.out;
  // Digit mode never loads it.
  EXPECT_EQ(run("predict --device cpu --pair-model /nonexistent.scrawl " + seven).code, 0);
  r = run("train --data /nonexistent --arch " + kSrc + "/models/default.json --out /tmp/x.scrawl --pairs 10 --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--pairs trains the pair reader"), std::string::npos) << r.out;
  r = run("train --data /nonexistent --arch " + kSrc + "/models/pairs.json --out /tmp/x.scrawl --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("with --pairs N"), std::string::npos) << r.out;
}

}  // namespace
