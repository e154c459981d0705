#include "rocksdb_rm.h"

#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include <stdexcept>

namespace {

const std::string kDataPrefix = "d";

std::string dataKey(const std::string& key) { return kDataPrefix + key; }

std::string encodeValue(const pc::kv::Versioned& v) {
  std::string out(9, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v.version >> (56 - 8 * i)) & 0xff);
  out[8] = v.value ? 1 : 0;
  if (v.value) out += *v.value;
  return out;
}

pc::kv::Versioned decodeValue(const std::string& bytes, const std::string& key) {
  if (bytes.size() < 9 || (bytes[8] != 0 && bytes[8] != 1)) {
    throw std::runtime_error("rocksdb: corrupted value for key '" + key + "'");
  }
  pc::kv::Versioned v;
  for (int i = 0; i < 8; ++i) v.version = (v.version << 8) | static_cast<uint8_t>(bytes[i]);
  if (bytes[8] == 1) v.value = bytes.substr(9);
  return v;
}

[[noreturn]] void fail(const std::string& what, const rocksdb::Status& s) {
  throw std::runtime_error("rocksdb: " + what + ": " + s.ToString());
}

// The data keys of a recovered transaction's write batch (its locked keys).
class KeyCollector : public rocksdb::WriteBatch::Handler {
 public:
  std::vector<std::string> keys;
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& key, const rocksdb::Slice&) override {
    if (key.starts_with(kDataPrefix)) keys.push_back(key.ToString().substr(kDataPrefix.size()));
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status MarkBeginPrepare(bool) override { return rocksdb::Status::OK(); }
  rocksdb::Status MarkEndPrepare(const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
  rocksdb::Status MarkNoop(bool) override { return rocksdb::Status::OK(); }
  rocksdb::Status MarkRollback(const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
  rocksdb::Status MarkCommit(const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
};

}  // namespace

RocksDbResourceManager::RocksDbResourceManager(const std::string& path) : path_(path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.allow_2pc = true;  // prepared transactions survive a crash (WAL kept until commit)
  rocksdb::TransactionDBOptions txnDbOptions;
  rocksdb::TransactionDB* db = nullptr;
  rocksdb::Status s = rocksdb::TransactionDB::Open(options, txnDbOptions, path, &db);
  if (!s.ok()) fail("cannot open " + path, s);
  db_.reset(db);
  std::vector<rocksdb::Transaction*> recovered;
  db_->GetAllPreparedTransactions(&recovered);
  for (rocksdb::Transaction* t : recovered) adopt(t);
}

RocksDbResourceManager::~RocksDbResourceManager() {
  // Prepared transactions stay prepared in the WAL: deleting the handles does not roll
  // them back, the next open recovers them.
  prepared_.clear();
  db_.reset();
}

void RocksDbResourceManager::adopt(rocksdb::Transaction* t) {
  std::unique_ptr<rocksdb::Transaction> owned(t);
  auto txn = pc::TxnId::parse(t->GetName());
  if (!txn) {
    throw std::runtime_error("rocksdb: " + path_ + " holds a prepared transaction named '" +
                             t->GetName() + "' that is not a pcommit transaction id");
  }
  KeyCollector keys;
  rocksdb::Status s = t->GetWriteBatch()->GetWriteBatch()->Iterate(&keys);
  if (!s.ok()) fail("reading the writes of prepared transaction " + t->GetName(), s);
  for (const auto& k : keys.keys) lockedBy_[k] = *txn;
  keysOf_[*txn] = keys.keys;
  prepared_[*txn] = std::move(owned);
}

pc::PrepareResult RocksDbResourceManager::prepare(const pc::TxnId& txn, const pc::Bytes& payload) {
  auto ops = pc::kv::decodeOps(payload);
  if (!ops) return {pc::Vote::Aborted, "malformed payload"};
  if (prepared_.count(txn)) return {pc::Vote::Prepared, ""};  // a repeat: already durable
  // A clear reason first (RocksDB's lock error does not name the holder).
  for (const auto& op : *ops) {
    auto it = lockedBy_.find(op.key);
    if (it != lockedBy_.end() && it->second != txn) {
      return {pc::Vote::Aborted,
              "conflict: key '" + op.key + "' is locked by " + it->second.toString()};
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;  // Prepare() and Commit() are durable when they return
  rocksdb::TransactionOptions to;
  to.lock_timeout = 0;  // no waiting: a conflict is an Aborted vote
  std::unique_ptr<rocksdb::Transaction> t(db_->BeginTransaction(wo, to));
  rocksdb::Status s = t->SetName(txn.toString());
  if (!s.ok()) fail("naming transaction " + txn.toString(), s);

  // Lock and read every key once (the committed state the ops apply to).
  std::map<std::string, pc::kv::Versioned> state;
  for (const auto& op : *ops) {
    if (state.count(op.key)) continue;
    std::string bytes;
    s = t->GetForUpdate(rocksdb::ReadOptions(), dataKey(op.key), &bytes);
    if (s.IsTimedOut() || s.IsBusy()) {
      t->Rollback();
      return {pc::Vote::Aborted, "conflict: key '" + op.key + "' is locked in rocksdb"};
    }
    if (s.IsNotFound()) {
      state[op.key] = pc::kv::Versioned{};
    } else if (s.ok()) {
      state[op.key] = decodeValue(bytes, op.key);
    } else {
      t->Rollback();
      fail("reading key '" + op.key + "'", s);
    }
  }
  for (const auto& op : *ops) {
    if (op.kind != pc::kv::OpKind::Expect) continue;
    uint64_t at = state[op.key].version;
    if (at != op.version) {
      t->Rollback();
      return {pc::Vote::Aborted, "expect failed: key '" + op.key + "' is at version " +
                                     std::to_string(at) + ", expected " +
                                     std::to_string(op.version)};
    }
  }
  for (const auto& op : *ops) {
    if (op.kind == pc::kv::OpKind::Expect) continue;
    auto& v = state[op.key];
    v.version += 1;
    if (op.kind == pc::kv::OpKind::Put) {
      v.value = op.value;
    } else {
      v.value.reset();
    }
  }
  std::vector<std::string> keys;
  for (const auto& [key, v] : state) {
    // Expect-only keys are written back unchanged: then they are part of the prepared
    // batch, and locked again when RocksDB recovers the transaction.
    s = t->Put(dataKey(key), encodeValue(v));
    if (!s.ok()) {
      t->Rollback();
      fail("writing key '" + key + "'", s);
    }
    keys.push_back(key);
  }
  s = t->Prepare();  // the WAL holds the prepared batch, synced
  if (!s.ok()) {
    t->Rollback();
    fail("preparing " + txn.toString(), s);
  }
  for (const auto& k : keys) lockedBy_[k] = txn;
  keysOf_[txn] = std::move(keys);
  prepared_[txn] = std::move(t);
  return {pc::Vote::Prepared, ""};
}

void RocksDbResourceManager::commit(const pc::TxnId& txn) {
  auto it = prepared_.find(txn);
  if (it == prepared_.end()) return;  // committed already (idempotent)
  rocksdb::Status s = it->second->Commit();
  if (!s.ok()) fail("committing " + txn.toString(), s);
  forget(txn);
}

void RocksDbResourceManager::abort(const pc::TxnId& txn) {
  auto it = prepared_.find(txn);
  if (it == prepared_.end()) return;  // never prepared here, or rolled back already
  rocksdb::Status s = it->second->Rollback();
  if (!s.ok()) fail("rolling back " + txn.toString(), s);
  forget(txn);
}

std::vector<pc::TxnId> RocksDbResourceManager::prepared() {
  std::vector<pc::TxnId> out;
  for (const auto& [txn, t] : prepared_) out.push_back(txn);
  return out;
}

pc::kv::Versioned RocksDbResourceManager::read(const std::string& key) {
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dataKey(key), &bytes);
  if (s.IsNotFound()) return {};
  if (!s.ok()) fail("reading key '" + key + "'", s);
  return decodeValue(bytes, key);
}

void RocksDbResourceManager::forget(const pc::TxnId& txn) {
  for (const auto& k : keysOf_[txn]) {
    auto l = lockedBy_.find(k);
    if (l != lockedBy_.end() && l->second == txn) lockedBy_.erase(l);
  }
  keysOf_.erase(txn);
  prepared_.erase(txn);
}
