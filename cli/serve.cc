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
  } catch (const std::runtime_error& e) {
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// Opens every node's data directory (a storage error names the node being opened).
std::vector<std::unique_ptr<storage::Env>> openEnvs(const Setup& s,
                                                    const runtime::NodeInfo*& current) {
  std::vector<std::unique_ptr<storage::Env>> envs;
  for (const auto* n : s.mine) {
    current = n;
    storage::Options so;
    so.createDir = true;
    so.mapSizeMax = static_cast<size_t>(s.cluster.mapSizeMax);
    so.mapSizeStart = std::min(so.mapSizeStart, so.mapSizeMax);
    envs.push_back(std::make_unique<storage::Env>(s.cluster.dataDirOf(*n), so));
  }
  return envs;
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
      "naming its node.\n"
      "Several --node run those nodes in this one process (co-located roles, as `cluster\n"
      "start --colocate` does): each keeps its own data directory, LMDB environment and\n"
      "port, and messages between them are handed over in-process, still only after the\n"
      "sender's records are durable. A crash takes all of them down.\n"
      "PCOMMIT_FAILPOINTS=\"name=action;...\" plants faults for tests (see README); it arms\n"
      "every node of the process.\n"
      "PCOMMIT_STORAGE_WRITES=inline (default) writes records on the event loop, one synced\n"
      "commit per loop turn; =thread on a storage thread (README \"Performance\").\n\n"
      "options");
  std::string configPath;
  std::vector<std::string> nodeNames;
  desc.add_options()("help,h", "print this help")(
      "config", po::value<std::string>(&configPath)->value_name("FILE"), "the cluster file")(
      "node", po::value<std::vector<std::string>>(&nodeNames)->value_name("ID")->composing(),
      "a node to run (c1, p2, a3...); repeat it to run several in this process")(
      "map-size-max", po::value<std::string>()->value_name("SIZE"),
      "LMDB map limit per node (e.g. 512MiB), overriding the cluster file's map-size-max");
  po::variables_map vm;
  if (auto done = parseCommand("serve", args, desc, nullptr, vm)) return *done;
  for (const char* required : {"config", "node"}) {
    if (!vm.count(required)) {
      std::cerr << "pcommit serve: the option '--" << required << "' is required\n"
                << "try 'pcommit serve --help'\n";
      return kExitUsage;
    }
  }
  Setup s;
  if (auto code = loadSetup(configPath, nodeNames, vm, s)) return *code;
  return runNodes(s);
}

}  // namespace pc::cli
