// Starting node processes, waiting until they answer, stopping them (local_cluster.h).
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "runtime/local_cluster/internal.h"

namespace pc::local_cluster::detail {

namespace {

constexpr int kStopGraceMs = 5000;  // SIGTERM, then SIGKILL after this
constexpr int kKillWaitMs = 2000;   // after SIGKILL, a process must be gone by then
constexpr int kPollStatusTimeoutMs = 500;
constexpr int kPollIntervalMs = 100;

}  // namespace

std::string joinNames(const Nodes& nodes, const runtime::NodeInfo* except) {
  std::string out;
  for (const auto* n : nodes) {
    if (n != except) out += (out.empty() ? "" : ", ") + n->name;
  }
  return out;
}

Nodes allNodes(const runtime::ClusterConfig& c) {
  Nodes out;
  for (const auto& n : c.nodes) out.push_back(&n);
  return out;
}

// The processes the cluster commands run: the cluster file's groups (colocate) without the
// external nodes -- each of those is the user's own process, co-located with nothing.
Groups ourGroups(const runtime::ClusterConfig& c, const std::set<std::string>& external) {
  Groups out;
  for (auto& group : c.processGroups()) {
    std::erase_if(group, [&](const runtime::NodeInfo* n) { return external.count(n->name) != 0; });
    if (!group.empty()) out.push_back(std::move(group));
  }
  return out;
}

// The group of `node` in `groups`, empty if none holds it.
Nodes groupOf(const Groups& groups, const runtime::NodeInfo* node) {
  for (const auto& g : groups) {
    if (std::find(g.begin(), g.end(), node) != g.end()) return g;
  }
  return {};
}

namespace {

struct Launched {
  const runtime::NodeInfo* node;
  pid_t pid;
  std::string logNode;  // whose log the process writes (the first node of its group)
  std::string with;     // the other nodes of its process, "" if alone
};

struct NotReady {
  std::string node;
  std::string why;
};

// Waits until every launched node answers its status RPC as itself with its own pid, or
// one exits, or `timeoutMs` passes. Prints one line per node ready. Returns those not ready.
std::vector<NotReady> waitReady(const ClusterPaths& paths, const runtime::ClusterConfig& config,
                                const std::vector<Launched>& launched, int timeoutMs,
                                std::ostream& out) {
  const auto start = Clock::now();
  std::vector<Launched> pending = launched;
  std::vector<NotReady> failed;
  while (!pending.empty()) {
    // A node that exited will not answer: stop waiting for the cluster at once.
    for (const auto& l : pending) {
      if (!processExists(l.pid)) {
        failed.push_back({l.node->name, "exited (pid " + std::to_string(l.pid) + ")"});
      }
    }
    if (!failed.empty()) break;
    Nodes nodes;
    for (const auto& l : pending) nodes.push_back(l.node);
    std::vector<NodeReport> reports = queryStatus(config, nodes, kPollStatusTimeoutMs);
    std::vector<Launched> still;
    for (size_t i = 0; i < pending.size(); ++i) {
      std::string why;
      const Launched& l = pending[i];
      if (healthy(reports[i], *l.node, why) &&
          reports[i].status.pid == static_cast<uint32_t>(l.pid)) {
        out << "  " << l.node->name << " ready: " << runtime::toString(l.node->role) << " on "
            << l.node->address() << ", pid " << l.pid << ", log "
            << paths.logFile(l.logNode).string();
        if (!l.with.empty()) out << " (one process with " << l.with << ")";
        out << "\n" << std::flush;
      } else {
        still.push_back(l);
      }
    }
    pending = std::move(still);
    if (pending.empty()) break;
    if (msSince(start) >= timeoutMs) {
      for (const auto& l : pending) {
        failed.push_back(
            {l.node->name, "did not answer within " + std::to_string(timeoutMs / 1000) + " s"});
      }
      break;
    }
    sleepMs(kPollIntervalMs);
  }
  return failed;
}

// A process to stop: one per process, naming every node of it.
struct Target {
  std::string name;  // its nodes, "p1, a1, c1"
  std::vector<std::string> nodes;
  pid_t pid;
  bool done = false;
};

// The running processes of `nodes` (found through their pid files), one line each for the
// nodes that have none; removes stale pid files.
std::vector<Target> findTargets(const ClusterPaths& paths, const Nodes& nodes, std::ostream& out) {
  std::vector<Target> targets;
  const std::set<std::string> external = readExternal(paths);
  for (const auto* n : nodes) {
    NodeProcess p = processOf(paths, n->name);
    const std::string pidFile = paths.pidFile(n->name).string();
    if (external.count(n->name) != 0 && p.state != PidState::Running) {
      // Started by the user: stopped only through a pid file naming its process.
      out << n->name << ": external, left alone ("
          << (p.state == PidState::None ? "no pid file"
                                        : "pid file " + pidFile + " names no process running it")
          << ")\n";
      continue;
    }
    switch (p.state) {
      case PidState::None:
        out << n->name << ": not running (no pid file)\n";
        break;
      case PidState::Gone:
        out << n->name << ": not running (pid " << p.pid << " is gone); removed " << pidFile
            << "\n";
        removeFile(paths.pidFile(n->name));
        break;
      case PidState::Foreign:
        out << n->name << ": pid " << p.pid << " is not this node (pid reused?); left it alone, "
            << "removed " << pidFile << "\n";
        removeFile(paths.pidFile(n->name));
        break;
      case PidState::Running: {
        // Signalled later, once every node was looked at: a process signalled now could be
        // gone before its co-located nodes are, and they would read as "not running".
        auto same = std::find_if(targets.begin(), targets.end(),
                                 [&](const Target& t) { return t.pid == p.pid; });
        if (same != targets.end()) {
          same->name += ", " + n->name;
          same->nodes.push_back(n->name);
        } else {
          targets.push_back({n->name, {n->name}, p.pid});
        }
        break;
      }
    }
  }
  return targets;
}

// Waits up to `waitMs` for the targets to exit; one line and the pid files removed for each.
void reap(const ClusterPaths& paths, std::vector<Target>& targets, int waitMs, const char* how,
          std::ostream& out) {
  const auto start = Clock::now();
  for (;;) {
    bool any = false;
    for (auto& t : targets) {
      if (t.done) continue;
      if (!processExists(t.pid)) {
        t.done = true;
        out << t.name << ": stopped (pid " << t.pid << ", " << how << ", " << msSince(start)
            << " ms)\n";
        for (const auto& node : t.nodes) removeFile(paths.pidFile(node));
      } else {
        any = true;
      }
    }
    if (!any || msSince(start) >= waitMs) return;
    sleepMs(20);
  }
}

}  // namespace

bool stopNodes(const ClusterPaths& paths, const Nodes& nodes, std::ostream& out) {
  std::vector<Target> targets = findTargets(paths, nodes, out);
  std::erase_if(targets, [&](const Target& t) {
    if (::kill(t.pid, SIGTERM) == 0) return false;
    out << t.name << ": cannot signal pid " << t.pid << ": " << errnoText(errno) << "\n";
    return true;
  });
  reap(paths, targets, kStopGraceMs, "SIGTERM", out);
  for (auto& t : targets) {
    if (t.done) continue;
    out << t.name << ": still running " << kStopGraceMs / 1000
        << " s after SIGTERM; sending SIGKILL to pid " << t.pid << "\n";
    ::kill(t.pid, SIGKILL);
  }
  reap(paths, targets, kKillWaitMs, "SIGKILL", out);
  bool ok = true;
  for (const auto& t : targets) {
    if (!t.done) {
      out << t.name << ": pid " << t.pid << " survived SIGKILL\n";
      ok = false;
    }
  }
  return ok;
}

namespace {

// Makes DIR/ID.log of every node of `group` but the first a symbolic link to the first's
// log, which their process writes. "" or why it failed.
std::string linkLogs(const ClusterPaths& paths, const Nodes& group) {
  const fs::path target = paths.logFile(group.front()->name).filename();  // relative: DIR moves
  for (size_t i = 1; i < group.size(); ++i) {
    const fs::path link = paths.logFile(group[i]->name);
    std::error_code ec;
    if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == target) continue;
    // A cluster's grouping never changes (start refuses a different --colocate), so a file
    // here is only a leftover of an interrupted start: replaced by the link.
    fs::remove(link, ec);
    fs::create_symlink(target, link, ec);
    if (ec) return "cannot link " + link.string() + " to " + target.string() + ": " + ec.message();
  }
  return "";
}

// Starts one process per group and writes the pid file of each of its nodes; stops at
// the first failure (recorded in `failed`).
std::vector<Launched> spawnGroups(const ClusterPaths& paths, const Groups& groups,
                                  const std::string& exe, const std::vector<std::string>& flags,
                                  std::vector<NotReady>& failed) {
  std::vector<Launched> launched;
  for (const auto& group : groups) {
    const runtime::NodeInfo* first = group.front();
    std::string error = linkLogs(paths, group);
    pid_t pid = error.empty() ? spawnNode(exe, paths, group, flags, error) : 0;
    if (pid <= 0) {
      failed.push_back({first->name, "cannot start: " + error});
      break;
    }
    for (const auto* n : group) launched.push_back({n, pid, first->name, joinNames(group, n)});
    std::string pidError;
    for (const auto* n : group) {
      if (!writeFileAtomically(paths.pidFile(n->name), std::to_string(pid) + "\n", pidError)) {
        failed.push_back({n->name, pidError});
        break;
      }
    }
    if (!failed.empty()) break;
  }
  return launched;
}

// Why the launch failed, with the tail of the failed nodes' logs; then stops what it started.
int failLaunch(const ClusterPaths& paths, const std::vector<Launched>& launched,
               const std::vector<NotReady>& failed, std::ostream& err) {
  err << "pcommit cluster: ";
  for (size_t i = 0; i < failed.size(); ++i) {
    err << (i ? ", " : "") << failed[i].node << " " << failed[i].why;
  }
  err << "\n";
  constexpr size_t kTailsShown = 3;  // the same failure on every node: a few tails tell it
  for (size_t i = 0; i < failed.size(); ++i) {
    const std::string& node = failed[i].node;
    if (i < kTailsShown) {
      err << "  " << node << ": see " << paths.logFile(node).string() << "; its last lines:\n"
          << logTail(paths.logFile(node));
    } else {
      err << "  " << node << ": see " << paths.logFile(node).string() << "\n";
    }
  }
  Nodes started;
  for (const auto& l : launched) started.push_back(l.node);
  std::ostringstream stopped;
  stopNodes(paths, started, stopped);
  // A process whose pid file could not be written is not found by stopNodes: end it here.
  for (const auto& l : launched) {
    if (processExists(l.pid) && isOurNode(l.pid, paths, l.node->name)) ::kill(l.pid, SIGKILL);
  }
  err << "pcommit cluster: stopped the " << started.size()
      << " node(s) it had started; logs and data are kept in " << paths.dir.string() << "\n";
  return kFailed;
}

}  // namespace

int launch(const ClusterPaths& paths, const runtime::ClusterConfig& config, const Groups& groups,
           int timeoutMs, std::ostream& out, std::ostream& err,
           const std::vector<std::string>& flags) {
  const std::string exe = selfExe();
  if (exe.empty()) {
    err << "pcommit cluster: cannot find this program's path (/proc/self/exe)\n";
    return kFailed;
  }
  std::vector<NotReady> failed;
  std::vector<Launched> launched = spawnGroups(paths, groups, exe, flags, failed);
  if (failed.empty()) failed = waitReady(paths, config, launched, timeoutMs, out);
  if (failed.empty()) return kOk;
  return failLaunch(paths, launched, failed, err);
}

}  // namespace pc::local_cluster::detail
