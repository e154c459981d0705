// The metrics HTTP server (runtime/metrics_http.h) on a real KJ event loop and a real
// loopback socket: Prometheus gets the registry's text with the 0.0.4 content type, the
// health check answers, other paths and methods are refused, and bad clients (garbage,
// oversized headers, too many or silent connections) lose their connection while the
// server keeps serving. A scraper would see wrong data, or a node could be stalled by one
// client, if these broke.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/metrics_http.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "runtime/metrics.h"
#include "tests/runtime/promtool_util.h"

using namespace pc::runtime;

namespace {

// A blocking client socket connected to 127.0.0.1:port.
int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void sendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close on us mid-send (oversized input): fine
    off += static_cast<size_t>(n);
  }
}

// Reads until the server closes the connection (or `timeoutMs` passes: "TIMEOUT" appended).
std::string readToEof(int fd, int timeoutMs = 5000) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return out + "TIMEOUT";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;  // EOF or reset: the server closed
    out.append(buf, static_cast<size_t>(n));
  }
}

// One request with Connection: close; the whole response.
std::string exchange(uint16_t port, const std::string& request) {
  int fd = connectTo(port);
  sendAll(fd, request);
  std::string r = readToEof(fd);
  ::close(fd);
  return r;
}

std::string get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  return exchange(port, method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

std::string bodyOf(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

// A server on its own event loop, on this thread; `client` runs on another thread against
// its port while this thread runs the loop.
struct Fixture {
  explicit Fixture(MetricsServerOptions opts = {}) : io(kj::setupAsyncIo()) {
    auto& f = registry.counter("pcommit_test_total", "Test counter.", {"kind"});
    f.with({"a\"b"}).inc(7);
    registry.histogram("pcommit_test_seconds", "Test histogram.", {0.01, 0.1}).get().observe(0.05);
    server = std::make_unique<MetricsServer>(
        io, [this]() { return registry.render(); },
        [this](const std::string& l) { logged += l + "\n"; }, opts);
    serving = server->listen("127.0.0.1", 0).eagerlyEvaluate([](kj::Exception&& e) {
      FAIL("metrics server stopped: " << e.getDescription().cStr());
    });
    REQUIRE(server->port() != 0);
  }
  ~Fixture() {
    serving = nullptr;
    server.reset();
  }
  // Runs `client` on a thread while this thread serves; returns when the client is done.
  void run(const std::function<void(uint16_t)>& client) {
    std::atomic<bool> done{false};
    uint16_t port = server->port();
    std::thread t([&] {
      client(port);
      done = true;
    });
    while (!done) io.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).wait(io.waitScope);
    t.join();
  }

  kj::AsyncIoContext io;
  MetricsRegistry registry;
  std::string logged;
  std::unique_ptr<MetricsServer> server;
  kj::Promise<void> serving = nullptr;
};

}  // namespace

TEST_CASE("GET /metrics serves the registry's text with the Prometheus 0.0.4 content type") {
  Fixture fx;
  std::string r;
  fx.run([&](uint16_t port) { r = get(port, "/metrics"); });
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(bodyOf(r) == fx.registry.render());
  CHECK(bodyOf(r).find("pcommit_test_total{kind=\"a\\\"b\"} 7\n") != std::string::npos);
  // Each scrape renders afresh: a change shows in the next one.
  fx.registry.counter("pcommit_later_total", "Later.");
  fx.run([&](uint16_t port) { r = get(port, "/metrics?x=1"); });
  CHECK(bodyOf(r).find("pcommit_later_total 0\n") != std::string::npos);
  CHECK(fx.server->requests() == 2);
}

