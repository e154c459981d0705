// pcommit cluster start|stop|status|restart: option parsing and printing. The cluster
// itself -- the directory layout, the node command line, processes, pid files, ports --
// is runtime/local_cluster/local_cluster.h. start: cli/cluster_start.cc; status:
// cli/cluster_status.cc; stop, restart and the dispatch: here.
//
// Exit codes: 0 success; 1 the command ran and failed (a node did not come up, a cluster
// is already running, a node is unhealthy for `status`); 64 a usage error (the message
// names the option) or an unreadable cluster file (the message names the line).
#include "cli/cluster.h"

#include <iostream>

#include "cli/options.h"
#include "runtime/local_cluster/local_cluster.h"

namespace pc::cli {

namespace po = boost::program_options;

int usageError(std::ostream& err, const std::string& sub, const std::string& msg) {
  err << "pcommit cluster " << sub << ": " << msg << "\n"
      << "try 'pcommit cluster " << sub << " --help'\n";
  return kExitUsage;
}

// Parses args into vm; returns an exit code when the command is done (help or error).
// Positional arguments beyond `positional` are refused by name.
std::optional<int> parseClusterOptions(const std::string& sub, const po::options_description& desc,
                                       const po::positional_options_description* positional,
                                       const Args& args, po::variables_map& vm) {
  po::options_description all;
  all.add(desc);
  all.add_options()("unexpected-argument", po::value<std::vector<std::string>>());
  po::positional_options_description pos;
  if (positional) pos = *positional;
  pos.add("unexpected-argument", -1);
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usageError(std::cerr, sub, e.what());
  }
  if (vm.count("unexpected-argument")) {
    return usageError(std::cerr, sub,
                      "unexpected argument '" +
                          vm["unexpected-argument"].as<std::vector<std::string>>().front() + "'");
  }
  return std::nullopt;
}

namespace {

int runStop(const Args& args) {
  po::options_description desc(
      "usage: pcommit cluster stop --dir DIR\n\n"
      "Stops every node of the cluster in DIR: SIGTERM, then SIGKILL to any node still\n"
      "running 5 s later. Only signals processes that are this cluster's nodes. Removes\n"
      "the pid files; keeps logs and data.\n\n"
      "options");
  std::string dir;
  desc.add_options()("help,h", "print this help")(
      "dir", po::value<std::string>(&dir)->value_name("DIR"), "the cluster's directory");
  po::variables_map vm;
  if (auto done = parseClusterOptions("stop", desc, nullptr, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "stop", "the option '--dir' is required");
  return local_cluster::stopCluster(dir, std::cout, std::cerr);
}

int runRestart(const Args& args) {
  po::options_description desc(
      "usage: pcommit cluster restart --dir DIR NODE [--rejoin-empty]\n\n"
      "Starts NODE (c1, p2, a3, ...) of the cluster in DIR again, with its data, after it\n"
      "was stopped or killed; returns once it answers. Refuses if NODE is running.\n"
      "A co-located node (cluster start --colocate) shares its process: its whole process\n"
      "is started again, every node of it, and the output names them.\n"
      "A participant whose data directory was lost does not start (it must not vote on\n"
      "transactions it cannot know) unless --rejoin-empty is given (see `pcommit serve\n"
      "--help` and README \"Cluster identity\").\n"
      "--log-level / --log-format as for cluster start (they are not remembered: give\n"
      "them again, or set PCOMMIT_LOG_LEVEL / PCOMMIT_LOG_FORMAT).\n\n"
      "options");
  std::string dir;
  std::string node;
  desc.add_options()("help,h", "print this help")(
      "dir", po::value<std::string>(&dir)->value_name("DIR"), "the cluster's directory")(
      "node", po::value<std::string>(&node)->value_name("NODE"), "the node (also positional)")(
      "rejoin-empty",
      "a participant whose data was lost starts empty, answering 'forgotten' for every\n"
      "transaction begun before now");
  addLogOptions(desc);
  po::positional_options_description positional;
  positional.add("node", 1);
  po::variables_map vm;
  if (auto done = parseClusterOptions("restart", desc, &positional, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "restart", "the option '--dir' is required");
  if (!vm.count("node")) return usageError(std::cerr, "restart", "which node? (e.g. p1)");
  if (auto rc = passLogOptionsToNodes("cluster restart", vm)) return *rc;
  return local_cluster::restartNode(dir, node, std::cout, std::cerr, vm.count("rejoin-empty") != 0);
}

void clusterUsage(std::ostream& out) {
  out << "usage: pcommit cluster SUBCOMMAND [OPTIONS]\n\n"
         "subcommands:\n"
         "  start     write DIR/cluster.conf and start every node (one process each, or\n"
         "            co-located roles with --colocate)\n"
         "  stop      stop every node of the cluster in DIR\n"
         "  status    nodes, pids, health, in-doubt transactions (--json)\n"
         "  restart   start one stopped or killed node again, with its data\n\n"
         "'pcommit cluster SUBCOMMAND --help' describes a subcommand's options.\n";
}

}  // namespace

int runCluster(const Args& args) {
  if (args.empty()) {
    clusterUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& sub = args.front();
  const Args rest(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") {
    clusterUsage(std::cout);
    return kExitOk;
  }
  if (sub == "start") return runClusterStart(rest);
  if (sub == "stop") return runStop(rest);
  if (sub == "status") return runClusterStatus(rest);
  if (sub == "restart") return runRestart(rest);
  std::cerr << "pcommit cluster: unknown subcommand '" << sub << "'\n";
  clusterUsage(std::cerr);
  return kExitUsage;
}

}  // namespace pc::cli
