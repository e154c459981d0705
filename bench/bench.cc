#include "bench/bench.h"

#include <kj/vector.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "paxos_commit/assert.h"

namespace pc::bench {

namespace {

using Clock = std::chrono::steady_clock;

double perTxn(uint64_t count, uint64_t txns) {
  return txns == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(txns);
}

uint64_t get(const Counters& c, const std::string& name) {
  auto it = c.find(name);
  return it == c.end() ? 0 : it->second;
}

Counters delta(const Counters& before, const Counters& after) {
  Counters out;
  for (const auto& [k, v] : after) {
    uint64_t b = get(before, k);
    out[k] = v >= b ? v - b : 0;  // gauges (outbox, pending records) may shrink
  }
  return out;
}

void addInto(Counters& sum, const Counters& c) {
  for (const auto& [k, v] : c) sum[k] += v;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One node's pid and data file, for resource samples.
struct NodeHandle {
  std::string name;
  runtime::Role role = runtime::Role::Acceptor;
  uint32_t pid = 0;
  std::string dataFile;  // DATA/data.mdb
};

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

// CPU readings at one end of a measured phase.
struct CpuReading {
  std::vector<std::optional<uint64_t>> nodeTicks;  // per handle
  double clientUs = 0;
};

CpuReading readCpu(const std::vector<NodeHandle>& nodes) {
  CpuReading r;
  for (const auto& n : nodes) r.nodeTicks.push_back(cpuTicks(n));
  r.clientUs = processCpuUs();
  return r;
}

unsigned onlineCpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (n > 0) return static_cast<unsigned>(n);
  return std::max(std::thread::hardware_concurrency(), 1u);
}

CpuUse cpuUse(const std::vector<NodeHandle>& nodes, const CpuReading& start, const CpuReading& end,
              uint64_t committed) {
  CpuUse u;
  u.nodesTotal = static_cast<int>(nodes.size());
  u.cpus = onlineCpus();
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

uint64_t diskBytes(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;  // allocated, as du shows it
}

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

// The closed-loop clients of one run, all on one event loop through one pc::Client.
class Load {
 public:
  Load(kj::AsyncIoContext& io, Client& client, const LoadOptions& o)
      : io_(io), client_(client), opts_(o), rng_(o.seed) {
    auto all = client_.cluster().withRole(runtime::Role::Participant);
    size_t n = opts_.participants > 0 ? static_cast<size_t>(opts_.participants) : all.size();
    PC_ASSERT(n >= 1 && n <= all.size(), n, all.size());
    std::vector<const runtime::NodeInfo*> participants(all.begin(), all.begin() + n);
    value_ = std::string(opts_.payloadBytes, 'x');
    size_t pool = std::max<size_t>(opts_.keysPerParticipant, 1);
    for (int c = 0; c < opts_.clients; ++c) {
      ops_.push_back(rows("bench-c" + std::to_string(c) + "-", participants, pool));
      next_.push_back(0);
    }
    if (opts_.conflictRate > 0) {
      hot_ = rows("bench-hot-", participants, std::max<size_t>(opts_.hotKeys, 1));
    }
  }

  struct PhaseResult {
    double seconds = 0;
    uint64_t committed = 0, aborted = 0, unknown = 0;
    std::map<std::string, uint64_t> abortReasons, unknownReasons;
    std::vector<uint64_t> latenciesUs;
    bool interrupted = false;
    bool middleSampled = false;
    ResourceSample middle;
  };

  // Runs every client until `seconds` have passed, then waits for the transactions in flight.
  // If `nodes` is not empty, samples their resources half-way.
  PhaseResult phase(const std::string& name, double seconds, const std::vector<NodeHandle>& nodes) {
    result_ = PhaseResult{};
    stop_ = false;
    start_ = Clock::now();
    lastTick_ = start_;
    lastCount_ = 0;
    kj::Vector<kj::Promise<void>> loops;
    for (size_t c = 0; c < ops_.size(); ++c) loops.add(clientLoop(c));
    auto all = kj::joinPromises(loops.releaseAsArray());
    auto& timer = io_.provider->getTimer();
    // KJ continuations are lazy: these run only because they are evaluated eagerly.
    auto ticks = tickLoop(name, seconds).eagerlyEvaluate(nullptr);
    auto deadline = timer.afterDelay(static_cast<int64_t>(seconds * 1e6) * kj::MICROSECONDS)
                        .then([this] { stop_ = true; })
                        .eagerlyEvaluate(nullptr);
    kj::Promise<void> middle = kj::READY_NOW;
    if (!nodes.empty()) {
      middle = timer.afterDelay(static_cast<int64_t>(seconds * 0.5e6) * kj::MICROSECONDS)
                   .then([this, &nodes] {
                     result_.middle = sampleOf(nodes, "middle", secondsSince(start_));
                     result_.middleSampled = true;
                   })
                   .eagerlyEvaluate(nullptr);
    }
    all.wait(io_.waitScope);
    result_.seconds = secondsSince(start_);
    return std::move(result_);
  }

  void sleep(int ms) {
    io_.provider->getTimer().afterDelay(ms * kj::MILLISECONDS).wait(io_.waitScope);
  }

 private:
  using Txn = std::map<NodeId, std::vector<kv::Op>>;

  // `count` transactions, the i-th putting the i-th key of prefix's series that routes to
  // each participant.
  std::vector<Txn> rows(const std::string& prefix,
                        const std::vector<const runtime::NodeInfo*>& participants, size_t count) {
    std::vector<Txn> txns(count);
    for (const auto* p : participants) {
      size_t found = 0;
      for (uint64_t i = 0; found < count; ++i) {
        std::string key = prefix + p->name + "-" + std::to_string(i);
        if (client_.participantFor(key) == p->id) {
          txns[found++][p->id].push_back(kv::Op{kv::OpKind::Put, key, value_, 0});
        }
      }
    }
    return txns;
  }

  const Txn& pick(size_t c) {
    if (!hot_.empty() && std::uniform_real_distribution<double>(0, 1)(rng_) < opts_.conflictRate) {
      return hot_[std::uniform_int_distribution<size_t>(0, hot_.size() - 1)(rng_)];
    }
    const Txn& t = ops_[c][next_[c]];
    next_[c] = (next_[c] + 1) % ops_[c].size();
    return t;
  }

  kj::Promise<void> clientLoop(size_t c) {
    if (stop_) return kj::READY_NOW;
    auto sent = Clock::now();
    return client_.commit(client_.newTxnId(), pick(c)).then([this, c, sent](CommitResult r) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
      result_.latenciesUs.push_back(static_cast<uint64_t>(us));
      if (r.status == TxnStatus::Committed) {
        ++result_.committed;
      } else if (r.status == TxnStatus::Aborted) {
        ++result_.aborted;
        ++result_.abortReasons[reasonClass(r.reason)];
      } else {
        ++result_.unknown;
        ++result_.unknownReasons[reasonClass(r.reason)];
      }
      return clientLoop(c);
    });
  }

  kj::Promise<void> tickLoop(std::string name, double seconds) {
    return io_.provider->getTimer()
        .afterDelay(1 * kj::SECONDS)
        .then([this, name = std::move(name), seconds]() mutable -> kj::Promise<void> {
          if (opts_.interrupted && opts_.interrupted()) {
            stop_ = true;
            result_.interrupted = true;
          }
          if (opts_.progress) progressLine(name, seconds);
          if (stop_) return kj::READY_NOW;
          return tickLoop(std::move(name), seconds);
        });
  }

  // One line, rewritten in place: elapsed, counts, and the last second's rate and p50.
  void progressLine(const std::string& name, double seconds) {
    auto now = Clock::now();
    double el = std::chrono::duration<double>(now - start_).count();
    double dt = std::chrono::duration<double>(now - lastTick_).count();
    size_t n = result_.latenciesUs.size();
    std::vector<uint64_t> recent(result_.latenciesUs.begin() + static_cast<long>(lastCount_),
                                 result_.latenciesUs.end());
    std::sort(recent.begin(), recent.end());
    double tps = dt > 0 ? static_cast<double>(n - lastCount_) / dt : 0;
    lastTick_ = now;
    lastCount_ = n;
    std::ostringstream line;
    line << "  " << opts_.label << " " << name << " " << fixed(el, 0) << "/" << fixed(seconds, 0)
         << " s  committed " << result_.committed << "  aborted " << result_.aborted << "  unknown "
         << result_.unknown << "  now " << fixed(tps, 0) << " txn/s, p50 " << quantile(recent, 0.5)
         << " us";
    std::string s = line.str();
    if (s.size() < 100) s.append(100 - s.size(), ' ');
    *opts_.progress << "\r" << s << std::flush;
  }

  kj::AsyncIoContext& io_;
  Client& client_;
  const LoadOptions& opts_;
  std::mt19937_64 rng_;
  std::string value_;
  std::vector<std::vector<Txn>> ops_;  // [client][turn]
  std::vector<size_t> next_;           // [client]
  std::vector<Txn> hot_;               // [row]
  PhaseResult result_;
  bool stop_ = false;
  Clock::time_point start_, lastTick_;
  size_t lastCount_ = 0;
};

// Every node's counters summed, plus the client's own; the nodes' pids.
struct Snapshot {
  Counters nodes;
  Counters client;
  std::vector<NodeHandle> handles;
};

Snapshot snapshot(kj::AsyncIoContext& io, Client& client) {
  Snapshot s;
  const auto& cluster = client.cluster();
  for (const auto& n : cluster.nodes) {
    auto st = client.status(n.id).wait(io.waitScope);
    addInto(s.nodes, st.counters);
    s.handles.push_back(NodeHandle{n.name, n.role, st.pid, cluster.dataDirOf(n) + "/data.mdb"});
  }
  s.client = client.transportCounters();
  return s;
}

// Long enough for the messages and synced writes a transaction causes after its answer
// reached the client (outcomes to participants, their commit records) to be counted.
constexpr int kSettleMs = 300;

}  // namespace

Expected expectedCosts(Protocol protocol, int participants, int f, FanOut fanOut) {
  double n = participants;
  double a = fanOut == FanOut::Quorum ? f + 1.0 : 2.0 * f + 1;
  switch (protocol) {
    case Protocol::TwoPC:
      return {3 * n + 2, n + 1, 4};
    case Protocol::PaxosClassic:
      return {n * (a + 2) + a + 2, n + a, 5};
    case Protocol::Paxos:
      return {n * (2 * a + 1) + a + 2, n + a, 5};
    case Protocol::PaxosDirect:
      return {n * (2 * a + 1) + a, n + a, 3};
  }
  return {};
}

uint64_t logicalMessages(const Counters& c) {
  uint64_t sum = 0;
  for (const auto& [k, v] : c) {
    if (k.rfind("sent_", 0) != 0 || k == "sent_Ack" || k == "sent_AckRequest") continue;
    sum += v;
  }
  return sum;
}

std::string reasonClass(const std::string& reason) {
  std::string out;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < reason.size();) {
    char ch = reason[i];
    if (ch == '\'') {  // a quoted key
      size_t end = reason.find('\'', i + 1);
      if (end == std::string::npos) end = reason.size() - 1;
      out += "'K'";
      i = end + 1;
    } else if (alnum(ch)) {
      // A word: a number or a hex id (hex digits, at least one decimal digit) becomes N.
      size_t j = i;
      bool hex = true, digit = false;
      for (; j < reason.size() && alnum(reason[j]); ++j) {
        hex = hex && std::isxdigit(static_cast<unsigned char>(reason[j])) != 0;
        digit = digit || std::isdigit(static_cast<unsigned char>(reason[j])) != 0;
      }
      if (hex && digit) {
        out += 'N';
      } else {
        out.append(reason, i, j - i);
      }
      i = j;
    } else {
      out += ch;
      ++i;
    }
  }
  return out.empty() ? "(no reason)" : out;
}

