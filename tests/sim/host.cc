#include "tests/sim/host.h"

#include "paxos_commit/assert.h"

namespace pc::sim {

const char* toString(Role r) {
  switch (r) {
    case Role::Coordinator:
      return "coordinator";
    case Role::Participant:
      return "participant";
    case Role::Acceptor:
      return "acceptor";
    case Role::Client:
      return "client";
  }
  return "?";
}

Node* SimNode::node() const {
  if (paxosCoordinator) return paxosCoordinator.get();
  if (twoPcCoordinator) return twoPcCoordinator.get();
  if (replicatedCoordinator) return replicatedCoordinator.get();
  if (participant) return participant.get();
  if (acceptor) return acceptor.get();
  return nullptr;
}

SimClient::SimClient(NodeId self, const CoreConfig& cfg, uint64_t seed, uint64_t retryTicks,
                     const Recovered& disk, ClientJournal& journal, uint64_t now)
    : self_(self),
      cfg_(cfg),
      rng_(seed),
      retryTicks_(retryTicks),
      journal_(journal),
      direct_(cfg.protocol == Protocol::PaxosDirect) {
  PC_ASSERT(!cfg_.coordinators.empty());
  PC_ASSERT(retryTicks_ > 0);
  if (direct_) leader_ = std::make_unique<Leader>(self_, cfg_, rng_, disk.leaderRound);
  // A restart: whatever is still open gets an attempt soon (in paxos-direct our leader
  // state is gone, so that attempt is an outcome query to a coordinator).
  for (auto& [id, t] : journal_) {
    if (!t.final) t.retryTick = now + 1 + rng_.below(retryTicks_ / 4 + 1);
  }
}

Output SimClient::submit(const CommitRequest& req, size_t coordinatorIndex, uint64_t now) {
  PC_ASSERT(journal_.count(req.txn) == 0, req.txn);
  ClientTxn& t = journal_[req.txn];
  t.request = req;
  t.submitTick = now;
  t.coordinatorIndex = coordinatorIndex % cfg_.coordinators.size();
  if (direct_) {
    // Client as leader: ballot 0 is ours; coordinators only serve recovery and queries.
    t.attempts = 1;
    t.retryTick = now + retryTicks_ + rng_.below(retryTicks_ / 2 + 1);
    return absorb(leader_->begin(req, self_, now), now);
  }
  return attempt(t, now);
}

Output SimClient::attempt(ClientTxn& t, uint64_t now) {
  Output out;
  if (t.attempts > 0 && cfg_.protocol != Protocol::TwoPC) {
    // Paxos Commit: any coordinator can finish it. 2PC: the transaction belongs to the
    // coordinator that prepared it (participants refuse another), so retry the same one.
    t.coordinatorIndex = (t.coordinatorIndex + 1) % cfg_.coordinators.size();
  }
  ++t.attempts;
  NodeId to = cfg_.coordinators[t.coordinatorIndex];
  if (direct_) {
    ParticipantList parts;
    for (const auto& p : t.request.payloads) parts.push_back(p.participant);
    out.send.push_back(Envelope{self_, to, OutcomeQuery{t.request.txn, parts}});
  } else {
    out.send.push_back(Envelope{self_, to, t.request});
  }
  t.retryTick = now + retryTicks_ + rng_.below(retryTicks_ / 2 + 1);
  return out;
}

void SimClient::settle(const TxnId& txn, TxnStatus s, uint64_t now) {
  auto it = journal_.find(txn);
  if (it == journal_.end() || it->second.final) return;
  if (s == TxnStatus::Unknown) {
    // Not an answer: ask again soon.
    it->second.retryTick = std::min(it->second.retryTick, now + 1 + retryTicks_ / 4);
    return;
  }
  it->second.final = s;
  it->second.finalTick = now;
}

Output SimClient::absorb(Output&& out, uint64_t now) {
  for (const auto& l : out.learned) {
    settle(l.txn, l.outcome == Outcome::Commit ? TxnStatus::Committed : TxnStatus::Aborted, now);
  }
  return std::move(out);
}

Output SimClient::onMessage(const Envelope& e, uint64_t now) {
  if (const auto* m = std::get_if<CommitReply>(&e.msg)) {
    settle(m->txn, m->status, now);
    return {};
  }
  if (const auto* m = std::get_if<OutcomeReply>(&e.msg)) {
    settle(m->txn, m->status, now);
    return {};
  }
  if (!direct_) return {};
  if (const auto* m = std::get_if<Phase1b>(&e.msg))
    return absorb(leader_->onPhase1b(e.from, *m, now), now);
  if (const auto* m = std::get_if<Phase2b>(&e.msg))
    return absorb(leader_->onPhase2b(e.from, *m, now), now);
  return {};
}

Output SimClient::onTick(uint64_t now) {
  Output out;
  if (direct_) out = absorb(leader_->onTick(now), now);
  for (auto& [id, t] : journal_) {
    if (t.final || now < t.retryTick) continue;
    // paxos-direct: our own leader drives it while it is active; ask only otherwise.
    if (direct_ && leader_->isActive(id)) {
      t.retryTick = now + retryTicks_;
      continue;
    }
    out.append(attempt(t, now));
  }
  return out;
}

void SimClient::checkInvariants() const {
  if (leader_) leader_->checkInvariants();
  for (const auto& [id, t] : journal_) {
    PC_ASSERT(id == t.request.txn, id);
    if (t.final) PC_ASSERT(*t.final != TxnStatus::Unknown, id);
  }
}

}  // namespace pc::sim
