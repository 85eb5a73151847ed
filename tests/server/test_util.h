// Helpers for tests/server: a live in-process server on an ephemeral loopback port, a small
// blocking HTTP client (Beast) and a raw-socket one for malformed traffic, digit images drawn
// in code, multipart bodies, and fake engines for the tests that must control timing.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "host/error.h"
#include "server/inference.h"
#include "server/server.h"

namespace scrawl::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

// ---------------------------------------------------------------- the model

// The shipped model ($SCRAWL_MODEL overrides, as for the CLI), loaded once for the whole run.
inline std::string test_model_path() {
  if (const char* env = std::getenv("SCRAWL_MODEL"); env && *env) return env;
  return std::string(SCRAWL_SOURCE_DIR) + "/models/default.scrawl";
}

inline std::shared_ptr<server::InferenceEngine> real_engine() {
  static std::mutex mu;
  static std::shared_ptr<server::InferenceEngine> engine;
  std::lock_guard<std::mutex> lk(mu);
  if (!engine) engine = server::network_engine_create(test_model_path(), "cpu");
  return engine;
}

// Answers every image with the same confident digit after an optional delay per batch, and
// records the batch sizes it saw. For tests that need to control timing (full queues, drains).
class FakeEngine : public server::InferenceEngine {
 public:
  explicit FakeEngine(std::chrono::milliseconds delay = {}, int digit = 3, bool fail = false)
      : delay_(delay), digit_(digit), fail_(fail) {}
  void infer(const float* x, int n, float* probs) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      batches_.push_back(n);
    }
    if (delay_.count()) std::this_thread::sleep_for(delay_);
    if (fail_) throw Error("the fake engine fails on purpose");
    // digit_ < 0: no idea at all, every class 0.1.
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < 10; ++c)
        probs[i * 10 + c] = digit_ < 0 ? 0.1f : (c == digit_ ? 0.91f : 0.01f);
    (void)x;
  }
  std::string device() const override { return "cpu"; }
  std::string model() const override { return "fake"; }
  std::vector<int> batches() const {
    std::lock_guard<std::mutex> lk(mu_);
    return batches_;
  }

 private:
  std::chrono::milliseconds delay_;
  int digit_;
  bool fail_;
  mutable std::mutex mu_;
  std::vector<int> batches_;
};

// ---------------------------------------------------------------- a live server

inline server::ServerConfig test_config() {
  server::ServerConfig c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.max_delay_us = 500;
  c.drain_timeout = std::chrono::milliseconds(5000);
  return c;
}

struct LiveServer {
  explicit LiveServer(server::ServerConfig cfg = test_config(),
                      std::shared_ptr<server::InferenceEngine> engine = real_engine())
      : srv(std::make_unique<server::Server>(cfg)) {
    srv->start();
    if (engine) srv->engine_set(std::move(engine));
  }
  uint16_t port() const { return srv->port(); }
  std::unique_ptr<server::Server> srv;
};

// ---------------------------------------------------------------- HTTP clients

struct Reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
  json body_json() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) > 0; }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A keep-alive client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval tv{20, 0};  // no test may hang forever on a read
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  Reply request(http::verb method, const std::string& target, const std::string& body = "",
                const Headers& headers = {}, bool head = false) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == http::verb::post) req.prepare_payload();
    http::write(socket_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    parser.skip(head || method == http::verb::head);
    http::read(socket_, buffer_, parser);
    Reply r;
    r.status = parser.get().result_int();
    for (const auto& f : parser.get()) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = parser.get().body();
    return r;
  }
  Reply get(const std::string& target, const Headers& headers = {}) {
    return request(http::verb::get, target, "", headers);
  }
  Reply post(const std::string& target, const std::string& body, const Headers& headers = {}) {
    return request(http::verb::post, target, body, headers);
  }
  // True when the server has closed this connection (reads EOF within `wait`).
  bool closed_by_server(std::chrono::milliseconds wait) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(socket_.native_handle(), &c, 1, MSG_PEEK) <= 0;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline Reply http_get(uint16_t port, const std::string& target, const Headers& h = {}) {
  return Client(port).get(target, h);
}
inline Reply http_post(uint16_t port, const std::string& target, const std::string& body,
                       const Headers& h = {}) {
  return Client(port).post(target, body, h);
}

// A raw TCP connection, for traffic no well-behaved client sends.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the server closes or `wait` passes. Sets *closed when it closed.
  std::string read_all(std::chrono::milliseconds wait, bool* closed = nullptr) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + wait;
    if (closed) *closed = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // Reads until `needle` appears (or the server closes, or `wait` passes).
  std::string read_until(const std::string& needle, std::chrono::milliseconds wait) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + wait;
    while (out.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

inline unsigned status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return static_cast<unsigned>(std::atoi(raw.c_str() + 9));
}

