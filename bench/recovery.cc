#include "bench/recovery.h"

#include <kj/debug.h>
#include <kj/vector.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>

#include "client/client.h"

namespace pc::bench {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// True once the process is gone or a zombie (nodes are double-forked: init reaps them).
bool processGone(uint32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

// Closed-loop clients that keep committing until stopped (or their client is destroyed).
class Writers {
 public:
  Writers(Client& client, const RecoveryOptions& o) : client_(client) {
    auto participants = client_.cluster().withRole(runtime::Role::Participant);
    std::string value(o.payloadBytes, 'x');
    size_t pool = std::max<size_t>(o.keysPerParticipant, 1);
    for (int c = 0; c < o.clients; ++c) {
      std::vector<std::map<NodeId, std::vector<kv::Op>>> txns(pool);
      for (const auto* p : participants) {
        size_t found = 0;
        for (uint64_t i = 0; found < pool; ++i) {
          std::string key = "bench-r" + std::to_string(c) + "-" + p->name + "-" + std::to_string(i);
          if (client_.participantFor(key) == p->id) {
            txns[found++][p->id].push_back(kv::Op{kv::OpKind::Put, key, value, 0});
          }
        }
      }
      ops_.push_back(std::move(txns));
      next_.push_back(0);
    }
    kj::Vector<kj::Promise<void>> loops;
    for (size_t c = 0; c < ops_.size(); ++c) loops.add(loop(c));
    loops_ = kj::joinPromises(loops.releaseAsArray()).eagerlyEvaluate([](kj::Exception&&) {});
  }
  // Cancels the loops (the transactions in flight are abandoned, not answered).
  void stop() { loops_ = kj::READY_NOW; }
  uint64_t committed() const { return committed_; }
  uint64_t answered() const { return answered_; }

 private:
  kj::Promise<void> loop(size_t c) {
    const auto& ops = ops_[c][next_[c]];
    next_[c] = (next_[c] + 1) % ops_[c].size();
    return client_.commit(client_.newTxnId(), ops).then([this, c](CommitResult r) {
      ++answered_;
      if (r.status == TxnStatus::Committed) ++committed_;
      return loop(c);
    });
  }

  Client& client_;
  std::vector<std::vector<std::map<NodeId, std::vector<kv::Op>>>> ops_;
  std::vector<size_t> next_;
  uint64_t committed_ = 0, answered_ = 0;
  kj::Promise<void> loops_ = kj::READY_NOW;
};

// One run: the load through the leader until it crashes (1), the participants polled until
// none holds a transaction in doubt (2), then the outcome of each one seen in doubt (3).
class RecoveryRun {
 public:
  // Throws kj::Exception if the armed coordinator does not answer `status`.
  RecoveryRun(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
              const RecoveryOptions& o);

  RecoveryResult run() {
    if (!waitForCrash()) return r_;
    pollUntilClear();
    writers_.reset();
    client_.reset();
    if (r_.resolved && !seen_.empty()) askOutcomes();
    return r_;
  }

 private:
  void sleepMs(uint32_t ms) {
    io_.provider->getTimer().afterDelay(ms * kj::MILLISECONDS).wait(io_.waitScope);
  }
  bool waitForCrash();
  bool leaderGone();
  void pollUntilClear();
  bool restartLeader(double nowMs);
  size_t pollParticipants(std::set<TxnId>& current);
  void printPollProgress(double nowMs, size_t inDoubtNow);
  void askOutcomes();

  kj::AsyncIoContext& io_;
  const runtime::ClusterConfig& cluster_;
  const RecoveryOptions& o_;
  runtime::ClusterConfig view_;  // the clients' view: paxos-direct if the client leads
  bool direct_;
  bool twoPc_;
  std::vector<const runtime::NodeInfo*> participants_;
  RecoveryResult r_;
  Client observer_;  // polls the nodes' status
  uint32_t leaderPid_ = 0;
  std::unique_ptr<Client> client_;  // the load's client (the leader itself under direct)
  std::unique_ptr<Writers> writers_;
  Clock::time_point lastLine_;  // the last progress line
  Clock::time_point crashAt_;
  std::set<TxnId> seen_;  // every transaction some participant listed in doubt
  bool restarted_ = false;
  double restartIssuedMs_ = 0;
};

RecoveryRun::RecoveryRun(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                         const RecoveryOptions& o)
    : io_(io),
      cluster_(cluster),
      o_(o),
      view_(cluster),
      participants_(cluster.withRole(runtime::Role::Participant)),
      observer_(io, cluster) {
  if (o.clientAsLeader) view_.protocol = Protocol::PaxosDirect;
  direct_ = view_.protocol == Protocol::PaxosDirect;
  twoPc_ = view_.protocol == Protocol::TwoPC;
  auto core = cluster.coreConfig();
  r_.protocol = toString(view_.protocol);
  r_.crashed = direct_ ? "client (the initial leader)" : o.leader;
  r_.recoveryTimeoutMs = static_cast<double>(core.recoveryTimeoutTicks * cluster.tickMs);
  r_.recoveryJitterMs = static_cast<double>(core.recoveryJitterTicks * cluster.tickMs);
  if (!direct_) {
    const auto* leader = cluster.byName(o.leader);
    KJ_REQUIRE(leader != nullptr, "no such coordinator in the cluster file", o.leader);
    leaderPid_ = observer_.status(leader->id).wait(io.waitScope).pid;
  }
  ClientOptions co;
  co.coordinator = direct_ ? "" : o.leader;
  co.commitFailover = false;  // no failover: only the participants and acceptors may finish
  co.timeoutMs = 600000;
  client_ = std::make_unique<Client>(io, view_, co);
  writers_ = std::make_unique<Writers>(*client_, o);
}

// 1. Waits for the crash; false (with r_.note) if interrupted or the leader did not crash
// in time.
bool RecoveryRun::waitForCrash() {
  auto start = Clock::now();
  lastLine_ = start;
  bool crashed = false;
  while (!crashed) {
    sleepMs(1);
    crashed = leaderGone();
    if (o_.interrupted && o_.interrupted()) {
      r_.note = "interrupted";
      return false;
    }
    if (msSince(start) > o_.crashWaitSeconds * 1000) {
      r_.note = "the leader had not crashed after " + std::to_string(o_.crashWaitSeconds) + " s";
      return false;
    }
    if (o_.progress && msSince(lastLine_) >= 1000) {
      lastLine_ = Clock::now();
      *o_.progress << "\r  " << r_.protocol << " recovery: load through " << r_.crashed << ", "
                   << (writers_ ? writers_->committed() : 0)
                   << " committed, waiting for the crash   " << std::flush;
    }
  }
  crashAt_ = Clock::now();
  r_.crashAtSeconds = std::chrono::duration<double>(crashAt_ - start).count();
  if (writers_) writers_->stop();  // coordinator modes: in-flight commits will never be answered
  return true;
}

// Coordinator modes: the armed coordinator's process is gone. paxos-direct: after
// crashAfter commits the client, which is the leader, is destroyed here.
bool RecoveryRun::leaderGone() {
  if (!direct_) return processGone(leaderPid_);
  if (writers_->committed() < o_.crashAfter) return false;
  writers_->stop();
  writers_.reset();
  client_.reset();  // the leader is gone: nothing more leaves it
  return true;
}

// 2. Polls the participants until none holds a transaction in doubt (three polls in a row),
// restarting the coordinator first under 2PC.
void RecoveryRun::pollUntilClear() {
  int emptyStreak = 0;
  double firstEmptyMs = -1;
  double limitMs =
      (twoPc_ ? o_.restartAfterMs : 0) + 3 * (r_.recoveryTimeoutMs + r_.recoveryJitterMs) + 10000;
  bool firstPoll = true;
  while (true) {
    double now = msSince(crashAt_);
    if (twoPc_ && !restarted_ && now >= o_.restartAfterMs) {
      if (!restartLeader(now)) break;
      now = msSince(crashAt_);  // restartLeader waits until the node answers
      r_.note = "the restart took " + std::to_string(static_cast<int>(now - restartIssuedMs_)) +
                " ms (until the node answered)";
    }
    std::set<TxnId> current;
    size_t inDoubt = pollParticipants(current);
    seen_.insert(current.begin(), current.end());
    if (firstPoll) r_.inDoubtAtCrash = current.size();
    firstPoll = false;
    if (inDoubt == 0) {
      if (emptyStreak++ == 0) firstEmptyMs = now;
      if (emptyStreak >= 3) {
        r_.resolved = true;
        break;
      }
    } else {
      emptyStreak = 0;
    }
    if (now > limitMs) {
      r_.note = "still in doubt after " + std::to_string(static_cast<int>(now)) + " ms";
      break;
    }
    if (o_.interrupted && o_.interrupted()) {
      r_.note = "interrupted";
      break;
    }
    if (o_.progress && msSince(lastLine_) >= 200) printPollProgress(now, current.size());
    sleepMs(o_.pollMs);
  }
  if (o_.progress) *o_.progress << "\n" << std::flush;
  r_.inDoubtSeen = seen_.size();
  if (r_.resolved) {
    r_.resolvedAfterMs = firstEmptyMs;
    if (restarted_) r_.blockedAfterRestartMs = firstEmptyMs - restartIssuedMs_;
  }
}

// 2PC: restarts the crashed coordinator (without its failpoint); false, with the note, if
// it did not come up.
bool RecoveryRun::restartLeader(double nowMs) {
  restartIssuedMs_ = nowMs;
  restarted_ = true;
  r_.restartAfterMs = nowMs;
  if (!o_.restartLeader || !o_.restartLeader()) {
    r_.note = "the coordinator did not restart";
    return false;
  }
  return true;
}

// One poll: the in-doubt entries over every participant (a transaction counts once per
// participant; one that does not answer counts 1: it cannot say it is clear), and the
// transactions listed into `current`.
size_t RecoveryRun::pollParticipants(std::set<TxnId>& current) {
  size_t inDoubt = 0;
  for (const auto* p : participants_) {
    try {
      auto st = observer_.status(p->id).wait(io_.waitScope);
      inDoubt += st.inDoubt.size();
      for (const auto& d : st.inDoubt) current.insert(d.txn);
    } catch (const kj::Exception&) {
      ++inDoubt;
    }
  }
  return inDoubt;
}

void RecoveryRun::printPollProgress(double nowMs, size_t inDoubtNow) {
  lastLine_ = Clock::now();
  *o_.progress << "\r  " << r_.protocol << " recovery: " << r_.crashed << " crashed "
               << static_cast<int>(nowMs) << " ms ago; in doubt now " << inDoubtNow << ", seen "
               << seen_.size() << (twoPc_ && !restarted_ ? " (2PC: blocked until restart)" : "")
               << "          " << std::flush;
}

// 3. What became of them: through c2 (Paxos: any coordinator recovers an outcome), or
// through the restarted c1 (2PC: only a transaction's own coordinator knows).
void RecoveryRun::askOutcomes() {
  ClientOptions qo;
  qo.queryTimeoutMs = 5000;
  for (const auto* c : cluster_.withRole(runtime::Role::Coordinator)) {
    if (twoPc_ ? c->name == o_.leader : c->name != o_.leader) {
      qo.coordinator = c->name;
      break;
    }
  }
  Client q(io_, cluster_, qo);
  kj::Vector<kj::Promise<void>> asks;
  size_t asked = 0;
  for (const auto& t : seen_) {
    if (++asked > 500) break;
    asks.add(q.outcome(t).then([this](TxnStatus s) {
      if (s == TxnStatus::Committed) {
        ++r_.committedAfter;
      } else if (s == TxnStatus::Aborted) {
        ++r_.abortedAfter;
      } else {
        ++r_.unknownAfter;
      }
    }));
  }
  kj::joinPromises(asks.releaseAsArray()).wait(io_.waitScope);
}

}  // namespace

RecoveryResult runRecovery(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                           const RecoveryOptions& o) {
  return RecoveryRun(io, cluster, o).run();
}

}  // namespace pc::bench