uint64_t quantile(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto r = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<size_t>(r, 1, sorted.size()) - 1];
}

Latency summarize(std::vector<uint64_t> us) {
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  l.p50 = quantile(us, 0.50);
  l.p90 = quantile(us, 0.90);
  l.p99 = quantile(us, 0.99);
  l.max = us.back();
  return l;
}

ResourceSample sampleResources(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                               const std::string& when, double atSeconds) {
  Client client(io, cluster);
  return sampleOf(snapshot(io, client).handles, when, atSeconds);
}

RunResult runLoad(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                  const LoadOptions& options) {
  runtime::ClusterConfig clientView = cluster;
  if (options.clientAsLeader) clientView.protocol = Protocol::PaxosDirect;
  Client client(io, clientView);
  Load load(io, client, options);
  RunResult r;
  r.protocol = toString(clientView.protocol);
  int all = static_cast<int>(cluster.withRole(runtime::Role::Participant).size());
  r.participants = options.participants > 0 ? options.participants : all;
  r.f = static_cast<int>(cluster.f);
  r.fanOut = toString(cluster.fanOut);
  r.colocate = runtime::toString(cluster.colocate);
  r.clients = options.clients;
  r.payloadBytes = options.payloadBytes;
  r.keysPerParticipant = options.keysPerParticipant;
  r.conflictRate = options.conflictRate;
  r.expected = expectedCosts(clientView.protocol, r.participants, r.f, cluster.fanOut);

  static const std::vector<NodeHandle> kNone;
  bool interrupted = false;
  if (options.warmupSeconds > 0) {
    interrupted = load.phase("warm-up", options.warmupSeconds, kNone).interrupted;
  }
  load.sleep(kSettleMs);
  auto before = snapshot(io, client);
  const auto& handles = options.sampleResources ? before.handles : kNone;
  if (options.sampleResources) r.resources.push_back(sampleOf(handles, "start", 0));
  // CPU over the measured phase only (not the settling), read for every node always.
  auto cpuStart = readCpu(before.handles);
  Load::PhaseResult m;
  if (!interrupted) m = load.phase("measure", options.durationSeconds, handles);
  auto cpuEnd = readCpu(before.handles);
  r.cpu = cpuUse(before.handles, cpuStart, cpuEnd, m.committed);
  if (options.sampleResources) {
    if (m.middleSampled) r.resources.push_back(m.middle);
    r.resources.push_back(sampleOf(handles, "end", m.seconds));
  }
  load.sleep(kSettleMs);
  auto after = snapshot(io, client);
  if (options.progress) *options.progress << "\n" << std::flush;

  r.interrupted = interrupted || m.interrupted;
  r.seconds = m.seconds;
  r.committed = m.committed;
  r.aborted = m.aborted;
  r.unknown = m.unknown;
  r.abortReasons = std::move(m.abortReasons);
  r.unknownReasons = std::move(m.unknownReasons);
  r.throughputTps = m.seconds > 0 ? static_cast<double>(m.committed) / m.seconds : 0;
  std::sort(m.latenciesUs.begin(), m.latenciesUs.end());
  r.latencyUs = summarize(m.latenciesUs);
  r.sortedLatenciesUs = std::move(m.latenciesUs);
  r.nodes = delta(before.nodes, after.nodes);
  r.client = delta(before.client, after.client);
  uint64_t txns = r.committed + r.aborted + r.unknown;
  r.clientMessagesPerTxn = perTxn(logicalMessages(r.client), txns);
  r.messagesPerTxn = perTxn(logicalMessages(r.nodes) + logicalMessages(r.client), txns);
  r.rpcCallsPerTxn = perTxn(get(r.nodes, "rpc_calls_sent") + get(r.client, "rpc_calls_sent"), txns);
  r.syncedWritesPerTxn = perTxn(get(r.nodes, "synced_commits_critical"), txns);
  r.syncedCommitsPerTxn = perTxn(get(r.nodes, "synced_commits"), txns);
  return r;
}

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
  return os.str();
}

