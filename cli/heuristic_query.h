// Asking participants about one transaction through their Node.resolve method
// (docs/PROTOCOL.md §9): `pcommit resolve` decides with it, `pcommit
// outcome` (2PC) asks with it whether an operator decided the transaction somewhere.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "paxos_commit/heuristic.h"
#include "runtime/cluster_config.h"

namespace pc::cli {

struct ParticipantAnswer {
  NodeId node = kNoNode;
  std::string name;
  std::optional<HeuristicAnswer> answer;  // nullopt: no (valid) answer; `error` says why
  std::string error;
};

// Every participant of `cluster`, in id order.
std::vector<NodeId> participantsOf(const runtime::ClusterConfig& cluster);

// Asks each of `nodes` at once, as one fresh client id: `outcome` to decide, nullopt only to
// ask. Each answers, or fails, within `timeoutMs` (connect included). Never throws for a
// node that does not answer. Runs a KJ event loop of its own: the calling thread must not
// have one (a BlockingClient) at the time.
std::vector<ParticipantAnswer> askParticipants(const runtime::ClusterConfig& cluster,
                                               const std::vector<NodeId>& nodes, const TxnId& txn,
                                               std::optional<Outcome> outcome, uint32_t timeoutMs);

// "committed" / "aborted" / "-" for a participant's outcome.
const char* outcomeWord(std::optional<Outcome> o);

}  // namespace pc::cli
