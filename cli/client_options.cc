// The options pcommit txn, get, outcome and status share (client_options.h).
#include "cli/client_options.h"

#include <cstdlib>
#include <iostream>

#include "cli/options.h"
#include "client/client.h"
#include "runtime/local_cluster/local_cluster.h"
#include "runtime/tls_certs.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

constexpr int kProtocolQueryTimeoutMs = 2000;

// --endpoints without --protocol: the protocol the nodes run, as the first of them (in id
// order: coordinators first) to answer its status call reports it.
std::optional<Protocol> askProtocol(const runtime::ClusterConfig& c) {
  local_cluster::ClusterStatus status;
  local_cluster::queryNodes(c, kProtocolQueryTimeoutMs, status);
  for (const auto& row : status.nodes) {
    if (row.healthy) return parseProtocol(row.status->protocol);
  }
  return std::nullopt;
}

int fromEndpoints(const char* cmd, const ClusterArgs& a, bool needProtocol,
                  runtime::ClusterConfig& out) {
  std::optional<Protocol> protocol;
  if (!a.protocol.empty()) {
    protocol = parseProtocol(a.protocol);
    if (!protocol) {
      std::cerr << "pcommit " << cmd << ": --protocol '" << a.protocol
                << "': expected 2pc, paxos-classic, paxos, paxos-direct or 2pc-replicated\n";
      return kExitUsage;
    }
  }
  try {
    out = clusterFromAddresses(splitComma(a.endpoints), protocol.value_or(Protocol::Paxos));
  } catch (const runtime::ConfigError& e) {
    std::cerr << "pcommit " << cmd << ": --endpoints: " << e.what() << "\n";
    return kExitUsage;
  }
  if (!needProtocol) return -1;
  if (!protocol) {
    protocol = askProtocol(out);
    if (!protocol) {
      std::cerr << "pcommit " << cmd << ": --endpoints: no node answered a status call within "
                << kProtocolQueryTimeoutMs << " ms to tell its protocol (give --protocol)\n";
      return 2;
    }
    out.protocol = *protocol;
  }
  // The cluster file's rule: only paxos-direct runs without a coordinator.
  if (out.protocol != Protocol::PaxosDirect && out.withRole(runtime::Role::Coordinator).empty()) {
    std::cerr << "pcommit " << cmd << ": --endpoints: protocol " << toString(out.protocol)
              << " needs a coordinator (expected a c<N>=HOST:PORT entry)\n";
    return kExitUsage;
  }
  return -1;
}

}  // namespace

void addClusterOptions(po::options_description& desc, ClusterArgs& a) {
  desc.add_options()("cluster", po::value<std::string>(&a.file)->value_name("FILE"),
                     "the cluster file (default: $PCOMMIT_CLUSTER)")(
      "endpoints", po::value<std::string>(&a.endpoints)->value_name("LIST"),
      "instead of a file: c1=HOST:PORT,p1=HOST:PORT,a1=... (or NAME=unix:PATH)")(
      "protocol", po::value<std::string>(&a.protocol)->value_name("P"),
      "with --endpoints: 2pc|paxos-classic|paxos|paxos-direct|2pc-replicated (default: ask a "
      "node)");
}

int parseClientArgs(const char* cmd, const Args& args, po::options_description& desc,
                    po::positional_options_description& pos, po::variables_map& vm) {
  if (auto done = parseCommand(cmd, args, desc, &pos, vm)) return *done;
  return -1;
}

std::optional<TxnId> parseTxidArg(const char* cmd, const char* what, const std::string& text) {
  auto txn = TxnId::parse(text);
  if (!txn)
    std::cerr << "pcommit " << cmd << ": " << what << " '" << text << "': expected 32 hex digits\n";
  return txn;
}

int loadCluster(const char* cmd, const ClusterArgs& a, runtime::ClusterConfig& out,
                bool needProtocol) {
  if (!a.file.empty() && !a.endpoints.empty()) {
    std::cerr << "pcommit " << cmd << ": give --cluster or --endpoints, not both\n";
    return kExitUsage;
  }
  if (!a.protocol.empty() && a.endpoints.empty()) {
    std::cerr << "pcommit " << cmd
              << ": --protocol goes with --endpoints (a cluster file names its protocol)\n";
    return kExitUsage;
  }
  if (!a.endpoints.empty()) return fromEndpoints(cmd, a, needProtocol, out);
  std::string path = a.file;
  const char* env = std::getenv(kClusterEnv);
  const bool fromEnv = path.empty() && env != nullptr && *env != '\0';
  if (fromEnv) path = env;
  if (path.empty()) {
    std::cerr << "pcommit " << cmd
              << ": no cluster given (--cluster FILE, --endpoints c1=HOST:PORT,... or the "
              << kClusterEnv << " environment variable)\ntry 'pcommit " << cmd << " --help'\n";
    return kExitUsage;
  }
  try {
    out = runtime::loadClusterFile(path);
    // A client with half a TLS configuration, or files it cannot use, stops here (64),
    // not at its first connection.
    if (out.tlsEnabled()) (void)runtime::loadClientTls(out);
    return -1;
  } catch (const std::exception& e) {
    std::cerr << "pcommit " << cmd << ": " << e.what()
              << (fromEnv ? std::string(" (from ") + kClusterEnv + ")" : std::string()) << "\n";
    return kExitUsage;
  }
}

}  // namespace pc::cli
