#include "paxos_commit/vote_collection.h"

#include <algorithm>

#include "paxos_commit/assert.h"
#include "paxos_commit/leader.h"
#include "paxos_commit/membership.h"

namespace pc {

std::optional<Screened> screenRequest(const CommitRequest& m, const CoreConfig& cfg,
                                      std::optional<TxnStatus> known) {
  // Valid, and every participant a member: nothing starts for a non-member (issue 12).
  if (std::string err = validateRequest(m, cfg); !err.empty()) {
    return Screened{CommitReply{m.txn, TxnStatus::Aborted, "invalid request: " + err}, true};
  }
  if (known && *known != TxnStatus::Unknown) {
    // A retry of a transaction we finished (its abort reason went with its state).
    std::string reason = *known == TxnStatus::Aborted ? kAbortedEarlierReason : "";
    return Screened{CommitReply{m.txn, *known, std::move(reason)}, false};
  }
  return std::nullopt;
}

CommitReply idReusedReply(const TxnId& txn) {
  return CommitReply{txn, TxnStatus::Unknown,
                     "rejected: transaction id already used with other contents"};
}

std::string votedAbortedReason(const VoteMsg& m) {
  std::string reason = "participant " + std::to_string(m.participant) + " voted aborted";
  if (!m.reason.empty()) reason += ": " + m.reason;
  return reason;
}

bool VoteCollection::screenOrJoin(NodeId from, const CommitRequest& m,
                                  std::optional<TxnStatus> known, Output& out, uint64_t& rejected) {
  if (auto s = screenRequest(m, cfg_, known)) {
    rejected += s->rejected ? 1 : 0;
    out.send.push_back(Envelope{self_, from, std::move(s->reply)});
    return true;
  }
  auto it = txns_.find(m.txn);
  if (it == txns_.end()) return false;
  if (it->second.request != m) {
    ++rejected;
    out.send.push_back(Envelope{self_, from, idReusedReply(m.txn)});
  } else {
    it->second.clients.insert(from);
  }
  return true;
}

void VoteCollection::start(NodeId client, const CommitRequest& m, uint64_t now, Output& out) {
  PC_ASSERT(txns_.count(m.txn) == 0, m.txn);
  Txn t;
  t.request = m;
  t.participants = participantsOf(m);
  t.clients.insert(client);
  t.retryTick = now + cfg_.prepareRetryTicks;
  t.deadlineTick = now + cfg_.leaderTimeoutTicks;
  appendPrepares(out, self_, m, [](NodeId) { return true; });
  out.wakeAt(t.retryTick);
  txns_.emplace(m.txn, std::move(t));
}

VoteCollection::Step VoteCollection::record(NodeId from, const VoteMsg& m) {
  // A participant votes for itself alone (issue 12: a forged vote could commit).
  if (from != m.participant || !isParticipant(cfg_, from)) return Step::Rejected;
  auto it = txns_.find(m.txn);
  if (it == txns_.end()) return Step::NotCollecting;
  Txn& t = it->second;
  if (!pc::contains(t.participants, m.participant)) return Step::Rejected;
  if (m.owner != kNoNode && m.owner != self_) return Step::OtherOwner;
  t.votes[m.participant] = m.vote;
  if (m.vote == Vote::Aborted) return Step::Aborted;
  return t.votes.size() < t.participants.size() ? Step::Waiting : Step::AllPrepared;
}

std::vector<TxnId> VoteCollection::tick(uint64_t now, Output& out) {
  std::vector<TxnId> expired;
  for (auto& [id, t] : txns_) {
    if (now >= t.deadlineTick) {
      expired.push_back(id);
      continue;
    }
    if (now >= t.retryTick) {
      // Init-capture: clang 14 (the fuzz build) cannot capture a structured binding.
      appendPrepares(out, self_, t.request,
                     [&votes = t.votes](NodeId p) { return votes.count(p) == 0; });
      t.retryTick = now + cfg_.prepareRetryTicks;
    }
    out.wakeAt(std::min(t.retryTick, t.deadlineTick));
  }
  return expired;
}

void VoteCollection::abort(const TxnId& txn, const std::string& reason, Output& out) {
  Txn t = take(txn);
  for (NodeId p : t.participants)
    out.send.push_back(Envelope{self_, p, OutcomeMsg{txn, Outcome::Abort}});
  for (NodeId c : t.clients) {
    out.send.push_back(Envelope{self_, c, CommitReply{txn, TxnStatus::Aborted, reason}});
  }
  for (NodeId a : t.askers)
    out.send.push_back(Envelope{self_, a, OutcomeReply{txn, TxnStatus::Aborted}});
  out.learned.push_back(Learned{txn, Outcome::Abort});
}

VoteCollection::Txn VoteCollection::take(const TxnId& txn) {
  auto it = txns_.find(txn);
  PC_ASSERT(it != txns_.end(), txn);
  Txn t = std::move(it->second);
  txns_.erase(it);
  return t;
}

VoteCollection::Txn* VoteCollection::find(const TxnId& txn) {
  auto it = txns_.find(txn);
  return it == txns_.end() ? nullptr : &it->second;
}

}  // namespace pc
