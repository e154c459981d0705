// pc_chaos: the driver of the fault-tolerance suite (issue 7; README "Fault-tolerance
// suite"). Jepsen's bank and set tests against a running local cluster, with a nemesis
// that kills, pauses and arms failpoints on the real node processes.
//
//   pc_chaos --dir DIR --pcommit PATH [--seed N] [--duration S] [--clients C]
//            [--accounts-per-participant K] [--replay TEXT] [--canary]
//
// DIR holds a cluster started by `pcommit cluster start` (tests/chaos/chaos.sh does that
// and cleans up); the protocol is the cluster file's. Phases:
//   1. setup: K accounts per participant (keys routed to each), 1000 each, one transaction.
//   2. load + nemesis for S seconds. C clients (pc::Client each, on one KJ loop) transfer
//      between two random accounts: get both (value + version), then one transaction that
//      expects both versions, puts both new balances and puts a marker key unique to the
//      transaction (the set test). Every attempt and its result is recorded by txn id.
//      The nemesis (its own thread, driven only by the seed) injects one fault at a time,
//      every 1-3 s: kill -9 + restart of a coordinator, a participant or 1..F acceptors,
//      or of every node at once; SIGSTOP + SIGCONT of any node; kill + restart with
//      PCOMMIT_FAILPOINTS armed to crash at a protocol step (crash@N), restarted clean afterwards.
//   3. final fault under load, then the load stops. Paxos Commit: the last participant
//      (p3) is paused, transfers go on among the others with their marker on p3 (so they
//      prepare at p1/p2 and wait for p3's vote), then c1 is killed: nothing in doubt at the
//      kill may remain so at p1/p2 recovery-timeout + 1 s later (c1 still down, p3 still
//      paused: only the participants' recovery through the acceptors can end them); p3 is
//      resumed and nothing in doubt then may remain recovery-timeout + 1 s later. 2PC: c1
//      restarted with coordinator.after_prepare_sent=crash@1 dies with prepares out; it is
//      restarted recovery-timeout + 1.5 s later, and nothing in doubt then may remain
//      recovery-timeout + 1 s after that.
//   4. checks after healing (see checkAll()); a summary; exit 0 pass, 1 a check failed,
//      2 setup or usage error.
// A participant's status (in-doubt list with ages) is polled all along: in Paxos Commit
// nothing may stay in doubt longer than recovery-timeout + 1 s unless that participant
// itself was down or paused meanwhile; in 2PC longer than max(recovery, leader timeout)
// + 1 s only while a coordinator (or that participant) was down or paused.
#include <fcntl.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/vector.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "json/json.h"
#include "paxos_commit/rng.h"
#include "runtime/cluster_config.h"

