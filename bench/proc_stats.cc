// /proc statistics of local nodes (proc_stats.h) and of this machine.
#include "bench/proc_stats.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace pc::bench {

namespace {

// Whether /proc/PID/cmdline shows that PID is this node's `pcommit serve` (not: a remote
// cluster, or the pid was reused).
bool isLocalNode(const NodeHandle& n) {
  if (n.pid == 0) return false;
  std::ifstream cmd("/proc/" + std::to_string(n.pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  return cmdline.find("serve") != std::string::npos && cmdline.find(n.name) != std::string::npos;
}

// VmRSS of a local node's process.
uint64_t rssKiB(const NodeHandle& n) {
  if (!isLocalNode(n)) return 0;
  std::ifstream in("/proc/" + std::to_string(n.pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// utime + stime of a local node's process (every thread), in clock ticks; nullopt if it is
// not this machine's node or /proc/PID/stat cannot be read.
std::optional<uint64_t> cpuTicks(const NodeHandle& n) {
  if (!isLocalNode(n)) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(n.pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // pid (comm) state ppid ... : comm may hold spaces, so count from its closing parenthesis.
  // utime and stime are fields 14 and 15; state, the first after it, is field 3.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    if (!(fields >> field)) return std::nullopt;
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return utime + stime;
}

// CPU time of this process (every thread), in microseconds.
double processCpuUs() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

}  // namespace

std::optional<MachineTicks> parseProcStat(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu ", 0) != 0) continue;
    std::istringstream fields(line.substr(4));
    MachineTicks t;
    uint64_t v = 0;
    int n = 0;
    // user nice system idle iowait irq softirq steal; guest and guest_nice (9, 10) are
    // counted in user and nice already.
    while (n < 8 && fields >> v) {
      t.total += v;
      if (n == 7) t.steal = v;
      ++n;
    }
    if (n < 8) return std::nullopt;
    return t;
  }
  return std::nullopt;
}

CpuReading readCpu(const std::vector<NodeHandle>& nodes) {
  CpuReading r;
  for (const auto& n : nodes) r.nodeTicks.push_back(cpuTicks(n));
  r.clientUs = processCpuUs();
  std::ifstream stat("/proc/stat");
  r.machine = parseProcStat(
      std::string((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>()));
  return r;
}

namespace {

unsigned onlineCpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (n > 0) return static_cast<unsigned>(n);
  return std::max(std::thread::hardware_concurrency(), 1u);
}

}  // namespace

CpuUse cpuUse(const std::vector<NodeHandle>& nodes, const CpuReading& start, const CpuReading& end,
              uint64_t committed) {
  CpuUse u;
  u.nodesTotal = static_cast<int>(nodes.size());
  u.cpus = onlineCpus();
  if (start.machine && end.machine && end.machine->total > start.machine->total &&
      end.machine->steal >= start.machine->steal) {
    u.stealMeasured = true;
    u.stealPct = 100.0 * static_cast<double>(end.machine->steal - start.machine->steal) /
                 static_cast<double>(end.machine->total - start.machine->total);
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  if (committed == 0 || hz <= 0) return u;
  double usPerTick = 1e6 / static_cast<double>(hz);
  double txns = static_cast<double>(committed);
  double nodesUs = 0;
  // Co-located nodes (one `serve` with several --node) share a pid: its CPU counts once,
  // under the participant's role if the process hosts one, else its first node's.
  std::map<uint32_t, size_t> owner;  // pid -> the node its CPU is booked to
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto [it, fresh] = owner.try_emplace(nodes[i].pid, i);
    if (!fresh && nodes[i].role == runtime::Role::Participant &&
        nodes[it->second].role != runtime::Role::Participant) {
      it->second = i;
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto& a = start.nodeTicks[i];
    const auto& b = end.nodeTicks[i];
    if (!a || !b || *b < *a) continue;  // not local, gone, or restarted (a new process)
    if (owner.at(nodes[i].pid) != i) {  // counted with the node its process is booked to
      ++u.nodesCounted;
      continue;
    }
    double us = static_cast<double>(*b - *a) * usPerTick;
    nodesUs += us;
    u.byRoleUsPerTxn[runtime::toString(nodes[i].role)] += us / txns;
    ++u.nodesCounted;
  }
  if (u.nodesCounted == 0) return u;
  u.measured = true;
  u.nodesUsPerTxn = nodesUs / txns;
  u.clientUsPerTxn = std::max(end.clientUs - start.clientUs, 0.0) / txns;
  double total = u.nodesUsPerTxn + u.clientUsPerTxn;
  if (u.nodesCounted == u.nodesTotal && total > 0) {
    u.ceilingTps = static_cast<double>(u.cpus) * 1e6 / total;
  }
  return u;
}

namespace {

uint64_t diskBytes(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;  // allocated, as du shows it
}

}  // namespace

ResourceSample sampleOf(const std::vector<NodeHandle>& nodes, const std::string& when,
                        double atSeconds) {
  ResourceSample s;
  s.when = when;
  s.atSeconds = atSeconds;
  for (const auto& n : nodes) {
    s.nodes.push_back(NodeResources{n.name, n.pid, rssKiB(n), diskBytes(n.dataFile)});
  }
  return s;
}

namespace {

// The idle driver, and with haltpoll (a KVM guest) its poll limit: with halt polling off
// (guest_halt_poll_ns 0) every wake-up of an idle vCPU is a VM exit and a host reschedule,
// which on the CI machine put ~80 us on each wake-up and ~60 us on each loopback round
// trip (docs/perf/HISTORY.md, session 16). Empty when the kernel does not say.
std::string cpuidleDescription() {
  std::string driver;
  std::ifstream d("/sys/devices/system/cpu/cpuidle/current_driver");
  if (!std::getline(d, driver) || driver.empty()) return "";
  std::string text = "cpuidle " + driver;
  std::string poll;
  std::ifstream p("/sys/module/haltpoll/parameters/guest_halt_poll_ns");
  if (driver == "haltpoll" && std::getline(p, poll) && !poll.empty()) {
    text += " (guest_halt_poll_ns " + poll + ")";
  }
  return text;
}

}  // namespace

std::string machineDescription() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  struct utsname u {};
  ::uname(&u);
  std::string model;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  std::ostringstream os;
  os << host << ", " << std::thread::hardware_concurrency() << " cpus"
     << (model.empty() ? "" : " (" + model + ")") << ", " << u.sysname << " " << u.release << " "
     << u.machine;
  const std::string idle = cpuidleDescription();
  if (!idle.empty()) os << ", " << idle;
  return os.str();
}

}  // namespace pc::bench
