// QuotaEngine: a participant's engine that refuses new transactions while its storage is
// nearly full (Env::nearlyFull(), see "Quota" in env.h), like etcd's
// --quota-backend-bytes: prepare() votes Aborted with a reason starting "storage quota: "
// instead of taking locks, so the node keeps serving what is in flight -- outcomes,
// acks, recovery, collection -- in the headroom left, rather than fail-stopping at
// MDB_MAP_FULL. Everything else is passed to the wrapped engine unchanged.
//
// Wiring (the node host): build the participant core over a QuotaEngine wrapping the
// real engine (the built-in kv::KvEngine or an external one):
//   engine_ = std::make_unique<kv::KvEngine>(env_.reader());
//   quota_ = std::make_unique<storage::QuotaEngine>(*engine_, env_);
//   core_ = std::make_unique<Participant>(id, cfg, *quota_, seed, rec);
// The core stays pure: it sees an engine's vote, as for a conflict.
//
// Threads: prepare() runs on the caller's thread (the event loop); nearlyFull() is an
// atomic the writer updates after each commit. Both referents must outlive this object.
#pragma once

#include <cstdint>

#include "paxos_commit/engine.h"
#include "storage/env.h"

namespace pc::storage {

class QuotaEngine : public Engine {
 public:
  QuotaEngine(Engine& inner, const Env& env) : inner_(inner), env_(env) {}

  PrepareResult prepare(const TxnId& txn, const Bytes& payload) override;
  void commit(const TxnId& txn, const Bytes& payload) override { inner_.commit(txn, payload); }
  void abort(const TxnId& txn, const Bytes& payload) override { inner_.abort(txn, payload); }
  void restorePrepared(const TxnId& txn, const Bytes& payload) override {
    inner_.restorePrepared(txn, payload);
  }

  // Prepares refused for the quota so far.
  uint64_t refused() const { return refused_; }

 private:
  Engine& inner_;
  const Env& env_;
  uint64_t refused_ = 0;
};

}  // namespace pc::storage
