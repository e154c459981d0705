// `pcommit cluster start|status|restart|stop` end to end: real node processes on
// 127.0.0.1 (a checked free port range), the real binary. If this fails, scripts and the
// e2e suite that drive clusters through the command would break. Every test stops its
// nodes and removes its directory, even when a check fails.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cluster_config.h"

#ifndef PC_PCOMMIT_PATH
#error "PC_PCOMMIT_PATH must name the pcommit binary"
#endif

namespace fs = std::filesystem;

namespace {

struct RunResult {
  int code = -1;  // exit code; -1 if killed by a signal or timed out
  std::string out;
  std::string err;
};

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool portFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A random free range away from the default 7100, so parallel tests rarely collide.
int freePortBase(int count) {
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = 20000 + static_cast<int>(rng() % 20000);
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = portFree(base + i);
    if (all) return base;
  }
  FAIL("no free port range");
  return 0;
}

bool processExists(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A temporary cluster directory; the destructor stops whatever runs there (through the
// command, then SIGKILL to any pid file's process left) and removes the directory.
class ClusterDir {
 public:
  ClusterDir() {
    std::string tmpl = (fs::temp_directory_path() / "pc_cluster_cli_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
  }
  ~ClusterDir() {
    run({"cluster", "stop", "--dir", dir_.string()});
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != ".pid") continue;
      std::ifstream in(entry.path());
      long pid = 0;
      if (in >> pid && pid > 1 && pid != ::getpid()) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    fs::remove_all(dir_, ec);
  }
  ClusterDir(const ClusterDir&) = delete;
  ClusterDir& operator=(const ClusterDir&) = delete;

  const fs::path& path() const { return dir_; }
  std::string str() const { return dir_.string(); }

  // Runs pcommit with `args` (and `env` as extra NAME=VALUE), output to files, bounded.
  RunResult run(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                int timeoutMs = 60000) const {
    const fs::path outFile = dir_ / ".test.out";
    const fs::path errFile = dir_ / ".test.err";
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int out = ::open(outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0) ::_exit(126);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<std::string> all = {PC_PCOMMIT_PATH};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    RunResult r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    int status = 0;
    for (;;) {
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
    r.out = readAll(outFile);
    r.err = readAll(errFile);
    return r;
  }

  std::optional<pid_t> pidOf(const std::string& node) const {
    std::ifstream in(dir_ / (node + ".pid"));
    long pid = 0;
    if (!(in >> pid)) return std::nullopt;
    return static_cast<pid_t>(pid);
  }

 private:
  fs::path dir_;
};

}  // namespace

TEST_CASE("usage errors exit 64 and name the bad option") {
  // If this fails, scripts cannot tell a typo from a failed cluster.
  ClusterDir d;
  struct Case {
    std::vector<std::string> args;
    const char* mentions;
  };
  for (const Case& c : std::vector<Case>{
           {{"cluster"}, "usage: pcommit cluster"},
           {{"cluster", "launch"}, "unknown subcommand 'launch'"},
           {{"cluster", "start"}, "'--dir'"},
           {{"cluster", "start", "--dir", d.str(), "--f", "1", "--acceptors", "5"},
            "--acceptors 5 must equal 2F+1 = 3"},
           {{"cluster", "start", "--dir", d.str(), "--acceptors", "4"}, "--acceptors 4"},
           {{"cluster", "start", "--dir", d.str(), "--protocol", "3pc"}, "--protocol 3pc"},
           {{"cluster", "start", "--dir", d.str(), "--participants", "x"}, "'--participants'"},
           {{"cluster", "start", "--dir", d.str(), "--coordinators", "0"}, "--coordinators 0"},
           {{"cluster", "start", "--dir", d.str(), "--fanout", "most"}, "--fanout most"},
           {{"cluster", "start", "--dir", d.str(), "--port-base", "65530"}, "--port-base 65530"},
           {{"cluster", "start", "--dir", d.str(), "--colour"}, "'--colour'"},
           {{"cluster", "stop", "--dir", d.str(), "now"}, "unexpected argument 'now'"},
           {{"cluster", "status", "--dir", d.str()}, "no cluster here"},
           {{"cluster", "restart", "--dir", d.str()}, "which node?"},
       }) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    CAPTURE(joined);
    RunResult r = d.run(c.args);
    CAPTURE(r.err);
    CHECK(r.code == 64);
    CHECK(r.err.find(c.mentions) != std::string::npos);
  }
  for (const char* sub : {"start", "stop", "status", "restart"}) {
    RunResult r = d.run({"cluster", sub, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find(std::string("usage: pcommit cluster ") + sub) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(d.path() / "cluster.conf"));  // nothing started
}

TEST_CASE("start, status, kill -9, restart, stop: the cluster lifecycle through the command") {
  // If this fails, the e2e suite cannot start, observe, heal or clean up a cluster.
  ClusterDir d;
  const int base = freePortBase(6);
  RunResult r = d.run({"cluster", "start", "--dir", d.str(), "--participants", "2",
                       "--coordinators", "1", "--f", "1", "--port-base", std::to_string(base),
                       "--tick-ms", "2", "--recovery-timeout-ms", "300"});
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, ", log ") == 6);  // one progress line per node
  CHECK(r.out.find("cluster ready: 6 nodes") != std::string::npos);

  // The cluster file is what the options said, and every node has its pid file and log.
  pc::runtime::ClusterConfig c = pc::runtime::loadClusterFile((d.path() / "cluster.conf").string());
  CHECK(c.protocol == pc::Protocol::Paxos);
  CHECK(c.tickMs == 2);
  CHECK(c.recoveryTimeoutMs == 300);
  REQUIRE(c.nodes.size() == 6);
  CHECK(c.nodes.front().port == base);
  for (const auto& n : c.nodes) {
    CAPTURE(n.name);
    auto pid = d.pidOf(n.name);
    REQUIRE(pid.has_value());
    CHECK(processExists(*pid));
    CHECK(fs::exists(d.path() / (n.name + ".log")));
    CHECK(fs::is_directory(d.path() / n.name));
  }

  r = d.run({"cluster", "status", "--dir", d.str()});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("6 of 6 nodes healthy") != std::string::npos);

  r = d.run({"cluster", "status", "--dir", d.str(), "--json"});
  CHECK(r.code == 0);
  CHECK(r.out.find("\"healthy\": true,") != std::string::npos);
  CHECK(count(r.out, "\"alive\": true") == 6);
  CHECK(count(r.out, "\"in_doubt\": []") == 2);  // participants, none in doubt
  CHECK(r.out.find("\"name\": \"p2\", \"id\": 1002, \"role\": \"participant\"") !=
        std::string::npos);

  // A second start on a running cluster is refused and changes nothing.
  r = d.run({"cluster", "start", "--dir", d.str()});
  CHECK(r.code == 1);
  CHECK(r.err.find("already holds a running cluster") != std::string::npos);

  // kill -9 one participant: status names it and fails.
  const pid_t p1 = *d.pidOf("p1");
  REQUIRE(::kill(p1, SIGKILL) == 0);
  for (int i = 0; i < 100 && processExists(p1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r = d.run({"cluster", "status", "--dir", d.str(), "--json"});
  CHECK(r.code == 1);
  CHECK(r.out.find("\"healthy\": false,") != std::string::npos);
  CHECK(r.out.find("\"name\": \"p1\", \"id\": 1001, \"role\": \"participant\", \"address\": "
                   "\"127.0.0.1:" +
                   std::to_string(base + 1) + "\", \"pid\": " + std::to_string(p1) +
                   ", \"alive\": false, \"healthy\": false") != std::string::npos);

  r = d.run({"cluster", "restart", "--dir", d.str(), "p1"});
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("p1 ready") != std::string::npos);
  auto newP1 = d.pidOf("p1");
  REQUIRE(newP1.has_value());
  CHECK(*newP1 != p1);
  r = d.run({"cluster", "restart", "--dir", d.str(), "p1"});
  CHECK(r.code == 1);
  CHECK(r.err.find("already running") != std::string::npos);
  r = d.run({"cluster", "restart", "--dir", d.str(), "p9"});
  CHECK(r.code == 64);
  CHECK(r.err.find("unknown node 'p9'") != std::string::npos);
  r = d.run({"cluster", "status", "--dir", d.str()});
  CHECK(r.code == 0);

  // A stale pid file naming a process that is not the node (here: this test) must not be
  // signalled by stop; c1, whose pid file it replaced, is then ours to kill.
  const pid_t a1 = *d.pidOf("a1");
  const pid_t c1 = *d.pidOf("c1");
  { std::ofstream(d.path() / "c1.pid") << ::getpid() << "\n"; }
  r = d.run({"cluster", "stop", "--dir", d.str()});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("c1: pid " + std::to_string(::getpid()) + " is not this node") !=
        std::string::npos);
  CHECK(r.out.find("a1: stopped (pid " + std::to_string(a1)) != std::string::npos);
  CHECK_FALSE(processExists(a1));
  CHECK_FALSE(processExists(*newP1));
  for (const auto& n : c.nodes) CHECK_FALSE(fs::exists(d.path() / (n.name + ".pid")));
  CHECK(fs::exists(d.path() / "p1.log"));  // logs are kept
  CHECK(processExists(c1));
  ::kill(c1, SIGKILL);
}

