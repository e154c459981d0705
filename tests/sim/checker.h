// The invariant checker of docs/PROTOCOL.md §8, fed by the simulator at every step: what each
// node persisted (before it is applied to the node's disk), what left each node (at the
// moment it leaves, against the sender's durable image), what each node learned, and the
// nodes' state after every step and every restart. The first violation is kept as one
// line; the simulator stops there and prints it with the seed and the trace.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "paxos_commit/config.h"
#include "paxos_commit/kv.h"
#include "tests/sim/host.h"
#include "tests/sim/trace.h"

namespace pc::sim {

// What the checker knows of one transaction.
struct TxnFacts {
  ParticipantList participants;
  std::map<NodeId, Bytes> payloads;
  uint64_t submitTick = 0;
  std::optional<Outcome> outcome;  // the first outcome observed anywhere
  std::string outcomeWhere;
  uint64_t outcomeTick = 0;
  std::map<NodeId, Vote> firstVote;                  // the first vote each participant sent
  std::map<NodeId, std::pair<Ballot, Vote>> chosen;  // per instance (Paxos)
  bool zeroAbortedSent = false;                      // some participant sent 2a(0, Aborted)
};

class Checker {
 public:
  Checker(const CoreConfig& core, const Names& names) : core_(core), names_(names) {}

  // The simulated nodes, for checks that look at another node's disk.
  void setNodes(const std::map<NodeId, SimNode>* nodes) { nodes_ = nodes; }
  void registerTxn(const CommitRequest& req, uint64_t now);
  const TxnFacts* facts(const TxnId& txn) const;
  const std::map<TxnId, TxnFacts>& txns() const { return txns_; }

  // --- hooks, called by the simulator ---
  // `out`: the Output that carries `l` (its records are not durable yet).
  void onLearned(const SimNode& n, const Learned& l, const Output& out, uint64_t now);
  // Before `r` is applied to n.disk.
  void onPersist(const SimNode& n, const Record& r, uint64_t now);
  // A committed payload reaches participant n's durable data (before it is applied).
  void onApply(const SimNode& n, const TxnId& txn, const Bytes& payload);
  // `e` leaves `n` now; n.disk is exactly what is durable at this moment.
  void onSend(const SimNode& n, const Envelope& e, uint64_t now);
  // After n handled one input. `touched`: the transactions that step could have changed.
  void afterStep(const SimNode& n, const std::set<TxnId>& touched);
  void afterRestart(const SimNode& n);
  void onCrash(const SimNode& n);
  // End of a run in which every transaction was decided: data and completeness checks.
  void finalCheck(const std::map<NodeId, SimNode>& nodes);

  bool violated() const { return !violation_.empty(); }
  const std::string& violation() const { return violation_; }
  void fail(const std::string& what);
  uint64_t checksRun() const { return checks_; }

 private:
  using InstanceKey = std::tuple<TxnId, NodeId>;          // txn, instance
  using AcceptorKey = std::tuple<NodeId, TxnId, NodeId>;  // acceptor, txn, instance
  struct Seen {
    Ballot mbal;
    std::optional<Ballot> bal;
    std::optional<Vote> val;
  };

  TxnFacts& factsFor(const TxnId& txn);
  void observe(const TxnId& txn, Outcome o, const std::string& where, uint64_t now);
  void checkOutcomeJustified(const TxnId& txn, Outcome o, const std::string& where);
  void onAcceptorRecord(const SimNode& n, const AcceptorTxnRecord& r);
  void onParticipantRecord(const SimNode& n, const ParticipantTxnRecord& r, uint64_t now);
  void noteDurableVote(NodeId acceptor, const TxnId& txn, NodeId instance, const Ballot& b, Vote v);
  void noteTwoA(const SimNode& n, const Phase2a& m);
  void checkAcceptorState(const SimNode& n, const TxnId& txn, bool strictReload);
  static const AcceptorTxnRecord* durableAcceptor(const SimNode& n, const TxnId& txn);
  static const ParticipantTxnRecord* durableParticipant(const SimNode& n, const TxnId& txn);
  std::string who(const SimNode& n) const { return n.name; }

  const CoreConfig& core_;
  const Names& names_;
  const std::map<NodeId, SimNode>* nodes_ = nullptr;
  std::string violation_;
  uint64_t checks_ = 0;
  std::map<TxnId, TxnFacts> txns_;

  // Acceptor votes that were ever durable: (acceptor, txn, instance, ballot) -> value.
  std::map<std::tuple<NodeId, TxnId, NodeId, Ballot>, Vote> durableVotes_;
  // Acceptors whose durable vote is (ballot, value), per instance: chosen at F+1.
  std::map<std::tuple<TxnId, NodeId, Ballot, Vote>, std::set<NodeId>> acceptedBy_;
  // Every 2a that left: (txn, instance, ballot) -> value.
  std::map<std::tuple<TxnId, NodeId, Ballot>, Vote> twoA_;
  // Acceptor state seen in memory during the current incarnation.
  std::map<AcceptorKey, Seen> volatileSeen_;
  // Transactions an acceptor durably forgot.
  std::set<std::pair<NodeId, TxnId>> forgotten_;
  // Participant: the vote it durably recorded (Prepared / VotedAborted), ever; and the
  // outcome it durably recorded, ever (records may be collected later).
  std::map<std::pair<NodeId, TxnId>, Vote> durableVote_;
  std::map<std::pair<NodeId, TxnId>, Outcome> durableOutcome_;
  // 2PC coordinators' Commit decisions that were ever durable.
  std::set<std::pair<NodeId, TxnId>> durableDecision_;
  // Each live node's monotone state after its last step (Node::checkDelta).
  std::map<NodeId, Snapshot> snapshots_;
  // Participant: committed payloads applied to its durable data.
  std::map<std::pair<NodeId, TxnId>, int> applied_;
};

}  // namespace pc::sim
