// pc_bench: the load driver and reporting behind `pcommit bench` (docs/DESIGN.md §6).
//
// The driver runs C closed-loop clients on the caller's KJ event loop, all through one
// pc::Client: each transaction puts one key on each of the first N participants, and a
// client's next transaction starts when the answer to its previous one arrives. A client
// takes its keys in turn from a pool of its own per participant (keysPerParticipant), so
// there are no conflicts between clients -- except that a fraction conflictRate of the
// transactions write hot keys instead: one of hotKeys rows, shared by every client (row i
// is one key on each participant). Two hot transactions in flight on the same row
// conflict, and the later one aborts (a prepared key is locked; there is no waiting).
// With a single own key, back-to-back transactions of one client can find the previous
// one's lock still held at a participant that has not learned its outcome yet (the reply
// can overtake it) and abort: measurable with `--keys 1`.
//
// A run is a warm-up phase and a measured phase; both end by letting the transactions in
// flight finish, so the node counters read before and after the measured phase (Client::
// status on every node, plus the client's own transport counters) hold exactly the
// measured transactions' messages and synced writes (on a cluster nobody else uses).
//
// What "messages per txn" counts: every logical protocol message (several in one RPC count
// one each) sent by any node or by the benchmark's client, except Ack, AckBatch and
// AckRequest (the background GC of docs/PROTOCOL.md §7), divided by committed + aborted +
// unknown. Synced writes per txn: the nodes' synced_commits_critical (synced
// commits a protocol step waits for), divided the same way. RPC calls per txn: Cap'n Proto calls
// carrying messages. CPU per txn (CpuUse): the nodes' and this process's utime + stime
// over the measured phase (not the settling), divided by the committed transactions only.
//
// The parts of pc_bench: what runs and on which clusters (plan.h: local clusters through
// runtime/local_cluster), the closed-loop load (load.cc, this header), /proc CPU and RSS
// (proc_stats.h), the report (report.cc: tables and JSON; svg.h: plots), the physical
// floor (floor.h) and the recovery mode (recovery.h). runLoad takes a running cluster.
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

// docs/PROTOCOL.md §7, pcommit's own flow, failure-free. A = acceptors each vote goes to: 2F+1
// with fan-out all, F+1 with fan-out quorum. Message delays are those to the client.
struct Expected {
  double messagesPerTxn = 0;
  double syncedWritesPerTxn = 0;
  int messageDelays = 0;
  int syncedWriteDelays = 2;
};
Expected expectedCosts(Protocol protocol, int participants, int f, FanOut fanOut = FanOut::All);

struct LoadOptions {
  int clients = 1;
  double warmupSeconds = 1.0;
  double durationSeconds = 10.0;
  size_t payloadBytes = 100;
  size_t keysPerParticipant = 8;  // each client's keys per participant, used in turn
  int participants = 0;           // transactions span the first N participants; 0: all
  double conflictRate = 0;        // fraction of transactions that write a hot row
  size_t hotKeys = 4;             // hot rows (one key per participant each)
  uint64_t seed = 1;              // picks hot transactions and rows
  // Lead ballot 0 from the client (paxos-direct) on a paxos cluster: the client's copy of
  // the cluster file says paxos-direct; the nodes behave the same in both protocols.
  bool clientAsLeader = false;
  std::ostream* progress = nullptr;  // if set: a `\r` line once per second (a terminal)
  std::string label;                 // shown in the progress line
  // Polled once per second; returning true ends the current phase early (e.g. SIGINT).
  bool (*interrupted)() = nullptr;
  // Sample every node's RSS and LMDB file size at the start, middle and end of the
  // measured phase (nodes must be on this machine; their pids come from `status`).
  bool sampleResources = true;
};