TEST_CASE("a stopped cluster starts again with its data; a different one is refused") {
  // If this fails, `start` could silently mix a new configuration with old node data.
  ClusterDir d;
  const int base = freePortBase(5);
  const std::vector<std::string> start = {
      "cluster", "start",          "--dir", d.str(),       "--participants",
      "1",       "--coordinators", "1",     "--port-base", std::to_string(base)};
  REQUIRE(d.run(start).code == 0);
  REQUIRE(d.run({"cluster", "stop", "--dir", d.str()}).code == 0);
  RunResult r = d.run({"cluster", "start", "--dir", d.str(), "--participants", "2",
                       "--coordinators", "1", "--port-base", std::to_string(base)});
  CHECK(r.code == 1);
  CHECK(r.err.find("differs (participants: 1 there, 2 asked for)") != std::string::npos);
  r = d.run(start);
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("starting it again with its data") != std::string::npos);
}

TEST_CASE("a node that cannot start fails the start with its log, and nothing is left running") {
  // If this fails, a broken cluster start would hang for 20 s or leave orphan processes.
  ClusterDir d;
  const int base = freePortBase(5);
  RunResult r = d.run({"cluster", "start", "--dir", d.str(), "--participants", "1",
                       "--coordinators", "1", "--port-base", std::to_string(base)},
                      {"PCOMMIT_FAILPOINTS=coordinator.after_prepare_sent=explode"});
  CAPTURE(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("exited") != std::string::npos);
  // Every node inherits the bad spec; the one seen exiting first is named with its log.
  bool namesALog = false;
  for (const char* n : {"c1", "p1", "a1", "a2", "a3"}) {
    namesALog |= r.err.find((d.path() / (std::string(n) + ".log")).string()) != std::string::npos;
  }
  CHECK(namesALog);
  CHECK(r.err.find("unknown action 'explode'") != std::string::npos);  // the log's tail
  for (const char* n : {"c1", "p1", "a1", "a2", "a3"}) {
    CHECK_FALSE(fs::exists(d.path() / (std::string(n) + ".pid")));
  }
  // The nodes inherit PCOMMIT_FAILPOINTS: a good spec arms them (the log says so).
  r = d.run({"cluster", "start", "--dir", d.str(), "--participants", "1", "--coordinators", "1",
             "--port-base", std::to_string(base)},
            {"PCOMMIT_FAILPOINTS=coordinator.before_reply=delay(1)"});
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(readAll(d.path() / "c1.log").find("failpoints armed: coordinator.before_reply=delay(1)") !=
        std::string::npos);
}

