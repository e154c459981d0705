#include "paxos_commit/tally.h"

#include <algorithm>

#include "paxos_commit/canary.h"

namespace pc {

bool tallyCounts(const std::vector<NodeId>& acceptors, NodeId acceptor) {
  // Planted bug (canary 4): any id counts, so forged 2b from non-members form a quorum.
  if constexpr (kCanary == kCanaryAnyAcceptor) return acceptor != kNoNode;
  return std::binary_search(acceptors.begin(), acceptors.end(), acceptor);
}

void VoteTally::add(NodeId acceptor, const InstanceVote& v) {
  if (!contains(participants_, v.instance) || acceptors_ == nullptr ||
      !tallyCounts(*acceptors_, acceptor) || !roundInRange(v.ballot))
    return;
  heard_.insert(v.instance);
  maxRound_ = std::max(maxRound_, v.ballot.round);
  // A ballot-0 Aborted can only come from the participant itself, which never votes
  // Prepared at ballot 0 afterwards; no leader can ever find a Prepared vote for that
  // instance, so it can only be chosen Aborted: the transaction must abort.
  if (v.ballot.isZero() && v.vote == Vote::Aborted) zeroAborted_ = true;
  auto& voters = votes_[Key{v.instance, v.ballot, v.vote}];
  voters.insert(acceptor);  // a duplicate from one acceptor counts once (pitfall 4)
  if (voters.size() >= quorum_) {
    // Paxos: two different values can never both be chosen for one instance. If a bug
    // ever did that, the first stays: the simulator's checker (which compares outcomes
    // across nodes) is what reports it, with the seed to replay.
    chosen_.emplace(v.instance, v.vote);
  }
}

std::optional<Outcome> VoteTally::decision() const {
  if (zeroAborted_) return Outcome::Abort;
  for (const auto& [instance, vote] : chosen_) {
    if (vote == Vote::Aborted) return Outcome::Abort;
  }
  if (participants_.empty() || chosen_.size() < participants_.size()) return std::nullopt;
  return Outcome::Commit;
}

std::optional<Vote> VoteTally::chosen(NodeId instance) const {
  auto it = chosen_.find(instance);
  if (it == chosen_.end()) return std::nullopt;
  return it->second;
}

std::vector<NodeId> VoteTally::silentInstances() const {
  std::vector<NodeId> out;
  for (NodeId p : participants_) {
    if (heard_.count(p) == 0) out.push_back(p);
  }
  return out;
}

}  // namespace pc
