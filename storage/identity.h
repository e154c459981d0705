// The identity of a data directory: which cluster and which node it belongs to (issue 12,
// "Cluster identity"; docs/DESIGN.md §4). Stored as the "identity" record of the meta
// database, written at the first open in the same synced transaction that creates the
// environment (or, for a directory of an older build that has none, at the first open
// that knows it). A later open by another cluster or another node is refused with
// ErrorKind::IdentityMismatch, naming both ids and the path: a stale cluster file, or data
// directories swapped between nodes, must never start.
//
// A participant whose data directory was lost may come back only on purpose (`serve
// --rejoin-empty`): its fresh environment then also holds the "rejoined" record, the
// transaction id below which it knows nothing, and the same mark as its participant
// low-water mark, both written in the creating transaction (docs/PROTOCOL.md §5).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "paxos_commit/types.h"

namespace pc::storage {

struct Identity {
  std::string clusterId;  // 32 lowercase hex digits; empty: the cluster file has no cluster-id
  NodeId node = kNoNode;
  std::string nodeName;  // c1, p2, a3: for messages
  bool operator==(const Identity&) const = default;
};

// What opening a directory did to its identity record (Env::identityEvent()).
enum class IdentityEvent {
  None,            // no identity given (read-only, tools), or the stored one matched
  Written,         // a fresh environment: written with the format record
  Adopted,         // a directory of an older build without the record: written now
  ClusterIdAdded,  // stored without a cluster id; the cluster file now has one: stored
};

namespace codec {
// u8 version, u32-length cluster id, u32 node id, u32-length node name (codec.h's layout).
std::string encodeIdentity(const Identity& id);
Identity decodeIdentity(std::string_view value);  // throws DecodeError
}  // namespace codec

// The stored identity against the one that opens the directory: nullopt if they agree (or
// the stored one has no cluster id and `want` adds one), else the refusal's text, naming
// both cluster ids and/or both node ids and the directory.
std::optional<std::string> identityMismatch(const std::string& dir, const Identity& stored,
                                            const Identity& want);

}  // namespace pc::storage
