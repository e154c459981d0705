// pc::local_cluster: a local cluster of pcommit nodes, one detached OS process per node --
// or per group of co-located nodes (ClusterStartOptions::colocate, the cluster file's
// `colocate` key, runtime::ClusterConfig::processGroups) -- all described by
// DIR/cluster.conf. What `pcommit cluster start|stop|status|restart`, `pcommit bench` and
// `pcommit demo` run; the command (cli/cluster*.cc) only parses options and prints.
//
// Layout of DIR (the contract scripts and tests rely on):
//   DIR/cluster.conf   the cluster file (runtime/cluster_config.h), written by start
//   DIR/ID.pid         the node's pid, one decimal line; present while the node should run
//                      (co-located nodes: the same pid in each of their files)
//   DIR/ID.log         the node's stdout + stderr, appended to across restarts; a process of
//                      co-located nodes writes the log of its first node (p<i>), and the
//                      others' ID.log are symbolic links to it (every line names its node)
//   DIR/ID/            the node's data directory
//   DIR/ID.sock        with --transport unix: the node's socket, while it runs
//   DIR/external       nodes left to the user (`cluster start --external`), one per line:
//                      not started, not waited for, not restarted; stopped only when
//                      DIR/ID.pid names a process run with --config DIR/cluster.conf --node ID
// Every process runs `<this pcommit binary> serve --config DIR/cluster.conf --node ID
// [--node ID ...]` (DIR made absolute; one --node per co-located node, the group's order),
// in its own session (setsid), stdin from /dev/null, cwd DIR, with the environment of the
// caller: PCOMMIT_FAILPOINTS set for startCluster arms every node, set for restartNode
// arms the nodes of that one process. The program is /proc/self/exe: only the pcommit
// binary can call these (it must have the `serve` subcommand).
//
// A pid "is node ID of this cluster" only if /proc/PID/cmdline is exactly such a serve
// command line naming ID; stop never signals any other process, even if a stale pid file
// names it. Co-located nodes live and die together: restartNode of one restarts its whole
// process, stopCluster signals each process once.
//
// Results are the pcommit command's exit codes: kOk; kFailed the operation ran and failed
// (a node did not come up, a cluster is already running, a node is unhealthy); kBadInput a
// bad argument (the message names it) or an unreadable cluster file (the message names
// the line). Progress goes to `out`, errors to `err`, worded as the command prints them.
//
// Threads: each call runs its own Cap'n Proto event loop on the calling thread, and a
// thread has at most one: a caller that already owns one (a client) calls through
// onOwnThread().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc::local_cluster {

inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;
inline constexpr int kBadInput = 64;

inline constexpr int kMaxParticipants = 64;  // rpc::Limits::maxParticipants: one txn may span all
inline constexpr int kMaxCoordinators = 32;

// What startCluster builds; the defaults are `pcommit cluster start`'s.
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
  uint32_t netDelayUs = 0;     // the cluster file's net-delay-us (pcommit bench --net-delay-us)
  int readyTimeoutMs = 20000;  // every node must answer `status` within this
  // Mutual TLS: a new cluster gets a CA and certificates under DIR/tls/ and the tls-* keys
  // in its file (runtime/tls_certs.h); a stopped one is started with what its file says,
  // and must have TLS on exactly when this asks for it.
  bool tls = false;
  // --transport unix: every node listens on a Unix domain socket DIR/ID.sock (address =
  // unix:ID.sock) instead of a 127.0.0.1 port; portBase is then unused. A stopped cluster
  // is started with what its file says, and must use the transport this asks for.
  bool unixSockets = false;
  // Nodes written to the cluster file but left to the user to run (DIR/external); empty:
  // all started (or, for a cluster started again, the ones DIR/external names).
  std::vector<std::string> external;
};

// Writes DIR/cluster.conf (or reuses the stopped cluster there if it is the same), starts
// every node not external and returns once all answer their status RPC as themselves.
// On failure stops what it started and prints the tails of the failed nodes' logs.
int startCluster(const ClusterStartOptions& opts, std::ostream& out, std::ostream& err);
// SIGTERM to every node process of the cluster in `dir`, SIGKILL 5 s later; removes pid
// files, keeps logs and data.
int stopCluster(const std::string& dir, std::ostream& out, std::ostream& err);
// Starts `node`'s process again (with every node co-located with it); refuses if running.
// rejoinEmpty: `serve --rejoin-empty` (a participant whose data directory was lost;
// ignored by serve when the directory holds data).
int restartNode(const std::string& dir, const std::string& node, std::ostream& out,
                std::ostream& err, bool rejoinEmpty = false);

// One node as `cluster status` reports it.
struct NodeStatusRow {
  const runtime::NodeInfo* node = nullptr;  // into ClusterStatus::config
  std::optional<pid_t> pid;                 // from DIR/ID.pid, or from its answer
  bool alive = false;                       // that pid exists and is this node's process
  bool healthy = false;  // answered its status RPC (pc::Client::status) as itself in time
  std::string error;     // why not healthy
  std::optional<Client::NodeStatus> status;  // its answer, when healthy
  bool external = false;                     // left to the user (start --external)
  std::vector<std::string> colocatedWith;    // the other nodes of its process
};

struct ClusterStatus {
  std::string dir;          // absolute
  std::string clusterFile;  // absolute
  runtime::ClusterConfig config;
  std::vector<NodeStatusRow> nodes;  // in cluster-file order
  bool healthy = false;              // every node healthy
};

// Asks every node of the cluster in `dir` for its status (each within 1 s, all at once)
// and looks at its pid file and process. kOk with `status` filled, or kBadInput (no
// cluster there, unreadable cluster file) with the message on `err`. Returns kOk even when
// nodes are unhealthy: status.healthy says.
int queryCluster(const std::string& dir, ClusterStatus& status, std::ostream& err);

// Asks every node of `config` for its status over the network only -- no cluster
// directory, no pid files, so nodes on other hosts and external or embedded participants
// count the same (`pcommit status`). Each node within `timeoutMs`, all at once. Rows carry
// the pid the node reported (none if unhealthy); alive, external and colocatedWith are
// left unset (only the host that runs a node can see its process). status.dir and
// clusterFile are left empty.
void queryNodes(runtime::ClusterConfig config, int timeoutMs, ClusterStatus& status);

// Runs f() (one of the above) on a thread of its own and returns its exit code.
template <class F>
int onOwnThread(F f) {
  int rc = 0;
  std::thread t([&] { rc = f(); });
  t.join();
  return rc;
}

}  // namespace pc::local_cluster
