#include "paxos_commit/tally.h"

#include <algorithm>
#include <bit>

#include "paxos_commit/canary.h"

namespace pc {

bool tallyCounts(const std::vector<NodeId>& acceptors, NodeId acceptor) {
  // Planted bug (canary 4): any id counts, so forged 2b from non-members form a quorum.
  if constexpr (kCanary == kCanaryAnyAcceptor) return acceptor != kNoNode;
  return std::binary_search(acceptors.begin(), acceptors.end(), acceptor);
}

namespace {

// Index of `id` in the sorted list, or nullopt.
std::optional<size_t> indexIn(const std::vector<NodeId>& sorted, NodeId id) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), id);
  if (it == sorted.end() || *it != id) return std::nullopt;
  return static_cast<size_t>(it - sorted.begin());
}

// The acceptor's bit: its index among the members, or nullopt for an id that does not
// count (one search answers both). Only canary 4 counts a non-member; it takes one of the
// bits above the members' so that forged ids still add up.
std::optional<size_t> voterBit(const std::vector<NodeId>& acceptors, NodeId acceptor) {
  if (auto i = indexIn(acceptors, acceptor)) return i;
  if (!tallyCounts(acceptors, acceptor)) return std::nullopt;
  const size_t spare = VoteTally::kMaxAcceptors - acceptors.size();
  return spare == 0 ? VoteTally::kMaxAcceptors - 1 : acceptors.size() + acceptor % spare;
}

}  // namespace

void VoteTally::add(NodeId acceptor, const InstanceVote& v) {
  if (acceptors_ == nullptr || !roundInRange(v.ballot)) return;
  const std::optional<size_t> instance = indexIn(participants_, v.instance);
  const std::optional<size_t> voter = voterBit(*acceptors_, acceptor);
  if (!instance || !voter) return;
  heard_ |= uint64_t{1} << *instance;
  maxRound_ = std::max(maxRound_, v.ballot.round);
  // A ballot-0 Aborted can only come from the participant itself, which never votes
  // Prepared at ballot 0 afterwards; no leader can ever find a Prepared vote for that
  // instance, so it can only be chosen Aborted: the transaction must abort.
  if (v.ballot.isZero() && v.vote == Vote::Aborted) zeroAborted_ = true;
  auto e = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& x) {
    return x.instance == v.instance && x.ballot == v.ballot && x.vote == v.vote;
  });
  if (e == entries_.end()) {
    if (entries_.size() >= kMaxEntries) return;
    e = entries_.insert(entries_.end(), Entry{v.instance, v.ballot, v.vote, 0});
  }
  e->voters |= uint64_t{1} << *voter;  // a duplicate from one acceptor counts once (pitfall 4)
  if (static_cast<size_t>(std::popcount(e->voters)) < quorum_) return;
  // Paxos: two different values can never both be chosen for one instance. If a bug ever
  // did that, the first stays: the simulator's checker (which compares outcomes across
  // nodes) is what reports it, with the seed to replay.
  if (!chosen(v.instance)) chosen_.emplace_back(v.instance, v.vote);
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
  for (const auto& [i, vote] : chosen_) {
    if (i == instance) return vote;
  }
  return std::nullopt;
}

std::vector<NodeId> VoteTally::silentInstances() const {
  std::vector<NodeId> out;
  for (size_t i = 0; i < participants_.size(); ++i) {
    if ((heard_ & (uint64_t{1} << i)) == 0) out.push_back(participants_[i]);
  }
  return out;
}

}  // namespace pc
