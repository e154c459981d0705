#include "bench/bench.h"

#include <kj/vector.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <thread>

#include "client/client.h"

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

// The closed-loop clients of one run, all on one event loop through one pc::Client.
class Load {
 public:
  Load(kj::AsyncIoContext& io, Client& client, const LoadOptions& o)
      : io_(io), client_(client), opts_(o) {
    auto participants = client_.cluster().withRole(runtime::Role::Participant);
    std::string value(opts_.payloadBytes, 'x');
    size_t pool = std::max<size_t>(opts_.keysPerParticipant, 1);
    for (int c = 0; c < opts_.clients; ++c) {
      std::vector<std::map<NodeId, std::vector<kv::Op>>> txns(pool);
      for (const auto* p : participants) {
        // The first names of this client's series that route to p.
        size_t found = 0;
        for (uint64_t i = 0; found < pool; ++i) {
          std::string key = "bench-c" + std::to_string(c) + "-" + p->name + "-" + std::to_string(i);
          if (client_.participantFor(key) == p->id) {
            txns[found++][p->id].push_back(kv::Op{kv::OpKind::Put, key, value, 0});
          }
        }
      }
      ops_.push_back(std::move(txns));
      next_.push_back(0);
    }
  }

  struct PhaseResult {
    double seconds = 0;
    uint64_t committed = 0, aborted = 0, unknown = 0;
    std::vector<uint64_t> latenciesUs;
    bool interrupted = false;
  };

  // Runs every client until `seconds` have passed, then waits for the transactions in flight.
  PhaseResult phase(const std::string& name, double seconds) {
    result_ = PhaseResult{};
    stop_ = false;
    start_ = Clock::now();
    kj::Vector<kj::Promise<void>> loops;
    for (size_t c = 0; c < ops_.size(); ++c) loops.add(clientLoop(c));
    auto all = kj::joinPromises(loops.releaseAsArray());
    // KJ continuations are lazy: these two run only because they are evaluated eagerly.
    auto ticks = tickLoop(name, seconds).eagerlyEvaluate(nullptr);
    auto deadline = io_.provider->getTimer()
                        .afterDelay(static_cast<int64_t>(seconds * 1e6) * kj::MICROSECONDS)
                        .then([this] { stop_ = true; })
                        .eagerlyEvaluate(nullptr);
    all.wait(io_.waitScope);
    result_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    return std::move(result_);
  }

  void sleep(int ms) {
    io_.provider->getTimer().afterDelay(ms * kj::MILLISECONDS).wait(io_.waitScope);
  }

 private:
  kj::Promise<void> clientLoop(size_t c) {
    if (stop_) return kj::READY_NOW;
    auto sent = Clock::now();
    const auto& ops = ops_[c][next_[c]];
    next_[c] = (next_[c] + 1) % ops_[c].size();
    return client_.commit(client_.newTxnId(), ops).then([this, c, sent](CommitResult r) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
      result_.latenciesUs.push_back(static_cast<uint64_t>(us));
      if (r.status == TxnStatus::Committed) {
        ++result_.committed;
      } else if (r.status == TxnStatus::Aborted) {
        ++result_.aborted;
      } else {
        ++result_.unknown;
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
          if (opts_.progress) {
            double el = std::chrono::duration<double>(Clock::now() - start_).count();
            *opts_.progress << "\r  " << opts_.label << " " << name << " " << fixed(el, 0) << "/"
                            << fixed(seconds, 0) << " s  committed " << result_.committed
                            << "  tps "
                            << fixed(el > 0 ? static_cast<double>(result_.committed) / el : 0, 1)
                            << "        " << std::flush;
          }
          if (stop_) return kj::READY_NOW;
          return tickLoop(std::move(name), seconds);
        });
  }

  kj::AsyncIoContext& io_;
  Client& client_;
  const LoadOptions& opts_;
  std::vector<std::vector<std::map<NodeId, std::vector<kv::Op>>>> ops_;  // [client][turn]
  std::vector<size_t> next_;                                             // [client]
  PhaseResult result_;
  bool stop_ = false;
  Clock::time_point start_;
};

// Every node's counters summed, plus the client's own.
struct Snapshot {
  Counters nodes;
  Counters client;
};

Snapshot snapshot(kj::AsyncIoContext& io, Client& client) {
  Snapshot s;
  for (const auto& n : client.cluster().nodes) {
    addInto(s.nodes, client.status(n.id).wait(io.waitScope).counters);
  }
  s.client = client.transportCounters();
  return s;
}

// Long enough for the messages and synced writes a transaction causes after its answer
// reached the client (outcomes to participants, their commit records) to be counted.
constexpr int kSettleMs = 300;

}  // namespace

