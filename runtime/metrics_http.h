// MetricsServer: a tiny HTTP/1.1 server (kj-http) on a node's event loop, for Prometheus.
//
//   GET /metrics   200, Content-Type: text/plain; version=0.0.4; charset=utf-8, the body
//                  that `render` returns at that moment (the node's MetricsRegistry)
//   GET /healthz   200, "ok\n" (the event loop is alive and answering)
//   HEAD of both   the same headers, no body
//   other method   405 on those two paths (Allow: GET, HEAD)
//   other path     404
// Every response closes its connection (Connection: close): one request per connection.
//
// Input from outside is bounded and never stops the node: at most maxConnections open at
// once (a further one is closed at once, counted in rejectedConnections()); a request must
// arrive whole within headerTimeout; a connection that sends more than maxRequestBytes is
// closed without an answer (oversizedRequests()); garbage gets 400 from kj-http; a request
// body is never read. An error on one connection ends that connection only, logged at
// most kMaxLoggedErrors times.
//
// Ownership: lives on the event-loop thread of `io`; `render` is called on it, must not
// block, and must stay valid as long as the server. Destroying the server closes every
// connection. Not thread-safe.
#pragma once

#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace pc::runtime {

struct MetricsServerOptions {
  uint32_t maxConnections = 16;
  uint32_t headerTimeoutMs = 5000;  // from accept to the whole request head
  size_t maxRequestBytes = 16384;   // read from one connection, at most (one request each)
};

class MetricsServer {
 public:
  using RenderFn = std::function<std::string()>;
  using LogFn = std::function<void(const std::string&)>;
  static constexpr uint64_t kMaxLoggedErrors = 20;

  MetricsServer(kj::AsyncIoContext& io, RenderFn render, LogFn log,
                MetricsServerOptions options = {});
  ~MetricsServer();

  // Binds host:port (port 0: the kernel picks; see port()) now, and serves until the
  // returned promise is dropped. Throws kj::Exception if the address cannot be bound.
  kj::Promise<void> listen(const std::string& host, uint16_t port);
  // The bound port, once listen() was called.
  uint16_t port() const { return port_; }

  uint64_t requests() const { return requests_; }
  uint64_t rejectedConnections() const { return rejectedConnections_; }
  uint64_t oversizedRequests() const { return oversizedRequests_; }
  uint32_t openConnections() const { return open_; }

 private:
  class Service;
  kj::Promise<void> acceptLoop();
  void logError(const std::string& what);

  kj::AsyncIoContext& io_;
  RenderFn render_;
  LogFn log_;
  MetricsServerOptions opts_;
  uint16_t port_ = 0;
  uint64_t requests_ = 0;
  uint64_t rejectedConnections_ = 0;
  uint64_t oversizedRequests_ = 0;
  uint64_t errorsLogged_ = 0;
  uint32_t open_ = 0;
  kj::Own<kj::ConnectionReceiver> listener_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pc::runtime
