#include "paxos_commit/acceptor.h"

#include <algorithm>

#include "paxos_commit/assert.h"
#include "paxos_commit/canary.h"
#include "paxos_commit/membership.h"

namespace pc {

namespace {

// Where the vote of `instance` is, or would go, in `votes` (sorted by instance).
template <typename Votes>
auto voteSlot(Votes& votes, NodeId instance) {
  return std::lower_bound(votes.begin(), votes.end(), instance,
                          [](const InstanceVote& x, NodeId i) { return x.instance < i; });
}

bool bundled(const std::vector<InstanceVote>& votes, NodeId instance) {
  auto it = voteSlot(votes, instance);
  return it != votes.end() && it->instance == instance;
}

}  // namespace

Acceptor::Acceptor(NodeId self, const CoreConfig& cfg, const Recovered& recovered)
    : Node(self), cfg_(cfg), lowWater_(recovered.acceptorLowWater) {
  for (const auto& r : recovered.acceptorTxns) {
    Live l;
    l.rec = r;
    if constexpr (kCanary == kCanaryForgetMbal) {
      // Planted bug: the promise (mbal) is not reloaded, only the last vote.
      for (auto& i : l.rec.instances) i.mbal = i.bal.value_or(Ballot::zero());
    }
    l.ackRequestTick = cfg_.ackRequestTicks;
    txns_.emplace(r.txn, std::move(l));
  }
  for (const auto& t : recovered.acceptorTombstones) tombstones_.emplace(t.txn, t.outcome);
}

bool Acceptor::forgotten(const TxnId& txn) const {
  if (txn <= lowWater_) return txns_.count(txn) == 0;
  // A new transaction's id is above every tombstone (ids grow with the client's clock):
  // no walk down tombstoneCap entries to learn it is not there.
  if (tombstones_.empty() || txn > tombstones_.rbegin()->first) return false;
  return tombstones_.count(txn) != 0 && txns_.count(txn) == 0;
}

bool Acceptor::isForgotten(const TxnId& txn) const { return forgotten(txn); }

std::optional<Outcome> Acceptor::tombstoneOutcome(const TxnId& txn) const {
  auto it = tombstones_.find(txn);
  if (it == tombstones_.end()) return std::nullopt;
  return it->second;  // may be nullopt too: no ack said which
}

const AcceptorTxnRecord* Acceptor::state(const TxnId& txn) const {
  auto it = txns_.find(txn);
  return it == txns_.end() ? nullptr : &it->second.rec;
}

AcceptorInstance* Acceptor::instance(AcceptorTxnRecord& r, NodeId i) {
  for (auto& inst : r.instances) {
    if (inst.instance == i) return &inst;
  }
  return nullptr;
}

Acceptor::Live& Acceptor::liveFor(const TxnId& txn, const ParticipantList& participants,
                                  NodeId leader) {
  auto it = txns_.find(txn);
  if (it != txns_.end()) return it->second;
  Live l;
  l.rec.txn = txn;
  l.rec.participants = participants;
  l.rec.leader = leader;
  ParticipantList instances = instancesOf(cfg_.protocol, participants);
  l.rec.instances.reserve(instances.size());
  for (NodeId i : instances) l.rec.instances.push_back(AcceptorInstance{i, Ballot::zero(), {}, {}});
  l.ackRequestTick = now_ + cfg_.ackRequestTicks;
  return txns_.emplace(txn, std::move(l)).first->second;
}

Phase2b Acceptor::makePhase2b(const Live& l) const {
  Phase2b b;
  b.txn = l.rec.txn;
  b.acceptor = self_;
  b.participants = l.rec.participants;
  b.votes.reserve(l.rec.instances.size());
  for (const auto& i : l.rec.instances) {
    if (i.bal) b.votes.push_back(InstanceVote{i.instance, *i.bal, *i.val});
  }
  return b;
}

// Phase 2b goes to the leader, and in the faster variant to every participant too.
// Precondition: every vote in it is in a record of this Output or an earlier one.
void Acceptor::send2b(Output& out, const Live& l) const {
  Phase2b b = makePhase2b(l);
  if (b.votes.empty()) return;
  // The last copy moves: one fewer copy of the lists per 2b sent.
  const bool toParticipants = acceptorsTellParticipants(cfg_.protocol);
  const NodeId leader = l.rec.leader;
  size_t count = leader != kNoNode ? 1 : 0;
  if (toParticipants) {
    count += l.rec.participants.size() - (contains(l.rec.participants, leader) ? 1 : 0);
  }
  reserveMore(out.send, count);
  auto push = [&](NodeId n) {
    if (--count == 0) {
      out.send.push_back(Envelope{self_, n, std::move(b)});
    } else {
      out.send.push_back(Envelope{self_, n, b});
    }
  };
  if (leader != kNoNode) push(leader);
  if (toParticipants) {
    for (NodeId p : l.rec.participants) {
      if (p != leader) push(p);
    }
  }
}

Output Acceptor::replyForgotten(NodeId to, const TxnId& txn, bool phase1, const Ballot& b) const {
  Output out;
  if (to == kNoNode) return out;
  if (phase1) {
    Phase1b r;
    r.txn = txn;
    r.acceptor = self_;
    r.ballot = b;
    r.forgotten = true;
    r.outcome = tombstoneOutcome(txn);
    out.send.push_back(Envelope{self_, to, r});
  } else {
    Phase2b r;
    r.txn = txn;
    r.acceptor = self_;
    r.forgotten = true;
    r.outcome = tombstoneOutcome(txn);
    out.send.push_back(Envelope{self_, to, r});
  }
  return out;
}

Output Acceptor::onMessage(const Envelope& e) {
  if (const auto* m = std::get_if<Phase2a>(&e.msg)) return onPhase2a(e.from, *m);
  if (const auto* m = std::get_if<Phase1a>(&e.msg)) return onPhase1a(e.from, *m);
  if (const auto* m = std::get_if<AckBatch>(&e.msg)) return onAckBatch(e.from, *m);
  if (const auto* m = std::get_if<Ack>(&e.msg)) return onAck(e.from, *m);
  ++rejected_;  // not a message for an acceptor
  return {};
}

// Validate before touching state: bad input is dropped and counted, never trusted.
bool Acceptor::validPhase2a(NodeId from, const Phase2a& m) const {
  bool ok = !m.txn.isZero() && !m.participants.empty() && isSortedUnique(m.participants) &&
            !m.votes.empty() && firstNonMember(cfg_, m.participants) == kNoNode;
  for (const auto& v : m.votes) {
    ok = ok && isInstanceOf(cfg_.protocol, m.participants, v.instance) && roundInRange(v.ballot);
    // Ballot 0 of instance i belongs to participant i alone (2pc-replicated: the decision
    // instance's to a coordinator, value Commit only); a higher ballot to its leader, who
    // must be one that may lead this transaction.
    ok = ok &&
         (v.ballot.isZero() ? mayVoteAtZero(cfg_, from, v)
                            : (v.ballot.leader == from && mayLead(cfg_, from, m.participants)));
  }
  return ok;
}

Output Acceptor::onPhase2a(NodeId from, const Phase2a& m) {
  if (!validPhase2a(from, m)) {
    ++rejected_;
    return {};
  }
  if (forgotten(m.txn)) {
    Output out = replyForgotten(m.leader, m.txn, false, {});
    if (from != m.leader) out.append(replyForgotten(from, m.txn, false, {}));
    return out;
  }
  auto lit = txns_.find(m.txn);
  auto bit = bundles_.find(m.txn);
  if ((lit != txns_.end() && lit->second.rec.participants != m.participants) ||
      (bit != bundles_.end() && bit->second.participants != m.participants)) {
    ++rejected_;  // one id, one participant list (docs/PROTOCOL.md §2)
    return {};
  }
  TwoAEffect fx;
  for (const auto& v : m.votes) {
    if (v.ballot.isZero()) {
      takeVote0(m, v, fx);
    } else {
      takeHigherVote(m, v, fx);
    }
    if (fx.refused) {
      ++rejected_;
      return {};
    }
  }
  return answer2a(m, fx);
}

// Phase 2a at ballot 0 (a participant's own vote): held in the transaction's bundle until
// every instance voted (or the cap expires), unless it settles the transaction (Aborted).
void Acceptor::takeVote0(const Phase2a& m, const InstanceVote& v, TwoAEffect& fx) {
  auto lit = txns_.find(m.txn);
  if (lit != txns_.end()) {
    AcceptorInstance* inst = instance(lit->second.rec, v.instance);
    PC_ASSERT(inst != nullptr, m.txn, v.instance);
    if (inst->bal) {
      if (inst->bal->isZero() && *inst->val != v.vote) {
        fx.refused = true;  // a participant never votes twice at ballot 0: refuse the second
        return;
      }
      fx.answerDuplicate = true;  // pitfall 5: the same 2a gets the same 2b
      return;
    }
    if (!inst->mbal.isZero()) return;  // a recovery leader took over: stale
  }
  auto& b = bundles_[m.txn];
  if (b.votes.empty()) {
    b.participants = m.participants;
    b.leader = m.leader;
    b.capTick = now_ + cfg_.bundleCapTicks;
  }
  auto pos = voteSlot(b.votes, v.instance);
  if (pos == b.votes.end() || pos->instance != v.instance) {
    b.votes.insert(pos, v);
  } else if (pos->vote != v.vote) {
    fx.refused = true;
    return;
  }
  if (v.vote == Vote::Aborted) {
    fx.flushNow = true;  // an Aborted vote settles the transaction: do not wait
    fx.reason = m.reason;
  }
  if (lit != txns_.end() && lit->second.bundleExpired) fx.flushNow = true;
}

// Phase 2a at ballot b > 0 (a leader's): accept iff b >= mbal (we promised nothing higher).
void Acceptor::takeHigherVote(const Phase2a& m, const InstanceVote& v, TwoAEffect& fx) {
  Live& l = liveFor(m.txn, m.participants, m.leader);
  AcceptorInstance* inst = instance(l.rec, v.instance);
  PC_ASSERT(inst != nullptr, m.txn, v.instance);
  if (v.ballot < inst->mbal) return;
  if (inst->bal && *inst->bal == v.ballot && *inst->val != v.vote) {
    ++rejected_;  // at most one value per (instance, ballot): refuse a second one
    return;
  }
  if (!(inst->bal && *inst->bal == v.ballot)) {
    inst->mbal = v.ballot;
    inst->bal = v.ballot;
    inst->val = v.vote;
    fx.higherChanged = true;
  } else {
    fx.answerDuplicate = true;
  }
  l.rec.leader = m.leader;
}

// Phase 2b for what a 2a changed: the bundle written if complete, higher-ballot votes
// persisted, then one 2b -- every vote in it durable first (pitfall 3).
Output Acceptor::answer2a(const Phase2a& m, const TwoAEffect& fx) {
  Output out;
  auto lit = txns_.find(m.txn);
  auto bit = bundles_.find(m.txn);
  bool flushNow = fx.flushNow;
  // Is the bundle complete (every instance voted, here or durably before)?
  if (bit != bundles_.end() && !flushNow) {
    size_t have = bit->second.votes.size();
    if (lit != txns_.end()) {
      for (const auto& i : lit->second.rec.instances) {
        if (i.bal && !bundled(bit->second.votes, i.instance)) ++have;
      }
    }
    flushNow = have >= instanceCount(cfg_.protocol, m.participants);
  }
  if (bit != bundles_.end() && flushNow) {
    // The flush writes the whole record (with any higher-ballot vote of this same message)
    // and answers with one 2b. If every bundled vote was superseded it writes nothing, and
    // the higher-ballot votes are persisted and answered below.
    out = flushBundle(m.txn, std::move(out));
    bit = bundles_.end();  // flushBundle erased it (found by fuzz_cores: use after free below)
    if (!fx.reason.empty() && !out.send.empty()) {
      for (auto& e : out.send) std::get<Phase2b>(e.msg).reason = fx.reason;
    }
    if (!out.persist.empty()) return out;
  }
  if (fx.higherChanged) {
    Live& l = txns_.at(m.txn);
    out.wakeAt(l.ackRequestTick);
    // mbal = bal = b, val = v durable before the 2b (pitfall 3).
    out.persist.push_back(l.rec);
    send2b(out, l);
  } else if (fx.answerDuplicate) {
    send2b(out, txns_.at(m.txn));
  }
  if constexpr (kCanary != kCanarySilentTimer) {
    if (bit != bundles_.end()) out.wakeAt(bit->second.capTick);
  }
  return out;
}

Output Acceptor::flushBundle(const TxnId& txn, Output out) {
  auto bit = bundles_.find(txn);
  if (bit == bundles_.end()) return out;
  Bundle b = std::move(bit->second);
  bundles_.erase(bit);
  Live& l = liveFor(txn, b.participants, b.leader);
  out.wakeAt(l.ackRequestTick);  // armed with the state: announced with it (output.h, 3)
  bool changed = false;
  for (const auto& v : b.votes) {
    AcceptorInstance* inst = instance(l.rec, v.instance);
    PC_ASSERT(inst != nullptr, txn, v.instance);
    // Still valid only if no leader promised a higher ballot meanwhile.
    if (inst->mbal.isZero() && !inst->bal) {
      inst->bal = Ballot::zero();
      inst->val = v.vote;
      changed = true;
    }
  }
  if (changed) {
    if (l.rec.leader == kNoNode) l.rec.leader = b.leader;
    // One write for all the instances of this transaction, then one bundled 2b.
    out.persist.push_back(l.rec);
    send2b(out, l);
  }
  return out;
}

// A query (no participant list) or a phase 1a at a ballot > 0 owned by its sender, who may
// lead this transaction, naming members only, within kRoundMax.
bool Acceptor::validPhase1a(NodeId from, const Phase1a& m) const {
  if (m.txn.isZero() || !isSortedUnique(m.participants)) return false;
  if (firstNonMember(cfg_, m.participants) != kNoNode || !roundInRange(m.ballot)) return false;
  if (!mayLead(cfg_, from, m.participants)) return false;
  // Ballots > 0 belong to the leader that sends them.
  return m.participants.empty() || (m.ballot.round != 0 && m.ballot.leader == from);
}

Output Acceptor::onPhase1a(NodeId from, const Phase1a& m) {
  if (!validPhase1a(from, m)) {
    ++rejected_;
    return {};
  }
  if (forgotten(m.txn)) return replyForgotten(from, m.txn, true, m.ballot);
  auto lit = txns_.find(m.txn);
  Phase1b r;
  r.txn = m.txn;
  r.acceptor = self_;
  r.ballot = m.ballot;

  if (m.participants.empty()) {
    // A query for the participant list: promises nothing, changes nothing.
    if (lit != txns_.end()) {
      r.participants = lit->second.rec.participants;
    } else if (auto bit = bundles_.find(m.txn); bit != bundles_.end()) {
      r.participants = bit->second.participants;
    }
    Output out;
    out.send.push_back(Envelope{self_, from, r});
    return out;
  }
  if (lit != txns_.end() && lit->second.rec.participants != m.participants) {
    ++rejected_;
    return {};
  }
  // Votes still waiting in a bundle become durable now, so this 1b can report them.
  Output out = flushBundle(m.txn, Output{});
  Live& l = liveFor(m.txn, m.participants, kNoNode);
  out.wakeAt(l.ackRequestTick);
  Ballot maxMbal;
  for (const auto& i : l.rec.instances) maxMbal = std::max(maxMbal, i.mbal);
  if (m.ballot < maxMbal) {
    // Promised a higher ballot already: tell the leader so it can skip ahead.
    r.promised = false;
    r.mbal = maxMbal;
    out.send.push_back(Envelope{self_, from, r});
    return out;
  }
  bool raised = false;
  for (auto& i : l.rec.instances) {
    if (i.mbal < m.ballot) {
      i.mbal = m.ballot;
      raised = true;
    }
  }
  // Phase 1b: mbal must be durable before we answer, or a restarted acceptor could
  // promise a lower ballot again (pitfall 3). The record of a flush above goes too.
  if (raised) {
    bool already = false;
    for (auto& rec : out.persist) {
      if (auto* a = std::get_if<AcceptorTxnRecord>(&rec); a && a->txn == m.txn) {
        *a = l.rec;
        already = true;
      }
    }
    if (!already) out.persist.push_back(l.rec);
  }
  r.promised = true;
  r.mbal = m.ballot;
  r.participants = l.rec.participants;
  for (const auto& i : l.rec.instances)
    r.reports.push_back(InstanceReport{i.instance, i.bal, i.val});
  out.send.push_back(Envelope{self_, from, r});
  return out;
}

Output Acceptor::onAck(NodeId from, const Ack& m) {
  Output out;
  takeAck(from, m, out);
  capTombstones(out);
  return out;
}

// GC acks batched (docs/PROTOCOL.md §4): each entry is handled as an Ack alone, and every
// tombstone the batch leaves goes in this one Output, i.e. one write for the whole batch.
Output Acceptor::onAckBatch(NodeId from, const AckBatch& m) {
  Output out;
  for (const Ack& a : m.acks) takeAck(from, a, out);
  capTombstones(out);
  return out;
}

void Acceptor::takeAck(NodeId from, const Ack& m, Output& out) {
  // A participant acks for itself alone: a forged ack could collect our state early and
  // leave a tombstone with a forged outcome.
  if (from != m.participant || !isParticipant(cfg_, from)) {
    ++rejected_;
    return;
  }
  auto it = txns_.find(m.txn);
  if (it == txns_.end()) return;
  Live& l = it->second;
  if (!contains(l.rec.participants, m.participant)) {
    ++rejected_;
    return;
  }
  auto at = std::lower_bound(l.acked.begin(), l.acked.end(), m.participant);
  if (at == l.acked.end() || *at != m.participant) l.acked.insert(at, m.participant);
  if (m.outcome) l.ackedOutcome = m.outcome;  // every participant that knows acks the same
  if (l.acked.size() < l.rec.participants.size()) return;
  // Every participant made its outcome durable: nobody needs this state any more
  // (pitfall 7). Keep a tombstone so a late 1a/2a is refused, not a fresh instance.
  std::optional<Outcome> outcome = l.ackedOutcome;
  out.persist.push_back(AcceptorForgetRecord{m.txn, outcome});
  txns_.erase(it);
  bundles_.erase(m.txn);
  if (m.txn > lowWater_) tombstones_.emplace(m.txn, outcome);
}

// Tombstones beyond tombstoneCap: drop the oldest and raise the low-water mark over them.
void Acceptor::capTombstones(Output& out) {
  if (tombstones_.size() <= cfg_.tombstoneCap) return;
  size_t drop = tombstones_.size() - cfg_.tombstoneCap;
  TxnId mark;
  for (size_t k = 0; k < drop; ++k) {
    mark = tombstones_.begin()->first;
    tombstones_.erase(tombstones_.begin());
  }
  lowWater_ = mark;
  out.persist.push_back(AcceptorLowWaterRecord{mark});
}

Output Acceptor::onTick() {
  ++now_;
  Output out;
  std::vector<TxnId> expired;
  for (const auto& [txn, b] : bundles_) {
    if (now_ >= b.capTick) {
      expired.push_back(txn);
    } else {
      if constexpr (kCanary != kCanarySilentTimer) out.wakeAt(b.capTick);
    }
  }
  for (const auto& txn : expired) {
    // docs/PROTOCOL.md §6.8: the wait for the other instances is capped; answer what we have,
    // and answer later votes of this transaction at once.
    out = flushBundle(txn, std::move(out));
    auto it = txns_.find(txn);
    if (it != txns_.end()) it->second.bundleExpired = true;
  }
  for (auto& [txn, l] : txns_) {
    if (now_ < l.ackRequestTick) {
      out.wakeAt(l.ackRequestTick);
      continue;
    }
    // Acks went missing (lost, or we restarted): ask the participants that owe one.
    for (NodeId p : l.rec.participants) {
      if (!contains(l.acked, p)) out.send.push_back(Envelope{self_, p, AckRequest{txn}});
    }
    l.ackRequestTick = now_ + cfg_.ackRequestTicks;
    out.wakeAt(l.ackRequestTick);
  }
  return out;
}

Snapshot Acceptor::snapshot() const {
  Snapshot s;
  s.lowWater = lowWater_;
  for (const auto& [txn, l] : txns_) {
    for (const auto& i : l.rec.instances) s.instances[{txn, i.instance}] = i;
  }
  for (const auto& [txn, o] : tombstones_) {
    if (o) s.outcomes[txn] = *o;
  }
  return s;
}

void Acceptor::checkInvariants() const {
  PC_ASSERT(tombstones_.size() <= cfg_.tombstoneCap, tombstones_.size());
  for (const auto& [txn, l] : txns_) {
    PC_ASSERT(txn == l.rec.txn, txn);
    PC_ASSERT(tombstones_.count(txn) == 0, txn);
    PC_ASSERT(isSortedUnique(l.acked), txn);
    const ParticipantList instances = instancesOf(cfg_.protocol, l.rec.participants);
    PC_ASSERT(l.rec.instances.size() == instances.size(), txn);
    for (size_t k = 0; k < l.rec.instances.size(); ++k) {
      const auto& i = l.rec.instances[k];
      PC_ASSERT(i.instance == instances[k], txn, i.instance);
      PC_ASSERT(i.bal.has_value() == i.val.has_value(), txn, i.instance);
      if (i.bal) PC_ASSERT(*i.bal <= i.mbal, txn, i.instance, *i.bal, i.mbal);
    }
  }
  for (const auto& [txn, b] : bundles_) {
    PC_ASSERT(!b.votes.empty(), txn);
    for (size_t k = 0; k < b.votes.size(); ++k) {
      PC_ASSERT(b.votes[k].ballot.isZero(), txn, b.votes[k].instance);
      PC_ASSERT(k == 0 || b.votes[k - 1].instance < b.votes[k].instance, txn, b.votes[k].instance);
    }
  }
}

}  // namespace pc
