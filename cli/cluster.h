// pcommit cluster start|stop|status|restart (DESIGN.md §4): a local cluster, one detached
// OS process per node -- or per group of co-located nodes (`start --colocate`, the cluster
// file's `colocate` key, runtime::ClusterConfig::processGroups) -- all described by
// DIR/cluster.conf.
//
// Layout of DIR (the contract scripts and tests rely on):
//   DIR/cluster.conf   the cluster file (runtime/cluster_config.h), written by start
//   DIR/ID.pid         the node's pid, one decimal line; present while the node should run
//                      (co-located nodes: the same pid in each of their files)
//   DIR/ID.log         the node's stdout + stderr, appended to across restarts; a process of
//                      co-located nodes writes the log of its first node (p<i>), and the
//                      others' ID.log are symbolic links to it (every line names its node)
//   DIR/ID/            the node's data directory
//   DIR/external       nodes left to the user (`cluster start --external`), one per line:
//                      not started, not waited for, not restarted; stopped only when
//                      DIR/ID.pid names a process run with --config DIR/cluster.conf --node ID
// Every process runs `<this pcommit binary> serve --config DIR/cluster.conf --node ID
// [--node ID ...]` (DIR made absolute; one --node per co-located node, the group's order),
// in its own session (setsid), stdin from /dev/null, cwd DIR, with the environment of the
// command that started it: PCOMMIT_FAILPOINTS set for `cluster start` arms every node, set
// for `cluster restart` arms the nodes of that one process.
//
// A pid "is node ID of this cluster" only if /proc/PID/cmdline is exactly such a serve
// command line naming ID; stop never signals any other process, even if a stale pid file
// names it. Co-located nodes live and die together: `restart` of one restarts its whole
// process, `stop` signals each process once.
//
// Exit codes: 0 success; 1 the command ran and failed (a node did not come up, a cluster
// is already running, a node is unhealthy for `status`); 64 a usage error (the message
// names the option) or an unreadable cluster file (the message names the line).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc::cli {

// pcommit cluster SUBCOMMAND ...: dispatches to the functions below.
int runCluster(const Args& args);

// What `cluster start` builds; the defaults are the command's defaults. Also usable from
// other subcommands (bench, demo) that need a local cluster.
struct ClusterStartOptions {
  std::string dir;
  int participants = 3;
  int acceptors = 3;  // must equal 2f+1, for every protocol
  int coordinators = 2;
  int f = 1;
  Protocol protocol = Protocol::Paxos;
  FanOut fanOut = FanOut::All;
  std::optional<uint16_t> portBase;  // none: the first free consecutive range from 7100
  // Each node's `metrics` endpoint: 127.0.0.1:P, P+1, ... in node order; none: no endpoints.
  std::optional<uint16_t> metricsPortBase;
  uint32_t tickMs = 5;
  uint32_t recoveryTimeoutMs = 1000;
  uint32_t gcCap = 100000;  // see ClusterConfig::gcCap
  uint32_t leaderTimeoutMs = 1500;
  // Which roles share a process (the cluster file's `colocate`).
  runtime::Colocate colocate = runtime::Colocate::None;
  int readyTimeoutMs = 20000;  // every node must answer `status` within this
  // Nodes written to the cluster file but left to the user to run (DIR/external); empty:
  // all started (or, for a cluster started again, the ones DIR/external names).
  std::vector<std::string> external;
};

// Each returns an exit code and writes progress to `out`, errors to `err`.
int startCluster(const ClusterStartOptions& opts, std::ostream& out, std::ostream& err);
int stopCluster(const std::string& dir, std::ostream& out, std::ostream& err);
int restartNode(const std::string& dir, const std::string& node, std::ostream& out,
                std::ostream& err);
int clusterStatus(const std::string& dir, bool json, std::ostream& out, std::ostream& err);

// Runs f() (one of the above) on a thread of its own and returns its exit code: cluster
// management uses its own Cap'n Proto event loop, and a thread has at most one (a caller
// holding a client already owns its thread's).
template <class F>
int onOwnThread(F f) {
  int rc = 0;
  std::thread t([&] { rc = f(); });
  t.join();
  return rc;
}

}  // namespace pc::cli
