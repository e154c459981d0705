// On-disk encoding of pcommit's records (internal to storage/, exposed for tests).
//
// Keys: a TxnId is 16 bytes big-endian (hi then lo), so LMDB's byte order is TxnId order
// and a low-water erasure is a scan from the first key. Values: one version byte
// (kValueVersion) then the fields, integers little-endian fixed width, strings and lists
// prefixed by a u32 length. Decoding never trusts its input: truncation, trailing bytes,
// an unknown version byte, an unknown enum value or an absurd length all throw DecodeError
// (the caller turns it into a "corrupted" error naming the database and key).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "paxos_commit/kv.h"
#include "paxos_commit/records.h"

namespace pc::storage::codec {

inline constexpr uint8_t kValueVersion = 1;

struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr size_t kTxnKeyBytes = 16;
std::string txnKey(const TxnId& txn);
TxnId parseTxnKey(std::string_view key);  // throws DecodeError unless exactly 16 bytes

// Values keyed by TxnId: the record without its txn (the key carries it).
std::string encode(const AcceptorTxnRecord& r);
AcceptorTxnRecord decodeAcceptorTxn(const TxnId& txn, std::string_view value);
std::string encode(const ParticipantTxnRecord& r);
ParticipantTxnRecord decodeParticipantTxn(const TxnId& txn, std::string_view value);
// Reads only the state of an encoded ParticipantTxnRecord (cheap: no payload copy).
ParticipantState decodeParticipantState(std::string_view value);
std::string encode(const DecisionRecord& r);
DecisionRecord decodeDecision(const TxnId& txn, std::string_view value);

// Small values: a TxnId (low-water marks), a u64 (leader round), nothing (tombstones).
std::string encodeTxn(const TxnId& t);
TxnId decodeTxn(std::string_view value);
std::string encodeU64(uint64_t v);
uint64_t decodeU64(std::string_view value);
std::string encodeEmpty();
void decodeEmpty(std::string_view value);
// A tombstone's value: the outcome every participant acked (one byte).
std::string encodeOutcome(std::optional<Outcome> o);
std::optional<Outcome> decodeOutcome(std::string_view value);

// The built-in KV engine's data. LMDB keys are at most maxKeyBytes (511 by default) while
// kv keys may be up to kv::kMaxKeyBytes, so:
//   short key (1 + size <= maxKeyBytes): 0x00 || key             (probe unused)
//   long key:  0x01 || key[0, 256) || fnv1a64(key) big-endian || probe u8
// A long key's value carries the full key; a reader probes 0, 1, ... until it finds the
// key or an empty slot. KV entries are never erased (a deleted key keeps its version), so
// probing needs no tombstones.
inline constexpr size_t kLongKeyPrefixBytes = 256;
bool isLongKey(std::string_view key, size_t maxKeyBytes);
std::string kvSlotKey(std::string_view key, size_t maxKeyBytes, uint8_t probe);
struct KvValue {
  kv::Versioned versioned;
  std::optional<std::string> fullKey;  // set for long keys
  bool operator==(const KvValue&) const = default;
};
std::string encode(const KvValue& v);
KvValue decodeKvValue(std::string_view value);
// Recovers the kv key of a slot: the key itself for short keys, the value's fullKey else.
std::string kvKeyOf(std::string_view slotKey, const KvValue& v);

// Locks of a Prepared participant record: key txnKey || u32 big-endian index, value the
// locked kv key, so a transaction's locks are one key range.
std::string lockKey(const TxnId& txn, uint32_t index);
std::string encodeLock(const std::string& kvKey);
std::string decodeLock(std::string_view value);

// A record as the record log (record_log.h) holds it: one kind byte (the Record variant's
// index), a u32 length, then the body -- the record's txn key (16 bytes) for keyed kinds,
// followed by the value encoding of its table above (a low-water mark or the leader round
// alone for the singletons). decodeLogRecord reads one from `in` at `pos` and advances it;
// it throws DecodeError on an unknown kind, a truncated entry or a body that does not decode.
void appendLogRecord(std::string& out, const Record& r);
Record decodeLogRecord(std::string_view in, size_t& pos);

// The format record ("format" in the meta database): magic then a u32 version.
inline constexpr std::string_view kFormatMagic = "pcommit-storage";
std::string encodeFormat(uint32_t version);
// nullopt if the bytes do not start with the magic (not written by pcommit).
std::optional<uint32_t> decodeFormat(std::string_view value);

// A readable rendering of arbitrary bytes: printable ASCII as is, the rest \xNN.
std::string printable(std::string_view bytes);

}  // namespace pc::storage::codec
