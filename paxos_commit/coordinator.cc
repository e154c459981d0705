#include "paxos_commit/coordinator.h"

#include "paxos_commit/assert.h"

namespace pc {

std::string validateRequest(const CommitRequest& req) {
  if (req.txn.isZero()) return "transaction id is zero";
  if (req.payloads.empty()) return "no participants";
  for (size_t i = 0; i < req.payloads.size(); ++i) {
    if (req.payloads[i].participant == kNoNode) return "participant id 0";
    if (i > 0 && !(req.payloads[i - 1].participant < req.payloads[i].participant)) {
      return "participants not sorted and unique";
    }
  }
  return "";
}

PaxosCoordinator::PaxosCoordinator(NodeId self, const CoreConfig& cfg, uint64_t seed,
                                   const Recovered& rec)
    : Node(self), cfg_(cfg), rng_(seed), leader_(self, cfg_, rng_, rec.leaderRound) {
  PC_ASSERT(isPaxos(cfg.protocol));
}

Output PaxosCoordinator::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<Phase2b>(&e.msg)) return leader_.onPhase2b(*m, now_);
  if (const auto* m = std::get_if<Phase1b>(&e.msg)) return leader_.onPhase1b(*m, now_);
  Output out;
  if (const auto* m = std::get_if<CommitRequest>(&e.msg)) {
    auto reply = [&](TxnStatus s, std::string reason) {
      out.send.push_back(Envelope{self_, e.from, CommitReply{m->txn, s, std::move(reason)}});
    };
    if (std::string err = validateRequest(*m); !err.empty()) {
      ++rejected_;
      reply(TxnStatus::Aborted, "invalid request: " + err);
      return out;
    }
    if (auto s = leader_.finishedStatus(m->txn)) {
      // A retry of a transaction we finished (its abort reason went with its state).
      reply(*s, *s == TxnStatus::Aborted ? kAbortedEarlierReason : "");
      return out;
    }
    if (leader_.isActive(m->txn)) {
      const CommitRequest* first = leader_.request(m->txn);
      if (first != nullptr && *first != *m) {
        ++rejected_;
        reply(TxnStatus::Unknown, "rejected: transaction id already used with other contents");
        return out;
      }
      leader_.addWaiter(m->txn, e.from, true);
      return out;
    }
    if (leader_.activeCount() >= cfg_.maxActiveTxns) {
      reply(TxnStatus::Unknown, "overloaded: too many transactions in flight");
      return out;
    }
    // A retry of a transaction another coordinator started is fine: participants answer
    // a repeated prepare with the same vote, acceptors with the same 2b.
    return leader_.begin(*m, e.from, now_);
  }
  if (const auto* m = std::get_if<OutcomeQuery>(&e.msg)) {
    if (m->txn.isZero() || !isSortedUnique(m->participants)) {
      ++rejected_;
      return out;
    }
    if (auto s = leader_.finishedStatus(m->txn)) {
      out.send.push_back(Envelope{self_, e.from, OutcomeReply{m->txn, *s}});
      return out;
    }
    // Unknown here: find out by running phase 1 -- never a guessed abort (pitfall 6).
    if (leader_.isActive(m->txn)) {
      leader_.addWaiter(m->txn, e.from, false);
      return out;
    }
    return leader_.recover(m->txn, m->participants, e.from, now_);
  }
  ++rejected_;
  return out;
}

Output PaxosCoordinator::onTick() {
  ++now_;
  return leader_.onTick(now_);
}

void PaxosCoordinator::checkInvariants() const { leader_.checkInvariants(); }

}  // namespace pc
