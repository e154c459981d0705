#include "runtime/metrics_http.h"

#include <kj/compat/http.h>
#include <kj/debug.h>

#include <algorithm>

#include "rpc/wrapped_stream.h"

namespace pc::runtime {

namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The connection as the HTTP parser sees it: at most `limit` bytes can be read from it.
// Past that a read fails as a disconnect, so kj-http drops the connection without a word
// (and without logging: a flood of oversized requests must not flood the node's log).
// After endInput() (the one response is complete) it reads as end of stream: kj-http's
// server then ends the connection at once -- it sends `Connection: close` but would
// otherwise wait for the client's next request or its pipeline timeout.
class LimitedStream final : public rpc::WrappedStream {
 public:
  LimitedStream(kj::Own<kj::AsyncIoStream> inner, size_t limit, uint64_t& oversized)
      : WrappedStream(kj::mv(inner)), left_(limit), oversized_(oversized) {}

  void endInput() { ended_ = true; }

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override {
    if (ended_) return size_t{0};
    if (left_ == 0) {
      ++oversized_;
      return KJ_EXCEPTION(DISCONNECTED, "metrics request larger than the limit");
    }
    maxBytes = std::min(maxBytes, left_);
    minBytes = std::min(minBytes, maxBytes);
    return inner().tryRead(buffer, minBytes, maxBytes).then([this](size_t n) {
      left_ -= n;
      return n;
    });
  }

 private:
  size_t left_;
  uint64_t& oversized_;
  bool ended_ = false;
};

}  // namespace

// Answers the two paths; everything else is 404/405. One per connection; runs on the
// event loop.
class MetricsServer::Service final : public kj::HttpService {
 public:
  Service(MetricsServer& server, const kj::HttpHeaderTable& table, kj::HttpHeaderId contentType,
          kj::HttpHeaderId allow, LimitedStream& connection)
      : server_(server),
        table_(table),
        contentType_(contentType),
        allow_(allow),
        connection_(connection) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders& headers, kj::AsyncInputStream& body,
                            Response& response) override {
    // One request per connection: once answered, the connection reads as ended.
    // (Also after a failure: kj-http writes its error response first, then reads.)
    return kj::evalNow([&]() { return answer(method, url, headers, body, response); })
        .then([this]() { connection_.endInput(); },
              [this](kj::Exception&& e) {
                connection_.endInput();
                kj::throwFatalException(kj::mv(e));
              });
  }

 private:
  kj::Promise<void> answer(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders&,
                           kj::AsyncInputStream&, Response& response) {
    ++server_.requests_;
    // Only the path counts (Prometheus may add ?query parameters in some setups).
    std::string path(url.cStr());
    if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    const bool metrics = path == "/metrics";
    const bool healthz = path == "/healthz";
    if (!metrics && !healthz) return reply(response, 404, "Not Found", "text/plain", "not found\n");
    if (method != kj::HttpMethod::GET && method != kj::HttpMethod::HEAD) {
      kj::HttpHeaders headers(table_);
      headers.set(allow_, "GET, HEAD");
      return response.sendError(405, "Method Not Allowed", headers);
    }
    std::string body = metrics ? server_.render_() : std::string("ok\n");
    const char* type = metrics ? kMetricsContentType : "text/plain; charset=utf-8";
    return reply(response, 200, "OK", type, std::move(body), method == kj::HttpMethod::HEAD);
  }

  kj::Promise<void> reply(Response& response, uint status, kj::StringPtr statusText,
                          const char* type, std::string body, bool head = false) {
    kj::HttpHeaders headers(table_);
    headers.set(contentType_, type);
    auto stream = response.send(status, statusText, headers, uint64_t{body.size()});
    if (head || body.empty()) return kj::READY_NOW;  // HEAD: kj-http sends no body
    auto bodyOwned = kj::heap<std::string>(std::move(body));
    auto& ref = *bodyOwned;
    return stream->write(ref.data(), ref.size()).attach(kj::mv(stream), kj::mv(bodyOwned));
  }

  MetricsServer& server_;
  const kj::HttpHeaderTable& table_;
  kj::HttpHeaderId contentType_;
  kj::HttpHeaderId allow_;
  LimitedStream& connection_;
};

