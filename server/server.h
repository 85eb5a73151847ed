// The in-process server: the transport, the API, the batcher and the metrics wired together.
// serve_run (serve.h) drives it for `scrawl serve`; tests start it on port 0 inside the test
// process:
//   Server s(cfg); s.start(); s.engine_set(engine); ... s.port() ...; s.stop();
// Tested by everything in tests/server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "host/vision/preprocess.h"
#include "server/inference.h"

namespace scrawl::server {

class Metrics;

struct ServerConfig {
  std::string host = "127.0.0.1";  // loopback by default; "0.0.0.0" or "::" to expose
  uint16_t port = 8080;            // 0: an ephemeral port, see Server::port()
  int threads = 2;                 // I/O threads (parsing, decoding, preprocessing, JSON)

  // Batching
  int max_batch = 64;
  int max_delay_us = 500;
  int queue_capacity = 4096;  // images waiting for the engine before 503

  // Limits
  int max_connections = 1024;
  size_t header_limit = 16 * 1024;
  size_t body_limit = 16 * 1024 * 1024;
  size_t bodies_limit = 256 * 1024 * 1024;  // all connections' bodies at once (transport.h)
  int max_images = 64;          // image fields per request
  int max_tensor_batch = 1024;  // N per v2 infer request
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  std::chrono::milliseconds drain_timeout{10000};  // graceful stop waits this long at most
  unsigned max_requests_per_connection = 0;        // 0: no limit

  std::string version = "0.1.0";
};

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Throws scrawl::Error when the address cannot be bound.
  // Requests are answered at once; predictions answer 503 until engine_set().
  void start();
  uint16_t port() const;    // the bound port (the ephemeral one when config.port was 0)
  std::string url() const;  // "http://HOST:PORT"

  // Installs the model: predictions are served from now on. Thread-safe.
  void engine_set(std::shared_ptr<InferenceEngine> engine);
  // Number mode's pair reader (see Api::pair_reader_set); none until set. Thread-safe.
  void pair_reader_set(vision::PairReader read_pair);

  // Graceful and idempotent: stops accepting, closes idle connections, lets requests in
  // flight finish (up to drain_timeout), drains the batcher, joins every thread.
  void stop();

  Metrics& metrics();
  const ServerConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scrawl::server
