#include "paxos_commit/replicated_coordinator.h"

#include <algorithm>

#include "paxos_commit/assert.h"
#include "paxos_commit/canary.h"

namespace pc {

ReplicatedCoordinator::ReplicatedCoordinator(NodeId self, const CoreConfig& cfg, uint64_t seed,
                                             const Recovered& rec, TxnId startMark)
    : Node(self),
      cfg_(cfg),
      rng_(seed),
      leader_(self, cfg_, rng_, rec.leaderRound),
      voting_(self, cfg),
      noPresumeMark_(startMark) {
  PC_ASSERT(cfg.protocol == Protocol::TwoPCReplicated);
}

std::optional<TxnStatus> ReplicatedCoordinator::statusOf(const TxnId& txn) const {
  if (auto it = decided_.find(txn); it != decided_.end()) {
    return it->second == Outcome::Commit ? TxnStatus::Committed : TxnStatus::Aborted;
  }
  if (voting_.contains(txn) || deciding_.count(txn) != 0 || leader_.isActive(txn)) {
    return TxnStatus::Unknown;
  }
  return leader_.finishedStatus(txn);
}

void ReplicatedCoordinator::remember(const TxnId& txn, Outcome o) {
  decided_[txn] = o;
  while (decided_.size() > cfg_.outcomeCacheCap) {
    // Forgetting an outcome: never presume abort at or below it from now on (it may have
    // been a Commit, chosen at the acceptors and long collected there).
    noPresumeMark_ = std::max(noPresumeMark_, decided_.begin()->first);
    decided_.erase(decided_.begin());
  }
}

Output ReplicatedCoordinator::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<CommitRequest>(&e.msg)) return onCommitRequest(e.from, *m);
  if (const auto* m = std::get_if<VoteMsg>(&e.msg)) return onVote(e.from, *m);
  if (const auto* m = std::get_if<Phase2b>(&e.msg)) return onPhase2b(e.from, *m);
  if (const auto* m = std::get_if<Phase1b>(&e.msg)) {
    return absorbLeader(leader_.onPhase1b(e.from, *m, now_));
  }
  if (const auto* m = std::get_if<OutcomeQuery>(&e.msg)) return onQuery(e.from, *m);
  ++rejected_;
  return {};
}

Output ReplicatedCoordinator::onCommitRequest(NodeId from, const CommitRequest& m) {
  Output out;
  auto reply = [&](TxnStatus s, std::string reason) {
    out.send.push_back(Envelope{self_, from, CommitReply{m.txn, s, std::move(reason)}});
  };
  if (voting_.screenOrJoin(from, m, statusOf(m.txn), out, rejected_)) return out;
  if (auto it = deciding_.find(m.txn); it != deciding_.end()) {
    it->second.clients.insert(from);
    return out;
  }
  if (leader_.isActive(m.txn)) {
    leader_.addWaiter(m.txn, from, true);
    return out;
  }
  if (activeCount() + leader_.activeCount() >= cfg_.maxActiveTxns) {
    reply(TxnStatus::Unknown, "overloaded: too many transactions in flight");
    return out;
  }
  if (m.txn <= noPresumeMark_) {
    // Begun before our restart (or an outcome we forgot): we may have proposed Commit for
    // it. Starting afresh or presuming abort could contradict the acceptors: ask them.
    out = absorbLeader(leader_.recover(m.txn, participantsOf(m), kNoNode, now_));
    leader_.addWaiter(m.txn, from, true);
    return out;
  }
  voting_.start(from, m, now_, out);
  return out;
}

// A vote for a transaction we are not collecting votes for (a duplicate, or we restarted).
Output ReplicatedCoordinator::onVoteUnknown(const VoteMsg& m) {
  Output out;
  if (m.owner != kNoNode && m.owner != self_) return out;  // another coordinator's
  if (auto s = statusOf(m.txn); s) {
    if (*s == TxnStatus::Committed || *s == TxnStatus::Aborted) {
      Outcome o = *s == TxnStatus::Committed ? Outcome::Commit : Outcome::Abort;
      out.send.push_back(Envelope{self_, m.participant, OutcomeMsg{m.txn, o}});
    }
    return out;  // deciding, recovering, or forgotten: nothing to add
  }
  if (m.vote == Vote::Prepared && m.txn > noPresumeMark_) {
    // We never proposed Commit for it (we would know), and only our ballot-0 proposal can
    // get a Commit chosen for a participant that prepared under us: presumed abort.
    out.send.push_back(Envelope{self_, m.participant, OutcomeMsg{m.txn, Outcome::Abort}});
    remember(m.txn, Outcome::Abort);
  }
  return out;  // at or below the mark: the participant recovers at the acceptors
}