void printTable(std::ostream& out, const std::vector<RunResult>& runs) {
  auto col = [&](const std::string& s, int w) { out << std::setw(w) << s; };
  out << std::left << std::setw(13) << "mode" << std::right;
  col("N", 3);
  col("C", 4);
  col("commit", 8);
  col("abort", 6);
  col("unkn", 5);
  col("txn/s", 9);
  col("p50us", 7);
  col("p90us", 7);
  col("p99us", 7);
  col("maxus", 7);
  col("floor", 6);
  col("xfloor", 7);
  col("msgs", 7);
  col("=", 4);
  col("synced", 7);
  col("=", 4);
  col("rpc", 6);
  col("cpu", 6);
  out << "\n";
  for (const auto& r : runs) {
    out << std::left << std::setw(13) << r.protocol << std::right;
    col(std::to_string(r.participants), 3);
    col(std::to_string(r.clients), 4);
    col(std::to_string(r.committed), 8);
    col(std::to_string(r.aborted), 6);
    col(std::to_string(r.unknown), 5);
    col(fixed(r.throughputTps, 0), 9);
    col(std::to_string(r.latencyUs.p50), 7);
    col(std::to_string(r.latencyUs.p90), 7);
    col(std::to_string(r.latencyUs.p99), 7);
    col(std::to_string(r.latencyUs.max), 7);
    col(r.floorUs > 0 ? fixed(r.floorUs, 0) : "-", 6);
    col(r.floorUs > 0 ? fixed(static_cast<double>(r.latencyUs.p50) / r.floorUs, 2) : "-", 7);
    col(fixed(r.messagesPerTxn, 2), 7);
    col(fixed(r.expected.messagesPerTxn, 0), 4);
    col(fixed(r.syncedWritesPerTxn, 2), 7);
    col(fixed(r.expected.syncedWritesPerTxn, 0), 4);
    col(fixed(r.rpcCallsPerTxn, 2), 6);
    col(r.cpu.measured ? fixed(r.cpu.nodesUsPerTxn, 0) : "n/a", 6);
    out << (r.interrupted ? "  (interrupted)" : "") << "\n";
  }
  for (const auto& r : runs) {
    if (r.abortReasons.empty() && r.unknownReasons.empty()) continue;
    out << "  " << r.protocol << " N=" << r.participants << " C=" << r.clients << ":";
    for (const auto& [why, n] : r.abortReasons) out << "  aborted " << n << " (" << why << ")";
    for (const auto& [why, n] : r.unknownReasons) out << "  unknown " << n << " (" << why << ")";
    out << "\n";
  }
  // The floors measured before each cluster's runs (one per mode and N).
  double wLo = 1e18, wHi = 0, rLo = 1e18, rHi = 0;
  std::map<int, std::pair<double, double>> concurrent;  // writers -> p50 range
  for (const auto& r : runs) {
    if (!r.floor.measured) continue;
    wLo = std::min(wLo, r.floor.syncedWriteUs);
    wHi = std::max(wHi, r.floor.syncedWriteUs);
    rLo = std::min(rLo, r.floor.rttUs);
    rHi = std::max(rHi, r.floor.rttUs);
    if (r.floor.concurrentWriters >= 2) {
      auto [it, fresh] = concurrent.try_emplace(r.floor.concurrentWriters, 1e18, 0);
      it->second.first = std::min(it->second.first, r.floor.syncedWriteConcurrentUs);
      it->second.second = std::max(it->second.second, r.floor.syncedWriteConcurrentUs);
    }
  }
  if (wHi > 0) {
    auto range = [&](double lo, double hi) {
      return fixed(lo, 0) + (hi - lo >= 1 ? ".." + fixed(hi, 0) : std::string()) + " us";
    };
    out << "floor (measured before each cluster's runs): synced LMDB commit p50 "
        << range(wLo, wHi);
    for (const auto& [k, lohi] : concurrent) {
      out << ", " << k << " at once p50 " << range(lohi.first, lohi.second);
    }
    out << ", Cap'n Proto loopback round trip p50 " << range(rLo, rHi)
        << "; floor(mode) = 2 x synced + delays x rtt/2 (delays: 2pc 4, paxos-classic 5, paxos 5, "
           "paxos-direct 3)\n";
  }
}

