// pcommit: one binary, one subcommand per file (see commands.h). To add a subcommand,
// write cli/NAME.cc with `int runNAME(const Args&)`, declare it in commands.h, list it in
// kCommands below and in CMakeLists.txt.
#include <signal.h>
#include <sys/resource.h>

#include <iostream>
#include <string_view>

#include "cli/cluster.h"
#include "cli/commands.h"
#include "pcommit_version.h"

namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(const pc::cli::Args& args);
};

constexpr Command kCommands[] = {
    {"serve", "run one node of a cluster file", pc::cli::runServe},
    {"cluster", "start, stop, check or restart a local cluster", pc::cli::runCluster},
    {"txn", "commit operations atomically across shards", pc::cli::runTxn},
    {"get", "read a key's committed value and version", pc::cli::runGet},
    {"outcome", "ask what became of a transaction", pc::cli::runOutcome},
    {"status", "ask every node of a cluster, on any host, how it is", pc::cli::runStatus},
    {"resolve", "settle an in-doubt 2PC transaction by hand (heuristic)", pc::cli::runResolve},
    {"demo", "a guided tour: commits, a coordinator crash, recovery", pc::cli::runDemo},
    {"bench", "measure throughput, latency and costs per protocol on local clusters",
     pc::cli::runBench},
    {"inspect", "dump a node's durable state (read-only, safe while it runs)", pc::cli::runInspect},
};

void usage(std::ostream& out) {
  out << "usage: pcommit COMMAND [OPTIONS]\n\ncommands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << "\n";
  }
  out << "\n'pcommit COMMAND --help' describes a command's options; 'pcommit --version'\n"
         "prints the version.\n";
}

// Every connection is a descriptor: a node with many clients, or under a flood of
// connections (issue 12), needs more than the usual soft limit of 1024. The hard limit is
// the administrator's choice; the soft one is raised to it (nodes log what they got).
void raiseOpenFilesLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rlimit want = rl;
  want.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &want) == 0 || rl.rlim_max != RLIM_INFINITY) return;
  want.rlim_cur = rlim_t{1} << 20;  // unlimited is refused for descriptors: the usual nr_open
  ::setrlimit(RLIMIT_NOFILE, &want);
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that goes away must show up as an error on its connection, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  raiseOpenFilesLimit();
  if (argc < 2) {
    usage(std::cerr);
    return pc::cli::kExitUsage;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return pc::cli::kExitOk;
  }
  // The version of the code this binary was built from: the string the libraries report
  // (pc::libraryVersion(), cmake/pcommit_version.*), for bug reports and scripts.
  if (name == "--version" || name == "version") {
    std::cout << pc::libraryVersion() << "\n";
    return pc::cli::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (c.name == name) return c.run(pc::cli::Args(argv + 2, argv + argc));
  }
  std::cerr << "pcommit: unknown command '" << name << "'\n";
  usage(std::cerr);
  return pc::cli::kExitUsage;
}