Output ReplicatedCoordinator::onVote(NodeId from, const VoteMsg& m) {
  switch (voting_.record(from, m)) {
    case VoteCollection::Step::Rejected:
      ++rejected_;
      return {};
    case VoteCollection::Step::NotCollecting:
      return onVoteUnknown(m);
    case VoteCollection::Step::Waiting:
      return {};
    case VoteCollection::Step::Aborted:
      return decideAbort(m.txn, votedAbortedReason(m));
    case VoteCollection::Step::OtherOwner:
      // Prepared under another coordinator (a client retried here, maybe because that one
      // is down): we may not propose, but the acceptors know the decision -- recover it.
      return settleAtAcceptors(m.txn);
    case VoteCollection::Step::AllPrepared:
      break;
  }
  return propose(m.txn);
}

// Every participant voted Prepared: propose Commit at ballot 0 of the decision instance.
// Nothing is sent to the participants before F+1 acceptors took it (onPhase2b).
Output ReplicatedCoordinator::propose(const TxnId& txn) {
  VoteCollection::Txn t = voting_.take(txn);
  Deciding d;
  d.participants = std::move(t.participants);
  d.tally = VoteTally({kDecisionInstance}, cfg_.acceptors, cfg_.quorum());
  d.clients = std::move(t.clients);
  d.askers = std::move(t.askers);
  d.fannedOutAll = cfg_.fanOut == FanOut::All;
  d.retryTick = now_ + (d.fannedOutAll ? cfg_.prepareRetryTicks : cfg_.fanOutFallbackTicks);
  d.deadlineTick = now_ + cfg_.leaderTimeoutTicks;
  Output out = send2a(txn, d, 0, d.fannedOutAll ? cfg_.acceptors.size() : cfg_.quorum());
  out.wakeAt(d.retryTick);
  deciding_.emplace(txn, std::move(d));
  if constexpr (kCanary == kCanaryEarlyOutcome) {
    // Planted bug: the outcome leaves with the proposal, before F+1 acceptors took it.
    out.append(finishDecided(txn, Outcome::Commit, ""));
  }
  return out;
}

// Phase 2a (ballot 0, Commit) to the acceptors not heard from, those at positions [first,
// last) of the order picked by the transaction id (so the F+1 of quorum fan-out spread over
// the acceptors, as participants' do in Paxos Commit).
Output ReplicatedCoordinator::send2a(const TxnId& txn, const Deciding& d, size_t first,
                                     size_t last) const {
  Output out;
  Phase2a m{txn,
            d.participants,
            self_,
            {InstanceVote{kDecisionInstance, Ballot::zero(), Vote::Prepared}},
            ""};
  size_t n = cfg_.acceptors.size();
  size_t start = static_cast<size_t>((txn.hi ^ txn.lo) % n);
  for (size_t k = 0; k < n; ++k) {
    NodeId a = cfg_.acceptors[(start + k) % n];
    if (k >= first && k < last && d.heard.count(a) == 0) {
      out.send.push_back(Envelope{self_, a, m});
    }
  }
  return out;
}

