// pcommit bench (docs/DESIGN.md §6, issue 6). For each mode asked for and each participant
// count, a fresh local cluster in a temporary directory (or the running cluster of
// --cluster FILE); for each client count, C closed-loop clients for a warm-up and a
// measured phase. Then a table (and --json FILE, --svg DIR) with throughput, exact latency
// percentiles, latency as a multiple of the physical floor measured in the same run, and
// the messages, RPC calls and synced writes per transaction the nodes counted beside
// docs/PROTOCOL.md §7's formulas; CPU per committed transaction; every node's RSS and LMDB file
// size at the start, middle and end of each measured phase. --recovery instead crashes each
// mode's leader under load and times the resolution of the transactions left in doubt
// (bench/recovery.h).
//
// This file parses the options into a bench::Plan (bench/plan.h), which runs the clusters,
// the load, the floor, the recovery and the report; each cluster is stopped and its
// directory removed afterwards, also on error or Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>
#include <sstream>

#include "bench/plan.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "runtime/failpoints.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

volatile std::sig_atomic_t gInterrupted = 0;
void onSignal(int) { gInterrupted = 1; }
bool interrupted() { return gInterrupted != 0; }

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

// The options that are text before they become a Plan.
struct BenchText {
  std::string protocols;
  std::string participantsList = "3";
  std::string clientsList = "1";
  std::string fanOut = "all";
  std::string colocate = "none";
  std::string netDelaysList = "0";
  std::string transport = "tcp";
};

int usage(const std::string& msg) {
  std::cerr << "pcommit bench: " << msg << "\n";
  return kExitUsage;
}

const char* const kBenchUsage =
    "usage: pcommit bench [--protocol P,...] [--participants N,...] [--clients C,...]\n"
    "                     [--f F] [--fanout all|quorum] [--duration S] [--warmup S]\n"
    "                     [--payload-bytes B] [--keys K] [--conflict-rate R] [--hot-keys H]\n"
    "                     [--seed S] [--cluster FILE] [--gc-cap N] [--recovery-timeout-ms MS]\n"
    "                     [--colocate none|acceptors|all] [--net-delay-us D,...] [--tls]\n"
    "                     [--json FILE] [--svg DIR] [--no-floor] [--resources] [--keep]\n"
    "                     [--retry-disturbed N] [--rounds R]\n"
    "                     [--recovery [--crash-after K] [--restart-after-ms MS]]\n\n"
    "For each protocol (mode) and each participant count: starts a local cluster in a\n"
    "temporary directory (N participants, 2F+1 acceptors, 2 coordinators) or uses the\n"
    "running cluster of --cluster; for each client count runs C closed-loop clients (each\n"
    "transaction puts one key on every participant) for a warm-up and then S seconds.\n"
    "Prints a row per point: committed, aborted and unknown (with reasons), throughput,\n"
    "exact latency percentiles, p50 as a multiple of the physical floor measured in the\n"
    "same run (the nodes' synced write, a record-log append, and a Cap'n Proto loopback\n"
    "round trip), and the logical messages (without the background GC acks), synced\n"
    "writes and RPC calls per transaction the nodes and the client counted, beside\n"
    "docs/PROTOCOL.md §7's formulas,\n"
    "and the nodes' and the client's CPU per committed transaction (by role, with the\n"
    "throughput that would fill every core), each role's mean synced commit (the write\n"
    "stages: each a record-log append, an LMDB commit with PCOMMIT_RECORD_LOG=off) and\n"
    "how many per transaction; then every node's RSS and data.mdb size at\n"
    "the start, middle and end of each run. On a VM the report also gives the steal of\n"
    "each measured phase (CPU time the hypervisor gave to other guests, /proc/stat) and\n"
    "names every phase above 5% as DISTURBED: --retry-disturbed N measures it again.\n"
    "--rounds R: the whole plan R times over, every mode in turn within a round (fresh\n"
    "clusters each round), as a machine whose disk and CPU drift from minute to minute\n"
    "needs: each target is judged within every round, and its verdict is that of the\n"
    "rounds' median ratio, every round's ratio printed beside it.\n"
    "--recovery: instead of the load runs, crashes each mode's leader under load and\n"
    "reports how long transactions stayed in doubt.\n"
    "--colocate acceptors|all: the fresh clusters run acceptor a<i> (and with 'all'\n"
    "coordinator c<i>) inside participant p<i>'s process, messages between them handed\n"
    "over in-process (`pcommit cluster start --help`); the logical messages counted, and\n"
    "so the formulas, stay the same: a message is counted whether or not it left the\n"
    "process.\n"
    "--net-delay-us D,...: a fresh cluster per D whose nodes and clients hold every\n"
    "message they send over the network D microseconds (an emulated one-way link delay,\n"
    "in the process: this kernel-independent stand-in for netem models neither jitter,\n"
    "loss nor TCP's own packets); the floor then counts D per message delay, so the p50\n"
    "of each mode can be held against 2 synced writes + delays x (rtt/2 + D). Beside it\n"
    "the paced floor: the synced commit measured again with a sleep of the mode's floor\n"
    "before each one, as a node syncs once per one-client round (a disk that idled may\n"
    "answer more slowly; JSON floor_synced_write_paced_us, p50_over_paced_floor). The\n"
    "targets are judged on the floor; the paced ratio is printed after it.\n"
    "--tls: every cluster twice, plaintext then mutual TLS (`cluster start --tls`), and a\n"
    "TLS cost line per point: throughput, p50 and CPU per transaction against plaintext,\n"
    "and a status call on a new connection (TCP + TLS handshake) and on a pooled one.\n"
    "With --cluster, the file's tls-* keys decide (TLS on iff tls-ca is set).\n\noptions";

