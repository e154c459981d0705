// NodeHost: runs one node of a cluster on a KJ event loop: a role (runtime/role_host.h: a
// coordinator, participant or acceptor, chosen by the caller), its LMDB storage and its
// Cap'n Proto transport. NodeHost knows no role; the role host adds its duties at the
// points the RoleHost contract names.
//
// The driver contract of paxos_commit/output.h, for real, through paxos_commit/pipeline.h:
//   - the core is called only on the event-loop thread, synchronously;
//   - an Output's records go to storage as one batch (group commit merges the batches
//     pending); its sends, and the sends of every later Output, wait until that batch is
//     durable (FIFO by sequence number), then leave through the transport;
//   - inline writes (the default): a batch a reply waits for is written at the end of the
//     event-loop turn; background batches ride along or wait for the next tick;
//   - a message a node sends to itself is delivered through the event loop, never by a
//     re-entrant call into the core; so is one to another node hosted in this process
//     (setLocalPeers), with no socket, and still only once its records are durable;
//   - ticks on demand (PCOMMIT_TICKS=demand, the default; ticksOnDemand()): a node that
//     handled a message in the last kBusyMs or has background records waiting ticks every
//     tick-ms; an idle one sleeps until the tick its core announced (Output::wakeAtTick,
//     paxos_commit/output.h point 3), one second at most. Before anything reaches the core
//     (a message, a status or resolve call) it gets every tick that elapsed since its
//     last, so its timeouts keep their length. PCOMMIT_TICKS=fixed ticks every tick-ms.
// Failpoints (PCOMMIT_FAILPOINTS) fire at the protocol steps named in docs/DESIGN.md §4, from
// the role hosts.
#pragma once

#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/debug.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "paxos_commit/node.h"
#include "paxos_commit/pipeline.h"
#include "rpc/transport.h"
#include "runtime/cluster_config.h"
#include "runtime/failpoints.h"
#include "runtime/host_metrics.h"
#include "runtime/log.h"
#include "runtime/role_host.h"
#include "storage/env.h"
#include "storage/storage_thread.h"

namespace pc::runtime {

// How a node's records reach the disk, from PCOMMIT_STORAGE_WRITES: inline (default) or
// thread (see storage::ThreadOptions::inlineWrites). Throws std::runtime_error on any
// other value.
bool storageWritesInline();
// The record log of a node whose tables are read at start alone (storage::Options::
// recordLogBytes), from PCOMMIT_RECORD_LOG: on (default, kDefaultRecordLogBytes), off, or
// a size such as 4MiB. Throws std::runtime_error on anything else.
inline constexpr size_t kDefaultRecordLogBytes = size_t{256} << 10;
size_t recordLogBytes();
// How a node ticks its core, from PCOMMIT_TICKS: demand (default) or fixed (see above).
// Throws std::runtime_error on any other value.
bool ticksOnDemand();

class NodeHost {
 public:
  // `env` is open for writing and outlives the host. run() loads the durable state and
  // has `role` build the core from it.
  NodeHost(kj::AsyncIoContext& io, const ClusterConfig& cluster, const NodeInfo& me,
           storage::Env& env, Failpoints& failpoints, uint64_t seed, LogFn log,
           std::unique_ptr<RoleHost> role);
  ~NodeHost();

  // Listens on the node's address and runs until the returned promise is dropped.
  kj::Promise<void> run();

  // Other nodes of the cluster hosted in this process, on this event loop (`pcommit serve
  // --node p1 --node a1 ...`; co-located roles). A message to one of them leaves like any
  // other -- from the outbox, once the records it depends on are durable (docs/PROTOCOL.md §6
  // pitfall 9) -- but is handed to that host's inbound path on a later event-loop turn
  // instead of a socket: counted as sent (messages_sent, sent_<Kind>) and in
  // messages_local, never as an RPC call. The hosts must be destroyed together, after the
  // loop stopped running them. Call before run().
  void setLocalPeers(const std::vector<NodeHost*>& peers);
  NodeId id() const { return me_.id; }