Output ReplicatedCoordinator::onPhase2b(NodeId from, const Phase2b& m) {
  if (leader_.isActive(m.txn)) return absorbLeader(leader_.onPhase2b(from, m, now_));
  if (m.acceptor != from || !tallyCounts(cfg_.acceptors, from)) {
    ++rejected_;  // a 2b counts only from a configured acceptor speaking for itself
    return {};
  }
  for (const auto& v : m.votes) {
    if (!roundInRange(v.ballot)) {
      ++rejected_;
      return {};
    }
  }
  auto it = deciding_.find(m.txn);
  if (it == deciding_.end()) return {};  // late: decided already
  Deciding& d = it->second;
  if (m.forgotten) {
    // A tombstone's outcome is the one every participant acked: final. Without one, the
    // deadline hands the transaction to recovery, which counts F+1 "forgotten".
    if (m.outcome) return finishDecided(m.txn, *m.outcome, kAbortedEarlierReason);
    return {};
  }
  if (m.participants != d.participants) return {};
  d.heard.insert(from);
  for (const auto& v : m.votes) d.tally.add(m.acceptor, v);
  auto o = d.tally.decision();
  if (!o) return {};
  // Chosen. (Abort only if a recovery leader got its Abort chosen at a higher ballot.)
  return finishDecided(m.txn, *o, *o == Outcome::Abort ? "recovery chose aborted" : "");
}

Output ReplicatedCoordinator::finishDecided(const TxnId& txn, Outcome o, std::string reason) {
  Output out;
  auto it = deciding_.find(txn);
  PC_ASSERT(it != deciding_.end(), txn);
  const Deciding& d = it->second;
  TxnStatus s = o == Outcome::Commit ? TxnStatus::Committed : TxnStatus::Aborted;
  for (NodeId p : d.participants) out.send.push_back(Envelope{self_, p, OutcomeMsg{txn, o}});
  for (NodeId c : d.clients) out.send.push_back(Envelope{self_, c, CommitReply{txn, s, reason}});
  for (NodeId a : d.askers) out.send.push_back(Envelope{self_, a, OutcomeReply{txn, s}});
  out.learned.push_back(Learned{txn, o});
  remember(txn, o);
  deciding_.erase(it);
  return out;
}

Output ReplicatedCoordinator::decideAbort(const TxnId& txn, const std::string& reason) {
  // Presumed abort: nothing written anywhere. A participant voted Aborted (durably; it
  // answers any coordinator Aborted from now on), so no coordinator can ever propose
  // Commit: the decision instance stays free, and a free instance recovers to Abort.
  Output out;
  voting_.abort(txn, reason, out);
  remember(txn, Outcome::Abort);
  return out;
}

// Hands a transaction we were collecting votes for to our Leader: phase 1 and 2 on the
// decision instance at a ballot of ours; its clients and askers wait for what is chosen.
Output ReplicatedCoordinator::settleAtAcceptors(const TxnId& txn) {
  VoteCollection::Txn a = voting_.take(txn);
  // Whatever is chosen, it is not ours to presume any more.
  noPresumeMark_ = std::max(noPresumeMark_, txn);
  Output out = leader_.recover(txn, a.participants, kNoNode, now_);
  for (NodeId c : a.clients) leader_.addWaiter(txn, c, true);
  for (NodeId q : a.askers) leader_.addWaiter(txn, q, false);
  return absorbLeader(std::move(out));
}

// No F+1 2b in time (acceptors down, or a recovery leader took the instance over): find
// the decision by Paxos phase 1 at a ballot of ours, like any recovery leader.
Output ReplicatedCoordinator::handOver(const TxnId& txn) {
  auto it = deciding_.find(txn);
  PC_ASSERT(it != deciding_.end(), txn);
  Deciding d = std::move(it->second);
  deciding_.erase(it);
  // We proposed Commit: if the recovery ends "forgotten", this id must never be presumed
  // aborted later.
  noPresumeMark_ = std::max(noPresumeMark_, txn);
  Output out = leader_.recover(txn, d.participants, kNoNode, now_);
  for (NodeId c : d.clients) leader_.addWaiter(txn, c, true);
  for (NodeId a : d.askers) leader_.addWaiter(txn, a, false);
  return absorbLeader(std::move(out));
}

Output ReplicatedCoordinator::absorbLeader(Output&& leaderOut) {
  Output out = std::move(leaderOut);
  for (const auto& l : out.learned) remember(l.txn, l.outcome);
  return out;
}