po::options_description benchOptions(bench::Plan& p, BenchText& t) {
  po::options_description desc(kBenchUsage);
  desc.add_options()("help,h", "print this help")(
      "protocol", po::value<std::string>(&t.protocols)->value_name("P,..."),
      "comma-separated modes: 2pc, paxos-classic, paxos, paxos-direct, 2pc-replicated (default: "
      "all five; "
      "with --cluster: its protocol, and paxos-direct too if it runs paxos)")(
      "participants",
      po::value<std::string>(&t.participantsList)->value_name("N,...")->default_value("3"),
      "participants per transaction; a list sweeps (a cluster per N; with --cluster, "
      "transactions span its first N participants)")(
      "clients", po::value<std::string>(&t.clientsList)->value_name("C,...")->default_value("1"),
      "closed-loop clients; a list sweeps (same cluster)")(
      "f", po::value<int>(&p.f)->value_name("F")->default_value(1),
      "faults tolerated: 2F+1 acceptors")(
      "fanout", po::value<std::string>(&t.fanOut)->value_name("all|quorum")->default_value("all"),
      "participants send their vote to all 2F+1 acceptors, or to F+1 first")(
      "duration", po::value<double>(&p.load.durationSeconds)->value_name("S")->default_value(10),
      "measured seconds per point")(
      "warmup", po::value<double>(&p.load.warmupSeconds)->value_name("S")->default_value(1),
      "warm-up seconds before measuring (not counted)")(
      "payload-bytes", po::value<size_t>(&p.load.payloadBytes)->value_name("B")->default_value(100),
      "bytes per value written")(
      "keys", po::value<size_t>(&p.load.keysPerParticipant)->value_name("K")->default_value(8),
      "keys per client and participant, written in turn (1: back-to-back rewrites of one key)")(
      "conflict-rate", po::value<double>(&p.conflictRate)->value_name("R")->default_value(0),
      "fraction of transactions that write a hot row instead (0..1)")(
      "hot-keys", po::value<size_t>(&p.hotKeys)->value_name("H")->default_value(4),
      "hot rows (one key on each participant), shared by all clients")(
      "seed", po::value<uint64_t>(&p.load.seed)->value_name("S")->default_value(1),
      "seed of the hot-row choices")(
      "cluster", po::value<std::string>(&p.clusterFile)->value_name("FILE"),
      "use this running cluster instead of starting one per mode (F and fan-out are its own)")(
      "gc-cap", po::value<uint32_t>(&p.gcCap)->value_name("N")->default_value(100000),
      "fresh clusters: collected transactions each node remembers (bounds RSS and disk)")(
      "json", po::value<std::string>(&p.jsonFile)->value_name("FILE"),
      "also write the results as JSON (docs/DESIGN.md §6)")(
      "svg", po::value<std::string>(&p.svgDir)->value_name("DIR"),
      "write plots: latency CDF per mode, throughput vs clients, latency vs participants")(
      "no-floor", po::bool_switch(&p.noFloor), "do not measure the physical floor")(
      "retry-disturbed", po::value<int>(&p.retryDisturbed)->value_name("N")->default_value(0),
      "measure a point again, up to N times, while the hypervisor took more than 5% of the "
      "machine's CPU time (steal) during it; the least disturbed measurement is reported")(
      "rounds", po::value<int>(&p.rounds)->value_name("R")->default_value(1),
      "run the whole plan R times, the modes in turn within each round; the targets are "
      "judged on the median of the rounds' ratios, each round's beside it (1..20)")(
      "keep", po::bool_switch(&p.keep), "keep each cluster's directory (stopped): logs and data")(
      "tls", po::bool_switch(&p.tls),
      "each cluster twice, plaintext and mutual TLS, with the TLS cost beside (see above)")(
      "resources", po::bool_switch(&p.resourcesPerNode),
      "print every node's RSS and data.mdb size (start, middle, end), not just the largest")(
      "recovery", po::bool_switch(&p.recovery),
      "recovery mode: crash each mode's leader under load (first N and C of the lists)")(
      "crash-after", po::value<uint64_t>(&p.crashAfter)->value_name("K")->default_value(500),
      "recovery: the coordinator crashes after sending the prepares of its K-th transaction "
      "(paxos-direct: the client, after K commits)")(
      "restart-after-ms",
      po::value<uint32_t>(&p.restartAfterMs)->value_name("MS")->default_value(2000),
      "recovery, 2pc: restart the coordinator this long after its crash")(
      "recovery-timeout-ms",
      po::value<uint32_t>(&p.recoveryTimeoutMs)->value_name("MS")->default_value(1000),
      "fresh clusters: a prepared participant with no outcome starts recovery after this")(
      "colocate",
      po::value<std::string>(&t.colocate)->value_name("none|acceptors|all")->default_value("none"),
      "fresh clusters: run a<i> (acceptors), or a<i> and c<i> (all), in p<i>'s process")(
      "net-delay-us",
      po::value<std::string>(&t.netDelaysList)->value_name("D,...")->default_value("0"),
      "fresh clusters: emulated one-way delay of every message, microseconds (0..1000000); "
      "a list sweeps (a cluster per D)")(
      "transport",
      po::value<std::string>(&t.transport)->value_name("tcp|unix")->default_value("tcp"),
      "fresh clusters: nodes on 127.0.0.1 ports, or on Unix sockets (the floor's round trip too)");
  return desc;
}

