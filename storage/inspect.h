// Operator's view of a node's durable state (`pcommit inspect`): everything load() sees,
// plus the KV data, the locks and per-database entry counts, as text or as JSON.
//
// JSON: one object; TxnIds as 32-hex-digit strings; ballots as {"round", "leader"};
// byte strings (kv keys, values, reasons) as JSON strings in which every byte >= 0x80 or
// < 0x20 is written \u00XX (a byte-for-byte Latin-1 reading, so binary data round-trips).
// Top-level keys: dir, format_version, map_size_bytes, used_bytes, databases, acceptor,
// participant, kv, leader, decisions.
#pragma once

#include <ostream>

#include "storage/env.h"

namespace pc::storage {

// Throw StorageError like Env::load() (e.g. a corrupted value).
void inspectText(const Env& env, std::ostream& out);
void inspectJson(const Env& env, std::ostream& out);

// JSON string literal (with quotes) of arbitrary bytes, as described above.
std::string jsonString(std::string_view bytes);

}  // namespace pc::storage
