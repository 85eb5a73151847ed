// The HTTP API: routing, the predict endpoints, KServe v2, metrics, the embedded page.
// Every handler validates its input and answers errors as {"error": {"code", "message"}}.
// Tested by tests/server/test_api.cpp, test_static.cpp, test_limits.cpp.
#include "server/routes.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <optional>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "host/error.h"
#include "host/vision/preprocess.h"
#include "host/vision/reading.h"
#include "server/kserve.h"
#include "server/result_page.h"
#include "server/web_assets.h"

namespace scrawl::server {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// One request in flight: the request itself (images are views into its body), where it goes,
// and the once-only answer path that adds common headers and records metrics.
struct Api::Exchange {
  Api* api = nullptr;
  Request req;
  Target target;
  Clock::time_point t0;
  Route route = Route::Other;
  Responder respond;
  bool head = false;
  bool html = false;  // POST /predict answered to a browser: HTML pages, errors included
  std::atomic<bool> answered{false};

  void reply(Response&& res) noexcept;
  void fail(const HttpError& e) noexcept;
  void fail(unsigned status, const std::string& code, const std::string& message) noexcept {
    fail(HttpError(status, code, message));
  }
};

void Api::Exchange::reply(Response&& res) noexcept {
  if (answered.exchange(true)) return;
  try {
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "scrawl/" + api->config_.version);
    res.set("X-Content-Type-Options", "nosniff");
    if (head) {
      const size_t size = res.body().size();
      res.body().clear();
      res.content_length(size);
    } else if (res.result() != http::status::not_modified &&
               res.result() != http::status::no_content) {
      res.prepare_payload();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    api->metrics_.request_observe(route, res.result_int(), seconds);
    respond(std::move(res));
  } catch (...) {
    // Out of memory while answering: send the smallest answer we can.
    try {
      Response bare{http::status::internal_server_error, req.version()};
      bare.keep_alive(false);
      bare.prepare_payload();
      respond(std::move(bare));
    } catch (...) {
    }
  }
}

void Api::Exchange::fail(const HttpError& e) noexcept {
  try {
    if (html) {
      Response res{static_cast<http::status>(e.status), req.version()};
      res.set(http::field::content_type, "text/html; charset=utf-8");
      res.set(http::field::cache_control, "no-store");
      if (e.status == 503) res.set(http::field::retry_after, "1");
      res.body() = error_page_html(e.status, e.what());
      reply(std::move(res));
    } else {
      reply(error_response(e.status, e.code, e.what(), req.version(), req.keep_alive()));
    }
  } catch (...) {
    reply(Response{http::status::internal_server_error, req.version()});
  }
}

namespace {

constexpr const char* kCsp =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

HttpError method_not_allowed(const char* allow) {
  return HttpError(405, "method_not_allowed", std::string("this path answers ") + allow);
}

// ---- images in a request ----

struct ImageInput {
  std::string_view bytes;
  std::string content_type;  // as declared (lower case), "" when absent
  std::string filename;
};

const char* const kReadableTypes = "PNG, JPEG, BMP or WebP";

std::vector<ImageInput> images_collect(const Request& req, size_t max_images) {
  auto ct = req.find(http::field::content_type);
  if (ct == req.end())
    throw HttpError(415, "unsupported_media_type",
                    "no Content-Type: send the image with its image/* type (e.g. image/png), or "
                    "as multipart/form-data with an 'image' field");
  const MediaType mt = media_type_parse(std::string_view(ct->value().data(), ct->value().size()));
  std::vector<ImageInput> images;
  if (mt.type == "multipart/form-data") {
    auto b = mt.params.find("boundary");
    if (b == mt.params.end())
      throw HttpError(400, "bad_request", "multipart Content-Type without a boundary");
    const std::vector<MultipartPart> parts =
        multipart_parse(req.body(), b->second, max_images * 4 + 16);
    for (const MultipartPart& p : parts) {
      if (p.name != "image") continue;
      if (images.size() == max_images)
        throw HttpError(413, "too_many_images",
                        "at most " + std::to_string(max_images) + " images per request");
      images.push_back({p.data, p.content_type, p.filename});
    }
    if (images.empty()) throw HttpError(400, "missing_image", "the form has no 'image' field");
  } else if (starts_with(mt.type, "image/") || mt.type == "application/octet-stream") {
    images.push_back({req.body(), mt.type, ""});
  } else {
    throw HttpError(415, "unsupported_media_type",
                    "Content-Type " + mt.type +
                        " is not an image: send image/png, image/jpeg... "
                        "or multipart/form-data with an 'image' field");
  }
  return images;
}

// The image's declared type must be one we read; with no type (or octet-stream), its first
// bytes must look like one. Whether it really decodes is the decoder's call (422 if not).
void image_type_check(const ImageInput& in) {
  const std::string what = in.filename.empty() ? "the image" : "'" + in.filename + "'";
  if (in.bytes.empty())
    throw HttpError(400, "empty_image", what + " is empty (was a file chosen?)");
  if (in.content_type.empty() || in.content_type == "application/octet-stream") {
    if (vision::image_format_sniff(in.bytes.data(), in.bytes.size()) ==
        vision::ImageFormat::Unknown)
      throw HttpError(415, "unsupported_media_type",
                      what + " is not an image type scrawl reads (" + kReadableTypes + ")");
  } else if (!image_mime_supported(in.content_type)) {
    throw HttpError(415, "unsupported_media_type",
                    what + " is " + in.content_type + ", not an image type scrawl reads (" +
                        kReadableTypes + ")");
  }
}

using Classify = std::function<std::vector<float>(const std::vector<vision::DigitCrop>&)>;

// Decode and preprocess one image into its crops; library errors become HTTP errors.
std::vector<vision::DigitCrop> image_crops(const ImageInput& in, vision::ReadMode mode,
                                           const Classify& classify,
                                           const vision::PairReader& read_pair) {
  image_type_check(in);
  const std::string what = in.filename.empty() ? "the image" : "'" + in.filename + "'";
  try {
    const cv::Mat image = vision::image_decode(in.bytes.data(), in.bytes.size());
    std::vector<vision::DigitCrop> crops;
    if (mode == vision::ReadMode::Number)
      crops = vision::number_segment(image, classify, read_pair);
    else
      crops.push_back(vision::digit_preprocess(image));
    if (crops.empty()) throw NoInkError("no ink found");
    return crops;
  } catch (const HttpError&) {
    throw;
  } catch (const TooLargeError& e) {
    throw HttpError(413, "image_too_large", what + ": " + e.what());
  } catch (const NoInkError& e) {
    throw HttpError(422, "no_ink",
                    what +
                        " has no ink that scrawl can find: write a dark digit on light paper "
                        "(or light on dark), large and alone");
  } catch (const FormatError& e) {
    throw HttpError(422, "undecodable_image", what + " could not be decoded: " + e.what());
  } catch (const UnavailableError& e) {
    throw HttpError(503, "unavailable", e.what());
  } catch (const Error& e) {
    throw HttpError(422, "undecodable_image", what + ": " + e.what());
  } catch (const cv::Exception& e) {
    throw HttpError(422, "undecodable_image", what + " could not be decoded");
  } catch (const std::bad_alloc&) {
    throw HttpError(413, "image_too_large", what + " is too large to decode");
  }
}

// One /api/v1/predict result: the reading `scrawl predict --json` prints, plus where it ran.
json result_json(const std::vector<vision::DigitCrop>& crops, const float* probs,
                 const std::string& device, const std::string& model) {
  json r = vision::reading_json(crops, probs);
  r["device"] = device;
  r["model"] = model;
  return r;
}

json error_json(const HttpError& e) {
  return {{"error", {{"code", e.code}, {"message", e.what()}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// What happened to each image of a predict request.
struct ImageOutcome {
  std::vector<vision::DigitCrop> crops;
  std::optional<HttpError> error;
};

}  // namespace

Api::Api(ApiConfig config, Batcher& batcher, Metrics& metrics, boost::asio::any_io_executor io,
         boost::asio::thread_pool& blocking)
    : config_(std::move(config)),
      batcher_(batcher),
      metrics_(metrics),
      io_(std::move(io)),
      blocking_(blocking) {}

void Api::handle(Request&& req, Responder respond) noexcept {
  std::shared_ptr<Exchange> ex;
  try {
    ex = std::make_shared<Exchange>();
    ex->api = this;
    ex->t0 = Clock::now();
    ex->req = std::move(req);
    ex->respond = std::move(respond);
    ex->head = ex->req.method() == http::verb::head;
  } catch (...) {
    return;  // out of memory before anything could be answered; the session times out
  }
  try {
    dispatch(ex);
  } catch (const HttpError& e) {
    ex->fail(e);
  } catch (const std::bad_alloc&) {
    ex->fail(503, "overloaded", "out of memory; try again");
  } catch (const std::exception& e) {
    ex->fail(500, "internal", e.what());
  } catch (...) {
    ex->fail(500, "internal", "unexpected error");
  }
}

void Api::answer_post(std::function<void()> answer) {
  bool first;
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    first = outbox_.empty();
    outbox_.push_back(std::move(answer));
  }
  if (first) boost::asio::post(io_, [this] { answers_drain(); });
}

void Api::answers_drain() noexcept {
  std::vector<std::function<void()>> answers;
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    answers.swap(outbox_);
  }
  for (std::function<void()>& a : answers) a();  // each catches its own errors
}

void Api::submit_error(const std::shared_ptr<Exchange>& ex, SubmitStatus status) {
  switch (status) {
    case SubmitStatus::QueueFull:
      metrics_.rejected_add("queue_full");
      ex->fail(503, "overloaded", "the inference queue is full; retry shortly");
      break;
    case SubmitStatus::NotReady:
      metrics_.rejected_add("not_ready");
      ex->fail(503, "not_ready", "the model is still loading; retry shortly");
      break;
    default:
      ex->fail(503, "shutting_down", "the server is shutting down");
  }
}

void Api::dispatch(const std::shared_ptr<Exchange>& ex) {
  const http::verb method = ex->req.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;
  const bool options = method == http::verb::options;
  ex->target = target_parse(std::string_view(ex->req.target().data(), ex->req.target().size()));
  const std::string& path = ex->target.path;

  // Answers OPTIONS with the allowed methods (no CORS headers: other origins stay out), and
  // anything else outside them with 405.
  auto allow_only = [&](const char* allow, bool ok) {
    if (ok) return true;
    if (options) {
      Response res{http::status::no_content, ex->req.version()};
      res.set(http::field::allow, allow);
      ex->reply(std::move(res));
      return false;
    }
    HttpError e = method_not_allowed(allow);
    Response res =
        error_response(e.status, e.code, e.what(), ex->req.version(), ex->req.keep_alive());
    res.set(http::field::allow, allow);
    ex->reply(std::move(res));
    return false;
  };

  if (path == "/" || path == "/index.html") {
    ex->route = Route::Page;
    if (allow_only("GET, HEAD", get)) serve_asset(ex, "index.html");
    return;
  }
  if (path == "/predict") {
    ex->route = Route::Predict;
    if (!allow_only("POST", post)) return;
    auto accept = ex->req.find(http::field::accept);
    ex->html = accept == ex->req.end() || !accept_prefers_json(std::string_view(
                                              accept->value().data(), accept->value().size()));
    predict(ex, true);
    return;
  }
  if (path == "/api/v1/predict") {
    ex->route = Route::ApiPredict;
    if (allow_only("POST", post)) predict(ex, false);
    return;
  }
  if (path == "/v2/health/live" || path == "/v2/health/ready") {
    ex->route = Route::V2Health;
    if (!allow_only("GET, HEAD", get)) return;
    if (path == "/v2/health/live")
      ex->reply(json_response(200, R"({"live":true})", ex->req.version(), ex->req.keep_alive()));
    else if (batcher_.ready())
      ex->reply(json_response(200, R"({"ready":true})", ex->req.version(), ex->req.keep_alive()));
    else
      ex->fail(503, "not_ready", "the model is still loading");
    return;
  }
  if (path == "/v2") {
    ex->route = Route::V2Metadata;
    if (!allow_only("GET, HEAD", get)) return;
    json j = {
        {"name", "scrawl"}, {"version", config_.version}, {"extensions", {"binary_tensor_data"}}};
    ex->reply(json_response(200, dump(j), ex->req.version(), ex->req.keep_alive()));
    return;
  }
  if (starts_with(path, "/v2/models/")) {
    const std::string rest = path.substr(std::string("/v2/models/").size());
    ex->route = rest.size() > 6 && rest.compare(rest.size() - 6, 6, "/infer") == 0
                    ? Route::V2Infer
                    : Route::V2Metadata;
    const bool infer = ex->route == Route::V2Infer;
    if (!allow_only(infer ? "POST" : "GET, HEAD", infer ? post : get)) return;
    v2_models(ex, rest);
    return;
  }
  if (path == "/metrics") {
    ex->route = Route::Metrics;
    if (!allow_only("GET, HEAD", get)) return;
    Metrics::State s;
    if (auto engine = batcher_.engine()) {
      s.device = engine->device();
      s.model = engine->model();
    }
    s.ready = batcher_.ready();
    s.queue_depth = batcher_.queue_depth();
    Response res{http::status::ok, ex->req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = metrics_.render(s);
    ex->reply(std::move(res));
    return;
  }
  if (path == "/openapi.json") {
    ex->route = Route::OpenApi;
    if (allow_only("GET, HEAD", get)) serve_asset(ex, "openapi.json");
    return;
  }
  // The page's other files: one path segment naming an embedded asset.
  if (path.size() > 1 && path.find('/', 1) == std::string::npos) {
    if (const web::Asset* a = web::asset_find(std::string_view(path).substr(1))) {
      ex->route = Route::Page;
      if (allow_only("GET, HEAD", get)) serve_asset(ex, a->name);
      return;
    }
  }
  ex->fail(404, "not_found", "no such path: " + path.substr(0, 200));
}

void Api::serve_asset(const std::shared_ptr<Exchange>& ex, const char* name) {
  const web::Asset* a = web::asset_find(name);
  if (!a) throw HttpError(404, "not_found", std::string("asset missing from this build: ") + name);
  const std::string_view mime(a->mime);
  const bool html = starts_with(mime, "text/html");
  auto add_headers = [&](Response& res) {
    res.set(http::field::etag, a->etag);
    // HTML revalidates every time so a new build's page is seen at once; its files may be
    // cached for an hour and are revalidated by ETag after that.
    res.set(http::field::cache_control, html ? "no-cache" : "public, max-age=3600");
    if (html) {
      res.set("Content-Security-Policy", kCsp);
      res.set("Referrer-Policy", "no-referrer");
      res.set("X-Frame-Options", "DENY");
    }
  };
  auto inm = ex->req.find(http::field::if_none_match);
  if (inm != ex->req.end()) {
    const std::string_view tags(inm->value().data(), inm->value().size());
    const std::string_view etag(a->etag);
    if (tags == "*" || tags.find(etag) != std::string_view::npos) {
      Response res{http::status::not_modified, ex->req.version()};
      add_headers(res);
      ex->reply(std::move(res));
      return;
    }
  }
  Response res{http::status::ok, ex->req.version()};
  res.set(http::field::content_type, a->mime);
  add_headers(res);
  res.body().assign(reinterpret_cast<const char*>(a->data), a->size);
  ex->reply(std::move(res));
}

void Api::pair_reader_set(vision::PairReader read_pair) {
  auto reader = read_pair ? std::make_shared<const vision::PairReader>(std::move(read_pair))
                          : nullptr;
  std::lock_guard<std::mutex> lk(pair_mu_);
  read_pair_ = std::move(reader);
}

void Api::predict(const std::shared_ptr<Exchange>& ex, bool form) {
  vision::ReadMode mode = vision::ReadMode::Digit;
  const auto query = query_parse(ex->target.query);
  if (auto m = query.find("mode"); m != query.end()) {
    if (m->second != "digit" && m->second != "number")
      throw HttpError(400, "bad_request", "mode must be 'digit' or 'number'");
    mode = vision::read_mode_parse(m->second);
  }
  if (!batcher_.ready()) {
    metrics_.rejected_add("not_ready");
    throw HttpError(503, "not_ready", "the model is still loading; retry shortly");
  }
  auto images = std::make_shared<std::vector<ImageInput>>(
      images_collect(ex->req, form ? 1 : static_cast<size_t>(config_.max_images)));
  const bool many = images->size() > 1;

  // Decode and preprocess every image, then send all their crops to the batcher as one group.
  std::shared_ptr<const vision::PairReader> read_pair;
  if (mode == vision::ReadMode::Number) {
    std::lock_guard<std::mutex> lk(pair_mu_);
    read_pair = read_pair_;
  }
  auto run = [this, ex, images, mode, many, read_pair](const Classify& classify) {
    auto outcomes = std::make_shared<std::vector<ImageOutcome>>(images->size());
    int total = 0;
    for (size_t i = 0; i < images->size(); ++i) {
      try {
        (*outcomes)[i].crops =
            image_crops((*images)[i], mode, classify, read_pair ? *read_pair : vision::PairReader{});
        total += static_cast<int>((*outcomes)[i].crops.size());
      } catch (const HttpError& e) {
        if (!many) throw;
        (*outcomes)[i].error = e;
      }
    }
    auto answer = [this, ex, outcomes, many](BatchResult r) {
      if (!r.error.empty()) return ex->fail(500, "inference_failed", r.error);
      size_t first = 0;  // the pair reader's readings replace the model's for its digits
      for (const ImageOutcome& o : *outcomes) {
        if (o.error) continue;
        if (r.probs.size() >= (first + o.crops.size()) * kClasses)
          vision::pair_probs_apply(o.crops, r.probs.data() + first * kClasses);
        first += o.crops.size();
      }
      if (!many && !ex->html && !(*outcomes)[0].error) {
        // The common case, one image answered in JSON: written straight to text.
        return ex->reply(json_response(
            200, vision::reading_json_text((*outcomes)[0].crops, r.probs.data(), r.device, r.model),
            ex->req.version(), ex->req.keep_alive()));
      }
      json results = json::array();
      size_t offset = 0;
      for (const ImageOutcome& o : *outcomes) {
        if (o.error) {
          results.push_back(error_json(*o.error));
          continue;
        }
        results.push_back(
            result_json(o.crops, r.probs.data() + offset * kClasses, r.device, r.model));
        offset += o.crops.size();
      }
      if (ex->html) {
        Response res{http::status::ok, ex->req.version()};
        res.set(http::field::content_type, "text/html; charset=utf-8");
        res.set(http::field::cache_control, "no-store");
        res.set("Content-Security-Policy", kCsp);
        res.body() = result_page_html(results[0]);
        return ex->reply(std::move(res));
      }
      const json body = many ? json{{"results", std::move(results)}} : std::move(results[0]);
      ex->reply(json_response(200, dump(body), ex->req.version(), ex->req.keep_alive()));
    };
    if (total == 0) return answer(BatchResult{});  // several images, none readable
    std::vector<float> x(static_cast<size_t>(total) * kImagePixels);
    size_t row = 0;
    for (const ImageOutcome& o : *outcomes)
      for (const vision::DigitCrop& c : o.crops)
        std::copy(c.pixels.begin(), c.pixels.end(), x.begin() + (row++) * kImagePixels);
    auto done = [this, ex, answer](BatchResult&& r) {
      // On the engine's worker thread: hand the JSON work to an I/O thread at once.
      answer_post([ex, answer, r = std::move(r)]() {
        try {
          answer(r);
        } catch (const std::exception& e) {
          ex->fail(500, "internal", e.what());
        }
      });
    };
    const SubmitStatus st = batcher_.submit(std::move(x), total, std::move(done), true);
    if (st != SubmitStatus::Accepted) submit_error(ex, st);
  };

  if (mode == vision::ReadMode::Digit) {
    run(Classify{});
    return;
  }
  // Number mode asks the model about candidate splits while segmenting, and waits for the
  // answers: that waiting happens on the blocking pool, never on an I/O thread.
  Batcher* batcher = &batcher_;
  Classify classify = [batcher](const std::vector<vision::DigitCrop>& crops) {
    if (crops.empty()) return std::vector<float>{};
    std::vector<float> x(crops.size() * kImagePixels);
    for (size_t i = 0; i < crops.size(); ++i)
      std::copy(crops[i].pixels.begin(), crops[i].pixels.end(), x.begin() + i * kImagePixels);
    auto promise = std::make_shared<std::promise<BatchResult>>();
    std::future<BatchResult> future = promise->get_future();
    const SubmitStatus st =
        batcher->submit(std::move(x), static_cast<int>(crops.size()),
                        [promise](BatchResult&& r) { promise->set_value(std::move(r)); });
    if (st == SubmitStatus::QueueFull)
      throw HttpError(503, "overloaded", "the inference queue is full; retry shortly");
    if (st != SubmitStatus::Accepted)
      throw HttpError(503, "not_ready", "the model is not available");
    const BatchResult r = future.get();
    if (!r.error.empty()) throw HttpError(500, "inference_failed", r.error);
    if (r.probs.size() < crops.size() * kClasses)
      throw HttpError(500, "inference_failed", "the engine answered fewer probabilities than asked");
    return vision::crop_confidences(r.probs.data(), crops.size());
  };
  if (number_jobs_.fetch_add(1) >= config_.max_number_jobs) {
    number_jobs_.fetch_sub(1);
    metrics_.rejected_add("queue_full");
    throw HttpError(503, "overloaded", "too many numbers being read; retry shortly");
  }
  boost::asio::post(blocking_, [this, ex, run, classify]() {
    try {
      run(classify);
    } catch (const HttpError& e) {
      ex->fail(e);
    } catch (const std::exception& e) {
      ex->fail(500, "internal", e.what());
    }
    number_jobs_.fetch_sub(1);
  });
}

void Api::v2_models(const std::shared_ptr<Exchange>& ex, const std::string& rest) {
  // rest: "{name}", "{name}/ready", "{name}/infer", "{name}/versions/{v}[/ready|/infer]".
  std::vector<std::string> seg;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    seg.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  std::string action;
  if (seg.size() >= 3 && seg[1] == "versions") {
    if (seg[2] != kV2Version)
      throw HttpError(
          404, "model_not_found",
          "model version " + seg[2].substr(0, 40) + " does not exist; it is " + kV2Version);
    seg.erase(seg.begin() + 1, seg.begin() + 3);
  }
  if (seg.size() == 2) action = seg[1];
  if (seg.empty() || seg[0].empty() || seg.size() > 2 ||
      (seg.size() == 2 && action != "ready" && action != "infer"))
    throw HttpError(404, "not_found", "no such path: /v2/models/" + rest.substr(0, 200));

  std::shared_ptr<InferenceEngine> engine = batcher_.engine();
  if (!engine) {
    metrics_.rejected_add("not_ready");
    throw HttpError(503, "not_ready", "the model is still loading; retry shortly");
  }
  const std::string model = engine->model();
  if (seg[0] != model)
    throw HttpError(
        404, "model_not_found",
        "no model named '" + seg[0].substr(0, 100) + "'; this server has '" + model + "'");
  if (action.empty()) {
    ex->reply(json_response(200, dump(v2_model_metadata(model, engine->device())),
                            ex->req.version(), ex->req.keep_alive()));
  } else if (action == "ready") {
    json j = {{"name", model}, {"ready", batcher_.ready()}};
    ex->reply(json_response(200, dump(j), ex->req.version(), ex->req.keep_alive()));
  } else {
    v2_infer(ex, model);
  }
}

void Api::v2_infer(const std::shared_ptr<Exchange>& ex, const std::string& model) {
  std::optional<size_t> header_length;
  if (auto h = ex->req.find("Inference-Header-Content-Length"); h != ex->req.end()) {
    const std::string v(h->value().data(), h->value().size());
    if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos)
      throw HttpError(400, "bad_request", "Inference-Header-Content-Length must be a byte count");
    header_length = static_cast<size_t>(std::stoull(v));
  }
  auto req = std::make_shared<V2Request>(
      v2_request_parse(ex->req.body(), header_length, config_.max_tensor_batch));
  std::vector<float> x = std::move(req->x);
  const SubmitStatus st =
      batcher_.submit(std::move(x), req->n, [this, ex, req, model](BatchResult&& r) {
        answer_post([ex, req, model, r = std::move(r)]() {
          try {
            if (!r.error.empty()) return ex->fail(500, "inference_failed", r.error);
            std::optional<size_t> json_length;
            Response res{http::status::ok, ex->req.version()};
            res.body() = v2_response_build(*req, model, r.probs.data(), &json_length);
            res.set(http::field::cache_control, "no-store");
            if (json_length) {
              res.set(http::field::content_type, "application/octet-stream");
              res.set("Inference-Header-Content-Length", std::to_string(*json_length));
            } else {
              res.set(http::field::content_type, "application/json");
            }
            ex->reply(std::move(res));
          } catch (const std::exception& e) {
            ex->fail(500, "internal", e.what());
          }
        });
      });
  if (st != SubmitStatus::Accepted) submit_error(ex, st);
}

}  // namespace scrawl::server
