// .scrawl files: a network survives a round trip bit for bit; truncated, corrupted, foreign
// and mismatched files are refused with a message that says which.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/file_util.h"
#include "host/model_file.h"
#include "host/network.h"
#include "test_util.h"

namespace scrawl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json small_arch() {
  return json::parse(R"({"name": "small", "input": [1, 8, 8], "layers": [
    {"type": "conv2d", "filters": 3, "kernel": 3, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 10}]})");
}

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scrawl-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "m.scrawl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string expect_refused(const std::string& path) {
    try {
      model_file_read(path);
    } catch (const FormatError& e) {
      return e.what();
    }
    ADD_FAILURE() << "a damaged file was accepted";
    return "";
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(ModelFileTest, RoundTripIsExact) {
  auto be = reference_backend_create();
  Network a(small_arch(), *be);
  a.init_glorot(9);
  model_file_write(path_, model_file_from_network(a, {{"note", "test"}}));
  const ModelFile f = model_file_read(path_);
  EXPECT_EQ(f.arch, small_arch());
  EXPECT_EQ(f.meta["note"], "test");
  Network b(f.arch, *be);
  model_file_to_network(f, b);
  EXPECT_EQ(a.params_to_host(), b.params_to_host());
  // Nothing but the model is left in the folder: the temporary file was renamed.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ModelFileTest, TruncatedCorruptedAndForeignFilesAreRefused) {
  auto be = reference_backend_create();
  Network a(small_arch(), *be);
  a.init_glorot(1);
  model_file_write(path_, model_file_from_network(a, {}));
  const std::vector<uint8_t> good = file_read_all(path_);

  const std::string cut = (dir_ / "cut.scrawl").string();
  file_write_atomic(cut, good.data(), good.size() - 100);
  EXPECT_NE(expect_refused(cut).find("truncated"), std::string::npos);

  std::vector<uint8_t> flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  const std::string bad = (dir_ / "bad.scrawl").string();
  file_write_atomic(bad, flipped.data(), flipped.size());
  EXPECT_NE(expect_refused(bad).find("checksum"), std::string::npos);

  const std::string png = (dir_ / "x.scrawl").string();
  const char text[] = "\x89PNG\r\n\x1a\n not a model at all, just some bytes";
  file_write_atomic(png, text, sizeof text);
  EXPECT_NE(expect_refused(png).find("bad magic"), std::string::npos);

  const std::string empty = (dir_ / "empty.scrawl").string();
  file_write_atomic(empty, "", 0);
  EXPECT_NE(expect_refused(empty).find("not a scrawl model"), std::string::npos);

  EXPECT_THROW(model_file_read((dir_ / "missing.scrawl").string()), Error);
}

TEST_F(ModelFileTest, ArchitectureMismatchIsRefused) {
  auto be = reference_backend_create();
  Network a(small_arch(), *be);
  model_file_write(path_, model_file_from_network(a, {}));
  json other = small_arch();
  other["layers"][0]["filters"] = 4;
  Network b(other, *be);
  EXPECT_THROW(model_file_to_network(model_file_read(path_), b), FormatError);
}

TEST_F(ModelFileTest, AtomicWriteReplacesWholeFile) {
  file_write_atomic(path_, "first version", 13);
  file_write_atomic(path_, "v2", 2);
  const auto bytes = file_read_all(path_);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "v2");
  EXPECT_THROW(file_write_atomic((dir_ / "no-such-dir" / "f").string(), "x", 1), Error);
}

}  // namespace
}  // namespace scrawl
