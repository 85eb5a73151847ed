// The transport: a Listener accepting TCP connections and one Session per connection
// (Beast's advanced-server shape): keep-alive, header/body limits, idle/read/write timeouts,
// a connection cap, Expect: 100-continue, and a graceful drain on shutdown. Requests are
// handed to Api::handle; the session writes whatever comes back, in order.
// Tested by tests/server/test_limits.cpp (limits, timeouts, connection cap, shutdown).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/http_util.h"
#include "server/metrics.h"

namespace scrawl::server {

class Api;
class Session;

struct TransportConfig {
  size_t header_limit = 16 * 1024;                 // bytes of request line + headers
  size_t body_limit = 16 * 1024 * 1024;            // bytes of body
  std::chrono::milliseconds idle_timeout{30000};   // waiting for (the headers of) a request
  std::chrono::milliseconds read_timeout{15000};   // reading a body once its headers arrived
  std::chrono::milliseconds write_timeout{15000};  // writing a response
  int max_connections = 1024;
  // Bytes of request bodies held at once, all connections together: each body's
  // Content-Length (a chunked body: body_limit) is reserved when its headers arrive and given
  // back once it is answered; a request that would go over is answered 503 + Retry-After.
  // Without it, max_connections bodies of body_limit bytes each could exhaust memory.
  size_t bodies_limit = 256 * 1024 * 1024;
  unsigned max_requests_per_connection = 0;  // 0: no limit
  std::string version = "0.1.0";
};

// What every session shares: the configuration, the API, and the registry used to cap
// connections and to drain them on shutdown.
struct TransportContext {
  TransportConfig config;
  Api* api = nullptr;
  Metrics* metrics = nullptr;

  std::atomic<int> live{0};  // open sessions
  std::atomic<size_t> bodies{0};  // bytes reserved for request bodies (bodies_limit)
  std::mutex mu;
  std::condition_variable cv;  // signalled when a session ends
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool draining = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket&& socket, TransportContext& ctx);
  ~Session();
  void run();
  // Graceful: an idle connection closes now; a request in flight is finished and answered
  // with Connection: close.
  void shutdown();

 private:
  enum class State { Idle, Reading, Handling, Writing, Closing };
  void do_read();
  void on_header(boost::beast::error_code ec);
  void read_body();
  void on_body(boost::beast::error_code ec);
  void handle();
  void write(Response&& res);
  // Sends res as one buffer (response_bytes into out_); on_write follows.
  void send(const Response& res);
  void on_write(bool close, boost::beast::error_code ec);
  // Answers an error that ends the connection (limits, malformed requests).
  void fail_and_close(unsigned status, const std::string& code, const std::string& message);
  // Half-close, read and drop what the client still sends (briefly), then close, so a client
  // still sending a refused body receives our answer instead of a reset.
  void linger();
  void linger_read();
  void close();
  // Reserves `bytes` of the shared body budget for this request; false when it would go over.
  bool reserve(size_t bytes);
  void release();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The answer being written, as bytes; its capacity is kept from answer to answer up to
  // kKeptOutput.
  std::string out_;
  static constexpr size_t kKeptOutput = 64 * 1024;
  http::response<http::empty_body> continue_;
  std::array<char, 4096> discard_{};
  size_t discarded_ = 0;
  TransportContext& ctx_;
  State state_ = State::Idle;
  bool draining_ = false;
  unsigned requests_ = 0;
  size_t reserved_ = 0;  // of ctx_.bodies, for the request being read or handled
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens; throws scrawl::Error naming the address when that fails.
  Listener(boost::asio::io_context& ioc, const std::string& host, unsigned short port,
           TransportContext& ctx);
  unsigned short port() const { return port_; }
  void run();
  void stop();  // stop accepting (thread-safe)

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void reject(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  TransportContext& ctx_;
  unsigned short port_ = 0;
};

}  // namespace scrawl::server
