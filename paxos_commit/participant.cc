#include "paxos_commit/participant.h"

#include <algorithm>

#include "paxos_commit/assert.h"
#include "paxos_commit/membership.h"

namespace pc {

namespace {
bool finished(ParticipantState s) { return s != ParticipantState::Prepared; }

// The outcome a finished state stands for.
Outcome outcomeOf(ParticipantState s) {
  return s == ParticipantState::Committed ? Outcome::Commit : Outcome::Abort;
}

// The ballot-0 vote a recorded state implies. Aborted is reached only from Prepared.
Vote voteOf(ParticipantState s) {
  return s == ParticipantState::VotedAborted ? Vote::Aborted : Vote::Prepared;
}
}  // namespace

Participant::Participant(NodeId self, const CoreConfig& cfg, Engine& engine, uint64_t seed,
                         const Recovered& recovered)
    : Node(self),
      cfg_(cfg),
      engine_(engine),
      rng_(seed),
      leader_(self, cfg_, rng_, recovered.leaderRound),
      lowWater_(recovered.participantLowWater) {
  PC_ASSERT(cfg_.fanOutWindowShift < 64, cfg_.fanOutWindowShift);
  for (const auto& r : recovered.participantTxns) {
    Txn t;
    t.rec = r;
    t.tally = VoteTally(r.participants, cfg_.acceptors, cfg_.quorum());
    if (r.state == ParticipantState::Prepared) {
      // Restart: a prepared transaction keeps its locks and waits for its outcome; it is
      // never aborted on our own (pitfall 1). Recovery starts after the usual timeout.
      engine_.restorePrepared(r.txn, r.payload);
      t.recoveryTick = firstRecoveryDelay();
      prepared_.insert(r.txn);
    } else {
      ++finishedCount_;
      if (r.heuristic == Heuristic::Pending) {
        // An operator decided it; the coordinator's decision is still to be asked for.
        t.recoveryTick = recoveryDelay();
        heuristicPending_.insert(r.txn);
      }
    }
    txns_.emplace(r.txn, std::move(t));
  }
}

// 2pc-replicated asks its coordinator a ballot retry before the recovery timeout, so that
// without an answer its recovery at the acceptors starts at the timeout, as in Paxos Commit.
uint64_t Participant::firstRecoveryDelay() {
  uint64_t d = recoveryDelay();
  if (cfg_.protocol == Protocol::TwoPCReplicated) d -= std::min(cfg_.ballotRetryTicks, d / 2);
  return d;
}

uint64_t Participant::recoveryDelay() {
  return cfg_.recoveryTimeoutTicks + rng_.below(cfg_.recoveryJitterTicks);
}

std::optional<ParticipantState> Participant::stateOf(const TxnId& txn) const {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return std::nullopt;
  return it->second.rec.state;
}

std::vector<InDoubt> Participant::inDoubt() const {
  std::vector<InDoubt> out;
  for (const auto& [id, t] : txns_) {
    if (t.rec.state != ParticipantState::Prepared) continue;
    out.push_back(InDoubt{id, t.sinceTick, t.rec.participants, t.rec.leader, leader_.isActive(id)});
  }
  return out;
}

// 1b and 2b come from a configured acceptor speaking for itself (tallyCounts: the same
// rule the tally applies), or not at all.
bool Participant::validAcceptorReply(NodeId from, NodeId acceptor) const {
  return from == acceptor && tallyCounts(cfg_.acceptors, from);
}

Output Participant::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<Prepare>(&e.msg)) return onPrepare(e.from, *m);
  if (const auto* m = std::get_if<Phase2b>(&e.msg)) {
    if (!validAcceptorReply(e.from, m->acceptor)) {
      ++rejected_;
      return {};
    }
    Output out = onPhase2b(*m);
    out.append(absorbLeader(leader_.onPhase2b(e.from, *m, now_)));
    return out;
  }
  if (const auto* m = std::get_if<Phase1b>(&e.msg)) {
    if (!validAcceptorReply(e.from, m->acceptor)) {
      ++rejected_;
      return {};
    }
    Output out = m->forgotten ? onForgotten(m->txn, m->acceptor) : Output{};
    out.append(absorbLeader(leader_.onPhase1b(e.from, *m, now_)));
    return out;
  }
  if (const auto* m = std::get_if<OutcomeMsg>(&e.msg)) return onOutcome(e.from, m->txn, m->outcome);
  if (const auto* m = std::get_if<AckRequest>(&e.msg)) return onAckRequest(e.from, *m);
  if (const auto* m = std::get_if<OutcomeReply>(&e.msg)) return onOutcomeReply(e.from, *m);
  ++rejected_;
  return {};
}

