// The options pcommit txn, get and outcome share (client_options.h).
#include "cli/client_options.h"

#include <iostream>

#include "cli/options.h"
#include "runtime/tls_certs.h"

namespace po = boost::program_options;

namespace pc::cli {

int parseClientArgs(const char* cmd, const Args& args, po::options_description& desc,
                    po::positional_options_description& pos, po::variables_map& vm) {
  if (auto done = parseCommand(cmd, args, desc, &pos, vm)) return *done;
  if (!vm.count("cluster")) {
    std::cerr << "pcommit " << cmd << ": the option '--cluster' is required\ntry 'pcommit " << cmd
              << " --help'\n";
    return kExitUsage;
  }
  return -1;
}

int loadCluster(const char* cmd, const std::string& path, runtime::ClusterConfig& out) {
  try {
    out = runtime::loadClusterFile(path);
    // A client with half a TLS configuration, or files it cannot use, stops here (64),
    // not at its first connection.
    if (out.tlsEnabled()) (void)runtime::loadClientTls(out);
    return -1;
  } catch (const std::exception& e) {
    std::cerr << "pcommit " << cmd << ": " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace pc::cli
