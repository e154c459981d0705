// Failpoints for fault tests (docs/DESIGN.md §4): a node stops, hangs or stalls at a named
// protocol step, chosen from outside the process by
//
//   PCOMMIT_FAILPOINTS="coordinator.after_prepare_sent=crash@3;acceptor.before_persist=delay(50)"
//
// Every node reads the variable once at start (Failpoints::fromEnvironment()) and calls
// hit(name) at each step. Actions:
//   crash      the process dies at once, as if by kill -9 (raise(SIGKILL)): no destructor,
//              no flush, nothing more reaches the disk or the network.
//   hang       the calling thread blocks forever (the process still answers signals, so
//              `pcommit cluster stop` ends it).
//   delay(MS)  the calling thread sleeps MS milliseconds (0..600000), then goes on.
// A suffix @N (N >= 1) triggers the action only on the N-th hit of that name; without it,
// every hit triggers (for crash and hang the first hit is the last). Each trigger writes
// one line to stderr first: "failpoint NAME: ACTION".
//
// Names are a closed list (knownNames()): an unknown name is refused, so a typo cannot
// silently test nothing. Parsing errors throw FailpointError (a ConfigError: the node
// prints it and exits 64). hit() and armed() are safe to call from any thread; the spec
// never changes after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cluster_config.h"

namespace pc::runtime {

inline constexpr const char* kFailpointsEnv = "PCOMMIT_FAILPOINTS";
inline constexpr uint32_t kMaxFailpointDelayMs = 600 * 1000;

class FailpointError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

enum class FailAction { Crash, Hang, Delay };
const char* toString(FailAction a);

class Failpoints {
 public:
  // None armed: hit() does nothing but count.
  Failpoints() = default;
  // Parses a spec "name=action[@N];..." (whitespace around entries and a trailing ';' are
  // fine; an empty spec arms nothing). Throws FailpointError naming the bad entry.
  explicit Failpoints(std::string_view spec);
  // Reads PCOMMIT_FAILPOINTS (unset or empty: none armed). When some are armed, logs
  // "failpoints armed: ..." to stderr so a node's log shows what it was started with.
  static Failpoints fromEnvironment();

  Failpoints(Failpoints&&) = default;
  Failpoints& operator=(Failpoints&&) = default;
  Failpoints(const Failpoints&) = delete;
  Failpoints& operator=(const Failpoints&) = delete;

  // Every name a node may hit. hit()/armed() with another name is our bug (PC_ASSERT).
  static const std::vector<std::string_view>& knownNames();

  // The protocol step `name` was reached: counts the hit and, if armed for this hit,
  // crashes, hangs or sleeps. Returns normally unless it crashed or hangs.
  void hit(std::string_view name);
  // Whether a spec names this point (whether or not it has triggered yet).
  bool armed(std::string_view name) const;
  // Hits counted so far for an armed point (0 for points not armed: those are not counted).
  uint64_t hits(std::string_view name) const;
  // The armed points in spec form, sorted by name ("" when none): for logs.
  std::string describe() const;

 private:
  struct Point {
    FailAction action = FailAction::Crash;
    uint32_t delayMs = 0;
    uint64_t onHit = 0;  // 0: every hit; N: only the N-th
    std::atomic<uint64_t> hits{0};
  };
  // unique_ptr: Point holds an atomic, and Failpoints must stay movable.
  std::map<std::string, std::unique_ptr<Point>, std::less<>> points_;
};

}  // namespace pc::runtime