// ---------------------------------------------------------------- images

// A digit drawn as a person would with a thick pen: dark ink on light paper, 100x120 px,
// strokes as polylines. Shapes chosen to look like MNIST's handwriting, not a font's.
inline void digit_draw(cv::Mat& img, int d, cv::Point off, int thick = 9) {
  const cv::Scalar ink(25);
  auto line = [&](std::vector<cv::Point> pts) {
    for (auto& p : pts) p += off;
    cv::polylines(img, pts, false, ink, thick, cv::LINE_AA);
  };
  auto ellipse = [&](cv::Point c, cv::Size axes) {
    cv::ellipse(img, c + off, axes, 0, 0, 360, ink, thick, cv::LINE_AA);
  };
  switch (d) {
    case 0:
      ellipse({50, 60}, {24, 40});
      break;
    case 1:
      line({{44, 24}, {54, 15}, {54, 105}});
      break;
    case 2:
      line({{26, 38},
            {32, 22},
            {48, 14},
            {64, 18},
            {72, 32},
            {68, 50},
            {50, 70},
            {26, 100},
            {80, 100}});
      break;
    case 3:
      line({{26, 24}, {46, 14}, {66, 20}, {70, 36}, {58, 52}, {44, 56}});
      line({{44, 56}, {64, 62}, {74, 80}, {66, 98}, {46, 106}, {24, 98}});
      break;
    case 4:
      line({{58, 14}, {22, 74}, {80, 74}});
      line({{62, 40}, {62, 108}});
      break;
    case 5:
      line({{72, 16},
            {34, 16},
            {30, 54},
            {50, 48},
            {68, 56},
            {74, 78},
            {64, 100},
            {42, 106},
            {24, 98}});
      break;
    case 6:
      line({{66, 14},
            {46, 30},
            {32, 58},
            {30, 86},
            {42, 104},
            {62, 104},
            {72, 88},
            {68, 70},
            {50, 62},
            {34, 72}});
      break;
    case 7:
      line({{22, 18}, {78, 18}, {46, 108}});
      break;
    case 8:
      ellipse({50, 36}, {19, 21});
      ellipse({50, 82}, {23, 24});
      break;
    case 9:
      ellipse({48, 40}, {22, 23});
      line({{70, 40}, {66, 108}});
      break;
    default:
      break;
  }
}

inline cv::Mat digit_image(int d) {
  cv::Mat img(120, 100, CV_8UC1, cv::Scalar(235));
  digit_draw(img, d, {0, 0});
  return img;
}

// A row of digits, as mode=number reads them.
inline cv::Mat number_image(const std::string& digits) {
  cv::Mat img(140, static_cast<int>(20 + 100 * digits.size()), CV_8UC1, cv::Scalar(235));
  for (size_t i = 0; i < digits.size(); ++i)
    digit_draw(img, digits[i] - '0', {static_cast<int>(10 + 100 * i), 10});
  return img;
}

inline std::string encode(const cv::Mat& img, const std::string& ext = ".png") {
  std::vector<unsigned char> buf;
  cv::imencode(ext, img, buf);
  return std::string(buf.begin(), buf.end());
}

inline std::string digit_png(int d) { return encode(digit_image(d)); }
inline std::string blank_png() { return encode(cv::Mat(60, 60, CV_8UC1, cv::Scalar(240))); }

// ---------------------------------------------------------------- multipart

struct Part {
  std::string name, filename, content_type, data;
};

inline std::string multipart_body(const std::vector<Part>& parts, const std::string& boundary) {
  std::string b;
  for (const Part& p : parts) {
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) b += "; filename=\"" + p.filename + "\"";
    b += "\r\n";
    if (!p.content_type.empty()) b += "Content-Type: " + p.content_type + "\r\n";
    b += "\r\n" + p.data + "\r\n";
  }
  b += "--" + boundary + "--\r\n";
  return b;
}

inline const char* kBoundary = "----scrawltestboundary7MA4YWxkTrZu0gW";
inline Headers multipart_headers(const Headers& extra = {}) {
  Headers h = {{"Content-Type", std::string("multipart/form-data; boundary=") + kBoundary}};
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

inline std::string image_form(const std::vector<std::string>& pngs) {
  std::vector<Part> parts;
  for (size_t i = 0; i < pngs.size(); ++i)
    parts.push_back({"image", "digit" + std::to_string(i) + ".png", "image/png", pngs[i]});
  return multipart_body(parts, kBoundary);
}

}  // namespace scrawl::test
