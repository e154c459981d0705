// pc_bench: the load driver and reporting behind `pcommit bench` (DESIGN.md §6).
//
// The driver runs C closed-loop clients on the caller's KJ event loop, all through one
// pc::Client: each transaction puts one key on every participant (each client has its own
// keys, so there are no conflicts), and the next starts when its answer arrives. A client
// takes its keys in turn from a pool per participant (keysPerParticipant): with a single
// key, back-to-back transactions of one client can find the previous one's lock still held
// at a participant that has not learned its outcome yet (the reply can overtake it), and
// abort -- measurable with `--keys 1`, not the conflict-free load this is meant to be. A run is
// a warm-up phase and a measured phase; both end by letting the transactions in flight
// finish, so the node counters read before and after the measured phase (Client::status
// on every node, plus the client's own transport counters) hold exactly the measured
// transactions' messages and synced writes.
//
// What "messages per txn" counts: every logical protocol message (several in one RPC count
// one each) sent by any node or by the benchmark's client, except Ack and AckRequest (the
// background GC of PROTOCOL.md §7), divided by committed + aborted + unknown. Synced
// writes per txn: the nodes' synced_commits_critical (LMDB commits a protocol step waits
// for), divided the same way. Cluster management (startCluster) is not here: it lives in
// the pcommit binary (cli/bench.cc), and this library takes a running cluster.
#pragma once

#include <kj/async-io.h>

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc::bench {

using Counters = std::map<std::string, uint64_t>;

// PROTOCOL.md §7, pcommit's own flow, fan-out all (A = 2F+1), failure-free.
struct Expected {
  double messagesPerTxn = 0;
  double syncedWritesPerTxn = 0;
};
Expected expectedCosts(Protocol protocol, int participants, int f);

struct LoadOptions {
  int clients = 1;
  double warmupSeconds = 1.0;
  double durationSeconds = 10.0;
  size_t payloadBytes = 100;
  size_t keysPerParticipant = 8;     // each client's keys per participant, used in turn
  std::ostream* progress = nullptr;  // if set: a `\r` line once per second
  std::string label;                 // shown in the progress line
  // Polled once per second; returning true ends the current phase early (e.g. SIGINT).
  bool (*interrupted)() = nullptr;
};

// Exact percentiles (nearest rank on the sorted latencies), in microseconds.
struct Latency {
  uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Latency summarize(std::vector<uint64_t> latenciesUs);

struct RunResult {
  std::string protocol;
  int participants = 0;
  int f = 0;
  int clients = 0;
  double seconds = 0;  // measured phase: first commit sent to last answer received
  uint64_t committed = 0, aborted = 0, unknown = 0;
  double throughputTps = 0;  // committed / seconds
  Latency latencyUs;
  Counters nodes;             // counter deltas over the measured phase, summed over every node
  Counters client;            // the benchmark client's own transport counter deltas
  double messagesPerTxn = 0;  // nodes + client, logical, without Ack/AckRequest
  double clientMessagesPerTxn = 0;  // of which the client sent
  double rpcCallsPerTxn = 0;        // nodes + client
  double syncedWritesPerTxn = 0;    // synced_commits_critical
  double syncedCommitsPerTxn = 0;   // synced_commits (critical + background)
  Expected expected;
  bool interrupted = false;
};

// Drives the load against a running cluster. Throws kj::Exception if a node does not
// answer `status`.
RunResult runLoad(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                  const LoadOptions& options);

// Logical messages in a counter set: the sum of sent_<Kind> without Ack and AckRequest.
uint64_t logicalMessages(const Counters& c);

std::string machineDescription();  // "hostname, N cpus, Linux release machine"
void printTable(std::ostream& out, const std::vector<RunResult>& runs);
// DESIGN.md §6 shape (plus a few fields), one run per line.
void writeJson(std::ostream& out, const std::string& machine, const std::vector<RunResult>& runs);

}  // namespace pc::bench
