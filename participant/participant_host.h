// ParticipantHost: the participant role of a node (runtime/role_host.h;
// paxos_commit/participant.h), over the built-in KV engine (its data in the node's LMDB
// environment) or over an external engine (participant/external_engine.h; the embedding
// API, participant/participant_node.h).
//
// What it adds to the node's pipeline:
//   - built-in engine: a committed transaction's writes live in the engine's overlay until
//     its Committed record (which applies them in LMDB) is durable and in the tables (with
//     a record log, storage/env.h: at the checkpoint after it); then they are dropped;
//   - external engine: an outcome is applied to the engine (outcomeDurable) once its record
//     is durable and before the ack that lets acceptors forget it leaves; those outcome
//     records are urgent (the engine holds locks until then); and low-water marks are held
//     back until every outcome they may cover was applied (paxos_commit/pipeline.h).
// Reads (`pcommit get`): a key locked by an in-doubt transaction waits for its outcome (a
// read after a commit sees it), for at most kReadLockWaitMs.
// Heuristic decisions (`pcommit resolve`, docs/PROTOCOL.md §9): the
// core decides (2PC only); once the record is durable the host logs "heuristic decision",
// later "heuristic decision agreed" or "heuristic mismatch", and counts them
// (pcommit_heuristic_total). A confirmation record is not an outcome: the engine and the
// outcome failpoint do not hear of it again.
// Failpoints (docs/DESIGN.md §4): participant.after_prepare_persisted,
// participant.after_outcome_persisted (once the record is durable, before replies leave),
// participant.after_vote_sent (once a ballot-0 vote was delivered).
#pragma once

#include <deque>
#include <memory>
#include <utility>

#include "participant/external_engine.h"
#include "runtime/role_host.h"
#include "storage/quota_engine.h"

namespace pc {

class Participant;

class ParticipantHost : public runtime::RoleHost {
 public:
  // `external` (outlives the host), if given, instead of the built-in KV engine.
  explicit ParticipantHost(ExternalEngine* external = nullptr);
  ~ParticipantHost() override;
  Node& start(const runtime::RoleContext& ctx, const Recovered& rec) override;
  PipelineOptions pipelineOptions() const override;
  bool urgent(const Record& r) const override;
  void onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) override;
  std::function<void()> onSend(const Envelope& e) override;
  void fillStatus(wire::NodeStatus::Builder b) const override;
  void fillMetrics(runtime::NodeSample& s) const override;
  Output resolve(NodeId from, const TxnId& txn, std::optional<Outcome> outcome,
                 HeuristicAnswer& answer) override;
  bool readable() const override;
  kj::Promise<kv::Versioned> read(const std::string& key) override;

 private:
  kj::Promise<kv::Versioned> readCommitted(const std::string& key, uint32_t waitedMs);
  void heuristicDurable(const ParticipantTxnRecord& r);
  // The built-in engine's overlay: `txn`'s Committed record is durable; drop its writes
  // once the tables hold them, with every earlier one the tables hold by now.
  void committedDurable(const TxnId& txn);
  void forgetInTables();
  static constexpr uint32_t kReadLockWaitMs = 5000;

  const runtime::RoleContext* ctx_ = nullptr;  // set by start(); NodeHost keeps it alive
  ExternalEngine* external_ = nullptr;
  std::unique_ptr<kv::KvEngine> engine_;         // the built-in engine, if no external one
  std::unique_ptr<storage::QuotaEngine> quota_;  // wraps the engine the core uses
  std::unique_ptr<Participant> core_;            // after the engine: destroyed before it
  // Durable committed transactions whose writes the tables may not hold yet, with the
  // record log's frame number at their durability (Env::tablesHold), oldest first.
  std::deque<std::pair<uint64_t, TxnId>> notInTables_;
  uint64_t heuristicResolved_ = 0;  // pcommit_heuristic_total{result=...}
  uint64_t heuristicAgreed_ = 0;
  uint64_t heuristicMismatch_ = 0;
};

}  // namespace pc
