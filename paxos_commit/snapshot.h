// What a role's state may only do between two steps (LogCabin's checkDelta): a Snapshot
// taken before a step, compared with the state after it by Node::checkDelta (tests and the
// simulator call it after every step, next to checkInvariants):
//   * an acceptor's mbal and bal only grow; at an unchanged bal, val is unchanged;
//   * low-water marks (acceptor, participant, 2PC decisions), the 2PC coordinator's
//     presumed-abort mark and a leader's persisted and next rounds only grow;
//   * an outcome, once the role knows it, never changes (it may be forgotten by GC).
// A snapshot copies the role's state: it is for tests, never for the production path.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "paxos_commit/records.h"

namespace pc {

struct Snapshot {
  TxnId lowWater;            // acceptor / participant / 2PC decisions
  TxnId presumedAbortMark;   // 2PC coordinator
  uint64_t leaderRound = 0;  // a hosted Leader's persisted round
  uint64_t nextRound = 0;    // and the next round it will use
  std::map<std::pair<TxnId, NodeId>, AcceptorInstance> instances;  // acceptor state
  std::map<TxnId, Outcome> outcomes;                               // outcomes the role knows
  std::map<TxnId, Outcome> leaderOutcomes;  // outcomes its hosted Leader decided
};

// PC_ASSERTs that `after` is a legal successor of `before` (see above). `who` names the
// node in the assertion's message.
void checkSnapshotDelta(const Snapshot& before, const Snapshot& after, NodeId who);

}  // namespace pc