// The lists, names and ranges of the options; an exit code on a usage error.
std::optional<int> checkOptions(const BenchText& t, bench::Plan& p) {
  auto fanOut = parseFanOut(t.fanOut);
  if (!fanOut) return usage("--fanout " + t.fanOut + ": expected all or quorum");
  p.fanOut = *fanOut;
  auto colocate = runtime::parseColocate(t.colocate);
  if (!colocate) return usage("--colocate " + t.colocate + ": expected none, acceptors or all");
  p.colocate = *colocate;
  auto participantCounts = intList(t.participantsList, 1, 64);
  if (!participantCounts) return usage("--participants: expected a list of 1..64, e.g. 1,2,4,8");
  p.participantCounts = *participantCounts;
  auto clientCounts = intList(t.clientsList, 1, 10000);
  if (!clientCounts) return usage("--clients: expected a list of 1..10000, e.g. 1,4,16,64");
  p.clientCounts = *clientCounts;
  auto delays = intList(t.netDelaysList, 0, static_cast<int>(runtime::kMaxNetDelayUs));
  if (!delays) return usage("--net-delay-us: expected a list of 0..1000000, e.g. 0,100,500,2000");
  p.netDelaysUs.assign(delays->begin(), delays->end());
  if (t.transport != "tcp" && t.transport != "unix")
    return usage("--transport " + t.transport + ": expected tcp or unix");
  p.unixSockets = t.transport == "unix";
  const auto& lo = p.load;
  if (p.f < 0 || p.f > 15) return usage("--f: expected 0..15");
  if (p.retryDisturbed < 0 || p.retryDisturbed > 20)
    return usage("--retry-disturbed: expected 0..20");
  if (p.rounds < 1 || p.rounds > 20) return usage("--rounds: expected 1..20");
  if (p.rounds > 1 && p.recovery)
    return usage("--rounds: not with --recovery (one crash per mode)");
  if (p.rounds > 1 && !p.svgDir.empty())
    return usage("--rounds: not with --svg (a plot shows one run per point)");
  if (!(lo.durationSeconds > 0) || lo.durationSeconds > 86400)
    return usage("--duration: expected seconds > 0");
  if (!(lo.warmupSeconds >= 0) || lo.warmupSeconds > 3600)
    return usage("--warmup: expected seconds >= 0");
  if (lo.payloadBytes > (size_t{1} << 20)) return usage("--payload-bytes: at most 1 MiB");
  if (lo.keysPerParticipant < 1 || lo.keysPerParticipant > 1000)
    return usage("--keys: expected 1..1000");
  if (!(p.conflictRate >= 0 && p.conflictRate <= 1)) return usage("--conflict-rate: expected 0..1");
  if (p.hotKeys < 1 || p.hotKeys > 100000) return usage("--hot-keys: expected 1..100000");
  if (p.crashAfter < 1) return usage("--crash-after: expected >= 1");
  if (p.recoveryTimeoutMs < 10 || p.recoveryTimeoutMs > 600000)
    return usage("--recovery-timeout-ms: expected 10..600000");
  if (p.gcCap < 1) return usage("--gc-cap: expected >= 1");
  return std::nullopt;
}

