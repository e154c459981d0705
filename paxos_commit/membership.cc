#include "paxos_commit/membership.h"

#include <algorithm>

namespace pc {

namespace {
bool in(const std::vector<NodeId>& sorted, NodeId id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}
}  // namespace

bool isAcceptor(const CoreConfig& cfg, NodeId id) { return in(cfg.acceptors, id); }
bool isCoordinator(const CoreConfig& cfg, NodeId id) { return in(cfg.coordinators, id); }
bool isParticipant(const CoreConfig& cfg, NodeId id) { return in(cfg.participants, id); }

NodeId firstNonMember(const CoreConfig& cfg, const ParticipantList& list) {
  for (NodeId p : list) {
    if (!isParticipant(cfg, p)) return p;
  }
  return kNoNode;
}

bool fromAcceptor(const CoreConfig& cfg, NodeId from, NodeId acceptor) {
  return from == acceptor && isAcceptor(cfg, from);
}

bool mayLead(const CoreConfig& cfg, NodeId from, const ParticipantList& participants) {
  if (from == kNoNode) return false;
  // paxos-direct: any client may lead its own transactions; its ballots are checked like
  // everyone's (ballot.leader == from), but its identity cannot be (it is not a member).
  if (cfg.protocol == Protocol::PaxosDirect) return true;
  return isCoordinator(cfg, from) || (isParticipant(cfg, from) && contains(participants, from));
}

bool mayVoteAtZero(const CoreConfig& cfg, NodeId from, const InstanceVote& v) {
  if (cfg.protocol == Protocol::TwoPCReplicated) {
    // The decision instance: its ballot 0 is any coordinator's, and carries only Commit. A
    // coordinator proposes Commit only with every participant's Prepared vote, so all the
    // proposals at ballot 0 agree, and an Abort is never written there (presumed abort).
    return v.instance == kDecisionInstance && isCoordinator(cfg, from) && v.vote == Vote::Prepared;
  }
  return v.instance == from;
}

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

std::string validateRequest(const CommitRequest& req, const CoreConfig& cfg) {
  if (std::string err = validateRequest(req); !err.empty()) return err;
  for (const auto& p : req.payloads) {
    if (!isParticipant(cfg, p.participant)) {
      return "participant " + std::to_string(p.participant) + " is not in the cluster";
    }
  }
  return "";
}

}  // namespace pc
