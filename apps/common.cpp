// See common.h.
#include "apps/common.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "host/error.h"
#include "host/model_file.h"

namespace scrawl::app {

namespace {

// models/NAME next to this binary (build/../models, models, share/scrawl/models), or "".
std::string shipped_path(const std::string& name) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    std::string dir(buf);
    dir = dir.substr(0, dir.find_last_of('/'));
    for (const char* rel : {"/../models/", "/models/", "/../share/scrawl/models/"}) {
      const std::string candidate = dir + rel + name;
      if (std::ifstream(candidate).good()) return candidate;
    }
  }
  return "";
}

}  // namespace

std::string pair_model_path(const std::string& flag) {
  std::string path = flag;
  if (path.empty()) {
    const char* env = std::getenv("SCRAWL_PAIR_MODEL");
    path = env && *env ? env : shipped_path("pairs.scrawl");
  }
  return path == "none" ? "" : path;
}

std::string default_model_path() {
  if (const char* env = std::getenv("SCRAWL_MODEL"); env && *env) return env;
  if (std::string p = shipped_path("default.scrawl"); !p.empty()) return p;
  throw Error("cannot find the shipped model models/default.scrawl next to this binary; "
              "pass --model FILE or set SCRAWL_MODEL");
}

LoadedModel model_load(const std::string& path, const std::string& device, bool quiet) {
  LoadedModel m;
  m.path = path.empty() ? default_model_path() : path;
  const ModelFile file = model_file_read(m.path);
  std::string why;
  m.backend = backend_create(device, &why);
  if (!quiet) std::fprintf(stderr, "scrawl: %s\n", why.c_str());
  m.net = std::make_unique<Network>(file.arch, *m.backend);
  model_file_to_network(file, *m.net);
  return m;
}

}  // namespace scrawl::app
