// The `pcommit` subcommands (docs/DESIGN.md §4). Each lives in its own file and is listed in
// main.cc's command table. A subcommand gets its arguments without the program and
// command names, parses them with Boost.Program_options and returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace pc::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed (e.g. storage error)
inline constexpr int kExitUsage = 64;   // bad option or argument (EX_USAGE)
// `get`: the key is held by an in-doubt transaction that was not decided within the read's
// wait (EX_TEMPFAIL: try again later; runtime/lock_wait.h).
inline constexpr int kExitLockWait = 75;

using Args = std::vector<std::string>;

// pcommit inspect --data DIR [--json]   (cli/inspect.cc)
int runInspect(const Args& args);

// pcommit serve --config FILE --node ID   (cli/serve.cc)
int runServe(const Args& args);

// pcommit txn / get / outcome   (cli/txn.cc, cli/get.cc, cli/outcome.cc)
int runTxn(const Args& args);
int runGet(const Args& args);
int runOutcome(const Args& args);

// pcommit status   (cli/status.cc): every node of a cluster, over the network
int runStatus(const Args& args);
// pcommit resolve: an operator's heuristic decision, 2PC only   (cli/resolve.cc)
int runResolve(const Args& args);

// pcommit demo   (cli/demo.cc)
int runDemo(const Args& args);

// pcommit bench   (cli/bench.cc)
int runBench(const Args& args);

}  // namespace pc::cli
