// Listener and Session over Boost.Beast. See transport.h.
// Tested by tests/server/test_limits.cpp.
#include "server/transport.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include "host/error.h"
#include "server/routes.h"

namespace scrawl::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------- Session

Session::Session(tcp::socket&& socket, TransportContext& ctx)
    : stream_(std::move(socket)), ctx_(ctx) {
  ctx_.metrics->connections_add(1);
}

Session::~Session() {
  release();
  ctx_.metrics->connections_add(-1);
  {
    std::lock_guard<std::mutex> lk(ctx_.mu);
    ctx_.sessions.erase(this);
    ctx_.live.fetch_sub(1);
  }
  ctx_.cv.notify_all();
}

void Session::run() {
  {
    std::lock_guard<std::mutex> lk(ctx_.mu);
    ctx_.sessions[this] = weak_from_this();
    draining_ = ctx_.draining;
  }
  beast::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
}

void Session::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->draining_ = true;
    if (self->state_ == State::Idle) {
      // Waiting for a request that has not started: nothing is in flight, so close now.
      beast::error_code ec;
      self->stream_.socket().cancel(ec);
    }
  });
}

void Session::do_read() {
  if (draining_) return close();
  state_ = State::Idle;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(ctx_.config.header_limit));
  parser_->body_limit(ctx_.config.body_limit);
  stream_.expires_after(ctx_.config.idle_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::eof)
    return close();
  if (ec == http::error::header_limit)
    return fail_and_close(
        431, "header_too_large",
        "request headers are larger than " + std::to_string(ctx_.config.header_limit) + " bytes");
  if (ec == http::error::body_limit)
    return fail_and_close(
        413, "payload_too_large",
        "request body is larger than " + std::to_string(ctx_.config.body_limit) + " bytes");
  if (ec) return fail_and_close(400, "bad_request", "malformed HTTP request: " + ec.message());
  state_ = State::Reading;
  if (auto cl = parser_->content_length(); cl && *cl > ctx_.config.body_limit)
    return fail_and_close(
        413, "payload_too_large",
        "request body is larger than " + std::to_string(ctx_.config.body_limit) + " bytes");
  if (parser_->is_done()) return handle();
  // The body's memory counts against the budget shared by all connections: its declared size,
  // or the most a chunked body may grow to.
  const auto cl = parser_->content_length();
  if (!reserve(cl ? size_t(*cl) : ctx_.config.body_limit)) {
    ctx_.metrics->rejected_add("bodies");
    return fail_and_close(503, "too_many_bodies",
                          "the server is holding too many request bodies; retry shortly");
  }
  const auto expect = parser_->get()[http::field::expect];
  if (beast::iequals(expect, "100-continue")) {
    // The client waits for a go-ahead before sending its body (curl does for large bodies).
    continue_ = http::response<http::empty_body>{http::status::continue_, parser_->get().version()};
    stream_.expires_after(ctx_.config.write_timeout);
    http::async_write(stream_, continue_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void Session::read_body() {
  stream_.expires_after(ctx_.config.read_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
}

void Session::on_body(beast::error_code ec) {
  if (ec == http::error::body_limit)
    return fail_and_close(
        413, "payload_too_large",
        "request body is larger than " + std::to_string(ctx_.config.body_limit) + " bytes");
  if (ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == net::error::connection_reset || ec == net::error::eof)
    return close();  // the client stalled or went away mid-body: nobody to answer
  if (ec) return fail_and_close(400, "bad_request", "malformed HTTP request body: " + ec.message());
  handle();
}

void Session::handle() {
  state_ = State::Handling;
  ++requests_;
  // No timer while the request is handled: inference time is bounded by the batcher.
  stream_.expires_never();
  Request req = parser_->release();
  auto self = shared_from_this();
  // Dispatched, not posted: an answer made on an I/O thread (a batch's answers are drained
  // there) is written at once when this connection's strand is free, as it is while the request
  // is handled, instead of after one more trip through the scheduler. From another thread (the
  // blocking pool, the engine's worker) it is queued as a post would queue it.
  ctx_.api->handle(std::move(req), [self](Response&& res) {
    net::dispatch(self->stream_.get_executor(),
                  [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
  });
}

void Session::write(Response&& res) {
  release();  // answered: the request and its body are done with
  const unsigned max = ctx_.config.max_requests_per_connection;
  if (draining_ || (max && requests_ >= max)) res.keep_alive(false);
  send(res);
}

void Session::send(const Response& res) {
  const bool close_after = res.need_eof();
  response_bytes(res, out_);  // one buffer, reused from answer to answer on this connection
  state_ = State::Writing;
  stream_.expires_after(ctx_.config.write_timeout);
  net::async_write(stream_, net::buffer(out_),
                   [self = shared_from_this(), close_after](beast::error_code ec, size_t) {
                     self->on_write(close_after, ec);
                   });
}

void Session::on_write(bool close_after, beast::error_code ec) {
  if (out_.capacity() > kKeptOutput) std::string().swap(out_);  // a large answer: let it go
  if (ec) return close();
  if (close_after) return linger();
  do_read();
}

void Session::fail_and_close(unsigned status, const std::string& code, const std::string& message) {
  Response res = error_response(status, code, message, 11, false);
  res.set(http::field::server, "scrawl/" + ctx_.config.version);
  ctx_.metrics->request_observe(Route::Other, status, 0.0);
  send(res);  // Connection: close, so on_write lingers
}

void Session::linger() {
  state_ = State::Closing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close();
  stream_.expires_after(std::chrono::seconds(1));
  linger_read();
}

void Session::linger_read() {
  stream_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->discarded_ += n;
                            if (ec || self->discarded_ > (1u << 20)) return self->close();
                            self->linger_read();
                          });
}

bool Session::reserve(size_t bytes) {
  size_t held = ctx_.bodies.load();
  do {
    if (held + bytes > ctx_.config.bodies_limit) return false;
  } while (!ctx_.bodies.compare_exchange_weak(held, held + bytes));
  reserved_ = bytes;
  return true;
}

void Session::release() {
  if (reserved_) ctx_.bodies.fetch_sub(reserved_);
  reserved_ = 0;
}

void Session::close() {
  state_ = State::Closing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

// ---------------------------------------------------------------- Listener

Listener::Listener(net::io_context& ioc, const std::string& host, unsigned short port,
                   TransportContext& ctx)
    : ioc_(ioc), strand_(net::make_strand(ioc)), acceptor_(strand_), backoff_(strand_), ctx_(ctx) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(
      host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) throw Error("cannot resolve address '" + host + "': " + ec.message());
  const tcp::endpoint endpoint = results.begin()->endpoint();
  const std::string where = host + ":" + std::to_string(port);
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) throw Error("cannot open a socket for " + where + ": " + ec.message());
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) throw Error("cannot listen on " + where + ": " + ec.message());
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw Error("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
}

void Listener::run() {
  net::dispatch(strand_, [self = shared_from_this()] { self->do_accept(); });
}

void Listener::stop() {
  net::post(strand_, [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_.cancel();
  });
}

void Listener::do_accept() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors and the like: back off briefly instead of spinning.
    backoff_.expires_after(std::chrono::milliseconds(50));
    backoff_.async_wait([self = shared_from_this()](beast::error_code) { self->do_accept(); });
    return;
  }
  bool refuse;
  {
    std::lock_guard<std::mutex> lk(ctx_.mu);
    refuse = ctx_.draining || ctx_.live.load() >= ctx_.config.max_connections;
    if (!refuse) ctx_.live.fetch_add(1);
  }
  if (refuse) {
    ctx_.metrics->rejected_add("connections");
    reject(std::move(socket));
  } else {
    std::make_shared<Session>(std::move(socket), ctx_)->run();
  }
  do_accept();
}

// Answers 503 on a connection over the cap, without reading its request, and closes it.
void Listener::reject(tcp::socket socket) {
  struct Reject {
    beast::tcp_stream stream;
    Response res;
  };
  auto r = std::make_shared<Reject>(
      Reject{beast::tcp_stream(std::move(socket)),
             error_response(503, "too_many_connections",
                            "the server has too many open connections; retry shortly", 11, false)});
  r->res.set(http::field::server, "scrawl/" + ctx_.config.version);
  r->stream.expires_after(std::chrono::seconds(2));
  http::async_write(r->stream, r->res, [r](beast::error_code, size_t) {
    beast::error_code ec;
    r->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    r->stream.socket().close(ec);
  });
}

}  // namespace scrawl::server
