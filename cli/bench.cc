// pcommit bench (DESIGN.md §6): for each protocol asked for, a fresh local cluster in a
// temporary directory, C closed-loop clients for a warm-up and a measured phase, then a
// table (and --json FILE) with throughput, exact latency percentiles, and the messages and
// synced writes per transaction the nodes counted beside PROTOCOL.md §7's formulas. The
// load and reporting live in bench/ (pc_bench); this file owns the clusters: each is
// stopped and its directory removed afterwards, also on error or Ctrl-C.
#include "bench/bench.h"

#include <signal.h>
#include <stdlib.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cluster.h"
#include "cli/commands.h"
#include "cli/options.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

volatile std::sig_atomic_t gInterrupted = 0;
void onSignal(int) { gInterrupted = 1; }
bool interrupted() { return gInterrupted != 0; }

// Cluster management runs on its own thread: it uses its own Cap'n Proto event loop, and
// a thread has at most one (the benchmark's client owns this thread's).
template <class F>
int onOwnThread(F f) {
  int rc = 0;
  std::thread t([&] { rc = f(); });
  t.join();
  return rc;
}

// A temporary directory with (maybe) a cluster in it: stopped and removed on destruction.
class TempCluster {
 public:
  TempCluster() {
    std::string base = "/tmp";
    if (const char* t = ::getenv("TMPDIR"); t != nullptr && *t != '\0') base = t;
    std::string tmpl = base + "/pcommit-bench-XXXXXX";
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
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempCluster(const TempCluster&) = delete;
  TempCluster& operator=(const TempCluster&) = delete;

  const std::string& dir() const { return dir_; }
  // Starts it; on failure prints startCluster's output and returns false.
  bool start(ClusterStartOptions so) {
    so.dir = dir_;
    std::ostringstream out, err;
    started_ = true;  // even a failed start may have left nodes running: stop them too
    int rc = onOwnThread([&] { return startCluster(so, out, err); });
    if (rc != 0) {
      std::cerr << "pcommit bench: the " << toString(so.protocol) << " cluster did not start:\n"
                << out.str() << err.str();
      return false;
    }
    return true;
  }

 private:
  std::string dir_;
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

}  // namespace

int runBench(const Args& args) {
  po::options_description desc(
      "usage: pcommit bench [--protocol P,...] [--participants N] [--f F] [--clients C]\n"
      "                     [--duration S] [--warmup S] [--payload-bytes B] [--keys K]\n"
      "                     [--json FILE]\n\n"
      "For each protocol: starts a local cluster in a temporary directory (N participants,\n"
      "2F+1 acceptors, 2 coordinators, fan-out all), runs C closed-loop clients (each\n"
      "transaction puts one key on every participant; no conflicts) for a warm-up and then\n"
      "S seconds, stops the cluster and removes the directory. Prints one row per protocol:\n"
      "throughput, exact latency percentiles, and the logical messages (without the\n"
      "background Ack/AckRequest) and synced writes per transaction the nodes and the\n"
      "client counted, beside PROTOCOL.md §7's formulas.\n\noptions");
  std::string protocols = "2pc,paxos-classic,paxos,paxos-direct";
  std::string jsonFile;
  int participants = 3;
  int f = 1;
  pc::bench::LoadOptions lo;
  desc.add_options()("help,h", "print this help")(
      "protocol", po::value<std::string>(&protocols)->value_name("P,..."),
      "comma-separated: 2pc, paxos-classic, paxos, paxos-direct (default: all four)")(
      "participants", po::value<int>(&participants)->value_name("N")->default_value(3),
      "participants (shards); every transaction writes to each")(
      "f", po::value<int>(&f)->value_name("F")->default_value(1),
      "faults tolerated: 2F+1 acceptors")(
      "clients", po::value<int>(&lo.clients)->value_name("C")->default_value(1),
      "closed-loop clients")(
      "duration", po::value<double>(&lo.durationSeconds)->value_name("S")->default_value(10),
      "measured seconds per protocol")(
      "warmup", po::value<double>(&lo.warmupSeconds)->value_name("S")->default_value(1),
      "warm-up seconds before measuring (not counted)")(
      "payload-bytes", po::value<size_t>(&lo.payloadBytes)->value_name("B")->default_value(100),
      "bytes per value written")(
      "keys", po::value<size_t>(&lo.keysPerParticipant)->value_name("K")->default_value(8),
      "keys per client and participant, written in turn (1: back-to-back rewrites of one key)")(
      "json", po::value<std::string>(&jsonFile)->value_name("FILE"),
      "also write the results as JSON (DESIGN.md §6)");
  po::variables_map vm;
  if (auto done = parseCommand("bench", args, desc, nullptr, vm)) return *done;
  auto usage = [](const std::string& msg) {
    std::cerr << "pcommit bench: " << msg << "\n";
    return kExitUsage;
  };
  std::vector<Protocol> list;
  for (const auto& p : splitComma(protocols)) {
    auto parsed = parseProtocol(p);
    if (!parsed)
      return usage("--protocol " + p + ": expected 2pc, paxos-classic, paxos or paxos-direct");
    list.push_back(*parsed);
  }
  if (list.empty()) return usage("--protocol: name at least one protocol");
  if (participants < 1 || participants > 64) return usage("--participants: expected 1..64");
  if (f < 0 || f > 15) return usage("--f: expected 0..15");
  if (lo.clients < 1 || lo.clients > 10000) return usage("--clients: expected 1..10000");
  if (!(lo.durationSeconds > 0) || lo.durationSeconds > 86400)
    return usage("--duration: expected seconds > 0");
  if (!(lo.warmupSeconds >= 0) || lo.warmupSeconds > 3600)
    return usage("--warmup: expected seconds >= 0");
  if (lo.payloadBytes > (size_t{1} << 20)) return usage("--payload-bytes: at most 1 MiB");
  if (lo.keysPerParticipant < 1 || lo.keysPerParticipant > 1000)
    return usage("--keys: expected 1..1000");
  std::ofstream json;
  if (!jsonFile.empty()) {
    json.open(jsonFile);
    if (!json) {
      std::cerr << "pcommit bench: cannot write " << jsonFile << "\n";
      return kExitFailure;
    }
  }

  // Failure-free runs: a failpoint armed in our environment would reach every node.
  ::unsetenv("PCOMMIT_FAILPOINTS");
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  lo.progress = &std::cerr;
  lo.interrupted = interrupted;
  auto io = kj::setupAsyncIo();
  std::vector<pc::bench::RunResult> runs;
  int rc = kExitOk;
  for (Protocol p : list) {
    if (interrupted()) break;
    TempCluster tc;
    if (tc.dir().empty()) {
      std::cerr << "pcommit bench: cannot create a temporary directory\n";
      rc = kExitFailure;
      break;
    }
    ClusterStartOptions so;
    so.participants = participants;
    so.f = f;
    so.acceptors = 2 * f + 1;
    so.protocol = p;
    std::cerr << "== " << toString(p) << ": starting " << participants << " participants, "
              << so.acceptors << " acceptors, " << so.coordinators << " coordinators\n";
    if (!tc.start(so)) {
      rc = kExitFailure;
      break;
    }
    if (interrupted()) break;
    try {
      auto cluster = runtime::loadClusterFile(tc.dir() + "/cluster.conf");
      lo.label = toString(p);
      runs.push_back(pc::bench::runLoad(io, cluster, lo));
    } catch (const kj::Exception& e) {
      std::cerr << "\npcommit bench: " << toString(p) << ": " << e.getDescription().cStr() << "\n";
      rc = kExitFailure;
      break;
    } catch (const std::exception& e) {
      std::cerr << "\npcommit bench: " << toString(p) << ": " << e.what() << "\n";
      rc = kExitFailure;
      break;
    }
  }
  if (interrupted() && rc == kExitOk) rc = 130;

  std::cout << "\n"
            << participants << " participants, F=" << f << " (" << 2 * f + 1
            << " acceptors, fan-out all), " << lo.clients << " client(s), " << lo.durationSeconds
            << " s measured after " << lo.warmupSeconds << " s warm-up, " << lo.payloadBytes
            << "-byte values\n";
  pc::bench::printTable(std::cout, runs);
  std::cout << "msgs/txn: logical messages sent by every node and the client, without Ack and\n"
               "AckRequest (background GC); synced/txn: synced_commits_critical; expect: "
               "PROTOCOL.md §7\n";
  if (json.is_open()) {
    pc::bench::writeJson(json, pc::bench::machineDescription(), runs);
    if (!json) {
      std::cerr << "pcommit bench: writing " << jsonFile << " failed\n";
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace pc::cli