Expected expectedCosts(Protocol protocol, int participants, int f) {
  double n = participants;
  double a = 2.0 * f + 1;  // fan-out all
  switch (protocol) {
    case Protocol::TwoPC:
      return {3 * n + 2, n + 1};
    case Protocol::PaxosClassic:
      return {n * (a + 2) + a + 2, n + a};
    case Protocol::Paxos:
      return {n * (2 * a + 1) + a + 2, n + a};
    case Protocol::PaxosDirect:
      return {n * (2 * a + 1) + a, n + a};
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

Latency summarize(std::vector<uint64_t> us) {
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  auto rank = [&](double q) {
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    auto r = static_cast<size_t>(q * static_cast<double>(us.size()) + 0.999999);
    return us[std::clamp<size_t>(r, 1, us.size()) - 1];
  };
  l.p50 = rank(0.50);
  l.p90 = rank(0.90);
  l.p99 = rank(0.99);
  l.max = us.back();
  return l;
}

RunResult runLoad(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                  const LoadOptions& options) {
  Client client(io, cluster);
  Load load(io, client, options);
  RunResult r;
  r.protocol = toString(cluster.protocol);
  r.participants = static_cast<int>(cluster.withRole(runtime::Role::Participant).size());
  r.f = static_cast<int>(cluster.f);
  r.clients = options.clients;
  r.expected = expectedCosts(cluster.protocol, r.participants, r.f);

  bool interrupted = false;
  if (options.warmupSeconds > 0) {
    interrupted = load.phase("warm-up", options.warmupSeconds).interrupted;
  }
  load.sleep(kSettleMs);
  auto before = snapshot(io, client);
  Load::PhaseResult m;
  if (!interrupted) m = load.phase("measure", options.durationSeconds);
  load.sleep(kSettleMs);
  auto after = snapshot(io, client);
  if (options.progress) *options.progress << "\n" << std::flush;

  r.interrupted = interrupted || m.interrupted;
  r.seconds = m.seconds;
  r.committed = m.committed;
  r.aborted = m.aborted;
  r.unknown = m.unknown;
  r.throughputTps = m.seconds > 0 ? static_cast<double>(m.committed) / m.seconds : 0;
  r.latencyUs = summarize(std::move(m.latenciesUs));
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
  std::ostringstream os;
  os << host << ", " << std::thread::hardware_concurrency() << " cpus, " << u.sysname << " "
     << u.release << " " << u.machine;
  return os.str();
}

void printTable(std::ostream& out, const std::vector<RunResult>& runs) {
  auto col = [&](const std::string& s, int w) { out << std::setw(w) << s; };
  out << std::left << std::setw(14) << "protocol" << std::right;
  col("committed", 10);
  col("aborted", 8);
  col("unknown", 8);
  col("tps", 10);
  col("p50us", 8);
  col("p90us", 8);
  col("p99us", 8);
  col("maxus", 8);
  col("msgs/txn", 10);
  col("expect", 8);
  col("synced/txn", 11);
  col("expect", 8);
  col("rpc/txn", 9);
  out << "\n";
  for (const auto& r : runs) {
    out << std::left << std::setw(14) << r.protocol << std::right;
    col(std::to_string(r.committed), 10);
    col(std::to_string(r.aborted), 8);
    col(std::to_string(r.unknown), 8);
    col(fixed(r.throughputTps, 1), 10);
    col(std::to_string(r.latencyUs.p50), 8);
    col(std::to_string(r.latencyUs.p90), 8);
    col(std::to_string(r.latencyUs.p99), 8);
    col(std::to_string(r.latencyUs.max), 8);
    col(fixed(r.messagesPerTxn, 2), 10);
    col(fixed(r.expected.messagesPerTxn, 0), 8);
    col(fixed(r.syncedWritesPerTxn, 2), 11);
    col(fixed(r.expected.syncedWritesPerTxn, 0), 8);
    col(fixed(r.rpcCallsPerTxn, 2), 9);
    out << (r.interrupted ? "  (interrupted)" : "") << "\n";
  }
}

void writeJson(std::ostream& out, const std::string& machine, const std::vector<RunResult>& runs) {
  out << "{\"machine\": " << jsonString(machine) << ", \"runs\": [\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    out << "  {\"protocol\": " << jsonString(r.protocol) << ", \"participants\": " << r.participants
        << ", \"f\": " << r.f << ", \"fanout\": \"all\", \"clients\": " << r.clients
        << ", \"seconds\": " << fixed(r.seconds, 3) << ", \"committed\": " << r.committed
        << ", \"aborted\": " << r.aborted << ", \"unknown\": " << r.unknown
        << ", \"throughput_tps\": " << fixed(r.throughputTps, 1)
        << ", \"latency_us\": {\"p50\": " << r.latencyUs.p50 << ", \"p90\": " << r.latencyUs.p90
        << ", \"p99\": " << r.latencyUs.p99 << ", \"max\": " << r.latencyUs.max
        << "}, \"messages_per_txn\": " << fixed(r.messagesPerTxn, 4)
        << ", \"client_messages_per_txn\": " << fixed(r.clientMessagesPerTxn, 4)
        << ", \"rpc_calls_per_txn\": " << fixed(r.rpcCallsPerTxn, 4)
        << ", \"synced_writes_per_txn\": " << fixed(r.syncedWritesPerTxn, 4)
        << ", \"synced_commits_per_txn\": " << fixed(r.syncedCommitsPerTxn, 4)
        << ", \"expected_messages_per_txn\": " << fixed(r.expected.messagesPerTxn, 1)
        << ", \"expected_synced_writes_per_txn\": " << fixed(r.expected.syncedWritesPerTxn, 1)
        << ", \"interrupted\": " << (r.interrupted ? "true" : "false") << ", \"sent_by_kind\": {";
    bool first = true;
    for (const auto& [k, v] : r.nodes) {
      if (k.rfind("sent_", 0) != 0) continue;
      uint64_t total = v + get(r.client, k);
      out << (first ? "" : ", ") << jsonString(k.substr(5)) << ": " << total;
      first = false;
    }
    out << "}}" << (i + 1 < runs.size() ? "," : "") << "\n";
  }
  out << "]}\n";
}

}  // namespace pc::bench
