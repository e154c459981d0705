// Configuration of the core, built by ring 3 from options (never read from globals).
// All times are in logical ticks; the runtime decides how long a tick is.
#pragma once

#include <cstdint>
#include <vector>

#include "paxos_commit/types.h"

namespace pc {

struct CoreConfig {
  Protocol protocol = Protocol::Paxos;
  FanOut fanOut = FanOut::All;
  int f = 1;                         // tolerated acceptor failures; acceptors.size() == 2f+1
  std::vector<NodeId> acceptors;     // sorted
  std::vector<NodeId> coordinators;  // sorted; 2PC participants ask theirs
  std::vector<NodeId> participants;  // sorted; every resource manager of the cluster

  // A prepared participant with no outcome after this long starts recovery (Paxos) or
  // asks its coordinator (2PC); plus a random jitter in [0, recoveryJitterTicks).
  uint64_t recoveryTimeoutTicks = 100;
  uint64_t recoveryJitterTicks = 50;
  // A leader at ballot 0 resends prepare to silent participants after this long, and
  // starts recovery after leaderTimeoutTicks with no decision.
  uint64_t prepareRetryTicks = 30;
  uint64_t leaderTimeoutTicks = 150;
  // A recovery leader retries phase 1/2 with a higher ballot after this long (+ jitter).
  uint64_t ballotRetryTicks = 40;
  // An acceptor holds ballot-0 votes of a transaction at most this long waiting for the
  // other instances, then writes and answers per instance (docs/PROTOCOL.md §6.8). Waiting
  // longer costs no latency (the decision needs every instance anyway); a cap shorter than
  // the spread of vote arrivals under load writes and answers twice. 50 ms at 5 ms ticks.
  uint64_t bundleCapTicks = 10;
  // Quorum fan-out: send 2a to the remaining acceptors after this long with no decision.
  uint64_t fanOutFallbackTicks = 20;
  // Quorum fan-out: which F+1 acceptors get a ballot-0 vote first (fanOutStart). A client
  // puts its clock in microseconds into a transaction id's `hi`, so with 20 every
  // transaction begun within the same ~1.05 s window goes to the same F+1: transactions in
  // flight together are decided together and their writes group (README, Performance),
  // and the next window moves the load on to the next acceptors. Every node of a cluster
  // must use the same value (the participants of a transaction must pick the same F+1 for
  // the acceptors' bundles to complete; any choice is safe). Below 64.
  uint32_t fanOutWindowShift = 20;
  // Acceptors / 2PC coordinators ask missing participants for acks after this long.
  uint64_t ackRequestTicks = 300;
  // Bounds (assertions elsewhere check them): tombstones and finished records kept before
  // the low-water mark rises; decided outcomes a coordinator remembers for queries.
  size_t tombstoneCap = 100000;
  size_t finishedCap = 100000;
  size_t outcomeCacheCap = 100000;
  // Bound on transactions a leader drives at once; over it, new requests are answered
  // Unknown("overloaded") rather than queued without bound.
  size_t maxActiveTxns = 100000;

  size_t quorum() const { return static_cast<size_t>(f) + 1; }
  // Quorum fan-out: the index in `acceptors` of the first of the F+1 acceptors that get
  // transaction `txn`'s ballot-0 votes first; the others follow it, wrapping around.
  size_t fanOutStart(const TxnId& txn) const {
    return static_cast<size_t>((txn.hi >> (fanOutWindowShift % 64)) % acceptors.size());
  }
};

}  // namespace pc
