// What pcommit txn, get, outcome and status share (cli/txn.cc, cli/get.cc, cli/outcome.cc,
// cli/status.cc): the client side of the command contract (docs/DESIGN.md §4). Usage and
// configuration errors exit 64 with a message naming the bad option or line.
//
// Where a client command finds its cluster, first match wins:
//   --cluster FILE                      the cluster file
//   --endpoints c1=HOST:PORT,p1=...     the nodes themselves, no file (names as in the file:
//                                       c<N>, p<N>, a<N>; F from the acceptors, 2F+1); the
//                                       protocol is --protocol's, else the one the first node
//                                       to answer a status call reports (coordinators first);
//                                       timing keys keep their defaults
//   $PCOMMIT_CLUSTER                    a cluster file's path (when non-empty)
// --cluster and --endpoints together are a usage error.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc::cli {

inline constexpr const char* kClusterEnv = "PCOMMIT_CLUSTER";

// The cluster options as given.
struct ClusterArgs {
  std::string file;       // --cluster
  std::string endpoints;  // --endpoints
  std::string protocol;   // --protocol (with --endpoints)
};

// Adds --cluster, --endpoints and --protocol to `desc`, stored into `a`.
void addClusterOptions(boost::program_options::options_description& desc, ClusterArgs& a);

// Parses the options of `cmd`; returns an exit code to stop with, or -1 to go on.
int parseClientArgs(const char* cmd, const Args& args,
                    boost::program_options::options_description& desc,
                    boost::program_options::positional_options_description& pos,
                    boost::program_options::variables_map& vm);

// A transaction id given as `what` (e.g. "TXID", "--txid"): the id, or nullopt after
// printing "pcommit CMD: WHAT 'TEXT': expected 32 hex digits" (the caller exits 64).
std::optional<TxnId> parseTxidArg(const char* cmd, const char* what, const std::string& text);

// The cluster of `cmd` from `a` or PCOMMIT_CLUSTER (above); an exit code to stop with
// (64: message printed; 2: --endpoints without --protocol and no node answered), or -1.
// needProtocol false: with --endpoints and no --protocol, no node is asked (the protocol
// stays paxos; `status` reads each node's own).
int loadCluster(const char* cmd, const ClusterArgs& a, runtime::ClusterConfig& out,
                bool needProtocol = true);

}  // namespace pc::cli
