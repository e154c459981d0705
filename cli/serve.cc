// pcommit serve --config FILE --node ID [--node ID ...]: runs nodes of a cluster file in
// this process (coordinators, participants or acceptors, by each node's role) until SIGTERM
// or SIGINT. Several --node: co-located roles, one KJ event loop for all of them, each with
// its own data directory, LMDB environment, listening port, core and failpoints; messages
// between them are delivered in-process (runtime::NodeHost::setLocalPeers).
// Exit 0 after a clean stop; 1 on a storage error at start (the message names the path and
// the cause); 64 on a usage or configuration error (the message names the line/option).
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "acceptor/acceptor_host.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "coordinator/coordinator_host.h"
#include "participant/participant_host.h"
#include "runtime/cluster_config.h"
#include "runtime/failpoints.h"
#include "runtime/node_host.h"
#include "runtime/sd_notify.h"
#include "runtime/tls_certs.h"
#include "storage/env.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

// The one place `pcommit serve` turns a node's role into the code that runs it.
std::unique_ptr<runtime::RoleHost> makeRoleHost(runtime::Role role) {
  switch (role) {
    case runtime::Role::Coordinator:
      return std::make_unique<CoordinatorHost>();
    case runtime::Role::Participant:
      return std::make_unique<ParticipantHost>();  // the built-in KV engine
    case runtime::Role::Acceptor:
      return std::make_unique<AcceptorHost>();
  }
  throw std::logic_error("unknown role");
}

// What `serve` runs: the cluster file, the nodes named on the command line (pointers
// into `cluster`, so a Setup is filled in place and never moved) and their failpoints.
struct Setup {
  runtime::ClusterConfig cluster;
  bool init = false;         // --init: a participant may initialise an empty directory
  bool rejoinEmpty = false;  // --rejoin-empty: ... as one that lost its data
  std::vector<runtime::Failpoints> failpoints;
  std::vector<const runtime::NodeInfo*> mine;
};

