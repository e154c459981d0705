// PaxosCoordinator (`paxos`, `paxos-classic`, `paxos-direct`): a Node hosting a Leader. A
// CommitRequest starts ballot 0 (in `paxos-direct` clients normally lead themselves, but a
// client that cannot still gets served by a coordinator); an OutcomeQuery for a
// transaction it does not know starts recovery (phase 1), never a guessed abort.
// Persists only LeaderRoundRecord (through its Leader). Sends what its Leader sends, and
// CommitReply / OutcomeReply to clients and askers.
// Membership (membership.h): a request or query naming a participant that is not in the
// cluster is refused (Aborted naming the id; Unknown to a query) before anything starts.
#pragma once

#include <string>

#include "paxos_commit/leader.h"
#include "paxos_commit/membership.h"
#include "paxos_commit/node.h"

namespace pc {

class PaxosCoordinator : public Node {
 public:
  PaxosCoordinator(NodeId self, const CoreConfig& cfg, uint64_t seed, const Recovered& rec);
  Output onMessage(const Envelope& e) override;
  Output onTick() override;
  void checkInvariants() const override;
  Snapshot snapshot() const override;
  uint64_t rejected() const override { return rejected_ + leader_.rejected(); }
  const Leader& leader() const { return leader_; }

 private:
  Output onCommitRequest(NodeId from, const CommitRequest& m);
  Output onQuery(NodeId from, const OutcomeQuery& m);

  const CoreConfig cfg_;
  Rng rng_;
  Leader leader_;
};

}  // namespace pc