namespace pc::chaos {
namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point kStart = Clock::now();

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - kStart).count();
}
void sleepMs(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

constexpr int64_t kInitialBalance = 1000;
constexpr int64_t kMaxTransfer = 100;
constexpr int64_t kPollIntervalMs = 150;
constexpr int64_t kStatusTimeoutMs = 1000;
constexpr int64_t kReadTimeoutMs = 3000;
// A poll sees an entry's start a little late (the RPC's latency): entries that began up to
// this long after a reference time still count as "in doubt at that time".
constexpr int64_t kStartFuzzMs = 100;

std::string fmtMs(int64_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%" PRId64 ".%03" PRId64 "s", ms / 1000, ms % 1000);
  return b;
}

struct Options {
  std::string dir;
  std::string pcommit;
  uint64_t seed = 0;
  bool seedGiven = false;
  int64_t durationS = 45;
  size_t clients = 4;
  size_t accountsPerParticipant = 4;
  std::string replay;  // how to rerun this, printed in the summary
  // Plants money and a marker no client attempted before the checks, which must then
  // fail: proves they bite. Exit 0 only if all planted faults were reported.
  bool canary = false;
};

// ---- processes ------------------------------------------------------------------------

// Runs argv to completion; stdout is captured into `out` (if given), stderr goes to
// `logPath` (appended). PCOMMIT_FAILPOINTS is set to `failpoints` when non-empty, else
// removed. Returns the exit code (or 128 + signal).
int runProcess(const std::vector<std::string>& argv, std::string* out, const std::string& logPath,
               const std::string& failpoints) {
  // Everything the child needs is built here: between fork and exec a multithreaded
  // process may only make async-signal-safe calls (no malloc, no setenv).
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "PCOMMIT_FAILPOINTS=", 19) != 0) env.emplace_back(*e);
  }
  if (!failpoints.empty()) env.push_back("PCOMMIT_FAILPOINTS=" + failpoints);
  std::vector<char*> envp, args;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argvCopy = argv;
  for (auto& a : argvCopy) args.push_back(a.data());
  args.push_back(nullptr);
  int pipeFds[2] = {-1, -1};
  if (out && ::pipe2(pipeFds, O_CLOEXEC) != 0) return 127;
  pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devNull >= 0) ::dup2(devNull, 0);
    if (out) {
      ::dup2(pipeFds[1], 1);
    } else if (log >= 0) {
      ::dup2(log, 1);
    }
    if (log >= 0) ::dup2(log, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  if (out) {
    ::close(pipeFds[1]);
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(pipeFds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out->append(buf, static_cast<size_t>(n));
    }
    ::close(pipeFds[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 127;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- the nemesis ----------------------------------------------------------------------

struct FaultWindow {
  std::string kind;  // kill-coordinator, kill-participant, kill-acceptors, pause, failpoint
  std::vector<std::string> nodes;
  int64_t startMs = 0;
  int64_t endMs = -1;  // -1: still open
  std::string detail;
};

class Nemesis {
 public:
  Nemesis(const Options& opts, const runtime::ClusterConfig& cluster)
      : opts_(opts), cluster_(cluster), rng_(opts.seed) {
    for (const auto* n : cluster.withRole(runtime::Role::Coordinator))
      coordinators_.push_back(n->name);
    for (const auto* n : cluster.withRole(runtime::Role::Participant))
      participants_.push_back(n->name);
    for (const auto* n : cluster.withRole(runtime::Role::Acceptor)) acceptors_.push_back(n->name);
    logPath_ = opts.dir + "/chaos-nemesis.log";
  }

  // The random phase: one fault at a time until `untilMs`, then every node healed.
  void runRandomPhase(int64_t untilMs) {
    while (nowMs() < untilMs && !abort_) {
      sleepMs(1000 + static_cast<int64_t>(rng_.below(2001)));
      if (nowMs() >= untilMs || abort_) break;
      checkUnexpectedDeaths();
      injectOne();
    }
    checkUnexpectedDeaths();
  }

  // The final fault. 2pc and paxos: `node` (c1) restarted with
  // coordinator.after_prepare_sent=crash@1, so it dies with the prepares of its next
  // transaction delivered and nothing decided (kill -9 if that did not happen within 5 s).
  // paxos-direct (coordinators do not lead): kill -9. Returns when it is dead; the caller
  // stops the load then.
  int64_t crashForFinal(const std::string& node) {
    const std::string spec = "coordinator.after_prepare_sent=crash@1";
    bool armed = cluster_.protocol != Protocol::PaxosDirect;
    log("final fault: " + (armed ? "restart " + node + " with " + spec : "kill -9 " + node) +
        " (not restarted until the in-doubt check)");
    open(FaultWindow{"final-coordinator-crash", {node}, nowMs(), -1, armed ? spec : ""});
    kill9(node);
    bool died = false;
    if (armed) {
      restart(node, spec);
      int64_t until = nowMs() + 5000;
      while (nowMs() < until && alive(node)) sleepMs(5);
      died = !alive(node);
      if (!died) kill9(node);
    }
    int64_t t = nowMs();
    {
      std::lock_guard<std::mutex> g(mu_);
      windows_.back().detail = died ? spec + " fired" : "kill -9";
    }
    log("final fault: " + node + (died ? " crashed after sending prepares" : " killed (kill -9)"));
    return t;
  }
  // Paxos final fault: a participant paused (until resumeForFinal), then c1 killed.
  void pauseForFinal(const std::string& node) {
    log("final fault: SIGSTOP " + node);
    open(FaultWindow{"final-pause", {node}, nowMs(), -1, ""});
    if (auto pid = pidOf(node)) ::kill(*pid, SIGSTOP);
  }
  int64_t killForFinal(const std::string& node) {
    log("final fault: kill -9 " + node + " (not restarted until the in-doubt checks)");
    open(FaultWindow{"final-coordinator-crash", {node}, nowMs(), -1, "kill -9"});
    kill9(node);
    return nowMs();
  }
  int64_t resumeForFinal(const std::string& node) {
    if (auto pid = pidOf(node)) ::kill(*pid, SIGCONT);
    std::lock_guard<std::mutex> g(mu_);
    for (auto& w : windows_) {
      if (w.kind == "final-pause" && w.endMs < 0) w.endMs = nowMs();
    }
    log("final fault: SIGCONT " + node);
    return nowMs();
  }
  int64_t restartAfterFinal(const std::string& node) {
    restart(node, "");
    std::lock_guard<std::mutex> g(mu_);
    for (auto& w : windows_) {
      if (w.kind == "final-coordinator-crash" && w.endMs < 0) w.endMs = nowMs();
    }
    log("final fault healed: " + node + " restarted");
    return nowMs();
  }

  void requestAbort() { abort_ = true; }

  // Every node alive (after healing); unexpected deaths are errors.
  void checkUnexpectedDeaths() {
    for (const auto& n : allNodes()) {
      if (!alive(n)) {
        addError("node " + n + " died outside any fault (no failpoint, no kill):\n" +
                 logTail(n, 15));
        restart(n, "");
      }
    }
  }

  std::vector<FaultWindow> windows() const {
    std::lock_guard<std::mutex> g(mu_);
    return windows_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> g(mu_);
    return errors_;
  }
  std::map<std::string, int> counts() const {
    std::lock_guard<std::mutex> g(mu_);
    return counts_;
  }
  int64_t lastFaultEndMs() const {
    std::lock_guard<std::mutex> g(mu_);
    int64_t last = 0;
    for (const auto& w : windows_) last = std::max(last, w.endMs < 0 ? nowMs() : w.endMs);
    return last;
  }

  std::vector<std::string> allNodes() const {
    std::vector<std::string> all = coordinators_;
    all.insert(all.end(), participants_.begin(), participants_.end());
    all.insert(all.end(), acceptors_.begin(), acceptors_.end());
    return all;
  }

  // SIGCONT every node (cleanup: a stopped node would not even die of SIGTERM).
  void resumeAll() {
    for (const auto& n : allNodes()) {
      if (auto pid = pidOf(n)) ::kill(*pid, SIGCONT);
    }
  }

  std::string logTail(const std::string& node, size_t lines) const {
    std::string text = readFile(opts_.dir + "/" + node + ".log");
    size_t pos = text.size();
    for (size_t i = 0; i <= lines && pos > 0; ++i) {
      pos = text.rfind('\n', pos - 1);
      if (pos == std::string::npos) {
        pos = 0;
        break;
      }
    }
    std::string tail = text.substr(pos);
    std::string out;
    std::istringstream in(tail);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out += "      | " + line + "\n";
    }
    return out;
  }

 private:
  void log(const std::string& what) {
    std::cout << "[chaos " << fmtMs(nowMs()) << "] " << what << std::endl;
  }
  void addError(const std::string& e) {
    std::lock_guard<std::mutex> g(mu_);
    errors_.push_back(e);
    std::cout << "[chaos " << fmtMs(nowMs()) << "] ERROR: " << e << std::endl;
  }

  std::optional<pid_t> pidOf(const std::string& node) const {
    std::ifstream in(opts_.dir + "/" + node + ".pid");
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return std::nullopt;
    return static_cast<pid_t>(pid);
  }
  // The pid file names a live (not zombie) serve process of this node.
  bool alive(const std::string& node) const {
    auto pid = pidOf(node);
    if (!pid) return false;
    std::string stat = readFile("/proc/" + std::to_string(*pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return false;
    char state = stat[close + 2];
    if (state == 'Z' || state == 'X') return false;
    std::string cmd = readFile("/proc/" + std::to_string(*pid) + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    // The cmdline's arguments end in NUL, so "--node p1 " cannot match p10.
    return cmd.find(" serve ") != std::string::npos &&
           cmd.find("--node " + node + " ") != std::string::npos;
  }
  void kill9(const std::string& node) {
    auto pid = pidOf(node);
    if (!pid || !alive(node)) return;
    ::kill(*pid, SIGKILL);
    for (int i = 0; i < 500 && alive(node); ++i) sleepMs(10);
    if (alive(node)) addError("node " + node + " still alive 5 s after kill -9");
  }
  // `pcommit cluster restart --dir DIR NODE` (retried: a port can stay busy a moment).
  bool restart(const std::string& node, const std::string& failpoints) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (alive(node)) return true;
      int rc = runProcess({opts_.pcommit, "cluster", "restart", "--dir", opts_.dir, node}, nullptr,
                          logPath_, failpoints);
      if (rc == 0) return true;
      sleepMs(250);
    }
    addError("cannot restart " + node + " (see chaos-nemesis.log)");
    return false;
  }

  int64_t randomIn(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(hi - lo + 1)));
  }
  const std::string& pick(const std::vector<std::string>& v) { return v[rng_.below(v.size())]; }

  void open(FaultWindow w) {
    std::lock_guard<std::mutex> g(mu_);
    windows_.push_back(std::move(w));
    ++counts_[windows_.back().kind];
  }
  void closeLast(const std::string& detail) {
    std::lock_guard<std::mutex> g(mu_);
    windows_.back().endMs = nowMs();
    if (!detail.empty()) windows_.back().detail = detail;
  }
  std::string names(const std::vector<std::string>& ns) {
    std::string s;
    for (const auto& n : ns) s += (s.empty() ? "" : ",") + n;
    return s;
  }

  void injectOne() {
    bool paxos = isPaxos(cluster_.protocol);
    // Weights: kill coordinator 2, kill participant 2, kill acceptors 2 (1 in 2PC, where
    // acceptors are idle), pause 3, failpoint 3, kill every node at once 1.
    std::vector<std::pair<std::string, uint64_t>> kinds = {{"kill-coordinator", 2},
                                                           {"kill-participant", 2},
                                                           {"kill-acceptors", paxos ? 2 : 1},
                                                           {"pause", 3},
                                                           {"failpoint", 3},
                                                           {"kill-all", 1}};
    uint64_t total = 0;
    for (const auto& k : kinds) total += k.second;
    uint64_t r = rng_.below(total);
    std::string kind;
    for (const auto& k : kinds) {
      if (r < k.second) {
        kind = k.first;
        break;
      }
      r -= k.second;
    }
    int64_t holdMs = randomIn(500, 3000);
    if (kind == "kill-coordinator" || kind == "kill-participant" || kind == "kill-acceptors" ||
        kind == "kill-all") {
      std::vector<std::string> victims;
      // Every node at once (a power cut): only what each made durable survives.
      if (kind == "kill-all") victims = allNodes();
      if (kind == "kill-coordinator") victims = {pick(coordinators_)};
      if (kind == "kill-participant") victims = {pick(participants_)};
      if (kind == "kill-acceptors") {
        // Up to F of them: Paxos Commit must not notice.
        std::vector<std::string> pool = acceptors_;
        size_t k = 1 + rng_.below(static_cast<uint64_t>(cluster_.f));
        for (size_t i = 0; i < k && !pool.empty(); ++i) {
          size_t at = rng_.below(pool.size());
          victims.push_back(pool[at]);
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(at));
        }
      }
      log(kind + ": kill -9 " + names(victims) + ", down " + fmtMs(holdMs));
      open(FaultWindow{kind, victims, nowMs(), -1, "down " + fmtMs(holdMs)});
      for (const auto& v : victims) kill9(v);
      sleepMs(holdMs);
      for (const auto& v : victims) restart(v, "");
      closeLast("");
      log(kind + ": " + names(victims) + " restarted");
    } else if (kind == "pause") {
      std::string victim = pick(allNodes());
      auto pid = pidOf(victim);
      log("pause: SIGSTOP " + victim + " for " + fmtMs(holdMs));
      open(FaultWindow{kind, {victim}, nowMs(), -1, "paused " + fmtMs(holdMs)});
      if (pid) ::kill(*pid, SIGSTOP);
      sleepMs(holdMs);
      if (pid) ::kill(*pid, SIGCONT);
      closeLast("");
      log("pause: SIGCONT " + victim);
    } else {
      injectFailpoint();
    }
  }

  void injectFailpoint() {
    struct Choice {
      std::string node;
      std::string point;
    };
    std::vector<Choice> choices;
    Protocol p = cluster_.protocol;
    // Coordinators lead only in 2pc and paxos (in paxos-direct the client leads).
    if (p == Protocol::TwoPC || p == Protocol::Paxos || p == Protocol::PaxosClassic) {
      for (const auto& c : coordinators_) {
        choices.push_back({c, "coordinator.after_prepare_sent"});
        choices.push_back({c, "coordinator.before_reply"});
        if (p == Protocol::TwoPC) choices.push_back({c, "coordinator.after_decision_persisted"});
      }
    }
    for (const auto& n : participants_) {
      choices.push_back({n, "participant.after_prepare_persisted"});
      choices.push_back({n, "participant.after_vote_sent"});
      choices.push_back({n, "participant.after_outcome_persisted"});
    }
    if (isPaxos(p)) {
      for (const auto& a : acceptors_) {
        choices.push_back({a, "acceptor.before_persist"});
        choices.push_back({a, "acceptor.after_persist_before_reply"});
      }
    }
    const Choice& c = choices[rng_.below(choices.size())];
    uint64_t nth = 1 + rng_.below(10);
    int64_t windowMs = randomIn(1000, 4000);
    int64_t downMs = randomIn(100, 1000);
    std::string spec = c.point + "=crash@" + std::to_string(nth);
    log("failpoint: restart " + c.node + " with " + spec + " (for up to " + fmtMs(windowMs) + ")");
    open(FaultWindow{"failpoint", {c.node}, nowMs(), -1, spec});
    size_t logBefore = readFile(opts_.dir + "/" + c.node + ".log").size();
    kill9(c.node);
    restart(c.node, spec);
    int64_t until = nowMs() + windowMs;
    while (nowMs() < until && alive(c.node)) sleepMs(20);
    bool died = !alive(c.node);
    std::string fresh = readFile(opts_.dir + "/" + c.node + ".log");
    fresh = fresh.size() > logBefore ? fresh.substr(logBefore) : "";
    bool fired = fresh.find("failpoint " + c.point + ": crash") != std::string::npos;
    if (died && !fired) {
      addError("node " + c.node + " died, armed with " + spec + ", but not by that failpoint:\n" +
               logTail(c.node, 15));
    }
    if (died) {
      std::lock_guard<std::mutex> g(mu_);
      ++counts_["failpoint-fired"];
      ++firedByPoint_[c.point];
    }
    log(std::string("failpoint: ") + c.node + " " +
        (fired ? "crashed at " + c.point : "did not reach " + spec + ", kill -9") +
        "; restart clean after " + fmtMs(died ? downMs : 0));
    if (died) {
      sleepMs(downMs);
    } else {
      kill9(c.node);
    }
    restart(c.node, "");
    closeLast(spec + (fired ? " fired" : " not reached"));
  }

  const Options& opts_;
  const runtime::ClusterConfig& cluster_;
  Rng rng_;
  std::vector<std::string> coordinators_, participants_, acceptors_;
  std::string logPath_;
  std::atomic<bool> abort_{false};
  mutable std::mutex mu_;
  std::vector<FaultWindow> windows_;
  std::vector<std::string> errors_;
  std::map<std::string, int> counts_;
  std::map<std::string, int> firedByPoint_;
};

// ---- the workload ---------------------------------------------------------------------

struct Attempt {
  TxnId txn;
  size_t client = 0;
  size_t from = 0, to = 0;  // account indexes
  int64_t amount = 0;
  uint64_t fromVersion = 0, toVersion = 0;  // read versions (expected)
  int64_t fromBalance = 0, toBalance = 0;   // read values
  std::string marker;
  std::map<NodeId, std::vector<kv::Op>> ops;
  bool done = false;
  TxnStatus status = TxnStatus::Unknown;
  std::string reason;
  std::optional<TxnStatus> resolved;  // for Unknown: what `outcome` said after healing
  int64_t startMs = 0, endMs = 0;
  bool committed() const {
    return status == TxnStatus::Committed || (resolved && *resolved == TxnStatus::Committed);
  }
};

// One in-doubt entry as a participant reported it.
struct InDoubtSeen {
  std::string node;
  TxnId txn;
  int64_t seenMs = 0;   // when we got the answer
  int64_t startMs = 0;  // seenMs - age
  int64_t ageMs = 0;
};

class Run {
 public:
  Run(kj::AsyncIoContext& io, runtime::ClusterConfig cluster, Options opts)
      : io_(io), cluster_(std::move(cluster)), opts_(std::move(opts)), nemesis_(opts_, cluster_) {
    paxos_ = isPaxos(cluster_.protocol);
    rt_ = cluster_.recoveryTimeoutMs;
    finalBoundMs_ = static_cast<int64_t>(rt_) + 1000;
    continuousBoundMs_ =
        paxos_
            ? finalBoundMs_
            : static_cast<int64_t>(std::max(cluster_.recoveryTimeoutMs, cluster_.leaderTimeoutMs)) +
                  1000;
    for (const auto* p : cluster_.withRole(runtime::Role::Participant)) {
      participants_.push_back(p);
    }
    const std::string paused = participants_.back()->name;
    if (paxos_) {
      finalChecks_.emplace_back();
      finalChecks_.back().what = "the kill of c1 while " + paused + " was paused (at the others)";
      finalChecks_.back().excluded = paused;
      finalChecks_.emplace_back();
      finalChecks_.back().what = "SIGCONT of " + paused + " (c1 still down)";
    } else {
      finalChecks_.emplace_back();
      finalChecks_.back().what = "the restart of c1 (after it crashed with prepares out)";
    }
  }

  int main() {
    std::cout << "[chaos] mode " << toString(cluster_.protocol) << ", seed " << opts_.seed << ", "
              << opts_.durationS << " s of faults, " << opts_.clients << " clients, "
              << participants_.size() << " participants, "
              << cluster_.withRole(runtime::Role::Acceptor).size() << " acceptors (F=" << cluster_.f
              << "), recovery timeout " << rt_ << " ms" << std::endl;
    ClientOptions admin;
    // Short client timeouts, so pauses and kills also leave Unknown results to resolve.
    admin.timeoutMs = 2500;
    admin.retryMs = 800;
    admin.queryTimeoutMs = 5000;
    admin_ = std::make_unique<Client>(io_, cluster_, admin);
    for (size_t c = 0; c < opts_.clients; ++c) {
      ClientOptions co = admin;
      auto coords = cluster_.withRole(runtime::Role::Coordinator);
      if (!coords.empty()) co.coordinator = coords[c % coords.size()]->name;
      // Every fourth client is impatient (gives up before recovery could finish), so
      // faults leave Unknown results in every mode, for `outcome` to resolve.
      if (c % 4 == 3) {
        co.timeoutMs = 700;
        co.retryMs = 300;
      }
      clients_.push_back(std::make_unique<Client>(io_, cluster_, co));
      rngs_.emplace_back(opts_.seed * 7919 + c + 1);
    }
    if (!setup()) return 2;

    // Phase 2: load, nemesis in its own thread, the in-doubt monitor.
    int64_t faultsUntil = nowMs() + opts_.durationS * 1000;
    std::string finalNode = "c1";
    std::string pausedNode = participants_.back()->name;
    std::thread nemesisThread([this, faultsUntil, finalNode, pausedNode] {
      nemesis_.runRandomPhase(faultsUntil);
      sleepMs(1500);  // a healthy moment under load before the final fault
      nemesis_.checkUnexpectedDeaths();
      if (paxos_) {
        // Transactions that reached p1/p2 but not the paused participant, then c1 gone:
        // only the participants' own recovery (phase 1/2 at the acceptors) can end them.
        finalPaused_ = participants_.back()->id;
        nemesis_.pauseForFinal(pausedNode);
        sleepMs(300);
        finalChecks_[0].refMs = nemesis_.killForFinal(finalNode);
        stopLoad_ = true;
        sleepMs(finalBoundMs_ + 500);
        finalChecks_[1].refMs = nemesis_.resumeForFinal(pausedNode);
        sleepMs(finalBoundMs_ + 500);
      } else {
        // 2PC: c1 dies with its prepares delivered; they block until it is back.
        finalKillMs_ = nemesis_.crashForFinal(finalNode);
        stopLoad_ = true;
        sleepMs(finalBoundMs_ + 500);
      }
      int64_t restarted = nemesis_.restartAfterFinal(finalNode);
      if (!paxos_) finalChecks_[0].refMs = restarted;
      nemesisDone_ = true;
    });
    // On an exception below, stop the nemesis before the thread is destroyed.
    KJ_DEFER(if (nemesisThread.joinable()) {
      nemesis_.requestAbort();
      stopLoad_ = true;
      nemesisThread.join();
    });
    kj::Vector<kj::Promise<void>> loops;
    for (size_t c = 0; c < opts_.clients; ++c) loops.add(worker(c));
    auto monitorDone = monitor();
    auto load = kj::joinPromises(loops.releaseAsArray());
    load.wait(io_.waitScope);
    waitUntil([this] { return nemesisDone_.load(); });
    // The monitor goes on until the final in-doubt check has its answer.
    waitUntil([this] {
      for (const auto& f : finalChecks_) {
        if (!f.cleared && nowMs() < f.refMs + finalBoundMs_ + 2000) return false;
      }
      return true;
    });
    stopMonitor_ = true;
    monitorDone.wait(io_.waitScope);
    nemesisThread.join();

    checkAll();
    return summary();
  }

  // Stops the nemesis and resumes every node (the caller then stops the cluster).
  void emergencyStop() {
    nemesis_.requestAbort();
    nemesis_.resumeAll();
  }

 private:
  template <typename F>
  void waitUntil(F done) {
    while (!done()) io_.provider->getTimer().afterDelay(50 * kj::MILLISECONDS).wait(io_.waitScope);
  }

  void violation(const std::string& what) {
    violations_.push_back(what);
    std::cout << "[chaos " << fmtMs(nowMs()) << "] VIOLATION: " << what << std::endl;
  }

  kj::Promise<std::optional<kv::Versioned>> read(Client& c, const std::string& key) {
    auto got = c.get(key).then(
        [](kv::Versioned v) -> std::optional<kv::Versioned> { return v; },
        [](kj::Exception&&) -> std::optional<kv::Versioned> { return std::nullopt; });
    auto timeout = io_.provider->getTimer()
                       .afterDelay(kReadTimeoutMs * kj::MILLISECONDS)
                       .then([]() -> std::optional<kv::Versioned> { return std::nullopt; });
    return got.exclusiveJoin(kj::mv(timeout));
  }

  bool setup() {
    // Accounts spread evenly over the participants by the client's routing.
    std::map<NodeId, size_t> perParticipant;
    for (int i = 0; accounts_.size() < opts_.accountsPerParticipant * participants_.size(); ++i) {
      std::string key = "acct-" + std::to_string(i);
      NodeId p = admin_->participantFor(key);
      if (perParticipant[p] >= opts_.accountsPerParticipant) continue;
      ++perParticipant[p];
      accounts_.push_back(key);
    }
    std::map<NodeId, std::vector<kv::Op>> ops;
    for (const auto& a : accounts_) {
      ops[admin_->participantFor(a)].push_back(kv::Op{kv::OpKind::Expect, a, "", 0});
      ops[admin_->participantFor(a)].push_back(
          kv::Op{kv::OpKind::Put, a, std::to_string(kInitialBalance), 0});
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      TxnId id = admin_->newTxnId();
      CommitResult r = admin_->commit(id, ops).wait(io_.waitScope);
      if (r.status == TxnStatus::Committed) {
        std::cout << "[chaos] " << accounts_.size() << " accounts of " << kInitialBalance
                  << " (total " << kInitialBalance * static_cast<int64_t>(accounts_.size())
                  << "), set up by " << id << std::endl;
        return true;
      }
      std::cout << "[chaos] setup transaction " << id << ": " << toString(r.status) << " "
                << r.reason << std::endl;
      if (r.status == TxnStatus::Aborted) return false;
    }
    return false;
  }

  kj::Promise<void> pauseThen(int64_t ms, size_t c) {
    return io_.provider->getTimer().afterDelay(ms * kj::MILLISECONDS).then([this, c] {
      return worker(c);
    });
  }

  kj::Promise<void> worker(size_t c) {
    if (stopLoad_) return kj::READY_NOW;
    Rng& rng = rngs_[c];
    size_t from = rng.below(accounts_.size());
    size_t to = rng.below(accounts_.size() - 1);
    if (to >= from) ++to;
    Client& client = *clients_[c];
    // Final fault (Paxos): no reads of the paused participant's accounts (they would
    // block), so transfers keep preparing at the others with their marker on it.
    NodeId paused = finalPaused_.load();
    if (paused != kNoNode && (client.participantFor(accounts_[from]) == paused ||
                              client.participantFor(accounts_[to]) == paused)) {
      return kj::evalLater([this, c] { return worker(c); });
    }
    return read(client, accounts_[from])
        .then([this, c, from, to, &client](std::optional<kv::Versioned> a) {
          return read(client, accounts_[to])
              .then([this, c, from, to, a](std::optional<kv::Versioned> b) -> kj::Promise<void> {
                if (!a || !b) {
                  ++readFailures_;
                  return pauseThen(100, c);
                }
                return transfer(c, from, to, *a, *b);
              });
        });
  }

  kj::Promise<void> transfer(size_t c, size_t from, size_t to, const kv::Versioned& a,
                             const kv::Versioned& b) {
    if (stopLoad_) return kj::READY_NOW;
    if (!a.value || !b.value) {
      violation("account " + accounts_[a.value ? to : from] + " reads as absent");
      return pauseThen(500, c);
    }
    int64_t balA = std::stoll(*a.value), balB = std::stoll(*b.value);
    if (balA <= 0) return pauseThen(1, c);
    Client& client = *clients_[c];
    Attempt at;
    at.txn = client.newTxnId();
    at.client = c;
    at.from = from;
    at.to = to;
    at.amount = 1 + static_cast<int64_t>(
                        rngs_[c].below(static_cast<uint64_t>(std::min(balA, kMaxTransfer))));
    at.fromVersion = a.version;
    at.toVersion = b.version;
    at.fromBalance = balA;
    at.toBalance = balB;
    at.marker = "mk/" + at.txn.toString();
    const std::string& ka = accounts_[from];
    const std::string& kb = accounts_[to];
    at.ops[client.participantFor(ka)].push_back(kv::Op{kv::OpKind::Expect, ka, "", a.version});
    at.ops[client.participantFor(ka)].push_back(
        kv::Op{kv::OpKind::Put, ka, std::to_string(balA - at.amount), 0});
    at.ops[client.participantFor(kb)].push_back(kv::Op{kv::OpKind::Expect, kb, "", b.version});
    at.ops[client.participantFor(kb)].push_back(
        kv::Op{kv::OpKind::Put, kb, std::to_string(balB + at.amount), 0});
    NodeId markerAt = finalPaused_.load();
    if (markerAt == kNoNode) markerAt = client.participantFor(at.marker);
    at.ops[markerAt].push_back(
        kv::Op{kv::OpKind::Put, at.marker, ka + "->" + kb + ":" + std::to_string(at.amount), 0});
    at.startMs = nowMs();
    size_t index = attempts_.size();
    attempts_.push_back(std::move(at));
    const Attempt& ref = attempts_.back();
    return client.commit(ref.txn, ref.ops)
        .then([](CommitResult r) { return r; },
              [txn = ref.txn](kj::Exception&& e) {
                return CommitResult{txn, TxnStatus::Unknown,
                                    std::string("exception: ") + e.getDescription().cStr()};
              })
        .then([this, c, index](CommitResult r) {
          Attempt& done = attempts_[index];
          done.done = true;
          done.status = r.status;
          done.reason = r.reason;
          done.endMs = nowMs();
          return worker(c);
        });
  }

  // ---- in-doubt monitor ----

  kj::Promise<std::optional<Client::NodeStatus>> statusOf(NodeId id) {
    auto got = admin_->status(id).then(
        [](Client::NodeStatus s) -> std::optional<Client::NodeStatus> { return s; },
        [](kj::Exception&&) -> std::optional<Client::NodeStatus> { return std::nullopt; });
    auto timeout = io_.provider->getTimer()
                       .afterDelay(kStatusTimeoutMs * kj::MILLISECONDS)
                       .then([]() -> std::optional<Client::NodeStatus> { return std::nullopt; });
    return got.exclusiveJoin(kj::mv(timeout));
  }

  // One polling loop per participant, so a paused one does not slow the others down.
  kj::Promise<void> monitor() {
    latest_.resize(participants_.size());
    auto loops = kj::heapArrayBuilder<kj::Promise<void>>(participants_.size());
    for (size_t i = 0; i < participants_.size(); ++i) loops.add(monitorNode(i));
    return kj::joinPromises(loops.finish());
  }

  kj::Promise<void> monitorNode(size_t i) {
    if (stopMonitor_) return kj::READY_NOW;
    int64_t started = nowMs();
    return statusOf(participants_[i]->id)
        .then([this, i, started](std::optional<Client::NodeStatus> st) {
          onAnswer(i, started, st);
          return io_.provider->getTimer().afterDelay(kPollIntervalMs * kj::MILLISECONDS);
        })
        .then([this, i] { return monitorNode(i); });
  }

  void onAnswer(size_t i, int64_t started, const std::optional<Client::NodeStatus>& st) {
    int64_t t = nowMs();
    NodePoll& poll = latest_[i];
    poll = NodePoll{started, t, st.has_value(), {}};
    ++polls_;
    if (st) {
      for (const auto& d : st->inDoubt) {
        InDoubtSeen s{participants_[i]->name, d.txn, t, t - static_cast<int64_t>(d.ageMs),
                      static_cast<int64_t>(d.ageMs)};
        maxInDoubtMs_ = std::max(maxInDoubtMs_, s.ageMs);
        auto key = std::make_pair(s.node, s.txn);
        auto it = longest_.find(key);
        if (it == longest_.end() || it->second.ageMs < s.ageMs) longest_[key] = s;
        poll.entries.push_back(s);
        // 2PC: what stayed blocked while c1 was down.
        if (!paxos_ && finalKillMs_ > 0 && finalChecks_[0].refMs == 0 &&
            s.startMs <= finalKillMs_ + kStartFuzzMs) {
          blockedWhileDown_.insert(s.txn);
        }
      }
    }
    // The final checks: nothing in doubt at the reference time is still in doubt, as seen
    // by polls that began after it.
    for (auto& f : finalChecks_) {
      int64_t ref = f.refMs.load();
      if (ref <= 0 || f.cleared) continue;
      bool fresh = true, clear = true;
      std::vector<InDoubtSeen> left;
      for (size_t k = 0; k < participants_.size(); ++k) {
        if (participants_[k]->name == f.excluded) continue;
        const NodePoll& p = latest_[k];
        if (p.startedMs < ref) {
          fresh = clear = false;
          continue;
        }
        if (!p.answered) {
          clear = false;
          f.note = participants_[k]->name + " did not answer its status call";
        }
        for (const auto& e : p.entries) {
          if (e.startMs <= ref + kStartFuzzMs) left.push_back(e);
        }
      }
      if (!fresh) continue;
      if (!f.counted) {
        f.counted = true;
        f.inDoubtAtRef = left.size();
      }
      if (clear && left.empty()) {
        f.cleared = true;
        f.clearMs = t - ref;
      } else {
        f.left = left;
      }
    }
  }

  // ---- checks after healing ----

  void checkAll() {
    nemesis_.checkUnexpectedDeaths();
    for (const auto& e : nemesis_.errors()) violation("nemesis: " + e);
    checkInDoubt();
    resolveUnknowns();
    if (opts_.canary) plantCanary();
    std::map<std::string, kv::Versioned> finalData = readAccounts();
    auto inspected = inspectNodes();
    checkBank(finalData);
    checkMarkers(inspected);
    checkRecords(inspected);
    checkTombstones(inspected);
  }

  void checkInDoubt() {
    // Final: nothing that was in doubt at the reference time remains rt + 1 s later.
    for (const auto& f : finalChecks_) {
      if (f.cleared && f.clearMs <= finalBoundMs_) continue;
      std::string left;
      for (const auto& s : f.left) {
        left += "\n      " + s.node + " " + s.txn.toString() + " in doubt for " + fmtMs(s.ageMs);
      }
      violation("still in doubt " + fmtMs(finalBoundMs_) + " after " + f.what + ": " +
                (f.cleared ? "cleared only after " + fmtMs(f.clearMs)
                           : "not cleared" + (f.note.empty() ? "" : " (" + f.note + ")")) +
                left);
    }
    // Continuous: an entry older than the bound needs an excuse (see the file comment).
    auto windows = nemesis_.windows();
    for (const auto& [key, s] : longest_) {
      if (s.ageMs <= continuousBoundMs_) continue;
      bool excused = false;
      for (const auto& w : windows) {
        int64_t end = w.endMs < 0 ? nowMs() : w.endMs;
        if (end < s.startMs || w.startMs > s.seenMs) continue;
        for (const auto& n : w.nodes) {
          bool self = n == s.node;
          bool coordinator = !paxos_ && n[0] == 'c';
          excused = excused || self || coordinator;
        }
      }
      if (!excused) {
        violation(s.node + " held " + s.txn.toString() + " in doubt for " + fmtMs(s.ageMs) +
                  " (seen at " + fmtMs(s.seenMs) + "), above " + fmtMs(continuousBoundMs_) +
                  (paxos_ ? ", and that participant was neither down nor paused"
                          : ", and no coordinator (nor that participant) was down or paused"));
      }
    }
  }

  void resolveUnknowns() {
    auto promises = kj::heapArrayBuilder<kj::Promise<void>>(attempts_.size());
    size_t asked = 0;
    for (size_t i = 0; i < attempts_.size(); ++i) {
      if (attempts_[i].status != TxnStatus::Unknown) continue;
      ++asked;
      promises.add(admin_->outcome(attempts_[i].txn)
                       .then([](TxnStatus s) { return s; },
                             [](kj::Exception&&) { return TxnStatus::Unknown; })
                       .then([this, i](TxnStatus s) { attempts_[i].resolved = s; }));
    }
    if (asked == 0) return;
    auto arr = promises.finish();
    kj::joinPromises(kj::mv(arr)).wait(io_.waitScope);
    for (const auto& a : attempts_) {
      if (!a.resolved) continue;
      // Paxos Commit never guesses, and its outcome can always be recovered through the
      // acceptors. 2PC answers unknown for ids its coordinator never recorded (presumed
      // abort); the marker check below then requires that nothing was written.
      if (paxos_ && *a.resolved != TxnStatus::Committed && *a.resolved != TxnStatus::Aborted) {
        violation("outcome of " + a.txn.toString() + " (client: unknown, " + a.reason +
                  ") after healing: " + toString(*a.resolved));
      }
      if (!paxos_ && *a.resolved == TxnStatus::Forgotten) {
        violation("outcome of " + a.txn.toString() + " after healing: forgotten");
      }
    }
  }

  // One transaction no client recorded: 1 unit of money created on the first account and a
  // marker of an unknown transaction.
  void plantCanary() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto v = read(*admin_, accounts_[0]).wait(io_.waitScope);
      if (!v || !v->value) continue;
      std::map<NodeId, std::vector<kv::Op>> ops;
      const std::string& k = accounts_[0];
      ops[admin_->participantFor(k)].push_back(kv::Op{kv::OpKind::Expect, k, "", v->version});
      ops[admin_->participantFor(k)].push_back(
          kv::Op{kv::OpKind::Put, k, std::to_string(std::stoll(*v->value) + 1), 0});
      TxnId id = admin_->newTxnId();
      std::string marker = "mk/" + id.toString();
      ops[admin_->participantFor(marker)].push_back(kv::Op{kv::OpKind::Put, marker, "canary", 0});
      if (admin_->commit(id, ops).wait(io_.waitScope).status == TxnStatus::Committed) {
        std::cout << "[chaos] canary: planted +1 on " << k << " and marker " << marker << " (txn "
                  << id << ", not recorded)" << std::endl;
        return;
      }
    }
    std::cout << "[chaos] canary: could not plant" << std::endl;
  }

  std::map<std::string, kv::Versioned> readAccounts() {
    std::map<std::string, kv::Versioned> out;
    for (const auto& key : accounts_) {
      std::optional<kv::Versioned> v;
      for (int i = 0; i < 5 && !v; ++i) v = read(*admin_, key).wait(io_.waitScope);
      if (!v) {
        violation("cannot read account " + key + " after healing");
        continue;
      }
      out[key] = *v;
    }
    return out;
  }

  // The bank test: the total is unchanged, and each account's history is exactly the
  // chain of committed transfers that expected its versions 1, 2, ..., with each one's
  // read value what the previous one wrote.
  void checkBank(const std::map<std::string, kv::Versioned>& data) {
    int64_t total = 0;
    for (const auto& [k, v] : data) {
      if (!v.value) {
        violation("account " + k + " is absent after healing");
        continue;
      }
      total += std::stoll(*v.value);
    }
    expectedTotal_ = kInitialBalance * static_cast<int64_t>(accounts_.size());
    finalTotal_ = total;
    if (data.size() == accounts_.size() && total != expectedTotal_) {
      violation("total of balances is " + std::to_string(total) + ", expected " +
                std::to_string(expectedTotal_));
    }
    for (size_t acct = 0; acct < accounts_.size(); ++acct) {
      // version read -> (value read, value written, txn)
      struct Step {
        int64_t read, wrote;
        TxnId txn;
      };
      std::map<uint64_t, Step> chain;
      for (const auto& a : attempts_) {
        if (!a.committed() || (a.from != acct && a.to != acct)) continue;
        bool isFrom = a.from == acct;
        uint64_t v = isFrom ? a.fromVersion : a.toVersion;
        Step s{isFrom ? a.fromBalance : a.toBalance,
               isFrom ? a.fromBalance - a.amount : a.toBalance + a.amount, a.txn};
        auto [it, fresh] = chain.emplace(v, s);
        if (!fresh) {
          violation("account " + accounts_[acct] +
                    ": two committed transactions expected version " + std::to_string(v) + ": " +
                    it->second.txn.toString() + " and " + a.txn.toString());
        }
      }
      int64_t value = kInitialBalance;
      uint64_t version = 1;
      for (const auto& [v, s] : chain) {
        if (v != version) {
          violation("account " + accounts_[acct] + ": committed transfer " + s.txn.toString() +
                    " expected version " + std::to_string(v) + ", but the committed chain is at " +
                    std::to_string(version) + " (a committed transfer is missing or invented)");
          break;
        }
        if (s.read != value) {
          violation("account " + accounts_[acct] + ": " + s.txn.toString() + " read " +
                    std::to_string(s.read) + " at version " + std::to_string(v) + ", but " +
                    std::to_string(value) + " was committed there");
        }
        value = s.wrote;
        ++version;
      }
      auto it = data.find(accounts_[acct]);
      if (it == data.end() || !it->second.value) continue;
      if (it->second.version != version || std::stoll(*it->second.value) != value) {
        violation("account " + accounts_[acct] + " is " + *it->second.value + " at version " +
                  std::to_string(it->second.version) + ", but its committed transfers give " +
                  std::to_string(value) + " at version " + std::to_string(version));
      }
    }
  }

  struct Inspected {
    std::string node;
    NodeId id = kNoNode;
    std::map<TxnId, std::string> states;      // participant records
    std::map<TxnId, std::string> tombstones;  // acceptors: acked outcomes of collected txns
    std::map<std::string, std::string> kv;
  };

  // `pcommit inspect --json` of every participant and acceptor.
  std::vector<Inspected> inspectNodes() {
    std::vector<Inspected> out;
    std::vector<const runtime::NodeInfo*> nodes = participants_;
    for (const auto* a : cluster_.withRole(runtime::Role::Acceptor)) nodes.push_back(a);
    for (const auto* p : nodes) {
      Inspected in;
      in.node = p->name;
      in.id = p->id;
      std::string text;
      int rc = runProcess({opts_.pcommit, "inspect", "--data", cluster_.dataDirOf(*p), "--json"},
                          &text, opts_.dir + "/chaos-nemesis.log", "");
      if (rc != 0) {
        violation("pcommit inspect of " + p->name + " failed (exit " + std::to_string(rc) + ")");
        continue;
      }
      try {
        // nlohmann's reader; byte strings may come as "<field>_base64" (json/json.h).
        const json::Value j = json::Value::parse(text);
        for (const auto& t : j.at("participant").at("transactions")) {
          auto id = TxnId::parse(t.at("txn").get<std::string>());
          if (id) in.states[*id] = t.at("state").get<std::string>();
        }
        for (const auto& t : j.at("acceptor").at("tombstones")) {
          auto id = TxnId::parse(t.at("txn").get<std::string>());
          if (id && t.at("outcome").is_string())
            in.tombstones[*id] = t.at("outcome").get<std::string>();
        }
        for (const auto& e : j.at("kv")) {
          auto key = json::getBytes(e, "key");
          auto value = json::getBytes(e, "value");
          if (key && value) in.kv[*key] = *value;
        }
      } catch (const std::exception& e) {
        violation("cannot read pcommit inspect --json of " + p->name + ": " + e.what());
        continue;
      }
      recordsSeen_ += in.states.size();
      tombstonesSeen_ += in.tombstones.size();
      out.push_back(std::move(in));
    }
    return out;
  }

  // The set test: a marker exists iff its transaction committed; none exists for a
  // transaction no client attempted.
  void checkMarkers(const std::vector<Inspected>& inspected) {
    std::map<std::string, const Attempt*> byMarker;
    for (const auto& a : attempts_) byMarker[a.marker] = &a;
    std::set<std::string> present;
    for (const auto& in : inspected) {
      for (const auto& [key, value] : in.kv) {
        if (key.rfind("mk/", 0) != 0) continue;
        present.insert(key);
        auto it = byMarker.find(key);
        if (it == byMarker.end()) {
          violation("marker " + key + " on " + in.node + " belongs to no attempted transaction");
        } else if (!it->second->committed()) {
          const Attempt& a = *it->second;
          violation("marker of " + a.txn.toString() + " exists on " + in.node +
                    ", but the client was told " + toString(a.status) +
                    (a.resolved ? std::string(" / outcome ") + toString(*a.resolved) : "") + " (" +
                    a.reason + ")");
        }
      }
    }
    for (const auto& a : attempts_) {
      if (a.committed() && present.count(a.marker) == 0) {
        violation("transaction " + a.txn.toString() + " committed (" +
                  (a.status == TxnStatus::Committed ? "told the client" : "resolved by outcome") +
                  ") but its marker is missing");
      }
    }
    markersPresent_ = present.size();
  }

  // Durable outcome records agree across participants, and with what clients were told.
  void checkRecords(const std::vector<Inspected>& inspected) {
    std::map<TxnId, std::map<std::string, std::string>> states;
    for (const auto& in : inspected) {
      for (const auto& [txn, st] : in.states) states[txn][in.node] = st;
    }
    for (const auto& [txn, byNode] : states) {
      bool commit = false, abort = false;
      std::string desc;
      for (const auto& [node, st] : byNode) {
        commit = commit || st == "committed";
        abort = abort || st == "aborted" || st == "voted-aborted";
        desc += " " + node + "=" + st;
        if (st == "prepared")
          violation(node + " still holds " + txn.toString() + " prepared after healing");
      }
      if (commit && abort) violation("participants disagree on " + txn.toString() + ":" + desc);
      if (commit) ++recordsCommitted_;
    }
    for (const auto& a : attempts_) {
      auto it = states.find(a.txn);
      for (const auto& [pid, ops] : a.ops) {
        (void)ops;
        std::string node = runtime::nameForId(pid);
        std::string st;
        if (it != states.end() && it->second.count(node)) st = it->second.at(node);
        if (a.committed() && st != "committed") {
          violation(a.txn.toString() + " committed, but " + node + "'s durable record is '" + st +
                    "'");
        }
        if (!a.committed() && st == "committed") {
          violation(a.txn.toString() + " was not committed (client: " + toString(a.status) +
                    "), but " + node + "'s durable record is committed");
        }
      }
    }
  }

  // Paxos Commit: an acceptor's tombstone keeps the outcome every participant acked; it
  // must be the participants' and the clients' outcome.
  void checkTombstones(const std::vector<Inspected>& inspected) {
    std::map<TxnId, const Attempt*> byTxn;
    for (const auto& a : attempts_) byTxn[a.txn] = &a;
    std::map<TxnId, std::string> participantOutcome;
    for (const auto& in : inspected) {
      for (const auto& [txn, st] : in.states) {
        if (st == "committed") participantOutcome[txn] = "commit";
        if (st == "aborted" || st == "voted-aborted") participantOutcome.emplace(txn, "abort");
      }
    }
    for (const auto& in : inspected) {
      for (const auto& [txn, outcome] : in.tombstones) {
        auto p = participantOutcome.find(txn);
        if (p != participantOutcome.end() && p->second != outcome) {
          violation(in.node + "'s tombstone of " + txn.toString() + " says " + outcome +
                    ", the participants' records say " + p->second);
        }
        auto a = byTxn.find(txn);
        if (a != byTxn.end() && a->second->committed() != (outcome == "commit")) {
          violation(in.node + "'s tombstone of " + txn.toString() + " says " + outcome +
                    ", but the client was told " + toString(a->second->status));
        }
      }
    }
  }

  int summary() {
    size_t committed = 0, aborted = 0, unknown = 0, resolvedC = 0, resolvedA = 0, resolvedU = 0,
           conflicts = 0;
    std::map<std::string, size_t> otherReasons;  // aborts other than conflicts, by reason
    for (const auto& a : attempts_) {
      if (a.status == TxnStatus::Committed) ++committed;
      if (a.status == TxnStatus::Aborted) {
        ++aborted;
        if (a.reason.find("expect") != std::string::npos ||
            a.reason.find("conflict") != std::string::npos) {
          ++conflicts;
        } else {
          ++otherReasons[a.reason.substr(0, a.reason.find(':'))];
        }
      }
      if (a.status == TxnStatus::Unknown) {
        ++unknown;
        if (a.resolved == TxnStatus::Committed) {
          ++resolvedC;
        } else if (a.resolved == TxnStatus::Aborted) {
          ++resolvedA;
        } else {
          ++resolvedU;
        }
      }
    }
    auto counts = nemesis_.counts();
    int faults = 0;
    std::string byKind;
    for (const auto& [k, n] : counts) {
      if (k == "failpoint-fired") continue;
      faults += n;
      byKind += (byKind.empty() ? "" : ", ") + k + " " + std::to_string(n);
    }
    std::cout << "\n==== chaos summary: mode " << toString(cluster_.protocol) << ", seed "
              << opts_.seed << " ====\n"
              << "transactions  " << attempts_.size() << ": committed " << committed << ", aborted "
              << aborted << " (" << conflicts << " conflicts), unknown " << unknown
              << " -> resolved committed " << resolvedC << ", aborted " << resolvedA
              << ", still unknown " << resolvedU
              << (paxos_ ? "" : " (2PC: no record = never committed)") << "\n"
              << "aborts        other than conflicts:" <<
        [&] {
          std::string r;
          for (const auto& [why, n] : otherReasons) r += " " + std::to_string(n) + " '" + why + "'";
          return r.empty() ? std::string(" none") : r;
        }() << "\n"
              << "reads failed  " << readFailures_ << " (node down or paused; retried)\n"
              << "faults        " << faults << ": " << byKind << "; failpoints fired "
              << (counts.count("failpoint-fired") ? counts.at("failpoint-fired") : 0) << "\n"
              << "in doubt      max " << fmtMs(maxInDoubtMs_) << " over " << polls_ << " polls ("
              << longest_.size() << " in-doubt transaction sightings)\n";
    for (const auto& f : finalChecks_) {
      std::cout << "final fault   " << f.inDoubtAtRef << " in doubt at " << f.what
                << ", cleared in " << (f.cleared ? fmtMs(f.clearMs) : std::string("(never)"))
                << " (bound " << fmtMs(finalBoundMs_) << ")\n";
    }
    if (!paxos_) {
      std::cout << "              2PC: " << blockedWhileDown_.size()
                << " transactions blocked while c1 was down\n";
    }
    std::cout << "bank          total " << finalTotal_ << " (expected " << expectedTotal_ << "), "
              << accounts_.size()
              << " accounts, each checked against its chain of committed transfers\n"
              << "set           " << markersPresent_ << " markers present\n"
              << "records       " << recordsSeen_ << " participant records read, "
              << recordsCommitted_ << " committed transactions, agreement checked; "
              << tombstonesSeen_ << " acceptor tombstones checked\n";
    if (!violations_.empty()) {
      std::cout << "\nFAIL: " << violations_.size() << " violation(s):\n";
      size_t shown = 0;
      for (const auto& v : violations_) {
        if (++shown > 30) {
          std::cout << "  ... and " << violations_.size() - 30 << " more\n";
          break;
        }
        std::cout << "  - " << v << "\n";
      }
      std::cout << "fault timeline:\n";
      for (const auto& w : nemesis_.windows()) {
        std::string ns;
        for (const auto& n : w.nodes) ns += (ns.empty() ? "" : ",") + n;
        std::cout << "  " << fmtMs(w.startMs) << " - "
                  << (w.endMs < 0 ? std::string("open") : fmtMs(w.endMs)) << "  " << w.kind << " "
                  << ns << " " << w.detail << "\n";
      }
    }
    std::cout << "replay        " << opts_.replay << "\n";
    if (opts_.canary) {
      // Each planted fault must be reported: the total, the account's chain, the marker.
      bool total = false, chain = false, marker = false;
      for (const auto& v : violations_) {
        total = total || v.find("total of balances") != std::string::npos;
        chain = chain || v.find("its committed transfers give") != std::string::npos;
        marker = marker || v.find("belongs to no attempted transaction") != std::string::npos;
      }
      bool caught = total && chain && marker && violations_.size() == 3;
      std::cout << "CANARY " << (caught ? "CAUGHT" : "MISSED")
                << " (expected exactly the total, chain and marker violations)" << std::endl;
      return caught ? 0 : 1;
    }
    std::cout << "RESULT " << (violations_.empty() ? "PASS" : "FAIL") << std::endl;
    return violations_.empty() ? 0 : 1;
  }

  kj::AsyncIoContext& io_;
  runtime::ClusterConfig cluster_;
  Options opts_;
  Nemesis nemesis_;
  bool paxos_ = true;
  uint32_t rt_ = 0;
  int64_t finalBoundMs_ = 0, continuousBoundMs_ = 0;
  std::vector<const runtime::NodeInfo*> participants_;
  std::unique_ptr<Client> admin_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Rng> rngs_;
  std::vector<std::string> accounts_;
  std::deque<Attempt> attempts_;  // deque: references stay valid while it grows
  std::atomic<bool> stopLoad_{false}, nemesisDone_{false};
  std::atomic<int64_t> finalKillMs_{0};
  std::atomic<NodeId> finalPaused_{kNoNode};  // set during the Paxos final fault
  bool stopMonitor_ = false;
  // One check per reference time: nothing in doubt then (at any participant but
  // `excluded`) may still be in doubt finalBoundMs_ later.
  struct FinalCheck {
    std::string what;
    std::string excluded;
    std::atomic<int64_t> refMs{0};  // set by the nemesis thread
    bool cleared = false;
    int64_t clearMs = 0;
    size_t inDoubtAtRef = 0;  // in doubt at the first poll after refMs
    bool counted = false;
    std::vector<InDoubtSeen> left;
    std::string note;
  };
  std::deque<FinalCheck> finalChecks_;
  std::set<TxnId> blockedWhileDown_;
  std::map<std::pair<std::string, TxnId>, InDoubtSeen> longest_;
  // The latest status poll of each participant.
  struct NodePoll {
    int64_t startedMs = 0, answeredMs = 0;
    bool answered = false;
    std::vector<InDoubtSeen> entries;
  };
  std::vector<NodePoll> latest_;
  int64_t maxInDoubtMs_ = 0;
  size_t polls_ = 0, readFailures_ = 0, markersPresent_ = 0, recordsSeen_ = 0,
         recordsCommitted_ = 0, tombstonesSeen_ = 0;
  int64_t expectedTotal_ = 0, finalTotal_ = 0;
  std::vector<std::string> violations_;
};

