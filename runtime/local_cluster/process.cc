// Node processes (local_cluster.h): which process is which node, starting one detached,
// and the ports they listen on.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "runtime/local_cluster/internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace pc::local_cluster::detail {

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

namespace {

std::vector<std::string> cmdlineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  for (std::string arg; std::getline(in, arg, '\0');) argv.push_back(arg);
  return argv;
}

// The command line (without the program) of the process running `nodes` (one, or a group
// of co-located ones).
std::vector<std::string> serveArgs(const ClusterPaths& paths, const Nodes& nodes) {
  std::vector<std::string> args = {"serve", "--config", paths.conf.string()};
  for (const auto* n : nodes) {
    args.push_back("--node");
    args.push_back(n->name);
  }
  return args;
}

}  // namespace

// Whether `pid` is node `node` of this cluster: its command line is one we start (any
// binary path): serve --config CONF, then only --node pairs, one of them naming `node`,
// and possibly --rejoin-empty last (cluster restart --rejoin-empty).
// Guards against signalling a process that reused a stale pid.
bool isOurNode(pid_t pid, const ClusterPaths& paths, const std::string& node) {
  std::vector<std::string> argv = cmdlineOf(pid);
  if (!argv.empty() && argv.back() == kRejoinEmptyFlag) argv.pop_back();
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

namespace {

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

}  // namespace

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

namespace {

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

// The node process, in the grandchild: clean signal state, stdin /dev/null, stdout and
// stderr appended to its log, cwd DIR, then exec. Only system calls (we are after fork).
[[noreturn]] void execNode(int statusFd, char* const* argv, const std::string& log,
                           const std::string& banner, const std::string& dir) {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
  int in = ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) {
    writeRecord(statusFd, kStepDevNull, errno);
    ::_exit(127);
  }
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(out, STDERR_FILENO) < 0) {
    writeRecord(statusFd, kStepLog, errno);
    ::_exit(127);
  }
  ssize_t n = ::write(STDOUT_FILENO, banner.data(), banner.size());
  (void)n;
  if (::chdir(dir.c_str()) != 0) {
    writeRecord(statusFd, kStepChdir, errno);
    ::_exit(127);
  }
  // Nothing of ours leaks into the node (the status pipe closes at exec).
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::execv(argv[0], argv);
  writeRecord(statusFd, kStepExec, errno);
  ::_exit(127);
}

// What the children reported through the status pipe: the node's pid, or 0 with `error`.
pid_t readSpawnRecords(int fd, const std::string& exe, const std::string& log, std::string& error) {
  pid_t pid = 0;
  SpawnRecord r{};
  for (;;) {
    ssize_t n = ::read(fd, &r, sizeof r);
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
  if (pid == 0 && error.empty()) error = "the node process did not start";
  return pid;
}

}  // namespace

// Starts the process of `nodes` (one node, or a group of co-located ones) detached (double
// fork: it is nobody's child here, so it never lingers as our zombie, and init reaps it);
// it logs to the first node's log. Returns its pid, or 0 with `error`. Everything the
// children need is prepared before fork(); they only make system calls.
pid_t spawnNode(const std::string& exe, const ClusterPaths& paths, const Nodes& nodes,
                const std::vector<std::string>& flags, std::string& error) {
  std::vector<std::string> args = serveArgs(paths, nodes);
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.begin(), exe);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = paths.logFile(nodes.front()->name).string();
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
    execNode(fds[1], argv.data(), log, banner, paths.dir.string());
  }
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = readSpawnRecords(fds[0], exe, log, error);
  ::close(fds[0]);
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

PortLock::PortLock(int waitMs, std::ostream& out) {
  // 0666: every user's starts share the one lock (umask may narrow it; then others skip it).
  int fd = ::open(kPortLockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  const auto start = Clock::now();
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fd_ = fd;
      return;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) break;
    if (msSince(start) >= waitMs) {
      out << "pcommit cluster start: another cluster start held " << kPortLockFile << " for "
          << waitMs / 1000 << " s; choosing ports without it\n";
      break;
    }
    sleepMs(20);
  }
  ::close(fd);
}

PortLock::~PortLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace pc::local_cluster::detail
