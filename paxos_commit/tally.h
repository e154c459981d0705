// Counting phase 2b toward "chosen" (docs/PROTOCOL.md §4, §6.4): an instance is chosen when F+1
// distinct acceptors sent 2b with the same (ballot, value). Duplicates from one acceptor
// count once, and only 2b from a configured acceptor count (issue 12). Commit iff every instance is
// chosen Prepared; Abort as soon as one instance is chosen Aborted, or any ballot-0 Aborted is seen
// (only the participant itself votes at ballot 0, and it never votes twice, so that instance can
// never be chosen Prepared).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "paxos_commit/assert.h"
#include "paxos_commit/messages.h"

namespace pc {

// Whether a 2b from `acceptor` may count toward a quorum: one of the configured
// `acceptors` (sorted). Hosts check first that it is also the sender (m.acceptor == from).
bool tallyCounts(const std::vector<NodeId>& acceptors, NodeId acceptor);

class VoteTally {
 public:
  // Bounds of the flat storage: acceptors and participants are bits of a word (the cluster
  // file allows 31 acceptors, a transaction 64 participants), and a tally keeps at most
  // kMaxEntries distinct (instance, ballot, value): an honest run sees a few per instance
  // (one per ballot a leader tried); 2b for more new keys are ignored, so an acceptor
  // outside the fault model cannot make a tally grow or its scan slow without bound.
  static constexpr size_t kMaxAcceptors = 64;
  static constexpr size_t kMaxInstances = 64;
  static constexpr size_t kMaxEntries = 1024;

  VoteTally() = default;
  // `acceptors` (sorted: the cluster's acceptors) must outlive the tally; the roles pass
  // their configuration's list.
  VoteTally(ParticipantList participants, const std::vector<NodeId>& acceptors, size_t quorum)
      : participants_(std::move(participants)), acceptors_(&acceptors), quorum_(quorum) {
    PC_ASSERT(acceptors.size() <= kMaxAcceptors, acceptors.size());
    PC_ASSERT(participants_.size() <= kMaxInstances, participants_.size());
  }

  // Records one acceptor's 2b for one instance. Ignores instances not in the list, votes
  // from ids that do not count, and rounds above kRoundMax.
  void add(NodeId acceptor, const InstanceVote& v);
  // The outcome these 2b imply, if any yet.
  std::optional<Outcome> decision() const;
  std::optional<Vote> chosen(NodeId instance) const;
  // Instances for which no 2b at all has been seen (a leader resends prepare to these).
  std::vector<NodeId> silentInstances() const;
  // Highest round seen in any 2b (a recovery leader must go above it).
  uint64_t maxRoundSeen() const { return maxRound_; }
  const ParticipantList& participants() const { return participants_; }

 private:
  // Flat, allocation-light storage (a tally lives in every transaction a leader or a faster
  // participant follows, and sees a 2b per acceptor): one entry per (instance, ballot,
  // value) seen, its voters a bit per acceptor index in *acceptors_ (kMaxAcceptors).
  struct Entry {
    NodeId instance;
    Ballot ballot;
    Vote vote;
    uint64_t voters;
  };
  ParticipantList participants_;
  const std::vector<NodeId>* acceptors_ = nullptr;
  size_t quorum_ = 1;
  std::vector<Entry> entries_;
  std::vector<std::pair<NodeId, Vote>> chosen_;  // an instance at most once: the first value
  uint64_t heard_ = 0;                           // a bit per index in participants_
  bool zeroAborted_ = false;
  uint64_t maxRound_ = 0;
};

}  // namespace pc
