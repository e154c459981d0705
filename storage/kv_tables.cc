#include "storage/kv_tables.h"

#include <algorithm>
#include <optional>

#include "paxos_commit/assert.h"

namespace pc::storage {

namespace {
constexpr int kMaxProbes = 256;
}  // namespace

uint64_t KvTables::onParticipantRecord(lmdb::WriteTxn& w, const ParticipantTxnRecord& x,
                                       bool wasCommitted) const {
  dropLocks(w, x.txn);
  const bool commits = x.state == ParticipantState::Committed && !wasCommitted;
  std::optional<std::vector<kv::Op>> ops;
  if (applyData_ && (x.state == ParticipantState::Prepared || commits)) {
    ops = kv::decodeOps(x.payload);
  }
  if (x.state == ParticipantState::Prepared && ops) writeLocks(w, x.txn, *ops);
  if (!applyData_ || !commits) return 0;
  // Commit applies the writes exactly once, in the transaction that makes the outcome
  // durable. The engine voted Prepared on this payload, so it decodes.
  PC_ASSERT(ops.has_value(), x.txn, "committed payload does not decode");
  return applyOps(w, *ops);
}

void KvTables::dropLocks(lmdb::WriteTxn& w, const TxnId& txn) const {
  std::string prefix = codec::txnKey(txn);
  std::vector<std::string> doomed;
  w.scan(locks_, prefix, [&](std::string_view k, std::string_view) {
    if (k.substr(0, prefix.size()) != prefix) return false;
    doomed.emplace_back(k);
    return true;
  });
  for (const auto& k : doomed) w.del(locks_, k);
}

std::vector<std::string> KvTables::lockKeys(const std::vector<kv::Op>& ops) {
  std::vector<std::string> keys;
  for (const auto& op : ops) keys.push_back(op.key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

void KvTables::writeLocks(lmdb::WriteTxn& w, const TxnId& txn,
                          const std::vector<kv::Op>& ops) const {
  // Derived index of the locks a Prepared record holds (for inspection; the engine
  // retakes them from the payload at restart).
  const std::vector<std::string> keys = lockKeys(ops);
  for (uint32_t i = 0; i < keys.size(); ++i) {
    w.put(locks_, codec::lockKey(txn, i), codec::encodeLock(keys[i]));
  }
}

uint64_t KvTables::applyOps(lmdb::WriteTxn& w, const std::vector<kv::Op>& ops) const {
  uint64_t applied = 0;
  for (const auto& op : ops) {
    if (op.kind == kv::OpKind::Expect) continue;
    auto [slot, cur] = find(w, op.key);
    cur.versioned.version += 1;  // put and del both bump: no ABA for expect
    if (op.kind == kv::OpKind::Put) {
      cur.versioned.value = op.value;
    } else {
      cur.versioned.value.reset();
    }
    if (codec::isLongKey(op.key, maxKeyBytes_)) cur.fullKey = op.key;
    w.put(data_, slot, codec::encode(cur));
    applied += 1;
  }
  return applied;
}

std::pair<std::string, codec::KvValue> KvTables::find(lmdb::WriteTxn& w,
                                                      const std::string& key) const {
  bool isLong = codec::isLongKey(key, maxKeyBytes_);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    std::string slot = codec::kvSlotKey(key, maxKeyBytes_, static_cast<uint8_t>(probe));
    auto v = w.get(data_, slot);
    if (!v) return {slot, codec::KvValue{}};
    codec::KvValue cur = codec::decodeKvValue(*v);
    if (!isLong || cur.fullKey == key) return {slot, cur};
  }
  PC_ASSERT(false, "kv probe sequence exhausted", codec::printable(key));
  return {std::string(), codec::KvValue{}};
}

kv::Versioned KvTables::read(const lmdb::Place& at, MDB_txn* txn, const std::string& key) const {
  bool isLong = codec::isLongKey(key, maxKeyBytes_);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    std::string slot = codec::kvSlotKey(key, maxKeyBytes_, static_cast<uint8_t>(probe));
    auto v = lmdb::readOne<codec::KvValue>(at, txn, data_, "kv_data", slot, codec::decodeKvValue);
    if (!v) return kv::Versioned{};
    if (!isLong || v->fullKey == key) return v->versioned;
  }
  return kv::Versioned{};
}

void KvTables::forEachKv(
    const lmdb::Place& at, MDB_txn* txn,
    const std::function<void(const std::string&, const kv::Versioned&)>& fn) const {
  lmdb::readAll(at, txn, data_, "kv_data", [&](auto k, auto v) {
    codec::KvValue kv = codec::decodeKvValue(v);
    fn(codec::kvKeyOf(k, kv), kv.versioned);
  });
}

void KvTables::forEachLock(const lmdb::Place& at, MDB_txn* txn,
                           const std::function<void(const TxnId&, const std::string&)>& fn) const {
  lmdb::readAll(at, txn, locks_, "kv_locks", [&](auto k, auto v) {
    if (k.size() != codec::kTxnKeyBytes + 4) {
      throw codec::DecodeError("lock key of " + std::to_string(k.size()) + " bytes");
    }
    fn(codec::parseTxnKey(k.substr(0, codec::kTxnKeyBytes)), codec::decodeLock(v));
  });
}

}  // namespace pc::storage
