// Acceptor role (docs/PROTOCOL.md §1, §3, §5): one Paxos acceptor for every instance of every
// transaction. State per (txn, instance): mbal, bal, val.
//
// Persisted before any reply: AcceptorTxnRecord (mbal before 1b; mbal = bal = b, val = v
// before 2b) -- one record for all instances of a transaction. Ballot-0 votes of a
// transaction are held (not durable, not answered) until every instance has voted or the
// bundle cap expires, then written in one record and answered with one bundled 2b.
// AcceptorForgetRecord once every participant acked (GC), leaving a tombstone -- the
// tombstones of one AckBatch in one Output, so one write; AcceptorLowWaterRecord when
// tombstones exceed their cap.
// Sent: Phase1b to the leader, Phase2b to the leader (and to every participant in the
// faster variant), AckRequest to participants whose ack is missing.
// Membership (membership.h): every participant list must name members only; a ballot-0
// vote comes from its participant, a ballot > 0 from its leader (a coordinator or a
// participant of the transaction; any client in paxos-direct), rounds at most kRoundMax;
// an Ack (each entry of an AckBatch) only from the participant it names. Anything else is
// refused and counted.
#pragma once

#include <map>
#include <string>

#include "paxos_commit/config.h"
#include "paxos_commit/node.h"

namespace pc {

class Acceptor : public Node {
 public:
  Acceptor(NodeId self, const CoreConfig& cfg, const Recovered& recovered);

  Output onMessage(const Envelope& e) override;
  Output onTick() override;
  void checkInvariants() const override;
  Snapshot snapshot() const override;

  // Inspection (tests, simulator checker, `pcommit inspect`).
  const AcceptorTxnRecord* state(const TxnId& txn) const;
  bool isForgotten(const TxnId& txn) const;
  size_t liveCount() const { return txns_.size(); }
  size_t tombstoneCount() const { return tombstones_.size(); }

 private:
  struct Bundle {
    ParticipantList participants;
    NodeId leader = kNoNode;
    std::vector<InstanceVote> votes;  // ballot-0 votes not yet durable, sorted by instance
    uint64_t capTick = 0;
  };
  struct Live {
    AcceptorTxnRecord rec;
    ParticipantList acked;                // volatile; sorted, each participant once
    std::optional<Outcome> ackedOutcome;  // from the acks that knew it
    bool bundleExpired = false;
    uint64_t ackRequestTick = 0;
  };

  // What one 2a did to this acceptor's state, for its answer (onPhase2a's steps).
  struct TwoAEffect {
    bool refused = false;          // inconsistent with what we hold: drop the message
    bool higherChanged = false;    // a vote at a ballot > 0 taken: persist and answer
    bool flushNow = false;         // the bundle is to be written now
    bool answerDuplicate = false;  // nothing new: the same 2b again (pitfall 5)
    std::string reason;            // a ballot-0 Aborted vote's reason, for the 2b
  };

  Output onPhase1a(NodeId from, const Phase1a& m);
  Output onPhase2a(NodeId from, const Phase2a& m);
  void takeVote0(const Phase2a& m, const InstanceVote& v, TwoAEffect& fx);
  void takeHigherVote(const Phase2a& m, const InstanceVote& v, TwoAEffect& fx);
  Output answer2a(const Phase2a& m, const TwoAEffect& fx);
  Output onAck(NodeId from, const Ack& m);
  Output onAckBatch(NodeId from, const AckBatch& m);
  void takeAck(NodeId from, const Ack& m, Output& out);
  void capTombstones(Output& out);
  bool validPhase2a(NodeId from, const Phase2a& m) const;
  bool validPhase1a(NodeId from, const Phase1a& m) const;
  Output flushBundle(const TxnId& txn, Output out);
  Output replyForgotten(NodeId to, const TxnId& txn, bool phase1, const Ballot& b) const;
  Phase2b makePhase2b(const Live& l) const;
  void send2b(Output& out, const Live& l) const;
  AcceptorInstance* instance(AcceptorTxnRecord& r, NodeId i);
  Live& liveFor(const TxnId& txn, const ParticipantList& participants, NodeId leader);
  bool forgotten(const TxnId& txn) const;
  std::optional<Outcome> tombstoneOutcome(const TxnId& txn) const;

  const CoreConfig cfg_;
  std::map<TxnId, Live> txns_;
  std::map<TxnId, Bundle> bundles_;
  std::map<TxnId, std::optional<Outcome>>
      tombstones_;  // txn -> the outcome every participant acked
  TxnId lowWater_;
};

}  // namespace pc
