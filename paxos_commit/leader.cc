#include "paxos_commit/leader.h"

#include <algorithm>

#include "paxos_commit/assert.h"
#include "paxos_commit/canary.h"
#include "paxos_commit/membership.h"

namespace pc {

ParticipantList participantsOf(const CommitRequest& req) {
  ParticipantList l;
  for (const auto& p : req.payloads) l.push_back(p.participant);
  return l;
}

Leader::Leader(NodeId self, const CoreConfig& cfg, Rng& rng, uint64_t persistedRound)
    : self_(self),
      cfg_(cfg),
      rng_(rng),
      persistedRound_(persistedRound),
      nextRound_(persistedRound + 1) {
  PC_ASSERT(self != kNoNode);
  PC_ASSERT(cfg.acceptors.size() == 2 * static_cast<size_t>(cfg.f) + 1, cfg.acceptors.size(),
            cfg.f);
  // The durable round came from our own writes, each at most kRoundMax + 1.
  PC_ASSERT(persistedRound <= kRoundMax + 1, persistedRound);
}

uint64_t Leader::jitter(uint64_t bound) { return rng_.below(bound); }

Output Leader::begin(const CommitRequest& req, NodeId client, uint64_t now) {
  PC_ASSERT(active_.count(req.txn) == 0, req.txn);
  PC_ASSERT(!req.payloads.empty(), req.txn);
  Txn t;
  t.txn = req.txn;
  t.phase = Phase::Ballot0;
  t.participants = participantsOf(req);
  PC_ASSERT(isSortedUnique(t.participants), req.txn);
  t.request = req;
  t.tally = VoteTally(instancesOf(cfg_.protocol, t.participants), cfg_.acceptors, cfg_.quorum());
  if (client != kNoNode) t.clients.insert(client);
  t.startTick = now;
  t.retryTick = now + cfg_.prepareRetryTicks;
  t.deadlineTick = now + cfg_.leaderTimeoutTicks;

  Output out;
  // Ballot 0 needs no phase 1: each participant's own vote is ballot 0 of its instance.
  appendPrepares(out, self_, req, [](NodeId) { return true; });
  out.wakeAt(t.retryTick);
  active_.emplace(req.txn, std::move(t));
  return out;
}

void Leader::addWaiter(const TxnId& txn, NodeId who, bool isClient) {
  auto it = active_.find(txn);
  if (it == active_.end() || who == kNoNode) return;
  (isClient ? it->second.clients : it->second.askers).insert(who);
}

Output Leader::recover(const TxnId& txn, const ParticipantList& participants, NodeId asker,
                       uint64_t now) {
  PC_ASSERT(isSortedUnique(participants), txn);
  auto it = active_.find(txn);
  if (it != active_.end()) {
    // Already driving it (ballot 0 or recovery): the asker just waits for the result.
    if (asker != kNoNode) it->second.askers.insert(asker);
    return {};
  }
  Txn t;
  t.txn = txn;
  t.recovery = true;
  t.participants = participants;
  t.tally = VoteTally(instancesOf(cfg_.protocol, participants), cfg_.acceptors, cfg_.quorum());
  if (asker != kNoNode) t.askers.insert(asker);
  t.startTick = now;
  auto& ref = active_.emplace(txn, std::move(t)).first->second;
  if (participants.empty()) {
    // We do not know the instances: ask the acceptors for the participant list first.
    // This query promises nothing and changes nothing at the acceptors.
    ref.phase = Phase::Query;
    Output out;
    for (NodeId a : cfg_.acceptors) {
      out.send.push_back(Envelope{self_, a, Phase1a{txn, Ballot::zero(), {}}});
    }
    ref.retryTick = now + cfg_.ballotRetryTicks + jitter(cfg_.ballotRetryTicks);
    out.wakeAt(ref.retryTick);
    return out;
  }
  return startBallot(ref, now);
}

Output Leader::startBallot(Txn& t, uint64_t now) {
  PC_ASSERT(!t.participants.empty(), t.txn);
  // Phase 1a: a ballot we own, above every ballot seen for this transaction. Every round
  // seen was checked against kRoundMax, so neither + 1 can wrap.
  PC_ASSERT(t.highestRoundSeen <= kRoundMax && nextRound_ <= kRoundMax + 1, t.txn,
            t.highestRoundSeen, nextRound_);
  uint64_t round = std::max(nextRound_, t.highestRoundSeen + 1);
  nextRound_ = round + 1;
  t.ballot = Ballot{round, self_};
  t.phase = Phase::Phase1;
  t.recovery = true;
  t.promises.clear();
  Output out;
  for (NodeId a : cfg_.acceptors) {
    out.send.push_back(Envelope{self_, a, Phase1a{t.txn, t.ballot, t.participants}});
  }
  out.recoveriesStarted.push_back(RecoveryEvent{t.txn, t.ballot});
  t.retryTick = now + backoff(t);
  ++t.attempts;
  out.wakeAt(t.retryTick);
  return out;
}

// A 1b counts only from a configured acceptor that is its sender, with every round in it
// within kRoundMax (issue 12).
bool Leader::validPhase1b(NodeId from, const Phase1b& m) const {
  if (!fromAcceptor(cfg_, from, m.acceptor)) return false;
  if (!roundInRange(m.ballot) || !roundInRange(m.mbal)) return false;
  for (const auto& r : m.reports) {
    if (r.bal && !roundInRange(*r.bal)) return false;
  }
  return true;
}

Output Leader::onPhase1b(NodeId from, const Phase1b& m, uint64_t now) {
  if (!validPhase1b(from, m)) {
    ++rejected_;
    return {};
  }
  auto it = active_.find(m.txn);
  if (it == active_.end()) return {};  // late: already finished
  Txn& t = it->second;
  t.highestRoundSeen = std::max(t.highestRoundSeen, m.mbal.round);
  for (const auto& r : m.reports) {
    if (r.bal) t.highestRoundSeen = std::max(t.highestRoundSeen, r.bal->round);
  }
  if (m.forgotten) return onForgotten(t, m.acceptor, m.outcome);
  if (t.phase == Phase::Query) return onQueryReply(t, m, now);
  if (t.phase != Phase::Phase1 || m.ballot != t.ballot) return {};  // stale
  if (!m.participants.empty() && m.participants != t.participants) return {};
  if (!m.promised) {
    // Someone promised a higher ballot: another leader is at work. Give it time, then try
    // again above it (backed off, with jitter, so duelling leaders do not livelock).
    t.retryTick = std::max(t.retryTick, now + backoff(t));
    Output out;
    out.wakeAt(t.retryTick);
    return out;
  }
  t.promises[m.acceptor] = m;
  if (t.promises.size() < cfg_.quorum()) return {};
  return sendPhase2a(t, now);
}

// The answer to "what do you know of this transaction?" (recovery without a participant
// list): the first list reported starts phase 1; F+1 acceptors without one mean nothing
// was chosen.
Output Leader::onQueryReply(Txn& t, const Phase1b& m, uint64_t now) {
  if (!m.participants.empty() && isSortedUnique(m.participants)) {
    t.participants = m.participants;
    t.tally = VoteTally(instancesOf(cfg_.protocol, t.participants), cfg_.acceptors, cfg_.quorum());
    return startBallot(t, now);
  }
  t.queryReplies.insert(m.acceptor);
  if (t.queryReplies.size() >= cfg_.quorum()) {
    // F+1 acceptors have no vote: nothing is chosen. It may still commit if votes are
    // in flight, so this is "unknown", never a guessed "aborted" (pitfall 6).
    return finish(t, TxnStatus::Unknown, "no acceptor has a vote for this transaction");
  }
  return {};
}

Output Leader::sendPhase2a(Txn& t, uint64_t now) {
  // Phase 2a: per instance, the value of the highest-ballot vote any of the F+1 reported
  // (it may be Prepared: pitfall 2); Aborted only where none of them saw a vote.
  Phase2a msg{t.txn, t.participants, self_, {}, ""};
  bool zeroAborted = false;
  for (NodeId p : instancesOf(cfg_.protocol, t.participants)) {
    std::optional<Ballot> bestBal;
    Vote value = Vote::Aborted;
    for (const auto& [acc, promise] : t.promises) {
      for (const auto& r : promise.reports) {
        if (r.instance != p || !r.bal) continue;
        PC_ASSERT(r.val.has_value(), t.txn, p);
        if (!bestBal || *r.bal > *bestBal) {
          bestBal = r.bal;
          value = *r.val;
        }
        if (r.bal->isZero() && *r.val == Vote::Aborted) zeroAborted = true;
      }
    }
    if constexpr (kCanary == kCanaryAlwaysAbort) value = Vote::Aborted;
    msg.votes.push_back(InstanceVote{p, t.ballot, value});
  }
  if (zeroAborted && kCanary != kCanaryAlwaysAbort) {
    // A participant voted Aborted itself: that instance can only ever be chosen Aborted,
    // so the outcome is Abort already; no need for phase 2.
    return finish(t, TxnStatus::Aborted, "a participant voted aborted");
  }
  Output out;
  if (t.ballot.round > persistedRound_) {
    // The round is durable before any 2a in it leaves: a restarted leader never reuses it.
    persistedRound_ = t.ballot.round;
    out.persist.push_back(LeaderRoundRecord{persistedRound_});
  }
  for (NodeId a : cfg_.acceptors) out.send.push_back(Envelope{self_, a, msg});
  t.phase = Phase::Phase2;
  t.retryTick = now + backoff(t);
  out.wakeAt(t.retryTick);
  return out;
}

// A 2b counts only from its sender (m.acceptor == from), a configured acceptor (the tally
// decides, see tallyCounts), with every round within kRoundMax (issue 12).
bool Leader::validPhase2b(NodeId from, const Phase2b& m) const {
  if (m.acceptor != from || !tallyCounts(cfg_.acceptors, from)) return false;
  for (const auto& v : m.votes) {
    if (!roundInRange(v.ballot)) return false;
  }
  return true;
}

Output Leader::onPhase2b(NodeId from, const Phase2b& m, uint64_t now) {
  (void)now;
  if (!validPhase2b(from, m)) {
    ++rejected_;
    return {};
  }
  auto it = active_.find(m.txn);
  if (it == active_.end()) return {};
  Txn& t = it->second;
  if (m.forgotten) {
    // "Forgotten" decides without a tally: only a real acceptor may say it.
    if (!isAcceptor(cfg_, from)) {
      ++rejected_;
      return {};
    }
    return onForgotten(t, m.acceptor, m.outcome);
  }
  if (t.participants.empty() || m.participants != t.participants) return {};
  for (const auto& v : m.votes) {
    t.tally.add(m.acceptor, v);
    t.highestRoundSeen = std::max(t.highestRoundSeen, v.ballot.round);
    if (v.vote == Vote::Aborted && t.reason.empty() && !m.reason.empty()) t.reason = m.reason;
  }
  return checkDecision(t);
}

// "Forgotten" from one acceptor is not enough (it may only be below that acceptor's
// low-water mark); from F+1 it is final: none of them holds or will ever take a vote.
Output Leader::onForgotten(Txn& t, NodeId acceptor, std::optional<Outcome> outcome) {
  if (outcome) {
    // A tombstone that kept the outcome: every participant acked it, so it is final.
    if (*outcome == Outcome::Commit) return finish(t, TxnStatus::Committed, "");
    return finish(t, TxnStatus::Aborted,
                  "decided earlier (an acceptor's tombstone kept only the outcome)");
  }
  t.forgottenBy.insert(acceptor);
  if (t.forgottenBy.size() < cfg_.quorum()) return {};
  return finish(t, TxnStatus::Forgotten, "collected after every participant acked");
}

// Retry delay after the attempt-th ballot: doubles up to 16x, with as much jitter, so
// duelling recovery leaders drift apart instead of pre-empting each other forever.
uint64_t Leader::backoff(const Txn& t) {
  uint64_t base = cfg_.ballotRetryTicks << std::min<uint32_t>(t.attempts, 4);
  return base + jitter(base);
}

Output Leader::checkDecision(Txn& t) {
  auto d = t.tally.decision();
  if (!d) return {};
  if (*d == Outcome::Commit) return finish(t, TxnStatus::Committed, "");
  std::string reason = t.reason;
  if (reason.empty()) {
    reason = t.recovery ? "recovery chose aborted (a participant did not vote in time)"
                        : "a participant voted aborted";
  }
  return finish(t, TxnStatus::Aborted, reason);
}

Output Leader::finish(Txn& t, TxnStatus status, const std::string& reason) {
  Output out;
  for (NodeId c : t.clients)
    out.send.push_back(Envelope{self_, c, CommitReply{t.txn, status, reason}});
  for (NodeId a : t.askers) out.send.push_back(Envelope{self_, a, OutcomeReply{t.txn, status}});
  if (status == TxnStatus::Committed || status == TxnStatus::Aborted) {
    Outcome o = status == TxnStatus::Committed ? Outcome::Commit : Outcome::Abort;
    out.learned.push_back(Learned{t.txn, o});
    // Phase 3. The faster variant at ballot 0 needs none: participants heard the 2b.
    // After a recovery we always tell them: some may have missed 2b at the new ballot.
    // Only a member is believed (membership.h): a paxos-direct client leader tells nobody;
    // its participants learn from the acceptors' 2b, or recover themselves.
    if ((cfg_.protocol == Protocol::PaxosClassic || t.recovery) && isMember()) {
      for (NodeId p : t.participants) {
        if (p != self_) out.send.push_back(Envelope{self_, p, OutcomeMsg{t.txn, o}});
      }
    }
  }
  if (status != TxnStatus::Unknown) remember(t.txn, status);
  active_.erase(t.txn);
  return out;
}

bool Leader::isMember() const { return isCoordinator(cfg_, self_) || isParticipant(cfg_, self_); }

void Leader::remember(const TxnId& txn, TxnStatus status) {
  finished_[txn] = status;
  // Bounded: forget the oldest ids first (ids roughly order by age).
  while (finished_.size() > cfg_.outcomeCacheCap) finished_.erase(finished_.begin());
}

std::optional<TxnStatus> Leader::finishedStatus(const TxnId& txn) const {
  auto it = finished_.find(txn);
  if (it == finished_.end()) return std::nullopt;
  return it->second;
}

const CommitRequest* Leader::request(const TxnId& txn) const {
  auto it = active_.find(txn);
  if (it == active_.end() || it->second.recovery) return nullptr;
  return &it->second.request;
}

Output Leader::onTick(uint64_t now) {
  Output out;
  std::vector<TxnId> due;
  for (auto& [id, t] : active_) {
    if (now >= t.retryTick || (t.phase == Phase::Ballot0 && now >= t.deadlineTick)) {
      due.push_back(id);
    } else {
      out.wakeAt(std::min(t.retryTick, t.phase == Phase::Ballot0 ? t.deadlineTick : t.retryTick));
    }
  }
  for (const TxnId& id : due) {
    Txn& t = active_.at(id);
    switch (t.phase) {
      case Phase::Ballot0:
        if (now >= t.deadlineTick) {
          // No decision in time: take over at a higher ballot (participants that never
          // voted will be voted Aborted by phase 2).
          out.append(startBallot(t, now));
        } else {
          // Resend prepare to participants we have not heard of (prepare may be lost).
          ParticipantList silent = t.tally.silentInstances();
          appendPrepares(out, self_, t.request, [&](NodeId p) { return contains(silent, p); });
          t.retryTick = now + cfg_.prepareRetryTicks;
          out.wakeAt(std::min(t.retryTick, t.deadlineTick));
        }
        break;
      case Phase::Query:
        t.queryReplies.clear();
        for (NodeId a : cfg_.acceptors) {
          out.send.push_back(Envelope{self_, a, Phase1a{t.txn, Ballot::zero(), {}}});
        }
        t.retryTick = now + cfg_.ballotRetryTicks + jitter(cfg_.ballotRetryTicks);
        out.wakeAt(t.retryTick);
        break;
      case Phase::Phase1:
      case Phase::Phase2:
        out.append(startBallot(t, now));
        break;
    }
  }
  return out;
}

void Leader::snapshotInto(Snapshot& s) const {
  s.leaderRound = persistedRound_;
  s.nextRound = nextRound_;
  for (const auto& [txn, status] : finished_) {
    if (status == TxnStatus::Committed) s.leaderOutcomes[txn] = Outcome::Commit;
    if (status == TxnStatus::Aborted) s.leaderOutcomes[txn] = Outcome::Abort;
  }
}

void Leader::checkInvariants() const {
  PC_ASSERT(nextRound_ > persistedRound_, nextRound_, persistedRound_);
  PC_ASSERT(finished_.size() <= cfg_.outcomeCacheCap, finished_.size());
  for (const auto& [id, t] : active_) {
    PC_ASSERT(id == t.txn, id, t.txn);
    if (t.phase == Phase::Phase1 || t.phase == Phase::Phase2) {
      PC_ASSERT(t.ballot.round >= 1 && t.ballot.leader == self_, t.txn, t.ballot);
      PC_ASSERT(t.ballot.round < nextRound_, t.txn, t.ballot, nextRound_);
    }
    if (t.phase == Phase::Phase2) PC_ASSERT(t.ballot.round <= persistedRound_, t.ballot);
    PC_ASSERT(t.phase == Phase::Query || !t.participants.empty(), t.txn);
  }
}

}  // namespace pc
