// The result of feeding a role one message or one tick (etcd-raft's Ready, in spirit).
//
// Contract for the caller (the runtime in ring 3, or the simulator):
//   1. Make every record in `persist` durable, in order, in one write transaction.
//   2. Only then send `send`. Sends of an Output also wait for the records of every
//      EARLIER Output: a role answers duplicates from its in-memory state, which may be
//      ahead of the disk, so FIFO order through storage is what keeps durable-before-send.
//   3. `wakeAtTick`: the earliest tick at which onTick() has work (a timer); the caller may
//      tick at a fixed rate instead. 0 = no timer armed by this output. A caller that keeps
//      every tick announced and ticks only on those misses no send: the simulator checks
//      that a tick that sends always had one due (Simulator::checkWake). Records alone
//      (housekeeping such as a low-water mark) may come from any tick.
//   4. `learned`: outcomes this node learned (a leader's decision, a participant's applied
//      outcome) for clients, logs, metrics and the simulator's checker.
#pragma once

#include <algorithm>
#include <vector>

#include "paxos_commit/messages.h"
#include "paxos_commit/records.h"

namespace pc {

struct Learned {
  TxnId txn;
  Outcome outcome = Outcome::Abort;
  bool operator==(const Learned&) const = default;
};

// Counters of what a role did, for the operator and the simulator's fault summary.
struct RecoveryEvent {
  TxnId txn;
  Ballot ballot;
  bool operator==(const RecoveryEvent&) const = default;
};

// Makes room for `more` elements without giving up geometric growth (a reserve of the
// exact size on every call would copy the whole vector each time it is called in a loop).
template <typename T>
void reserveMore(std::vector<T>& v, size_t more) {
  size_t need = v.size() + more;
  if (need > v.capacity()) v.reserve(std::max(need, 2 * v.capacity()));
}

struct Output {
  std::vector<Record> persist;
  std::vector<Envelope> send;
  uint64_t wakeAtTick = 0;
  std::vector<Learned> learned;
  std::vector<RecoveryEvent> recoveriesStarted;  // a recovery leader began phase 1

  bool empty() const {
    return persist.empty() && send.empty() && wakeAtTick == 0 && learned.empty() &&
           recoveriesStarted.empty();
  }
  // Appends `other` after this one (its records after ours, its sends after ours).
  void append(Output&& other);
  void wakeAt(uint64_t tick) {
    if (tick != 0 && (wakeAtTick == 0 || tick < wakeAtTick)) wakeAtTick = tick;
  }
};

}  // namespace pc
