// NodeHost: runs one node of a cluster -- a coordinator, participant or acceptor core --
// on a KJ event loop, with its LMDB storage and its Cap'n Proto transport.
//
// The driver contract of paxos_commit/output.h, for real:
//   - the core is called only on the event-loop thread, synchronously;
//   - an Output's records go to the storage thread as one batch (group commit merges the
//     batches pending); its sends, and the sends of every later Output, wait until that
//     batch is durable (FIFO by sequence number), then leave through the transport;
//   - a message a node sends to itself is delivered through the event loop, never by a
//     re-entrant call into the core; so is one to another node hosted in this process
//     (setLocalPeers), with no socket, and still only once its records are durable;
//   - ticks come from a KJ timer every tick-ms.
// Failpoints (PCOMMIT_FAILPOINTS) fire at the protocol steps named in DESIGN.md §4.
#pragma once

#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/debug.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "paxos_commit/kv.h"
#include "paxos_commit/node.h"
#include "rpc/transport.h"
#include "runtime/cluster_config.h"
#include "runtime/external_engine.h"
#include "runtime/failpoints.h"
#include "runtime/host_metrics.h"
#include "storage/env.h"
#include "storage/storage_thread.h"

namespace pc::runtime {

using LogFn = std::function<void(const std::string&)>;

// The node log's line format on stderr: wall-clock time (UTC, ms), node name, message.
void logLine(const std::string& node, const std::string& line);

// How a node's records reach the disk, from PCOMMIT_STORAGE_WRITES: inline (default) or
// thread (see storage::ThreadOptions::inlineWrites). Throws std::runtime_error on any
// other value.
bool storageWritesInline();

class NodeHost {
 public:
  // `env` is open for writing and outlives the host. Loads the durable state and builds
  // the core of `me`'s role from it. A participant runs `external` (which outlives the
  // host) if given, else the built-in KV engine over `env`.
  NodeHost(kj::AsyncIoContext& io, const ClusterConfig& cluster, const NodeInfo& me,
           storage::Env& env, Failpoints& failpoints, uint64_t seed, LogFn log,
           ExternalEngine* external = nullptr);
  ~NodeHost();

  // Listens on the node's address and runs until the returned promise is dropped.
  kj::Promise<void> run();

  // Other nodes of the cluster hosted in this process, on this event loop (`pcommit serve
  // --node p1 --node a1 ...`; co-located roles). A message to one of them leaves like any
  // other -- from the outbox, once the records it depends on are durable (PROTOCOL.md §6
  // pitfall 9) -- but is handed to that host's inbound path on a later event-loop turn
  // instead of a socket: counted as sent (messages_sent, sent_<Kind>) and in
  // messages_local, never as an RPC call. The hosts must be destroyed together, after the
  // loop stopped running them. Call before run().
  void setLocalPeers(const std::vector<NodeHost*>& peers);
  NodeId id() const { return me_.id; }

 private:
  struct Pending {
    storage::Seq seq;
    Envelope env;
  };
  void handle(Output&& out);
  void holdBackLowWater(std::vector<Record>& persist);
  void route(storage::Seq tag, Envelope&& e);
  void transmit(Envelope&& e);
  void submit(std::vector<Record>&& batch, bool urgent);
  kj::Promise<void> watchDurable();
  void onDurable(storage::Seq seq);
  void scheduleInlineWrite(bool urgent);
  kj::Promise<void> tickLoop();
  kj::Promise<kv::Versioned> readCommitted(const std::string& key, uint32_t waitedMs);
  static constexpr uint32_t kReadLockWaitMs = 5000;
  // Events the loop runs in a row before it checks the sockets anyway (NodeHost::run).
  static constexpr uint32_t kBusyPollEvents = 16;
  void onInbound(NodeId from, Message&& msg);
  void fillStatus(wire::NodeStatus::Builder b);
  void fillMetrics(NodeSample& s);  // scrape time (metrics_ only)
  void log(const std::string& line) const;

  kj::AsyncIoContext& io_;
  const ClusterConfig& cluster_;
  const NodeInfo me_;
  CoreConfig coreCfg_;
  storage::Env& env_;
  Failpoints& fp_;
  uint64_t seed_;
  LogFn log_;
  std::unique_ptr<kv::KvEngine> engine_;  // participants only
  ExternalEngine* external_ = nullptr;    // instead of engine_, if given
  std::unique_ptr<Node> core_;
  std::unique_ptr<storage::StorageThread> storage_;
  bool inlineWriteScheduled_ = false;
  bool inlineWriteDeferred_ = false;  // background records queued, no write scheduled
  std::unique_ptr<rpc::Transport> transport_;
  std::unique_ptr<kj::UnixEventPort::FdObserver> durableObserver_;

  storage::Seq lastSeq_ = 0;                  // sequence number of the last batch handed to storage
  storage::Seq durableSeq_ = 0;               // every batch <= this is durable
  std::deque<std::vector<Record>> overflow_;  // batches waiting for room in the queue
  std::deque<Pending> outbox_;                // sends waiting for their records
  std::deque<std::pair<storage::Seq, TxnId>> kvDurable_;           // overlay entries to drop
  std::deque<std::pair<storage::Seq, std::string>> afterPersist_;  // failpoints to fire
  std::map<TxnId, size_t> preparesInFlight_;                       // coordinator.after_prepare_sent
  std::set<TxnId> recovering_;                                     // txns whose recovery we log
  // external_ only: outcomes to apply once durable; a participant low-water mark held back
  // until every outcome it may collect was applied (pair: after which batch, the mark).
  std::deque<std::tuple<storage::Seq, TxnId, Outcome>> externalDurable_;
  std::optional<std::pair<storage::Seq, TxnId>> heldLowWater_;
  uint64_t startMs_ = 0;
  uint64_t rejectedLogged_ = 0;
  class Errors;
  std::unique_ptr<Errors> errors_;
  std::unique_ptr<kj::TaskSet> tasks_;
  std::map<NodeId, NodeHost*> localPeers_;  // co-hosted nodes (setLocalPeers)
  // Prometheus metrics, only for a node with a `metrics` address (README "Metrics").
  std::unique_ptr<HostMetrics> metrics_;
};

}  // namespace pc::runtime
