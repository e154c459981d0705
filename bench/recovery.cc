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

}  // namespace

RecoveryResult runRecovery(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                           const RecoveryOptions& o) {
  auto& timer = io.provider->getTimer();
  auto sleepMs = [&](uint32_t ms) { timer.afterDelay(ms * kj::MILLISECONDS).wait(io.waitScope); };
  runtime::ClusterConfig view = cluster;
  if (o.clientAsLeader) view.protocol = Protocol::PaxosDirect;
  const bool direct = view.protocol == Protocol::PaxosDirect;
  const bool twoPc = view.protocol == Protocol::TwoPC;
  auto core = cluster.coreConfig();

  RecoveryResult r;
  r.protocol = toString(view.protocol);
  r.crashed = direct ? "client (the initial leader)" : o.leader;
  r.recoveryTimeoutMs = static_cast<double>(core.recoveryTimeoutTicks * cluster.tickMs);
  r.recoveryJitterMs = static_cast<double>(core.recoveryJitterTicks * cluster.tickMs);

  Client observer(io, cluster);
  uint32_t leaderPid = 0;
  if (!direct) {
    const auto* leader = cluster.byName(o.leader);
    KJ_REQUIRE(leader != nullptr, "no such coordinator in the cluster file", o.leader);
    leaderPid = observer.status(leader->id).wait(io.waitScope).pid;
  }

  ClientOptions co;
  co.coordinator = direct ? "" : o.leader;
  co.commitFailover = false;  // no failover: only the participants and acceptors may finish
  co.timeoutMs = 600000;
  auto client = std::make_unique<Client>(io, view, co);
  auto writers = std::make_unique<Writers>(*client, o);

  // 1. Wait for the crash.
  auto start = Clock::now();
  auto lastLine = start;
  bool crashed = false;
  while (!crashed) {
    sleepMs(1);
    if (direct) {
      if (writers->committed() >= o.crashAfter) {
        writers->stop();
        writers.reset();
        client.reset();  // the leader is gone: nothing more leaves it
        crashed = true;
      }
    } else if (processGone(leaderPid)) {
      crashed = true;
    }
    if (o.interrupted && o.interrupted()) {
      r.note = "interrupted";
      return r;
    }
    if (msSince(start) > o.crashWaitSeconds * 1000) {
      r.note = "the leader had not crashed after " + std::to_string(o.crashWaitSeconds) + " s";
      return r;
    }
    if (o.progress && msSince(lastLine) >= 1000) {
      lastLine = Clock::now();
      *o.progress << "\r  " << r.protocol << " recovery: load through " << r.crashed << ", "
                  << (writers ? writers->committed() : 0) << " committed, waiting for the crash   "
                  << std::flush;
    }
  }
  auto crashAt = Clock::now();
  r.crashAtSeconds = std::chrono::duration<double>(crashAt - start).count();
  if (writers) writers->stop();  // coordinator modes: in-flight commits will never be answered

  // 2. Poll the participants until none holds a transaction in doubt.
  auto participants = cluster.withRole(runtime::Role::Participant);
  std::set<TxnId> seen;
  int emptyStreak = 0;
  double firstEmptyMs = -1;
  bool restarted = false;
  double restartIssuedMs = 0;
  double limitMs =
      (twoPc ? o.restartAfterMs : 0) + 3 * (r.recoveryTimeoutMs + r.recoveryJitterMs) + 10000;
  bool firstPoll = true;
  while (true) {
    double now = msSince(crashAt);
    if (twoPc && !restarted && now >= o.restartAfterMs) {
      restartIssuedMs = now;
      restarted = true;
      r.restartAfterMs = now;
      if (!o.restartLeader || !o.restartLeader()) {
        r.note = "the coordinator did not restart";
        break;
      }
      now = msSince(crashAt);  // restartLeader waits until the node answers
      r.note = "the restart took " + std::to_string(static_cast<int>(now - restartIssuedMs)) +
               " ms (until the node answered)";
    }
    size_t inDoubt = 0;  // entries over every participant (a txn counts once per participant)
    std::set<TxnId> current;
    for (const auto* p : participants) {
      try {
        auto st = observer.status(p->id).wait(io.waitScope);
        inDoubt += st.inDoubt.size();
        for (const auto& d : st.inDoubt) current.insert(d.txn);
      } catch (const kj::Exception&) {
        ++inDoubt;  // no answer: cannot say it is clear
      }
    }
    seen.insert(current.begin(), current.end());
    if (firstPoll) r.inDoubtAtCrash = current.size();
    firstPoll = false;
    if (inDoubt == 0) {
      if (emptyStreak++ == 0) firstEmptyMs = now;
      if (emptyStreak >= 3) {
        r.resolved = true;
        break;
      }
    } else {
      emptyStreak = 0;
    }
    if (now > limitMs) {
      r.note = "still in doubt after " + std::to_string(static_cast<int>(now)) + " ms";
      break;
    }
    if (o.interrupted && o.interrupted()) {
      r.note = "interrupted";
      break;
    }
    if (o.progress && msSince(lastLine) >= 200) {
      lastLine = Clock::now();
      *o.progress << "\r  " << r.protocol << " recovery: " << r.crashed << " crashed "
                  << static_cast<int>(now) << " ms ago; in doubt now " << current.size()
                  << ", seen " << seen.size()
                  << (twoPc && !restarted ? " (2PC: blocked until restart)" : "") << "          "
                  << std::flush;
    }
    sleepMs(o.pollMs);
  }
  if (o.progress) *o.progress << "\n" << std::flush;
  r.inDoubtSeen = seen.size();
  if (r.resolved) {
    r.resolvedAfterMs = firstEmptyMs;
    if (restarted) r.blockedAfterRestartMs = firstEmptyMs - restartIssuedMs;
  }
  writers.reset();
  client.reset();

  // 3. What became of them: through c2 (Paxos: any coordinator recovers an outcome), or
  // through the restarted c1 (2PC: only a transaction's own coordinator knows).
  if (r.resolved && !seen.empty()) {
    ClientOptions qo;
    qo.queryTimeoutMs = 5000;
    for (const auto* c : cluster.withRole(runtime::Role::Coordinator)) {
      if (twoPc ? c->name == o.leader : c->name != o.leader) {
        qo.coordinator = c->name;
        break;
      }
    }
    Client q(io, cluster, qo);
    kj::Vector<kj::Promise<void>> asks;
    size_t asked = 0;
    for (const auto& t : seen) {
      if (++asked > 500) break;
      asks.add(q.outcome(t).then([&r](TxnStatus s) {
        if (s == TxnStatus::Committed) {
          ++r.committedAfter;
        } else if (s == TxnStatus::Aborted) {
          ++r.abortedAfter;
        } else {
          ++r.unknownAfter;
        }
      }));
    }
    kj::joinPromises(asks.releaseAsArray()).wait(io.waitScope);
  }
  return r;
}

}  // namespace pc::bench
