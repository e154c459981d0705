#include "paxos_commit/kv.h"

#include <algorithm>

#include "paxos_commit/assert.h"

namespace pc::kv {

namespace {

void putVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Accepts only what putVarint writes: no bits beyond 64 (they were dropped silently, so an
// `expect` version could wrap) and no redundant zero groups (one op list, one encoding).
// Found by tests/fuzz/fuzz_kv_ops (decode -> encode must give back the bytes).
bool getVarint(const Bytes& in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    auto b = static_cast<uint8_t>(in[pos++]);
    if (shift == 63 && b > 1) return false;  // the 10th group holds bit 63 alone
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return b != 0 || shift == 0;
  }
  return false;
}

void putString(Bytes& out, const std::string& s) {
  putVarint(out, s.size());
  out += s;
}

bool getString(const Bytes& in, size_t& pos, size_t max, std::string& s) {
  uint64_t n;
  if (!getVarint(in, pos, n)) return false;
  if (n > max || n > in.size() - pos) return false;
  s.assign(in, pos, static_cast<size_t>(n));
  pos += static_cast<size_t>(n);
  return true;
}

}  // namespace

Bytes encodeOps(const std::vector<Op>& ops) {
  Bytes out;
  putVarint(out, ops.size());
  for (const auto& op : ops) {
    out.push_back(static_cast<char>(op.kind));
    putString(out, op.key);
    if (op.kind == OpKind::Put) putString(out, op.value);
    if (op.kind == OpKind::Expect) putVarint(out, op.version);
  }
  return out;
}

std::optional<std::vector<Op>> decodeOps(const Bytes& payload) {
  size_t pos = 0;
  uint64_t n;
  if (!getVarint(payload, pos, n) || n > kMaxOps) return std::nullopt;
  std::vector<Op> ops;
  ops.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    if (pos >= payload.size()) return std::nullopt;
    Op op;
    auto kind = static_cast<uint8_t>(payload[pos++]);
    if (kind < 1 || kind > 3) return std::nullopt;
    op.kind = static_cast<OpKind>(kind);
    if (!getString(payload, pos, kMaxKeyBytes, op.key) || op.key.empty()) return std::nullopt;
    if (op.kind == OpKind::Put && !getString(payload, pos, kMaxValueBytes, op.value)) {
      return std::nullopt;
    }
    if (op.kind == OpKind::Expect && !getVarint(payload, pos, op.version)) return std::nullopt;
    ops.push_back(std::move(op));
  }
  if (pos != payload.size()) return std::nullopt;
  return ops;
}

void applyOps(std::map<std::string, Versioned>& data, const std::vector<Op>& ops) {
  for (const auto& op : ops) {
    if (op.kind == OpKind::Expect) continue;
    auto& v = data[op.key];
    v.version += 1;
    if (op.kind == OpKind::Put) {
      v.value = op.value;
    } else {
      v.value.reset();
    }
  }
}

PrepareResult KvEngine::prepare(const TxnId& txn, const Bytes& payload) {
  auto ops = decodeOps(payload);
  if (!ops) return {Vote::Aborted, "malformed payload"};
  for (const auto& op : *ops) {
    auto holder = locks_.holder(op.key);
    if (holder && *holder != txn) {
      return {Vote::Aborted, "conflict: key '" + op.key + "' is locked by " + holder->toString()};
    }
  }
  for (const auto& op : *ops) {
    if (op.kind != OpKind::Expect) continue;
    auto cur = read(op.key);
    if (cur.version != op.version) {
      return {Vote::Aborted, "expect failed: key '" + op.key + "' is at version " +
                                 std::to_string(cur.version) + ", expected " +
                                 std::to_string(op.version)};
    }
  }
  lockAll(txn, *ops);
  return {Vote::Prepared, ""};
}

void KvEngine::commit(const TxnId& txn, const Bytes& payload) {
  auto ops = decodeOps(payload);
  PC_ASSERT(ops.has_value(), txn);  // it was prepared, so it decoded once already
  for (const auto& op : *ops) {
    if (op.kind == OpKind::Expect) continue;
    Versioned cur = read(op.key);
    cur.version += 1;
    if (op.kind == OpKind::Put) {
      cur.value = op.value;
    } else {
      cur.value.reset();
    }
    overlay_[op.key] = Pending{cur, txn};
  }
  locks_.unlock(txn);
}

void KvEngine::abort(const TxnId& txn, const Bytes&) { locks_.unlock(txn); }

void KvEngine::restorePrepared(const TxnId& txn, const Bytes& payload) {
  auto ops = decodeOps(payload);
  PC_ASSERT(ops.has_value(), txn);
  lockAll(txn, *ops);
}

Versioned KvEngine::read(const std::string& key) const {
  auto it = overlay_.find(key);
  if (it != overlay_.end()) return it->second.value;
  return reader_(key);
}

void KvEngine::forgetDurable(std::span<const TxnId> txns) {
  PC_ASSERT(std::is_sorted(txns.begin(), txns.end()), txns.size());
  if (txns.empty()) return;
  for (auto it = overlay_.begin(); it != overlay_.end();) {
    if (std::binary_search(txns.begin(), txns.end(), it->second.writer)) {
      it = overlay_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<TxnId> KvEngine::lockHolder(const std::string& key) const {
  return locks_.holder(key);
}

// Prepare checked every key first: a lock held by another transaction here is our bug.
void KvEngine::lockAll(const TxnId& txn, const std::vector<Op>& ops) {
  bool all = locks_.lock(txn, ops);
  PC_ASSERT(all, txn);
}

bool KeyLocks::lock(const TxnId& txn, const std::vector<Op>& ops) {
  auto& keys = held_[txn];
  bool all = true;
  for (const auto& op : ops) {
    auto [it, inserted] = locks_.emplace(op.key, txn);
    if (inserted) keys.push_back(op.key);
    all = all && it->second == txn;
  }
  return all;
}

void KeyLocks::unlock(const TxnId& txn) {
  auto it = held_.find(txn);
  if (it == held_.end()) return;
  for (const auto& k : it->second) {
    auto l = locks_.find(k);
    if (l != locks_.end() && l->second == txn) locks_.erase(l);
  }
  held_.erase(it);
}

std::optional<TxnId> KeyLocks::holder(const std::string& key) const {
  auto it = locks_.find(key);
  if (it == locks_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pc::kv
