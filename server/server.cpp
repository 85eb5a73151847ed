// Server: owns the io_context and its threads, the listener, the batcher, the API and the
// metrics, and orders their start and graceful stop. Tested by tests/server.
#include "server/server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <mutex>
#include <opencv2/core/utility.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "server/batcher.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/transport.h"

namespace scrawl::server {

namespace net = boost::asio;

// Member order is destruction order reversed: the io_context (whose pending handlers hold
// sessions) goes before the registry and metrics those sessions touch.
struct Server::Impl {
  explicit Impl(ServerConfig c)
      : config(std::move(c)),
        batcher(BatcherConfig{config.max_batch, std::chrono::microseconds(config.max_delay_us),
                              config.queue_capacity},
                &metrics),
        blocking(2),
        ioc(std::max(1, config.threads)),
        api(ApiConfig{config.max_images, config.max_tensor_batch, 64, config.version}, batcher,
            metrics, ioc.get_executor(), blocking) {
    TransportConfig& t = transport.config;
    t.header_limit = config.header_limit;
    t.body_limit = config.body_limit;
    t.bodies_limit = config.bodies_limit;
    t.idle_timeout = config.idle_timeout;
    t.read_timeout = config.read_timeout;
    t.write_timeout = config.write_timeout;
    t.max_connections = config.max_connections;
    t.max_requests_per_connection = config.max_requests_per_connection;
    t.version = config.version;
    transport.api = &api;
    transport.metrics = &metrics;
  }

  ServerConfig config;
  Metrics metrics;
  TransportContext transport;
  Batcher batcher;
  net::thread_pool blocking;
  net::io_context ioc;
  Api api;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  std::mutex stop_mu;
  bool started = false, stopped = false;
};

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lk(s.stop_mu);
  if (s.started) return;
  // Parallelism comes from serving many requests at once; OpenCV's own worker threads on
  // tiny images only spin and yield against the I/O threads (seen in perf under wrk).
  cv::setNumThreads(0);
  s.listener = std::make_shared<Listener>(s.ioc, s.config.host, s.config.port, s.transport);
  s.work.emplace(s.ioc.get_executor());
  s.listener->run();
  for (int i = 0; i < std::max(1, s.config.threads); ++i)
    s.threads.emplace_back([&s] {
      // A handler that throws (out of memory, say) must not take the process down: log it
      // and keep serving. Every handler we install catches its own errors already.
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "scrawl: I/O thread: %s\n", e.what());
        } catch (...) {
          std::fprintf(stderr, "scrawl: I/O thread: unknown exception\n");
        }
      }
    });
  s.started = true;
}

uint16_t Server::port() const { return impl_->listener ? impl_->listener->port() : 0; }

std::string Server::url() const {
  const std::string& h = impl_->config.host;
  const bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(port());
}

void Server::engine_set(std::shared_ptr<InferenceEngine> engine) {
  impl_->batcher.engine_set(std::move(engine));
}

void Server::pair_reader_set(vision::PairReader read_pair) {
  impl_->api.pair_reader_set(std::move(read_pair));
}

void Server::stop() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lk(s.stop_mu);
  if (!s.started || s.stopped) {
    s.stopped = true;
    return;
  }
  s.stopped = true;
  s.listener->stop();
  // Ask every session to finish: idle ones close now, busy ones after their answer.
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> rl(s.transport.mu);
    s.transport.draining = true;
    for (auto& [ptr, weak] : s.transport.sessions)
      if (auto p = weak.lock()) sessions.push_back(std::move(p));
  }
  for (auto& p : sessions) p->shutdown();
  sessions.clear();  // the sessions must be free to end
  {
    std::unique_lock<std::mutex> rl(s.transport.mu);
    s.transport.cv.wait_for(rl, s.config.drain_timeout,
                            [&] { return s.transport.live.load() == 0; });
  }
  s.batcher.stop();  // answers whatever is still queued
  s.blocking.join();
  s.work.reset();
  s.ioc.stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

Metrics& Server::metrics() { return impl_->metrics; }
const ServerConfig& Server::config() const { return impl_->config; }

}  // namespace scrawl::server
