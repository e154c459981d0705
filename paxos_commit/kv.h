// The built-in key-value engine's pure half: the payload format (put / del / expect) and
// the lock table with version checks. Used by the LMDB participant (ring 3) and by the
// simulator, so both run the same conflict rules.
//
// Versions: every key has a version that grows by one on each committed write, put or
// del (0 = never written). A deleted key reads as absent but keeps its version, so an
// `expect` can never be fooled by delete-then-recreate (no ABA).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "paxos_commit/engine.h"

namespace pc::kv {

enum class OpKind : uint8_t { Put = 1, Del = 2, Expect = 3 };

struct Op {
  OpKind kind = OpKind::Put;
  std::string key;
  std::string value;     // Put only
  uint64_t version = 0;  // Expect only
  bool operator==(const Op&) const = default;
};

struct Versioned {
  std::optional<std::string> value;  // nullopt: absent (never written, or deleted)
  uint64_t version = 0;
  bool operator==(const Versioned&) const = default;
};

// Limits checked by decodeOps (bad input is refused, never trusted).
inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr size_t kMaxValueBytes = 1 << 20;
inline constexpr size_t kMaxOps = 10000;

Bytes encodeOps(const std::vector<Op>& ops);
// nullopt on malformed input (truncated, oversize, unknown kind, trailing bytes).
std::optional<std::vector<Op>> decodeOps(const Bytes& payload);

// Applies a committed payload to a plain map (the simulator's durable data, and a
// reference for storage/): each put/del bumps the key's version by one.
void applyOps(std::map<std::string, Versioned>& data, const std::vector<Op>& ops);

// Which prepared transaction holds each key: the built-in engine's write locks, and what
// reads of an embedded engine's data wait on (participant/rm_engine.h). A transaction is
// known from its lock() (even with no keys) until its unlock().
class KeyLocks {
 public:
  // Takes every key of `ops` for `txn`; a key another transaction holds stays its.
  // Returns false if one did.
  bool lock(const TxnId& txn, const std::vector<Op>& ops);
  void unlock(const TxnId& txn);
  std::optional<TxnId> holder(const std::string& key) const;
  bool knows(const TxnId& txn) const { return held_.count(txn) != 0; }
  size_t keyCount() const { return locks_.size(); }
  size_t txnCount() const { return held_.size(); }

 private:
  std::map<std::string, TxnId> locks_;              // key -> prepared txn holding it
  std::map<TxnId, std::vector<std::string>> held_;  // txn -> the keys it took
};

// Engine over committed data read through `reader`. Writes of committed transactions are
// kept in an overlay until the caller says they are durable (forgetDurable), so checks
// see them at once even while the storage thread is still writing them.
class KvEngine : public Engine {
 public:
  using Reader = std::function<Versioned(const std::string& key)>;
  explicit KvEngine(Reader reader) : reader_(std::move(reader)) {}

  PrepareResult prepare(const TxnId& txn, const Bytes& payload) override;
  void commit(const TxnId& txn, const Bytes& payload) override;
  void abort(const TxnId& txn, const Bytes& payload) override;
  void restorePrepared(const TxnId& txn, const Bytes& payload) override;

  // Reads committed data (overlay first).
  Versioned read(const std::string& key) const;
  // The writes of `txn` are in durable storage now: drop them from the overlay unless a
  // later commit overwrote them.
  void forgetDurable(const TxnId& txn) { forgetDurable(std::span<const TxnId>(&txn, 1)); }
  // The same for every transaction of `txns` (sorted), in one pass over the overlay.
  void forgetDurable(std::span<const TxnId> txns);

  size_t lockCount() const { return locks_.keyCount(); }
  size_t overlaySize() const { return overlay_.size(); }
  std::optional<TxnId> lockHolder(const std::string& key) const;

 private:
  struct Pending {
    Versioned value;
    TxnId writer;
  };
  void lockAll(const TxnId& txn, const std::vector<Op>& ops);

  Reader reader_;
  KeyLocks locks_;
  std::map<std::string, Pending> overlay_;
};

}  // namespace pc::kv
