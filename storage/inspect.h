// Operator's view of a node's durable state (`pcommit inspect`): everything load() sees,
// plus the KV data, the locks and per-database entry counts, as text or as JSON.
//
// JSON: one object; TxnIds as 32-hex-digit strings; ballots as {"round", "leader"};
// byte strings (kv keys, values, reasons, the directory) as JSON strings when they are
// valid UTF-8, else as null with the bytes in base64 under `<field>_base64` (json/json.h).
// Top-level keys: dir, format_version, map_size_bytes, used_bytes, databases, identity
// (null, or cluster_id, node, node_id, rejoined_at), acceptor, participant, kv, leader,
// decisions.
#pragma once

#include <ostream>

#include "storage/env.h"

namespace pc::storage {

// Throw StorageError like Env::load() (e.g. a corrupted value).
void inspectText(const Env& env, std::ostream& out);
void inspectJson(const Env& env, std::ostream& out);

}  // namespace pc::storage
