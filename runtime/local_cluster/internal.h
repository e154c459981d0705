// The parts of the local-cluster library its files share (not installed, not for callers:
// local_cluster.h is the interface). files.cc: the cluster directory; process.cc: node
// processes and ports; health.cc: the status RPC; launch.cc: starting, waiting, stopping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "runtime/cluster_config.h"
#include "runtime/local_cluster/local_cluster.h"

namespace pc::local_cluster::detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Nodes = std::vector<const runtime::NodeInfo*>;
using Groups = std::vector<Nodes>;

inline constexpr uint16_t kDefaultPortBase = 7100;
inline constexpr int kHealthTimeoutMs = 1000;  // `cluster status`: a status RPC answers within this

void sleepMs(int ms);
int64_t msSince(Clock::time_point t);
std::string errnoText(int e);

// ---- files.cc: the files of one cluster directory (local_cluster.h) -----------------------
struct ClusterPaths {
  fs::path dir;   // absolute, canonical
  fs::path conf;  // dir/cluster.conf
  fs::path pidFile(const std::string& node) const { return dir / (node + ".pid"); }
  fs::path logFile(const std::string& node) const { return dir / (node + ".log"); }
  fs::path externalFile() const { return dir / "external"; }
};
ClusterPaths pathsFor(const fs::path& canonicalDir);
// Writes through a temporary file and rename(2), so a reader never sees half a file.
bool writeFileAtomically(const fs::path& path, const std::string& text, std::string& error);
std::optional<pid_t> readPidFile(const fs::path& path);
void removeFile(const fs::path& path);  // gone already is fine
// The last lines of a node's log, indented, for error messages.
std::string logTail(const fs::path& log);
// The nodes `cluster start --external` left to the user (DIR/external, one name a line).
std::set<std::string> readExternal(const ClusterPaths& paths);
std::string timestampUtc();
// "pcommit cluster SUB: MSG" and a pointer to --help, as the command's usage errors read.
int usageError(std::ostream& err, const std::string& sub, const std::string& msg);
// --dir of an existing cluster; nullopt (and a usage error) if it holds none.
std::optional<ClusterPaths> existingCluster(const std::string& sub, const std::string& dir,
                                            std::ostream& err);
std::optional<runtime::ClusterConfig> loadConfig(const ClusterPaths& paths, std::ostream& err);

// ---- process.cc: node processes and ports --------------------------------------------------
// Whether `pid` names a process that has not exited (a zombie has).
bool processExists(pid_t pid);
// Whether `pid` is node `node` of this cluster: its command line is one we start.
bool isOurNode(pid_t pid, const ClusterPaths& paths, const std::string& node);
enum class PidState { None, Gone, Foreign, Running };
struct NodeProcess {
  PidState state = PidState::None;
  pid_t pid = 0;
};
// What DIR/NODE.pid names: no file, a gone process, another process, or the node.
NodeProcess processOf(const ClusterPaths& paths, const std::string& node);
std::string selfExe();
// Starts the process of `nodes` detached; its pid, or 0 with `error`.
// `flags` follow the --node pairs (only kRejoinEmptyFlag: isOurNode knows no other).
pid_t spawnNode(const std::string& exe, const ClusterPaths& paths, const Nodes& nodes,
                const std::vector<std::string>& flags, std::string& error);
inline constexpr const char* kRejoinEmptyFlag = "--rejoin-empty";
// Whether a listener could bind 127.0.0.1:port now.
bool portFree(uint16_t port);
// The first base >= from such that base..base+count-1 are all free.
std::optional<uint16_t> findFreePorts(uint16_t from, int count);
// Held by a `cluster start` from choosing its ports until its nodes listen on them, so two
// starts on one machine (two benchmarks, parallel tests) never pick the same free range:
// an flock(2) on kPortLockFile. Waits at most `waitMs`, then goes on without it (with a
// line on `out`); a lock file it cannot open (another user's, a read-only /tmp) is skipped.
class PortLock {
 public:
  PortLock(int waitMs, std::ostream& out);
  ~PortLock();
  PortLock(const PortLock&) = delete;
  PortLock& operator=(const PortLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};
inline constexpr const char* kPortLockFile = "/tmp/pcommit-cluster-ports.lock";

// ---- health.cc: the status RPC ---------------------------------------------------------------
struct NodeReport {
  bool answered = false;
  std::string error;  // why it did not answer
  Client::NodeStatus status;
};
// Asks every node for its status at once through pc::Client::status, each call bounded by
// `timeoutMs`, on an event loop of this thread's own.
std::vector<NodeReport> queryStatus(const runtime::ClusterConfig& config, const Nodes& nodes,
                                    int timeoutMs);
// A node is healthy if it answered as itself; another process on its port is not it.
bool healthy(const NodeReport& r, const runtime::NodeInfo& n, std::string& why);

// ---- launch.cc: starting, waiting, stopping ------------------------------------------------
std::string joinNames(const Nodes& nodes, const runtime::NodeInfo* except = nullptr);
Nodes allNodes(const runtime::ClusterConfig& c);
// The processes we run: the cluster file's groups without the external nodes.
Groups ourGroups(const runtime::ClusterConfig& c, const std::set<std::string>& external);
// The group of `node` in `groups`, empty if none holds it.
Nodes groupOf(const Groups& groups, const runtime::NodeInfo* node);
// SIGTERM to each running process of `nodes` (once per process), SIGKILL after the grace
// period; removes their pid files; one line per process or node. False if one survived.
bool stopNodes(const ClusterPaths& paths, const Nodes& nodes, std::ostream& out);
// Starts one process per group and waits until every node answers. On failure stops the
// ones it started and prints why, with the tail of each failed node's log. `flags` go to
// every serve command line (spawnNode).
int launch(const ClusterPaths& paths, const runtime::ClusterConfig& config, const Groups& groups,
           int timeoutMs, std::ostream& out, std::ostream& err,
           const std::vector<std::string>& flags = {});

}  // namespace pc::local_cluster::detail
