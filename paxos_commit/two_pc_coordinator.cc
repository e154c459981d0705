#include "paxos_commit/two_pc_coordinator.h"

#include <algorithm>

#include "paxos_commit/assert.h"

namespace pc {

TwoPcCoordinator::TwoPcCoordinator(NodeId self, const CoreConfig& cfg, const Recovered& rec,
                                   TxnId presumedAbortMark)
    : Node(self),
      cfg_(cfg),
      voting_(self, cfg),
      lowWater_(rec.decisionLowWater),
      presumedAbortMark_(presumedAbortMark) {
  PC_ASSERT(cfg.protocol == Protocol::TwoPC);
  // Restart: every Commit decision not yet acked by all is sent again (on the first tick).
  // Transactions that were collecting votes are forgotten: presumed abort.
  for (const auto& d : rec.decisions) {
    decisions_.emplace(d.txn, Decision{d, {}, 0});
    if (d.done) {
      ++doneCount_;
    } else {
      undone_.insert(d.txn);
    }
  }
}

void TwoPcCoordinator::rememberAbort(const TxnId& txn) {
  recentAborts_[txn] = TxnStatus::Aborted;
  while (recentAborts_.size() > cfg_.outcomeCacheCap) {
    // Forgetting an abort: raise the mark above it, so a retry is still refused.
    presumedAbortMark_ = std::max(presumedAbortMark_, recentAborts_.begin()->first);
    recentAborts_.erase(recentAborts_.begin());
  }
}

std::optional<TxnStatus> TwoPcCoordinator::statusOf(const TxnId& txn) const {
  if (decisions_.count(txn) != 0) return TxnStatus::Committed;
  if (auto it = recentAborts_.find(txn); it != recentAborts_.end()) return it->second;
  if (voting_.contains(txn)) return TxnStatus::Unknown;
  return std::nullopt;
}

Output TwoPcCoordinator::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<CommitRequest>(&e.msg)) return onCommitRequest(e.from, *m);
  if (const auto* m = std::get_if<VoteMsg>(&e.msg)) return onVote(e.from, *m);
  if (const auto* m = std::get_if<Ack>(&e.msg)) return onAck(e.from, *m);
  if (const auto* m = std::get_if<OutcomeQuery>(&e.msg)) return onQuery(e.from, *m);
  ++rejected_;
  return {};
}

Output TwoPcCoordinator::onCommitRequest(NodeId from, const CommitRequest& m) {
  Output out;
  auto reply = [&](TxnStatus s, std::string reason) {
    out.send.push_back(Envelope{self_, from, CommitReply{m.txn, s, std::move(reason)}});
  };
  if (voting_.screenOrJoin(from, m, statusOf(m.txn), out, rejected_)) return out;
  if (m.txn <= lowWater_) {
    reply(TxnStatus::Forgotten, "");
    return out;
  }
  if (m.txn <= presumedAbortMark_) {
    // Begun before our restart (or an abort we forgot): it may have been aborted and told
    // so; starting it again could commit it. Presumed abort, and tell the participants.
    for (const auto& p : m.payloads) {
      out.send.push_back(Envelope{self_, p.participant, OutcomeMsg{m.txn, Outcome::Abort}});
    }
    out.learned.push_back(Learned{m.txn, Outcome::Abort});
    rememberAbort(m.txn);
    reply(TxnStatus::Aborted, "presumed abort: the coordinator restarted since it began");
    return out;
  }
  if (voting_.size() >= cfg_.maxActiveTxns) {
    reply(TxnStatus::Unknown, "overloaded: too many transactions in flight");
    return out;
  }
  voting_.start(from, m, now_, out);
  return out;
}

// A vote from a participant for a transaction we are not collecting votes for.
Output TwoPcCoordinator::onVoteUnknown(const VoteMsg& m) {
  Output out;
  if (m.owner != kNoNode && m.owner != self_) {
    return out;  // another coordinator's transaction, and we already stepped back
  }
  if (auto d = decisions_.find(m.txn); d != decisions_.end()) {
    if (!d->second.rec.done) {
      out.send.push_back(Envelope{self_, m.participant, OutcomeMsg{m.txn, Outcome::Commit}});
    }
  } else if (m.vote == Vote::Prepared && m.txn > lowWater_) {
    // No decision and not collecting: presumed abort (e.g. we restarted meanwhile).
    // At or below the low-water mark it may be a committed transaction whose decision was
    // collected: say nothing rather than contradict it.
    out.send.push_back(Envelope{self_, m.participant, OutcomeMsg{m.txn, Outcome::Abort}});
    rememberAbort(m.txn);
  }
  return out;
}

Output TwoPcCoordinator::onVote(NodeId from, const VoteMsg& m) {
  Output out;
  switch (voting_.record(from, m)) {
    case VoteCollection::Step::Rejected:
      ++rejected_;
      return out;
    case VoteCollection::Step::NotCollecting:
      return onVoteUnknown(m);
    case VoteCollection::Step::Waiting:
      return out;
    case VoteCollection::Step::Aborted:
      return decideAbort(m.txn, votedAbortedReason(m));
    case VoteCollection::Step::OtherOwner:
      // Another coordinator prepared this transaction (a client retried here): it alone
      // decides. Step back without deciding; the client asks again or asks `outcome`.
      for (NodeId c : voting_.take(m.txn).clients) {
        out.send.push_back(
            Envelope{self_, c,
                     CommitReply{m.txn, TxnStatus::Unknown,
                                 "the transaction belongs to coordinator " +
                                     std::to_string(m.owner) + "; ask it (or `outcome`)"}});
      }
      return out;
    case VoteCollection::Step::AllPrepared:
      break;
  }
  // Every participant is prepared: the Commit decision is durable before it leaves.
  VoteCollection::Txn t = voting_.take(m.txn);
  DecisionRecord rec{m.txn, t.participants, false};
  out.persist.push_back(rec);
  for (NodeId p : t.participants)
    out.send.push_back(Envelope{self_, p, OutcomeMsg{m.txn, Outcome::Commit}});
  for (NodeId c : t.clients)
    out.send.push_back(Envelope{self_, c, CommitReply{m.txn, TxnStatus::Committed, ""}});
  out.learned.push_back(Learned{m.txn, Outcome::Commit});
  decisions_.emplace(m.txn, Decision{rec, {}, now_ + cfg_.ackRequestTicks});
  undone_.insert(m.txn);
  out.wakeAt(now_ + cfg_.ackRequestTicks);
  return out;
}