TEST_CASE("GET /healthz answers ok; HEAD has headers only; other paths 404, methods 405") {
  Fixture fx;
  std::string health, head, missing, post, root;
  fx.run([&](uint16_t port) {
    health = get(port, "/healthz");
    head = get(port, "/metrics", "HEAD");
    missing = get(port, "/metrics/extra");
    root = get(port, "/");
    post = exchange(port,
                    "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Content-Length: 3\r\n\r\nabc");
  });
  CHECK(health.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(bodyOf(health) == "ok\n");
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK_MESSAGE(bodyOf(head).empty(), head);
  CHECK(missing.rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(root.rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(post.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
}

TEST_CASE("garbage and oversized headers lose their connection; the server keeps serving") {
  static const char kGarbage[] = "\x00\x01\x02 not http\r\n\r\n";
  Fixture fx;
  std::string garbage, huge, after;
  fx.run([&](uint16_t port) {
    garbage = exchange(port, std::string(kGarbage, sizeof kGarbage - 1));
    // 1 MiB of header: far beyond kj-http's header buffer.
    huge =
        exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
                           "\r\n\r\n");
    after = get(port, "/metrics");
  });
  CHECK(garbage.find("TIMEOUT") == std::string::npos);
  CHECK(garbage.find("200 OK") == std::string::npos);
  CHECK(huge.find("TIMEOUT") == std::string::npos);
  CHECK(huge.find("200 OK") == std::string::npos);
  CHECK(after.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(bodyOf(after) == fx.registry.render());
  CHECK(fx.server->oversizedRequests() == 1);
}

TEST_CASE("a request body beyond the request limit closes the connection without an answer") {
  MetricsServerOptions opts;
  opts.maxRequestBytes = 1024;
  Fixture fx(opts);
  std::string small, big;
  fx.run([&](uint16_t port) {
    small = get(port, "/healthz");
    big = exchange(
        port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'p') + "\r\n\r\n");
  });
  CHECK(small.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(big.empty());
  CHECK(fx.server->oversizedRequests() == 1);
}

TEST_CASE("connections beyond the bound are closed at once; freed slots serve again") {
  MetricsServerOptions opts;
  opts.maxConnections = 2;
  Fixture fx(opts);
  std::string third, afterwards;
  int idle1 = -1, idle2 = -1;
  fx.run([&](uint16_t port) {
    idle1 = connectTo(port);
    idle2 = connectTo(port);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both accepted
    third = get(port, "/metrics");
  });
  CHECK(third.empty());  // closed without a response
  CHECK(fx.server->rejectedConnections() == 1);
  CHECK(fx.server->openConnections() == 2);
  CHECK(fx.logged.find("connection refused, 2 already open (max 2)") != std::string::npos);
  ::close(idle1);
  ::close(idle2);
  fx.run([&](uint16_t port) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server sees them go
    afterwards = get(port, "/healthz");
  });
  CHECK(afterwards.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}

TEST_CASE("a client that sends nothing is disconnected after the header timeout") {
  MetricsServerOptions opts;
  opts.headerTimeoutMs = 200;
  Fixture fx(opts);
  std::string silent;
  double waitedMs = 0;
  fx.run([&](uint16_t port) {
    int fd = connectTo(port);
    auto t0 = std::chrono::steady_clock::now();
    silent = readToEof(fd, 5000);
    waitedMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ::close(fd);
  });
  CHECK(silent.find("TIMEOUT") == std::string::npos);  // closed by the server, not by us
  CHECK(waitedMs >= 150);
  CHECK(waitedMs < 4000);
  CHECK(fx.server->openConnections() == 0);
}

TEST_CASE("the server closes each connection right after its response (no keep-alive wait)") {
  // kj-http alone would send `Connection: close` yet wait for a next request until its
  // pipeline timeout: every scrape would hold a connection slot for seconds.
  MetricsServerOptions opts;
  opts.headerTimeoutMs = 3000;
  Fixture fx(opts);
  int slow = 0;
  fx.run([&](uint16_t port) {
    for (int i = 0; i < 10; ++i) {
      int fd = connectTo(port);
      sendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");  // no Connection: close
      auto t0 = std::chrono::steady_clock::now();
      std::string r = readToEof(fd, 5000);
      auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
      if (ms.count() > 1000 || bodyOf(r) != "ok\n") ++slow;
      ::close(fd);
    }
  });
  CHECK(slow == 0);
  CHECK(fx.server->requests() == 10);
}

TEST_CASE("promtool accepts what /metrics serves (skipped when promtool is not installed)") {
  // Escapes, multi-line help and histograms exactly as a Prometheus server would parse them.
  Fixture fx;
  auto& t =
      fx.registry.counter("pcommit_things_total", "Things, by kind.\nSecond \\ line.", {"kind"});
  t.with({"quote\" back\\slash\nnewline"}).inc(3);
  t.with({"plain"}).inc(1);
  fx.registry.gauge("pcommit_level_bytes", "A level.").get().set(1.5e9);
  auto& h = fx.registry.histogram("pcommit_wait_seconds", "A latency.", latencyBucketsSeconds(),
                                  {"role"});
  h.with({"participant"}).observe(0.003);
  h.with({"participant"}).observe(12);
  h.with({"coordinator"}).observe(0.0001);
  std::string r;
  fx.run([&](uint16_t port) { r = get(port, "/metrics"); });
  auto checked = pc::test::promtoolCheck(bodyOf(r));
  if (!checked) {
    MESSAGE("promtool not installed (Debian package prometheus): skipped");
    return;
  }
  INFO("promtool said: " << checked->output);
  CHECK(checked->exitCode == 0);
  CHECK(checked->output.empty());  // no lint findings either
}

TEST_CASE("200 connections of random bytes and cut-off requests leave the server serving") {
  // Bad input from outside must cost a connection, never the node (a fixed seed: replayable).
  MetricsServerOptions opts;
  opts.headerTimeoutMs = 300;  // the cut-off requests end by timeout
  Fixture fx(opts);
  std::string after;
  fx.run([&](uint16_t port) {
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    auto next = [&seed]() {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      return seed;
    };
    const std::string prefixes[] = {"", "GET ", "GET /metrics HTTP/1.1\r\n",
                                    "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n",
                                    "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"};
    for (int i = 0; i < 200; ++i) {
      std::string data = prefixes[next() % 5];
      size_t n = next() % 600;
      for (size_t k = 0; k < n; ++k) data += static_cast<char>(next() & 0xff);
      int fd = connectTo(port);
      sendAll(fd, data);
      if (i % 20 == 0) readToEof(fd, 2000);  // sometimes wait for the server's verdict
      ::close(fd);
    }
    after = get(port, "/metrics");
  });
  CHECK(after.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(bodyOf(after) == fx.registry.render());
}
