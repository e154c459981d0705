// pcommit serve --config FILE --node ID: runs one node of a cluster file in this process
// (a coordinator, participant or acceptor, by the node's role) until SIGTERM or SIGINT.
// Exit 0 after a clean stop; 1 on a storage error at start (the message names the path and
// the cause); 64 on a usage or configuration error (the message names the line/option).
#include <signal.h>
#include <sys/time.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <random>

#include "cli/commands.h"
#include "cli/options.h"
#include "runtime/cluster_config.h"
#include "runtime/failpoints.h"
#include "runtime/node_host.h"
#include "storage/env.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {}  // namespace

int runServe(const Args& args) {
  po::options_description desc(
      "usage: pcommit serve --config FILE --node ID\n\n"
      "Runs one node of the cluster file FILE (its role -- coordinator, participant or\n"
      "acceptor -- comes from the file) until SIGTERM or SIGINT. Logs to stderr.\n"
      "PCOMMIT_FAILPOINTS=\"name=action;...\" plants faults for tests (see README).\n"
      "PCOMMIT_STORAGE_WRITES=inline (default) writes records on the event loop, one synced\n"
      "commit per loop turn; =thread on a storage thread (README \"Performance\").\n\n"
      "options");
  std::string configPath;
  std::string nodeName;
  desc.add_options()("help,h", "print this help")(
      "config", po::value<std::string>(&configPath)->value_name("FILE"), "the cluster file")(
      "node", po::value<std::string>(&nodeName)->value_name("ID"),
      "this node's id (c1, p2, a3...)");
  po::variables_map vm;
  if (auto done = parseCommand("serve", args, desc, nullptr, vm)) return *done;
  for (const char* required : {"config", "node"}) {
    if (!vm.count(required)) {
      std::cerr << "pcommit serve: the option '--" << required << "' is required\n"
                << "try 'pcommit serve --help'\n";
      return kExitUsage;
    }
  }
  runtime::ClusterConfig cluster;
  runtime::Failpoints failpoints;
  try {
    cluster = runtime::loadClusterFile(configPath);
    failpoints = runtime::Failpoints::fromEnvironment();
  } catch (const std::exception& e) {
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitUsage;
  }
  const runtime::NodeInfo* me = cluster.byName(nodeName);
  if (me == nullptr) {
    std::cerr << "pcommit serve: --node " << nodeName << ": no such node in " << configPath << "\n";
    return kExitUsage;
  }
  auto log = [name = me->name](const std::string& line) { runtime::logLine(name, line); };
  try {
    (void)runtime::storageWritesInline();  // a bad PCOMMIT_STORAGE_WRITES: refuse to start
  } catch (const std::runtime_error& e) {
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    storage::Options so;
    so.createDir = true;
    storage::Env env(cluster.dataDirOf(*me), so);

    // SIGTERM / SIGINT end the loop; then the storage thread finishes what was submitted.
    kj::UnixEventPort::captureSignal(SIGTERM);
    kj::UnixEventPort::captureSignal(SIGINT);
    ::signal(SIGPIPE, SIG_IGN);
    auto io = kj::setupAsyncIo();
    std::random_device rd;
    uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    runtime::NodeHost host(io, cluster, *me, env, failpoints, seed, log);
    auto stop = io.unixEventPort.onSignal(SIGTERM)
                    .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
                    .then([&](siginfo_t info) {
                      log(std::string("stopping on signal ") + std::to_string(info.si_signo));
                    });
    host.run().exclusiveJoin(kj::mv(stop)).wait(io.waitScope);
    log("stopped");
  } catch (const storage::StorageError& e) {
    log(std::string("cannot start: ") + e.what());
    std::cerr << "pcommit serve: " << e.what() << "\n";
    return kExitFailure;
  } catch (const kj::Exception& e) {
    log(std::string("fatal: ") + e.getDescription().cStr());
    std::cerr << "pcommit serve: " << e.getDescription().cStr() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace pc::cli
