// pcommit cluster start|stop|status|restart (docs/DESIGN.md §4): the command's side -- options
// and output. What it drives is runtime/local_cluster/local_cluster.h (directory layout,
// node processes, exit codes).
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <optional>
#include <string>

#include "cli/commands.h"

namespace pc::cli {

// pcommit cluster SUBCOMMAND ...: dispatches to the subcommands below.
int runCluster(const Args& args);

int runClusterStart(const Args& args);   // cli/cluster_start.cc
int runClusterStatus(const Args& args);  // cli/cluster_status.cc

// "pcommit cluster SUB: MSG" and a pointer to --help on `err`; returns kExitUsage.
int usageError(std::ostream& err, const std::string& sub, const std::string& msg);

// Parses `args` into `vm`; returns an exit code when the command is done (--help or a
// usage error). Positional arguments beyond `positional` are refused by name.
std::optional<int> parseClusterOptions(
    const std::string& sub, const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional, const Args& args,
    boost::program_options::variables_map& vm);

}  // namespace pc::cli
