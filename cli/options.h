// Shared option parsing for the pcommit subcommands (Boost.Program_options).
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "cli/commands.h"

namespace pc::cli {

// Parses `args` for subcommand `name`. --help prints `desc` and yields kExitOk; a usage
// error prints "pcommit NAME: WHAT" with a pointer to --help and yields kExitUsage;
// nullopt means: go on with `vm` filled.
inline std::optional<int> parseCommand(
    const std::string& name, const Args& args,
    const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional,
    boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "pcommit " << name << ": " << e.what() << "\ntry 'pcommit " << name
              << " --help'\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  return std::nullopt;
}

}  // namespace pc::cli
