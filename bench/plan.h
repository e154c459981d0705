// What `pcommit bench` runs (docs/DESIGN.md §6, issue 6), and running it: for each mode and each
// participant count, a fresh local cluster in a temporary directory (runtime/local_cluster;
// stopped and removed afterwards, also on error or Ctrl-C) or the running cluster of
// --cluster; for each client count the closed-loop load (bench.h) after the physical floor
// (floor.h); or, in recovery mode, a leader crash under load (recovery.h). Then the report:
// tables on `out`, the JSON file, the plots (svg.h). cli/bench.cc parses the options into a
// Plan and calls runPlan.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc::bench {

// A mode to run and where: a protocol, and whether the client leads (paxos-direct).
struct Mode {
  Protocol protocol;    // what the cluster runs
  bool clientAsLeader;  // paxos-direct on a paxos cluster (--cluster)
  // The protocol as the client drives it: paxos-direct when the client leads.
  Protocol clientProtocol() const { return clientAsLeader ? Protocol::PaxosDirect : protocol; }
  std::string name() const { return toString(clientProtocol()); }
};

struct Plan {
  std::vector<Mode> modes;             // at least one
  std::vector<int> participantCounts;  // a cluster each (recovery: the first only)
  std::vector<int> clientCounts;       // a run each, on the same cluster
  // A fresh cluster each (with participantCounts): its nodes and the clients delay every
  // message they send by this many microseconds (rpc/delay_line.h). {0}: none.
  std::vector<uint32_t> netDelaysUs{0};
  std::optional<runtime::ClusterConfig> given;  // --cluster: use it, start nothing
  std::string clusterFile;                      // its path, for the report
  // Fresh clusters.
  int f = 1;
  FanOut fanOut = FanOut::All;
  runtime::Colocate colocate = runtime::Colocate::None;
  uint32_t gcCap = 100000;
  uint32_t recoveryTimeoutMs = 1000;
  bool keep = false;  // keep each cluster's directory (stopped)
  bool tls = false;   // each cluster twice: plaintext, then mutual TLS (bench --tls)
  // --transport unix: the nodes listen on Unix sockets (ClusterStartOptions::unixSockets),
  // and the floor's round trip goes over one too. With --cluster: what its file says.
  bool unixSockets = false;
  // Load (clients, participants, clientAsLeader and label are set per run).
  LoadOptions load;
  double conflictRate = 0;
  size_t hotKeys = 4;
  bool noFloor = false;
  // A point whose measured phase had steal above kDisturbedStealPct is measured again, up
  // to this many more times; the least disturbed measurement is kept (--retry-disturbed).
  int retryDisturbed = 0;
  // The whole plan this many times, every mode in turn within each round (--rounds), so
  // that a drift of the machine reaches every mode; the targets are judged on the rounds'
  // median (bench.h printTargets). Not with recovery or plots.
  int rounds = 1;
  // Recovery mode instead of load runs.
  bool recovery = false;
  uint64_t crashAfter = 500;
  uint32_t restartAfterMs = 2000;
  // Report.
  bool resourcesPerNode = false;
  std::string jsonFile;  // "" none; must be writable (runPlan fails at once otherwise)
  std::string svgDir;    // "" none
  std::string command;   // the command line, for the JSON file
};

// Runs `plan`; progress on stderr (a `\r` line if stderr is a terminal), the report on
// `out`. `interrupted` is polled (SIGINT): runs end early, clusters are still stopped.
// Returns 0, 1 if a cluster, node or file failed, or 130 if interrupted.
int runPlan(Plan plan, bool (*interrupted)(), std::ostream& out);

// The directory for temporary clusters and the floor: $TMPDIR, else /tmp.
std::string tmpBase();

}  // namespace pc::bench
