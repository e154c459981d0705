#include "paxos_commit/paxos_coordinator.h"

#include "paxos_commit/assert.h"
#include "paxos_commit/vote_collection.h"

namespace pc {

PaxosCoordinator::PaxosCoordinator(NodeId self, const CoreConfig& cfg, uint64_t seed,
                                   const Recovered& rec)
    : Node(self), cfg_(cfg), rng_(seed), leader_(self, cfg_, rng_, rec.leaderRound) {
  PC_ASSERT(isPaxos(cfg.protocol));
}

Output PaxosCoordinator::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<Phase2b>(&e.msg)) return leader_.onPhase2b(e.from, *m, now_);
  if (const auto* m = std::get_if<Phase1b>(&e.msg)) return leader_.onPhase1b(e.from, *m, now_);
  if (const auto* m = std::get_if<CommitRequest>(&e.msg)) return onCommitRequest(e.from, *m);
  if (const auto* m = std::get_if<OutcomeQuery>(&e.msg)) return onQuery(e.from, *m);
  ++rejected_;
  return {};
}

Output PaxosCoordinator::onCommitRequest(NodeId from, const CommitRequest& m) {
  Output out;
  auto reply = [&](TxnStatus s, std::string reason) {
    out.send.push_back(Envelope{self_, from, CommitReply{m.txn, s, std::move(reason)}});
  };
  if (auto s = screenRequest(m, cfg_, std::nullopt)) {  // invalid, or a non-member
    rejected_ += s->rejected ? 1 : 0;
    out.send.push_back(Envelope{self_, from, std::move(s->reply)});
    return out;
  }
  if (auto s = leader_.finishedStatus(m.txn)) {
    // A retry of a transaction we finished (its abort reason went with its state).
    reply(*s, *s == TxnStatus::Aborted ? kAbortedEarlierReason : "");
    return out;
  }
  if (leader_.isActive(m.txn)) {
    const CommitRequest* first = leader_.request(m.txn);
    if (first != nullptr && *first != m) {
      ++rejected_;
      out.send.push_back(Envelope{self_, from, idReusedReply(m.txn)});
      return out;
    }
    leader_.addWaiter(m.txn, from, true);
    return out;
  }
  if (leader_.activeCount() >= cfg_.maxActiveTxns) {
    reply(TxnStatus::Unknown, "overloaded: too many transactions in flight");
    return out;
  }
  // A retry of a transaction another coordinator started is fine: participants answer
  // a repeated prepare with the same vote, acceptors with the same 2b.
  return leader_.begin(m, from, now_);
}

Output PaxosCoordinator::onQuery(NodeId from, const OutcomeQuery& m) {
  Output out;
  if (m.txn.isZero() || !isSortedUnique(m.participants)) {
    ++rejected_;
    return out;
  }
  if (firstNonMember(cfg_, m.participants) != kNoNode) {
    // Recovery would make the acceptors persist a record for a non-member, which never
    // acks: refuse, and say we do not know.
    ++rejected_;
    out.send.push_back(Envelope{self_, from, OutcomeReply{m.txn, TxnStatus::Unknown}});
    return out;
  }
  if (auto s = leader_.finishedStatus(m.txn)) {
    out.send.push_back(Envelope{self_, from, OutcomeReply{m.txn, *s}});
    return out;
  }
  // Unknown here: find out by running phase 1 -- never a guessed abort (pitfall 6).
  if (leader_.isActive(m.txn)) {
    leader_.addWaiter(m.txn, from, false);
    return out;
  }
  return leader_.recover(m.txn, m.participants, from, now_);
}

Output PaxosCoordinator::onTick() {
  ++now_;
  return leader_.onTick(now_);
}

Snapshot PaxosCoordinator::snapshot() const {
  Snapshot s;
  leader_.snapshotInto(s);
  return s;
}

void PaxosCoordinator::checkInvariants() const { leader_.checkInvariants(); }

}  // namespace pc
