// pcommit inspect --data DIR [--json]: a node's durable state, opened read-only (no pid
// lock, no writes), so it is safe while the node runs. Exit 0; 1 on a storage error
// (missing directory, not a pcommit directory, unknown format, corruption: the message
// names the path and the cause); 64 on a usage error.
// pcommit inspect --verify --data DIR [--external-engine]: checks every record (storage/
// verify.h) and prints each problem; exit 0 if clean, 1 if not (or on a storage error).
#include "storage/inspect.h"

#include <boost/program_options.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "storage/env.h"
#include "storage/verify.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

// Prints every problem, then a summary line; exit 0 if clean, 1 if not.
int printVerify(const storage::Env& env) {
  storage::VerifyReport report = storage::verify(env);
  for (const auto& p : report.problems) {
    std::cout << "problem: " << env.dataPath() << ": database '" << p.database << "' key " << p.key
              << ": " << p.reason << "\n";
  }
  std::cout << env.dir() << ": " << report.entries << " entries checked, " << report.problems.size()
            << (report.problems.size() == 1 ? " problem" : " problems") << "\n";
  return report.clean() ? kExitOk : kExitFailure;
}

}  // namespace

int runInspect(const Args& args) {
  po::options_description desc(
      "usage: pcommit inspect --data DIR [--json]\n"
      "       pcommit inspect --verify --data DIR [--external-engine]\n\n"
      "Dumps a node's durable state (acceptor, participant, KV data, locks, leader round,\n"
      "2PC decisions). Opens the data directory read-only: safe while the node runs.\n"
      "--verify checks every record instead (decodes, makes sense, locks match prepared\n"
      "records) and prints each problem: exit 0 if clean, 1 if not.\n\n"
      "options");
  std::string dir;
  desc.add_options()("help,h", "print this help")(
      "data", po::value<std::string>(&dir)->value_name("DIR"), "the node's data directory")(
      "json", "print one JSON object instead of text")(
      "verify", "check every record; print problems; exit 1 if any")(
      "external-engine",
      "with --verify: the participant's data is in an external engine (payloads are opaque)");
  po::variables_map vm;
  if (auto done = parseCommand("inspect", args, desc, nullptr, vm)) return *done;
  if (!vm.count("data")) {
    std::cerr << "pcommit inspect: the option '--data' is required\n"
              << "try 'pcommit inspect --help'\n";
    return kExitUsage;
  }
  const bool verify = vm.count("verify") != 0;
  if ((verify && vm.count("json")) || (!verify && vm.count("external-engine"))) {
    std::cerr << "pcommit inspect: "
              << (verify ? "--verify and --json cannot be combined"
                         : "--external-engine only applies to --verify")
              << "\ntry 'pcommit inspect --help'\n";
    return kExitUsage;
  }
  try {
    storage::Options opts;
    opts.readOnly = true;
    opts.kvData = vm.count("external-engine") == 0;
    storage::Env env(dir, opts);
    if (verify) {
      int rc = printVerify(env);
      std::cout.flush();
      return std::cout ? rc : kExitFailure;
    }
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
