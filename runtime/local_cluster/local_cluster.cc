// The local-cluster operations (local_cluster.h): start, stop, restart, status.
#include "runtime/local_cluster/local_cluster.h"

#include <cstdlib>
#include <iostream>

#include "paxos_commit/assert.h"
#include "runtime/local_cluster/internal.h"
#include "runtime/tls_certs.h"
#include "storage/env.h"

namespace pc::local_cluster {

using namespace detail;

namespace {

// The config `cluster start` builds from its options; ports from `portBase` on, in node
// order (c*, p*, a*), or a Unix socket each (unixSockets).
runtime::ClusterConfig buildConfig(const ClusterStartOptions& o, const ClusterPaths& paths,
                                   uint16_t portBase) {
  runtime::ClusterConfig c;
  c.path = paths.conf.string();
  c.protocol = o.protocol;
  c.f = o.f;
  c.fanOut = o.fanOut;
  c.tickMs = o.tickMs;
  c.recoveryTimeoutMs = o.recoveryTimeoutMs;
  c.leaderTimeoutMs = o.leaderTimeoutMs;
  c.gcCap = o.gcCap;
  c.colocate = o.colocate;
  c.netDelayUs = o.netDelayUs;
  uint16_t port = portBase;
  auto add = [&](char prefix, int count) {
    for (int i = 1; i <= count; ++i) {
      runtime::NodeInfo n;
      n.name = prefix + std::to_string(i);
      n.id = *runtime::idForName(n.name);
      n.role = *runtime::roleForName(n.name);
      if (o.unixSockets) {  // DIR/ID.sock, written relative to the file's folder (DIR)
        n.unixPath = n.name + ".sock";
        n.host = std::string(runtime::kUnixPrefix) + c.resolvePath(n.unixPath);
        n.port = 0;
      } else {
        n.host = "127.0.0.1";
        n.port = port++;
      }
      n.dataDir = n.name;
      if (o.metricsPortBase) {  // --metrics-port-base: the same order, from its own base
        n.metricsHost = "127.0.0.1";
        n.metricsPort = static_cast<uint16_t>(*o.metricsPortBase + c.nodes.size());
      }
      c.nodes.push_back(n);
    }
  };
  add('c', o.coordinators);
  add('p', o.participants);
  add('a', o.acceptors);
  return c;
}

// Why an existing (stopped) cluster differs from what the options ask for; "" if the same.
std::string shapeDifference(const runtime::ClusterConfig& old, const runtime::ClusterConfig& want,
                            bool comparePorts) {
  auto differ = [](const char* what, const std::string& a, const std::string& b) {
    return std::string(what) + " " + a + " there, " + b + " asked for";
  };
  if (old.protocol != want.protocol) {
    return differ("protocol", toString(old.protocol), toString(want.protocol));
  }
  if (old.f != want.f) return differ("f", std::to_string(old.f), std::to_string(want.f));
  if (old.fanOut != want.fanOut)
    return differ("fanout", toString(old.fanOut), toString(want.fanOut));
  if (old.colocate != want.colocate) {
    return differ("colocate", runtime::toString(old.colocate), runtime::toString(want.colocate));
  }
  if (old.tickMs != want.tickMs) {
    return differ("tick-ms", std::to_string(old.tickMs), std::to_string(want.tickMs));
  }
  if (old.recoveryTimeoutMs != want.recoveryTimeoutMs) {
    return differ("recovery-timeout-ms", std::to_string(old.recoveryTimeoutMs),
                  std::to_string(want.recoveryTimeoutMs));
  }
  for (runtime::Role r :
       {runtime::Role::Coordinator, runtime::Role::Participant, runtime::Role::Acceptor}) {
    size_t a = old.withRole(r).size();
    size_t b = want.withRole(r).size();
    if (a != b) {
      return differ((std::string(toString(r)) + "s:").c_str(), std::to_string(a),
                    std::to_string(b));
    }
  }
  if (old.nodes.size() != want.nodes.size()) return "different nodes";
  auto transportOf = [](const runtime::ClusterConfig& c) {
    return std::string(c.nodes.front().isUnix() ? "unix" : "tcp");
  };
  if (transportOf(old) != transportOf(want)) {
    return differ("transport", transportOf(old), transportOf(want));
  }
  for (size_t i = 0; i < old.nodes.size(); ++i) {
    if (old.nodes[i].name != want.nodes[i].name) return "different node names";
    if (comparePorts && old.nodes[i].port != want.nodes[i].port) {
      return differ("ports from", std::to_string(old.nodes.front().port),
                    std::to_string(want.nodes.front().port));
    }
  }
  return "";
}

// A status row from a node's answer alone: healthy (answered as itself), why not, and the
// answer with the pid it reported.
NodeStatusRow rowOf(const runtime::NodeInfo* node, const NodeReport& report) {
  NodeStatusRow r;
  r.node = node;
  r.healthy = healthy(report, *node, r.error);
  if (r.healthy) {
    r.status = report.status;
    r.pid = static_cast<pid_t>(report.status.pid);
  }
  return r;
}

// pid and alive of a status row from the node's pid file and its answer; why it is not
// healthy, prefixed with what its pid file says.
void describeProcess(const ClusterPaths& paths, const NodeReport& report, NodeStatusRow& r) {
  NodeProcess p = processOf(paths, r.node->name);
  if (p.state == PidState::Running) {
    r.pid = p.pid;
    r.alive = true;
  } else if (r.healthy) {
    // Started by other means (no pid file from us): trust its own answer.
    r.pid = static_cast<pid_t>(report.status.pid);
    r.alive = processExists(*r.pid);
  } else if (p.state == PidState::Gone) {
    r.pid = p.pid;
    r.error = "process " + std::to_string(p.pid) + " is gone; " + r.error;
  } else if (p.state == PidState::None) {
    r.error =
        (r.external ? "external, not running here; " : "not running (no pid file); ") + r.error;
  } else {
    r.error = "pid file names pid " + std::to_string(p.pid) + ", not this node; " + r.error;
  }
}

}  // namespace

namespace {

// --external names must be nodes of the cluster asked for.
bool checkExternalNames(const ClusterStartOptions& o, std::ostream& err) {
  for (const auto& name : o.external) {
    const int number = std::atoi(name.c_str() + 1);
    const char prefix = name[0];
    const int count = prefix == 'c' ? o.coordinators : prefix == 'p' ? o.participants : o.acceptors;
    if (number < 1 || number > count) {
      err << "pcommit cluster start: --external " << name << ": no such node in this cluster\n";
      return false;
    }
  }
  return true;
}

// An existing cluster in DIR: refuse if any of our nodes runs, or if it is not the cluster
// the options describe. kOk to start it again with its data.
int checkExisting(const ClusterStartOptions& o, const ClusterPaths& paths,
                  const runtime::ClusterConfig& existing, std::ostream& out, std::ostream& err) {
  std::string running;
  const std::set<std::string> stored = readExternal(paths);
  for (const auto& n : existing.nodes) {
    if (stored.count(n.name) != 0) continue;  // the user's to run, whenever
    NodeProcess p = processOf(paths, n.name);
    if (p.state == PidState::Running) {
      running += (running.empty() ? "" : ", ") + n.name + " pid " + std::to_string(p.pid);
    }
  }
  if (!running.empty()) {
    err << "pcommit cluster start: " << paths.dir.string() << " already holds a running cluster ("
        << running << ")\n"
        << "  stop it first: pcommit cluster stop --dir " << o.dir << "\n";
    return kFailed;
  }
  runtime::ClusterConfig want =
      buildConfig(o, paths, o.portBase.value_or(existing.nodes.front().port));
  std::string diff = shapeDifference(existing, want, o.portBase.has_value());
  if (diff.empty() && existing.tlsEnabled() != o.tls) {
    diff = std::string("TLS ") + (existing.tlsEnabled() ? "on" : "off") + " there, " +
           (o.tls ? "on" : "off") + " asked for";
  }
  if (!diff.empty()) {
    err << "pcommit cluster start: " << paths.dir.string()
        << " holds a stopped cluster that differs (" << diff << ")\n"
        << "  start it with the same options, restart single nodes with 'pcommit cluster "
           "restart', or use a new --dir\n";
    return kFailed;
  }
  out << "pcommit cluster start: " << paths.dir.string()
      << " holds this cluster, stopped: starting it again with its data\n";
  return kOk;
}

// No cluster file, so any node data here belongs to something else: do not adopt it.
bool checkNoStrayData(const ClusterStartOptions& o, const ClusterPaths& paths, std::ostream& err) {
  std::error_code ec;
  for (char prefix : {'c', 'p', 'a'}) {
    int count = prefix == 'c' ? o.coordinators : prefix == 'p' ? o.participants : o.acceptors;
    for (int i = 1; i <= count; ++i) {
      fs::path data = paths.dir / (prefix + std::to_string(i));
      if (fs::exists(data) && !fs::is_empty(data, ec)) {
        err << "pcommit cluster start: " << data.string() << " already holds data but there is no "
            << paths.conf.string() << "; use a new --dir or remove it\n";
        return false;
      }
    }
  }
  return true;
}

// The ports of a cluster started again must be free (its external nodes may run already).
bool checkPortsFree(const runtime::ClusterConfig& config, const std::set<std::string>& external,
                    std::ostream& err) {
  for (const auto& n : config.nodes) {
    if (external.count(n.name) != 0) continue;  // may be running already: the user's
    if (n.isUnix()) continue;                   // serve checks its socket file (rpc/unix_socket.h)
    if (!portFree(n.port)) {
      err << "pcommit cluster start: port " << n.port << " (" << n.name
          << ") on 127.0.0.1 is in use by another process\n";
      return false;
    }
  }
  return true;
}

// The first port of a new cluster: --port-base if its range is free, else the first free
// range from 7100. nullopt (message on `err`) if none.
std::optional<uint16_t> choosePortBase(const ClusterStartOptions& o, int nodeCount,
                                       std::ostream& err) {
  if (!o.portBase) {
    auto found = findFreePorts(kDefaultPortBase, nodeCount);
    if (!found) {
      err << "pcommit cluster start: no " << nodeCount << " consecutive free ports from "
          << kDefaultPortBase << " on 127.0.0.1\n";
    }
    return found;
  }
  const uint16_t base = *o.portBase;
  for (int i = 0; i < nodeCount; ++i) {
    auto port = static_cast<uint16_t>(base + i);
    if (!portFree(port)) {
      err << "pcommit cluster start: port " << port << " on 127.0.0.1 is in use (ports " << base
          << ".." << base + nodeCount - 1
          << " are needed); choose another --port-base or leave it out\n";
      return std::nullopt;
    }
  }
  return base;
}

// Creates the data directory of every node we run with its identity record
// (storage/identity.h). External nodes' directories are left to their owners (an
// embedded engine may lay its directory out otherwise: examples/rocksdb_participant).
bool initDataDirs(const runtime::ClusterConfig& config, const std::set<std::string>& external,
                  std::ostream& err) {
  for (const auto& n : config.nodes) {
    if (external.count(n.name) != 0) continue;
    storage::Options so;
    so.createDir = true;
    so.mapSizeMax = static_cast<size_t>(config.mapSizeMax);
    so.mapSizeStart = std::min(so.mapSizeStart, so.mapSizeMax);
    so.identity = storage::Identity{config.clusterId, n.id, n.name};
    try {
      std::error_code ec;
      fs::create_directories(config.dataDirOf(n), ec);  // DIR/ID; parents too
      storage::Env env(config.dataDirOf(n), so);
    } catch (const storage::StorageError& e) {
      err << "pcommit cluster start: " << n.name << ": " << e.what() << "\n";
      return false;
    }
  }
  return true;
}

// A new cluster's file: built from the options, validated as the nodes will read it, then
// written. kOk with `config` set, else the exit code (message on `err`).
int writeNewConfig(const ClusterStartOptions& o, const ClusterPaths& paths,
                   const std::set<std::string>& external, runtime::ClusterConfig& config,
                   std::ostream& err) {
  const int nodeCount = o.participants + o.acceptors + o.coordinators;
  auto base = o.unixSockets ? std::optional<uint16_t>(0) : choosePortBase(o, nodeCount, err);
  if (!base) return kFailed;
  config = buildConfig(o, paths, *base);
  if (o.tls) {
    try {
      runtime::createClusterCerts(config, (paths.dir / "tls").string());
    } catch (const std::exception& e) {
      err << "pcommit cluster start: " << e.what() << "\n";
      return kFailed;
    }
  }
  for (const auto& n : config.nodes) {
    if (n.metricsPort != 0 && !portFree(n.metricsPort)) {
      err << "pcommit cluster start: metrics port " << n.metricsPort << " (" << n.name
          << ") on 127.0.0.1 is in use; choose another --metrics-port-base\n";
      return kFailed;
    }
  }
  try {
    config.clusterId = runtime::newClusterId();
  } catch (const std::runtime_error& e) {
    err << "pcommit cluster start: " << e.what() << "\n";
    return kFailed;
  }
  const std::string text = config.render();
  try {
    runtime::parseClusterText(text, paths.conf.string());
  } catch (const runtime::ConfigError& e) {
    err << "pcommit cluster start: " << e.what() << "\n";
    return kBadInput;
  }
  // The nodes' first start is now: every data directory gets its identity (cluster id and
  // node) before the file that names the cluster exists, so a participant found empty
  // later has lost its data and starts only with --rejoin-empty (cli/serve.cc).
  if (!initDataDirs(config, external, err)) return kFailed;
  std::string error;
  if (!writeFileAtomically(paths.conf, text, error)) {
    err << "pcommit cluster start: " << error << "\n";
    return kFailed;
  }
  return kOk;
}

// The data directories and DIR/external (removed when no node is external).
bool prepareDirectory(const ClusterPaths& paths, const runtime::ClusterConfig& config,
                      const std::set<std::string>& external, std::ostream& err) {
  std::error_code ec;
  for (const auto& n : config.nodes) {
    fs::create_directories(config.dataDirOf(n), ec);
    if (ec) {
      err << "pcommit cluster start: cannot create " << config.dataDirOf(n) << ": " << ec.message()
          << "\n";
      return false;
    }
  }
  std::string text;
  for (const auto& name : external) text += name + "\n";
  std::string error;
  if (text.empty()) {
    removeFile(paths.externalFile());
  } else if (!writeFileAtomically(paths.externalFile(), text, error)) {
    err << "pcommit cluster start: " << error << "\n";
    return false;
  }
  return true;
}

// "starting N nodes (protocol, f, ports, colocation) in DIR".
void printStarting(const ClusterPaths& paths, const runtime::ClusterConfig& config,
                   const Groups& groups, size_t ours, const std::string& processes,
                   std::ostream& out) {
  out << "starting " << ours << " nodes" << processes << " (" << toString(config.protocol)
      << ", f = " << config.f;
  if (config.nodes.front().isUnix()) {
    out << ", Unix sockets ID.sock";
  } else {
    out << ", ports " << config.nodes.front().port << ".." << config.nodes.back().port;
  }
  if (config.colocate != runtime::Colocate::None) {
    out << ", colocate " << runtime::toString(config.colocate) << ":";
    for (const auto& g : groups) {
      if (g.size() > 1) out << " [" << joinNames(g) << "]";
    }
  }
  out << ") in " << paths.dir.string() << "\n" << std::flush;
}

// How to run each external node, then "cluster ready".
void printReady(const ClusterPaths& paths, const runtime::ClusterConfig& config,
                const std::set<std::string>& external, size_t ours, const std::string& processes,
                std::ostream& out) {
  for (const auto& n : config.nodes) {
    if (external.count(n.name) == 0) continue;
    out << "  " << n.name << " external: not started; run it with --config " << paths.conf.string()
        << " --node " << n.name << " (it listens on " << n.address() << ", data "
        << config.dataDirOf(n) << ")";
    if (n.role == runtime::Role::Participant) {
      out << "; its first `pcommit serve` needs --init (README \"Cluster identity\")";
    }
    out << "\n";
  }
  out << "cluster ready: " << ours << " nodes" << processes;
  if (!external.empty()) out << " (+ " << external.size() << " external)";
  out << "; cluster file " << paths.conf.string() << "\n";
}

// The existing cluster of DIR (started again) or a new one written there. kOk with
// `config` and `external` set, else the exit code.
int prepareConfig(const ClusterStartOptions& o, const ClusterPaths& paths,
                  runtime::ClusterConfig& config, std::set<std::string>& external,
                  std::ostream& out, std::ostream& err) {
  std::optional<runtime::ClusterConfig> existing;
  if (fs::exists(paths.conf)) {
    existing = loadConfig(paths, err);
    if (!existing) return kBadInput;
    if (int rc = checkExisting(o, paths, *existing, out, err); rc != kOk) return rc;
  } else if (!checkNoStrayData(o, paths, err)) {
    return kFailed;
  }
  // Nodes left to the user: as asked, else (a cluster started again) as remembered.
  external = std::set<std::string>(o.external.begin(), o.external.end());
  if (external.empty() && existing) external = readExternal(paths);
  if (existing) {
    config = *existing;
    return checkPortsFree(config, external, err) ? kOk : kFailed;
  }
  return writeNewConfig(o, paths, external, config, err);
}

}  // namespace

int startCluster(const ClusterStartOptions& o, std::ostream& out, std::ostream& err) {
  if (!checkExternalNames(o, err)) return kBadInput;
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  fs::path canonical = fs::canonical(o.dir, ec);
  if (ec || !fs::is_directory(canonical)) {
    err << "pcommit cluster start: cannot create --dir " << o.dir << ": "
        << (ec ? ec.message() : "not a directory") << "\n";
    return kFailed;
  }
  const ClusterPaths paths = pathsFor(canonical);
  // From choosing (or checking) the ports until the nodes listen on them.
  const PortLock portLock(2 * o.readyTimeoutMs + 5000, out);
  runtime::ClusterConfig config;
  std::set<std::string> external;
  if (int rc = prepareConfig(o, paths, config, external, out, err); rc != kOk) return rc;
  if (!prepareDirectory(paths, config, external, err)) return kFailed;

  size_t ours = 0;
  for (const auto& n : config.nodes) ours += external.count(n.name) == 0 ? 1 : 0;
  const Groups groups = ourGroups(config, external);
  std::string processes;
  if (config.colocate != runtime::Colocate::None) {
    processes = " in " + std::to_string(groups.size()) + " processes";
  }
  printStarting(paths, config, groups, ours, processes, out);
  int rc = launch(paths, config, groups, o.readyTimeoutMs, out, err);
  if (rc != kOk) return rc;
  printReady(paths, config, external, ours, processes, out);
  return kOk;
}

int stopCluster(const std::string& dir, std::ostream& out, std::ostream& err) {
  auto paths = existingCluster("stop", dir, err);
  if (!paths) return kBadInput;
  auto config = loadConfig(*paths, err);
  if (!config) return kBadInput;
  bool ok = stopNodes(*paths, allNodes(*config), out);
  out << (ok ? "cluster stopped: " : "cluster NOT fully stopped: ") << paths->dir.string() << "\n";
  return ok ? kOk : kFailed;
}

int restartNode(const std::string& dir, const std::string& node, std::ostream& out,
                std::ostream& err, bool rejoinEmpty) {
  auto paths = existingCluster("restart", dir, err);
  if (!paths) return kBadInput;
  auto config = loadConfig(*paths, err);
  if (!config) return kBadInput;
  const runtime::NodeInfo* n = config->byName(node);
  if (!n) {
    std::string names;
    for (const auto& x : config->nodes) names += (names.empty() ? "" : ", ") + x.name;
    return usageError(err, "restart",
                      "unknown node '" + node + "' (this cluster has " + names + ")");
  }
  if (readExternal(*paths).count(n->name) != 0) {
    err << "pcommit cluster restart: " << n->name
        << " is external (cluster start --external): start it yourself with --config "
        << paths->conf.string() << " --node " << n->name << "\n";
    return kFailed;
  }
  // A co-located node comes back with its whole process: the nodes it shares it with.
  const auto group = groupOf(ourGroups(*config, readExternal(*paths)), n);
  PC_ASSERT(!group.empty(), n->name);
  for (const auto* m : group) {
    NodeProcess p = processOf(*paths, m->name);
    if (p.state == PidState::Running) {
      err << "pcommit cluster restart: " << m->name << " is already running (pid " << p.pid;
      if (group.size() > 1)
        err << "; " << n->name << " shares its process with " << joinNames(group, n);
      err << ")\n";
      return kFailed;
    }
  }
  for (const auto* m : group) {
    if (!portFree(m->port)) {
      err << "pcommit cluster restart: port " << m->port << " of " << m->name
          << " is in use by another process\n";
      return kFailed;
    }
  }
  std::error_code ec;
  for (const auto* m : group) fs::create_directories(config->dataDirOf(*m), ec);
  if (group.size() == 1) {
    out << "restarting " << n->name << " (" << runtime::toString(n->role) << ", " << n->address()
        << ") in " << paths->dir.string() << "\n";
  } else {
    out << "restarting " << joinNames(group) << " (one process: " << n->name
        << " is co-located with " << joinNames(group, n) << ", colocate "
        << runtime::toString(config->colocate) << ") in " << paths->dir.string() << "\n";
  }
  out << std::flush;
  if (rejoinEmpty && n->role != runtime::Role::Participant) {
    return usageError(
        err, "restart",
        "--rejoin-empty is for participants; " + n->name + " is a " + runtime::toString(n->role));
  }
  std::vector<std::string> flags;
  if (rejoinEmpty) flags.push_back(kRejoinEmptyFlag);
  return launch(*paths, *config, {group}, ClusterStartOptions().readyTimeoutMs, out, err, flags);
}

int queryCluster(const std::string& dir, ClusterStatus& status, std::ostream& err) {
  auto paths = existingCluster("status", dir, err);
  if (!paths) return kBadInput;
  auto config = loadConfig(*paths, err);
  if (!config) return kBadInput;
  status.dir = paths->dir.string();
  status.clusterFile = paths->conf.string();
  status.config = std::move(*config);
  const Nodes nodes = allNodes(status.config);
  std::vector<NodeReport> reports = queryStatus(status.config, nodes, kHealthTimeoutMs);
  const std::set<std::string> external = readExternal(*paths);
  const Groups groups = ourGroups(status.config, external);
  status.healthy = true;
  status.nodes.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    NodeStatusRow r = rowOf(nodes[i], reports[i]);
    r.external = external.count(r.node->name) != 0;
    describeProcess(*paths, reports[i], r);
    for (const auto* m : groupOf(groups, r.node)) {
      if (m != r.node) r.colocatedWith.push_back(m->name);
    }
    status.healthy = status.healthy && r.healthy;
    status.nodes.push_back(std::move(r));
  }
  return kOk;
}

void queryNodes(runtime::ClusterConfig config, int timeoutMs, ClusterStatus& status) {
  status.config = std::move(config);
  const Nodes nodes = allNodes(status.config);
  std::vector<NodeReport> reports = queryStatus(status.config, nodes, timeoutMs);
  status.healthy = true;
  status.nodes.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    NodeStatusRow r = rowOf(nodes[i], reports[i]);
    status.healthy = status.healthy && r.healthy;
    status.nodes.push_back(std::move(r));
  }
}

}  // namespace pc::local_cluster
