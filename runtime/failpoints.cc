#include "runtime/failpoints.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "paxos_commit/assert.h"
#include "runtime/log.h"

namespace pc::runtime {

const char* toString(FailAction a) {
  switch (a) {
    case FailAction::Crash:
      return "crash";
    case FailAction::Hang:
      return "hang";
    case FailAction::Delay:
      return "delay";
  }
  return "?";
}

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::optional<uint64_t> parseCount(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool isKnown(std::string_view name) {
  const auto& known = Failpoints::knownNames();
  return std::find(known.begin(), known.end(), name) != known.end();
}

std::string knownList() {
  std::string out;
  for (std::string_view n : Failpoints::knownNames()) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

[[noreturn]] void bad(std::string_view entry, const std::string& why) {
  throw FailpointError(std::string(kFailpointsEnv) + ": bad entry '" + std::string(entry) +
                       "': " + why);
}

std::string actionText(FailAction action, uint32_t delayMs) {
  if (action == FailAction::Delay) return "delay(" + std::to_string(delayMs) + ")";
  return toString(action);
}

// A line of the process (failpoints are armed per process), in the node log's format
// (runtime/log.h), written in one write(2): a crash follows at once.
void logProcessLine(const std::string& line) { logLine("", line, LogLevel::Info); }

}  // namespace

const std::vector<std::string_view>& Failpoints::knownNames() {
  // Sorted. Each is one protocol step of docs/PROTOCOL.md; the comment says where it sits.
  static const std::vector<std::string_view> kNames = {
      "acceptor.after_persist_before_reply",   // phase 2a/1a durable, 2b/1b not yet sent
      "acceptor.before_persist",               // message accepted, nothing durable yet
      "coordinator.after_decision_chosen",     // 2pc-replicated: Commit chosen, not sent
      "coordinator.after_decision_persisted",  // 2PC: Commit durable, phase 3 not sent
      "coordinator.after_prepare_sent",        // prepare sent to every participant
      "coordinator.before_reply",              // outcome known, client not yet answered
      "participant.after_outcome_persisted",   // outcome applied durably, no ack sent
      "participant.after_prepare_persisted",   // prepared record durable, no vote sent
      "participant.after_vote_sent",           // vote (2PC) / phase 2a (Paxos) sent
  };
  return kNames;
}

Failpoints::Failpoints(std::string_view spec) {
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(';', start);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view entry = trim(spec.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;

    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) bad(entry, "expected NAME=ACTION");
    std::string_view name = trim(entry.substr(0, eq));
    std::string_view action = trim(entry.substr(eq + 1));
    if (!isKnown(name)) {
      bad(entry, "unknown failpoint '" + std::string(name) + "' (known: " + knownList() + ")");
    }
    if (points_.count(name) != 0) bad(entry, "failpoint '" + std::string(name) + "' given twice");

    auto point = std::make_unique<Point>();
    if (size_t at = action.rfind('@'); at != std::string_view::npos) {
      std::string_view count = trim(action.substr(at + 1));
      auto n = parseCount(count, 1000000000);
      if (!n || *n == 0) {
        bad(entry, "bad hit count '" + std::string(count) + "' (expected @N with N >= 1)");
      }
      point->onHit = *n;
      action = trim(action.substr(0, at));
    }
    if (action == "crash") {
      point->action = FailAction::Crash;
    } else if (action == "hang") {
      point->action = FailAction::Hang;
    } else if (action.substr(0, 6) == "delay(" && action.size() > 7 && action.back() == ')') {
      std::string_view ms = trim(action.substr(6, action.size() - 7));
      auto n = parseCount(ms, kMaxFailpointDelayMs);
      if (!n) {
        bad(entry, "bad delay '" + std::string(ms) + "' (expected delay(MS) with MS in 0.." +
                       std::to_string(kMaxFailpointDelayMs) + ")");
      }
      point->action = FailAction::Delay;
      point->delayMs = static_cast<uint32_t>(*n);
    } else {
      bad(entry, "unknown action '" + std::string(action) +
                     "' (expected crash, hang or delay(MS), optionally followed by @N)");
    }
    points_.emplace(std::string(name), std::move(point));
  }
}

Failpoints Failpoints::fromEnvironment() {
  const char* spec = std::getenv(kFailpointsEnv);
  if (spec == nullptr || *spec == '\0') return Failpoints();
  Failpoints fp(spec);
  if (!fp.points_.empty()) logProcessLine("failpoints armed: " + fp.describe());
  return fp;
}

bool Failpoints::armed(std::string_view name) const {
  PC_ASSERT(isKnown(name), name);
  return points_.find(name) != points_.end();
}

uint64_t Failpoints::hits(std::string_view name) const {
  PC_ASSERT(isKnown(name), name);
  auto it = points_.find(name);
  return it == points_.end() ? 0 : it->second->hits.load();
}

std::string Failpoints::describe() const {
  std::string out;
  for (const auto& [name, p] : points_) {
    if (!out.empty()) out += ";";
    out += name + "=" + actionText(p->action, p->delayMs);
    if (p->onHit != 0) out += "@" + std::to_string(p->onHit);
  }
  return out;
}

void Failpoints::hit(std::string_view name) {
  // The hot path of every node without failpoints (hit per prepare, vote and outcome):
  // nothing to look up. A misspelt name still trips the check below in the e2e tests,
  // which set failpoints.
  if (points_.empty()) return;
  PC_ASSERT(isKnown(name), name);
  auto it = points_.find(name);
  if (it == points_.end()) return;
  Point& p = *it->second;
  const uint64_t n = p.hits.fetch_add(1) + 1;
  if (p.onHit != 0 && n != p.onHit) return;

  logProcessLine("failpoint " + it->first + ": " + actionText(p.action, p.delayMs));
  switch (p.action) {
    case FailAction::Crash:
      // As if by kill -9: no atexit, no destructors, no buffered output.
      ::raise(SIGKILL);
      for (;;) ::pause();  // SIGKILL cannot be caught; not reached
    case FailAction::Hang:
      for (;;) ::pause();
    case FailAction::Delay:
      std::this_thread::sleep_for(std::chrono::milliseconds(p.delayMs));
      return;
  }
}

}  // namespace pc::runtime
