// pcommit cluster start: options into local_cluster::ClusterStartOptions, checked here so
// a usage error names the option; the cluster itself is runtime/local_cluster/.
#include <iostream>
#include <sstream>

#include "cli/cluster.h"
#include "cli/options.h"
#include "runtime/local_cluster/local_cluster.h"

namespace pc::cli {

namespace {

namespace po = boost::program_options;
using local_cluster::ClusterStartOptions;

const std::string kSub = "start";

// The option values that are text or optional before they become ClusterStartOptions.
struct StartText {
  std::string protocol = "paxos";
  std::string fanout = "all";
  std::string colocate = "none";
  std::string transport = "tcp";
  int portBase = 0;
  int metricsPortBase = 0;
};

po::options_description startOptions(ClusterStartOptions& o, StartText& t) {
  po::options_description desc(
      "usage: pcommit cluster start --dir DIR [options]\n\n"
      "Writes DIR/cluster.conf, starts every node as its own detached process (pid in\n"
      "DIR/ID.pid, log in DIR/ID.log, data in DIR/ID/) and returns once all answer.\n"
      "Node ids: coordinators c1.., participants p1.., acceptors a1... A stopped cluster\n"
      "in DIR is started again with its data if the options describe the same cluster.\n\n"
      "Co-located roles (--colocate acceptors|all, the deployment Gray & Lamport's cost\n"
      "table assumes): acceptor a<i> -- and with 'all' coordinator c<i> too -- runs inside\n"
      "participant p<i>'s process (`serve --node p<i> --node a<i> ...`); nodes without a\n"
      "partner of that number run alone. Each keeps its own port, data directory and\n"
      "DIR/ID.pid (the same pid for one process); the process logs to DIR/p<i>.log, and\n"
      "DIR/a<i>.log, DIR/c<i>.log are symbolic links to it. Messages between them are\n"
      "handed over in-process, after the sender's records are durable. A crash or kill\n"
      "takes the whole process down; `cluster restart` of any of its nodes starts the\n"
      "whole process again.\n\n"
      "Mutual TLS (--tls): makes a CA and a certificate per node, one for clients and one\n"
      "for admins under DIR/tls/ (keys mode 0600; DIR/tls/ca.key is the CA's key: keep it\n"
      "off the nodes in a real deployment) and writes tls-ca, tls-cert, tls-key into the\n"
      "cluster file; every connection is then mutual TLS and each certificate may do only\n"
      "what its kind allows (README \"Security\"). Off by default: a local demo on a\n"
      "trusted machine needs none.\n\n"
      "options");
  desc.add_options()("help,h", "print this help")("dir",
                                                  po::value<std::string>(&o.dir)->value_name("DIR"),
                                                  "the cluster's directory (created)")(
      "participants", po::value<int>(&o.participants)->value_name("N")->default_value(3),
      "participants (shards)")("acceptors", po::value<int>()->value_name("N"),
                               "acceptors: 2F+1 (default 3)")(
      "coordinators", po::value<int>(&o.coordinators)->value_name("N")->default_value(2),
      "coordinators")("protocol",
                      po::value<std::string>(&t.protocol)->value_name("P")->default_value("paxos"),
                      "paxos | paxos-classic | paxos-direct | 2pc | 2pc-replicated")(
      "f", po::value<int>()->value_name("F"), "tolerated acceptor failures (default 1)")(
      "port-base", po::value<int>(&t.portBase)->value_name("P"),
      "first port; nodes take P, P+1, ... (default: the first free range from 7100)")(
      "metrics-port-base", po::value<int>(&t.metricsPortBase)->value_name("P"),
      "serve Prometheus metrics: nodes take 127.0.0.1:P, P+1, ... (GET /metrics)")(
      "tick-ms", po::value<uint32_t>(&o.tickMs)->value_name("T")->default_value(5),
      "one logical tick of the core, in ms")(
      "recovery-timeout-ms",
      po::value<uint32_t>(&o.recoveryTimeoutMs)->value_name("MS")->default_value(1000),
      "prepared with no outcome this long -> recovery (leader timeout: 1.5x)")(
      "fanout", po::value<std::string>(&t.fanout)->value_name("all|quorum")->default_value("all"),
      "a participant's vote goes to all acceptors, or to F+1 first")(
      "colocate",
      po::value<std::string>(&t.colocate)->value_name("none|acceptors|all")->default_value("none"),
      "run a<i> (acceptors), or a<i> and c<i> (all), inside p<i>'s process")(
      "transport",
      po::value<std::string>(&t.transport)->value_name("tcp|unix")->default_value("tcp"),
      "tcp: nodes listen on 127.0.0.1 ports; unix: on Unix sockets DIR/ID.sock (same host)")(
      "tls", po::bool_switch(&o.tls),
      "mutual TLS between every process: certificates under DIR/tls/ (see above)")(
      "gc-cap", po::value<uint32_t>(&o.gcCap)->value_name("N")->default_value(100000),
      "collected transactions each node remembers before a low-water mark replaces them")(
      "external", po::value<std::vector<std::string>>()->value_name("NODE,...")->composing(),
      "nodes left to you (e.g. an embedded participant): in the cluster file, not started, "
      "not waited for; run them with --config DIR/cluster.conf --node NODE. Remembered in "
      "DIR/external for later starts. `cluster stop` stops one only if DIR/NODE.pid names a "
      "process whose command line has --config DIR/cluster.conf --node NODE (the absolute "
      "path); `cluster restart` refuses them; `cluster status` shows them");
  addLogOptions(desc);  // passed to the nodes as PCOMMIT_LOG_LEVEL / PCOMMIT_LOG_FORMAT
  return desc;
}

// --external NODE,...: node ids (whether the cluster has them is checked at start).
std::optional<int> parseExternal(const po::variables_map& vm, ClusterStartOptions& o) {
  if (!vm.count("external")) return std::nullopt;
  for (const auto& list : vm["external"].as<std::vector<std::string>>()) {
    std::istringstream names(list);
    for (std::string name; std::getline(names, name, ',');) {
      if (name.empty()) continue;
      auto role = runtime::roleForName(name);
      if (!role) return usageError(std::cerr, kSub, "--external " + name + ": not a node id");
      o.external.push_back(name);
    }
  }
  return std::nullopt;
}

// --protocol, --fanout, --colocate, --transport.
std::optional<int> parseNames(const StartText& t, ClusterStartOptions& o) {
  const std::string& protocol = t.protocol;
  const std::string& fanout = t.fanout;
  const std::string& colocate = t.colocate;
  auto p = parseProtocol(protocol);
  if (!p) {
    return usageError(std::cerr, kSub,
                      "--protocol " + protocol +
                          ": expected paxos, paxos-classic, paxos-direct, 2pc or 2pc-replicated");
  }
  o.protocol = *p;
  auto fo = parseFanOut(fanout);
  if (!fo) return usageError(std::cerr, kSub, "--fanout " + fanout + ": expected all or quorum");
  o.fanOut = *fo;
  auto co = runtime::parseColocate(colocate);
  if (!co) {
    return usageError(std::cerr, kSub,
                      "--colocate " + colocate + ": expected none, acceptors or all");
  }
  o.colocate = *co;
  if (t.transport != "tcp" && t.transport != "unix") {
    return usageError(std::cerr, kSub, "--transport " + t.transport + ": expected tcp or unix");
  }
  o.unixSockets = t.transport == "unix";
  return std::nullopt;
}

// --participants, --coordinators, --f, --acceptors.
std::optional<int> checkCounts(const po::variables_map& vm, const StartText& t,
                               ClusterStartOptions& o) {
  using local_cluster::kMaxCoordinators;
  using local_cluster::kMaxParticipants;
  const std::string& protocol = t.protocol;
  if (o.participants < 1 || o.participants > kMaxParticipants) {
    return usageError(std::cerr, kSub,
                      "--participants " + std::to_string(o.participants) + ": expected 1.." +
                          std::to_string(kMaxParticipants));
  }
  if (o.coordinators < 0 || o.coordinators > kMaxCoordinators) {
    return usageError(std::cerr, kSub,
                      "--coordinators " + std::to_string(o.coordinators) + ": expected 0.." +
                          std::to_string(kMaxCoordinators));
  }
  if (o.coordinators == 0 && o.protocol != Protocol::PaxosDirect) {
    return usageError(std::cerr, kSub,
                      "--coordinators 0: protocol " + protocol +
                          " needs at least one coordinator (only paxos-direct runs without)");
  }
  const int maxAcceptors = 2 * runtime::kMaxF + 1;
  if (vm.count("f")) {
    o.f = vm["f"].as<int>();
    if (o.f < 0 || o.f > runtime::kMaxF) {
      return usageError(
          std::cerr, kSub,
          "--f " + std::to_string(o.f) + ": expected 0.." + std::to_string(runtime::kMaxF));
    }
  }
  if (vm.count("acceptors")) {
    o.acceptors = vm["acceptors"].as<int>();
    if (vm.count("f")) {
      if (o.acceptors != 2 * o.f + 1) {
        return usageError(std::cerr, kSub,
                          "--acceptors " + std::to_string(o.acceptors) + " must equal 2F+1 = " +
                              std::to_string(2 * o.f + 1) + " for --f " + std::to_string(o.f));
      }
    } else {
      if (o.acceptors < 1 || o.acceptors > maxAcceptors || o.acceptors % 2 == 0) {
        return usageError(std::cerr, kSub,
                          "--acceptors " + std::to_string(o.acceptors) +
                              ": expected an odd number 2F+1 in 1.." +
                              std::to_string(maxAcceptors));
      }
      o.f = (o.acceptors - 1) / 2;
    }
  } else {
    o.acceptors = 2 * o.f + 1;  // --f alone (or neither: F = 1, 3 acceptors)
  }
  return std::nullopt;
}

// --tick-ms, --recovery-timeout-ms, --gc-cap, --port-base, --metrics-port-base.
std::optional<int> checkTimings(const po::variables_map& vm, const StartText& t,
                                ClusterStartOptions& o) {
  const int portBase = t.portBase;
  if (o.tickMs < 1 || o.tickMs > runtime::kMaxTickMs) {
    return usageError(std::cerr, kSub,
                      "--tick-ms " + std::to_string(o.tickMs) + ": expected 1.." +
                          std::to_string(runtime::kMaxTickMs));
  }
  if (o.recoveryTimeoutMs < o.tickMs || o.recoveryTimeoutMs > runtime::kMaxTimeoutMs * 2 / 3) {
    return usageError(std::cerr, kSub,
                      "--recovery-timeout-ms " + std::to_string(o.recoveryTimeoutMs) +
                          ": expected " + std::to_string(o.tickMs) + " (--tick-ms).." +
                          std::to_string(runtime::kMaxTimeoutMs * 2 / 3));
  }
  o.leaderTimeoutMs = o.recoveryTimeoutMs + o.recoveryTimeoutMs / 2;
  if (o.gcCap < 1 || o.gcCap > runtime::kMaxGcCap) {
    return usageError(std::cerr, kSub,
                      "--gc-cap " + std::to_string(o.gcCap) + ": expected 1.." +
                          std::to_string(runtime::kMaxGcCap));
  }
  if (vm.count("port-base") && o.unixSockets) {
    return usageError(std::cerr, kSub, "--port-base: not with --transport unix (no ports)");
  }
  if (vm.count("port-base")) {
    const int nodes = o.participants + o.acceptors + o.coordinators;
    if (portBase < 1 || portBase + nodes - 1 > 65535) {
      return usageError(std::cerr, kSub,
                        "--port-base " + std::to_string(portBase) + ": expected 1.." +
                            std::to_string(65535 - nodes + 1) + " (" + std::to_string(nodes) +
                            " nodes need consecutive ports)");
    }
    o.portBase = static_cast<uint16_t>(portBase);
  }
  if (vm.count("metrics-port-base")) {
    const int nodes = o.participants + o.acceptors + o.coordinators;
    const int base = t.metricsPortBase;
    if (base < 1 || base + nodes - 1 > 65535) {
      return usageError(std::cerr, kSub,
                        "--metrics-port-base " + std::to_string(base) + ": expected 1.." +
                            std::to_string(65535 - nodes + 1) + " (" + std::to_string(nodes) +
                            " nodes need consecutive ports)");
    }
    o.metricsPortBase = static_cast<uint16_t>(base);
  }
  return std::nullopt;
}

}  // namespace

int runClusterStart(const Args& args) {
  ClusterStartOptions o;
  StartText t;
  po::options_description desc = startOptions(o, t);
  po::variables_map vm;
  if (auto done = parseClusterOptions(kSub, desc, nullptr, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, kSub, "the option '--dir' is required");
  if (auto rc = parseExternal(vm, o)) return *rc;
  if (auto rc = parseNames(t, o)) return *rc;
  if (auto rc = checkCounts(vm, t, o)) return *rc;
  if (auto rc = checkTimings(vm, t, o)) return *rc;
  if (auto rc = passLogOptionsToNodes("cluster start", vm)) return *rc;
  return local_cluster::startCluster(o, std::cout, std::cerr);
}

}  // namespace pc::cli
