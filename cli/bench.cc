// pcommit bench (DESIGN.md §6, issue 6). For each mode asked for and each participant
// count, a fresh local cluster in a temporary directory (or the running cluster of
// --cluster FILE); for each client count, C closed-loop clients for a warm-up and a
// measured phase. Then a table (and --json FILE, --svg DIR) with throughput, exact latency
// percentiles, latency as a multiple of the physical floor measured in the same run, and
// the messages, RPC calls and synced writes per transaction the nodes counted beside
// PROTOCOL.md §7's formulas; CPU per committed transaction; every node's RSS and LMDB file
// size at the start, middle and end of each measured phase. --recovery instead crashes each
// mode's leader under load and times the resolution of the transactions left in doubt
// (bench/recovery.h).
//
// The load, floor, recovery and plots live in bench/ (pc_bench); this file owns the
// clusters: each is stopped and its directory removed afterwards, also on error or Ctrl-C.
#include "bench/bench.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/floor.h"
#include "bench/recovery.h"
#include "bench/svg.h"
#include "cli/cluster.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "runtime/failpoints.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

volatile std::sig_atomic_t gInterrupted = 0;
void onSignal(int) { gInterrupted = 1; }
bool interrupted() { return gInterrupted != 0; }

std::string tmpBase() {
  const char* t = ::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

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
      if (onOwnThread([&] { return stopCluster(dir_, out, err); }) != 0) {
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
  bool start(ClusterStartOptions so, const std::string& failpoints = "") {
    so.dir = dir_;
    std::ostringstream out, err;
    started_ = true;  // even a failed start may have left nodes running: stop them too
    if (!failpoints.empty()) ::setenv(runtime::kFailpointsEnv, failpoints.c_str(), 1);
    int rc = onOwnThread([&] { return startCluster(so, out, err); });
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
    int rc = onOwnThread([&] { return restartNode(dir_, node, out, err); });
    if (rc != 0)
      std::cerr << "pcommit bench: restarting " << node << ":\n" << out.str() << err.str();
    return rc == 0;
  }

 private:
  std::string dir_;
  bool keep_ = false;
  bool started_ = false;
};

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, ',')) {
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

// "1,4,16" -> {1, 4, 16}; nullopt if an entry is not an integer in [lo, hi].
std::optional<std::vector<int>> intList(const std::string& s, int lo, int hi) {
  std::vector<int> out;
  for (const auto& item : splitComma(s)) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != item.size() || v < lo || v > hi) return std::nullopt;
    out.push_back(v);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// A mode to run and where: a protocol, and whether the client leads (paxos-direct).
struct Mode {
  Protocol protocol;    // what the cluster runs
  bool clientAsLeader;  // paxos-direct on a paxos cluster (--cluster)
  std::string name() const { return clientAsLeader ? "paxos-direct" : toString(protocol); }
};

}  // namespace