// A Prepare names its leader, which must be the sender, and a coordinator -- or a client
// leading ballot 0 itself (not a member): in paxos-direct any sender, in the other Paxos
// modes a client id (client/client.h ClientMode::Direct, "Paxos protocols only"). Every
// participant it names must be in the cluster, us among them: no durable state otherwise.
bool Participant::validPrepare(NodeId from, const Prepare& m) const {
  if (m.txn.isZero() || !isSortedUnique(m.participants) || !contains(m.participants, self_)) {
    return false;
  }
  if (m.leader == kNoNode || m.leader != from) return false;
  const bool clientLeader =
      cfg_.protocol == Protocol::PaxosDirect ||
      (isPaxos(cfg_.protocol) && !coordinatorCollectsVotes(cfg_.protocol) && isClientId(from));
  if (!isCoordinator(cfg_, from) && !clientLeader) return false;
  return firstNonMember(cfg_, m.participants) == kNoNode;
}

Output Participant::onPrepare(NodeId from, const Prepare& m) {
  if (!validPrepare(from, m)) {
    ++rejected_;
    return {};
  }
  auto it = txns_.find(m.txn);
  if (it != txns_.end()) return onRepeatedPrepare(it->second, m);
  if (m.txn <= lowWater_) return {};  // finished and forgotten long ago: a late duplicate

  PrepareResult r = engine_.prepare(m.txn, m.payload);
  Txn t;
  t.rec.txn = m.txn;
  t.rec.state =
      r.vote == Vote::Prepared ? ParticipantState::Prepared : ParticipantState::VotedAborted;
  t.rec.payload = m.payload;
  t.rec.participants = m.participants;
  t.rec.leader = m.leader;
  t.rec.reason = r.reason;
  t.tally = VoteTally(m.participants, cfg_.acceptors, cfg_.quorum());
  t.sinceTick = now_;
  Txn& ref = txns_.emplace(m.txn, std::move(t)).first->second;
  if (ref.rec.state == ParticipantState::Prepared) prepared_.insert(m.txn);

  Output out;
  // The vote is durable before it leaves: a restarted participant must never vote
  // differently at ballot 0 (docs/PROTOCOL.md §3, §8).
  out.persist.push_back(ref.rec);
  out.append(sendVote(ref, cfg_.fanOut == FanOut::All));
  if (ref.rec.state == ParticipantState::VotedAborted) {
    // Our own ballot-0 Aborted settles the transaction (docs/PROTOCOL.md §4).
    engine_.abort(m.txn, m.payload);
    ++finishedCount_;
    out.learned.push_back(Learned{m.txn, Outcome::Abort});
    if (isPaxos(cfg_.protocol)) queueAck(ref, out);
  } else {
    ref.recoveryTick = now_ + firstRecoveryDelay();
    out.wakeAt(ref.recoveryTick);
    if (!ref.fannedOutAll) out.wakeAt(ref.fanOutTick);
  }
  return out;
}

// A Prepare for a transaction we hold a record of: the same vote again, never another one.
Output Participant::onRepeatedPrepare(Txn& t, const Prepare& m) {
  if (t.rec.participants.empty()) {
    // We promised never to vote Prepared for this id (an acceptor asked for an ack before
    // any prepare reached us): answer this late prepare with that Aborted vote.
    t.rec.participants = m.participants;
    t.rec.payload = m.payload;
    t.rec.leader = m.leader;
    t.tally = VoteTally(m.participants, cfg_.acceptors, cfg_.quorum());
    return sendVote(t, true);
  }
  // One id, one payload and participant list: a different request is refused.
  if (t.rec.payload != m.payload || t.rec.participants != m.participants) {
    ++rejected_;
    return {};
  }
  if (coordinatorCollectsVotes(cfg_.protocol)) {
    if (m.leader != t.rec.leader) {
      // 2PC: one coordinator per transaction. Tell this one whose it is, so it steps
      // back instead of timing out and reporting an abort it cannot decide.
      // (Aborted once we know it aborted, as sendVote answers: never Prepared after an
      // Abort -- 2pc-replicated's clients retry at another coordinator and meet this.)
      Output out;
      Vote v = t.rec.state == ParticipantState::Aborted ? Vote::Aborted : voteOf(t.rec.state);
      out.send.push_back(Envelope{
          self_, m.leader,
          VoteMsg{m.txn, self_, v, "prepared under coordinator " + std::to_string(t.rec.leader),
                  t.rec.leader}});
      return out;
    }
  } else {
    t.rec.leader = m.leader;  // a new leader retried: its 2b should reach it
  }
  // Pitfall 5: a duplicate prepare gets the same vote again, never a different one.
  return sendVote(t, true);
}

