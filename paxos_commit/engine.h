// The participant core's view of a storage engine (the in-memory half of a
// ResourceManager). Every call is synchronous and must not block on I/O: durability comes
// from the ParticipantTxnRecord the core persists, not from the engine.
#pragma once

#include <string>

#include "paxos_commit/types.h"

namespace pc {

struct PrepareResult {
  Vote vote = Vote::Aborted;
  std::string reason;  // why Aborted (conflict, failed expect, bad payload)
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Validate `payload` for `txn` and take its locks. Returns Prepared (locks held until
  // commit/abort) or Aborted with a reason (no locks held). Deterministic given the state.
  virtual PrepareResult prepare(const TxnId& txn, const Bytes& payload) = 0;
  // The outcome is Commit: make the writes visible to reads and prepares, release locks.
  // Called once per transaction, only after prepare returned Prepared (or restorePrepared).
  virtual void commit(const TxnId& txn, const Bytes& payload) = 0;
  // The outcome is Abort: release the locks, if any. Idempotent.
  virtual void abort(const TxnId& txn, const Bytes& payload) = 0;
  // Restart: a transaction reloaded in state Prepared takes its locks again.
  virtual void restorePrepared(const TxnId& txn, const Bytes& payload) = 0;
};

}  // namespace pc
