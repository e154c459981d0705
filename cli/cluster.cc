// pcommit cluster start|stop|status|restart: see cli/cluster.h for the directory layout,
// the node command line and the exit codes.
//
// `pcommit cluster status --json` prints one object of this shape (stable: fields are only
// ever added, never renamed or removed):
//   {
//     "dir": "/abs/DIR",
//     "cluster_file": "/abs/DIR/cluster.conf",
//     "protocol": "paxos",                 // 2pc | paxos-classic | paxos | paxos-direct
//     "f": 1,
//     "colocate": "none",                  // none | acceptors | all (cluster file)
//     "healthy": true,                     // every node healthy (the exit code says the same)
//     "nodes": [                           // in cluster-file order: c*, p*, a*
//       {
//         "name": "p1", "id": 1001, "role": "participant", "address": "127.0.0.1:7102",
//         "pid": 12345,                    // from DIR/p1.pid, or from its answer; null if none
//         "alive": true,                   // that pid exists and is this node's process
//         "healthy": true,                 // answered its status RPC as p1 within 1 s
//         "error": null,                   // why not healthy (string), else null
//         "uptime_ms": 5120,               // null unless healthy
//         "in_doubt": [                    // participants when healthy, else null
//           {"txn": "<32 hex digits>", "age_ms": 1520, "leader": "c1", // null if none
//            "recovering": false, "waiting_for": "..."}
//         ],
//         "counters": {"name": 0},         // the node's metrics; null unless healthy
//         "external": false,               // left to the user (cluster start --external)
//         "colocated_with": ["a1", "c1"]   // the other nodes of its process ([] if alone)
//       }
//     ]
//   }
#include "cli/cluster.h"

#include <capnp/ez-rpc.h>
#include <fcntl.h>
#include <kj/async-io.h>
#include <kj/async.h>
#include <kj/timer.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "paxos_commit/assert.h"
#include "rpc/pcommit.capnp.h"
#include "runtime/cluster_config.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace po = boost::program_options;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace pc::cli {

namespace {

constexpr uint16_t kDefaultPortBase = 7100;
constexpr int kStopGraceMs = 5000;      // SIGTERM, then SIGKILL after this
constexpr int kKillWaitMs = 2000;       // after SIGKILL, a process must be gone by then
constexpr int kHealthTimeoutMs = 1000;  // `cluster status`: a status RPC answers within this
constexpr int kPollStatusTimeoutMs = 500;
constexpr int kPollIntervalMs = 100;
constexpr int kMaxParticipants = 64;  // rpc::Limits::maxParticipants: one txn may span all
constexpr int kMaxCoordinators = 32;
constexpr int kLogTailLines = 8;

// ---- small helpers --------------------------------------------------------------------

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string errnoText(int e) { return std::strerror(e); }

// The files of one cluster directory (cluster.h).
struct ClusterPaths {
  fs::path dir;   // absolute, canonical
  fs::path conf;  // dir/cluster.conf
  fs::path pidFile(const std::string& node) const { return dir / (node + ".pid"); }
  fs::path logFile(const std::string& node) const { return dir / (node + ".log"); }
  fs::path externalFile() const { return dir / "external"; }
};

ClusterPaths pathsFor(const fs::path& canonicalDir) {
  return ClusterPaths{canonicalDir, canonicalDir / "cluster.conf"};
}

// Writes through a temporary file and rename(2), so a reader never sees half a file.
bool writeFileAtomically(const fs::path& path, const std::string& text, std::string& error) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

std::optional<pid_t> readPidFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  long long pid = 0;
  if (!(in >> pid) || pid <= 1 || pid > 0x7fffffff) return std::nullopt;
  return static_cast<pid_t>(pid);
}

void removePidFile(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);  // gone already is fine
}

// The last lines of a node's log, indented, for error messages.
std::string logTail(const fs::path& log) {
  std::ifstream in(log, std::ios::binary);
  if (!in) return "    (no log file " + log.string() + ")\n";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - 4096);
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::istringstream ls(text);
  for (std::string line; std::getline(ls, line);) lines.push_back(line);
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());  // likely cut in the middle
  size_t first = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) out += "    | " + lines[i] + "\n";
  return out.empty() ? "    (log is empty)\n" : out;
}

// ---- processes ------------------------------------------------------------------------

// Whether `pid` names a process that has not exited. A zombie has exited (where nobody
// reaps, e.g. a container whose init does not, kill(pid, 0) still succeeds for it).
bool processExists(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;  // vanished meanwhile
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return true;
  char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

std::vector<std::string> cmdlineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  for (std::string arg; std::getline(in, arg, '\0');) argv.push_back(arg);
  return argv;
}

// The command line (without the program) of the process running `nodes` (one, or a group
// of co-located ones).
std::vector<std::string> serveArgs(const ClusterPaths& paths,
                                   const std::vector<const runtime::NodeInfo*>& nodes) {
  std::vector<std::string> args = {"serve", "--config", paths.conf.string()};
  for (const auto* n : nodes) {
    args.push_back("--node");
    args.push_back(n->name);
  }
  return args;
}

// Whether `pid` is node `node` of this cluster: its command line is one we start (any
// binary path): serve --config CONF, then only --node pairs, one of them naming `node`.
// Guards against signalling a process that reused a stale pid.
bool isOurNode(pid_t pid, const ClusterPaths& paths, const std::string& node) {
  std::vector<std::string> argv = cmdlineOf(pid);
  if (argv.size() < 6 || argv.size() % 2 != 0 || argv[1] != "serve" || argv[2] != "--config" ||
      argv[3] != paths.conf.string()) {
    return false;
  }
  bool named = false;
  for (size_t i = 4; i + 1 < argv.size(); i += 2) {
    if (argv[i] != "--node") return false;
    named = named || argv[i + 1] == node;
  }
  return named;
}

std::string joinNames(const std::vector<const runtime::NodeInfo*>& nodes,
                      const runtime::NodeInfo* except = nullptr) {
  std::string out;
  for (const auto* n : nodes) {
    if (n != except) out += (out.empty() ? "" : ", ") + n->name;
  }
  return out;
}