Output Participant::sendVote(Txn& t, bool allAcceptors) {
  Output out;
  Vote vote = voteOf(t.rec.state);
  if (coordinatorCollectsVotes(cfg_.protocol)) {
    // The acceptors never hold our vote here: to a coordinator that asks again (after
    // its restart) we answer with what we know now. Answering Prepared after we were told
    // Abort could let it commit while we aborted.
    if (t.rec.state == ParticipantState::Aborted) vote = Vote::Aborted;
    out.send.push_back(
        Envelope{self_, t.rec.leader, VoteMsg{t.rec.txn, self_, vote, t.rec.reason}});
    return out;
  }
  Phase2a m{t.rec.txn,
            t.rec.participants,
            t.rec.leader,
            {InstanceVote{self_, Ballot::zero(), vote}},
            vote == Vote::Aborted ? t.rec.reason : std::string()};
  size_t n = cfg_.acceptors.size();
  // Quorum fan-out: F+1 acceptors starting at one picked by the transaction id, so every
  // participant of a transaction picks the same F+1 (their bundles complete: F+1 writes and
  // (F+1)(N+1) 2b, docs/PROTOCOL.md §7); the rest only if no outcome came in time (see
  // onTick). The pick changes with the id's clock window, not per transaction: with a pick
  // per transaction, concurrent transactions waited on different acceptor pairs, were
  // decided at different times and never grouped their writes again (CoreConfig).
  size_t start = cfg_.fanOutStart(t.rec.txn);
  size_t count = allAcceptors ? n : std::min(n, cfg_.quorum());
  out.send.reserve(count);
  for (size_t k = 0; k < count; ++k) {  // the last copy moves
    NodeId to = cfg_.acceptors[(start + k) % n];
    out.send.push_back(k + 1 == count ? Envelope{self_, to, std::move(m)} : Envelope{self_, to, m});
  }
  t.fannedOutAll = allAcceptors;
  if (!allAcceptors) t.fanOutTick = now_ + cfg_.fanOutFallbackTicks;
  if (allAcceptors) out.append(flushAcks());  // queued acks ride with this vote
  return out;
}

// An acceptor answers "forgotten" for a transaction it holds no state for and that lies
// below its low-water mark. For a transaction we hold Prepared this cannot be a real
// collection (that needs our own ack, and we have not acked), so that acceptor never voted
// in it and never will. Once F+1 acceptors say so, no instance of the transaction can ever
// be chosen: it can never commit, and aborting it is safe. (This happens to a transaction
// whose prepare arrived after the acceptors' low-water mark had passed its id.)
Output Participant::onForgotten(const TxnId& txn, NodeId acceptor) {
  auto it = txns_.find(txn);
  if (it == txns_.end() || it->second.rec.state != ParticipantState::Prepared) return {};
  // Decides without a tally: only a real acceptor may say it (the sender, checked above).
  if (!isAcceptor(cfg_, acceptor)) {
    ++rejected_;
    return {};
  }
  Txn& t = it->second;
  t.forgottenBy.insert(acceptor);
  if (t.forgottenBy.size() < cfg_.quorum()) return {};
  return learn(t, Outcome::Abort);
}

Output Participant::onPhase2b(const Phase2b& m) {
  if (m.forgotten) return onForgotten(m.txn, m.acceptor);
  auto it = txns_.find(m.txn);
  if (it == txns_.end()) return {};
  Txn& t = it->second;
  if (m.participants != t.rec.participants) return {};
  if (t.rec.state != ParticipantState::Prepared) return {};  // learned: its tally is gone
  for (const auto& v : m.votes) t.tally.add(m.acceptor, v);
  // Faster Paxos Commit: decide by the same rule as the leader -- F+1 matching 2b for
  // every instance, never on the first Prepared seen.
  auto d = t.tally.decision();
  if (!d) return {};
  return learn(t, *d);
}

