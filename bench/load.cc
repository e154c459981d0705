// The closed-loop load of pcommit bench (bench.h): C clients on one event loop through one
// pc::Client, the counters read around the measured phase, and what they add up to.
#include <kj/vector.h>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <random>

#include "bench/bench.h"
#include "bench/numbers.h"
#include "bench/proc_stats.h"
#include "client/client.h"
#include "paxos_commit/assert.h"

namespace pc::bench {

namespace {

Counters delta(const Counters& before, const Counters& after) {
  Counters out;
  for (const auto& [k, v] : after) {
    uint64_t b = counterValue(before, k);
    out[k] = v >= b ? v - b : 0;  // gauges (outbox, pending records) may shrink
  }
  return out;
}

void addInto(Counters& sum, const Counters& c) {
  for (const auto& [k, v] : c) sum[k] += v;
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
  std::map<std::string, Counters> byRole;  // the same, summed per role
  Counters client;
  std::vector<NodeHandle> handles;
};

Snapshot snapshot(kj::AsyncIoContext& io, Client& client) {
  Snapshot s;
  const auto& cluster = client.cluster();
  for (const auto& n : cluster.nodes) {
    auto st = client.status(n.id).wait(io.waitScope);
    addInto(s.nodes, st.counters);
    addInto(s.byRole[runtime::toString(n.role)], st.counters);
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
    case Protocol::TwoPCReplicated:
      // request, N prepares, N votes, A 2a, A 2b, N outcomes, reply; the participants'
      // prepared records and the acceptors' decision (docs/PROTOCOL.md §7).
      return {3 * n + 2 * a + 2, n + a, 6};
  }
  return {};
}

uint64_t logicalMessages(const Counters& c) {
  uint64_t sum = 0;
  for (const auto& [k, v] : c) {
    if (k.rfind("sent_", 0) != 0 || k == "sent_Ack" || k == "sent_AckBatch" ||
        k == "sent_AckRequest") {
      continue;
    }
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
  const uint64_t txns = r.transactions();
  r.clientMessagesPerTxn = perTxn(logicalMessages(r.client), txns);
  r.messagesPerTxn = perTxn(logicalMessages(r.nodes) + logicalMessages(r.client), txns);
  r.rpcCallsPerTxn = perTxn(
      counterValue(r.nodes, "rpc_calls_sent") + counterValue(r.client, "rpc_calls_sent"), txns);
  r.syncedWritesPerTxn = perTxn(counterValue(r.nodes, "synced_commits_critical"), txns);
  r.syncedCommitsPerTxn = perTxn(counterValue(r.nodes, "synced_commits"), txns);
  for (const auto& [role, now] : after.byRole) {
    auto it = before.byRole.find(role);
    const Counters d = it == before.byRole.end() ? now : delta(it->second, now);
    RoleWrites w{counterValue(d, "synced_commits"), counterValue(d, "synced_commit_us")};
    if (w.commits > 0) r.writesByRole[role] = w;
  }
  return r;
}

}  // namespace pc::bench