// The nodes `cluster start --external` left to the user (DIR/external, one name a line).
std::set<std::string> readExternal(const ClusterPaths& paths) {
  std::set<std::string> out;
  std::ifstream in(paths.externalFile());
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

// Whether `pid` runs external node `node` of this cluster: whatever the program, its
// command line has `--config CONF` (this cluster file, as written) and `--node NODE`.
bool isExternalNode(pid_t pid, const ClusterPaths& paths, const std::string& node) {
  std::vector<std::string> argv = cmdlineOf(pid);
  bool config = false;
  bool named = false;
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    config = config || (argv[i] == "--config" && argv[i + 1] == paths.conf.string());
    named = named || (argv[i] == "--node" && argv[i + 1] == node);
  }
  return config && named;
}

enum class PidState { None, Gone, Foreign, Running };
struct NodeProcess {
  PidState state = PidState::None;
  pid_t pid = 0;
};

NodeProcess processOf(const ClusterPaths& paths, const std::string& node) {
  auto pid = readPidFile(paths.pidFile(node));
  if (!pid) return {};
  if (!processExists(*pid)) return {PidState::Gone, *pid};
  bool ours = isOurNode(*pid, paths, node) ||
              (readExternal(paths).count(node) != 0 && isExternalNode(*pid, paths, node));
  if (!ours) return {PidState::Foreign, *pid};
  return {PidState::Running, *pid};
}

std::string selfExe() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.string();
}

std::string timestampUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What the forked children report through the status pipe (fixed-size records).
struct SpawnRecord {
  int32_t kind;  // kSpawnPid: value is the node's pid; otherwise a failed step, value errno
  int32_t value;
};
constexpr int32_t kSpawnPid = 1;
const char* const kSpawnSteps[] = {"?",     "pid", "fork", "open /dev/null", "open the log",
                                   "chdir", "exec"};
enum : int32_t { kStepFork = 2, kStepDevNull, kStepLog, kStepChdir, kStepExec };

void writeRecord(int fd, int32_t kind, int32_t value) {
  SpawnRecord r{kind, value};
  ssize_t n = ::write(fd, &r, sizeof r);
  (void)n;  // the parent sees a missing record as "no pid" and reports the failure
}

// Starts the process of `nodes` (one node, or a group of co-located ones) detached (double
// fork: it is nobody's child here, so it never lingers as our zombie, and init reaps it);
// it logs to the first node's log. Returns its pid, or 0 with `error`. Everything the
// children need is prepared before fork(); they only make system calls.
pid_t spawnNode(const std::string& exe, const ClusterPaths& paths,
                const std::vector<const runtime::NodeInfo*>& nodes, std::string& error) {
  std::vector<std::string> args = serveArgs(paths, nodes);
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = paths.logFile(nodes.front()->name).string();
  const std::string dir = paths.dir.string();
  std::string banner =
      "---- " + timestampUtc() + " pcommit cluster: starting " + joinNames(nodes) + ":";
  for (const auto& a : args) banner += " " + a;
  banner += "\n";

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = "pipe: " + errnoText(errno);
    return 0;
  }
  pid_t child = ::fork();
  if (child < 0) {
    error = "fork: " + errnoText(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return 0;
  }
  if (child == 0) {
    // Intermediate child: a new session (no controlling terminal, not in the caller's
    // process group, so the caller's Ctrl-C does not reach the nodes), then fork again.
    ::close(fds[0]);
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild < 0) {
      writeRecord(fds[1], kStepFork, errno);
      ::_exit(1);
    }
    if (grandchild > 0) {
      writeRecord(fds[1], kSpawnPid, grandchild);
      ::_exit(0);
    }
    // The node: clean signal state, stdin /dev/null, stdout+stderr appended to its log.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
    int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) {
      writeRecord(fds[1], kStepDevNull, errno);
      ::_exit(127);
    }
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(out, STDERR_FILENO) < 0) {
      writeRecord(fds[1], kStepLog, errno);
      ::_exit(127);
    }
    ssize_t n = ::write(STDOUT_FILENO, banner.data(), banner.size());
    (void)n;
    if (::chdir(dir.c_str()) != 0) {
      writeRecord(fds[1], kStepChdir, errno);
      ::_exit(127);
    }
    // Nothing of ours leaks into the node (the status pipe closes at exec).
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execv(argv[0], argv.data());
    writeRecord(fds[1], kStepExec, errno);
    ::_exit(127);
  }
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = 0;
  SpawnRecord r{};
  for (;;) {
    ssize_t n = ::read(fds[0], &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof r)) break;  // EOF: exec succeeded or all reported
    if (r.kind == kSpawnPid) {
      pid = r.value;
    } else {
      int32_t step = r.kind >= kStepFork && r.kind <= kStepExec ? r.kind : 0;
      error = std::string(kSpawnSteps[step]) + " failed: " + errnoText(r.value);
      if (step == kStepExec) error = "cannot run " + exe + ": " + errnoText(r.value);
      if (step == kStepLog) error = "cannot open " + log + ": " + errnoText(r.value);
      pid = 0;
    }
  }
  ::close(fds[0]);
  if (pid == 0 && error.empty()) error = "the node process did not start";
  return pid;
}

// ---- ports ----------------------------------------------------------------------------

