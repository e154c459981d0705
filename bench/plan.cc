// Running a bench plan (plan.h): clusters, the floor, the load or recovery, the report.
#include "bench/plan.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench/floor.h"
#include "bench/recovery.h"
#include "bench/svg.h"
#include "runtime/failpoints.h"
#include "runtime/local_cluster/local_cluster.h"
#include "runtime/node_host.h"

namespace pc::bench {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitInterrupted = 130;

// A temporary directory with (maybe) a cluster in it: stopped and removed on destruction.
class TempCluster {
 public:
  explicit TempCluster(bool keep) : keep_(keep) {
    std::string tmpl = tmpBase() + "/pcommit-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~TempCluster() {
    if (dir_.empty()) return;
    if (started_) {
      std::ostringstream out, err;
      if (local_cluster::onOwnThread([&] { return local_cluster::stopCluster(dir_, out, err); }) !=
          0) {
        std::cerr << "pcommit bench: stopping the cluster in " << dir_ << ": " << err.str();
      }
    }
    if (keep_) {
      std::cerr << "pcommit bench: kept " << dir_ << " (logs, data)\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempCluster(const TempCluster&) = delete;
  TempCluster& operator=(const TempCluster&) = delete;

  const std::string& dir() const { return dir_; }
  // Starts it (with PCOMMIT_FAILPOINTS = failpoints for its nodes, if not empty); on
  // failure prints startCluster's output and returns false.
  bool start(local_cluster::ClusterStartOptions so, const std::string& failpoints = "") {
    so.dir = dir_;
    std::ostringstream out, err;
    started_ = true;  // even a failed start may have left nodes running: stop them too
    if (!failpoints.empty()) ::setenv(runtime::kFailpointsEnv, failpoints.c_str(), 1);
    int rc = local_cluster::onOwnThread([&] { return local_cluster::startCluster(so, out, err); });
    ::unsetenv(runtime::kFailpointsEnv);
    if (rc != 0) {
      std::cerr << "pcommit bench: the " << toString(so.protocol) << " cluster did not start:\n"
                << out.str() << err.str();
      return false;
    }
    return true;
  }
  // Restarts a node (its environment: ours, without failpoints).
  bool restart(const std::string& node) {
    std::ostringstream out, err;
    int rc = local_cluster::onOwnThread(
        [&] { return local_cluster::restartNode(dir_, node, out, err); });
    if (rc != 0)
      std::cerr << "pcommit bench: restarting " << node << ":\n" << out.str() << err.str();
    return rc == 0;
  }

 private:
  std::string dir_;
  bool keep_ = false;
  bool started_ = false;
};

// Runs `plan`, accumulating results; the state of one runPlan call.
class Runner {
 public:
  Runner(const Plan& plan, bool (*interrupted)()) : plan_(plan), interrupted_(interrupted) {
    plan_.load.progress = ::isatty(STDERR_FILENO) != 0 ? &std::cerr : nullptr;
    plan_.load.interrupted = interrupted;
    plan_.load.conflictRate = plan_.conflictRate;
    plan_.load.hotKeys = plan_.hotKeys;
  }

  // Every round, mode and participant count; stops at the first failure or an interrupt.
  int run() {
    for (int round = 1; round <= plan_.rounds && rc_ == kExitOk && !interrupted_(); ++round) {
      round_ = plan_.rounds > 1 ? round : 0;
      if (round_ > 0) std::cerr << "== round " << round << " of " << plan_.rounds << "\n";
      runRound();
    }
    if (interrupted_() && rc_ == kExitOk) rc_ = kExitInterrupted;
    return rc_;
  }

  const std::vector<RunResult>& runs() const { return runs_; }
  const std::vector<RecoveryResult>& recoveries() const { return recoveries_; }

 private:
  void runRound() {
    for (const Mode& mode : plan_.modes) {
      const auto& nList = plan_.recovery ? std::vector<int>{plan_.participantCounts.front()}
                                         : plan_.participantCounts;
      for (int n : nList) {
        for (uint32_t d : plan_.netDelaysUs) {
          if (interrupted_() || rc_ != kExitOk) break;
          runCluster(mode, n, d, false);
          // --tls: the same cluster again with mutual TLS, reported beside (printTlsCost).
          if (plan_.tls && !interrupted_() && rc_ == kExitOk) runCluster(mode, n, d, true);
        }
      }
    }
  }

  // A fresh cluster for `mode` with `n` participants in `tc`; false (rc_ set) on failure.
  bool startCluster(const Mode& mode, int n, uint32_t netDelayUs, bool tls, TempCluster& tc,
                    runtime::ClusterConfig& cluster) {
    if (tc.dir().empty()) {
      std::cerr << "pcommit bench: cannot create a temporary directory\n";
      return false;
    }
    local_cluster::ClusterStartOptions so;
    so.participants = n;
    so.f = plan_.f;
    so.acceptors = 2 * plan_.f + 1;
    so.protocol = mode.protocol;
    so.fanOut = plan_.fanOut;
    so.gcCap = plan_.gcCap;
    so.recoveryTimeoutMs = plan_.recoveryTimeoutMs;
    so.colocate = plan_.colocate;
    so.netDelayUs = netDelayUs;
    so.tls = tls;
    so.unixSockets = plan_.unixSockets;
    std::string failpoints;
    if (plan_.recovery && mode.protocol != Protocol::PaxosDirect) {
      failpoints = "coordinator.after_prepare_sent=crash@" + std::to_string(plan_.crashAfter);
    }
    std::cerr << "== " << mode.name() << ": starting " << n << " participants, " << so.acceptors
              << " acceptors, " << so.coordinators << " coordinators"
              << (so.colocate == runtime::Colocate::None
                      ? ""
                      : std::string(", colocate ") + runtime::toString(so.colocate))
              << (netDelayUs == 0 ? ""
                                  : ", every message delayed " + std::to_string(netDelayUs) + " us")
              << (tls ? ", mutual TLS" : "") << (so.unixSockets ? ", Unix sockets" : "")
              << (failpoints.empty() ? "" : ", c1 armed: " + failpoints) << "\n";
    if (!tc.start(so, failpoints)) return false;
    cluster = runtime::loadClusterFile(tc.dir() + "/cluster.conf");
    return true;
  }

  void runCluster(const Mode& mode, int n, uint32_t netDelayUs, bool tls) {
    TempCluster tc(plan_.keep);
    runtime::ClusterConfig cluster;
    if (plan_.given) {
      cluster = *plan_.given;
    } else if (!startCluster(mode, n, netDelayUs, tls, tc, cluster)) {
      rc_ = kExitFailure;
      return;
    }
    if (interrupted_()) return;
    try {
      if (plan_.recovery) {
        runRecoveryOn(mode, cluster, tc);
      } else {
        runLoads(mode, n, cluster, tls);
      }
    } catch (const kj::Exception& e) {
      std::cerr << "\npcommit bench: " << mode.name() << ": " << e.getDescription().cStr() << "\n";
      rc_ = kExitFailure;
    } catch (const std::exception& e) {
      std::cerr << "\npcommit bench: " << mode.name() << ": " << e.what() << "\n";
      rc_ = kExitFailure;
    }
  }

  void runRecoveryOn(const Mode& mode, const runtime::ClusterConfig& cluster, TempCluster& tc) {
    RecoveryOptions ro;
    ro.clients = plan_.clientCounts.front();
    ro.payloadBytes = plan_.load.payloadBytes;
    ro.keysPerParticipant = plan_.load.keysPerParticipant;
    ro.crashAfter = plan_.crashAfter;
    ro.clientAsLeader = mode.clientAsLeader;
    ro.restartAfterMs = plan_.restartAfterMs;
    ro.restartLeader = [&tc] { return tc.restart("c1"); };
    ro.progress = plan_.load.progress;
    ro.interrupted = interrupted_;
    recoveries_.push_back(runRecovery(io_, cluster, ro));
    printRecovery(std::cerr, {recoveries_.back()});
  }

  void runLoads(const Mode& mode, int n, const runtime::ClusterConfig& cluster, bool tls) {
    auto floor = measureFloorFor(n, cluster);
    if (floor.measured && cluster.netDelayUs > 0) measurePacedFor(mode, n, cluster, floor);
    ConnectCost connect;
    if (plan_.tls) {
      connect = measureConnectCost(io_, cluster, 50);
      std::cerr << "   status on a new connection p50 " << static_cast<int>(connect.newConnectionUs)
                << " us, on a pooled one " << static_cast<int>(connect.pooledUs) << " us"
                << (tls ? " (TLS)" : " (plaintext)") << "\n";
    }
    for (int c : plan_.clientCounts) {
      if (interrupted_()) break;
      LoadOptions lo = plan_.load;
      lo.clients = c;
      lo.participants = n;
      lo.clientAsLeader = mode.clientAsLeader;
      lo.label = mode.name() + " N=" + std::to_string(n) + " C=" + std::to_string(c) +
                 (cluster.netDelayUs ? " D=" + std::to_string(cluster.netDelayUs) + "us" : "") +
                 roundTag(round_);
      auto r = measureLeastDisturbed(cluster, lo);
      if (tls) r.protocol += "+tls";
      r.tls = tls;
      r.newConnectionCallUs = connect.newConnectionUs;
      r.pooledCallUs = connect.pooledUs;
      r.floor = floor;
      r.netDelayUs = cluster.netDelayUs;
      r.round = round_;
      r.transport = cluster.nodes.front().isUnix() ? "unix" : "tcp";
      if (floor.measured) r.floorUs = floor.forMode(r.expected, r.netDelayUs);
      std::cerr << "   " << r.protocol << " N=" << r.participants << " C=" << r.clients
                << (r.netDelayUs ? " D=" + std::to_string(r.netDelayUs) + "us" : "")
                << roundTag(r.round) << ": " << r.committed << " committed, " << r.aborted
                << " aborted, " << r.unknown << " unknown, " << static_cast<int>(r.throughputTps)
                << " txn/s, p50 " << r.latencyUs.p50 << " us\n";
      runs_.push_back(std::move(r));
    }
  }

  // One point, measured again while its phase was disturbed (steal above
  // kDisturbedStealPct), at most plan_.retryDisturbed more times; the least stolen kept.
  RunResult measureLeastDisturbed(const runtime::ClusterConfig& cluster, const LoadOptions& lo) {
    RunResult best = runLoad(io_, cluster, lo);
    for (int t = 1; t <= plan_.retryDisturbed && disturbed(best.cpu) && !interrupted_(); ++t) {
      std::cerr << "   " << lo.label << ": steal " << static_cast<int>(best.cpu.stealPct)
                << "% (the host is busy): measuring again, " << t << " of " << plan_.retryDisturbed
                << "\n";
      RunResult again = runLoad(io_, cluster, lo);
      if (again.cpu.stealMeasured && again.cpu.stealPct < best.cpu.stealPct)
        best = std::move(again);
      best.disturbedRetries = t;
    }
    return best;
  }

  // The physical floor, on the disk the nodes' data is on; measured before each cluster's
  // runs (the cluster idle), so a drift of the machine shows in both. Also n synced
  // writers at once, as the n participants of a transaction prepare.
  FloorSummary measureFloorFor(int n, const runtime::ClusterConfig& cluster) {
    FloorSummary floor;
    if (plan_.noFloor) return floor;
    FloorOptions fo;
    fo.dir = tmpBase();
    if (plan_.given) {
      auto ps = cluster.withRole(runtime::Role::Participant);
      std::filesystem::path data = cluster.dataDirOf(*ps.front());
      std::error_code ec;
      fo.dir = std::filesystem::is_directory(data.parent_path(), ec) ? data.parent_path().string()
                                                                     : cluster.dir();
    }
    fo.payloadBytes = plan_.load.payloadBytes;
    fo.concurrentWriters = n;
    fo.unixSocket = cluster.nodes.front().isUnix();  // the round trip the cluster's messages make
    fo.recordLogBytes = runtime::recordLogBytes();   // the write the nodes make (floor.h)
    try {
      floor = measureFloor(io_, fo);
      std::cerr << "   floor: synced " << floor.syncedWriteKind << " p50 "
                << static_cast<int>(floor.syncedWriteUs) << " us (in " << fo.dir << ")";
      if (floor.concurrentWriters >= 2) {
        std::cerr << ", " << floor.concurrentWriters << " at once p50 "
                  << static_cast<int>(floor.syncedWriteConcurrentUs) << " us";
      }
      std::cerr << ", Cap'n Proto " << (fo.unixSocket ? "Unix socket" : "loopback")
                << " round trip p50 " << static_cast<int>(floor.rttUs) << " us\n";
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << " (going on without the floor)\n";
    }
    return floor;
  }

  // With a network delay a node syncs once per one-client round, several milliseconds
  // apart: the synced write again at that pace (floor.h), the gap being the mode's floor.
  void measurePacedFor(const Mode& mode, int n, const runtime::ClusterConfig& cluster,
                       FloorSummary& floor) {
    const double gapUs = floor.forMode(
        expectedCosts(mode.clientProtocol(), n, static_cast<int>(cluster.f), cluster.fanOut),
        cluster.netDelayUs);
    FloorOptions fo;
    fo.dir = floor.dir;
    fo.payloadBytes = plan_.load.payloadBytes;
    fo.recordLogBytes = runtime::recordLogBytes();
    try {
      measurePacedSyncedWrite(fo, gapUs, kPacedSamples, floor);
      std::cerr << "   floor: the same write one every " << static_cast<int>(floor.pacedGapUs)
                << " us (this mode's floor) p50 " << static_cast<int>(floor.syncedWritePacedUs)
                << " us\n";
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << " (going on without the paced commit)\n";
    }
  }
  static constexpr int kPacedSamples = 100;

  Plan plan_;
  bool (*interrupted_)();
  kj::AsyncIoContext io_ = kj::setupAsyncIo();
  int rc_ = kExitOk;
  int round_ = 0;  // RunResult::round of the runs being measured
  std::vector<RunResult> runs_;
  std::vector<RecoveryResult> recoveries_;
};

// The line that says what every run shared.
std::string shapeLine(const Plan& plan) {
  std::ostringstream shape;
  shape << "F=" << plan.f << " (" << 2 * plan.f + 1 << " acceptors, fan-out "
        << toString(plan.fanOut) << "), colocate " << runtime::toString(plan.colocate)
        << ", transport " << (plan.unixSockets ? "unix" : "tcp") << ", "
        << plan.load.durationSeconds << " s measured after " << plan.load.warmupSeconds
        << " s warm-up, " << plan.load.payloadBytes << "-byte values, "
        << plan.load.keysPerParticipant << " keys/client/participant";
  if (plan.conflictRate > 0)
    shape << ", conflict rate " << plan.conflictRate << " over " << plan.hotKeys << " hot rows";
  return shape.str();
}

const char* const kLegend =
    "N: participants per txn; C: closed-loop clients; floor: 2 synced writes + the mode's\n"
    "message delays x rtt/2, xfloor: p50 / floor; msgs: logical messages per txn sent by the\n"
    "nodes and the client, without GC acks and AckRequest (background); synced: synced commits a\n"
    "protocol step waited for, per txn; '=': docs/PROTOCOL.md §7 for that N, F and fan-out; rpc:\n"
    "Cap'n Proto calls per txn (several messages to one peer share one; GC acks included);\n"
    "cpu: microseconds of CPU (user + system, /proc/PID/stat) all the nodes used over the\n"
    "measured phase per committed txn. The floor counts one synced commit per write delay;\n"
    "but the N participants on one disk prepare at the same time, which costs the 'N at once'\n"
    "figure. Per run below: the nodes' CPU by role, the client's (this process), and the\n"
    "ceiling = cpus x 1e6 / (nodes + client us per txn): the txn/s that fill every core;\n"
    "steal: the share of this machine's CPU time the hypervisor gave to other guests over\n"
    "the measured phase (/proc/stat); above 5% the run is reported as DISTURBED\n";

// The tables on `out`.
void printReport(const Plan& plan, const Runner& runner, std::ostream& out) {
  if (plan.recovery) {
    out << "\nrecovery: fresh local clusters, " << plan.participantCounts.front()
        << " participants, F=" << plan.f << ", " << plan.clientCounts.front()
        << " closed-loop client(s) through c1 (no failover); c1 crashes after sending the "
           "prepares of its transaction #"
        << plan.crashAfter << " (paxos-direct: the client-leader stops after " << plan.crashAfter
        << " commits); 2pc restarts c1 " << plan.restartAfterMs << " ms after its crash\n";
  } else {
    out << "\n"
        << (plan.given ? "cluster " + plan.clusterFile : std::string("fresh local clusters"))
        << "; " << shapeLine(plan) << "\n";
  }
  if (!runner.runs().empty()) {
    printTable(out, runner.runs());
    out << kLegend;
    printCpu(out, runner.runs());
    printWrites(out, runner.runs());
    printResources(out, runner.runs(), plan.resourcesPerNode);
    printTargets(out, runner.runs());
    if (plan.tls) printTlsCost(out, runner.runs());
  }
  printRecovery(out, runner.recoveries());
}

// The JSON file and the plots; false if one could not be written.
bool writeFiles(const Plan& plan, const Runner& runner, std::ofstream& json, std::ostream& out) {
  bool ok = true;
  const std::string machine = machineDescription();
  if (json.is_open()) {
    writeJson(json, machine, plan.command, runner.runs(), runner.recoveries());
    if (!json) {
      std::cerr << "pcommit bench: writing " << plan.jsonFile << " failed\n";
      ok = false;
    }
  }
  if (!plan.svgDir.empty() && !runner.runs().empty()) {
    try {
      for (const auto& file :
           writePlots(plan.svgDir, runner.runs(), shapeLine(plan) + "; " + machine)) {
        out << "plot: " << file << "\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << "\n";
      ok = false;
    }
  }
  return ok;
}

}  // namespace

std::string tmpBase() {
  const char* t = ::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

int runPlan(Plan plan, bool (*interrupted)(), std::ostream& out) {
  std::ofstream json;
  if (!plan.jsonFile.empty()) {
    json.open(plan.jsonFile);
    if (!json) {
      std::cerr << "pcommit bench: cannot write " << plan.jsonFile << "\n";
      return kExitFailure;
    }
  }
  // Failure-free runs: a failpoint armed in our environment would reach every node.
  ::unsetenv(runtime::kFailpointsEnv);
  Runner runner(plan, interrupted);
  int rc = runner.run();
  printReport(plan, runner, out);
  if (!writeFiles(plan, runner, json, out)) rc = kExitFailure;
  return rc;
}

}  // namespace pc::bench
