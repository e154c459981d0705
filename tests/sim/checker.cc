#include "tests/sim/checker.h"

#include <algorithm>

#include "paxos_commit/assert.h"

namespace pc::sim {

namespace {
std::string optBallot(const Names& names, const std::optional<Ballot>& b) {
  return b ? names.ballot(*b) : std::string("-");
}
// "b2.p1=prepared", or "-" for no vote.
std::string voteText(const Names& names, const std::optional<Ballot>& b,
                     const std::optional<Vote>& v) {
  if (!b) return v ? std::string("-=") + toString(*v) : std::string("-");
  return names.ballot(*b) + "=" + (v ? toString(*v) : "-");
}
}  // namespace

void Checker::fail(const std::string& what) {
  if (violation_.empty()) violation_ = what;
}

void Checker::registerTxn(const CommitRequest& req, uint64_t now) {
  TxnFacts& f = txns_[req.txn];
  PC_ASSERT(f.participants.empty(), req.txn);
  for (const auto& p : req.payloads) {
    f.participants.push_back(p.participant);
    f.payloads[p.participant] = p.payload;
  }
  f.submitTick = now;
}

const TxnFacts* Checker::facts(const TxnId& txn) const {
  auto it = txns_.find(txn);
  return it == txns_.end() ? nullptr : &it->second;
}

TxnFacts& Checker::factsFor(const TxnId& txn) { return txns_[txn]; }

const AcceptorTxnRecord* Checker::durableAcceptor(const SimNode& n, const TxnId& txn) {
  for (const auto& r : n.disk.acceptorTxns) {
    if (r.txn == txn) return &r;
  }
  return nullptr;
}

const ParticipantTxnRecord* Checker::durableParticipant(const SimNode& n, const TxnId& txn) {
  for (const auto& r : n.disk.participantTxns) {
    if (r.txn == txn) return &r;
  }
  return nullptr;
}

// ---- outcomes ----

void Checker::observe(const TxnId& txn, Outcome o, const std::string& where, uint64_t now) {
  ++checks_;
  TxnFacts& f = factsFor(txn);
  if (!f.outcome) {
    f.outcome = o;
    f.outcomeWhere = where;
    f.outcomeTick = now;
    checkOutcomeJustified(txn, o, where);
    return;
  }
  // An outcome, once learned anywhere, never changes (TCConsistent).
  if (*f.outcome != o) {
    fail("outcome changed: " + names_.txn(txn) + " was " + toString(*f.outcome) + " (" +
         f.outcomeWhere + ", t=" + std::to_string(f.outcomeTick) + ") but is now " + toString(o) +
         " (" + where + ")");
  }
}

void Checker::checkOutcomeJustified(const TxnId& txn, Outcome o, const std::string& where) {
  const TxnFacts& f = txns_.at(txn);
  if (f.participants.empty()) return;  // not one of ours: nothing to compare with
  if (o == Outcome::Commit) {
    // Commit only if every participant voted Prepared (ballot-0 votes / 2PC votes seen).
    for (NodeId p : f.participants) {
      auto v = f.firstVote.find(p);
      if (v == f.firstVote.end() || v->second != Vote::Prepared) {
        fail("commit without a Prepared vote: " + names_.txn(txn) + " learned commit (" + where +
             ") but " + names_.node(p) + " never sent a Prepared vote");
        return;
      }
      if (isPaxos(core_.protocol) && core_.protocol != Protocol::TwoPCReplicated) {
        auto c = f.chosen.find(p);
        if (c == f.chosen.end() || c->second.second != Vote::Prepared) {
          fail("commit while instance " + names_.node(p) + " of " + names_.txn(txn) +
               " is not chosen Prepared (" + where + ")");
          return;
        }
      }
    }
    if (core_.protocol == Protocol::TwoPCReplicated) {
      // The coordinator's log: nobody may act on a Commit before F+1 acceptors hold it.
      auto c = f.chosen.find(kDecisionInstance);
      if (c == f.chosen.end() || c->second.second != Vote::Prepared) {
        fail("commit of " + names_.txn(txn) + " (" + where +
             ") while its decision instance is not chosen Commit");
      }
    }
    return;
  }
  if (core_.protocol == Protocol::TwoPCReplicated) {
    // Presumed abort: an Abort needs no chosen value, but never a Commit chosen.
    auto c = f.chosen.find(kDecisionInstance);
    if (c != f.chosen.end() && c->second.second == Vote::Prepared) {
      fail("abort of " + names_.txn(txn) + " (" + where + ") while Commit is chosen");
    }
    return;
  }
  if (!isPaxos(core_.protocol) || f.zeroAbortedSent) return;
  for (const auto& [p, c] : f.chosen) {
    if (c.second == Vote::Aborted) return;
  }
  // Or F+1 acceptors refuse the transaction for good (durably: no state for it, and it is
  // tombstoned or below their low-water mark): nothing can ever be chosen, so it can never
  // commit, and a prepared participant may abort it (Participant::onForgotten).
  if (nodes_ != nullptr) {
    size_t refusing = 0;
    for (const auto& [id, n] : *nodes_) {
      if (n.role != Role::Acceptor) continue;
      const Recovered& d = n.disk;
      bool live = std::any_of(d.acceptorTxns.begin(), d.acceptorTxns.end(),
                              [&](const AcceptorTxnRecord& r) { return r.txn == txn; });
      bool gone = txn <= d.acceptorLowWater ||
                  std::any_of(d.acceptorTombstones.begin(), d.acceptorTombstones.end(),
                              [&](const AcceptorTombstone& t) { return t.txn == txn; });
      if (!live && gone) ++refusing;
    }
    if (refusing >= core_.quorum()) return;
  }
  fail("abort without reason: " + names_.txn(txn) + " learned abort (" + where +
       ") but no instance is chosen Aborted and no participant voted Aborted");
}

void Checker::onLearned(const SimNode& n, const Learned& l, const Output& out, uint64_t now) {
  // Binding at once: a leader's decision (it rests on values chosen at durable acceptors)
  // and a participant's outcome learned from elsewhere. Binding only once durable or sent:
  // a 2PC coordinator's decision (a Commit is a decision when its record is durable; an
  // Abort never escaped if it was not sent) and a participant's own ballot-0 Aborted
  // (until its VotedAborted record is durable a restart may prepare it after all). Those
  // are observed at onPersist / onSend.
  if (n.twoPcCoordinator) return;
  if (n.participant && l.outcome == Outcome::Abort) {
    for (const auto& r : out.persist) {
      const auto* p = std::get_if<ParticipantTxnRecord>(&r);
      if (p && p->txn == l.txn && p->state == ParticipantState::VotedAborted) return;
    }
  }
  observe(l.txn, l.outcome, n.name + " learned", now);
}

// ---- persist ----

void Checker::onPersist(const SimNode& n, const Record& r, uint64_t now) {
  ++checks_;
  if (const auto* a = std::get_if<AcceptorTxnRecord>(&r)) {
    onAcceptorRecord(n, *a);
  } else if (const auto* p = std::get_if<ParticipantTxnRecord>(&r)) {
    onParticipantRecord(n, *p, now);
  } else if (const auto* fr = std::get_if<AcceptorForgetRecord>(&r)) {
    // Pitfall 7: collect only after every participant made its outcome durable.
    auto it = txns_.find(fr->txn);
    if (it != txns_.end()) {
      for (NodeId part : it->second.participants) {
        bool done = durableOutcome_.count({part, fr->txn}) != 0;
        auto v = durableVote_.find({part, fr->txn});
        done = done || (v != durableVote_.end() && v->second == Vote::Aborted);
        // Below a participant's durable low-water mark it refuses every prepare (and a
        // Prepared record is never collected): it can never vote Prepared there.
        if (!done && nodes_ != nullptr) {
          const SimNode& pn = nodes_->at(part);
          done = fr->txn <= pn.disk.participantLowWater &&
                 (durableParticipant(pn, fr->txn) == nullptr ||
                  durableParticipant(pn, fr->txn)->state != ParticipantState::Prepared);
        }
        if (!done) {
          fail(n.name + " forgot " + names_.txn(fr->txn) + " before " + names_.node(part) +
               " made its outcome durable");
          return;
        }
      }
    }
    forgotten_.insert({n.id, fr->txn});
  } else if (const auto* lr = std::get_if<LeaderRoundRecord>(&r)) {
    if (lr->round <= n.disk.leaderRound) {
      fail(n.name + " persisted leader round " + std::to_string(lr->round) +
           " not above its durable round " + std::to_string(n.disk.leaderRound));
    }
  } else if (const auto* d = std::get_if<DecisionRecord>(&r)) {
    if (!d->done) {
      durableDecision_.insert({n.id, d->txn});
      observe(d->txn, Outcome::Commit, n.name + " decision record", now);
    } else if (durableDecision_.count({n.id, d->txn}) == 0) {
      fail(n.name + " marked " + names_.txn(d->txn) + " done without a durable decision");
    }
  }
}

void Checker::onAcceptorRecord(const SimNode& n, const AcceptorTxnRecord& r) {
  const std::string t = names_.txn(r.txn);
  if (forgotten_.count({n.id, r.txn}) != 0) {
    fail(n.name + " wrote state for " + t + " after it forgot it (a fresh instance, pitfall 7)");
    return;
  }
  // One instance per participant (2pc-replicated: the one decision instance).
  const ParticipantList instances = instancesOf(core_.protocol, r.participants);
  if (r.instances.size() != instances.size()) {
    fail(n.name + " record for " + t + " has " + std::to_string(r.instances.size()) +
         " instances for " + std::to_string(r.participants.size()) + " participants");
    return;
  }
  if (const TxnFacts* f = facts(r.txn);
      f && !f->participants.empty() && f->participants != r.participants) {
    fail(n.name + " stored participant list " + names_.list(r.participants) + " for " + t +
         ", the request has " + names_.list(f->participants));
    return;
  }
  const AcceptorTxnRecord* prev = durableAcceptor(n, r.txn);
  if (prev && prev->participants != r.participants) {
    fail(n.name + " changed the participant list of " + t);
    return;
  }
  for (size_t k = 0; k < r.instances.size(); ++k) {
    const AcceptorInstance& i = r.instances[k];
    const std::string where = n.name + " " + t + " instance " + names_.node(i.instance);
    if (i.instance != instances[k]) {
      fail(where + ": instances not in participant order");
      return;
    }
    if (i.bal.has_value() != i.val.has_value()) {
      fail(where + ": val = none <=> bal = none broken in a durable record");
      return;
    }
    if (i.bal && !(*i.bal <= i.mbal)) {
      fail(where + ": durable bal " + names_.ballot(*i.bal) + " > mbal " + names_.ballot(i.mbal));
      return;
    }
    if (prev) {
      const AcceptorInstance& p = prev->instances[k];
      if (i.mbal < p.mbal) {
        fail(where + ": durable mbal went down from " + names_.ballot(p.mbal) + " to " +
             names_.ballot(i.mbal));
        return;
      }
      if (p.bal && (!i.bal || *i.bal < *p.bal)) {
        fail(where + ": durable bal went down from " + names_.ballot(*p.bal) + " to " +
             optBallot(names_, i.bal));
        return;
      }
      if (p.bal && i.bal && *p.bal == *i.bal && *p.val != *i.val) {
        fail(where + ": durable value changed at ballot " + names_.ballot(*i.bal));
        return;
      }
    }
    if (i.bal) noteDurableVote(n.id, r.txn, i.instance, *i.bal, *i.val);
  }
}

void Checker::noteDurableVote(NodeId acceptor, const TxnId& txn, NodeId instance, const Ballot& b,
                              Vote v) {
  auto key = std::make_tuple(acceptor, txn, instance, b);
  auto [it, inserted] = durableVotes_.emplace(key, v);
  if (!inserted) {
    if (it->second != v) {
      fail(names_.node(acceptor) + " voted both values at " + names_.ballot(b) + " for " +
           names_.txn(txn) + " instance " + names_.node(instance));
    }
    return;
  }
  TxnFacts& f = factsFor(txn);
  if (b.isZero()) {
    // Ballot 0 is the participant's own vote: the acceptor can only hold what it sent.
    auto fv = f.firstVote.find(instance);
    if (fv == f.firstVote.end() || fv->second != v) {
      fail(names_.node(acceptor) + " holds ballot-0 vote " + toString(v) + " for " +
           names_.txn(txn) + " instance " + names_.node(instance) +
           " that the participant never sent");
      return;
    }
  }
  auto& voters = acceptedBy_[std::make_tuple(txn, instance, b, v)];
  voters.insert(acceptor);
  if (voters.size() < core_.quorum()) return;
  // Chosen: F+1 acceptors durably voted (b, v). A chosen value stays chosen.
  auto c = f.chosen.find(instance);
  if (c != f.chosen.end()) {
    if (c->second.second != v) {
      fail("two values chosen for " + names_.txn(txn) + " instance " + names_.node(instance) +
           ": " + toString(c->second.second) + " at " + names_.ballot(c->second.first) + " and " +
           toString(v) + " at " + names_.ballot(b));
    }
    return;
  }
  f.chosen[instance] = {b, v};
  // Every 2a already sent above b must carry v (Paxos P2c).
  for (auto it2 = twoA_.lower_bound(std::make_tuple(txn, instance, b));
       it2 != twoA_.end() && std::get<0>(it2->first) == txn && std::get<1>(it2->first) == instance;
       ++it2) {
    if (std::get<2>(it2->first) > b && it2->second != v) {
      fail("2a at " + names_.ballot(std::get<2>(it2->first)) + " proposed " +
           toString(it2->second) + " for " + names_.txn(txn) + " instance " +
           names_.node(instance) + " but " + toString(v) + " is chosen at " + names_.ballot(b));
      return;
    }
  }
}

void Checker::onParticipantRecord(const SimNode& n, const ParticipantTxnRecord& r, uint64_t now) {
  const std::string t = names_.txn(r.txn);
  const std::pair<NodeId, TxnId> key{n.id, r.txn};
  auto dv = durableVote_.find(key);
  auto dout = durableOutcome_.find(key);
  if (const TxnFacts* f = facts(r.txn); f && !f->participants.empty() && !r.participants.empty()) {
    auto pl = f->payloads.find(n.id);
    if (r.participants != f->participants || pl == f->payloads.end() || pl->second != r.payload) {
      fail(n.name + " recorded " + t + " with a payload or participant list not in the request");
      return;
    }
  }
  switch (r.state) {
    case ParticipantState::Prepared:
      if (dout != durableOutcome_.end()) {
        fail(n.name + " recorded " + t + " prepared again after its durable outcome " +
             toString(dout->second));
        return;
      }
      if (dv != durableVote_.end() && dv->second != Vote::Prepared) {
        fail(n.name + " recorded " + t + " prepared after voting aborted");
        return;
      }
      durableVote_[key] = Vote::Prepared;
      break;
    case ParticipantState::VotedAborted:
      if (dv != durableVote_.end() && dv->second != Vote::Aborted) {
        fail(n.name + " recorded voted-aborted for " + t + " after voting prepared");
        return;
      }
      durableVote_[key] = Vote::Aborted;
      // It never votes Prepared now: its instance can only be chosen Aborted.
      factsFor(r.txn).zeroAbortedSent = true;
      observe(r.txn, Outcome::Abort, n.name + " voted-aborted record", now);
      break;
    case ParticipantState::Committed:
      if (dv == durableVote_.end() || dv->second != Vote::Prepared) {
        fail(n.name + " recorded " + t + " committed without a durable Prepared vote");
        return;
      }
      if (dout != durableOutcome_.end() && dout->second != Outcome::Commit) {
        fail(n.name + " recorded " + t + " committed after recording it aborted");
        return;
      }
      durableOutcome_[key] = Outcome::Commit;
      observe(r.txn, Outcome::Commit, n.name + " committed record", now);
      break;
    case ParticipantState::Aborted:
      if (dout != durableOutcome_.end() && dout->second != Outcome::Abort) {
        fail(n.name + " recorded " + t + " aborted after recording it committed");
        return;
      }
      durableOutcome_[key] = Outcome::Abort;
      observe(r.txn, Outcome::Abort, n.name + " aborted record", now);
      break;
  }
}

void Checker::onApply(const SimNode& n, const TxnId& txn, const Bytes& payload) {
  ++checks_;
  const std::string t = names_.txn(txn);
  if (++applied_[{n.id, txn}] > 1) {
    fail(n.name + " applied the writes of " + t + " twice");
    return;
  }
  const TxnFacts* f = facts(txn);
  if (f == nullptr || !f->outcome || *f->outcome != Outcome::Commit) {
    fail(n.name + " applied the writes of " + t + " whose outcome is not commit");
    return;
  }
  auto ops = kv::decodeOps(payload);
  if (!ops) {
    fail(n.name + " committed " + t + " with a malformed payload");
    return;
  }
  // Isolation: what the transaction expected at prepare still holds when it commits.
  for (const auto& op : *ops) {
    if (op.kind != kv::OpKind::Expect) continue;
    auto it = n.data.find(op.key);
    uint64_t version = it == n.data.end() ? 0 : it->second.version;
    if (version != op.version) {
      fail(n.name + " committed " + t + " expecting key '" + op.key + "' at version " +
           std::to_string(op.version) + " but the durable data has version " +
           std::to_string(version));
      return;
    }
  }
}

// ---- sends ----

void Checker::noteTwoA(const SimNode& n, const Phase2a& m) {
  const std::string t = names_.txn(m.txn);
  TxnFacts& f = factsFor(m.txn);
  if (!f.participants.empty() && m.participants != f.participants) {
    fail(n.name + " sent 2a for " + t + " with a participant list not in the request");
    return;
  }
  for (const auto& v : m.votes) {
    const std::string what = n.name + " sent 2a " + t + " " + names_.node(v.instance) + ":" +
                             names_.ballot(v.ballot) + "=" + toString(v.vote);
    if (v.ballot.isZero() && core_.protocol == Protocol::TwoPCReplicated) {
      // Ballot 0 of the decision instance: a coordinator's Commit, with every Prepared vote.
      if (n.role != Role::Coordinator || v.instance != kDecisionInstance ||
          v.vote != Vote::Prepared) {
        fail(what + ": ballot 0 of the decision instance is a coordinator's Commit");
        return;
      }
      for (NodeId p : f.participants) {
        auto fv = f.firstVote.find(p);
        if (fv == f.firstVote.end() || fv->second != Vote::Prepared) {
          fail(what + " but " + names_.node(p) + " never sent a Prepared vote");
          return;
        }
      }
      f.firstVote[kDecisionInstance] = Vote::Prepared;
    } else if (v.ballot.isZero()) {
      // Ballot 0 of instance i is only ever sent by participant i.
      if (n.role != Role::Participant || v.instance != n.id) {
        fail(what + ": ballot 0 of that instance belongs to its participant");
        return;
      }
      auto dv = durableVote_.find({n.id, m.txn});
      if (dv == durableVote_.end() || dv->second != v.vote) {
        fail(what + " before that vote was durable");
        return;
      }
      auto [fv, inserted] = f.firstVote.emplace(n.id, v.vote);
      if (!inserted && fv->second != v.vote) {
        fail(what + " after it sent ballot-0 vote " + toString(fv->second));
        return;
      }
      if (v.vote == Vote::Aborted) f.zeroAbortedSent = true;
    } else {
      if (v.ballot.leader != n.id) {
        fail(what + ": the ballot belongs to another leader");
        return;
      }
      if (n.disk.leaderRound < v.ballot.round) {
        fail(what + " before its round was durable (durable round " +
             std::to_string(n.disk.leaderRound) + ")");
        return;
      }
    }
    auto [it, inserted] = twoA_.emplace(std::make_tuple(m.txn, v.instance, v.ballot), v.vote);
    if (!inserted && it->second != v.vote) {
      fail(what + " but " + toString(it->second) + " was sent at that ballot");
      return;
    }
    auto c = f.chosen.find(v.instance);
    if (c != f.chosen.end() && c->second.first < v.ballot && c->second.second != v.vote) {
      fail(what + " but " + toString(c->second.second) + " is chosen at " +
           names_.ballot(c->second.first));
      return;
    }
  }
}

void Checker::onSend(const SimNode& n, const Envelope& e, uint64_t now) {
  if (const auto* b = std::get_if<AckBatch>(&e.msg)) {
    // GC acks batched: each entry is held to what an Ack alone is held to.
    for (const Ack& a : b->acks) onSend(n, Envelope{e.from, e.to, a}, now);
    return;
  }
  ++checks_;
  const TxnId txn = messageTxn(e.msg);
  const std::string t = names_.txn(txn);
  if (e.from != n.id) {
    fail(n.name + " sent a message claiming to be from " + names_.node(e.from));
    return;
  }
  auto durablyForgotten = [&]() {
    const auto& ts = n.disk.acceptorTombstones;
    return std::any_of(ts.begin(), ts.end(),
                       [&](const AcceptorTombstone& x) { return x.txn == txn; }) ||
           txn <= n.disk.acceptorLowWater;
  };
  if (const auto* m = std::get_if<Prepare>(&e.msg)) {
    const TxnFacts* f = facts(txn);
    if (f && !f->participants.empty()) {
      auto pl = f->payloads.find(e.to);
      if (m->participants != f->participants || pl == f->payloads.end() ||
          pl->second != m->payload) {
        fail(n.name + " sent Prepare " + t + " to " + names_.node(e.to) +
             " with a payload or participant list not in the request");
      }
    }
    return;
  }
  if (const auto* m = std::get_if<VoteMsg>(&e.msg)) {
    const std::pair<NodeId, TxnId> key{n.id, txn};
    auto dv = durableVote_.find(key);
    auto dout = durableOutcome_.find(key);
    bool knowsAbort = dout != durableOutcome_.end() && dout->second == Outcome::Abort;
    if (m->participant != n.id) {
      fail(n.name + " sent a vote for " + t + " in the name of " + names_.node(m->participant));
      return;
    }
    if (m->vote == Vote::Prepared &&
        (dv == durableVote_.end() || dv->second != Vote::Prepared || knowsAbort)) {
      fail(n.name + " sent vote Prepared for " + t + " without a durable prepared record");
      return;
    }
    if (m->vote == Vote::Aborted &&
        !(knowsAbort || (dv != durableVote_.end() && dv->second == Vote::Aborted))) {
      fail(n.name + " sent vote Aborted for " + t + " without a durable record of it");
      return;
    }
    TxnFacts& f = factsFor(txn);
    auto [fv, inserted] = f.firstVote.emplace(n.id, m->vote);
    // 2PC: after a durable Abort a participant may answer Aborted to a coordinator that
    // asks again; it never turns an Aborted vote into Prepared.
    if (!inserted && fv->second == Vote::Aborted && m->vote == Vote::Prepared) {
      fail(n.name + " sent vote Prepared for " + t + " after voting Aborted");
    }
    return;
  }
  if (const auto* m = std::get_if<Phase2a>(&e.msg)) {
    noteTwoA(n, *m);
    return;
  }
  if (const auto* m = std::get_if<Phase1a>(&e.msg)) {
    if (!m->participants.empty() && m->ballot.leader != n.id) {
      fail(n.name + " sent 1a for " + t +
           " at a ballot it does not own: " + names_.ballot(m->ballot));
    }
    return;
  }
  if (const auto* m = std::get_if<Phase1b>(&e.msg)) {
    if (m->forgotten) {
      if (!durablyForgotten()) fail(n.name + " said forgotten for " + t + " before it was durable");
      return;
    }
    if (!m->promised) return;
    const AcceptorTxnRecord* rec = durableAcceptor(n, txn);
    if (rec == nullptr) {
      fail(n.name + " sent 1b promised " + names_.ballot(m->ballot) + " for " + t +
           " with no durable record");
      return;
    }
    for (const auto& r : m->reports) {
      const AcceptorInstance* d = nullptr;
      for (const auto& i : rec->instances) {
        if (i.instance == r.instance) d = &i;
      }
      const std::string what = n.name + " sent 1b " + t + " " + names_.ballot(m->ballot) +
                               " instance " + names_.node(r.instance);
      if (d == nullptr || d->mbal < m->ballot) {
        fail(what + " before mbal >= " + names_.ballot(m->ballot) + " was durable");
        return;
      }
      if (d->bal != r.bal || d->val != r.val) {
        fail(what + " reporting " + voteText(names_, r.bal, r.val) + " but durable is " +
             voteText(names_, d->bal, d->val));
        return;
      }
    }
    return;
  }
  if (const auto* m = std::get_if<Phase2b>(&e.msg)) {
    if (m->forgotten) {
      if (!durablyForgotten()) fail(n.name + " said forgotten for " + t + " before it was durable");
      return;
    }
    if (m->acceptor != n.id) {
      fail(n.name + " sent 2b for " + t + " in the name of " + names_.node(m->acceptor));
      return;
    }
    for (const auto& v : m->votes) {
      auto it = durableVotes_.find(std::make_tuple(n.id, txn, v.instance, v.ballot));
      if (it == durableVotes_.end() || it->second != v.vote) {
        fail(n.name + " sent 2b " + t + " " + names_.node(v.instance) + ":" +
             names_.ballot(v.ballot) + "=" + toString(v.vote) + " before that vote was durable");
        return;
      }
    }
    return;
  }
  if (const auto* m = std::get_if<OutcomeMsg>(&e.msg)) {
    if (n.twoPcCoordinator && m->outcome == Outcome::Commit &&
        durableDecision_.count({n.id, txn}) == 0) {
      fail(n.name + " sent Commit for " + t + " before its decision was durable");
      return;
    }
    observe(txn, m->outcome, n.name + " sent Outcome", now);
    return;
  }
  if (const auto* m = std::get_if<CommitReply>(&e.msg)) {
    if (m->status != TxnStatus::Committed && m->status != TxnStatus::Aborted) return;
    Outcome o = m->status == TxnStatus::Committed ? Outcome::Commit : Outcome::Abort;
    if (n.twoPcCoordinator && o == Outcome::Commit && durableDecision_.count({n.id, txn}) == 0) {
      fail(n.name + " replied committed for " + t + " before its decision was durable");
      return;
    }
    observe(txn, o, n.name + " replied to the client", now);
    return;
  }
  if (const auto* m = std::get_if<OutcomeReply>(&e.msg)) {
    if (m->status != TxnStatus::Committed && m->status != TxnStatus::Aborted) return;
    Outcome o = m->status == TxnStatus::Committed ? Outcome::Commit : Outcome::Abort;
    observe(txn, o, n.name + " answered an outcome query", now);
    return;
  }
  if (const auto* m = std::get_if<Ack>(&e.msg)) {
    const std::pair<NodeId, TxnId> key{n.id, txn};
    auto dout = durableOutcome_.find(key);
    auto dv = durableVote_.find(key);
    bool ok =
        (dout != durableOutcome_.end() && dout->second == m->outcome) ||
        (m->outcome == Outcome::Abort && dv != durableVote_.end() && dv->second == Vote::Aborted) ||
        txn <= n.disk.participantLowWater;
    if (!ok)
      fail(n.name + " acked " + (m->outcome ? toString(*m->outcome) : "(forgotten)") + " for " + t +
           " before it was durable");
  }
}

// ---- state after steps and restarts ----

void Checker::checkAcceptorState(const SimNode& n, const TxnId& txn, bool strictReload) {
  ++checks_;
  const AcceptorTxnRecord* st = n.acceptor->state(txn);
  const AcceptorTxnRecord* dur = durableAcceptor(n, txn);
  const std::string t = names_.txn(txn);
  if (st == nullptr) {
    if (dur != nullptr && !n.acceptor->isForgotten(txn)) {
      fail(n.name + " lost its durable state for " + t);
    }
    return;
  }
  for (const auto& i : st->instances) {
    const std::string where = n.name + " " + t + " instance " + names_.node(i.instance);
    if (i.bal.has_value() != i.val.has_value()) {
      fail(where + ": val = none <=> bal = none broken");
      return;
    }
    if (i.bal && !(*i.bal <= i.mbal)) {
      fail(where + ": bal " + names_.ballot(*i.bal) + " > mbal " + names_.ballot(i.mbal));
      return;
    }
    if (dur != nullptr) {
      const AcceptorInstance* d = nullptr;
      for (const auto& x : dur->instances) {
        if (x.instance == i.instance) d = &x;
      }
      if (d == nullptr) {
        fail(where + ": not in the durable record");
        return;
      }
      if (strictReload && (i.mbal != d->mbal || i.bal != d->bal || i.val != d->val)) {
        fail(where + ": restart reloaded mbal=" + names_.ballot(i.mbal) + " vote " +
             voteText(names_, i.bal, i.val) + " but durable is mbal=" + names_.ballot(d->mbal) +
             " vote " + voteText(names_, d->bal, d->val) +
             " (mbal and bal never decrease across restarts)");
        return;
      }
      if (i.mbal < d->mbal || (d->bal && (!i.bal || *i.bal < *d->bal))) {
        fail(where + ": in-memory state below its durable state");
        return;
      }
    }
    auto& seen = volatileSeen_[std::make_tuple(n.id, txn, i.instance)];
    if (i.mbal < seen.mbal || (seen.bal && (!i.bal || *i.bal < *seen.bal))) {
      fail(where + ": mbal or bal went down (mbal " + names_.ballot(seen.mbal) + " -> " +
           names_.ballot(i.mbal) + ", bal " + optBallot(names_, seen.bal) + " -> " +
           optBallot(names_, i.bal) + ")");
      return;
    }
    if (seen.bal && i.bal && *seen.bal == *i.bal && seen.val != i.val) {
      fail(where + ": value changed at ballot " + names_.ballot(*i.bal));
      return;
    }
    seen = Seen{i.mbal, i.bal, i.val};
  }
}

void Checker::afterStep(const SimNode& n, const std::set<TxnId>& touched) {
  ++checks_;
  if (Node* node = n.node()) {
    node->checkInvariants();
    // Delta against the node's previous step: promises, votes, marks and rounds only
    // grow, outcomes never change (snapshot.h). A restart starts a new baseline.
    if (auto it = snapshots_.find(n.id); it != snapshots_.end()) node->checkDelta(it->second);
    snapshots_[n.id] = node->snapshot();
  }
  if (n.client) n.client->checkInvariants();
  if (n.acceptor) {
    for (const TxnId& txn : touched) {
      checkAcceptorState(n, txn, false);
      if (violated()) return;
    }
  }
  if (n.participant) {
    // Memory is never behind the disk: a durable outcome is never forgotten while live.
    for (const TxnId& txn : touched) {
      const ParticipantTxnRecord* d = durableParticipant(n, txn);
      auto s = n.participant->stateOf(txn);
      if (d == nullptr || d->state == ParticipantState::Prepared) continue;
      if (s && *s == ParticipantState::Prepared) {
        fail(n.name + " is prepared for " + names_.txn(txn) + " but durably " + toString(d->state));
        return;
      }
    }
  }
}

void Checker::afterRestart(const SimNode& n) {
  if (n.acceptor) {
    for (const auto& r : n.disk.acceptorTxns) {
      checkAcceptorState(n, r.txn, true);
      if (violated()) return;
    }
  }
  if (n.participant) {
    for (const auto& r : n.disk.participantTxns) {
      auto s = n.participant->stateOf(r.txn);
      if (!s || *s != r.state) {
        fail(n.name + " restarted without its durable record of " + names_.txn(r.txn) + " (" +
             toString(r.state) + ")");
        return;
      }
    }
  }
  afterStep(n, {});
}

void Checker::onCrash(const SimNode& n) {
  snapshots_.erase(n.id);
  // Volatile state is gone: the next incarnation is compared with the disk only.
  for (auto it = volatileSeen_.lower_bound(std::make_tuple(n.id, TxnId{}, NodeId{0}));
       it != volatileSeen_.end() && std::get<0>(it->first) == n.id;) {
    it = volatileSeen_.erase(it);
  }
}

void Checker::finalCheck(const std::map<NodeId, SimNode>& nodes) {
  ++checks_;
  for (const auto& [id, f] : txns_) {
    if (f.participants.empty() || !f.outcome || *f.outcome != Outcome::Commit) continue;
    for (NodeId p : f.participants) {
      if (applied_.count({p, id}) == 0) {
        fail(names_.txn(id) + " committed but " + names_.node(p) +
             " never applied its writes to durable data");
        return;
      }
    }
  }
  for (const auto& [id, n] : nodes) {
    if (n.role != Role::Participant) continue;
    // The data is exactly the committed payloads applied in commit order.
    std::map<std::string, kv::Versioned> rebuilt;
    for (const TxnId& txn : n.applyLog) {
      const TxnFacts* f = facts(txn);
      PC_ASSERT(f != nullptr, txn);
      auto ops = kv::decodeOps(f->payloads.at(id));
      PC_ASSERT(ops.has_value(), txn);
      kv::applyOps(rebuilt, *ops);
    }
    if (rebuilt != n.data) {
      fail(n.name + " durable data differs from its committed transactions' writes");
      return;
    }
    if (n.engine && n.storageIdle()) {
      for (const auto& [key, v] : n.data) {
        if (n.engine->read(key) != v) {
          fail(n.name + " engine reads key '" + key + "' differently from durable data");
          return;
        }
      }
    }
  }
}

}  // namespace pc::sim