Output TwoPcCoordinator::decideAbort(const TxnId& txn, const std::string& reason) {
  // Presumed abort: nothing to persist; a participant that asks later hears Aborted.
  Output out;
  voting_.abort(txn, reason, out);
  rememberAbort(txn);
  return out;
}

Output TwoPcCoordinator::onAck(NodeId from, const Ack& m) {
  Output out;
  if (from != m.participant || !isParticipant(cfg_, from)) {
    ++rejected_;  // a participant acks for itself alone
    return out;
  }
  auto it = decisions_.find(m.txn);
  if (it == decisions_.end() || it->second.rec.done) return out;
  Decision& d = it->second;
  if (!contains(d.rec.participants, m.participant)) {
    ++rejected_;
    return out;
  }
  d.acked.insert(m.participant);
  if (d.acked.size() < d.rec.participants.size()) return out;
  // Everyone made Commit durable: keep only a small tombstone for outcome queries.
  d.rec.done = true;
  d.rec.participants.clear();
  undone_.erase(m.txn);
  ++doneCount_;
  out.persist.push_back(d.rec);
  pruneDone(out);
  return out;
}

void TwoPcCoordinator::pruneDone(Output& out) {
  // O(1) unless over the cap (then a tenth of the cap goes at once, so this runs rarely).
  if (doneCount_ <= cfg_.tombstoneCap) return;
  size_t drop = doneCount_ - cfg_.tombstoneCap + cfg_.tombstoneCap / 10;
  TxnId mark = lowWater_;
  for (auto it = decisions_.begin(); it != decisions_.end() && drop > 0;) {
    if (it->second.rec.done) {
      mark = it->first;
      it = decisions_.erase(it);
      --doneCount_;
      --drop;
    } else {
      ++it;
    }
  }
  if (mark > lowWater_) {
    lowWater_ = mark;
    out.persist.push_back(DecisionLowWaterRecord{mark});
  }
}

Output TwoPcCoordinator::onQuery(NodeId from, const OutcomeQuery& m) {
  Output out;
  TxnStatus s;
  if (auto known = statusOf(m.txn)) {
    s = *known;
  } else if (m.txn <= lowWater_) {
    s = TxnStatus::Forgotten;
  } else if (contains(m.participants, from) && isParticipant(cfg_, from)) {
    // Presumed abort: no decision record means it never committed. Valid here because the
    // asker is a (member) participant of the transaction, and a participant asks only the
    // coordinator that prepared it. Remember it, so a late retry cannot commit it now.
    s = TxnStatus::Aborted;
    rememberAbort(m.txn);
  } else {
    // A client asking: we may not be this transaction's coordinator (another one may hold
    // its Commit), so presuming abort here could be wrong. We do not know.
    s = TxnStatus::Unknown;
  }
  out.send.push_back(Envelope{self_, from, OutcomeReply{m.txn, s}});
  return out;
}

Output TwoPcCoordinator::onTick() {
  ++now_;
  Output out;
  std::vector<TxnId> expired = voting_.tick(now_, out);
  for (const auto& id : expired)
    out.append(decideAbort(id, "timeout: not every participant voted"));
  // Only decisions not yet acked by all have timers (done ones are tombstones).
  for (const TxnId& id : undone_) {
    Decision& d = decisions_.at(id);
    if (now_ >= d.resendTick) {
      for (NodeId p : d.rec.participants) {
        if (d.acked.count(p) == 0)
          out.send.push_back(Envelope{self_, p, OutcomeMsg{id, Outcome::Commit}});
      }
      d.resendTick = now_ + cfg_.ackRequestTicks;
    }
    out.wakeAt(d.resendTick);
  }
  return out;
}

Snapshot TwoPcCoordinator::snapshot() const {
  Snapshot s;
  s.lowWater = lowWater_;
  s.presumedAbortMark = presumedAbortMark_;
  for (const auto& [txn, d] : decisions_) s.outcomes[txn] = Outcome::Commit;
  for (const auto& [txn, st] : recentAborts_) s.outcomes[txn] = Outcome::Abort;
  return s;
}

void TwoPcCoordinator::checkInvariants() const {
  for (const auto& [id, a] : voting_.txns()) {
    PC_ASSERT(decisions_.count(id) == 0, id);
    PC_ASSERT(a.votes.size() <= a.participants.size(), id);
  }
  for (const auto& [id, d] : decisions_) {
    PC_ASSERT(id == d.rec.txn, id);
    PC_ASSERT(d.rec.done || !d.rec.participants.empty(), id);
    PC_ASSERT(recentAborts_.count(id) == 0, id);
    PC_ASSERT(d.rec.done != (undone_.count(id) == 1), id);
  }
  PC_ASSERT(undone_.size() + doneCount_ == decisions_.size(), undone_.size(), doneCount_);
}

}  // namespace pc
