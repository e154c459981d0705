// The built-in KV engine's tables: the participant's data, kept apart from the node's
// protocol records (record_tables.h). Internal to storage/; Env owns one.
//
//   kv_data   slot key (codec::kvSlotKey) -> codec::KvValue   committed data
//   kv_locks  txn || u32 index -> kv key                     locks of Prepared records
//
// Env calls onParticipantRecord() inside the write transaction that writes a
// ParticipantTxnRecord, before the record itself (the order of the puts is part of the
// on-disk image): it drops the transaction's old locks, writes the locks of a Prepared
// record, and applies a Committed record's put/del ops exactly once (when the stored
// record was not already Committed). With applyData off (an external engine holds the
// data) it only drops locks, so nothing is derived from opaque payloads.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <string>

#include "paxos_commit/kv.h"
#include "paxos_commit/records.h"
#include "storage/lmdb_txn.h"

namespace pc::storage {

class KvTables {
 public:
  // maxKeyBytes: LMDB's key limit (long kv keys are hashed into slots, see codec.h).
  KvTables(MDB_dbi data, MDB_dbi locks, size_t maxKeyBytes, bool applyData)
      : data_(data), locks_(locks), maxKeyBytes_(maxKeyBytes), applyData_(applyData) {}

  bool appliesData() const { return applyData_; }
  // The keys a Prepared record with these ops locks: each once, in order (kv_locks rows).
  static std::vector<std::string> lockKeys(const std::vector<kv::Op>& ops);

  // The hook described above. Returns the number of put/del ops applied to kv_data.
  // Throws lmdb::MdbFail (LMDB) and codec::DecodeError (a corrupted stored value).
  uint64_t onParticipantRecord(lmdb::WriteTxn& w, const ParticipantTxnRecord& r,
                               bool wasCommitted) const;

  // Reads in a read-only transaction; StorageError on an LMDB error or a bad value.
  kv::Versioned read(const lmdb::Place& at, MDB_txn* txn, const std::string& key) const;
  void forEachKv(const lmdb::Place& at, MDB_txn* txn,
                 const std::function<void(const std::string&, const kv::Versioned&)>& fn) const;
  void forEachLock(const lmdb::Place& at, MDB_txn* txn,
                   const std::function<void(const TxnId&, const std::string&)>& fn) const;

 private:
  void dropLocks(lmdb::WriteTxn& w, const TxnId& txn) const;
  void writeLocks(lmdb::WriteTxn& w, const TxnId& txn, const std::vector<kv::Op>& ops) const;
  uint64_t applyOps(lmdb::WriteTxn& w, const std::vector<kv::Op>& ops) const;
  // The slot of `key` (probing past hash collisions of long keys) and its current value.
  std::pair<std::string, codec::KvValue> find(lmdb::WriteTxn& w, const std::string& key) const;

  MDB_dbi data_;
  MDB_dbi locks_;
  size_t maxKeyBytes_;
  bool applyData_;
};

}  // namespace pc::storage
