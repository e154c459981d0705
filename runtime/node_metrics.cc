#include "runtime/node_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "paxos_commit/messages.h"

namespace pc::runtime {

namespace {

constexpr size_t kMessageKinds = std::variant_size_v<Message>;

}  // namespace

const char* NodeMetrics::outcomeLabel(Outcome o) {
  return o == Outcome::Commit ? "committed" : "aborted";
}

NodeMetrics::NodeMetrics(const std::string& node, const std::string& role, Protocol protocol)
    : protocol_(toString(protocol)),
      coordinator_(role == "coordinator"),
      participant_(role == "participant"),
      transactions_(registry_.counter(
          "pcommit_transactions_total",
          "Transactions this coordinator decided, by protocol and outcome (each once).",
          {"protocol", "outcome"})),
      commitLatency_(registry_.histogram(
          "pcommit_commit_latency_seconds",
          "Time from a transaction's first CommitRequest at this coordinator to its decision.",
          latencyBucketsSeconds(), {"protocol", "outcome"})),
      recoveriesStarted_(registry_
                             .counter("pcommit_recoveries_started_total",
                                      "Recoveries this node led (phase 1 begun at a higher "
                                      "ballot for a transaction with no outcome).")
                             .get()),
      recoveriesFinished_(registry_
                              .counter("pcommit_recoveries_finished_total",
                                       "Recoveries led here that reached an outcome.")
                              .get()),
      syncedCommitDuration_(
          registry_
              .histogram("pcommit_synced_commit_duration_seconds",
                         "Duration of one synced group commit: a record-log append and fdatasync "
                         "(an LMDB write transaction with PCOMMIT_RECORD_LOG=off).",
                         latencyBucketsSeconds())
              .get()),
      sent_(registry_.counter("pcommit_messages_sent_total",
                              "Protocol messages sent, by kind (in-process ones included).",
                              {"kind"})),
      received_(registry_.counter("pcommit_messages_received_total",
                                  "Protocol messages received and valid, by kind.", {"kind"})),
      rejected_(registry_.counter("pcommit_rejected_input_total",
                                  "Input from outside refused, by reason: invalid_message "
                                  "(dropped at the edge), protocol (refused by the core), "
                                  "other_cluster (a connection naming another cluster id), "
                                  "metrics_http (connections over the bound, oversized "
                                  "requests).",
                                  {"reason"})),
      dropped_(registry_.counter("pcommit_messages_dropped_total",
                                 "Outbound messages dropped, by reason: queue_full, "
                                 "send_failed (the protocol's retries cover them).",
                                 {"reason"})),
      connectionEvents_(registry_.counter(
          "pcommit_connection_events_total",
          "Outbound connections to peers, by event: opened, failed, closed.", {"event"})),
      peersConnected_(registry_
                          .gauge("pcommit_peers_connected",
                                 "Peers this node holds an open outbound connection to.")
                          .get()),
      syncedCommits_(registry_
                         .counter("pcommit_synced_commits_total",
                                  "Synced group commits: LMDB write transactions "
                                  "committed with sync, or record log appends.")
                         .get()),
      recordLog_(registry_.counter(
          "pcommit_record_log_events_total",
          "Record log (acceptors, coordinators), by event: append (a synced group commit), "
          "checkpoint (its records into LMDB), checkpoint_wait (an append waited for one).",
          {"event"})),
      storageQueueBytes_(registry_
                             .gauge("pcommit_storage_queue_bytes",
                                    "Records submitted to storage and not yet durable.")
                             .get()),
      outboxMessages_(registry_
                          .gauge("pcommit_outbox_messages",
                                 "Messages waiting for their records to become durable.")
                          .get()),
      mapUsed_(registry_
                   .gauge("pcommit_lmdb_map_used_bytes",
                          "Pages in use in the LMDB map (last page + 1, times page size).")
                   .get()),
      mapSize_(registry_
                   .gauge("pcommit_lmdb_map_size_bytes",
                          "Current LMDB map size (it doubles when full, up to its limit).")
                   .get()),
      rss_(registry_
               .gauge("pcommit_process_resident_memory_bytes",
                      "Resident memory of the node's process (co-located nodes share it).")
               .get()),
      openFds_(
          registry_
              .gauge("pcommit_process_open_fds", "Open file descriptors of the node's process.")
              .get()) {
  if (participant_) registerParticipantMetrics();
  createInitialSeries(node, role);
}

void NodeMetrics::registerParticipantMetrics() {
  prepares_ = &registry_
                   .counter("pcommit_prepares_total",
                            "Transactions this participant prepared (Prepared records "
                            "written: yes votes).")
                   .get();
  inDoubt_ = &registry_
                  .gauge("pcommit_in_doubt_transactions",
                         "Transactions prepared here whose outcome is not yet known.")
                  .get();
  oldestInDoubt_ = &registry_
                        .gauge("pcommit_in_doubt_oldest_age_seconds",
                               "Age of the oldest in-doubt transaction here (0 if none).")
                        .get();
  heuristic_ = &registry_.counter(
      "pcommit_heuristic_total",
      "Heuristic decisions (pcommit resolve) by result: resolved (made durable here), "
      "agreed / mismatch (the coordinator decided the same / the other outcome).",
      {"result"});
  for (const char* r : {"resolved", "agreed", "mismatch"}) heuristic_->with({r});
}

void NodeMetrics::createInitialSeries(const std::string& node, const std::string& role) {
  registry_
      .gauge("pcommit_node_info", "This node: its name, role and protocol (value 1).",
             {"node", "role", "protocol"})
      .with({node, role, protocol_})
      .set(1);
  if (coordinator_) {
    for (Outcome o : {Outcome::Commit, Outcome::Abort}) {
      transactions_.with({protocol_, outcomeLabel(o)});
      commitLatency_.with({protocol_, outcomeLabel(o)});
    }
  }
  for (size_t k = 0; k < kMessageKinds; ++k) {
    sent_.with({messageKindName(k)});
    received_.with({messageKindName(k)});
  }
  for (const char* r : {"invalid_message", "protocol", "other_cluster", "metrics_http"})
    rejected_.with({r});
  for (const char* r : {"queue_full", "send_failed"}) dropped_.with({r});
  for (const char* e : {"opened", "failed", "closed"}) connectionEvents_.with({e});
}

void NodeMetrics::onLearned(Outcome outcome, std::optional<double> latencySeconds) {
  if (!coordinator_) return;
  transactions_.with({protocol_, outcomeLabel(outcome)}).inc();
  if (latencySeconds)
    commitLatency_.with({protocol_, outcomeLabel(outcome)}).observe(*latencySeconds);
}

void NodeMetrics::onPrepared() {
  if (prepares_) prepares_->inc();
}

void NodeMetrics::onSyncedCommit(double seconds) { syncedCommitDuration_.observe(seconds); }

void NodeMetrics::onRecoveryStarted() { recoveriesStarted_.inc(); }

void NodeMetrics::onRecoveryFinished() { recoveriesFinished_.inc(); }

std::string NodeMetrics::scrape() {
  NodeSample s;
  if (collect_) collect_(s);
  apply(s);
  if (auto rss = processResidentBytes()) rss_.set(static_cast<double>(*rss));
  if (auto fds = processOpenFds()) openFds_.set(static_cast<double>(*fds));
  return registry_.render();
}

void NodeMetrics::apply(const NodeSample& s) {
  for (size_t k = 0; k < kMessageKinds; ++k) {
    if (k < s.sentByKind.size()) sent_.with({messageKindName(k)}).set(s.sentByKind[k]);
    if (k < s.receivedByKind.size()) received_.with({messageKindName(k)}).set(s.receivedByKind[k]);
  }
  rejected_.with({"invalid_message"}).set(s.rejectedAtEdge);
  rejected_.with({"protocol"}).set(s.rejectedByCore);
  rejected_.with({"other_cluster"}).set(s.rejectedOtherCluster);
  rejected_.with({"metrics_http"}).set(s.rejectedHttp);
  dropped_.with({"queue_full"}).set(s.droppedQueueFull);
  dropped_.with({"send_failed"}).set(s.droppedFailed);
  connectionEvents_.with({"opened"}).set(s.connects);
  connectionEvents_.with({"failed"}).set(s.connectFailures);
  connectionEvents_.with({"closed"}).set(s.disconnects);
  peersConnected_.set(static_cast<double>(s.peersConnected));
  syncedCommits_.set(s.syncedCommits);
  recordLog_.with({"append"}).set(s.recordLogAppends);
  recordLog_.with({"checkpoint"}).set(s.recordLogCheckpoints);
  recordLog_.with({"checkpoint_wait"}).set(s.recordLogCheckpointWaits);
  storageQueueBytes_.set(static_cast<double>(s.storageQueueBytes));
  outboxMessages_.set(static_cast<double>(s.outboxMessages));
  mapUsed_.set(static_cast<double>(s.mapUsedBytes));
  mapSize_.set(static_cast<double>(s.mapSizeBytes));
  if (inDoubt_) {
    inDoubt_->set(static_cast<double>(s.inDoubt));
    oldestInDoubt_->set(s.oldestInDoubtAgeSeconds);
    heuristic_->with({"resolved"}).set(s.heuristicResolved);
    heuristic_->with({"agreed"}).set(s.heuristicAgreed);
    heuristic_->with({"mismatch"}).set(s.heuristicMismatch);
  }
}

std::optional<uint64_t> processResidentBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t sizePages = 0, residentPages = 0;
  if (!(in >> sizePages >> residentPages)) return std::nullopt;
  long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::nullopt;
  return residentPages * static_cast<uint64_t>(page);
}

std::optional<uint64_t> processOpenFds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  uint64_t n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++n;
  }
  // The iterator's own descriptor was open while counting.
  return n > 0 ? n - 1 : 0;
}

}  // namespace pc::runtime