void printResources(std::ostream& out, const std::vector<RunResult>& runs, bool perNode) {
  if (!perNode) {
    // One line per run: the largest RSS of any node, and data.mdb summed over the nodes.
    bool header = false;
    for (const auto& r : runs) {
      if (r.resources.size() < 2) continue;
      if (!header) {
        out << "resources (start -> middle -> end of each measured phase; --resources: per "
               "node):\n";
        header = true;
      }
      out << "  " << std::left << std::setw(13) << r.protocol << std::right
          << " N=" << r.participants << " C=" << r.clients << "  largest RSS MiB";
      for (const auto& s : r.resources) {
        uint64_t top = 0;
        for (const auto& n : s.nodes) top = std::max(top, n.rssKiB);
        out << (&s == &r.resources.front() ? " " : " -> ")
            << fixed(static_cast<double>(top) / 1024, 1);
      }
      out << "   data.mdb MiB (all nodes)";
      for (const auto& s : r.resources) {
        uint64_t sum = 0;
        for (const auto& n : s.nodes) sum += n.mdbBytes;
        out << (&s == &r.resources.front() ? " " : " -> ")
            << fixed(static_cast<double>(sum) / (1 << 20), 1);
      }
      out << "\n";
    }
    return;
  }
  for (const auto& r : runs) {
    if (r.resources.size() < 2) continue;
    out << "resources " << r.protocol << " N=" << r.participants << " C=" << r.clients << " at";
    for (const auto& s : r.resources)
      out << " " << s.when << " (" << fixed(s.atSeconds, 0) << " s)";
    out << ":\n  node   RSS MiB" << std::string(r.resources.size() * 7 - 4, ' ')
        << "data.mdb MiB\n";
    const auto& first = r.resources.front();
    for (size_t i = 0; i < first.nodes.size(); ++i) {
      out << "  " << std::left << std::setw(5) << first.nodes[i].name << std::right;
      for (const auto& s : r.resources) {
        const auto& n = s.nodes[i];
        out << std::setw(7) << (n.rssKiB ? fixed(static_cast<double>(n.rssKiB) / 1024, 1) : "-");
      }
      out << "   ";
      for (const auto& s : r.resources) {
        out << std::setw(7) << fixed(static_cast<double>(s.nodes[i].mdbBytes) / (1 << 20), 1);
      }
      out << "\n";
    }
  }
}

