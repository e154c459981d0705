// RoleHost: what runtime::NodeHost asks of the role it runs (a coordinator, participant or
// acceptor; coordinator/, participant/, acceptor/ implement it). NodeHost owns the event
// loop, the storage, the transport and the durable-before-send pipeline
// (paxos_commit/pipeline.h); the role host builds the core and adds its role's duties at
// fixed points of that pipeline. NodeHost never looks at the role itself.
//
// Contract (all calls on the event-loop thread, in this order of a node's life):
//   start(ctx, rec)     once, from NodeHost::run(): builds the core from the durable state
//                       and returns it (owned by the role host; valid until destruction).
//                       `ctx` stays valid as long as the role host. May throw to refuse
//                       the start (the message names the cause).
//   pipelineOptions()   after start(): how the pipeline treats this role's records.
//   urgent(r)           for each record: must the node write it now? (default: a record a
//                       reply waits for, isCriticalRecord)
//   onPersist(rs, tag, pipeline)
//                       before one Output's records `rs` go to the pipeline as batch `tag`:
//                       failpoints before the write, and pipeline.atDurable(tag, ...) hooks
//                       for what must happen once they are durable, before any reply leaves
//                       (failpoints after the write, engine notifications).
//   onSend(e)           as `e` leaves (it is durable-justified by then): failpoints at the
//                       send; the returned function, if any, runs once `e` was delivered.
//   fillStatus(b)       role-specific fields of `pcommit status` (the in-doubt list).
//   fillMetrics(s)      role-specific metric values at scrape time (in-doubt count, age).
//   resolve(from, txn, outcome, answer)
//                       `pcommit resolve` (Node.resolve): the core's Output, which NodeHost
//                       runs like any other, and `answer`, which it returns once that
//                       Output's records are durable. Default: refused (not a participant).
//   readable() / read(key)
//                       `pcommit get` on a participant; read() may wait (a key locked by an
//                       in-doubt transaction) and fails with an OVERLOADED exception.
#pragma once

#include <kj/async-io.h>
#include <kj/debug.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/node.h"
#include "paxos_commit/pipeline.h"
#include "paxos_commit/records.h"
#include "rpc/pcommit.capnp.h"
#include "runtime/cluster_config.h"
#include "runtime/failpoints.h"
#include "runtime/node_metrics.h"
#include "storage/env.h"

namespace pc::runtime {

using LogFn = std::function<void(const std::string&)>;

// What a role host may use of its node: all of it outlives the role host.
struct RoleContext {
  kj::AsyncIoContext& io;
  const ClusterConfig& cluster;
  const NodeInfo& me;
  const CoreConfig& core;
  storage::Env& env;
  Failpoints& failpoints;
  uint64_t seed;
  const LogFn& log;
};

class RoleHost {
 public:
  virtual ~RoleHost() = default;
  virtual Node& start(const RoleContext& ctx, const Recovered& rec) = 0;
  virtual PipelineOptions pipelineOptions() const { return {}; }
  virtual bool urgent(const Record& r) const { return isCriticalRecord(r); }
  virtual void onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) {
    (void)records, (void)tag, (void)pipeline;
  }
  virtual std::function<void()> onSend(const Envelope& e) {
    (void)e;
    return {};
  }
  virtual void fillStatus(wire::NodeStatus::Builder b) const { (void)b; }
  // Role-specific values of the node's metrics at scrape time (runtime/node_metrics.h).
  virtual void fillMetrics(NodeSample& s) const { (void)s; }
  virtual Output resolve(NodeId from, const TxnId& txn, std::optional<Outcome> outcome,
                         HeuristicAnswer& answer) {
    (void)from, (void)txn, (void)outcome;
    answer = HeuristicAnswer{};
    answer.reason = "this node holds no transactions (not a participant)";
    return {};
  }
  virtual bool readable() const { return false; }
  virtual kj::Promise<kv::Versioned> read(const std::string& key) {
    return KJ_EXCEPTION(FAILED, "this node holds no data", key);
  }
};

}  // namespace pc::runtime
