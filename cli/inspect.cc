// pcommit inspect --data DIR [--json]: a node's durable state, opened read-only (no pid
// lock, no writes), so it is safe while the node runs. Exit 0; 1 on a storage error
// (missing directory, not a pcommit directory, unknown format, corruption: the message
// names the path and the cause); 64 on a usage error.
#include "storage/inspect.h"

#include <boost/program_options.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "storage/env.h"

namespace po = boost::program_options;

namespace pc::cli {

int runInspect(const Args& args) {
  po::options_description desc(
      "usage: pcommit inspect --data DIR [--json]\n\n"
      "Dumps a node's durable state (acceptor, participant, KV data, locks, leader round,\n"
      "2PC decisions). Opens the data directory read-only: safe while the node runs.\n\n"
      "options");
  std::string dir;
  desc.add_options()("help,h", "print this help")(
      "data", po::value<std::string>(&dir)->value_name("DIR"), "the node's data directory")(
      "json", "print one JSON object instead of text");
  po::variables_map vm;
  if (auto done = parseCommand("inspect", args, desc, nullptr, vm)) return *done;
  if (!vm.count("data")) {
    std::cerr << "pcommit inspect: the option '--data' is required\n"
              << "try 'pcommit inspect --help'\n";
    return kExitUsage;
  }
  try {
    storage::Options opts;
    opts.readOnly = true;
    storage::Env env(dir, opts);
    if (vm.count("json")) {
      storage::inspectJson(env, std::cout);
    } else {
      storage::inspectText(env, std::cout);
    }
  } catch (const storage::StorageError& e) {
    std::cerr << "pcommit inspect: " << e.what() << "\n";
    return kExitFailure;
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitFailure;
}

}  // namespace pc::cli