// One request per connection: every response carries `Connection: close` and the server
// closes after it. A scrape every few seconds costs one more handshake; in exchange no
// connection outlives its request, which keeps the connection bound meaningful.
class CloseAfterResponse final : public kj::HttpServerCallbacks {
 public:
  bool shouldClose() override { return true; }
};

struct MetricsServer::Impl : public kj::TaskSet::ErrorHandler {
  explicit Impl(MetricsServer& s) : server(s) {}
  void taskFailed(kj::Exception&& e) override {
    // One connection's failure (garbage, a reset, a timeout): that connection is gone.
    if (e.getType() != kj::Exception::Type::DISCONNECTED) {
      server.logError(std::string("metrics connection failed: ") + e.getDescription().cStr());
    }
  }

  MetricsServer& server;
  CloseAfterResponse callbacks;
  kj::Own<kj::HttpHeaderTable> table;
  kj::HttpHeaderId contentType;
  kj::HttpHeaderId allow;
  kj::Own<kj::HttpServer> http;
  // Declared last: destroyed first, cancelling every connection while the rest still lives.
  kj::Own<kj::TaskSet> connections;
};

MetricsServer::MetricsServer(kj::AsyncIoContext& io, RenderFn render, LogFn log,
                             MetricsServerOptions options)
    : io_(io), render_(std::move(render)), log_(std::move(log)), opts_(options) {
  KJ_REQUIRE(opts_.maxConnections >= 1, opts_.maxConnections);
  impl_ = std::make_unique<Impl>(*this);
  kj::HttpHeaderTable::Builder builder;
  impl_->contentType = builder.add("Content-Type");
  impl_->allow = builder.add("Allow");
  impl_->table = builder.build();
  kj::HttpServerSettings settings;
  settings.headerTimeout = opts_.headerTimeoutMs * kj::MILLISECONDS;
  settings.callbacks = impl_->callbacks;
  // Every connection is a LimitedStream (acceptLoop), and gets its own Service.
  kj::HttpServer::HttpServiceFactory factory =
      [this](kj::AsyncIoStream& connection) -> kj::Own<kj::HttpService> {
    return kj::heap<Service>(*this, *impl_->table, impl_->contentType, impl_->allow,
                             kj::downcast<LimitedStream>(connection));
  };
  impl_->http =
      kj::heap<kj::HttpServer>(io_.provider->getTimer(), *impl_->table, kj::mv(factory), settings);
  impl_->connections = kj::heap<kj::TaskSet>(*impl_);
}

MetricsServer::~MetricsServer() {
  // Connections first (they use the HTTP server and the service), then the rest.
  impl_->connections = nullptr;
}

kj::Promise<void> MetricsServer::listen(const std::string& host, uint16_t port) {
  auto addr = io_.provider->getNetwork().parseAddress(host, port).wait(io_.waitScope);
  listener_ = addr->listen();
  port_ = static_cast<uint16_t>(listener_->getPort());
  return acceptLoop();
}

kj::Promise<void> MetricsServer::acceptLoop() {
  return listener_->accept().then([this](kj::Own<kj::AsyncIoStream> stream) {
    if (open_ >= opts_.maxConnections) {
      // Over the bound: closed at once (the scraper retries next interval).
      ++rejectedConnections_;
      logError("metrics: connection refused, " + std::to_string(open_) + " already open (max " +
               std::to_string(opts_.maxConnections) + ")");
    } else {
      ++open_;
      auto limited =
          kj::heap<LimitedStream>(kj::mv(stream), opts_.maxRequestBytes, oversizedRequests_);
      auto done = impl_->http->listenHttp(kj::mv(limited));
      impl_->connections->add(done.attach(kj::defer([this]() { --open_; })));
    }
    return acceptLoop();
  });
}

void MetricsServer::logError(const std::string& what) {
  if (errorsLogged_ >= kMaxLoggedErrors || !log_) return;
  ++errorsLogged_;
  log_(what + (errorsLogged_ == kMaxLoggedErrors ? " (further errors not logged)" : ""));
}

}  // namespace pc::runtime
