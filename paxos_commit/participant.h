// Participant (resource manager) role, shared by 2PC and Paxos Commit (docs/PROTOCOL.md §1-§5).
//
// Persisted (before the message that depends on it leaves):
//   ParticipantTxnRecord Prepared / VotedAborted  before its vote (VoteMsg or 2a ballot 0);
//   ParticipantTxnRecord Committed / Aborted      before its Ack;
//   LeaderRoundRecord                             (its recovery leader, before a 2a b > 0).
// Sent: VoteMsg (2PC, 2pc-replicated) or Phase2a ballot 0 to the acceptors (Paxos), Ack (2PC, and
// in answer to an AckRequest), AckBatch (Paxos: the acks of every outcome learned since the last
// tick, one per acceptor per tick), OutcomeQuery (2PC, while in doubt), and whatever its recovery
// Leader sends. Learns the outcome from OutcomeMsg, from F+1 matching 2b for every instance (faster
// variant), from its own recovery leader, or (2PC) from OutcomeReply. In 2pc-replicated a
// participant in doubt asks its coordinator once, then recovers the decision instance at
// the acceptors with its own leader (as Paxos Commit does for every instance).
// Never aborts a prepared transaction on its own (docs/PROTOCOL.md §6.1).
// Membership (membership.h): Prepare only from a coordinator naming itself leader (any
// client in paxos-direct); 1b/2b only from a configured acceptor as itself; OutcomeMsg only
// from a coordinator or a participant of the transaction; AckRequest only from an
// acceptor (Paxos) or a coordinator (2PC). Anything else is refused and counted.
// Heuristic decisions (2PC only; heuristic.h, docs/PROTOCOL.md §9):
// onHeuristicDecision persists the operator's outcome (a ParticipantTxnRecord marked
// Pending) and releases the locks; the participant then keeps asking the coordinator that
// prepared it (OutcomeQuery) until it hears the coordinator's decision -- from an
// OutcomeReply or a resent OutcomeMsg -- and rewrites the mark Agreed or Mismatch. A
// Commit it heard for a transaction it aborted heuristically is acked all the same (the
// Ack names Abort), so the coordinator stops resending; it is never applied.
#pragma once

#include <map>
#include <memory>
#include <set>

#include "paxos_commit/engine.h"
#include "paxos_commit/heuristic.h"
#include "paxos_commit/leader.h"
#include "paxos_commit/node.h"

namespace pc {

struct InDoubt {
  TxnId txn;
  uint64_t sinceTick = 0;
  ParticipantList participants;
  NodeId leader = kNoNode;
  bool recovering = false;  // its own recovery leader is running
};

class Participant : public Node {
 public:
  // How long a queued ack may wait for a vote to ride with: 2 ticks (10 ms at the default
  // tick) outlasts one transaction's round at one client, so a closed-loop client's acks
  // share the next transaction's calls and writes instead of a call and a write of their own.
  static constexpr uint64_t kAckDelayTicks = 2;

  // `engine` must outlive the participant. Restores every record of `recovered`:
  // prepared transactions retake their locks and wait for their outcome.
  Participant(NodeId self, const CoreConfig& cfg, Engine& engine, uint64_t seed,
              const Recovered& recovered);

  Output onMessage(const Envelope& e) override;
  // An operator's outcome for `txn` (`pcommit resolve`), or only a question about it when
  // `outcome` is nullopt. Allowed from a client id only, and only under 2PC (a question under
  // any protocol). Fills `answer`; it must not leave before the Output's records are durable.
  Output onHeuristicDecision(NodeId from, const TxnId& txn, std::optional<Outcome> outcome,
                             HeuristicAnswer& answer);
  Output onTick() override;
  void checkInvariants() const override;
  Snapshot snapshot() const override;
  uint64_t rejected() const override { return rejected_ + leader_.rejected(); }

  std::optional<ParticipantState> stateOf(const TxnId& txn) const;
  std::vector<InDoubt> inDoubt() const;
  size_t recordCount() const { return txns_.size(); }
  TxnId lowWater() const { return lowWater_; }

 private:
  struct Txn {
    ParticipantTxnRecord rec;
    VoteTally tally;            // faster variant: 2b seen
    uint64_t sinceTick = 0;     // when prepared (or restored)
    uint64_t recoveryTick = 0;  // next recovery attempt / 2PC outcome query
    uint64_t fanOutTick = 0;    // quorum fan-out: when to send to the rest
    bool fannedOutAll = true;
    bool askedCoordinator = false;  // 2pc-replicated: asked before recovering (volatile)
    std::set<NodeId> forgottenBy;   // acceptors that answered "forgotten" (volatile)
  };

  bool validPrepare(NodeId from, const Prepare& m) const;
  bool validAcceptorReply(NodeId from, NodeId acceptor) const;
  Output onPrepare(NodeId from, const Prepare& m);
  Output onRepeatedPrepare(Txn& t, const Prepare& m);
  Output onPhase2b(const Phase2b& m);
  Output onForgotten(const TxnId& txn, NodeId acceptor);
  Output onOutcome(NodeId from, const TxnId& txn, Outcome o);
  Output onAckRequest(NodeId from, const AckRequest& m);
  Output onOutcomeReply(NodeId from, const OutcomeReply& m);
  Output recoverAtAcceptors(Txn& t);
  Output sendVote(Txn& t, bool allAcceptors);
  Output learn(Txn& t, Outcome o);
  Output absorbLeader(Output&& leaderOut);
  Output ackTo(const Txn& t, NodeId to) const;
  void queueAck(const Txn& t, Output& out);
  Output flushAcks();
  Output confirmHeuristic(Txn& t, Outcome coordinator);
  void answerFor(const TxnId& txn, HeuristicAnswer& a) const;
  void pruneFinished(Output& out);
  uint64_t recoveryDelay();
  uint64_t firstRecoveryDelay();

  const CoreConfig cfg_;
  Engine& engine_;
  Rng rng_;
  Leader leader_;
  std::map<TxnId, Txn> txns_;
  std::set<TxnId> prepared_;          // the txns_ in state Prepared: the only ones with timers
  std::set<TxnId> heuristicPending_;  // decided by an operator, the coordinator not heard yet
  TxnId lowWater_;
  size_t finishedCount_ = 0;
  std::vector<Ack> pendingAcks_;  // Paxos: acks for every acceptor (see queueAck)
  uint64_t acksDueTick_ = 0;      // when pendingAcks_ leave at the latest
};

}  // namespace pc
