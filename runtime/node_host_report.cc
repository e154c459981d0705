// What a node reports about itself and answers operators: the status call's fields and
// counters (`pcommit status`, `cluster status`), the Prometheus sample read at scrape time
// (runtime/node_metrics.h), and an operator's heuristic decision (`pcommit resolve`). The
// role adds its own part through RoleHost.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/node_host.h"

namespace pc::runtime {

void NodeHost::fillStatus(wire::NodeStatus::Builder b) {
  catchUp();  // ages in ticks (a participant's in-doubt list) count from the clock
  b.setNodeId(me_.id);
  b.setName(me_.name);
  b.setRole(toString(me_.role));
  b.setProtocol(toString(coreCfg_.protocol));
  b.setPid(static_cast<uint32_t>(::getpid()));
  b.setUptimeMs(monotonicMs() - startMs_);
  b.setVersion(PC_PROJECT_VERSION);
  role_->fillStatus(b);
  const auto& tm = transport_->metrics();
  auto sm = storage_->metrics();
  std::vector<std::pair<std::string, uint64_t>> counters = {
      {"messages_sent", tm.messagesSent},
      {"messages_received", tm.messagesReceived},
      {"messages_local", tm.messagesLocal},
      {"rpc_calls_sent", tm.rpcCallsSent},
      {"rpc_calls_received", tm.rpcCallsReceived},
      {"rejected_at_edge", tm.rejected},
      {"rejected_by_core", core_->rejected()},
      {"dropped_queue_full", tm.droppedQueue},
      {"dropped_failed", tm.droppedFailed},
      {"inbound_refused", tm.inboundRefused},
      {"inbound_idle_closed", tm.inboundIdleClosed},
      {"accept_errors", tm.acceptErrors},
      {"call_timeouts", tm.callTimeouts},
      {"attach_refused", tm.attachRefused},
      {"cluster_mismatch", tm.clusterMismatch},
      {"synced_commits", sm.env.syncedCommits},
      {"synced_commit_us", sm.env.syncedCommitMicros},
      {"synced_commits_critical", sm.env.criticalCommits},
      {"synced_commits_background", sm.env.backgroundCommits},
      {"records_written", sm.env.recordsWritten},
      {"records_critical", sm.env.criticalRecords},
      {"record_log_appends", sm.env.logAppends},
      {"record_log_checkpoints", sm.env.logCheckpoints},
      {"record_log_checkpoint_waits", sm.env.logCheckpointWaits},
      {"record_log_checkpoint_us", sm.env.logCheckpointMicros},
      {"record_log_skipped_records", sm.env.logCheckpointSkipped},
      {"storage_pending_records", sm.pendingRecords},
      {"outbox", pipeline_.outboxSize()},
  };
  // One counter per message kind, in the order of the Message variant.
  for (size_t k = 0; k < tm.sentByKind.size(); ++k) {
    counters.emplace_back(std::string("sent_") + messageKindName(k), tm.sentByKind[k]);
  }
  auto cb = b.initCounters(static_cast<unsigned>(counters.size()));
  for (unsigned i = 0; i < counters.size(); ++i) {
    cb[i].setName(counters[i].first);
    cb[i].setValue(counters[i].second);
  }
}

void NodeHost::fillMetrics(NodeSample& s) {
  catchUp();
  const auto& tm = transport_->metrics();
  s.sentByKind.assign(tm.sentByKind.begin(), tm.sentByKind.end());
  s.receivedByKind.assign(tm.receivedByKind.begin(), tm.receivedByKind.end());
  s.rejectedAtEdge = tm.rejected;
  s.rejectedOtherCluster = tm.clusterMismatch;
  s.rejectedByCore = core_->rejected();
  s.droppedQueueFull = tm.droppedQueue;
  s.droppedFailed = tm.droppedFailed;
  s.connects = tm.connects;
  s.connectFailures = tm.connectFailures;
  s.disconnects = tm.disconnects;
  for (const auto& n : cluster_.nodes) {
    if (n.id != me_.id && transport_->connected(n.id)) ++s.peersConnected;
  }
  auto sm = storage_->metrics();
  s.syncedCommits = sm.env.syncedCommits;
  s.recordLogAppends = sm.env.logAppends;
  s.recordLogCheckpoints = sm.env.logCheckpoints;
  s.recordLogCheckpointWaits = sm.env.logCheckpointWaits;
  s.storageQueueBytes = sm.pendingBytes;
  s.outboxMessages = pipeline_.outboxSize();
  s.mapUsedBytes = env_.usedBytes();
  s.mapSizeBytes = sm.env.mapSizeBytes;
  role_->fillMetrics(s);  // role-specific values (a participant's in-doubt transactions)
}

kj::Promise<HeuristicAnswer> NodeHost::resolve(NodeId from, const TxnId& txn,
                                               std::optional<Outcome> outcome) {
  HeuristicAnswer answer;
  catchUp();
  storage::Seq tag = handle(role_->resolve(from, txn, outcome, answer));
  // The answer promises durability like a reply message: it waits for its batch (or the
  // last earlier one) as the Output's sends do.
  if (tag <= pipeline_.durableSeq()) return answer;
  auto paf = kj::newPromiseAndFulfiller<HeuristicAnswer>();
  auto fulfiller =
      std::make_shared<kj::Own<kj::PromiseFulfiller<HeuristicAnswer>>>(kj::mv(paf.fulfiller));
  pipeline_.atDurable(tag, [fulfiller, answer] { (*fulfiller)->fulfill(HeuristicAnswer(answer)); });
  if (pipeline_.writeNeed() != WriteNeed::None) scheduleWrite();
  return kj::mv(paf.promise);
}

}  // namespace pc::runtime
