// The `serve` subcommand's flags (CLI11) over scrawl::serve_run (server/serve.h).
// Exercised by tests/server/test_serve.cpp through serve_run and by the profiling load scripts.
#if defined(SCRAWL_WITH_SERVER)
#include <CLI/CLI.hpp>

#include "apps/common.h"
#include "server/serve.h"

#if defined(SCRAWL_WITH_TCMALLOC)
#include <gperftools/malloc_extension.h>
#endif

namespace scrawl {
namespace {
ServeOptions g_serve;  // CLI11 binds flags to storage that outlives parsing
}

void serve_command_add(CLI::App& app) {
  CLI::App* serve =
      app.add_subcommand("serve", "Serve the model over HTTP: the page, JSON and KServe v2");
  serve->add_option("--model", g_serve.model,
                    "Model file (default: the shipped models/default.scrawl)");
  serve->add_option("--pair-model", g_serve.pair_model,
                    "Number mode's pair reader, which reads two touching digits as one image "
                    "(default: the shipped models/pairs.scrawl; none: without it)");
  serve->add_option("--host", g_serve.host, "Address to bind (0.0.0.0 to expose)")
      ->capture_default_str();
  serve->add_option("--port", g_serve.port, "TCP port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve->add_option("--device", g_serve.device, "auto, cuda or cpu")
      ->check(CLI::IsMember({"auto", "cuda", "cpu"}))
      ->capture_default_str();
  serve->add_option("--threads", g_serve.threads, "I/O threads (0: one per core, at most 4)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  serve
      ->add_option("--engine-threads", g_serve.engine_threads,
                   "CPU inference threads (0: half the cores, at least 1)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  serve->add_option("--max-batch", g_serve.max_batch, "Most images per forward pass")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  serve
      ->add_option("--max-delay-us", g_serve.max_delay_us,
                   "Longest a request waits for its batch to fill, in microseconds")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  serve->add_option("--queue", g_serve.queue_capacity, "Images queued before answering 503")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  serve->add_option("--max-connections", g_serve.max_connections, "Open connections at most")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  serve->add_option("--max-body-mb", g_serve.max_body_mb, "Largest request body, in MiB (413 beyond)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  serve
      ->add_option("--max-bodies-mb", g_serve.max_bodies_mb,
                   "Request bodies held at once, all connections together, in MiB (503 beyond)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
}

int serve_command_run(CLI::App& app) {
  if (!app.got_subcommand("serve")) return 1;
  ServeOptions o = g_serve;
  if (o.model.empty()) o.model = app::default_model_path();
  o.pair_model = app::pair_model_path(o.pair_model);
#if defined(SCRAWL_WITH_TCMALLOC)
  // A server allocates the same sizes request after request, so memory tcmalloc hands back to
  // the system is faulted in again moments later: under wrk that was about 6,000 page faults a
  // second, and about 40 with this, at the same resident size (about 230 MB). Freed memory is kept:
  // the peak stays the process's, and the peak is bounded by --max-bodies-mb and the queue.
  MallocExtension::instance()->SetMemoryReleaseRate(0.0);
#endif
  return serve_run(o);
}

}  // namespace scrawl
#endif
