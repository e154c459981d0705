// The interface every role's state machine offers its driver (the runtime or the
// simulator). Handlers never block, never do I/O, never read a clock; time is the tick
// count the driver passes in through onTick().
#pragma once

#include "paxos_commit/output.h"
#include "paxos_commit/snapshot.h"

namespace pc {

class Node {
 public:
  virtual ~Node() = default;
  NodeId id() const { return self_; }
  // One message addressed to this node. Bad input is dropped and counted (rejected()).
  virtual Output onMessage(const Envelope& e) = 0;
  // Advances logical time by one tick and fires due timers.
  virtual Output onTick() = 0;
  // PC_ASSERTs the role's internal invariants (called by tests after every step).
  virtual void checkInvariants() const = 0;
  // The state that may only move one way (snapshot.h), for checkDelta. Tests only.
  virtual Snapshot snapshot() const = 0;
  // PC_ASSERTs that this step moved that state only forward from `before` (a snapshot()
  // taken before the step): called by tests and the simulator after every step.
  void checkDelta(const Snapshot& before) const { checkSnapshotDelta(before, snapshot(), self_); }
  uint64_t now() const { return now_; }
  // Inputs refused as malformed or inconsistent, or from a sender with no part in them
  // (membership.h); never protocol noise like duplicates. Hosts of a Leader add its count.
  virtual uint64_t rejected() const { return rejected_; }

 protected:
  explicit Node(NodeId self) : self_(self) {}
  NodeId self_;
  uint64_t now_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace pc