Output Participant::ackTo(const Txn& t, NodeId to) const {
  Output out;
  out.send.push_back(Envelope{self_, to, Ack{t.rec.txn, self_, outcomeOf(t.rec.state)}});
  return out;
}

// Paxos Commit's GC acks go to every acceptor batched (docs/PROTOCOL.md §4): queued here,
// they leave as one AckBatch per acceptor with our next ballot-0 vote to every acceptor
// (the same RPC call, and the acceptor's forget record joins that vote's write), or
// kAckDelayTicks after the first was queued if no vote goes out before. The queue holds
// the outcome, so a record pruned meanwhile still acks what was durable; a restart loses
// the queue, and the acceptors' AckRequest asks again.
void Participant::queueAck(const Txn& t, Output& out) {
  if (pendingAcks_.empty()) acksDueTick_ = now_ + kAckDelayTicks;
  pendingAcks_.push_back(Ack{t.rec.txn, self_, outcomeOf(t.rec.state)});
  if (pendingAcks_.size() >= kMaxAcksPerBatch) {
    out.append(flushAcks());  // a full batch need not wait
  } else {
    out.wakeAt(acksDueTick_);
  }
}

// The acks leave after their records are durable: the caller's pipeline holds every send
// of this Output until each batch handed in before it is (paxos_commit/output.h).
Output Participant::flushAcks() {
  Output out;
  if (pendingAcks_.empty()) return out;
  AckBatch b{std::move(pendingAcks_)};
  pendingAcks_.clear();
  for (NodeId a : cfg_.acceptors) out.send.push_back(Envelope{self_, a, b});
  return out;
}

Output Participant::learn(Txn& t, Outcome o) {
  Output out;
  if (finished(t.rec.state) && t.rec.heuristic != Heuristic::None) {
    // Decided by an operator: the coordinator's outcome is compared, never applied.
    return confirmHeuristic(t, o);
  }
  if (finished(t.rec.state)) {
    if (outcomeOf(t.rec.state) != o) {
      // Two outcomes for one transaction: a safety bug somewhere. Keep ours and report
      // the other, so the simulator's checker sees it with the seed to replay.
      out.learned.push_back(Learned{t.rec.txn, o});
    }
    return out;
  }
  if (o == Outcome::Commit) {
    engine_.commit(t.rec.txn, t.rec.payload);
    t.rec.state = ParticipantState::Committed;
  } else {
    engine_.abort(t.rec.txn, t.rec.payload);
    t.rec.state = ParticipantState::Aborted;
  }
  prepared_.erase(t.rec.txn);
  ++finishedCount_;
  t.tally = VoteTally();  // a finished record keeps no 2b (finishedCap of them are kept)
  // The outcome is durable before the ack: acceptors collect their state on all acks.
  out.persist.push_back(t.rec);
  out.learned.push_back(Learned{t.rec.txn, o});
  if (isPaxos(cfg_.protocol)) {
    queueAck(t, out);
  } else if (o == Outcome::Commit) {
    out.append(ackTo(t, t.rec.leader));  // presumed abort: only Commit needs an ack
  }
  return out;
}

Output Participant::onOutcome(NodeId from, const TxnId& txn, Outcome o) {
  // Phase 3 comes from a coordinator, or from a participant of the transaction leading
  // its recovery; never from a non-member (a paxos-direct client included: we learn its
  // transactions from the acceptors' 2b).
  if (!isCoordinator(cfg_, from) && !isParticipant(cfg_, from)) {
    ++rejected_;
    return {};
  }
  auto it = txns_.find(txn);
  if (it == txns_.end()) return {};
  Txn& t = it->second;
  if (!isCoordinator(cfg_, from) && !contains(t.rec.participants, from)) {
    ++rejected_;
    return {};
  }
  if (coordinatorCollectsVotes(cfg_.protocol) && isCoordinator(cfg_, from) &&
      from != t.rec.leader) {
    // 2PC: only the coordinator that prepared us decides. Another one (a client retried
    // there) knows nothing of our vote; its "abort" could contradict a durable Commit.
    // (2pc-replicated: a participant leading recovery is believed too, see below.)
    ++rejected_;
    return {};
  }
  if (cfg_.protocol == Protocol::TwoPC && from != t.rec.leader) {
    ++rejected_;
    return {};
  }
  bool wasFinished = finished(t.rec.state);
  Output out = learn(t, o);
  if (wasFinished && cfg_.protocol == Protocol::TwoPC && o == Outcome::Commit &&
      (outcomeOf(t.rec.state) == o || t.rec.heuristic != Heuristic::None)) {
    // The coordinator resent: our ack was lost. After a heuristic abort the ack names Abort;
    // it stops the resending (the mismatch is recorded and reported here).
    out.append(ackTo(t, t.rec.leader));
  }
  return out;
}

