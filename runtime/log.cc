#include "runtime/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pc::runtime {

namespace {

std::atomic<int> gMinimum{static_cast<int>(LogLevel::Info)};
std::atomic<int> gFormat{static_cast<int>(LogFormat::Text)};

constexpr std::array<const char*, 4> kLevelNames = {"error", "warn", "info", "debug"};

std::string timestampUtc() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::gmtime_r(&tv.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(tv.tv_usec / 1000));
  return out;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

const char* toString(LogLevel l) { return kLevelNames[static_cast<size_t>(l)]; }

std::optional<LogLevel> parseLogLevel(std::string_view s) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (s == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

const char* toString(LogFormat f) { return f == LogFormat::Json ? "json" : "text"; }

std::optional<LogFormat> parseLogFormat(std::string_view s) {
  if (s == "text") return LogFormat::Text;
  if (s == "json") return LogFormat::Json;
  return std::nullopt;
}

void setLogOptions(LogLevel minimum, LogFormat format) {
  gMinimum = static_cast<int>(minimum);
  gFormat = static_cast<int>(format);
}

LogLevel levelOf(std::string_view line) {
  // The node host's, the serve command's and the participant node's own failure lines.
  for (std::string_view p : {"fatal: ", "cannot start: ", "task failed: ", "stopped: "}) {
    if (startsWith(line, p)) return LogLevel::Error;
  }
  // The transport's (rpc/transport.cc) and the node host's lines about the edge.
  if (startsWith(line, "peer ") && contains(line, " lost")) return LogLevel::Warn;
  for (std::string_view p :
       {"rejected ", "refused attach", "transport: accept failed", "cannot notify systemd",
        "metrics connection failed", "metrics: connection refused"}) {
    if (startsWith(line, p)) return LogLevel::Warn;
  }
  if (startsWith(line, "transport: ") && contains(line, "refusing new ones")) {
    return LogLevel::Warn;
  }
  return LogLevel::Info;
}

void logLine(const std::string& node, const std::string& line) {
  logLine(node, line, levelOf(line));
}

std::string formatLogLine(const std::string& node, const std::string& line, LogLevel level) {
  if (static_cast<int>(level) > gMinimum.load(std::memory_order_relaxed)) return {};
  std::string out;
  if (static_cast<LogFormat>(gFormat.load(std::memory_order_relaxed)) == LogFormat::Json) {
    nlohmann::ordered_json j{
        {"ts", timestampUtc()},
        {"level", toString(level)},
        {"node", node.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(node)},
        {"msg", line}};
    out = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } else {
    char levelText[8];
    std::snprintf(levelText, sizeof levelText, "%-5s", toString(level));
    out = timestampUtc() + " " + levelText + " " + (node.empty() ? "" : node + " ") + line;
  }
  out += "\n";
  return out;
}

void logLine(const std::string& node, const std::string& line, LogLevel level) {
  const std::string text = formatLogLine(node, line, level);
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace pc::runtime
