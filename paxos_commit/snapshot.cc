#include "paxos_commit/snapshot.h"

#include "paxos_commit/assert.h"

namespace pc {

namespace {

// Outcomes known before and still known after must be the same.
void checkOutcomes(const std::map<TxnId, Outcome>& before, const std::map<TxnId, Outcome>& after,
                   NodeId who) {
  for (const auto& [txn, o] : after) {
    auto it = before.find(txn);
    if (it != before.end()) PC_ASSERT(it->second == o, who, txn, it->second, o);
  }
}

}  // namespace

void checkSnapshotDelta(const Snapshot& before, const Snapshot& after, NodeId who) {
  PC_ASSERT(before.lowWater <= after.lowWater, who, before.lowWater, after.lowWater);
  PC_ASSERT(before.presumedAbortMark <= after.presumedAbortMark, who, before.presumedAbortMark,
            after.presumedAbortMark);
  PC_ASSERT(before.leaderRound <= after.leaderRound, who, before.leaderRound, after.leaderRound);
  PC_ASSERT(before.nextRound <= after.nextRound, who, before.nextRound, after.nextRound);
  for (const auto& [key, now] : after.instances) {
    auto it = before.instances.find(key);
    if (it == before.instances.end()) continue;  // new instance
    const AcceptorInstance& was = it->second;
    // Phase 1b / 2b: a promise is never taken back, a vote never replaced by a lower one.
    PC_ASSERT(was.mbal <= now.mbal, who, key.first, key.second, was.mbal, now.mbal);
    if (was.bal) {
      PC_ASSERT(now.bal.has_value() && *was.bal <= *now.bal, who, key.first, key.second);
      if (*now.bal == *was.bal) PC_ASSERT(now.val == was.val, who, key.first, key.second);
    }
  }
  checkOutcomes(before.outcomes, after.outcomes, who);
  checkOutcomes(before.leaderOutcomes, after.leaderOutcomes, who);
}

}  // namespace pc