 private:
  storage::Seq handle(Output&& out);  // returns the tag its sends wait for
  kj::Promise<HeuristicAnswer> resolve(NodeId from, const TxnId& txn,
                                       std::optional<Outcome> outcome);
  void transmit(Envelope&& e);
  void transmitReleased();  // every send the pipeline released, in order
  bool submitQueued();
  void scheduleSubmit();
  void releaseDurable(storage::Seq seq);
  void scheduleWrite();
  kj::Promise<void> watchDurable();
  kj::Promise<void> startTicking();  // never resolves; fails if a tick throws
  kj::Promise<void> tickLoop();      // PCOMMIT_TICKS=fixed
  // Ticks on demand: catchUp() gives the core every tick elapsed by the clock (then one
  // writeAtTick), noteWake() keeps an announced tick, armTimer() sets the timer for the
  // earliest tick the node needs; a timer replaced by an earlier one fires and does nothing.
  void catchUp();
  void noteWake(uint64_t tick);
  void armTimer();
  uint64_t elapsedTicks();
  // The longest a node sleeps without a tick (a role's timer it failed to announce would
  // fire this late at worst) and the most ticks one catch-up delivers (after the process
  // was stopped longer than that, the rest are skipped, as a fixed-rate tick skips them).
  static constexpr uint64_t kMaxIdleMs = 1000;
  static constexpr uint64_t kMaxCatchUpTicks = 2000;
  // A node that handled a message in the last kBusyMs ticks every tick, as a fixed-rate
  // tick did: under load nothing changes; only an idle node sleeps. (At one client, ten
  // alternated rounds of pure on-demand ticks had the part of p50 that is not a synced
  // write 30-60 us higher than fixed ticks, inside the noise but not ruled out.)
  static constexpr uint64_t kBusyMs = 50;
  // At a tick, background records (outcomes, GC tombstones, low-water marks) are written
  // only if the oldest was handed in before the previous tick, so after one to two ticks;
  // a younger one is left for the next urgent write, which takes it along in the same synced
  // commit. Written at the first tick, it blocked the loop with a synced write of its own
  // just when, in a closed loop, the next transaction arrives (a participant learns the
  // outcome when the client does; the next Prepare lands one message delay later and waited
  // for the rest of that write: docs/notes/direct.md).
  void writeAtTick();
  // Events the loop runs in a row before it checks the sockets anyway (NodeHost::run).
  static constexpr uint32_t kBusyPollEvents = 16;
  void onInbound(NodeId from, Message&& msg);
  void logOutput(const Output& out);
  // node_host_report.cc: the status call's fields, the metrics sample (scrape time only).
  void fillStatus(wire::NodeStatus::Builder b);
  void fillMetrics(NodeSample& s);
  static uint64_t monotonicMs();
  void log(const std::string& line) const;

  kj::AsyncIoContext& io_;
  const ClusterConfig& cluster_;
  const NodeInfo me_;
  CoreConfig coreCfg_;
  storage::Env& env_;
  Failpoints& fp_;
  uint64_t seed_;
  LogFn log_;
  const RoleContext roleCtx_;  // what the role may use; outlives it
  std::unique_ptr<RoleHost> role_;
  Node* core_ = nullptr;              // owned by role_, built in run()
  Pipeline pipeline_;                 // durable-before-send: batches, sends waiting, hooks
  std::vector<Envelope> spareSends_;  // transmitReleased()'s buffer, kept for its capacity
  std::unique_ptr<storage::StorageThread> storage_;
  bool submitScheduled_ = false;  // storage thread: the turn's batches go at its end
  bool writeScheduled_ = false;   // inline writes: one at the end of this turn
  uint64_t seqAtLastTick_ = 0;    // the pipeline's lastSeq() at the previous tick
  bool ticksOnDemand_ = true;
  bool inCatchUp_ = false;  // catchUp() is ticking: no nested catch-up, no timer yet
  kj::TimePoint epoch_ = kj::origin<kj::TimePoint>();  // tick 0 of the core, on the KJ timer
  uint64_t skippedTicks_ = 0;  // ticks a catch-up left out (kMaxCatchUpTicks)
  // Announced ticks still ahead (the first tick always): at most one per tick up to the
  // longest timer a role arms, erased as they pass.
  std::set<uint64_t> wakes_{1};
  uint64_t timerTick_ = 0;        // the tick the live timer fires at (0: none)
  uint64_t activeUntilTick_ = 0;  // ticks every tick until then (kBusyMs)
  uint64_t timerGen_ = 0;         // the live timer's number; older ones do nothing
  kj::Own<kj::PromiseFulfiller<void>> tickFailed_;  // a tick that threw stops run()
  std::unique_ptr<rpc::Transport> transport_;
  std::unique_ptr<kj::UnixEventPort::FdObserver> durableObserver_;
  std::set<TxnId> recovering_;  // txns whose recovery we log
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
