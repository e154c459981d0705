// TwoPcCoordinator (`2pc`): prepare, collect votes, persist DecisionRecord before Commit
// leaves (presumed abort: Abort is never persisted), then tell the participants; resends
// Commit until every participant acked, then marks the decision done. Restart: reloads
// its decisions and resends Commit; a transaction it has no decision for is aborted.
// Persisted: DecisionRecord (before Commit leaves; again, done, once every participant
// acked), DecisionLowWaterRecord (when done decisions exceed their cap).
// Sent: Prepare, OutcomeMsg, CommitReply, OutcomeReply.
// Membership (membership.h): a request naming a participant that is not in the cluster is
// refused (Aborted naming the id); a vote or an ack counts only from the participant it
// names; abort is presumed for a query only when the asker is a member participant.
#pragma once

#include <map>
#include <set>

#include "paxos_commit/leader.h"
#include "paxos_commit/membership.h"
#include "paxos_commit/node.h"
#include "paxos_commit/vote_collection.h"

namespace pc {

class TwoPcCoordinator : public Node {
 public:
  // `presumedAbortMark`: transactions with ids <= it that have no decision are aborted
  // (presumed abort) rather than started afresh -- the runtime passes an id made of the
  // clock at (re)start, so a retry of a transaction begun before a restart cannot commit
  // after the coordinator may already have told someone it aborted. The core itself only
  // ever raises the mark (when it forgets an abort it decided).
  TwoPcCoordinator(NodeId self, const CoreConfig& cfg, const Recovered& rec,
                   TxnId presumedAbortMark = {});
  Output onMessage(const Envelope& e) override;
  Output onTick() override;
  void checkInvariants() const override;
  Snapshot snapshot() const override;

  std::optional<TxnStatus> statusOf(const TxnId& txn) const;
  size_t activeCount() const { return voting_.size(); }
  size_t decisionCount() const { return decisions_.size(); }

 private:
  struct Decision {
    DecisionRecord rec;
    std::set<NodeId> acked;
    uint64_t resendTick = 0;
  };
  Output onCommitRequest(NodeId from, const CommitRequest& m);
  Output onVote(NodeId from, const VoteMsg& m);
  Output onVoteUnknown(const VoteMsg& m);
  Output onAck(NodeId from, const Ack& m);
  Output onQuery(NodeId from, const OutcomeQuery& m);
  Output decideAbort(const TxnId& txn, const std::string& reason);
  void pruneDone(Output& out);

  const CoreConfig cfg_;
  VoteCollection voting_;                    // phase 1: collecting votes
  std::map<TxnId, Decision> decisions_;      // done ones are tombstones (Committed)
  std::set<TxnId> undone_;                   // decisions_ not yet acked by every participant
  size_t doneCount_ = 0;                     // decisions_ that are done
  std::map<TxnId, TxnStatus> recentAborts_;  // bounded; not durable (presumed abort)
  TxnId lowWater_;
  TxnId presumedAbortMark_;  // no decision and id <= this: aborted, never started again
  void rememberAbort(const TxnId& txn);
};

}  // namespace pc
