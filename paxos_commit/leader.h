// Leader (docs/PROTOCOL.md §1, §4, §5): drives the Paxos instances of transactions toward a
// decision. Hosted by a coordinator (ballot 0 of `paxos`, `paxos-classic`; recovery and
// outcome queries), by a participant (recovery after its timeout), and by the client
// library (`paxos-direct`). Not a Node itself: its host routes 1b/2b and ticks to it.
//
// Persisted: only LeaderRoundRecord, before any 2a at a new round. Nothing else: a leader
// that dies is replaced by any other (that is the point of Paxos Commit).
// Sent: Prepare (ballot 0), Phase1a, Phase2a (ballot > 0), OutcomeMsg (classic ballot 0 and
// every recovery, only from a leader that is a member: a paxos-direct client's word is not
// taken by participants, who learn from the acceptors' 2b), CommitReply to the client,
// OutcomeReply to queriers.
// Membership (membership.h): 1b and 2b count only from a configured acceptor that is
// their sender (`from` == m.acceptor); others are refused and counted in rejected().
#pragma once

#include <map>
#include <set>

#include "paxos_commit/config.h"
#include "paxos_commit/output.h"
#include "paxos_commit/rng.h"
#include "paxos_commit/snapshot.h"
#include "paxos_commit/tally.h"

namespace pc {

// The participants of a request, sorted (the request is valid: payloads sorted, unique).
ParticipantList participantsOf(const CommitRequest& req);

// Appends a Prepare from `leader` for every participant of `req` for which `wanted`
// holds (ballot 0 of Paxos Commit, phase 1 of 2PC, and their resends).
template <class Pred>
void appendPrepares(Output& out, NodeId leader, const CommitRequest& req, Pred wanted) {
  ParticipantList all = participantsOf(req);
  for (const auto& p : req.payloads) {
    if (wanted(p.participant)) {
      out.send.push_back(Envelope{leader, p.participant, Prepare{req.txn, p.payload, all, leader}});
    }
  }
}

class Leader {
 public:
  Leader(NodeId self, const CoreConfig& cfg, Rng& rng, uint64_t persistedRound);

  // Ballot 0: send Prepare to every participant of `req`; answer `client` when decided.
  // The request must be valid (validated by the host).
  Output begin(const CommitRequest& req, NodeId client, uint64_t now);
  // Become a recovery leader for `txn` at a fresh ballot (phase 1). `participants` may be
  // empty: the acceptors are asked for the list first. `asker` (may be kNoNode) gets an
  // OutcomeReply when the status is known.
  Output recover(const TxnId& txn, const ParticipantList& participants, NodeId asker, uint64_t now);
  // Adds a client or querier to be told the outcome of an active transaction.
  void addWaiter(const TxnId& txn, NodeId who, bool isClient);

  // `from`: the sender as the transport knows it (never taken from the message).
  Output onPhase1b(NodeId from, const Phase1b& m, uint64_t now);
  Output onPhase2b(NodeId from, const Phase2b& m, uint64_t now);
  Output onTick(uint64_t now);

  bool isActive(const TxnId& txn) const { return active_.count(txn) != 0; }
  size_t activeCount() const { return active_.size(); }
  // Decided outcome (or Forgotten / Unknown after a finished query), if remembered.
  std::optional<TxnStatus> finishedStatus(const TxnId& txn) const;
  // The request a ballot-0 transaction was begun with (to refuse a reused id).
  const CommitRequest* request(const TxnId& txn) const;
  uint64_t persistedRound() const { return persistedRound_; }
  // 1b / 2b refused: not from a configured acceptor speaking for itself, or a round above
  // kRoundMax.
  uint64_t rejected() const { return rejected_; }
  void checkInvariants() const;
  // Fills the Leader's part of its host's snapshot (rounds, decided outcomes).
  void snapshotInto(Snapshot& s) const;

 private:
  enum class Phase { Ballot0, Query, Phase1, Phase2 };
  struct Txn {
    TxnId txn;
    Phase phase = Phase::Ballot0;
    ParticipantList participants;
    CommitRequest request;  // ballot 0 only
    Ballot ballot;
    VoteTally tally;
    std::map<NodeId, Phase1b> promises;  // acceptor -> its 1b at `ballot`
    std::set<NodeId> queryReplies;       // acceptors that answered a participant-list query
    std::set<NodeId> forgottenBy;        // acceptors that answered "forgotten"
    uint32_t attempts = 0;               // ballots tried (for back-off)
    uint64_t highestRoundSeen = 0;
    std::string reason;  // first abort reason seen in a 2b
    bool recovery = false;
    std::set<NodeId> clients;
    std::set<NodeId> askers;
    uint64_t startTick = 0;
    uint64_t retryTick = 0;     // next resend of prepare / next ballot attempt
    uint64_t deadlineTick = 0;  // ballot 0: when to start recovery
  };

  Output startBallot(Txn& t, uint64_t now);
  Output sendPhase2a(Txn& t, uint64_t now);
  Output finish(Txn& t, TxnStatus status, const std::string& reason);
  Output checkDecision(Txn& t);
  Output onForgotten(Txn& t, NodeId acceptor, std::optional<Outcome> outcome);
  Output onQueryReply(Txn& t, const Phase1b& m, uint64_t now);
  bool validPhase1b(NodeId from, const Phase1b& m) const;
  bool validPhase2b(NodeId from, const Phase2b& m) const;
  bool isMember() const;
  uint64_t backoff(const Txn& t);
  uint64_t jitter(uint64_t bound);
  void remember(const TxnId& txn, TxnStatus status);

  NodeId self_;
  const CoreConfig& cfg_;
  Rng& rng_;
  uint64_t persistedRound_;
  uint64_t nextRound_;
  std::map<TxnId, Txn> active_;
  std::map<TxnId, TxnStatus> finished_;  // bounded by cfg.outcomeCacheCap (oldest id out)
  uint64_t rejected_ = 0;
};

}  // namespace pc
