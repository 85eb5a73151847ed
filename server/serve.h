// `scrawl serve`: the entry points the CLI calls.
//   - serve_command_add(app) registers the `serve` subcommand and its flags on the CLI11 app;
//     serve_command_run(app) runs it once parsed (both in apps/serve_command.cpp).
//   - serve_run(options) is the subcommand itself, usable without CLI11: it reads the model,
//     binds HOST:PORT, prints "listening on http://HOST:PORT" on stdout once it accepts
//     requests, loads the model onto the device (predictions answer 503 until then), and
//     blocks until SIGINT/SIGTERM, when it stops gracefully (requests in flight finish).
//     Returns the process exit code; throws scrawl::Error for bad options, model or address.
// For an in-process server (tests), use scrawl::server::Server in server/server.h.
// Tested by tests/server (Server) and tests/server/test_serve.cpp (serve_run, signals).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace scrawl {

struct ServeOptions {
  std::string model;               // .scrawl file; required here (the CLI fills in the default)
  std::string pair_model;          // number mode's pair reader; "" or "none": without one
  std::string device = "auto";     // auto | cuda | cpu
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;                 // 0: any free port (printed in the listening line)
  int threads = 0;                 // I/O threads; 0: one per core, at most 4
  int engine_threads = 0;          // CPU inference threads; 0: half the cores (at least 1)
  int max_batch = 64;              // images per forward pass
  int max_delay_us = 500;          // longest wait for a batch to fill (an idle engine)
  int queue_capacity = 4096;       // images waiting before 503 + Retry-After
  int max_connections = 1024;
  int max_body_mb = 16;     // one request's body
  int max_bodies_mb = 256;  // all requests' bodies held at once (503 + Retry-After beyond)
};

int serve_run(const ServeOptions& options);

void serve_command_add(CLI::App& app);
// Runs `serve` when it was the parsed subcommand; returns its exit code (1 otherwise).
int serve_command_run(CLI::App& app);

}  // namespace scrawl