int usage(const std::string& why) {
  std::cerr << "pc_chaos: " << why << "\n"
            << "usage: pc_chaos --dir DIR --pcommit PATH [--seed N] [--duration S] [--clients C]\n"
            << "                [--accounts-per-participant K] [--replay TEXT] [--canary]\n";
  return 64;
}

}  // namespace
}  // namespace pc::chaos

int main(int argc, char** argv) {
  using namespace pc::chaos;
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--dir") {
        opts.dir = value();
      } else if (a == "--pcommit") {
        opts.pcommit = value();
      } else if (a == "--seed") {
        opts.seed = std::stoull(value());
        opts.seedGiven = true;
      } else if (a == "--duration") {
        opts.durationS = std::stoll(value());
      } else if (a == "--clients") {
        opts.clients = std::stoul(value());
      } else if (a == "--accounts-per-participant") {
        opts.accountsPerParticipant = std::stoul(value());
      } else if (a == "--canary") {
        opts.canary = true;
      } else if (a == "--replay") {
        opts.replay = value();
      } else {
        return usage("unknown option " + a);
      }
    } catch (const std::exception& e) {
      return usage(a + ": " + e.what());
    }
  }
  if (opts.dir.empty() || opts.pcommit.empty()) return usage("--dir and --pcommit are required");
  if (opts.clients == 0 || opts.accountsPerParticipant == 0 || opts.durationS < 0) {
    return usage("--clients and --accounts-per-participant must be >= 1, --duration >= 0");
  }
  if (!opts.seedGiven) opts.seed = std::random_device{}() % 1000000000u;
  if (opts.replay.empty()) {
    opts.replay = "pc_chaos --dir DIR --pcommit PCOMMIT --seed " + std::to_string(opts.seed) +
                  " --duration " + std::to_string(opts.durationS);
  }
  pc::runtime::ClusterConfig cluster;
  try {
    cluster = pc::runtime::loadClusterFile(opts.dir + "/cluster.conf");
  } catch (const std::exception& e) {
    std::cerr << "pc_chaos: " << e.what() << "\n";
    return 2;
  }
  auto io = kj::setupAsyncIo();
  Run run(io, std::move(cluster), opts);
  int rc = 2;
  try {
    rc = run.main();
  } catch (const std::exception& e) {
    std::cerr << "pc_chaos: " << e.what() << "\n";
    run.emergencyStop();
  } catch (const kj::Exception& e) {
    std::cerr << "pc_chaos: " << e.getDescription().cStr() << "\n";
    run.emergencyStop();
  }
  return rc;
}
