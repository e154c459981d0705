// What pcommit txn, get and outcome share (cli/txn.cc, cli/get.cc, cli/outcome.cc): the
// client side of the command contract (docs/DESIGN.md §4). Usage and configuration errors exit
// 64 with a message naming the bad option or line.
#pragma once

#include <boost/program_options.hpp>

#include "cli/commands.h"
#include "runtime/cluster_config.h"

namespace pc::cli {

// Parses the options of `cmd` (which has a required --cluster); returns an exit code to
// stop with, or -1 to go on.
int parseClientArgs(const char* cmd, const Args& args,
                    boost::program_options::options_description& desc,
                    boost::program_options::positional_options_description& pos,
                    boost::program_options::variables_map& vm);

// Loads the cluster file for `cmd`; an exit code to stop with (64, message printed), or -1.
int loadCluster(const char* cmd, const std::string& path, runtime::ClusterConfig& out);

}  // namespace pc::cli
