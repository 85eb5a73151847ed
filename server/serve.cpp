// serve_run: `scrawl serve` without the flag parsing. See serve.h.
// Tested by tests/server/test_serve.cpp (listening line, SIGTERM drain, bad options).
#include "server/serve.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "host/backend.h"
#include "host/cpu_backend.h"
#include "host/error.h"
#include "host/model_file.h"
#include "host/vision/pair_reader.h"
#include "server/inference.h"
#include "server/server.h"

namespace scrawl {

int serve_run(const ServeOptions& o) {
  if (o.model.empty()) throw Error("serve: no model file given (--model FILE)");
  if (o.port < 0 || o.port > 65535) throw Error("serve: --port must be 0 to 65535");
  if (o.threads < 0 || o.threads > 64) throw Error("serve: --threads must be 0 to 64");
  if (o.engine_threads < 0 || o.engine_threads > 256)
    throw Error("serve: --engine-threads must be 0 to 256");
  if (o.max_batch < 1 || o.max_batch > 1024) throw Error("serve: --max-batch must be 1 to 1024");
  if (o.max_delay_us < 0 || o.max_delay_us > 1000000)
    throw Error("serve: --max-delay-us must be 0 to 1000000");
  if (o.queue_capacity < o.max_batch) throw Error("serve: --queue must be at least --max-batch");
  if (o.max_connections < 1) throw Error("serve: --max-connections must be at least 1");
  if (o.max_body_mb < 1 || o.max_body_mb > 1024)
    throw Error("serve: --max-body-mb must be 1 to 1024");
  if (o.max_bodies_mb < o.max_body_mb || o.max_bodies_mb > 1 << 20)
    throw Error("serve: --max-bodies-mb must be at least --max-body-mb (and at most 1048576)");

  // Read the model before listening, so a missing or corrupt file fails at once.
  const ModelFile file = model_file_read(o.model);
  const std::string name = std::filesystem::path(o.model).stem().string();
  const bool with_pairs = !o.pair_model.empty() && o.pair_model != "none";
  std::optional<ModelFile> pair_file;
  if (with_pairs) pair_file = model_file_read(o.pair_model);

  server::ServerConfig cfg;
  cfg.host = o.host;
  cfg.port = static_cast<uint16_t>(o.port);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cfg.threads = o.threads > 0 ? o.threads : static_cast<int>(std::min(cores, 4u));
  cfg.max_batch = o.max_batch;
  cfg.max_delay_us = o.max_delay_us;
  cfg.queue_capacity = o.queue_capacity;
  cfg.max_connections = o.max_connections;
  cfg.body_limit = size_t(o.max_body_mb) << 20;
  cfg.bodies_limit = size_t(o.max_bodies_mb) << 20;
#ifdef SCRAWL_VERSION
  cfg.version = SCRAWL_VERSION;
#endif

  // Signals first, so a Ctrl-C while the model loads is not lost.
  boost::asio::io_context signals_ioc;
  boost::asio::signal_set signals(signals_ioc, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) caught = sig;
  });

  server::Server srv(cfg);
  srv.start();
  std::printf("listening on %s\n", srv.url().c_str());
  std::fflush(stdout);

  std::string why;
  std::shared_ptr<server::InferenceEngine> engine;
  try {
    // The I/O threads decode and preprocess every image, so on the CPU the engine gets half
    // the cores by default rather than all of them (measured in profiling/results/).
    const int engine_threads =
        o.engine_threads > 0 ? o.engine_threads : static_cast<int>(std::max(1u, cores / 2));
    engine = server::network_engine_create(file, name, o.device, &why, engine_threads);
    if (with_pairs) {
      std::unique_ptr<Backend> backend = backend_create(o.device);
      if (backend->kind() == BackendKind::Cpu) backend = cpu_backend_create(engine_threads);
      srv.pair_reader_set(vision::pair_reader_create(std::move(backend), *pair_file));
    }
  } catch (...) {
    srv.stop();
    throw;
  }
  std::fprintf(stderr, "scrawl: %s\n", why.c_str());
  std::fprintf(stderr,
               "scrawl: model '%s' ready on %s; max batch %d, max delay %d us, %d I/O threads\n",
               engine->model().c_str(), engine->device().c_str(), cfg.max_batch, cfg.max_delay_us,
               cfg.threads);
  std::fprintf(stderr, "scrawl: number mode's pair reader: %s\n",
               with_pairs ? o.pair_model.c_str() : "none");
  srv.engine_set(engine);

  signals_ioc.run();  // returns once the signal handler has run
  std::fprintf(stderr, "scrawl: %s received, finishing requests in flight\n",
               caught == SIGINT ? "SIGINT" : "SIGTERM");
  srv.stop();
  std::fprintf(stderr, "scrawl: stopped\n");
  return 0;
}

}  // namespace scrawl