TEST_CASE("cluster starts at the same time without --port-base choose different ports") {
  // If this fails, two benchmarks or test scripts on one machine pick the same free range
  // (both check it free before either's nodes bind) and one start fails with 'Address
  // already in use' (CI, session 7: bench_smoke beside bench_net_delay_smoke).
  constexpr int kStarts = 3;
  std::vector<std::unique_ptr<ClusterDir>> dirs;
  for (int i = 0; i < kStarts; ++i) dirs.push_back(std::make_unique<ClusterDir>());
  std::vector<RunResult> results(kStarts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarts; ++i) {
    threads.emplace_back([&, i] {
      results[i] = dirs[i]->run({"cluster", "start", "--dir", dirs[i]->str(), "--participants",
                                 "1", "--coordinators", "1"});
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> ports;
  size_t nodes = 0;
  for (int i = 0; i < kStarts; ++i) {
    CAPTURE(results[i].err);
    REQUIRE(results[i].code == 0);
    pc::runtime::ClusterConfig c =
        pc::runtime::loadClusterFile((dirs[i]->path() / "cluster.conf").string());
    for (const auto& n : c.nodes) ports.insert(n.port);
    nodes += c.nodes.size();
  }
  CHECK(ports.size() == nodes);  // no port in two clusters
}