namespace {

// 7,912 -> "7,900": two significant digits, thousands separated.
std::string roughly(double v) {
  double scale = 1;
  while (v / scale >= 100) scale *= 10;
  auto n = static_cast<uint64_t>(std::round(v / scale) * scale);
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

void printCpu(std::ostream& out, const std::vector<RunResult>& runs) {
  for (const auto& r : runs) {
    out << "cpu " << r.protocol << " N=" << r.participants << " C=" << r.clients << ": ";
    const auto& u = r.cpu;
    if (!u.measured) {
      out << "n/a (" << (r.committed == 0 ? "nothing committed" : "no node on this machine")
          << ")\n";
      continue;
    }
    out << "nodes " << fixed(u.nodesUsPerTxn, 0) << " us/txn (";
    // Roles in the order a transaction meets them.
    bool first = true;
    for (const char* role : {"participant", "acceptor", "coordinator"}) {
      auto it = u.byRoleUsPerTxn.find(role);
      if (it == u.byRoleUsPerTxn.end()) continue;
      out << (first ? "" : ", ") << role << "s " << fixed(it->second, 0);
      first = false;
    }
    if (u.nodesCounted < u.nodesTotal) {
      out << "; " << u.nodesCounted << " of " << u.nodesTotal << " nodes on this machine";
    }
    out << "), client " << fixed(u.clientUsPerTxn, 0) << " us/txn; " << u.cpus << " cpus -> ";
    if (u.ceilingTps > 0) {
      out << "ceiling ~" << roughly(u.ceilingTps) << " txn/s";
    } else {
      out << "ceiling n/a (not every node on this machine)";
    }
    out << "\n";
  }
}

void printTargets(std::ostream& out, const std::vector<RunResult>& runs) {
  // The runs of one (N, C) point by mode.
  std::map<std::pair<int, int>, std::map<std::string, const RunResult*>> points;
  for (const auto& r : runs) points[{r.participants, r.clients}][r.protocol] = &r;
  bool header = false;
  auto line = [&](int n, int c, const std::string& what, bool ok, const std::string& detail) {
    if (!header) {
      out << "targets (issue 6; ratios within this run):\n";
      header = true;
    }
    out << "  N=" << n << " C=" << c << "  " << (ok ? "met   " : "MISSED") << "  " << what << ": "
        << detail << "\n";
  };
  for (const auto& [point, modes] : points) {
    auto [n, c] = point;
    auto find = [&](const char* m) -> const RunResult* {
      auto it = modes.find(m);
      return it == modes.end() ? nullptr : it->second;
    };
    const RunResult* twoPc = find("2pc");
    const RunResult* paxos = find("paxos");
    const RunResult* direct = find("paxos-direct");
    if (c == 1) {
      if (twoPc && direct) {
        line(n, c, "paxos-direct p50 < 2pc p50", direct->latencyUs.p50 < twoPc->latencyUs.p50,
             std::to_string(direct->latencyUs.p50) + " vs " + std::to_string(twoPc->latencyUs.p50) +
                 " us");
      }
      if (twoPc && paxos) {
        double ratio = static_cast<double>(paxos->latencyUs.p50) /
                       static_cast<double>(std::max<uint64_t>(twoPc->latencyUs.p50, 1));
        line(n, c, "paxos p50 <= 1.15 x 2pc p50", ratio <= 1.15, fixed(ratio, 2) + " x");
      }
      for (const auto& [m, r] : modes) {
        if (r->floorUs <= 0) continue;
        double x = static_cast<double>(r->latencyUs.p50) / r->floorUs;
        line(n, c, m + " p50 <= 1.5 x floor", x <= 1.5, fixed(x, 2) + " x");
      }
    }
    if (c >= 64 && twoPc && paxos) {
      double ratio = paxos->throughputTps / std::max(twoPc->throughputTps, 1e-9);
      line(n, c, "paxos txn/s >= 0.9 x 2pc", ratio >= 0.9, fixed(ratio, 2) + " x");
    }
  }
}

void printRecovery(std::ostream& out, const std::vector<RecoveryResult>& results) {
  if (results.empty()) return;
  out << "recovery: the leader crashed while transactions were in flight\n";
  for (const auto& r : results) {
    out << "  " << std::left << std::setw(13) << r.protocol << std::right << " crashed "
        << r.crashed << " at " << fixed(r.crashAtSeconds, 2) << " s; in doubt: " << r.inDoubtSeen
        << " txn(s); ";
    if (!r.resolved) {
      out << "NOT resolved";
    } else {
      out << "all resolved " << fixed(r.resolvedAfterMs, 0) << " ms after the crash";
    }
    if (r.restartAfterMs > 0) {
      out << " (coordinator restarted after " << fixed(r.restartAfterMs, 0) << " ms, resolved "
          << fixed(r.blockedAfterRestartMs, 0) << " ms after that)";
    } else if (r.resolved) {
      // A participant starts recovery recoveryTimeout + [0, jitter) after it prepared (before
      // the crash), then needs a phase 1 and a phase 2 round (more if leaders duel).
      double target = r.recoveryTimeoutMs + 200;
      out << " (recovery timeout " << fixed(r.recoveryTimeoutMs, 0) << " ms, jitter up to "
          << fixed(r.recoveryJitterMs, 0) << " ms; target timeout + 200 ms "
          << (r.resolvedAfterMs <= target
                  ? std::string("met")
                  : "MISSED by " + fixed(r.resolvedAfterMs - target, 0) + " ms")
          << ")";
    }
    out << "; outcomes " << r.committedAfter << " committed, " << r.abortedAfter << " aborted";
    if (r.unknownAfter) out << ", " << r.unknownAfter << " unknown";
    if (!r.note.empty()) out << "; " << r.note;
    out << "\n";
  }
}

namespace {

void writeCounts(std::ostream& out, const std::map<std::string, uint64_t>& m) {
  out << "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out << (first ? "" : ", ") << jsonString(k) << ": " << v;
    first = false;
  }
  out << "}";
}

// {"nodes": .., "client": .., "by_role": {..}, "ceiling_tps": .., "cpus": ..}; null where
// not measured.
void writeCpu(std::ostream& out, const CpuUse& u) {
  auto num = [&](bool known, double v) { return known ? fixed(v, 1) : std::string("null"); };
  out << "{\"nodes\": " << num(u.measured, u.nodesUsPerTxn)
      << ", \"client\": " << num(u.measured, u.clientUsPerTxn) << ", \"by_role\": ";
  if (!u.measured) {
    out << "null";
  } else {
    out << "{";
    bool first = true;
    for (const char* role : {"participant", "acceptor", "coordinator"}) {
      auto it = u.byRoleUsPerTxn.find(role);
      out << (first ? "" : ", ") << jsonString(role) << ": "
          << num(it != u.byRoleUsPerTxn.end(), it == u.byRoleUsPerTxn.end() ? 0 : it->second);
      first = false;
    }
    out << "}";
  }
  out << ", \"ceiling_tps\": " << num(u.ceilingTps > 0, u.ceilingTps) << ", \"cpus\": " << u.cpus
      << ", \"nodes_counted\": " << u.nodesCounted << ", \"nodes_total\": " << u.nodesTotal << "}";
}

// The CDF at fixed quantiles (enough to redraw the plot).
void writeCdf(std::ostream& out, const std::vector<uint64_t>& sorted) {
  static const double kQ[] = {0.0, 0.01, 0.05, 0.1,  0.2,   0.3,  0.4,   0.5,   0.6,
                              0.7, 0.8,  0.9,  0.95, 0.975, 0.99, 0.995, 0.999, 1.0};
  out << "[";
  for (size_t i = 0; i < sizeof kQ / sizeof kQ[0]; ++i) {
    out << (i ? ", " : "") << "[" << kQ[i] << ", " << quantile(sorted, kQ[i]) << "]";
  }
  out << "]";
}

}  // namespace

void writeJson(std::ostream& out, const std::string& machine, const std::string& command,
               const std::vector<RunResult>& runs, const std::vector<RecoveryResult>& recoveries) {
  out << "{\"machine\": " << jsonString(machine) << ", \"command\": " << jsonString(command);
  out << ",\n \"runs\": [\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    out << "  {\"protocol\": " << jsonString(r.protocol) << ", \"participants\": " << r.participants
        << ", \"f\": " << r.f << ", \"fanout\": " << jsonString(r.fanOut)
        << ", \"colocate\": " << jsonString(r.colocate) << ", \"clients\": " << r.clients
        << ", \"payload_bytes\": " << r.payloadBytes << ", \"keys\": " << r.keysPerParticipant
        << ", \"conflict_rate\": " << fixed(r.conflictRate, 3)
        << ", \"seconds\": " << fixed(r.seconds, 3) << ", \"committed\": " << r.committed
        << ", \"aborted\": " << r.aborted << ", \"unknown\": " << r.unknown
        << ", \"throughput_tps\": " << fixed(r.throughputTps, 1)
        << ", \"latency_us\": {\"p50\": " << r.latencyUs.p50 << ", \"p90\": " << r.latencyUs.p90
        << ", \"p99\": " << r.latencyUs.p99 << ", \"max\": " << r.latencyUs.max
        << "}, \"floor_us\": " << fixed(r.floorUs, 1)
        << ", \"floor_synced_write_us\": " << fixed(r.floor.syncedWriteUs, 1)
        << ", \"floor_synced_write_us_p90\": " << fixed(r.floor.syncedWriteP90Us, 1)
        << ", \"floor_rtt_us\": " << fixed(r.floor.rttUs, 1)
        << ", \"floor_rtt_us_p90\": " << fixed(r.floor.rttP90Us, 1)
        << ", \"floor_synced_write_concurrent_us\": " << fixed(r.floor.syncedWriteConcurrentUs, 1)
        << ", \"floor_synced_write_concurrent_us_p90\": "
        << fixed(r.floor.syncedWriteConcurrentP90Us, 1)
        << ", \"floor_concurrent_writers\": " << r.floor.concurrentWriters
        << ", \"p50_over_floor\": "
        << fixed(r.floorUs > 0 ? static_cast<double>(r.latencyUs.p50) / r.floorUs : 0, 3)
        << ", \"message_delays\": " << r.expected.messageDelays
        << ", \"messages_per_txn\": " << fixed(r.messagesPerTxn, 4)
        << ", \"client_messages_per_txn\": " << fixed(r.clientMessagesPerTxn, 4)
        << ", \"rpc_calls_per_txn\": " << fixed(r.rpcCallsPerTxn, 4)
        << ", \"synced_writes_per_txn\": " << fixed(r.syncedWritesPerTxn, 4)
        << ", \"synced_commits_per_txn\": " << fixed(r.syncedCommitsPerTxn, 4)
        << ", \"expected_messages_per_txn\": " << fixed(r.expected.messagesPerTxn, 1)
        << ", \"expected_synced_writes_per_txn\": " << fixed(r.expected.syncedWritesPerTxn, 1)
        << ", \"interrupted\": " << (r.interrupted ? "true" : "false") << ", \"abort_reasons\": ";
    writeCounts(out, r.abortReasons);
    out << ", \"unknown_reasons\": ";
    writeCounts(out, r.unknownReasons);
    out << ", \"cpu_us_per_txn\": ";
    writeCpu(out, r.cpu);
    out << ", \"sent_by_kind\": {";
    bool first = true;
    for (const auto& [k, v] : r.nodes) {
      if (k.rfind("sent_", 0) != 0) continue;
      uint64_t total = v + get(r.client, k);
      out << (first ? "" : ", ") << jsonString(k.substr(5)) << ": " << total;
      first = false;
    }
    out << "}, \"latency_cdf_us\": ";
    writeCdf(out, r.sortedLatenciesUs);
    out << ", \"resources\": [";
    for (size_t s = 0; s < r.resources.size(); ++s) {
      const auto& rs = r.resources[s];
      out << (s ? ", " : "") << "{\"when\": " << jsonString(rs.when)
          << ", \"at_seconds\": " << fixed(rs.atSeconds, 2) << ", \"nodes\": [";
      for (size_t k = 0; k < rs.nodes.size(); ++k) {
        const auto& n = rs.nodes[k];
        out << (k ? ", " : "") << "{\"name\": " << jsonString(n.name) << ", \"pid\": " << n.pid
            << ", \"rss_kib\": " << n.rssKiB << ", \"mdb_bytes\": " << n.mdbBytes << "}";
      }
      out << "]}";
    }
    out << "]}" << (i + 1 < runs.size() ? "," : "") << "\n";
  }
  out << " ],\n \"recovery\": [\n";
  for (size_t i = 0; i < recoveries.size(); ++i) {
    const auto& r = recoveries[i];
    out << "  {\"protocol\": " << jsonString(r.protocol)
        << ", \"crashed\": " << jsonString(r.crashed)
        << ", \"crash_at_seconds\": " << fixed(r.crashAtSeconds, 3)
        << ", \"in_doubt_seen\": " << r.inDoubtSeen
        << ", \"in_doubt_at_crash\": " << r.inDoubtAtCrash
        << ", \"resolved\": " << (r.resolved ? "true" : "false")
        << ", \"resolved_after_ms\": " << fixed(r.resolvedAfterMs, 1)
        << ", \"recovery_timeout_ms\": " << fixed(r.recoveryTimeoutMs, 0)
        << ", \"recovery_jitter_ms\": " << fixed(r.recoveryJitterMs, 0)
        << ", \"restart_after_ms\": " << fixed(r.restartAfterMs, 0)
        << ", \"resolved_after_restart_ms\": " << fixed(r.blockedAfterRestartMs, 1)
        << ", \"committed\": " << r.committedAfter << ", \"aborted\": " << r.abortedAfter
        << ", \"unknown\": " << r.unknownAfter << ", \"note\": " << jsonString(r.note) << "}"
        << (i + 1 < recoveries.size() ? "," : "") << "\n";
  }
  out << " ]}\n";
}

}  // namespace pc::bench