Output ReplicatedCoordinator::onQuery(NodeId from, const OutcomeQuery& m) {
  Output out;
  if (m.txn.isZero() || !isSortedUnique(m.participants)) {
    ++rejected_;
    return out;
  }
  auto answer = [&](TxnStatus s) {
    out.send.push_back(Envelope{self_, from, OutcomeReply{m.txn, s}});
  };
  if (firstNonMember(cfg_, m.participants) != kNoNode) {
    ++rejected_;
    answer(TxnStatus::Unknown);
    return out;
  }
  if (VoteCollection::Txn* t = voting_.find(m.txn)) {
    t->askers.insert(from);
    return out;
  }
  if (auto it = deciding_.find(m.txn); it != deciding_.end()) {
    it->second.askers.insert(from);
    return out;
  }
  if (leader_.isActive(m.txn)) {
    leader_.addWaiter(m.txn, from, false);
    return out;
  }
  if (auto s = statusOf(m.txn)) {
    answer(*s);
    return out;
  }
  const bool participant = contains(m.participants, from) && isParticipant(cfg_, from);
  if (participant && m.txn > noPresumeMark_) {
    // A participant asks only the coordinator that prepared it, and we never proposed
    // Commit for this one: presumed abort (remembered, so a late retry cannot commit it).
    remember(m.txn, Outcome::Abort);
    answer(TxnStatus::Aborted);
  } else if (participant) {
    // We may have proposed Commit before a restart: the acceptors know, not we. The
    // participant recovers there itself.
    answer(TxnStatus::Unknown);
  } else {
    // A client asking: find out at the acceptors (phase 1 on the decision instance; with
    // no participant list the acceptors are asked for it first).
    return absorbLeader(leader_.recover(m.txn, m.participants, from, now_));
  }
  return out;
}

Output ReplicatedCoordinator::tickActive() {
  Output out;
  std::vector<TxnId> expired = voting_.tick(now_, out);
  // Not every participant voted in time. Unlike an Aborted vote (durable at its voter,
  // which never votes Prepared for it again) our timeout binds nobody else: a client's
  // retry at another coordinator could still collect every Prepared vote and commit. So
  // the Abort is made to stick at the acceptors: phase 1 and 2 at a ballot of ours (a free
  // decision instance gets Abort), and the clients hear what is chosen.
  for (const auto& id : expired) out.append(settleAtAcceptors(id));
  return out;
}

Output ReplicatedCoordinator::tickDeciding() {
  Output out;
  std::vector<TxnId> expired;
  for (auto& [id, d] : deciding_) {
    if (now_ >= d.deadlineTick) {
      expired.push_back(id);
      continue;
    }
    if (now_ >= d.retryTick) {
      // Quorum fan-out fallback (the rest get it), then on a lost 2a / 2b every acceptor
      // not heard from.
      out.append(send2a(id, d, d.fannedOutAll ? 0 : cfg_.quorum(), cfg_.acceptors.size()));
      d.fannedOutAll = true;
      d.retryTick = now_ + cfg_.prepareRetryTicks;
    }
    out.wakeAt(std::min(d.retryTick, d.deadlineTick));
  }
  for (const auto& id : expired) out.append(handOver(id));
  return out;
}

Output ReplicatedCoordinator::onTick() {
  ++now_;
  Output out = absorbLeader(leader_.onTick(now_));
  out.append(tickActive());
  out.append(tickDeciding());
  return out;
}

Snapshot ReplicatedCoordinator::snapshot() const {
  Snapshot s;
  leader_.snapshotInto(s);
  s.presumedAbortMark = noPresumeMark_;
  s.outcomes = decided_;
  return s;
}

void ReplicatedCoordinator::checkInvariants() const {
  leader_.checkInvariants();
  PC_ASSERT(decided_.size() <= cfg_.outcomeCacheCap, decided_.size());
  for (const auto& [id, a] : voting_.txns()) {
    PC_ASSERT(deciding_.count(id) == 0 && decided_.count(id) == 0, id);
    PC_ASSERT(a.votes.size() < a.participants.size(), id);  // all votes: proposed
    for (const auto& [p, v] : a.votes) PC_ASSERT(v == Vote::Prepared, id, p);
  }
  for (const auto& [id, d] : deciding_) {
    PC_ASSERT(decided_.count(id) == 0 && !leader_.isActive(id), id);
    PC_ASSERT(!d.participants.empty() && d.heard.size() <= cfg_.acceptors.size(), id);
  }
}

}  // namespace pc