Output Participant::onAckRequest(NodeId from, const AckRequest& m) {
  // Only an acceptor (Paxos) or a coordinator (2PC) collects acks; an unknown id asking
  // would make us pledge an Aborted vote durably for nothing.
  if (!(isPaxos(cfg_.protocol) ? isAcceptor(cfg_, from) : isCoordinator(cfg_, from))) {
    ++rejected_;
    return {};
  }
  auto it = txns_.find(m.txn);
  if (it != txns_.end()) {
    if (!finished(it->second.rec.state)) return {};  // still in doubt: no ack yet
    return ackTo(it->second, from);
  }
  Output out;
  if (m.txn <= lowWater_) {
    // Finished and forgotten here: our outcome was durable long ago.
    out.send.push_back(Envelope{self_, from, Ack{m.txn, self_, std::nullopt}});
    return out;
  }
  if (!isPaxos(cfg_.protocol)) return out;
  // Never heard of it: promise never to vote Prepared for it (durably), then ack. Our
  // instance can then only be chosen Aborted, so the transaction aborts.
  Txn t;
  t.rec.txn = m.txn;
  t.rec.state = ParticipantState::VotedAborted;
  t.rec.reason = "prepare never arrived";
  t.sinceTick = now_;
  ++finishedCount_;
  Txn& ref = txns_.emplace(m.txn, std::move(t)).first->second;
  out.persist.push_back(ref.rec);
  out.send.push_back(Envelope{self_, from, Ack{m.txn, self_, Outcome::Abort}});
  return out;
}

Output Participant::onOutcomeReply(NodeId from, const OutcomeReply& m) {
  auto it = txns_.find(m.txn);
  if (it == txns_.end()) return {};
  if (from != it->second.rec.leader) return {};  // we ask only our own coordinator
  if (m.status == TxnStatus::Committed) return learn(it->second, Outcome::Commit);
  if (m.status == TxnStatus::Aborted) return learn(it->second, Outcome::Abort);
  if (m.status == TxnStatus::Forgotten && cfg_.protocol == Protocol::TwoPC &&
      (it->second.rec.state == ParticipantState::Prepared ||
       it->second.rec.heuristic == Heuristic::Pending)) {
    // The 2PC coordinator collects a Commit decision only after every participant acked
    // it; we are prepared and have not acked, so it holds no Commit for us: presumed abort.
    return learn(it->second, Outcome::Abort);
  }
  if (cfg_.protocol == Protocol::TwoPCReplicated &&
      it->second.rec.state == ParticipantState::Prepared) {
    // The coordinator does not know (it restarted: it keeps nothing durable): the decision
    // is at the acceptors. Recover it there now rather than after another timeout.
    return recoverAtAcceptors(it->second);
  }
  return {};  // unknown: keep waiting, keep asking
}

// 2pc-replicated: phase 1 (then 2) on the transaction's decision instance at a ballot of
// ours; a free instance gets Abort (docs/PROTOCOL.md §5). Paxos modes: on every instance.
Output Participant::recoverAtAcceptors(Txn& t) {
  if (leader_.isActive(t.rec.txn)) return {};
  return absorbLeader(leader_.recover(t.rec.txn, t.rec.participants, kNoNode, now_));
}

void Participant::answerFor(const TxnId& txn, HeuristicAnswer& a) const {
  auto it = txns_.find(txn);
  if (it == txns_.end()) {
    a.result = txn <= lowWater_ ? HeuristicResult::Forgotten : HeuristicResult::Unknown;
    return;
  }
  const ParticipantTxnRecord& r = it->second.rec;
  a.result = finished(r.state) ? HeuristicResult::Decided : HeuristicResult::InDoubt;
  if (finished(r.state)) a.outcome = outcomeOf(r.state);
  a.heuristic = r.heuristic;
  a.leader = r.leader;
}

