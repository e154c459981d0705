// ReplicatedCoordinator (`2pc-replicated`): classic 2PC whose Commit decision is written to
// a Paxos-replicated log on the acceptors -- one decree per transaction, the decision
// instance kDecisionInstance (types.h) -- before it is sent (docs/PROTOCOL.md §5, §7).
//
// Flow: prepare, collect votes (as `2pc`); with every vote Prepared, send Phase2a(ballot 0,
// Prepared) for the decision instance to the acceptors (fan-out all, or F+1 and the rest
// after fanOutFallbackTicks); with F+1 matching 2b the Commit is chosen: tell the
// participants and the clients. The first Aborted vote aborts at once and writes nothing
// (presumed abort): that participant's Aborted vote is durable and final, so no coordinator
// can ever propose Commit, the decision instance stays free, and a free decision instance
// recovers to Abort. A vote timeout binds nobody (a client's retry at another coordinator
// could still collect every Prepared vote), so it settles the decision at the acceptors:
// phase 1 and 2 at a ballot of its own, which gets Abort chosen on a free instance.
//
// Persisted: only LeaderRoundRecord (through its Leader). The coordinator keeps no durable
// decision of its own: the acceptors are its log. It remembers recent outcomes (bounded);
// when one goes, or when it restarts, it raises `noPresumeMark_` over every id it may have
// proposed Commit for, and below that mark it never presumes abort: it answers a
// participant Unknown (the participant recovers at the acceptors) and recovers at the
// acceptors itself for a client's retry or query.
// No acks: participants ack to the acceptors, which collect the decision as in Paxos Commit.
// Sent: Prepare, Phase2a (ballot 0), OutcomeMsg, CommitReply, OutcomeReply, and what its
// Leader sends (Phase1a, Phase2a at ballots > 0, OutcomeMsg after a recovery).
// Membership (membership.h): as `2pc`; 2b and 1b only from a configured acceptor as itself.
#pragma once

#include <map>
#include <set>

#include "paxos_commit/leader.h"
#include "paxos_commit/membership.h"
#include "paxos_commit/node.h"
#include "paxos_commit/vote_collection.h"

namespace pc {

class ReplicatedCoordinator : public Node {
 public:
  // `startMark`: every transaction id issued before this (re)start is at or below it (the
  // runtime passes the clock at start). The coordinator may have proposed Commit for any
  // of them in a former life, so none of them is ever presumed aborted here.
  ReplicatedCoordinator(NodeId self, const CoreConfig& cfg, uint64_t seed, const Recovered& rec,
                        TxnId startMark = {});
  Output onMessage(const Envelope& e) override;
  Output onTick() override;
  void checkInvariants() const override;
  Snapshot snapshot() const override;
  uint64_t rejected() const override { return rejected_ + leader_.rejected(); }

  std::optional<TxnStatus> statusOf(const TxnId& txn) const;
  size_t activeCount() const { return voting_.size() + deciding_.size(); }
  const Leader& leader() const { return leader_; }

 private:
  struct Deciding {  // Commit proposed at ballot 0, waiting for F+1 2b
    ParticipantList participants;
    VoteTally tally;
    std::set<NodeId> heard;  // acceptors that answered
    std::set<NodeId> clients;
    std::set<NodeId> askers;
    bool fannedOutAll = true;
    uint64_t retryTick = 0;
    uint64_t deadlineTick = 0;
  };

  Output onCommitRequest(NodeId from, const CommitRequest& m);
  Output onVote(NodeId from, const VoteMsg& m);
  Output onVoteUnknown(const VoteMsg& m);
  Output onPhase2b(NodeId from, const Phase2b& m);
  Output onQuery(NodeId from, const OutcomeQuery& m);
  Output propose(const TxnId& txn);
  Output send2a(const TxnId& txn, const Deciding& d, size_t first, size_t last) const;
  Output decideAbort(const TxnId& txn, const std::string& reason);
  Output finishDecided(const TxnId& txn, Outcome o, std::string reason);
  Output handOver(const TxnId& txn);
  Output settleAtAcceptors(const TxnId& txn);
  Output absorbLeader(Output&& leaderOut);
  Output tickActive();
  Output tickDeciding();
  void remember(const TxnId& txn, Outcome o);

  const CoreConfig cfg_;
  Rng rng_;
  Leader leader_;
  VoteCollection voting_;  // phase 1: collecting votes
  std::map<TxnId, Deciding> deciding_;
  std::map<TxnId, Outcome> decided_;  // volatile, bounded by outcomeCacheCap
  TxnId noPresumeMark_;  // at or below: may have proposed Commit once; never presume abort
};

}  // namespace pc
