// Heuristic decisions (docs/PROTOCOL.md §9): an operator settles a 2PC
// transaction that is in doubt at a participant by hand (`pcommit resolve`), when its
// coordinator is lost for good -- XA's heuristic commit/rollback. The participant makes the
// operator's outcome durable like any outcome, marked heuristic, releases the locks, and keeps
// asking the coordinator that prepared it what it decided, to report agreement or mismatch.
// Plain values only: the participant core (participant.h) produces them, the node host and
// the wire (rpc/pcommit.capnp Node.resolve) carry them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "paxos_commit/types.h"

namespace pc {

// Where a participant's outcome came from, and what its coordinator said since.
enum class Heuristic : uint8_t {
  None = 0,      // the protocol decided (the usual case)
  Pending = 1,   // an operator decided; the coordinator has not answered yet
  Agreed = 2,    // an operator decided, and the coordinator decided the same
  Mismatch = 3,  // an operator decided, and the coordinator decided the other outcome
};
const char* toString(Heuristic h);  // none | pending | agreed | mismatch

// What a participant did with one resolve request.
enum class HeuristicResult : uint8_t {
  Resolved = 1,   // it was prepared here; the operator's outcome is now durable
  InDoubt = 2,    // (a query) prepared here, outcome not known
  Decided = 3,    // it was decided here already (state says which; nothing changed)
  Unknown = 4,    // no record of it here: never prepared here (or the prepare is still coming)
  Forgotten = 5,  // finished and collected here long ago (below the low-water mark)
  Refused = 6,    // not allowed: Paxos Commit, not an operator's client, not a participant
};
const char* toString(HeuristicResult r);  // resolved | in-doubt | decided | unknown | ...

// A participant's answer to a resolve request (or a query: no outcome asked for).
struct HeuristicAnswer {
  HeuristicResult result = HeuristicResult::Refused;
  // The outcome of the transaction here after the request (nullopt: in doubt or no record).
  std::optional<Outcome> outcome;
  Heuristic heuristic = Heuristic::None;
  NodeId leader = kNoNode;  // 2PC: the coordinator that prepared it (kNoNode: unknown)
  std::string reason;       // Refused: why
  bool operator==(const HeuristicAnswer&) const = default;
};

}  // namespace pc