Output Participant::onHeuristicDecision(NodeId from, const TxnId& txn, std::optional<Outcome> o,
                                        HeuristicAnswer& a) {
  a = HeuristicAnswer{};
  // Only an operator's tool, which speaks as a client; a cluster member never decides here
  // by hand. (No authentication yet: TLS will restrict this to admin certificates.)
  if (!isClientId(from) || txn.isZero()) {
    ++rejected_;
    a.reason = isClientId(from) ? "no such transaction id" : "only a client may resolve by hand";
    return {};
  }
  answerFor(txn, a);
  if (!o) return {};  // a question only
  if (cfg_.protocol != Protocol::TwoPC) {
    // Paxos Commit never needs an operator: the acceptors hold every vote, and recovery
    // finishes the transaction as soon as F+1 of them are reachable.
    a.result = HeuristicResult::Refused;
    a.reason =
        "Paxos Commit: the acceptors decide; recovery finishes the transaction once F+1 "
        "acceptors are reachable";
    return {};
  }
  if (a.result != HeuristicResult::InDoubt) return {};  // nothing to decide here
  Txn& t = txns_.at(txn);
  if (*o == Outcome::Commit) {
    engine_.commit(t.rec.txn, t.rec.payload);
    t.rec.state = ParticipantState::Committed;
  } else {
    engine_.abort(t.rec.txn, t.rec.payload);
    t.rec.state = ParticipantState::Aborted;
  }
  t.rec.heuristic = Heuristic::Pending;
  prepared_.erase(txn);
  ++finishedCount_;
  heuristicPending_.insert(txn);
  t.recoveryTick = now_ + recoveryDelay();
  Output out;
  // Durable like any outcome (the answer waits for it); no ack: the coordinator decides
  // nothing from it, and in 2PC only a Commit it sent is acked (see onOutcome).
  out.persist.push_back(t.rec);
  out.learned.push_back(Learned{txn, *o});
  out.wakeAt(t.recoveryTick);
  answerFor(txn, a);
  a.result = HeuristicResult::Resolved;
  return out;
}

// The coordinator's outcome for a transaction an operator decided here: recorded once.
Output Participant::confirmHeuristic(Txn& t, Outcome coordinator) {
  if (t.rec.heuristic != Heuristic::Pending) return {};
  t.rec.heuristic = outcomeOf(t.rec.state) == coordinator ? Heuristic::Agreed : Heuristic::Mismatch;
  heuristicPending_.erase(t.rec.txn);
  Output out;
  out.persist.push_back(t.rec);
  return out;
}

Output Participant::absorbLeader(Output&& leaderOut) {
  Output out = std::move(leaderOut);
  std::vector<Learned> learned = out.learned;
  for (const auto& l : learned) {
    auto it = txns_.find(l.txn);
    if (it != txns_.end()) out.append(learn(it->second, l.outcome));
  }
  return out;
}

