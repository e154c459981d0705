// RmEngine (internal to participant/): adapts a pc::ResourceManager to the engine the
// participant core and its role host drive (participant/external_engine.h).
//
//   core call                      RmEngine does
//   prepare(txn, payload)          rm.prepare(); an exception is an Aborted vote (then
//                                  rm.abort() to release what it left)
//   commit / abort(txn, payload)   nothing yet: the core calls them before its outcome
//                                  record is written
//   outcomeDurable(txn, o)         rm.commit() / rm.abort(): the node's record is durable,
//                                  its ack has not left
//   restorePrepared(txn, payload)  nothing for the engine (it kept its prepared state)
//   recover(records)               the reconcile rules of participant/resource_manager.h
//
// It also tracks the keys of the transactions prepared in the engine (decoded from their KV
// payloads) so that a read waits for an in-doubt write, as with the built-in engine.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "participant/external_engine.h"
#include "participant/resource_manager.h"

namespace pc {

// What recover() did, for logs and tests.
struct ReconcileReport {
  std::vector<TxnId> kept;       // prepared in both: waits for its outcome
  std::vector<TxnId> committed;  // node record Committed: rm.commit()
  std::vector<TxnId> aborted;    // node record Aborted / VotedAborted / none: rm.abort()
};

// The engine lost a transaction the node holds prepared: the start is refused.
class ResourceManagerContractError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RmEngine : public ExternalEngine {
 public:
  using LogFn = std::function<void(const std::string&)>;
  // `rm` outlives this adapter.
  RmEngine(ResourceManager& rm, LogFn log);

  // Engine (called by the participant core).
  PrepareResult prepare(const TxnId& txn, const Bytes& payload) override;
  void commit(const TxnId& txn, const Bytes& payload) override;
  void abort(const TxnId& txn, const Bytes& payload) override;
  void restorePrepared(const TxnId& txn, const Bytes& payload) override;

  // ExternalEngine (called by the participant role host).
  void recover(const Recovered& rec) override;
  void outcomeDurable(const TxnId& txn, Outcome o) override;
  bool readable() const override { return rm_.readable(); }
  std::optional<TxnId> lockHolder(const std::string& key) const override;
  kv::Versioned read(const std::string& key) override { return rm_.read(key); }

  const ReconcileReport& reconciled() const { return report_; }
  // Transactions prepared in the engine whose outcome it has not applied yet.
  size_t preparedCount() const { return locks_.txnCount(); }

 private:
  void lock(const TxnId& txn, const Bytes& payload);
  void log(const std::string& line) const {
    if (log_) log_(line);
  }

  ResourceManager& rm_;
  LogFn log_;
  ReconcileReport report_;
  kv::KeyLocks locks_;  // the transactions prepared in the engine, and their keys
};

}  // namespace pc
