// Recovery mode of `pcommit bench` (issue 6): the leader dies while transactions are in
// flight; how long until no participant holds a transaction in doubt?
//
//   coordinator modes (2pc, paxos-classic, paxos): C closed-loop clients commit through
//     coordinator c1 only (no failover to c2). c1 was started with the failpoint
//     coordinator.after_prepare_sent=crash@K, so it dies as by kill -9 right after every
//     participant received the prepares of its K-th transaction, with the other clients'
//     transactions at every stage. The crash is detected by polling c1's pid (/proc).
//   paxos-direct: the client is the leader; after K committed transactions the benchmark
//     destroys its Client (connections closed, nothing more sent): the leader's crash.
//
// From the crash on, every participant's `status` is polled every pollMs: a transaction
// listed in doubt by any of them is "seen in doubt"; resolved = three polls in a row with
// none in doubt, timed at the first of them. Paxos Commit must resolve with the
// coordinator still dead (participants that time out run recovery through the acceptors);
// for 2PC the coordinator is restarted restartAfterMs after the crash (restartLeader), and
// the report says how long transactions stayed blocked. Finally the outcome of each
// transaction seen in doubt is asked (through c2 under Paxos, c1 after its restart under
// 2PC). The cluster must be fresh and armed by the caller (plan.cc).
#pragma once

#include <kj/async-io.h>

#include <functional>
#include <iosfwd>
#include <string>

#include "bench/bench.h"

namespace pc::bench {

struct RecoveryOptions {
  int clients = 4;
  size_t payloadBytes = 100;
  size_t keysPerParticipant = 8;
  uint64_t crashAfter = 1000;   // K: the failpoint's @K (the caller arms it), or commits (direct)
  bool clientAsLeader = false;  // paxos-direct on a paxos cluster
  std::string leader = "c1";    // the coordinator that is armed
  uint32_t restartAfterMs = 2000;  // 2PC only
  // 2PC: restarts the leader (without the failpoint); returns false if it did not come up.
  std::function<bool()> restartLeader;
  uint32_t pollMs = 10;
  double crashWaitSeconds = 60;  // give up if the leader has not crashed by then
  std::ostream* progress = nullptr;
  bool (*interrupted)() = nullptr;
};

// Throws kj::Exception if a node does not answer `status` before the crash.
RecoveryResult runRecovery(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                           const RecoveryOptions& options);

}  // namespace pc::bench
