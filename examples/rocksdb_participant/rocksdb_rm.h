// RocksDbResourceManager: a pc::ResourceManager over a RocksDB TransactionDB, using
// RocksDB's own two-phase commit: each pcommit transaction is a named RocksDB transaction
// (SetName = the txn id in hex) that is Prepare()d with a synced WAL write when it votes
// Prepared, and Commit()ed or Rollback()ed when the outcome arrives. After a crash,
// reopening the TransactionDB recovers the prepared transactions with their locks
// (GetAllPreparedTransactions), which is what prepared() reports.
//
// Data: one RocksDB key per KV key, "d" + key -> 8-byte big-endian version, 1 byte present
// (1) or deleted (0), then the value. Versions follow paxos_commit/kv.h: each committed
// put or del adds one; a deleted key keeps its version.
//
// Locks: every key an operation names (put, del or expect) is locked with GetForUpdate,
// without waiting (lock_timeout 0): a key locked by another prepared transaction makes the
// prepare vote Aborted. Keys only read by `expect` are written back unchanged, so that they
// are in the prepared write batch and RocksDB locks them again when it recovers the
// transaction after a crash.
#pragma once

#include <pcommit/participant.h>
#include <rocksdb/utilities/transaction_db.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

class RocksDbResourceManager : public pc::ResourceManager {
 public:
  // Opens (creating) the TransactionDB in `path` and recovers its prepared transactions.
  // Throws std::runtime_error naming the path and RocksDB's status.
  explicit RocksDbResourceManager(const std::string& path);
  ~RocksDbResourceManager() override;

  pc::PrepareResult prepare(const pc::TxnId& txn, const pc::Bytes& payload) override;
  void commit(const pc::TxnId& txn) override;
  void abort(const pc::TxnId& txn) override;
  std::vector<pc::TxnId> prepared() override;
  bool readable() const override { return true; }
  pc::kv::Versioned read(const std::string& key) override;

 private:
  void adopt(rocksdb::Transaction* t);  // a prepared transaction found at open
  void forget(const pc::TxnId& txn);

  std::string path_;
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::map<pc::TxnId, std::unique_ptr<rocksdb::Transaction>> prepared_;
  std::map<std::string, pc::TxnId> lockedBy_;  // key -> prepared txn (for abort reasons)
  std::map<pc::TxnId, std::vector<std::string>> keysOf_;
};
