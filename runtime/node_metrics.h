// NodeMetrics: every Prometheus metric a pcommit node exports, defined in this one place
// (names, help, labels, buckets), with the update calls a node host makes and a collect
// callback that reads the rest at scrape time. README "Metrics" lists them for operators.
//
// Two kinds of values:
//   - events the host reports as they happen, on the event loop: onLearned (a coordinator
//     decided), onPrepared (a participant wrote a Prepared record), onSyncedCommit,
//     onRecoveryStarted/Finished;
//   - levels and counts kept elsewhere (transport, storage, core, the process), pulled by
//     scrape() through the collect callback into a NodeSample, then mirrored. Counters that
//     mirror a count never go down (Counter::set).
// Which metrics a node shows depends on its role: coordinators' transaction outcomes and
// latency, participants' in-doubt gauges and prepares; every node the rest. All series a
// role has exist from the start (at 0), so a rate() or a sum over nodes never misses one.
//
// Ownership: one per node, on its event-loop thread, like the host that updates it. Not
// thread-safe. Links the standard library, pc_core and the registry (pc_metrics).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "paxos_commit/types.h"
#include "runtime/metrics.h"

namespace pc::runtime {

// What scrape() reads from the node at that moment (the host fills it in collect).
struct NodeSample {
  // Transport, by message kind (index in the Message variant; messageKindName names it).
  std::vector<uint64_t> sentByKind;
  std::vector<uint64_t> receivedByKind;
  uint64_t rejectedAtEdge = 0;        // invalid messages dropped by the transport
  uint64_t rejectedByCore = 0;        // well-formed messages the protocol core refused
  uint64_t rejectedOtherCluster = 0;  // attaches naming another cluster (transport)
  uint64_t rejectedHttp = 0;      // metrics HTTP: connections over the bound, oversized requests
  uint64_t droppedQueueFull = 0;  // outbound messages dropped: a peer's queue was full
  uint64_t droppedFailed = 0;     // outbound messages lost in a failed call / with no route
  uint64_t connects = 0;          // outbound connections opened
  uint64_t connectFailures = 0;
  uint64_t disconnects = 0;
  uint64_t peersConnected = 0;  // peers with an open outbound connection now
  // Storage and queues.
  uint64_t syncedCommits = 0;     // synced group commits (LMDB or the record log)
  uint64_t recordLogAppends = 0;  // ... of them appends to the record log
  uint64_t recordLogCheckpoints = 0;
  uint64_t recordLogCheckpointWaits = 0;
  uint64_t storageQueueBytes = 0;  // records submitted, not yet durable
  uint64_t outboxMessages = 0;     // sends waiting for their records to be durable
  uint64_t mapUsedBytes = 0;
  uint64_t mapSizeBytes = 0;
  // Participants only.
  uint64_t inDoubt = 0;                // prepared, outcome not yet known
  double oldestInDoubtAgeSeconds = 0;  // 0 when none
  // Heuristic decisions (`pcommit resolve`, docs/PROTOCOL.md §9): made
  // durable here, then confirmed by the coordinator as the same or the other outcome.
  uint64_t heuristicResolved = 0;
  uint64_t heuristicAgreed = 0;
  uint64_t heuristicMismatch = 0;
};

class NodeMetrics {
 public:
  using CollectFn = std::function<void(NodeSample&)>;

  // `role`: coordinator | participant | acceptor (runtime::toString(Role)).
  NodeMetrics(const std::string& node, const std::string& role, Protocol protocol);

  // Coordinators: a transaction decided (the leader's / 2PC coordinator's learned outcome);
  // `latencySeconds` from its first CommitRequest here, if this node saw one.
  void onLearned(Outcome outcome, std::optional<double> latencySeconds);
  // Participants: a Prepared record was handed to storage (a yes vote; it is durable
  // before the vote leaves: docs/PROTOCOL.md phase 1).
  void onPrepared();
  // One synced LMDB commit, and how long the write and sync took.
  void onSyncedCommit(double seconds);
  void onRecoveryStarted();
  void onRecoveryFinished();

  void setCollect(CollectFn fn) { collect_ = std::move(fn); }
  // Collects (the callback, then the process's RSS and fds) and renders the registry.
  std::string scrape();
  const MetricsRegistry& registry() const { return registry_; }

  // The outcome label values: committed, aborted.
  static const char* outcomeLabel(Outcome o);

 private:
  // Constructor steps: the participant-only metrics (prepares, in-doubt gauges, heuristic
  // decisions); then node_info and, at 0, every labelled series this node's role has.
  void registerParticipantMetrics();
  void createInitialSeries(const std::string& node, const std::string& role);
  void apply(const NodeSample& s);

  MetricsRegistry registry_;
  std::string protocol_;
  bool coordinator_;
  bool participant_;
  CollectFn collect_;
  // Events.
  Family<Counter>& transactions_;
  Family<Histogram>& commitLatency_;
  Counter* prepares_ = nullptr;  // participants only
  Counter& recoveriesStarted_;
  Counter& recoveriesFinished_;
  Histogram& syncedCommitDuration_;
  // Mirrors, set at scrape time.
  Family<Counter>& sent_;
  Family<Counter>& received_;
  Family<Counter>& rejected_;
  Family<Counter>& dropped_;
  Family<Counter>& connectionEvents_;
  Gauge& peersConnected_;
  Counter& syncedCommits_;
  Family<Counter>& recordLog_;
  Gauge& storageQueueBytes_;
  Gauge& outboxMessages_;
  Gauge& mapUsed_;
  Gauge& mapSize_;
  Gauge* inDoubt_ = nullptr;  // participants only
  Gauge* oldestInDoubt_ = nullptr;
  Family<Counter>* heuristic_ = nullptr;  // participants only
  Gauge& rss_;
  Gauge& openFds_;
};

// This process's resident set size in bytes (/proc/self/statm) and open file descriptors
// (/proc/self/fd); nullopt if /proc cannot be read.
std::optional<uint64_t> processResidentBytes();
std::optional<uint64_t> processOpenFds();

}  // namespace pc::runtime
