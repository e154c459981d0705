// rocksdb_participant --config FILE --node ID [--data DIR]: one participant of a pcommit
// cluster whose data lives in RocksDB (rocksdb_rm.h), run like `pcommit serve` until
// SIGTERM or SIGINT. DIR (default: the node's data directory in the cluster file) holds
// pcommit/ (the protocol's records, LMDB) and rocksdb/ (the TransactionDB).
// Exit 0 after a clean stop, 1 if it cannot start or fails, 64 on a usage error.
#include <kj/async-unix.h>
#include <pcommit/participant.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "rocksdb_rm.h"

namespace {

constexpr const char* kUsage =
    "usage: rocksdb_participant --config FILE --node ID [--data DIR]\n\n"
    "Runs participant ID of the cluster file FILE with its data in RocksDB, until SIGTERM or\n"
    "SIGINT. Logs to stderr. DIR (default: the node's data directory in FILE) holds\n"
    "pcommit/ (the protocol's records) and rocksdb/ (the data). PCOMMIT_FAILPOINTS works as\n"
    "for `pcommit serve`.\n\n"
    "options\n"
    "  -h [ --help ]         print this help\n"
    "  --config FILE         the cluster file\n"
    "  --node ID             this node's id (p1, p2, ...)\n"
    "  --data DIR            where to keep the data\n";

int usage(const std::string& msg) {
  std::cerr << "rocksdb_participant: " << msg << "\ntry 'rocksdb_participant --help'\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts (RocksDB's, the node's storage thread): they inherit the
  // blocked signals, so SIGTERM / SIGINT reach the event loop only.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  ::signal(SIGPIPE, SIG_IGN);
  std::string config;
  std::string node;
  std::string data;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    std::string* target = a == "--config" ? &config
                          : a == "--node" ? &node
                          : a == "--data" ? &data
                                          : nullptr;
    if (target == nullptr) return usage("unknown argument '" + a + "'");
    if (i + 1 >= argc) return usage("the option '" + a + "' needs a value");
    *target = argv[++i];
  }
  if (config.empty()) return usage("the option '--config' is required");
  if (node.empty()) return usage("the option '--node' is required");

  pc::ParticipantNodeOptions options;
  options.clusterFile = config;
  options.node = node;
  try {
    if (data.empty()) {
      pc::runtime::ClusterConfig cluster = pc::runtime::loadClusterFile(config);
      const pc::runtime::NodeInfo* me = cluster.byName(node);
      if (me == nullptr) return usage("--node " + node + ": no such node in " + config);
      data = cluster.dataDirOf(*me);
      options.cluster = std::move(cluster);
    }
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) {
    std::cerr << "rocksdb_participant: cannot create " << data << ": " << ec.message() << "\n";
    return 1;
  }
  try {
    RocksDbResourceManager rm(data + "/rocksdb");
    options.dataDir = data + "/pcommit";
    pc::ParticipantNode participant(rm, options);

    // The caller's event loop: SIGTERM / SIGINT end it.
    auto io = kj::setupAsyncIo();
    auto stop =
        io.unixEventPort.onSignal(SIGTERM)
            .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
            .then([](siginfo_t info) {
              std::fprintf(stderr, "rocksdb_participant: stopping on signal %d\n", info.si_signo);
            });
    participant.run(io).exclusiveJoin(kj::mv(stop)).wait(io.waitScope);
    std::fprintf(stderr, "rocksdb_participant: stopped\n");
  } catch (const pc::ParticipantNodeError& e) {
    std::cerr << "rocksdb_participant: " << e.what() << "\n";
    return 1;
  } catch (const kj::Exception& e) {
    std::cerr << "rocksdb_participant: " << e.getDescription().cStr() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "rocksdb_participant: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
