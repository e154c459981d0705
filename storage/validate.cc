#include "storage/validate.h"

#include "paxos_commit/kv.h"
#include "paxos_commit/overloaded.h"

namespace pc::storage {

namespace {

std::string bytesOver(const char* what, size_t n, size_t max) {
  return std::string(what) + " of " + std::to_string(n) + " bytes (at most " + std::to_string(max) +
         ")";
}

// A participant list as every core keeps it: sorted, unique, real nodes, bounded.
// `required`: an empty list is a problem too.
std::optional<std::string> checkParticipants(const ParticipantList& l, bool required) {
  if (l.empty()) {
    if (required) return "no participants";
    return std::nullopt;
  }
  if (l.size() > kMaxRecordParticipants) {
    return std::to_string(l.size()) + " participants (at most " +
           std::to_string(kMaxRecordParticipants) + ")";
  }
  if (!isSortedUnique(l)) return "participants are not sorted and unique";
  if (l.front() == kNoNode) return "participant 0 (no node)";
  return std::nullopt;
}

// One acceptor instance (docs/PROTOCOL.md §1): no vote <=> bal and val both absent, and a vote
// is never above the promise (Phase 2b only answers a ballot >= mbal and raises mbal).
std::optional<std::string> checkInstance(const AcceptorInstance& i) {
  auto name = [&i] { return "instance " + std::to_string(i.instance); };  // on a refusal only
  if (i.bal && !i.val) return name() + " has a ballot but no value";
  if (i.val && !i.bal) return name() + " has a value but no ballot";
  if (i.bal && *i.bal > i.mbal) {
    return name() + " voted at ballot " + ballotText(*i.bal) + " above its promise mbal " +
           ballotText(i.mbal);
  }
  return std::nullopt;
}

}  // namespace

std::string ballotText(const Ballot& b) {
  return std::to_string(b.round) + "." + std::to_string(b.leader);
}

std::optional<std::string> checkRecord(const AcceptorTxnRecord& r) {
  if (auto p = checkParticipants(r.participants, true)) return p;
  // 2pc-replicated: the transaction's one decision instance (paxos_commit/types.h).
  if (r.instances.size() == 1 && r.instances[0].instance == kDecisionInstance) {
    return checkInstance(r.instances[0]);
  }
  // One instance per participant, in the same order: the acceptor indexes one by the other.
  if (r.instances.size() != r.participants.size()) {
    return std::to_string(r.instances.size()) + " instances for " +
           std::to_string(r.participants.size()) + " participants";
  }
  for (size_t k = 0; k < r.instances.size(); ++k) {
    const AcceptorInstance& i = r.instances[k];
    if (i.instance != r.participants[k]) {
      return "instance " + std::to_string(i.instance) + " at position " + std::to_string(k) +
             " differs from participant " + std::to_string(r.participants[k]);
    }
    if (auto p = checkInstance(i)) return p;
  }
  return std::nullopt;
}

std::optional<std::string> checkRecord(const ParticipantTxnRecord& r, bool kvPayloads) {
  // A vote of Prepared (and so a Commit) only follows a prepare, which names the
  // participants and its leader; a VotedAborted "prepare never arrived" has neither.
  const bool fromPrepare =
      r.state == ParticipantState::Prepared || r.state == ParticipantState::Committed;
  // Built only on a refusal: this runs for every record the node writes.
  auto state = [&r] { return std::string("state ") + toString(r.state); };
  if (fromPrepare && r.participants.empty()) return state() + " with no participants";
  if (auto p = checkParticipants(r.participants, false)) return p;
  if (fromPrepare && r.leader == kNoNode) return state() + " with no leader";
  if (r.payload.size() > kMaxRecordPayloadBytes) {
    return bytesOver("payload", r.payload.size(), kMaxRecordPayloadBytes);
  }
  if (r.reason.size() > kMaxRecordReasonBytes) {
    return bytesOver("reason", r.reason.size(), kMaxRecordReasonBytes);
  }
  // Restart: the KV engine retakes a Prepared record's locks from its payload and
  // asserts that it decodes (it voted Prepared on it).
  if (kvPayloads && r.state == ParticipantState::Prepared && !kv::decodeOps(r.payload)) {
    return state() + " with a payload the built-in KV engine cannot decode";
  }
  return std::nullopt;
}

std::optional<std::string> checkRecord(const DecisionRecord& r) {
  // A pending 2PC Commit decision is resent to its participants at restart.
  if (!r.done && r.participants.empty()) return "a pending decision with no participants";
  return checkParticipants(r.participants, false);
}

std::optional<std::string> checkRecord(const Record& r, bool kvPayloads) {
  return std::visit(Overloaded{
                        [](const AcceptorTxnRecord& x) { return checkRecord(x); },
                        [&](const ParticipantTxnRecord& x) { return checkRecord(x, kvPayloads); },
                        [](const DecisionRecord& x) { return checkRecord(x); },
                        [](const auto&) { return std::optional<std::string>(); },
                    },
                    r);
}

std::vector<ImageProblem> checkImage(const Recovered& image) {
  std::vector<ImageProblem> out;
  // Both sorted by TxnId: one merge pass.
  auto t = image.acceptorTombstones.begin();
  for (const auto& a : image.acceptorTxns) {
    while (t != image.acceptorTombstones.end() && t->txn < a.txn) ++t;
    if (t != image.acceptorTombstones.end() && t->txn == a.txn) {
      out.push_back({"acceptor", a.txn, "the transaction also has a tombstone (forgotten)"});
    }
  }
  return out;
}

}  // namespace pc::storage