Output Participant::onTick() {
  ++now_;
  Output out = absorbLeader(leader_.onTick(now_));
  if (now_ >= acksDueTick_) out.append(flushAcks());
  // Only the prepared transactions have timers; finished records (up to the GC cap, 10^5
  // by default) are not walked on every tick.
  // (A copy: a recovery leader may learn an outcome at once, which erases from prepared_.)
  const std::vector<TxnId> due(prepared_.begin(), prepared_.end());
  for (const TxnId& id : due) {
    auto found = txns_.find(id);
    if (found == txns_.end() || found->second.rec.state != ParticipantState::Prepared) continue;
    Txn& t = found->second;
    if (!t.fannedOutAll) {
      if (now_ >= t.fanOutTick) {
        // Quorum fan-out fallback: some of the first F+1 acceptors may be down or slow;
        // the vote goes to the rest now (the first F+1 have it already).
        Output all = sendVote(t, true);
        size_t n = cfg_.acceptors.size();
        for (size_t k = cfg_.quorum(); k < n; ++k) out.send.push_back(all.send[k]);
      } else {
        out.wakeAt(t.fanOutTick);
      }
    }
    if (now_ < t.recoveryTick) {
      out.wakeAt(t.recoveryTick);
      continue;
    }
    if (cfg_.protocol == Protocol::TwoPC) {
      // 2PC: we may not decide; ask the coordinator, again and again (blocking).
      out.send.push_back(Envelope{self_, t.rec.leader, OutcomeQuery{id, t.rec.participants}});
    } else if (cfg_.protocol == Protocol::TwoPCReplicated && !t.askedCoordinator) {
      // 2pc-replicated: ask the coordinator first (cheap, no writes); if it does not answer
      // within a ballot retry, recover at the acceptors without it.
      t.askedCoordinator = true;
      out.send.push_back(Envelope{self_, t.rec.leader, OutcomeQuery{id, t.rec.participants}});
      t.recoveryTick = now_ + cfg_.ballotRetryTicks;
      out.wakeAt(t.recoveryTick);
      continue;
    } else {
      // Paxos Commit: become a recovery leader for this transaction (docs/PROTOCOL.md §5).
      out.append(recoverAtAcceptors(t));
    }
    t.recoveryTick = now_ + recoveryDelay();
    out.wakeAt(t.recoveryTick);
  }
  for (const TxnId& id : heuristicPending_) {
    // Decided by an operator: ask the coordinator that prepared it, again and again, until
    // it says what it decided (agreement or mismatch, docs/PROTOCOL.md §9).
    Txn& t = txns_.at(id);
    if (now_ >= t.recoveryTick) {
      out.send.push_back(Envelope{self_, t.rec.leader, OutcomeQuery{id, t.rec.participants}});
      t.recoveryTick = now_ + recoveryDelay();
    }
    out.wakeAt(t.recoveryTick);
  }
  pruneFinished(out);
  return out;
}

void Participant::pruneFinished(Output& out) {
  if (finishedCount_ <= cfg_.finishedCap) return;
  // Drop the oldest finished records (plus a tenth of the cap, so this runs rarely) and
  // raise the low-water mark above them. Prepared records are never dropped.
  size_t drop = finishedCount_ - cfg_.finishedCap + cfg_.finishedCap / 10;
  TxnId mark = lowWater_;
  for (auto it = txns_.begin(); it != txns_.end() && drop > 0;) {
    if (finished(it->second.rec.state)) {
      mark = it->first;
      // A heuristic decision the coordinator never confirmed goes too: its comparison is
      // lost (docs/PROTOCOL.md §9); unbounded records would be worse.
      heuristicPending_.erase(it->first);
      it = txns_.erase(it);
      --finishedCount_;
      --drop;
    } else {
      ++it;
    }
  }
  if (mark > lowWater_) {
    lowWater_ = mark;
    out.persist.push_back(ParticipantLowWaterRecord{mark});
  }
}

Snapshot Participant::snapshot() const {
  Snapshot s;
  s.lowWater = lowWater_;
  for (const auto& [txn, t] : txns_) {
    if (finished(t.rec.state)) s.outcomes[txn] = outcomeOf(t.rec.state);
  }
  leader_.snapshotInto(s);
  return s;
}

void Participant::checkInvariants() const {
  leader_.checkInvariants();
  size_t fin = 0;
  for (const auto& [id, t] : txns_) {
    PC_ASSERT(id == t.rec.txn, id);
    if (finished(t.rec.state)) ++fin;
    if (!t.rec.participants.empty()) PC_ASSERT(contains(t.rec.participants, self_), id);
  }
  PC_ASSERT(fin == finishedCount_, fin, finishedCount_);
  PC_ASSERT(prepared_.size() + fin == txns_.size(), prepared_.size(), fin, txns_.size());
  for (const TxnId& id : prepared_) {
    PC_ASSERT(txns_.at(id).rec.state == ParticipantState::Prepared, id);
  }
  size_t pending = 0;
  for (const auto& [id, t] : txns_) {
    if (t.rec.heuristic == Heuristic::None) continue;
    PC_ASSERT(
        t.rec.state == ParticipantState::Committed || t.rec.state == ParticipantState::Aborted, id);
    PC_ASSERT(cfg_.protocol == Protocol::TwoPC, id);
    if (t.rec.heuristic == Heuristic::Pending) {
      ++pending;
      PC_ASSERT(heuristicPending_.count(id) == 1, id);
    }
  }
  PC_ASSERT(pending == heuristicPending_.size(), pending, heuristicPending_.size());
}

}  // namespace pc