// Whether a listener could bind 127.0.0.1:port now (SO_REUSEADDR, as KJ listens: a port
// in TIME_WAIT counts as free, one with a listener does not).
bool portFree(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// The first base >= from such that base..base+count-1 are all free.
std::optional<uint16_t> findFreePorts(uint16_t from, int count) {
  uint32_t base = from;
  while (base + static_cast<uint32_t>(count) - 1 <= 65535) {
    int i = 0;
    while (i < count && portFree(static_cast<uint16_t>(base + static_cast<uint32_t>(i)))) ++i;
    if (i == count) return static_cast<uint16_t>(base);
    base += static_cast<uint32_t>(i) + 1;  // restart past the busy port
  }
  return std::nullopt;
}

// ---- the status RPC -------------------------------------------------------------------

struct InDoubtReport {
  std::string txn;
  uint64_t ageMs = 0;
  uint32_t leader = 0;
  bool recovering = false;
  std::string waitingFor;
};

struct NodeReport {
  bool answered = false;
  std::string error;  // why it did not answer
  uint32_t nodeId = 0;
  std::string name;
  std::string role;
  std::string protocol;
  uint32_t pid = 0;
  uint64_t uptimeMs = 0;
  std::vector<InDoubtReport> inDoubt;
  std::vector<std::pair<std::string, uint64_t>> counters;
};

std::string describe(const kj::Exception& e) {
  std::string text = e.getDescription().cStr();
  if (size_t nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text.empty() ? "RPC failed" : text;
}

void fill(NodeReport& r, wire::NodeStatus::Reader s) {
  r.answered = true;
  r.nodeId = s.getNodeId();
  r.name = s.getName();
  r.role = s.getRole();
  r.protocol = s.getProtocol();
  r.pid = s.getPid();
  r.uptimeMs = s.getUptimeMs();
  for (auto d : s.getInDoubt()) {
    InDoubtReport i;
    i.txn = TxnId{d.getTxn().getHi(), d.getTxn().getLo()}.toString();
    i.ageMs = d.getAgeMs();
    i.leader = d.getLeader();
    i.recovering = d.getRecovering();
    i.waitingFor = d.getWaitingFor();
    r.inDoubt.push_back(std::move(i));
  }
  for (auto c : s.getCounters()) r.counters.emplace_back(c.getName(), c.getValue());
}

// Asks every node for its status at once, each call bounded by `timeoutMs`. One EzRpc
// event loop (thread-local, shared by the clients) runs all the calls.
std::vector<NodeReport> queryStatus(const std::vector<const runtime::NodeInfo*>& nodes,
                                    int timeoutMs) {
  std::vector<NodeReport> reports(nodes.size());
  if (nodes.empty()) return reports;
  try {
    std::vector<kj::Own<capnp::EzRpcClient>> clients;
    for (const auto* n : nodes) clients.push_back(kj::heap<capnp::EzRpcClient>(n->address()));
    kj::Timer& timer = clients.front()->getIoProvider().getTimer();
    auto calls = kj::heapArrayBuilder<kj::Promise<void>>(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      NodeReport& r = reports[i];
      auto call = clients[i]->getMain<wire::Node>().statusRequest().send().then(
          [&r](capnp::Response<wire::Node::StatusResults>&& resp) { fill(r, resp.getStatus()); },
          [&r](kj::Exception&& e) { r.error = describe(e); });
      calls.add(
          call.exclusiveJoin(timer.afterDelay(timeoutMs * kj::MILLISECONDS).then([&r, timeoutMs]() {
            r.error = "no answer within " + std::to_string(timeoutMs) + " ms";
          })));
    }
    kj::joinPromises(calls.finish()).wait(clients.front()->getWaitScope());
  } catch (const kj::Exception& e) {
    for (auto& r : reports) {
      if (!r.answered && r.error.empty()) r.error = describe(e);
    }
  }
  return reports;
}

// A node is healthy if it answered as itself; another process on its port is not it.
bool healthy(const NodeReport& r, const runtime::NodeInfo& n, std::string& why) {
  if (!r.answered) {
    why = r.error;
    return false;
  }
  if (r.name != n.name) {
    why = "the process on " + n.address() + " answers as '" + r.name + "', not " + n.name;
    return false;
  }
  return true;
}

// ---- waiting and stopping -------------------------------------------------------------

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
std::vector<NotReady> waitReady(const ClusterPaths& paths, const std::vector<Launched>& launched,
                                int timeoutMs, std::ostream& out) {
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
    std::vector<const runtime::NodeInfo*> nodes;
    for (const auto& l : pending) nodes.push_back(l.node);
    std::vector<NodeReport> reports = queryStatus(nodes, kPollStatusTimeoutMs);
    std::vector<Launched> still;
    for (size_t i = 0; i < pending.size(); ++i) {
      std::string why;
      const Launched& l = pending[i];
      if (healthy(reports[i], *l.node, why) && reports[i].pid == static_cast<uint32_t>(l.pid)) {
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

// SIGTERM to each running process of `nodes` (once per process: co-located nodes share
// one), SIGKILL to those still there after the grace period; removes their pid files.
// Prints one line per process or node. False if one survived.
bool stopNodes(const ClusterPaths& paths, const std::vector<const runtime::NodeInfo*>& nodes,
               std::ostream& out) {
  struct Target {
    std::string name;  // its nodes, "p1, a1, c1"
    std::vector<std::string> nodes;
    pid_t pid;
    bool done = false;
  };
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
        removePidFile(paths.pidFile(n->name));
        break;
      case PidState::Foreign:
        out << n->name << ": pid " << p.pid << " is not this node (pid reused?); left it alone, "
            << "removed " << pidFile << "\n";
        removePidFile(paths.pidFile(n->name));
        break;
      case PidState::Running: {
        // Signalled below, once every node was looked at: a process signalled now could be
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
  std::erase_if(targets, [&](const Target& t) {
    if (::kill(t.pid, SIGTERM) == 0) return false;
    out << t.name << ": cannot signal pid " << t.pid << ": " << errnoText(errno) << "\n";
    return true;
  });
  auto reap = [&](int waitMs, const char* how) {
    const auto start = Clock::now();
    for (;;) {
      bool any = false;
      for (auto& t : targets) {
        if (t.done) continue;
        if (!processExists(t.pid)) {
          t.done = true;
          out << t.name << ": stopped (pid " << t.pid << ", " << how << ", " << msSince(start)
              << " ms)\n";
          for (const auto& node : t.nodes) removePidFile(paths.pidFile(node));
        } else {
          any = true;
        }
      }
      if (!any || msSince(start) >= waitMs) return;
      sleepMs(20);
    }
  };
  reap(kStopGraceMs, "SIGTERM");
  for (auto& t : targets) {
    if (t.done) continue;
    out << t.name << ": still running " << kStopGraceMs / 1000
        << " s after SIGTERM; sending SIGKILL to pid " << t.pid << "\n";
    ::kill(t.pid, SIGKILL);
  }
  reap(kKillWaitMs, "SIGKILL");
  bool ok = true;
  for (const auto& t : targets) {
    if (!t.done) {
      out << t.name << ": pid " << t.pid << " survived SIGKILL\n";
      ok = false;
    }
  }
  return ok;
}

// Makes DIR/ID.log of every node of `group` but the first a symbolic link to the first's
// log, which their process writes. "" or why it failed.
std::string linkLogs(const ClusterPaths& paths,
                     const std::vector<const runtime::NodeInfo*>& group) {
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

// Starts one process per group (pid files written for each of its nodes) and waits until
// every node answers. On failure, stops the ones it started and prints why, with the tail
// of each failed node's log.
int launch(const ClusterPaths& paths,
           const std::vector<std::vector<const runtime::NodeInfo*>>& groups, int timeoutMs,
           std::ostream& out, std::ostream& err) {
  const std::string exe = selfExe();
  if (exe.empty()) {
    err << "pcommit cluster: cannot find this program's path (/proc/self/exe)\n";
    return kExitFailure;
  }
  std::vector<Launched> launched;
  std::vector<NotReady> failed;
  for (const auto& group : groups) {
    const runtime::NodeInfo* first = group.front();
    std::string error = linkLogs(paths, group);
    pid_t pid = error.empty() ? spawnNode(exe, paths, group, error) : 0;
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
  if (failed.empty()) failed = waitReady(paths, launched, timeoutMs, out);
  if (failed.empty()) return kExitOk;

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
  std::vector<const runtime::NodeInfo*> started;
  for (const auto& l : launched) started.push_back(l.node);
  std::ostringstream stopped;
  stopNodes(paths, started, stopped);
  // A process whose pid file could not be written is not found by stopNodes: end it here.
  for (const auto& l : launched) {
    if (processExists(l.pid) && isOurNode(l.pid, paths, l.node->name)) ::kill(l.pid, SIGKILL);
  }
  err << "pcommit cluster: stopped the " << started.size()
      << " node(s) it had started; logs and data are kept in " << paths.dir.string() << "\n";
  return kExitFailure;
}

// ---- option parsing -------------------------------------------------------------------

int usageError(std::ostream& err, const std::string& sub, const std::string& msg) {
  err << "pcommit cluster " << sub << ": " << msg << "\n"
      << "try 'pcommit cluster " << sub << " --help'\n";
  return kExitUsage;
}

// Parses args into vm; returns an exit code when the command is done (help or error).
// Positional arguments beyond `positional` are refused by name.
std::optional<int> parseOptions(const std::string& sub, const po::options_description& desc,
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

// Resolves --dir of an existing cluster; nullopt (and a usage error) if it holds none.
std::optional<ClusterPaths> existingCluster(const std::string& sub, const std::string& dir,
                                            std::ostream& err) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(canonical)) {
    usageError(err, sub, "--dir " + dir + ": no such directory");
    return std::nullopt;
  }
  ClusterPaths paths = pathsFor(canonical);
  if (!fs::exists(paths.conf)) {
    usageError(err, sub,
               "--dir " + dir + ": no cluster here (no " + paths.conf.string() +
                   "; 'pcommit cluster start --dir " + dir + "' makes one)");
    return std::nullopt;
  }
  return paths;
}

std::optional<runtime::ClusterConfig> loadConfig(const ClusterPaths& paths, std::ostream& err) {
  try {
    return runtime::loadClusterFile(paths.conf.string());
  } catch (const runtime::ConfigError& e) {
    err << "pcommit cluster: " << e.what() << "\n";
    return std::nullopt;
  }
}

std::vector<const runtime::NodeInfo*> allNodes(const runtime::ClusterConfig& c) {
  std::vector<const runtime::NodeInfo*> out;
  for (const auto& n : c.nodes) out.push_back(&n);
  return out;
}

// The processes the cluster commands run: the cluster file's groups (colocate) without the
// external nodes -- each of those is the user's own process, co-located with nothing.
std::vector<std::vector<const runtime::NodeInfo*>> ourGroups(
    const runtime::ClusterConfig& c, const std::set<std::string>& external) {
  std::vector<std::vector<const runtime::NodeInfo*>> out;
  for (auto& group : c.processGroups()) {
    std::erase_if(group, [&](const runtime::NodeInfo* n) { return external.count(n->name) != 0; });
    if (!group.empty()) out.push_back(std::move(group));
  }
  return out;
}

// The group of `node` in `groups`, empty if none holds it.
std::vector<const runtime::NodeInfo*> groupOf(
    const std::vector<std::vector<const runtime::NodeInfo*>>& groups,
    const runtime::NodeInfo* node) {
  for (const auto& g : groups) {
    if (std::find(g.begin(), g.end(), node) != g.end()) return g;
  }
  return {};
}

// The config `cluster start` builds from its options; ports from `portBase` on, in node
// order (c*, p*, a*).
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
  uint16_t port = portBase;
  auto add = [&](char prefix, int count) {
    for (int i = 1; i <= count; ++i) {
      runtime::NodeInfo n;
      n.name = prefix + std::to_string(i);
      n.id = *runtime::idForName(n.name);
      n.role = *runtime::roleForName(n.name);
      n.host = "127.0.0.1";
      n.port = port++;
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
  for (size_t i = 0; i < old.nodes.size(); ++i) {
    if (old.nodes[i].name != want.nodes[i].name) return "different node names";
    if (comparePorts && old.nodes[i].port != want.nodes[i].port) {
      return differ("ports from", std::to_string(old.nodes.front().port),
                    std::to_string(want.nodes.front().port));
    }
  }
  return "";
}

// ---- the subcommands ------------------------------------------------------------------

int runStart(const Args& args) {
  ClusterStartOptions o;
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
      "options");
  std::string protocol = "paxos";
  std::string fanout = "all";
  std::string colocate = "none";
  int portBase = 0;
  int metricsPortBase = 0;
  desc.add_options()("help,h", "print this help")("dir",
                                                  po::value<std::string>(&o.dir)->value_name("DIR"),
                                                  "the cluster's directory (created)")(
      "participants", po::value<int>(&o.participants)->value_name("N")->default_value(3),
      "participants (shards)")("acceptors", po::value<int>()->value_name("N"),
                               "acceptors: 2F+1 (default 3)")(
      "coordinators", po::value<int>(&o.coordinators)->value_name("N")->default_value(2),
      "coordinators")("protocol",
                      po::value<std::string>(&protocol)->value_name("P")->default_value("paxos"),
                      "paxos | paxos-classic | paxos-direct | 2pc")(
      "f", po::value<int>()->value_name("F"), "tolerated acceptor failures (default 1)")(
      "port-base", po::value<int>(&portBase)->value_name("P"),
      "first port; nodes take P, P+1, ... (default: the first free range from 7100)")(
      "metrics-port-base", po::value<int>(&metricsPortBase)->value_name("P"),
      "serve Prometheus metrics: nodes take 127.0.0.1:P, P+1, ... (GET /metrics)")(
      "tick-ms", po::value<uint32_t>(&o.tickMs)->value_name("T")->default_value(5),
      "one logical tick of the core, in ms")(
      "recovery-timeout-ms",
      po::value<uint32_t>(&o.recoveryTimeoutMs)->value_name("MS")->default_value(1000),
      "prepared with no outcome this long -> recovery (leader timeout: 1.5x)")(
      "fanout", po::value<std::string>(&fanout)->value_name("all|quorum")->default_value("all"),
      "a participant's vote goes to all acceptors, or to F+1 first")(
      "colocate",
      po::value<std::string>(&colocate)->value_name("none|acceptors|all")->default_value("none"),
      "run a<i> (acceptors), or a<i> and c<i> (all), inside p<i>'s process")(
      "gc-cap", po::value<uint32_t>(&o.gcCap)->value_name("N")->default_value(100000),
      "collected transactions each node remembers before a low-water mark replaces them")(
      "external", po::value<std::vector<std::string>>()->value_name("NODE,...")->composing(),
      "nodes left to you (e.g. an embedded participant): in the cluster file, not started, "
      "not waited for; run them with --config DIR/cluster.conf --node NODE. Remembered in "
      "DIR/external for later starts. `cluster stop` stops one only if DIR/NODE.pid names a "
      "process whose command line has --config DIR/cluster.conf --node NODE (the absolute "
      "path); `cluster restart` refuses them; `cluster status` shows them");
  po::variables_map vm;
  if (auto done = parseOptions("start", desc, nullptr, args, vm)) return *done;
  const std::string sub = "start";
  if (!vm.count("dir")) return usageError(std::cerr, sub, "the option '--dir' is required");
  if (vm.count("external")) {
    for (const auto& list : vm["external"].as<std::vector<std::string>>()) {
      std::istringstream names(list);
      for (std::string name; std::getline(names, name, ',');) {
        if (name.empty()) continue;
        auto role = runtime::roleForName(name);
        if (!role) return usageError(std::cerr, sub, "--external " + name + ": not a node id");
        o.external.push_back(name);
      }
    }
  }
  auto p = parseProtocol(protocol);
  if (!p) {
    return usageError(
        std::cerr, sub,
        "--protocol " + protocol + ": expected paxos, paxos-classic, paxos-direct or 2pc");
  }
  o.protocol = *p;
  auto fo = parseFanOut(fanout);
  if (!fo) return usageError(std::cerr, sub, "--fanout " + fanout + ": expected all or quorum");
  o.fanOut = *fo;
  auto co = runtime::parseColocate(colocate);
  if (!co) {
    return usageError(std::cerr, sub,
                      "--colocate " + colocate + ": expected none, acceptors or all");
  }
  o.colocate = *co;
  if (o.participants < 1 || o.participants > kMaxParticipants) {
    return usageError(std::cerr, sub,
                      "--participants " + std::to_string(o.participants) + ": expected 1.." +
                          std::to_string(kMaxParticipants));
  }
  if (o.coordinators < 0 || o.coordinators > kMaxCoordinators) {
    return usageError(std::cerr, sub,
                      "--coordinators " + std::to_string(o.coordinators) + ": expected 0.." +
                          std::to_string(kMaxCoordinators));
  }
  if (o.coordinators == 0 && o.protocol != Protocol::PaxosDirect) {
    return usageError(std::cerr, sub,
                      "--coordinators 0: protocol " + protocol +
                          " needs at least one coordinator (only paxos-direct runs without)");
  }
  const int maxAcceptors = 2 * runtime::kMaxF + 1;
  if (vm.count("f")) {
    o.f = vm["f"].as<int>();
    if (o.f < 0 || o.f > runtime::kMaxF) {
      return usageError(
          std::cerr, sub,
          "--f " + std::to_string(o.f) + ": expected 0.." + std::to_string(runtime::kMaxF));
    }
  }
  if (vm.count("acceptors")) {
    o.acceptors = vm["acceptors"].as<int>();
    if (vm.count("f")) {
      if (o.acceptors != 2 * o.f + 1) {
        return usageError(std::cerr, sub,
                          "--acceptors " + std::to_string(o.acceptors) + " must equal 2F+1 = " +
                              std::to_string(2 * o.f + 1) + " for --f " + std::to_string(o.f));
      }
    } else {
      if (o.acceptors < 1 || o.acceptors > maxAcceptors || o.acceptors % 2 == 0) {
        return usageError(std::cerr, sub,
                          "--acceptors " + std::to_string(o.acceptors) +
                              ": expected an odd number 2F+1 in 1.." +
                              std::to_string(maxAcceptors));
      }
      o.f = (o.acceptors - 1) / 2;
    }
  } else {
    o.acceptors = 2 * o.f + 1;  // --f alone (or neither: F = 1, 3 acceptors)
  }
  if (o.tickMs < 1 || o.tickMs > runtime::kMaxTickMs) {
    return usageError(std::cerr, sub,
                      "--tick-ms " + std::to_string(o.tickMs) + ": expected 1.." +
                          std::to_string(runtime::kMaxTickMs));
  }
  if (o.recoveryTimeoutMs < o.tickMs || o.recoveryTimeoutMs > runtime::kMaxTimeoutMs * 2 / 3) {
    return usageError(std::cerr, sub,
                      "--recovery-timeout-ms " + std::to_string(o.recoveryTimeoutMs) +
                          ": expected " + std::to_string(o.tickMs) + " (--tick-ms).." +
                          std::to_string(runtime::kMaxTimeoutMs * 2 / 3));
  }
  o.leaderTimeoutMs = o.recoveryTimeoutMs + o.recoveryTimeoutMs / 2;
  if (o.gcCap < 1 || o.gcCap > runtime::kMaxGcCap) {
    return usageError(std::cerr, sub,
                      "--gc-cap " + std::to_string(o.gcCap) + ": expected 1.." +
                          std::to_string(runtime::kMaxGcCap));
  }
  if (vm.count("port-base")) {
    const int nodes = o.participants + o.acceptors + o.coordinators;
    if (portBase < 1 || portBase + nodes - 1 > 65535) {
      return usageError(std::cerr, sub,
                        "--port-base " + std::to_string(portBase) + ": expected 1.." +
                            std::to_string(65535 - nodes + 1) + " (" + std::to_string(nodes) +
                            " nodes need consecutive ports)");
    }
    o.portBase = static_cast<uint16_t>(portBase);
  }
  if (vm.count("metrics-port-base")) {
    const int nodes = o.participants + o.acceptors + o.coordinators;
    if (metricsPortBase < 1 || metricsPortBase + nodes - 1 > 65535) {
      return usageError(std::cerr, sub,
                        "--metrics-port-base " + std::to_string(metricsPortBase) +
                            ": expected 1.." + std::to_string(65535 - nodes + 1) + " (" +
                            std::to_string(nodes) + " nodes need consecutive ports)");
    }
    o.metricsPortBase = static_cast<uint16_t>(metricsPortBase);
  }
  return startCluster(o, std::cout, std::cerr);
}

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
  if (auto done = parseOptions("stop", desc, nullptr, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "stop", "the option '--dir' is required");
  return stopCluster(dir, std::cout, std::cerr);
}

int runStatus(const Args& args) {
  po::options_description desc(
      "usage: pcommit cluster status --dir DIR [--json]\n\n"
      "For every node: role, address, pid, alive (its process exists), healthy (answers its\n"
      "status RPC within 1 s) and, for participants, the in-doubt transactions. Exit 0 if\n"
      "every node is healthy, 1 otherwise. --json: one object (shape in cli/cluster.cc).\n\n"
      "options");
  std::string dir;
  desc.add_options()("help,h", "print this help")(
      "dir", po::value<std::string>(&dir)->value_name("DIR"), "the cluster's directory")(
      "json", "print one JSON object instead of a table");
  po::variables_map vm;
  if (auto done = parseOptions("status", desc, nullptr, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "status", "the option '--dir' is required");
  return clusterStatus(dir, vm.count("json") > 0, std::cout, std::cerr);
}

int runRestart(const Args& args) {
  po::options_description desc(
      "usage: pcommit cluster restart --dir DIR NODE\n\n"
      "Starts NODE (c1, p2, a3, ...) of the cluster in DIR again, with its data, after it\n"
      "was stopped or killed; returns once it answers. Refuses if NODE is running.\n"
      "A co-located node (cluster start --colocate) shares its process: its whole process\n"
      "is started again, every node of it, and the output names them.\n\n"
      "options");
  std::string dir;
  std::string node;
  desc.add_options()("help,h", "print this help")(
      "dir", po::value<std::string>(&dir)->value_name("DIR"), "the cluster's directory")(
      "node", po::value<std::string>(&node)->value_name("NODE"), "the node (also positional)");
  po::positional_options_description positional;
  positional.add("node", 1);
  po::variables_map vm;
  if (auto done = parseOptions("restart", desc, &positional, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "restart", "the option '--dir' is required");
  if (!vm.count("node")) return usageError(std::cerr, "restart", "which node? (e.g. p1)");
  return restartNode(dir, node, std::cout, std::cerr);
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

// ---- JSON -----------------------------------------------------------------------------

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace

// ---- the library entry points (cluster.h) ---------------------------------------------

int startCluster(const ClusterStartOptions& o, std::ostream& out, std::ostream& err) {
  for (const auto& name : o.external) {
    const int number = std::atoi(name.c_str() + 1);
    const char prefix = name[0];
    const int count = prefix == 'c' ? o.coordinators : prefix == 'p' ? o.participants : o.acceptors;
    if (number < 1 || number > count) {
      err << "pcommit cluster start: --external " << name << ": no such node in this cluster\n";
      return kExitUsage;
    }
  }

  std::error_code ec;
  fs::create_directories(o.dir, ec);
  fs::path canonical = fs::canonical(o.dir, ec);
  if (ec || !fs::is_directory(canonical)) {
    err << "pcommit cluster start: cannot create --dir " << o.dir << ": "
        << (ec ? ec.message() : "not a directory") << "\n";
    return kExitFailure;
  }
  const ClusterPaths paths = pathsFor(canonical);
  const int nodeCount = o.participants + o.acceptors + o.coordinators;

  // An existing cluster: refuse if any node runs; start it again if it is the same.
  std::optional<runtime::ClusterConfig> existing;
  if (fs::exists(paths.conf)) {
    existing = loadConfig(paths, err);
    if (!existing) return kExitUsage;
    std::string running;
    const std::set<std::string> stored = readExternal(paths);
    for (const auto& n : existing->nodes) {
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
      return kExitFailure;
    }
    runtime::ClusterConfig want =
        buildConfig(o, paths, o.portBase.value_or(existing->nodes.front().port));
    std::string diff = shapeDifference(*existing, want, o.portBase.has_value());
    if (!diff.empty()) {
      err << "pcommit cluster start: " << paths.dir.string()
          << " holds a stopped cluster that differs (" << diff << ")\n"
          << "  start it with the same options, restart single nodes with 'pcommit cluster "
             "restart', or use a new --dir\n";
      return kExitFailure;
    }
    out << "pcommit cluster start: " << paths.dir.string()
        << " holds this cluster, stopped: starting it again with its data\n";
  } else {
    // No cluster file, so any node data here belongs to something else: do not adopt it.
    for (char prefix : {'c', 'p', 'a'}) {
      int count = prefix == 'c' ? o.coordinators : prefix == 'p' ? o.participants : o.acceptors;
      for (int i = 1; i <= count; ++i) {
        fs::path data = paths.dir / (prefix + std::to_string(i));
        if (fs::exists(data) && !fs::is_empty(data, ec)) {
          err << "pcommit cluster start: " << data.string()
              << " already holds data but there is no " << paths.conf.string()
              << "; use a new --dir or remove it\n";
          return kExitFailure;
        }
      }
    }
  }

  // Nodes left to the user: as asked, else (a cluster started again) as remembered.
  std::set<std::string> external(o.external.begin(), o.external.end());
  if (external.empty() && existing) external = readExternal(paths);

  runtime::ClusterConfig config;
  if (existing) {
    config = *existing;
    for (const auto& n : config.nodes) {
      if (external.count(n.name) != 0) continue;  // may be running already: the user's
      if (!portFree(n.port)) {
        err << "pcommit cluster start: port " << n.port << " (" << n.name
            << ") on 127.0.0.1 is in use by another process\n";
        return kExitFailure;
      }
    }
  } else {
    uint16_t base = 0;
    if (o.portBase) {
      base = *o.portBase;
      for (int i = 0; i < nodeCount; ++i) {
        auto port = static_cast<uint16_t>(base + i);
        if (!portFree(port)) {
          err << "pcommit cluster start: port " << port << " on 127.0.0.1 is in use (ports " << base
              << ".." << base + nodeCount - 1
              << " are needed); choose another --port-base or leave it out\n";
          return kExitFailure;
        }
      }
    } else {
      auto found = findFreePorts(kDefaultPortBase, nodeCount);
      if (!found) {
        err << "pcommit cluster start: no " << nodeCount << " consecutive free ports from "
            << kDefaultPortBase << " on 127.0.0.1\n";
        return kExitFailure;
      }
      base = *found;
    }
    config = buildConfig(o, paths, base);
    for (const auto& n : config.nodes) {
      if (n.metricsPort != 0 && !portFree(n.metricsPort)) {
        err << "pcommit cluster start: metrics port " << n.metricsPort << " (" << n.name
            << ") on 127.0.0.1 is in use; choose another --metrics-port-base\n";
        return kExitFailure;
      }
    }
    const std::string text = config.render();
    try {
      // What the nodes will read: validate it as they will, before writing it.
      runtime::parseClusterText(text, paths.conf.string());
    } catch (const runtime::ConfigError& e) {
      err << "pcommit cluster start: " << e.what() << "\n";
      return kExitUsage;
    }
    std::string error;
    if (!writeFileAtomically(paths.conf, text, error)) {
      err << "pcommit cluster start: " << error << "\n";
      return kExitFailure;
    }
  }
  for (const auto& n : config.nodes) {
    fs::create_directories(config.dataDirOf(n), ec);
    if (ec) {
      err << "pcommit cluster start: cannot create " << config.dataDirOf(n) << ": " << ec.message()
          << "\n";
      return kExitFailure;
    }
  }

  {
    std::string text;
    for (const auto& name : external) text += name + "\n";
    std::string error;
    if (text.empty()) {
      removePidFile(paths.externalFile());
    } else if (!writeFileAtomically(paths.externalFile(), text, error)) {
      err << "pcommit cluster start: " << error << "\n";
      return kExitFailure;
    }
  }
  std::vector<const runtime::NodeInfo*> ours;
  for (const auto* n : allNodes(config)) {
    if (external.count(n->name) == 0) ours.push_back(n);
  }
  const auto groups = ourGroups(config, external);
  std::string processes;
  if (config.colocate != runtime::Colocate::None) {
    processes = " in " + std::to_string(groups.size()) + " processes";
  }
  out << "starting " << ours.size() << " nodes" << processes << " (" << toString(config.protocol)
      << ", f = " << config.f << ", ports " << config.nodes.front().port << ".."
      << config.nodes.back().port;
  if (config.colocate != runtime::Colocate::None) {
    out << ", colocate " << runtime::toString(config.colocate) << ":";
    for (const auto& g : groups) {
      if (g.size() > 1) out << " [" << joinNames(g) << "]";
    }
  }
  out << ") in " << paths.dir.string() << "\n" << std::flush;
  int rc = launch(paths, groups, o.readyTimeoutMs, out, err);
  if (rc != kExitOk) return rc;
  for (const auto& n : config.nodes) {
    if (external.count(n.name) == 0) continue;
    out << "  " << n.name << " external: not started; run it with --config " << paths.conf.string()
        << " --node " << n.name << " (it listens on " << n.address() << ", data "
        << config.dataDirOf(n) << ")\n";
  }
  out << "cluster ready: " << ours.size() << " nodes" << processes;
  if (!external.empty()) out << " (+ " << external.size() << " external)";
  out << "; cluster file " << paths.conf.string() << "\n";
  return kExitOk;
}

int stopCluster(const std::string& dir, std::ostream& out, std::ostream& err) {
  auto paths = existingCluster("stop", dir, err);
  if (!paths) return kExitUsage;
  auto config = loadConfig(*paths, err);
  if (!config) return kExitUsage;
  bool ok = stopNodes(*paths, allNodes(*config), out);
  out << (ok ? "cluster stopped: " : "cluster NOT fully stopped: ") << paths->dir.string() << "\n";
  return ok ? kExitOk : kExitFailure;
}

int restartNode(const std::string& dir, const std::string& node, std::ostream& out,
                std::ostream& err) {
  auto paths = existingCluster("restart", dir, err);
  if (!paths) return kExitUsage;
  auto config = loadConfig(*paths, err);
  if (!config) return kExitUsage;
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
    return kExitFailure;
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
      return kExitFailure;
    }
  }
  for (const auto* m : group) {
    if (!portFree(m->port)) {
      err << "pcommit cluster restart: port " << m->port << " of " << m->name
          << " is in use by another process\n";
      return kExitFailure;
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
  return launch(*paths, {group}, ClusterStartOptions().readyTimeoutMs, out, err);
}

int clusterStatus(const std::string& dir, bool json, std::ostream& out, std::ostream& err) {
  auto paths = existingCluster("status", dir, err);
  if (!paths) return kExitUsage;
  auto config = loadConfig(*paths, err);
  if (!config) return kExitUsage;
  const auto nodes = allNodes(*config);
  const std::vector<NodeReport> reports = queryStatus(nodes, kHealthTimeoutMs);
  const auto groups = ourGroups(*config, readExternal(*paths));

  struct Row {
    const runtime::NodeInfo* node;
    std::optional<pid_t> pid;
    bool alive = false;
    bool healthy = false;
    std::string error;
    const NodeReport* report;
    bool external = false;
    std::vector<std::string> with;  // the other nodes of its process (co-located)
  };
  const std::set<std::string> external = readExternal(*paths);
  std::vector<Row> rows;
  bool allHealthy = true;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Row r{
        nodes[i], std::nullopt, false, false, "", &reports[i], external.count(nodes[i]->name) != 0,
        {}};
    NodeProcess p = processOf(*paths, r.node->name);
    r.healthy = healthy(reports[i], *r.node, r.error);
    if (p.state == PidState::Running) {
      r.pid = p.pid;
      r.alive = true;
    } else if (r.healthy) {
      // Started by other means (no pid file from us): trust its own answer.
      r.pid = static_cast<pid_t>(reports[i].pid);
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
    for (const auto* m : groupOf(groups, r.node)) {
      if (m != r.node) r.with.push_back(m->name);
    }
    allHealthy = allHealthy && r.healthy;
    rows.push_back(std::move(r));
  }

  if (json) {
    out << "{\"dir\": " << jsonString(paths->dir.string())
        << ", \"cluster_file\": " << jsonString(paths->conf.string())
        << ", \"protocol\": " << jsonString(toString(config->protocol)) << ", \"f\": " << config->f
        << ", \"colocate\": " << jsonString(runtime::toString(config->colocate))
        << ", \"healthy\": " << (allHealthy ? "true" : "false") << ",\n \"nodes\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      const NodeReport& rep = *r.report;
      out << (i ? ",\n  " : "\n  ") << "{\"name\": " << jsonString(r.node->name)
          << ", \"id\": " << r.node->id << ", \"role\": " << jsonString(toString(r.node->role))
          << ", \"address\": " << jsonString(r.node->address())
          << ", \"pid\": " << (r.pid ? std::to_string(*r.pid) : "null")
          << ", \"alive\": " << (r.alive ? "true" : "false")
          << ", \"healthy\": " << (r.healthy ? "true" : "false")
          << ", \"error\": " << (r.healthy ? "null" : jsonString(r.error))
          << ", \"uptime_ms\": " << (r.healthy ? std::to_string(rep.uptimeMs) : "null")
          << ", \"in_doubt\": ";
      if (r.healthy && r.node->role == runtime::Role::Participant) {
        out << "[";
        for (size_t j = 0; j < rep.inDoubt.size(); ++j) {
          const auto& d = rep.inDoubt[j];
          out << (j ? ", " : "") << "{\"txn\": " << jsonString(d.txn) << ", \"age_ms\": " << d.ageMs
              << ", \"leader\": "
              << (d.leader == kNoNode ? "null" : jsonString(runtime::nameForId(d.leader)))
              << ", \"recovering\": " << (d.recovering ? "true" : "false")
              << ", \"waiting_for\": " << jsonString(d.waitingFor) << "}";
        }
        out << "]";
      } else {
        out << "null";
      }
      out << ", \"counters\": ";
      if (r.healthy) {
        out << "{";
        for (size_t j = 0; j < rep.counters.size(); ++j) {
          out << (j ? ", " : "") << jsonString(rep.counters[j].first) << ": "
              << rep.counters[j].second;
        }
        out << "}";
      } else {
        out << "null";
      }
      out << ", \"external\": " << (r.external ? "true" : "false") << ", \"colocated_with\": [";
      for (size_t j = 0; j < r.with.size(); ++j) out << (j ? ", " : "") << jsonString(r.with[j]);
      out << "]}";
    }
    out << "\n]}\n";
  } else {
    size_t healthyCount = 0;
    for (const auto& r : rows) healthyCount += r.healthy ? 1 : 0;
    out << "cluster " << paths->dir.string() << " (" << toString(config->protocol)
        << ", f = " << config->f;
    if (config->colocate != runtime::Colocate::None) {
      out << ", colocate " << runtime::toString(config->colocate)
          << ": co-located nodes share one process and pid";
    }
    out << "): " << healthyCount << " of " << rows.size() << " nodes healthy\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-5s %-12s %-21s %-8s %-6s %-8s %s\n", "NODE", "ROLE",
                  "ADDRESS", "PID", "ALIVE", "HEALTHY", "IN-DOUBT");
    out << line;
    for (const auto& r : rows) {
      std::string inDoubt = "-";
      if (r.healthy && r.node->role == runtime::Role::Participant) {
        inDoubt = std::to_string(r.report->inDoubt.size());
      }
      std::snprintf(line, sizeof line, "%-5s %-12s %-21s %-8s %-6s %-8s %s", r.node->name.c_str(),
                    toString(r.node->role), r.node->address().c_str(),
                    r.pid ? std::to_string(*r.pid).c_str() : "-", r.alive ? "yes" : "no",
                    r.healthy ? "yes" : "no", inDoubt.c_str());
      out << line;
      if (r.external) out << "   external";
      if (!r.with.empty()) {
        out << "   one process with ";
        for (size_t j = 0; j < r.with.size(); ++j) out << (j ? ", " : "") << r.with[j];
      }
      if (!r.healthy) out << "   (" << r.error << ")";
      out << "\n";
      if (r.healthy) {
        for (const auto& d : r.report->inDoubt) {
          out << "      txn " << d.txn << "  age " << d.ageMs << " ms  leader "
              << (d.leader == kNoNode ? std::string("-") : runtime::nameForId(d.leader))
              << (d.recovering ? "  recovering" : "") << "  waiting for " << d.waitingFor << "\n";
        }
      }
    }
  }
  out.flush();
  return allHealthy ? kExitOk : kExitFailure;
}

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
  if (sub == "start") return runStart(rest);
  if (sub == "stop") return runStop(rest);
  if (sub == "status") return runStatus(rest);
  if (sub == "restart") return runRestart(rest);
  std::cerr << "pcommit cluster: unknown subcommand '" << sub << "'\n";
  clusterUsage(std::cerr);
  return kExitUsage;
}

}  // namespace pc::cli