// Exact percentiles (nearest rank on the sorted latencies), in microseconds.
struct Latency {
  uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Latency summarize(std::vector<uint64_t> latenciesUs);
// Nearest-rank quantile q in [0, 1] of sorted values (0 if empty).
uint64_t quantile(const std::vector<uint64_t>& sorted, double q);

// One node's resources at one moment.
struct NodeResources {
  std::string name;
  uint32_t pid = 0;
  uint64_t rssKiB = 0;    // VmRSS of /proc/PID/status (0: not readable)
  uint64_t mdbBytes = 0;  // disk blocks of DATA/data.mdb (du), 0 if not found
};
struct ResourceSample {
  std::string when;  // start | middle | end
  double atSeconds = 0;
  std::vector<NodeResources> nodes;
};

// The kinds of synced write a node makes for a group commit (FloorSummary::syncedWriteKind,
// nodesSyncedWriteKind): an append to its record log, or with PCOMMIT_RECORD_LOG=off an
// LMDB commit.
inline constexpr const char* kWriteLogAppend = "record-log append";
inline constexpr const char* kWriteLmdbCommit = "LMDB commit";

// The machine-level physical floor of floor.h, as the report uses it.
struct FloorSummary {
  bool measured = false;
  double syncedWriteUs = 0;  // p50 of a bare synced write (syncedWriteKind)
  // What the synced write was: kWriteLogAppend (the nodes' default) or kWriteLmdbCommit
  // (PCOMMIT_RECORD_LOG=off); floor.h. Empty while not measured.
  std::string syncedWriteKind;
  double rttUs = 0;  // p50 of a Cap'n Proto round trip on loopback
  double syncedWriteP90Us = 0, rttP90Us = 0;
  // The round trip's transport: tcp (127.0.0.1) | unix (a Unix socket: --transport unix).
  std::string transport = "tcp";
  std::string dir;  // where the synced writes were measured
  // The same commit with concurrentWriters environments (one thread each, same disk)
  // committing at once, as N participants prepare at once: p50 over all their commits.
  // Informational: forMode uses the single commit. 1 writer: the single figure.
  int concurrentWriters = 0;
  double syncedWriteConcurrentUs = 0, syncedWriteConcurrentP90Us = 0;
  // With --net-delay-us: the same commit one every pacedGapUs (the mode's floor, about how
  // often a node syncs at one client; floor.h). Informational; 0: not measured.
  double pacedGapUs = 0, syncedWritePacedUs = 0, syncedWritePacedP90Us = 0;
  // 2 synced writes + the mode's message delays x one-way delay (rtt / 2, plus the
  // emulated delay of --net-delay-us: every message waits that long before it leaves).
  double forMode(const Expected& e, uint32_t netDelayUs = 0) const {
    return forModeWith(syncedWriteUs, e, netDelayUs);
  }
  // The same with the paced commit in place of the bare one; 0 if that was not measured.
  double forModePaced(const Expected& e, uint32_t netDelayUs) const {
    return syncedWritePacedUs > 0 ? forModeWith(syncedWritePacedUs, e, netDelayUs) : 0;
  }