int runBench(const Args& args) {
  po::options_description desc(
      "usage: pcommit bench [--protocol P,...] [--participants N,...] [--clients C,...]\n"
      "                     [--f F] [--fanout all|quorum] [--duration S] [--warmup S]\n"
      "                     [--payload-bytes B] [--keys K] [--conflict-rate R] [--hot-keys H]\n"
      "                     [--seed S] [--cluster FILE] [--gc-cap N] [--recovery-timeout-ms MS]\n"
      "                     [--colocate none|acceptors|all]\n"
      "                     [--json FILE] [--svg DIR] [--no-floor] [--resources] [--keep]\n"
      "                     [--recovery [--crash-after K] [--restart-after-ms MS]]\n\n"
      "For each protocol (mode) and each participant count: starts a local cluster in a\n"
      "temporary directory (N participants, 2F+1 acceptors, 2 coordinators) or uses the\n"
      "running cluster of --cluster; for each client count runs C closed-loop clients (each\n"
      "transaction puts one key on every participant) for a warm-up and then S seconds.\n"
      "Prints a row per point: committed, aborted and unknown (with reasons), throughput,\n"
      "exact latency percentiles, p50 as a multiple of the physical floor measured in the\n"
      "same run (a synced LMDB commit and a Cap'n Proto loopback round trip), and the\n"
      "logical messages (without the background Ack/AckRequest), synced writes and RPC calls\n"
      "per transaction the nodes and the client counted, beside PROTOCOL.md §7's formulas,\n"
      "and the nodes' and the client's CPU per committed transaction (by role, with the\n"
      "throughput that would fill every core); then every node's RSS and data.mdb size at\n"
      "the start, middle and end of each run.\n"
      "--recovery: instead of the load runs, crashes each mode's leader under load and\n"
      "reports how long transactions stayed in doubt.\n"
      "--colocate acceptors|all: the fresh clusters run acceptor a<i> (and with 'all'\n"
      "coordinator c<i>) inside participant p<i>'s process, messages between them handed\n"
      "over in-process (`pcommit cluster start --help`); the logical messages counted, and\n"
      "so the formulas, stay the same: a message is counted whether or not it left the\n"
      "process.\n\noptions");
  std::string protocols;
  std::string participantsList = "3";
  std::string clientsList = "1";
  std::string jsonFile, svgDir, clusterFile, fanOutText = "all", colocateText = "none";
  int f = 1;
  double conflictRate = 0;
  size_t hotKeys = 4;
  uint64_t seed = 1;
  bool noFloor = false, recovery = false, resourcesPerNode = false, keep = false;
  uint64_t crashAfter = 500;
  uint32_t restartAfterMs = 2000;
  uint32_t recoveryTimeoutMs = 1000;
  uint32_t gcCap = 100000;
  pc::bench::LoadOptions lo;
  desc.add_options()("help,h", "print this help")(
      "protocol", po::value<std::string>(&protocols)->value_name("P,..."),
      "comma-separated modes: 2pc, paxos-classic, paxos, paxos-direct (default: all four; "
      "with --cluster: its protocol, and paxos-direct too if it runs paxos)")(
      "participants",
      po::value<std::string>(&participantsList)->value_name("N,...")->default_value("3"),
      "participants per transaction; a list sweeps (a cluster per N; with --cluster, "
      "transactions span its first N participants)")(
      "clients", po::value<std::string>(&clientsList)->value_name("C,...")->default_value("1"),
      "closed-loop clients; a list sweeps (same cluster)")(
      "f", po::value<int>(&f)->value_name("F")->default_value(1),
      "faults tolerated: 2F+1 acceptors")(
      "fanout", po::value<std::string>(&fanOutText)->value_name("all|quorum")->default_value("all"),
      "participants send their vote to all 2F+1 acceptors, or to F+1 first")(
      "duration", po::value<double>(&lo.durationSeconds)->value_name("S")->default_value(10),
      "measured seconds per point")(
      "warmup", po::value<double>(&lo.warmupSeconds)->value_name("S")->default_value(1),
      "warm-up seconds before measuring (not counted)")(
      "payload-bytes", po::value<size_t>(&lo.payloadBytes)->value_name("B")->default_value(100),
      "bytes per value written")(
      "keys", po::value<size_t>(&lo.keysPerParticipant)->value_name("K")->default_value(8),
      "keys per client and participant, written in turn (1: back-to-back rewrites of one key)")(
      "conflict-rate", po::value<double>(&conflictRate)->value_name("R")->default_value(0),
      "fraction of transactions that write a hot row instead (0..1)")(
      "hot-keys", po::value<size_t>(&hotKeys)->value_name("H")->default_value(4),
      "hot rows (one key on each participant), shared by all clients")(
      "seed", po::value<uint64_t>(&seed)->value_name("S")->default_value(1),
      "seed of the hot-row choices")(
      "cluster", po::value<std::string>(&clusterFile)->value_name("FILE"),
      "use this running cluster instead of starting one per mode (F and fan-out are its own)")(
      "gc-cap", po::value<uint32_t>(&gcCap)->value_name("N")->default_value(100000),
      "fresh clusters: collected transactions each node remembers (bounds RSS and disk)")(
      "json", po::value<std::string>(&jsonFile)->value_name("FILE"),
      "also write the results as JSON (DESIGN.md §6)")(
      "svg", po::value<std::string>(&svgDir)->value_name("DIR"),
      "write plots: latency CDF per mode, throughput vs clients, latency vs participants")(
      "no-floor", po::bool_switch(&noFloor), "do not measure the physical floor")(
      "keep", po::bool_switch(&keep), "keep each cluster's directory (stopped): logs and data")(
      "resources", po::bool_switch(&resourcesPerNode),
      "print every node's RSS and data.mdb size (start, middle, end), not just the largest")(
      "recovery", po::bool_switch(&recovery),
      "recovery mode: crash each mode's leader under load (first N and C of the lists)")(
      "crash-after", po::value<uint64_t>(&crashAfter)->value_name("K")->default_value(500),
      "recovery: the coordinator crashes after sending the prepares of its K-th transaction "
      "(paxos-direct: the client, after K commits)")(
      "restart-after-ms",
      po::value<uint32_t>(&restartAfterMs)->value_name("MS")->default_value(2000),
      "recovery, 2pc: restart the coordinator this long after its crash")(
      "recovery-timeout-ms",
      po::value<uint32_t>(&recoveryTimeoutMs)->value_name("MS")->default_value(1000),
      "fresh clusters: a prepared participant with no outcome starts recovery after this")(
      "colocate",
      po::value<std::string>(&colocateText)
          ->value_name("none|acceptors|all")
          ->default_value("none"),
      "fresh clusters: run a<i> (acceptors), or a<i> and c<i> (all), in p<i>'s process");
  po::variables_map vm;
  if (auto done = parseCommand("bench", args, desc, nullptr, vm)) return *done;
  auto usage = [](const std::string& msg) {
    std::cerr << "pcommit bench: " << msg << "\n";
    return kExitUsage;
  };
  auto fanOut = parseFanOut(fanOutText);
  if (!fanOut) return usage("--fanout " + fanOutText + ": expected all or quorum");
  auto colocate = runtime::parseColocate(colocateText);
  if (!colocate) return usage("--colocate " + colocateText + ": expected none, acceptors or all");
  auto participantCounts = intList(participantsList, 1, 64);
  if (!participantCounts) return usage("--participants: expected a list of 1..64, e.g. 1,2,4,8");
  auto clientCounts = intList(clientsList, 1, 10000);
  if (!clientCounts) return usage("--clients: expected a list of 1..10000, e.g. 1,4,16,64");
  if (f < 0 || f > 15) return usage("--f: expected 0..15");
  if (!(lo.durationSeconds > 0) || lo.durationSeconds > 86400)
    return usage("--duration: expected seconds > 0");
  if (!(lo.warmupSeconds >= 0) || lo.warmupSeconds > 3600)
    return usage("--warmup: expected seconds >= 0");
  if (lo.payloadBytes > (size_t{1} << 20)) return usage("--payload-bytes: at most 1 MiB");
  if (lo.keysPerParticipant < 1 || lo.keysPerParticipant > 1000)
    return usage("--keys: expected 1..1000");
  if (!(conflictRate >= 0 && conflictRate <= 1)) return usage("--conflict-rate: expected 0..1");
  if (hotKeys < 1 || hotKeys > 100000) return usage("--hot-keys: expected 1..100000");
  if (crashAfter < 1) return usage("--crash-after: expected >= 1");
  if (recoveryTimeoutMs < 10 || recoveryTimeoutMs > 600000)
    return usage("--recovery-timeout-ms: expected 10..600000");
  if (gcCap < 1) return usage("--gc-cap: expected >= 1");

  // The cluster of --cluster, and the modes to run.
  std::optional<runtime::ClusterConfig> given;
  if (!clusterFile.empty()) {
    if (recovery)
      return usage("--recovery starts its own clusters (it arms a failpoint): drop --cluster");
    if (!vm["f"].defaulted() || !vm["fanout"].defaulted())
      return usage("--f and --fanout come from the cluster file with --cluster");
    if (!vm["colocate"].defaulted())
      return usage("--colocate comes from the cluster file with --cluster (its colocate key)");
    try {
      given = runtime::loadClusterFile(clusterFile);
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << "\n";
      return kExitUsage;
    }
    int have = static_cast<int>(given->withRole(runtime::Role::Participant).size());
    if (vm["participants"].defaulted()) participantCounts = std::vector<int>{have};
    for (int n : *participantCounts) {
      if (n > have)
        return usage("--participants " + std::to_string(n) + ": the cluster has " +
                     std::to_string(have));
    }
    f = given->f;
    fanOut = given->fanOut;
    colocate = given->colocate;
  }
  if (recovery && *colocate == runtime::Colocate::All) {
    // c1's crash would take p1 and a1 with it: not the coordinator crash being measured.
    return usage(
        "--recovery crashes c1, which --colocate all puts in p1's process: use none or "
        "acceptors");
  }
  std::vector<Mode> modes;
  if (protocols.empty()) {
    if (given) {
      modes.push_back(Mode{given->protocol, false});
      if (given->protocol == Protocol::Paxos) modes.push_back(Mode{Protocol::Paxos, true});
    } else {
      protocols = "2pc,paxos-classic,paxos,paxos-direct";
    }
  }
  for (const auto& p : splitComma(protocols)) {
    auto parsed = parseProtocol(p);
    if (!parsed)
      return usage("--protocol " + p + ": expected 2pc, paxos-classic, paxos or paxos-direct");
    if (given) {
      if (*parsed == given->protocol) {
        modes.push_back(Mode{*parsed, false});
      } else if (*parsed == Protocol::PaxosDirect && given->protocol == Protocol::Paxos) {
        modes.push_back(Mode{Protocol::Paxos, true});
      } else {
        return usage("--protocol " + p + ": the cluster runs " + toString(given->protocol) +
                     (given->protocol == Protocol::Paxos ? " (paxos-direct works on it too)" : ""));
      }
    } else {
      modes.push_back(Mode{*parsed, false});
    }
  }
  if (modes.empty()) return usage("--protocol: name at least one protocol");
  std::ofstream json;
  if (!jsonFile.empty()) {
    json.open(jsonFile);
    if (!json) {
      std::cerr << "pcommit bench: cannot write " << jsonFile << "\n";
      return kExitFailure;
    }
  }
  std::string command = "pcommit bench";
  for (const auto& a : args) command += " " + a;

  // Failure-free runs: a failpoint armed in our environment would reach every node.
  ::unsetenv(runtime::kFailpointsEnv);
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  lo.progress = tty ? &std::cerr : nullptr;
  lo.interrupted = interrupted;
  lo.conflictRate = conflictRate;
  lo.hotKeys = hotKeys;
  lo.seed = seed;
  auto io = kj::setupAsyncIo();
  int rc = kExitOk;

  // The physical floor, on the disk the nodes' data is on; measured before each cluster's
  // runs (the cluster idle), so a drift of the machine shows in both.
  // Also n synced writers at once, as the n participants of a transaction prepare.
  auto measureFloor = [&](int n) {
    pc::bench::FloorSummary floor;
    if (noFloor) return floor;
    pc::bench::FloorOptions fo;
    fo.dir = tmpBase();
    if (given) {
      auto ps = given->withRole(runtime::Role::Participant);
      std::filesystem::path data = given->dataDirOf(*ps.front());
      std::error_code ec;
      fo.dir = std::filesystem::is_directory(data.parent_path(), ec) ? data.parent_path().string()
                                                                     : given->dir();
    }
    fo.payloadBytes = lo.payloadBytes;
    fo.concurrentWriters = n;
    try {
      floor = pc::bench::measureFloor(io, fo);
      std::cerr << "   floor: synced LMDB commit p50 " << static_cast<int>(floor.syncedWriteUs)
                << " us (in " << fo.dir << ")";
      if (floor.concurrentWriters >= 2) {
        std::cerr << ", " << floor.concurrentWriters << " at once p50 "
                  << static_cast<int>(floor.syncedWriteConcurrentUs) << " us";
      }
      std::cerr << ", Cap'n Proto loopback round trip p50 " << static_cast<int>(floor.rttUs)
                << " us\n";
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << " (going on without the floor)\n";
    }
    return floor;
  };

  std::vector<pc::bench::RunResult> runs;
  std::vector<pc::bench::RecoveryResult> recoveries;
  auto describe = [&](const pc::bench::RunResult& r) {
    std::cerr << "   " << r.protocol << " N=" << r.participants << " C=" << r.clients << ": "
              << r.committed << " committed, " << r.aborted << " aborted, " << r.unknown
              << " unknown, " << static_cast<int>(r.throughputTps) << " txn/s, p50 "
              << r.latencyUs.p50 << " us\n";
  };
  for (const Mode& mode : modes) {
    if (interrupted() || rc != kExitOk) break;
    const auto& nList =
        recovery ? std::vector<int>{participantCounts->front()} : *participantCounts;
    for (int n : nList) {
      if (interrupted() || rc != kExitOk) break;
      TempCluster tc(keep);
      runtime::ClusterConfig cluster;
      if (given) {
        cluster = *given;
      } else {
        if (tc.dir().empty()) {
          std::cerr << "pcommit bench: cannot create a temporary directory\n";
          rc = kExitFailure;
          break;
        }
        ClusterStartOptions so;
        so.participants = n;
        so.f = f;
        so.acceptors = 2 * f + 1;
        so.protocol = mode.protocol;
        so.fanOut = *fanOut;
        so.gcCap = gcCap;
        so.recoveryTimeoutMs = recoveryTimeoutMs;
        so.colocate = *colocate;
        std::string failpoints;
        if (recovery && mode.protocol != Protocol::PaxosDirect) {
          failpoints = "coordinator.after_prepare_sent=crash@" + std::to_string(crashAfter);
        }
        std::cerr << "== " << mode.name() << ": starting " << n << " participants, " << so.acceptors
                  << " acceptors, " << so.coordinators << " coordinators"
                  << (so.colocate == runtime::Colocate::None
                          ? ""
                          : std::string(", colocate ") + runtime::toString(so.colocate))
                  << (failpoints.empty() ? "" : ", c1 armed: " + failpoints) << "\n";
        if (!tc.start(so, failpoints)) {
          rc = kExitFailure;
          break;
        }
        if (interrupted()) break;
        cluster = runtime::loadClusterFile(tc.dir() + "/cluster.conf");
      }
      try {
        if (recovery) {
          pc::bench::RecoveryOptions ro;
          ro.clients = clientCounts->front();
          ro.payloadBytes = lo.payloadBytes;
          ro.keysPerParticipant = lo.keysPerParticipant;
          ro.crashAfter = crashAfter;
          ro.clientAsLeader = mode.clientAsLeader;
          ro.restartAfterMs = restartAfterMs;
          ro.restartLeader = [&tc] { return tc.restart("c1"); };
          ro.progress = lo.progress;
          ro.interrupted = interrupted;
          recoveries.push_back(pc::bench::runRecovery(io, cluster, ro));
          pc::bench::printRecovery(std::cerr, {recoveries.back()});
          continue;
        }
        auto floor = measureFloor(n);
        for (int c : *clientCounts) {
          if (interrupted()) break;
          lo.clients = c;
          lo.participants = n;
          lo.clientAsLeader = mode.clientAsLeader;
          lo.label = mode.name() + " N=" + std::to_string(n) + " C=" + std::to_string(c);
          auto r = pc::bench::runLoad(io, cluster, lo);
          r.floor = floor;
          if (floor.measured) r.floorUs = floor.forMode(r.expected);
          describe(r);
          runs.push_back(std::move(r));
        }
      } catch (const kj::Exception& e) {
        std::cerr << "\npcommit bench: " << mode.name() << ": " << e.getDescription().cStr()
                  << "\n";
        rc = kExitFailure;
      } catch (const std::exception& e) {
        std::cerr << "\npcommit bench: " << mode.name() << ": " << e.what() << "\n";
        rc = kExitFailure;
      }
    }
  }
  if (interrupted() && rc == kExitOk) rc = 130;

  std::ostringstream shape;
  shape << "F=" << f << " (" << 2 * f + 1 << " acceptors, fan-out " << toString(*fanOut)
        << "), colocate " << runtime::toString(*colocate) << ", " << lo.durationSeconds
        << " s measured after " << lo.warmupSeconds << " s warm-up, " << lo.payloadBytes
        << "-byte values, " << lo.keysPerParticipant << " keys/client/participant";
  if (conflictRate > 0)
    shape << ", conflict rate " << conflictRate << " over " << hotKeys << " hot rows";
  if (recovery) {
    std::cout << "\nrecovery: fresh local clusters, " << participantCounts->front()
              << " participants, F=" << f << ", " << clientCounts->front()
              << " closed-loop client(s) through c1 (no failover); c1 crashes after sending the "
                 "prepares of its transaction #"
              << crashAfter << " (paxos-direct: the client-leader stops after " << crashAfter
              << " commits); 2pc restarts c1 " << restartAfterMs << " ms after its crash\n";
  } else {
    std::cout << "\n"
              << (given ? "cluster " + clusterFile : std::string("fresh local clusters")) << "; "
              << shape.str() << "\n";
  }
  if (!runs.empty()) {
    pc::bench::printTable(std::cout, runs);
    std::cout
        << "N: participants per txn; C: closed-loop clients; floor: 2 synced writes + the mode's\n"
           "message delays x rtt/2, xfloor: p50 / floor; msgs: logical messages per txn sent by "
           "the\n"
           "nodes and the client, without Ack/AckRequest (background GC); synced: LMDB commits a\n"
           "protocol step waited for, per txn; '=': PROTOCOL.md §7 for that N, F and fan-out; "
           "rpc:\n"
           "Cap'n Proto calls per txn (several messages to one peer share one; GC acks included);\n"
           "cpu: microseconds of CPU (user + system, /proc/PID/stat) all the nodes used over the\n"
           "measured phase per committed txn. The floor counts one synced commit per write "
           "delay;\n"
           "but the N participants on one disk prepare at the same time, which costs the 'N at "
           "once'\n"
           "figure. Per run below: the nodes' CPU by role, the client's (this process), and the\n"
           "ceiling = cpus x 1e6 / (nodes + client us per txn): the txn/s that fill every core\n";
    pc::bench::printCpu(std::cout, runs);
    pc::bench::printResources(std::cout, runs, resourcesPerNode);
    pc::bench::printTargets(std::cout, runs);
  }
  pc::bench::printRecovery(std::cout, recoveries);
  std::string machine = pc::bench::machineDescription();
  if (json.is_open()) {
    pc::bench::writeJson(json, machine, command, runs, recoveries);
    if (!json) {
      std::cerr << "pcommit bench: writing " << jsonFile << " failed\n";
      rc = kExitFailure;
    }
  }
  if (!svgDir.empty() && !runs.empty()) {
    try {
      for (const auto& file : pc::bench::writePlots(svgDir, runs, shape.str() + "; " + machine)) {
        std::cout << "plot: " << file << "\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "pcommit bench: " << e.what() << "\n";
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace pc::cli
