// Backend selection by name: "cpu", "reference", "cuda", or "auto" (the GPU when one answers).
// The only translation unit that knows whether this build has CUDA.
// Tested by tests/unit/test_backend.cpp (auto falls back to the CPU on a machine with no GPU).
#include <string>

#include "host/backend.h"
#include "host/cpu_backend.h"
#include "host/error.h"
#if defined(SCRAWL_WITH_CUDA)
#include "cuda/cuda_backend.h"
#endif

namespace scrawl {

bool backend_cuda_compiled() {
#if defined(SCRAWL_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Backend> backend_create(const std::string& name, std::string* why) {
  auto say = [&](const std::string& s) {
    if (why) *why = s;
  };
  if (name == "cpu") {
    auto be = cpu_backend_create();
    say("using " + be->description() + " (--device cpu)");
    return be;
  }
  if (name == "reference") {
    auto be = reference_backend_create();
    say("using the " + be->description() + " (--device reference)");
    return be;
  }
  if (name == "cuda" || name == "auto") {
#if defined(SCRAWL_WITH_CUDA)
    std::string reason;
    if (cuda_device_available(&reason)) {
      auto be = cuda_backend_create();
      say("using " + be->description() + (name == "auto" ? " (--device auto: a GPU answered)" :
                                                           " (--device cuda)"));
      return be;
    }
    if (name == "cuda") throw UnavailableError("--device cuda: no usable GPU: " + reason);
    auto be = cpu_backend_create();
    say("using " + be->description() + " (--device auto: no GPU: " + reason + ")");
    return be;
#else
    if (name == "cuda")
      throw UnavailableError("--device cuda: this scrawl was built without CUDA (-DSCRAWL_CUDA=OFF)");
    auto be = cpu_backend_create();
    say("using " + be->description() + " (--device auto: built without CUDA)");
    return be;
#endif
  }
  throw Error("unknown device '" + name + "' (use auto, cuda or cpu)");
}

}  // namespace scrawl
