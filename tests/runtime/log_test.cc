// The node log (runtime/log.h): each line's level, the text and JSON formats, the minimum
// level, and the levels of the messages that come through a plain LogFn.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/log.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

using namespace pc::runtime;

namespace {

// What logLine writes to stderr while `f` runs.
template <class F>
std::string captureStderr(F f) {
  std::fflush(stderr);
  char path[] = "/tmp/pc_log_test_XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  f();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  ::unlink(path);
  return out;
}

}  // namespace

TEST_CASE("levels and formats parse from their names only") {
  // If this fails, `serve --log-level warn` or `--log-format json` would be refused or
  // misread.
  for (LogLevel l : {LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug}) {
    CHECK(parseLogLevel(toString(l)) == l);
  }
  CHECK_FALSE(parseLogLevel("INFO").has_value());
  CHECK_FALSE(parseLogLevel("").has_value());
  CHECK(parseLogFormat("json") == LogFormat::Json);
  CHECK(parseLogFormat("text") == LogFormat::Text);
  CHECK_FALSE(parseLogFormat("xml").has_value());
}

TEST_CASE("the messages nodes write get the level of what they say") {
  // If this fails, a lost peer or a fatal error hides among info lines (or --log-level
  // warn drops it).
  CHECK(levelOf("fatal: listen failed") == LogLevel::Error);
  CHECK(levelOf("cannot start: no space") == LogLevel::Error);
  CHECK(levelOf("task failed: boom") == LogLevel::Error);
  CHECK(levelOf("peer 1 lost: disconnected") == LogLevel::Warn);
  CHECK(levelOf("rejected input from node 5: bad ballot") == LogLevel::Warn);
  CHECK(levelOf("refused attach as node 3 from a client") == LogLevel::Warn);
  CHECK(levelOf("transport: accept failed (EMFILE); pausing accepts") == LogLevel::Warn);
  CHECK(levelOf("transport: 1024 inbound connections (max-connections): refusing new ones") ==
        LogLevel::Warn);
  CHECK(levelOf("peer 1 connected") == LogLevel::Info);
  CHECK(levelOf("ready: p1 (participant, paxos) listening on 127.0.0.1:7101") == LogLevel::Info);
  CHECK(levelOf("recovery finished: txn 00 committed") == LogLevel::Info);
}

TEST_CASE("text and JSON lines, and the minimum level") {
  // If this fails, log shippers cannot parse the JSON lines, or grep-based scripts lose the
  // message text they look for.
  setLogOptions(LogLevel::Info, LogFormat::Text);
  std::string text = captureStderr([] { logLine("p1", "ready: p1 listening"); });
  CHECK(text.size() > 30);
  CHECK(text.find("Z info  p1 ready: p1 listening\n") != std::string::npos);
  CHECK(text.find('\n') == text.size() - 1);

  setLogOptions(LogLevel::Warn, LogFormat::Json);
  std::string json = captureStderr([] {
    logLine("c1", "peer 1001 lost: gone");
    logLine("c1", "ready: c1");  // info: below warn, not written
    logLine("c1", std::string("bad \xff byte"), LogLevel::Error);
  });
  setLogOptions(LogLevel::Info, LogFormat::Text);
  const size_t nl = json.find('\n');
  REQUIRE(nl != std::string::npos);
  auto first = nlohmann::ordered_json::parse(json.substr(0, nl));
  CHECK(first["level"] == "warn");
  CHECK(first["node"] == "c1");
  CHECK(first["msg"] == "peer 1001 lost: gone");
  CHECK(first["ts"].get<std::string>().back() == 'Z');
  CHECK(first.size() == 4);
  auto second = nlohmann::ordered_json::parse(json.substr(nl + 1));  // one more line only
  CHECK(second["level"] == "error");
  CHECK(second["msg"] == "bad \xef\xbf\xbd byte");  // U+FFFD for the byte that is not UTF-8
}