// Reads and checks everything before any node starts; an exit code if something is wrong.
std::optional<int> loadSetup(const std::string& configPath,
                             const std::vector<std::string>& nodeNames, const po::variables_map& vm,
                             Setup& s) {
  runtime::ClusterConfig& cluster = s.cluster;
  std::vector<runtime::Failpoints>& failpoints = s.failpoints;
  std::vector<const runtime::NodeInfo*>& mine = s.mine;
  try {
    cluster = runtime::loadClusterFile(configPath);
    // Parsed (and logged as armed) once; every node gets its own copy, so @N counts the
    // hits of one node, as when each runs alone.
    failpoints.push_back(runtime::Failpoints::fromEnvironment());
    const char* spec = std::getenv(runtime::kFailpointsEnv);
    for (size_t i = 1; i < nodeNames.size(); ++i) {
      failpoints.emplace_back(spec == nullptr ? "" : spec);
    }
  } catch (const std::exception& e) {
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitUsage;
  }
  if (vm.count("map-size-max")) {
    auto text = vm["map-size-max"].as<std::string>();
    auto bytes = runtime::parseByteSize(text);
    if (!bytes || *bytes < runtime::kMinMapSizeMax || *bytes > runtime::kMaxMapSizeMax) {
      std::cerr << "pcommit serve: bad --map-size-max '" << text
                << "' (expected bytes or a size with KiB, MiB, GiB or TiB, from 1MiB to 16TiB)\n";
      return kExitUsage;
    }
    cluster.mapSizeMax = *bytes;
  }
  for (const auto& name : nodeNames) {
    const runtime::NodeInfo* me = cluster.byName(name);
    if (me == nullptr) {
      std::cerr << "pcommit serve: --node " << name << ": no such node in " << configPath << "\n";
      return kExitUsage;
    }
    if (std::find(mine.begin(), mine.end(), me) != mine.end()) {
      std::cerr << "pcommit serve: --node " << name << " given twice\n";
      return kExitUsage;
    }
    mine.push_back(me);
  }
  if (cluster.tlsEnabled()) {
    // Half a TLS configuration, or files that cannot be used: refuse before any node
    // starts (each node loads its own again when it starts listening).
    try {
      for (const auto* n : mine) (void)runtime::loadNodeTls(cluster, *n);
    } catch (const runtime::ConfigError& e) {
      std::cerr << "pcommit serve: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  try {
    (void)runtime::storageWritesInline();  // a bad PCOMMIT_STORAGE_WRITES: refuse to start
    (void)runtime::recordLogBytes();       // a bad PCOMMIT_RECORD_LOG: likewise
    (void)runtime::ticksOnDemand();        // a bad PCOMMIT_TICKS: likewise
  } catch (const std::runtime_error& e) {
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

uint64_t wallClockMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The open's options for node `n`: its identity (checked against the directory's, written
// at the first start), and for a participant whether it may start on an empty directory.
// A participant that lost its data must not vote or ack for transactions it cannot know
// (docs/PROTOCOL.md §5): on an empty directory it starts only when this is its first start
// (`cluster start` initialised it, or --init) or with --rejoin-empty, which records the
// wall-clock transaction id below which it answers "forgotten". A cluster file without
// cluster-id keeps the old behaviour (no identity to tell a first start by).
storage::Options optionsFor(const Setup& s, const runtime::NodeInfo& n) {
  storage::Options so;
  so.createDir = true;
  so.mapSizeMax = static_cast<size_t>(s.cluster.mapSizeMax);
  so.mapSizeStart = std::min(so.mapSizeStart, so.mapSizeMax);
  so.identity = storage::Identity{s.cluster.clusterId, n.id, n.name};
  // Every role's group commits go to the record log (storage/record_log.h); a participant's
  // engine keeps its committed writes until the checkpoint puts them in the tables.
  so.recordLogBytes = runtime::recordLogBytes();
  if (n.role == runtime::Role::Participant) {
    so.mayInit = s.init || s.rejoinEmpty || s.cluster.clusterId.empty();
    // Client transaction ids begin with the client's wall clock in microseconds
    // (client/client.cc): every transaction begun before now is at or below the mark.
    if (s.rejoinEmpty) so.rejoinMark = TxnId{wallClockMicros(), ~uint64_t{0}};
  }
  return so;
}

// One log line per node on what the open did to its identity.
void logIdentity(const Setup& s, const runtime::NodeInfo& n, const storage::Env& env) {
  auto log = [&](const std::string& line) { runtime::logLine(n.name, line); };
  const std::string cluster =
      s.cluster.clusterId.empty() ? std::string("(no cluster-id)") : s.cluster.clusterId;
  switch (env.identityEvent()) {
    case storage::IdentityEvent::Written:
      log("initialised data directory " + env.dir() + " for cluster " + cluster + ", node " +
          n.name);
      break;
    case storage::IdentityEvent::Adopted:
      log("data directory " + env.dir() + " had no identity record (an older build): now " +
          "cluster " + cluster + ", node " + n.name);
      break;
    case storage::IdentityEvent::ClusterIdAdded:
      log("data directory " + env.dir() + " now belongs to cluster " + cluster +
          " (the cluster file gained a cluster-id)");
      break;
    case storage::IdentityEvent::None:
      break;
  }
  if (n.role != runtime::Role::Participant) return;
  if (env.created() && env.rejoinedAt()) {
    log("rejoined with an empty data directory (--rejoin-empty): transactions up to " +
        env.rejoinedAt()->toString() +
        " are forgotten here; it answers 'forgotten' for them, never a vote or an outcome");
  } else if (s.rejoinEmpty && !env.created()) {
    log("--rejoin-empty ignored: the data directory " + env.dir() + " holds data");
  }
}

// Opens every node's data directory (a storage error names the node being opened).
std::vector<std::unique_ptr<storage::Env>> openEnvs(const Setup& s,
                                                    const runtime::NodeInfo*& current) {
  std::vector<std::unique_ptr<storage::Env>> envs;
  if (s.cluster.clusterId.empty()) {
    for (const auto* n : s.mine) {
      runtime::logLine(n->name, "warning: " + s.cluster.path +
                                    " has no cluster-id: data directories and peers of another "
                                    "cluster are not recognised (README \"Cluster identity\")");
    }
  }
  for (const auto* n : s.mine) {
    current = n;
    envs.push_back(std::make_unique<storage::Env>(s.cluster.dataDirOf(*n), optionsFor(s, *n)));
    logIdentity(s, *n, *envs.back());
  }
  return envs;
}

// What to do about an empty participant directory (after the StorageError's own line).
void explainNotInitialised(const runtime::NodeInfo& n) {
  std::cerr
      << "  " << n.name
      << " is a participant of a cluster that has a cluster-id: an empty data directory\n"
         "  is either its first start or lost data, and a participant that lost its data\n"
         "  must not vote or acknowledge outcomes of transactions it cannot know.\n"
         "  First start of this node: pcommit serve --init ...\n"
         "  Its data was lost: pcommit serve --rejoin-empty ... (it then answers\n"
         "  'forgotten' for every transaction begun before now; README \"Cluster identity\")\n";
}

// Runs the nodes on one event loop until SIGTERM or SIGINT.
int runNodes(Setup& s) {
  const runtime::ClusterConfig& cluster = s.cluster;
  std::vector<runtime::Failpoints>& failpoints = s.failpoints;
  const std::vector<const runtime::NodeInfo*>& mine = s.mine;
  auto logFor = [](const runtime::NodeInfo& n) {
    return [name = n.name](const std::string& line) { runtime::logLine(name, line); };
  };
  auto logAll = [&](const std::string& line) {
    for (const auto* n : mine) runtime::logLine(n->name, line);
  };
  const runtime::NodeInfo* current = mine.front();  // the node being opened, for errors
  try {
    std::vector<std::unique_ptr<storage::Env>> envs = openEnvs(s, current);
    // SIGTERM / SIGINT end the loop; then the storage threads finish what was submitted.
    kj::UnixEventPort::captureSignal(SIGTERM);
    kj::UnixEventPort::captureSignal(SIGINT);
    ::signal(SIGPIPE, SIG_IGN);
    auto io = kj::setupAsyncIo();
    std::random_device rd;
    // Declared after the environments: destroyed first, together (they point at each other).
    std::vector<std::unique_ptr<runtime::NodeHost>> hosts;
    for (size_t i = 0; i < mine.size(); ++i) {
      uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
      hosts.push_back(std::make_unique<runtime::NodeHost>(io, cluster, *mine[i], *envs[i],
                                                          failpoints[i], seed, logFor(*mine[i]),
                                                          makeRoleHost(mine[i]->role)));
    }
    std::vector<runtime::NodeHost*> peers;
    for (auto& h : hosts) peers.push_back(h.get());
    if (hosts.size() > 1) {
      std::string names;
      for (const auto* n : mine) names += (names.empty() ? "" : ", ") + n->name;
      logAll("co-located in one process (pid " + std::to_string(::getpid()) + "): " + names +
             "; messages between them are delivered in-process");
      for (auto& h : hosts) h->setLocalPeers(peers);
    }
    kj::Promise<void> serving =
        io.unixEventPort.onSignal(SIGTERM)
            .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
            .then([&](siginfo_t info) {
              logAll(std::string("stopping on signal ") + std::to_string(info.si_signo));
            });
    for (size_t i = 0; i < hosts.size(); ++i) {
      current = mine[i];
      serving = serving.exclusiveJoin(hosts[i]->run());
    }
    // Every node recovered its records and bound its socket in run(): tell systemd
    // (Type=notify, deploy/systemd/pcommit@.service); nothing happens outside systemd.
    if (std::string error; !runtime::notifySystemd("READY=1", error)) {
      logAll("cannot notify systemd: " + error);
    }
    serving.wait(io.waitScope);
    logAll("stopped");
  } catch (const storage::StorageError& e) {
    runtime::logLine(current->name, std::string("cannot start: ") + e.what());
    std::cerr << "pcommit serve: " << e.what() << "\n";
    if (e.kind() == storage::ErrorKind::NotInitialised) explainNotInitialised(*current);
    return kExitFailure;
  } catch (const kj::Exception& e) {
    runtime::logLine(current->name, std::string("fatal: ") + e.getDescription().cStr());
    std::cerr << "pcommit serve: " << e.getDescription().cStr() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int runServe(const Args& args) {
  po::options_description desc(
      "usage: pcommit serve --config FILE --node ID [--node ID ...]\n\n"
      "Runs a node of the cluster file FILE (its role -- coordinator, participant or\n"
      "acceptor -- comes from the file) until SIGTERM or SIGINT. Logs to stderr, each line\n"
      "with its time, level and node (--log-format text), or as one JSON object with ts,\n"
      "level, node and msg (--log-format json).\n"
      "Several --node run those nodes in this one process (co-located roles, as `cluster\n"
      "start --colocate` does): each keeps its own data directory, LMDB environment and\n"
      "port, and messages between them are handed over in-process, still only after the\n"
      "sender's records are durable. A crash takes all of them down.\n"
      "PCOMMIT_FAILPOINTS=\"name=action;...\" plants faults for tests (see README); it arms\n"
      "every node of the process.\n"
      "PCOMMIT_STORAGE_WRITES=inline (default) writes records on the event loop, one synced\n"
      "commit per loop turn; =thread on a storage thread (README \"Performance\").\n\n"
      "Cluster identity: each data directory records the cluster-id of the cluster file and\n"
      "its node at the first start; a directory of another cluster or node is refused (exit\n"
      "1, naming both ids). A participant of a cluster file with a cluster-id starts on an\n"
      "empty data directory only with --init (its first start; `cluster start` initialises\n"
      "its directories itself) or --rejoin-empty (its data was lost).\n\n"
      "options");
  std::string configPath;
  std::vector<std::string> nodeNames;
  desc.add_options()("help,h", "print this help")(
      "config", po::value<std::string>(&configPath)->value_name("FILE"), "the cluster file")(
      "node", po::value<std::vector<std::string>>(&nodeNames)->value_name("ID")->composing(),
      "a node to run (c1, p2, a3...); repeat it to run several in this process")(
      "map-size-max", po::value<std::string>()->value_name("SIZE"),
      "LMDB map limit per node (e.g. 512MiB), overriding the cluster file's map-size-max")(
      "init", "first start: a participant may initialise an empty data directory")(
      "rejoin-empty",
      "a participant whose data directory was lost starts empty: it answers 'forgotten' for\n"
      "every transaction begun before now (never a vote or an outcome); ignored if the\n"
      "directory holds data");
  addLogOptions(desc);
  po::variables_map vm;
  if (auto done = parseCommand("serve", args, desc, nullptr, vm)) return *done;
  runtime::LogLevel logLevel{};
  runtime::LogFormat logFormat{};
  if (auto rc = resolveLogOptions("serve", vm, logLevel, logFormat)) return *rc;
  runtime::setLogOptions(logLevel, logFormat);
  for (const char* required : {"config", "node"}) {
    if (!vm.count(required)) {
      std::cerr << "pcommit serve: the option '--" << required << "' is required\n"
                << "try 'pcommit serve --help'\n";
      return kExitUsage;
    }
  }
  Setup s;
  s.init = vm.count("init") != 0;
  s.rejoinEmpty = vm.count("rejoin-empty") != 0;
  if (s.init && s.rejoinEmpty) {
    std::cerr << "pcommit serve: --init and --rejoin-empty exclude each other (first start, or "
                 "lost data?)\n";
    return kExitUsage;
  }
  if (auto code = loadSetup(configPath, nodeNames, vm, s)) return *code;
  if (s.rejoinEmpty && std::none_of(s.mine.begin(), s.mine.end(), [](const auto* n) {
        return n->role == runtime::Role::Participant;
      })) {
    std::cerr << "pcommit serve: --rejoin-empty is for participants; no --node is one\n";
    return kExitUsage;
  }
  return runNodes(s);
}

}  // namespace pc::cli