// --cluster FILE: the cluster to use; its F, fan-out and colocation replace the options.
std::optional<int> loadGiven(const po::variables_map& vm, bench::Plan& p) {
  if (p.clusterFile.empty()) return std::nullopt;
  if (p.recovery)
    return usage("--recovery starts its own clusters (it arms a failpoint): drop --cluster");
  if (!vm["f"].defaulted() || !vm["fanout"].defaulted())
    return usage("--f and --fanout come from the cluster file with --cluster");
  if (!vm["colocate"].defaulted())
    return usage("--colocate comes from the cluster file with --cluster (its colocate key)");
  if (!vm["net-delay-us"].defaulted())
    return usage(
        "--net-delay-us comes from the cluster file with --cluster (its net-delay-us key)");
  if (p.tls) return usage("--tls starts its own clusters; with --cluster its tls-* keys decide");
  if (!vm["transport"].defaulted())
    return usage("--transport comes from the cluster file with --cluster (its addresses)");
  try {
    p.given = runtime::loadClusterFile(p.clusterFile);
  } catch (const std::exception& e) {
    std::cerr << "pcommit bench: " << e.what() << "\n";
    return kExitUsage;
  }
  int have = static_cast<int>(p.given->withRole(runtime::Role::Participant).size());
  if (vm["participants"].defaulted()) p.participantCounts = std::vector<int>{have};
  for (int n : p.participantCounts) {
    if (n > have)
      return usage("--participants " + std::to_string(n) + ": the cluster has " +
                   std::to_string(have));
  }
  p.f = p.given->f;
  p.fanOut = p.given->fanOut;
  p.colocate = p.given->colocate;
  p.unixSockets = p.given->nodes.front().isUnix();
  return std::nullopt;
}

// --protocol (with --cluster: what its protocol allows).
std::optional<int> chooseModes(std::string protocols, bench::Plan& p) {
  const auto& given = p.given;
  if (protocols.empty()) {
    if (given) {
      p.modes.push_back(bench::Mode{given->protocol, false});
      if (given->protocol == Protocol::Paxos) p.modes.push_back(bench::Mode{Protocol::Paxos, true});
    } else {
      protocols = "2pc,paxos-classic,paxos,paxos-direct,2pc-replicated";
    }
  }
  for (const auto& name : splitComma(protocols)) {
    auto parsed = parseProtocol(name);
    if (!parsed)
      return usage("--protocol " + name +
                   ": expected 2pc, paxos-classic, paxos, paxos-direct or 2pc-replicated");
    if (!given) {
      p.modes.push_back(bench::Mode{*parsed, false});
    } else if (*parsed == given->protocol) {
      p.modes.push_back(bench::Mode{*parsed, false});
    } else if (*parsed == Protocol::PaxosDirect && given->protocol == Protocol::Paxos) {
      p.modes.push_back(bench::Mode{Protocol::Paxos, true});
    } else {
      return usage("--protocol " + name + ": the cluster runs " + toString(given->protocol) +
                   (given->protocol == Protocol::Paxos ? " (paxos-direct works on it too)" : ""));
    }
  }
  if (p.modes.empty()) return usage("--protocol: name at least one protocol");
  return std::nullopt;
}

}  // namespace

int runBench(const Args& args) {
  bench::Plan p;
  BenchText t;
  po::options_description desc = benchOptions(p, t);
  po::variables_map vm;
  if (auto done = parseCommand("bench", args, desc, nullptr, vm)) return *done;
  if (auto rc = checkOptions(t, p)) return *rc;
  if (auto rc = loadGiven(vm, p)) return *rc;
  if (p.recovery && p.tls) return usage("--tls measures load runs: drop --recovery");
  if (p.recovery && p.colocate == runtime::Colocate::All) {
    // c1's crash would take p1 and a1 with it: not the coordinator crash being measured.
    return usage(
        "--recovery crashes c1, which --colocate all puts in p1's process: use none or "
        "acceptors");
  }
  if (auto rc = chooseModes(t.protocols, p)) return *rc;
  p.command = "pcommit bench";
  for (const auto& a : args) p.command += " " + a;

  struct sigaction sa {};
  sa.sa_handler = onSignal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  return bench::runPlan(std::move(p), interrupted, std::cout);
}

}  // namespace pc::cli