 private:
  double forModeWith(double syncedUs, const Expected& e, uint32_t netDelayUs) const {
    return e.syncedWriteDelays * syncedUs +
           e.messageDelays * (rttUs / 2 + static_cast<double>(netDelayUs));
  }
};

// CPU time (utime + stime) used over the measured phase, per committed transaction: every
// node's from /proc/PID/stat (clock ticks; nodes not on this machine are left out) and the
// benchmark process's own (the client: its event loop runs every closed-loop client).
// Co-located nodes share a process: its CPU counts once, under the role of its participant
// (so with colocate, "participant" is the whole shared process).
struct CpuUse {
  bool measured = false;      // committed >= 1 and at least one node's /proc readable
  int nodesCounted = 0;       // nodes whose CPU was read at both ends of the phase
  int nodesTotal = 0;         // nodes in the cluster
  double nodesUsPerTxn = 0;   // summed over the nodes counted
  double clientUsPerTxn = 0;  // the bench process
  std::map<std::string, double> byRoleUsPerTxn;  // participant | acceptor | coordinator
  unsigned cpus = 0;                             // online cpus of this machine
  // cpus x 1e6 / (nodes + client): the txn/s at which this much CPU per txn fills every
  // core; 0 unless every node was counted (the machine must hold the whole system).
  double ceilingTps = 0;
  // Steal over the phase: the share of this machine's CPU time (every vCPU, every state)
  // the hypervisor gave to someone else while a vCPU was ready to run. Above
  // kDisturbedStealPct the run's numbers say more about the host than about pcommit.
  bool stealMeasured = false;
  double stealPct = 0;
};
inline constexpr double kDisturbedStealPct = 5.0;
inline bool disturbed(const CpuUse& u) {
  return u.stealMeasured && u.stealPct > kDisturbedStealPct;
}

// One role's synced commits over a measured phase, summed over the role's nodes: what
// each write stage of a transaction cost (bench's `writes` line). A stage's latency under
// load is about one and a half of its commits: the group arriving waits for the write in
// progress, then for its own.
// The roles as the report lists them (the `cpu` and `writes` lines and their JSON): in the
// order a transaction meets them.
inline constexpr const char* kReportRoles[] = {"participant", "acceptor", "coordinator"};
struct RoleWrites {
  uint64_t commits = 0;
  uint64_t micros = 0;  // their time (storage/env.h EnvMetrics::syncedCommitMicros)
  double meanUs() const {
    return commits == 0 ? 0.0 : static_cast<double>(micros) / static_cast<double>(commits);
  }
};

struct RunResult {
  std::string protocol;  // the mode: 2pc | paxos-classic | paxos | paxos-direct
  int participants = 0;  // per transaction
  int f = 0;
  std::string fanOut = "all";
  std::string colocate = "none";  // the cluster's colocate: none | acceptors | all
  int clients = 0;
  uint32_t netDelayUs = 0;  // the cluster's emulated one-way delay (--net-delay-us)
  // The cluster's transport: tcp | unix (its nodes' addresses are unix:PATH).
  std::string transport = "tcp";
  size_t payloadBytes = 0;
  size_t keysPerParticipant = 0;
  double conflictRate = 0;
  double seconds = 0;  // measured phase: first commit sent to last answer received
  uint64_t committed = 0, aborted = 0, unknown = 0;
  uint64_t transactions() const { return committed + aborted + unknown; }  // answered
  std::map<std::string, uint64_t> abortReasons;    // reason, ids and numbers elided
  std::map<std::string, uint64_t> unknownReasons;  // likewise
  double throughputTps = 0;                        // committed / seconds
  Latency latencyUs;
  std::vector<uint64_t> sortedLatenciesUs;  // every measured transaction (CDF plots)
  Counters nodes;             // counter deltas over the measured phase, summed over every node
  Counters client;            // the benchmark client's own transport counter deltas
  double messagesPerTxn = 0;  // nodes + client, logical, without the GC acks
  double clientMessagesPerTxn = 0;  // of which the client sent
  double rpcCallsPerTxn = 0;        // nodes + client
  double syncedWritesPerTxn = 0;    // synced_commits_critical
  double syncedCommitsPerTxn = 0;   // synced_commits (critical + background)
  // By role (participant | acceptor | coordinator); a role that wrote nothing is absent.
  std::map<std::string, RoleWrites> writesByRole;
  Expected expected;
  FloorSummary floor;  // measured just before this cluster's runs (not measured: none)
  double floorUs = 0;  // floor.forMode(expected, netDelayUs); 0 if not measured
  std::vector<ResourceSample> resources;
  CpuUse cpu;
  bool interrupted = false;
  // --retry-disturbed: how many times this point was measured again because steal was
  // above kDisturbedStealPct (the kept measurement is the least disturbed one).
  int disturbedRetries = 0;
  // --rounds R > 1: the round this run belongs to (1..R; every mode and point once per
  // round, in turn); 0 in a plan of one round.
  int round = 0;
  // --tls: this run's cluster had mutual TLS on (`protocol` then ends in "+tls"), and
  // what a status call cost on a new connection (connect + handshake + call) and on the
  // pooled one, p50 over a few calls, on this cluster (0: not measured).
  bool tls = false;
  double newConnectionCallUs = 0;
  double pooledCallUs = 0;
};

// The cost of a connection (bench --tls): status calls to the first participant, `calls`
// each on a new connection and on one kept connection (TLS: pooled; plaintext: a new
// connection each too, as get and status do). p50s in microseconds.
struct ConnectCost {
  double newConnectionUs = 0;
  double pooledUs = 0;
};
ConnectCost measureConnectCost(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                               int calls);
// One line per TLS run beside its plaintext twin (same mode, N, C): throughput, p50, CPU
// per transaction, and the connection costs.
void printTlsCost(std::ostream& out, const std::vector<RunResult>& runs);

// Drives the load against a running cluster. Throws kj::Exception if a node does not
// answer `status`.
RunResult runLoad(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                  const LoadOptions& options);

// Logical messages in a counter set: the sum of sent_<Kind> without Ack, AckBatch and
// AckRequest.
uint64_t logicalMessages(const Counters& c);
// An abort or unknown reason with the parts that differ per transaction (quoted keys,
// transaction ids, node ids) replaced, so equal causes count together.
std::string reasonClass(const std::string& reason);

// RSS and data.mdb size of every node of `cluster`, pids as the nodes report them.
ResourceSample sampleResources(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                               const std::string& when, double atSeconds);

// " round K" for a run of a --rounds plan (RunResult::round), "" otherwise: appended to a
// run's name.
inline std::string roundTag(int round) {
  return round > 0 ? " round " + std::to_string(round) : std::string();
}

std::string machineDescription();  // "hostname, N cpus (model), Linux release machine, cpuidle ..."
void printTable(std::ostream& out, const std::vector<RunResult>& runs);
// What the nodes' group commits were over the run, from their counters: "record-log
// append", "LMDB commit", or "" if they made none (FloorSummary::syncedWriteKind's terms).
std::string nodesSyncedWriteKind(const RunResult& r);
// perNode: a table per run; otherwise one line per run (largest RSS, total data.mdb).
void printResources(std::ostream& out, const std::vector<RunResult>& runs, bool perNode);
// One line per run: node CPU per committed txn by role, the client's, and the ceiling.
// Ends with printDisturbed's line when a run had steal above kDisturbedStealPct.
void printCpu(std::ostream& out, const std::vector<RunResult>& runs);
// A `writes` line per run: by role, the mean synced commit (or log append) and how many
// there were per transaction; roles that wrote nothing are left out.
void printWrites(std::ostream& out, const std::vector<RunResult>& runs);
// One line naming the runs whose measured phase had steal above kDisturbedStealPct;
// nothing if none had.
void printDisturbed(std::ostream& out, const std::vector<RunResult>& runs);

// The targets of issue 15 that these runs can judge (one client: paxos-direct p50 < 2pc
// p50, paxos p50 <= 1.3 x 2pc p50, every p50 <= 1.5 x its floor (issue 6's), with a net
// delay paxos-direct < 2pc < paxos and every p50 <= 1.3 x its floor; 64+ clients: paxos
// throughput >= 0.85 x 2pc and node CPU per txn <= 1.4 x 2pc's), met or missed, with the
// ratios (bench/targets.cc). Runs of several rounds (RunResult::round) are judged within
// each round, and a target's verdict is that of the rounds' median ratio (an order
// target's: met in most rounds), each round's figure beside it.
void printTargets(std::ostream& out, const std::vector<RunResult>& runs);

// A recovery measurement (recovery.h), reported beside the runs.
struct RecoveryResult {
  std::string protocol;
  std::string crashed;          // what died: c1, or the client (paxos-direct)
  double crashAtSeconds = 0;    // after the load started
  uint64_t inDoubtSeen = 0;     // distinct transactions seen in doubt after the crash
  uint64_t inDoubtAtCrash = 0;  // distinct transactions in doubt at the first poll
  bool resolved = false;        // every in-doubt transaction decided by the deadline
  double resolvedAfterMs = 0;   // crash -> no participant in doubt
  double recoveryTimeoutMs = 0;
  double recoveryJitterMs = 0;       // the participants' random extra (0..jitter)
  double restartAfterMs = 0;         // 2PC: the coordinator was restarted this long after
  double blockedAfterRestartMs = 0;  // 2PC: restart -> resolved
  uint64_t committedAfter = 0, abortedAfter = 0, unknownAfter = 0;  // outcomes of those seen
  std::string note;
};
void printRecovery(std::ostream& out, const std::vector<RecoveryResult>& results);

// docs/DESIGN.md §6 shape (plus a few fields), one run per line.
void writeJson(std::ostream& out, const std::string& machine, const std::string& command,
               const std::vector<RunResult>& runs, const std::vector<RecoveryResult>& recoveries);

}  // namespace pc::bench
