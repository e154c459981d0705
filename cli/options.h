// Shared option parsing for the pcommit subcommands (Boost.Program_options).
#pragma once

#include <boost/program_options.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "runtime/log.h"

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

// --log-level and --log-format (runtime/log.h) for `serve`, and for `cluster start`, which
// hands them to its nodes as PCOMMIT_LOG_LEVEL / PCOMMIT_LOG_FORMAT.
inline void addLogOptions(boost::program_options::options_description& desc) {
  namespace po = boost::program_options;
  desc.add_options()("log-level", po::value<std::string>()->value_name("L"),
                     "error | warn | info | debug: the least severe lines written (default "
                     "$PCOMMIT_LOG_LEVEL, else info)")(
      "log-format", po::value<std::string>()->value_name("F"),
      "text | json: one JSON object a line with ts, level, node, msg (default "
      "$PCOMMIT_LOG_FORMAT, else text)");
}

// One log option: the flag, else the environment variable, else `out` as it is. False (a
// usage error naming the flag or the variable printed) if the value does not parse.
template <class T, class Parse>
bool pickLogOption(const std::string& name, const boost::program_options::variables_map& vm,
                   const char* option, const char* env, Parse parse, const char* expected, T& out) {
  std::string text, from;
  if (vm.count(option)) {
    text = vm[option].as<std::string>();
    from = std::string("--") + option;
  } else if (const char* v = std::getenv(env); v != nullptr && *v != '\0') {
    text = v;
    from = env;
  } else {
    return true;
  }
  auto parsed = parse(text);
  if (!parsed) {
    std::cerr << "pcommit " << name << ": " << from << " '" << text << "': expected " << expected
              << "\n";
    return false;
  }
  out = *parsed;
  return true;
}

// The log options of `vm`, else of the environment, else info and text. A bad value is a
// usage error naming the option or the variable (kExitUsage); nullopt: go on.
inline std::optional<int> resolveLogOptions(const std::string& name,
                                            const boost::program_options::variables_map& vm,
                                            runtime::LogLevel& level, runtime::LogFormat& format) {
  level = runtime::LogLevel::Info;
  format = runtime::LogFormat::Text;
  if (!pickLogOption(name, vm, "log-level", runtime::kLogLevelEnv, runtime::parseLogLevel,
                     "error, warn, info or debug", level) ||
      !pickLogOption(name, vm, "log-format", runtime::kLogFormatEnv, runtime::parseLogFormat,
                     "text or json", format)) {
    return kExitUsage;
  }
  return std::nullopt;
}

// `cluster start` and `cluster restart`: the nodes they spawn inherit this environment, so
// the log options reach every `serve` through PCOMMIT_LOG_LEVEL / PCOMMIT_LOG_FORMAT.
inline std::optional<int> passLogOptionsToNodes(const std::string& name,
                                                const boost::program_options::variables_map& vm) {
  runtime::LogLevel level{};
  runtime::LogFormat format{};
  if (auto rc = resolveLogOptions(name, vm, level, format)) return rc;
  ::setenv(runtime::kLogLevelEnv, runtime::toString(level), 1);
  ::setenv(runtime::kLogFormatEnv, runtime::toString(format), 1);
  return std::nullopt;
}

// "a,b,,c" -> {"a", "b", "c"}: the items of a comma-separated option, empty ones dropped.
inline std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace pc::cli
