// What the coordinators share before they differ. screenRequest: the first checks every
// coordinator (2pc, paxos, 2pc-replicated) makes on a CommitRequest. VoteCollection: 2PC's
// phase 1 as both 2PC coordinators run it (two_pc_coordinator.h, replicated_coordinator.h):
// Prepare to every participant, resent every prepareRetryTicks to those not heard from,
// votes counted only from a member participant of the transaction speaking for itself,
// until all are Prepared, one is Aborted, or the deadline (leaderTimeoutTicks) passes. What
// a coordinator does then -- persist its decision, or get it chosen at the acceptors -- is
// its own. Nothing here is persisted.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "paxos_commit/config.h"
#include "paxos_commit/output.h"

namespace pc {

// The reply a coordinator owes a CommitRequest before it looks further, or nothing (go on):
// Aborted "invalid request: ..." for a malformed one or one naming a non-member (issue 12;
// `rejected` is then set), or the outcome `known` of a finished transaction.
struct Screened {
  CommitReply reply;
  bool rejected = false;
};
std::optional<Screened> screenRequest(const CommitRequest& m, const CoreConfig& cfg,
                                      std::optional<TxnStatus> known);
// The reply to a transaction id used again with other contents.
CommitReply idReusedReply(const TxnId& txn);

class VoteCollection {
 public:
  struct Txn {
    CommitRequest request;
    ParticipantList participants;
    std::map<NodeId, Vote> votes;
    std::set<NodeId> clients;  // told the outcome (CommitReply)
    std::set<NodeId> askers;   // told the outcome (OutcomeReply)
    uint64_t retryTick = 0;
    uint64_t deadlineTick = 0;
  };
  enum class Step {
    Rejected,       // not from a member participant of the transaction, as itself
    NotCollecting,  // no such transaction here (a duplicate, or we restarted)
    OtherOwner,     // prepared under another coordinator
    Waiting,        // counted; votes still missing
    AllPrepared,    // counted; every participant voted Prepared
    Aborted,        // counted; this participant voted Aborted
  };

  VoteCollection(NodeId self, const CoreConfig& cfg) : self_(self), cfg_(cfg) {}

  // A 2PC coordinator's first steps on a request `from` a client: screenRequest with the
  // coordinator's `known` status, then, if we are collecting votes for it, join the client
  // (or, with other contents, the id-reused reply). True when `out` holds all there is to
  // do; a refused request adds one to `rejected`.
  bool screenOrJoin(NodeId from, const CommitRequest& m, std::optional<TxnStatus> known,
                    Output& out, uint64_t& rejected);
  // Starts collecting: Prepare to every participant, retry and deadline timers.
  void start(NodeId client, const CommitRequest& m, uint64_t now, Output& out);
  // Counts a vote; `from` as the transport knows it.
  Step record(NodeId from, const VoteMsg& m);
  // Resends due Prepares (to participants not heard from); returns the ids whose deadline
  // passed, still collecting (the caller decides what they become).
  std::vector<TxnId> tick(uint64_t now, Output& out);
  // Ends collecting for `txn` and tells everyone waiting (participants, clients, askers)
  // it aborted. Presumed abort: nothing persisted.
  void abort(const TxnId& txn, const std::string& reason, Output& out);
  // Ends collecting for `txn` and hands its state over.
  Txn take(const TxnId& txn);

  Txn* find(const TxnId& txn);
  bool contains(const TxnId& txn) const { return txns_.count(txn) != 0; }
  size_t size() const { return txns_.size(); }
  const std::map<TxnId, Txn>& txns() const { return txns_; }

 private:
  NodeId self_;
  CoreConfig cfg_;  // a copy, so a copied coordinator never points into another
  std::map<TxnId, Txn> txns_;
};

// The reason a participant's Aborted vote gives the client.
std::string votedAbortedReason(const VoteMsg& m);

}  // namespace pc
