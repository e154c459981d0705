// The node's protocol records in LMDB: how each kind of Record writes its named database
// and how load() reads them back, checked by meaning (validate.h). Internal to storage/;
// Env owns one. The database layout is documented in env.h.
//
// apply() gives exactly the image of paxos_commit's applyRecord() (records.cc); a
// ParticipantTxnRecord also goes through the KV engine's hook (kv_tables.h) first, in the
// same write transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>

#include "paxos_commit/records.h"
#include "storage/kv_tables.h"
#include "storage/lmdb_txn.h"

namespace pc::storage {

struct RecordDbis {
  MDB_dbi acceptor = 0, tombstones = 0, lowWater = 0, participant = 0, leader = 0, decision = 0;
};

class RecordTables {
 public:
  // kv must outlive this object.
  RecordTables(RecordDbis dbis, const KvTables& kv) : dbi_(dbis), kv_(kv) {}

  // Writes one record in w's transaction; returns the KV ops it applied. Throws
  // lmdb::MdbFail and codec::DecodeError (a corrupted stored value met while writing).
  uint64_t apply(lmdb::WriteTxn& w, const Record& r) const;

  // Everything a role needs to recover, vectors sorted by TxnId. Every record is decoded
  // and checked by meaning; the first bad one throws StorageError Corrupted naming the
  // database, the key and the reason.
  Recovered load(const lmdb::Place& at, MDB_txn* txn) const;

 private:
  // One function per record kind (the reference semantics are in records.cc).
  void applyAcceptorTxn(lmdb::WriteTxn& w, const AcceptorTxnRecord& x) const;
  void applyAcceptorForget(lmdb::WriteTxn& w, const AcceptorForgetRecord& x) const;
  void applyAcceptorLowWater(lmdb::WriteTxn& w, const AcceptorLowWaterRecord& x) const;
  uint64_t applyParticipantTxn(lmdb::WriteTxn& w, const ParticipantTxnRecord& x) const;
  void applyParticipantLowWater(lmdb::WriteTxn& w, const ParticipantLowWaterRecord& x) const;
  void applyLeaderRound(lmdb::WriteTxn& w, const LeaderRoundRecord& x) const;
  void applyDecision(lmdb::WriteTxn& w, const DecisionRecord& x) const;
  void applyDecisionLowWater(lmdb::WriteTxn& w, const DecisionLowWaterRecord& x) const;

  // The low-water mark `which` ("acceptor", "participant", "decision"); zero if unset.
  TxnId lowWater(lmdb::WriteTxn& w, const char* which) const;
  // Raises mark `which` to `mark` if higher.
  void raiseLowWater(lmdb::WriteTxn& w, const char* which, const TxnId& mark) const;

  RecordDbis dbi_;
  const KvTables& kv_;
};

}  // namespace pc::storage
