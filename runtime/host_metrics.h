// HostMetrics: what a node host adds to run its NodeMetrics -- it reads the events off the
// messages and Outputs the host already handles, keeps the times needed for latencies, and
// owns the node's MetricsServer. The host calls it at a few places and supplies a collect
// callback for the scrape-time values; nothing here touches the core, storage or transport.
//
//   onInbound(msg)      each message addressed to the node, before the core handles it: a
//                       coordinator notes when it first saw each CommitRequest
//   onOutput(out)       each Output of the core: decisions (coordinators), Prepared records
//                       (participants), recoveries started / finished
//   setCollect(fn)      the host's scrape-time values (NodeSample)
//   onSyncedCommit(s)   each synced commit the host timed
//   serve(...)          starts GET /metrics and /healthz on the node's metrics address
//
// Memory is bounded: at most kMaxTracked transactions' first-request times and recoveries
// (the oldest ids are forgotten first; a forgotten one is counted without a latency).
// Ownership: one per node, on its event-loop thread; not thread-safe.
#pragma once

#include <kj/async-io.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "paxos_commit/output.h"
#include "runtime/metrics_http.h"
#include "runtime/node_metrics.h"

namespace pc::runtime {

class HostMetrics {
 public:
  static constexpr size_t kMaxTracked = 100000;
  using ClockFn = std::function<double()>;  // seconds, monotonic

  // `role` as NodeMetrics takes it. `clock`: the steady clock unless given (tests).
  HostMetrics(const std::string& node, const std::string& role, Protocol protocol,
              ClockFn clock = nullptr);
  ~HostMetrics();

  void onInbound(const Message& msg);
  void onOutput(const Output& out);
  void onSyncedCommit(double seconds) { metrics_.onSyncedCommit(seconds); }

  // The host's part of the scrape-time values; the server's refusals are added here.
  void setCollect(NodeMetrics::CollectFn fn);
  NodeMetrics& metrics() { return metrics_; }
  double now() const { return clock_(); }

  // Binds host:port now and serves until the promise is dropped; throws kj::Exception if
  // the address cannot be bound. `log` gets the server's (bounded) error lines.
  kj::Promise<void> serve(kj::AsyncIoContext& io, const std::string& host, uint16_t port,
                          MetricsServer::LogFn log);
  // The server, once serve() was called (its refusals go to rejected_input metrics_http).
  const MetricsServer* server() const { return server_.get(); }

 private:
  NodeMetrics metrics_;
  ClockFn clock_;
  bool coordinator_;
  std::map<TxnId, double> firstRequest_;  // coordinators: txn -> first CommitRequest seen
  std::set<TxnId> recovering_;            // recoveries led here, not yet finished
  std::unique_ptr<MetricsServer> server_;
};

}  // namespace pc::runtime
