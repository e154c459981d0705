// pg2pc: a closed-loop PostgreSQL two-phase-commit load client for bench/peers/postgres.sh.
//
// C client threads; each holds one connection to every server (shard) and runs
// transactions back to back. One transaction writes one key on each shard:
//
//   phase 1, to every shard at once (one round trip each, sent before any answer is read):
//     BEGIN; INSERT ... ON CONFLICT (k) DO UPDATE ...; PREPARE TRANSACTION 'gid'
//   [--decision-log DIR: append the commit decision to this client's own file, fdatasync]
//   phase 2, to every shard at once:
//     COMMIT PREPARED 'gid'
//
// The client is the 2PC coordinator. Without --decision-log it does NOT make its commit
// decision durable before phase 2, which a real coordinator must do: if it crashed after
// some COMMIT PREPARED went out, the others would stay prepared with nobody able to say how
// they end. So those numbers are a lower bound on what a correct PostgreSQL 2PC
// coordinator costs. --decision-log adds that synced write (per client, no group commit).
//
// --reply-at commit (default): a transaction ends when every COMMIT PREPARED answered.
// --reply-at decision: it ends at the decision (every shard prepared, the log synced),
// as pcommit's 2PC coordinator answers its client; the COMMIT PREPAREDs go out on a second
// connection per shard and are awaited just before the next transaction's go out.
//
// On a phase-1 failure every shard is rolled back (ROLLBACK PREPARED / ROLLBACK) and the
// transaction counts as aborted. Measured phase as in pcommit bench: only transactions
// begun in it count; at its end no new ones begin and those in flight finish; seconds =
// start of the phase to the last answer. Percentiles are exact (nearest rank), in
// microseconds; "decided" latency is always to the decision.
//
// Expected synced writes per transaction (failure-free): PREPARE TRANSACTION and COMMIT
// PREPARED each flush the WAL on every shard, plus the decision log if on; all_transactions
// (warm-up included) lets postgres.sh divide the servers' own WAL sync counts.
// Output: a human line on stderr, one JSON line on stdout. Exit 0, 1 on a connection or
// setup error, 64 on a usage error.
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> conninfos;  // one per shard
  int clients = 1;
  double warmupSeconds = 2;
  double durationSeconds = 10;
  int keys = 8;  // keys per shard per client, used in turn
  size_t payloadBytes = 100;
  std::string decisionLogDir;    // empty: no coordinator log
  bool replyAtDecision = false;  // latency ends at the decision; phase 2 in the background
  std::string label = "postgres-2pc";
  bool setup = false;  // create the table on every shard, then exit
};

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: pg2pc --conn CONNINFO [--conn CONNINFO ...] [--clients C] [--duration S]\n"
               "             [--warmup S] [--keys K] [--payload-bytes B] [--decision-log DIR]\n"
               "             [--reply-at commit|decision] [--label NAME]\n"
               "       pg2pc --conn CONNINFO ... --setup     (creates table kv on every shard)\n");
  std::exit(code);
}

std::atomic<int> phase{0};  // 0 warm-up, 1 measured, 2 stop
Clock::time_point measureStart;

struct ClientResult {
  std::vector<uint64_t> latencyUs, decidedUs;
  uint64_t committed = 0, aborted = 0;
  uint64_t all = 0;  // transactions begun, warm-up included
  Clock::time_point lastEnd{};
  std::string error;  // fatal (connection lost): the run is invalid
};

std::string escapeLiteral(PGconn* c, const std::string& s) {
  char* e = PQescapeLiteral(c, s.data(), s.size());
  if (!e) return "''";
  std::string out(e);
  PQfreemem(e);
  return out;
}

// Sends one query string to each connection whose sql is not empty (all before waiting
// for any). Returns false if a connection broke (fatal; error says why).
bool sendAll(const std::vector<PGconn*>& conns, const std::vector<std::string>& sql,
             std::vector<bool>& pending, std::string& error) {
  pending.assign(conns.size(), false);
  for (size_t i = 0; i < conns.size(); ++i) {
    if (sql[i].empty()) continue;
    if (!PQsendQuery(conns[i], sql[i].c_str())) {
      error = PQerrorMessage(conns[i]);
      return false;
    }
    pending[i] = true;
  }
  return true;
}

// Reads every result of every pending connection. ok[i] is false if a statement on
// connection i failed (error: the first message). Returns false if a connection broke.
bool waitAll(const std::vector<PGconn*>& conns, std::vector<bool>& pending, std::vector<bool>& ok,
             std::string& error) {
  size_t n = conns.size();
  ok.assign(n, true);
  std::vector<pollfd> fds;
  std::vector<size_t> which;
  for (;;) {
    fds.clear();
    which.clear();
    for (size_t i = 0; i < n; ++i) {
      if (!pending[i]) continue;
      // Drain every result that is complete without blocking.
      while (!PQisBusy(conns[i])) {
        PGresult* r = PQgetResult(conns[i]);
        if (!r) {
          pending[i] = false;
          break;
        }
        auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
          if (ok[i] && error.empty()) error = PQresultErrorMessage(r);
          ok[i] = false;
        }
        PQclear(r);
      }
      if (pending[i]) {
        fds.push_back({PQsocket(conns[i]), POLLIN, 0});
        which.push_back(i);
      }
    }
    if (fds.empty()) break;
    if (::poll(fds.data(), fds.size(), 60'000) <= 0) {
      error = "no answer from a server within 60 s";
      return false;
    }
    for (size_t j = 0; j < fds.size(); ++j) {
      if (fds[j].revents == 0) continue;
      if (!PQconsumeInput(conns[which[j]])) {
        error = PQerrorMessage(conns[which[j]]);
        return false;
      }
    }
  }
  for (auto* c : conns) {
    if (PQstatus(c) != CONNECTION_OK) {
      error = PQerrorMessage(c);
      return false;
    }
  }
  return true;
}

bool runOnAll(const std::vector<PGconn*>& conns, const std::vector<std::string>& sql,
              std::vector<bool>& ok, std::string& error) {
  std::vector<bool> pending;
  return sendAll(conns, sql, pending, error) && waitAll(conns, pending, ok, error);
}

PGconn* connect(const std::string& conninfo, std::string& error) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    error = std::string("connect: ") + PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
  }
  // Quiet: a ROLLBACK after a failed PREPARE TRANSACTION warns "no transaction in progress".
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return c;
}

void clientLoop(const Options& o, int id, ClientResult& res) {
  std::vector<PGconn*> conns, commitConns;  // commitConns: --reply-at decision only
  auto closeAll = [&] {
    for (auto* c : conns) PQfinish(c);
    for (auto* c : commitConns) PQfinish(c);
  };
  const bool early = o.replyAtDecision;
  for (const auto& ci : o.conninfos) {
    PGconn* c = connect(ci, res.error);
    if (!c) return closeAll();
    conns.push_back(c);
    if (!early) continue;
    c = connect(ci, res.error);
    if (!c) return closeAll();
    commitConns.push_back(c);
  }
  int logFd = -1;
  if (!o.decisionLogDir.empty()) {
    std::string path = o.decisionLogDir + "/decisions-" + std::to_string(id) + ".log";
    logFd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logFd < 0) {
      res.error = "cannot open " + path + ": " + std::strerror(errno);
      return closeAll();
    }
  }
  std::string hex;
  for (size_t i = 0; i < o.payloadBytes; ++i) hex += "78";  // 'x'
  const std::string value = "'\\x" + hex + "'::bytea";
  const size_t n = conns.size();
  std::vector<std::string> sql(n);
  std::vector<bool> ok, commitPending(n, false);
  std::string error;
  // --reply-at decision: the previous transaction's COMMIT PREPAREDs, still in flight on
  // commitConns; they must all have succeeded before the next ones go out.
  auto finishCommits = [&]() -> bool {
    std::vector<bool> commitOk;
    std::string e;
    if (!waitAll(commitConns, commitPending, commitOk, e) || !e.empty()) {
      res.error = "phase 2: " + e;
      return false;
    }
    return true;
  };
  for (uint64_t seq = 0;; ++seq) {
    int ph = phase.load(std::memory_order_acquire);
    if (ph == 2) break;
    const bool counted = ph == 1;
    char gid[96];
    std::snprintf(gid, sizeof gid, "pg2pc-%d-%d-%" PRIu64, static_cast<int>(::getpid()), id, seq);
    auto t0 = Clock::now();
    for (size_t s = 0; s < n; ++s) {
      std::string key = "c" + std::to_string(id) + "/s" + std::to_string(s) + "/k" +
                        std::to_string(seq % static_cast<uint64_t>(o.keys));
      sql[s] = "BEGIN; INSERT INTO kv (k, v, version) VALUES (" + escapeLiteral(conns[s], key) +
               ", " + value +
               ", 1) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, version = kv.version + 1; " +
               "PREPARE TRANSACTION '" + gid + "'";
    }
    error.clear();
    if (!runOnAll(conns, sql, ok, error)) {
      res.error = error;
      break;
    }
    bool allPrepared = std::all_of(ok.begin(), ok.end(), [](bool b) { return b; });
    if (allPrepared && logFd >= 0) {
      std::string rec = std::string("commit ") + gid + "\n";
      if (::write(logFd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size()) ||
          ::fdatasync(logFd) != 0) {
        res.error = std::string("decision log: ") + std::strerror(errno);
        break;
      }
    }
    auto tDecided = Clock::now();
    std::string phase1Error = error;
    if (allPrepared) {
      for (size_t s = 0; s < n; ++s) sql[s] = std::string("COMMIT PREPARED '") + gid + "'";
    } else {  // a shard that failed is no longer in a transaction (or in a failed one)
      for (size_t s = 0; s < n; ++s)
        sql[s] = ok[s] ? std::string("ROLLBACK PREPARED '") + gid + "'" : std::string("ROLLBACK");
    }
    error.clear();
    if (early && allPrepared) {
      if (!finishCommits()) break;
      if (!sendAll(commitConns, sql, commitPending, error)) {
        res.error = "phase 2: " + error;
        break;
      }
    } else if (!runOnAll(conns, sql, ok, error) || !error.empty()) {  // phase 2 must not fail
      res.error = "phase 2: " + error;
      break;
    }
    auto t1 = early ? tDecided : Clock::now();
    ++res.all;
    if (!counted) continue;
    if (allPrepared) {
      ++res.committed;
      res.latencyUs.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
      res.decidedUs.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(tDecided - t0).count()));
    } else {
      ++res.aborted;
      static std::once_flag once;
      std::call_once(once,
                     [&] { std::fprintf(stderr, "pg2pc: first abort: %s", phase1Error.c_str()); });
    }
    res.lastEnd = t1;
  }
  if (early && res.error.empty()) finishCommits();
  if (logFd >= 0) ::close(logFd);
  closeAll();
}

struct Latency {
  uint64_t p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Latency summarize(std::vector<uint64_t> us) {  // nearest rank, as bench/bench.cc
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  auto rank = [&](double q) {
    auto r = static_cast<size_t>(q * static_cast<double>(us.size()) + 0.999999);
    return us[std::clamp<size_t>(r, 1, us.size()) - 1];
  };
  l.p50 = rank(0.50);
  l.p90 = rank(0.90);
  l.p99 = rank(0.99);
  l.max = us.back();
  return l;
}

int setupTables(const Options& o) {
  for (const auto& ci : o.conninfos) {
    PGconn* c = PQconnectdb(ci.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::fprintf(stderr, "pg2pc: connect: %s", PQerrorMessage(c));
      PQfinish(c);
      return 1;
    }
    PGresult* r = PQexec(c,
                         "CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v bytea NOT NULL, "
                         "version bigint NOT NULL)");
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!good) std::fprintf(stderr, "pg2pc: create table: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    if (!good) return 1;
  }
  return 0;
}

double parseSeconds(const char* name, const char* v, bool allowZero) {
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (!end || *end != '\0' || !(d >= 0) || (!allowZero && d == 0) || d > 86400) {
    std::fprintf(stderr, "pg2pc: %s: expected seconds, got '%s'\n", name, v);
    usage(64);
  }
  return d;
}

long parseInt(const char* name, const char* v, long lo, long hi) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!end || *end != '\0' || n < lo || n > hi) {
    std::fprintf(stderr, "pg2pc: %s: expected %ld..%ld, got '%s'\n", name, lo, hi, v);
    usage(64);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "pg2pc: %s needs a value\n", a.c_str());
        usage(64);
      }
      return argv[++i];
    };
    if (a == "--conn")
      o.conninfos.emplace_back(val());
    else if (a == "--clients")
      o.clients = static_cast<int>(parseInt("--clients", val(), 1, 4096));
    else if (a == "--duration")
      o.durationSeconds = parseSeconds("--duration", val(), false);
    else if (a == "--warmup")
      o.warmupSeconds = parseSeconds("--warmup", val(), true);
    else if (a == "--keys")
      o.keys = static_cast<int>(parseInt("--keys", val(), 1, 1'000'000));
    else if (a == "--payload-bytes")
      o.payloadBytes = static_cast<size_t>(parseInt("--payload-bytes", val(), 1, 1'000'000));
    else if (a == "--decision-log")
      o.decisionLogDir = val();
    else if (a == "--reply-at") {
      std::string v = val();
      if (v != "decision" && v != "commit") usage(64);
      o.replyAtDecision = v == "decision";
    } else if (a == "--label")
      o.label = val();
    else if (a == "--setup")
      o.setup = true;
    else if (a == "-h" || a == "--help")
      usage(0);
    else
      usage(64);
  }
  if (o.conninfos.empty()) usage(64);
  if (o.setup) return setupTables(o);

  std::vector<ClientResult> results(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (int c = 0; c < o.clients; ++c)
    threads.emplace_back(clientLoop, std::cref(o), c, std::ref(results[static_cast<size_t>(c)]));

  auto sleepFor = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
  sleepFor(o.warmupSeconds);
  measureStart = Clock::now();
  phase.store(1, std::memory_order_release);
  sleepFor(o.durationSeconds);
  phase.store(2, std::memory_order_release);
  for (auto& t : threads) t.join();

  std::vector<uint64_t> lat, dec;
  uint64_t committed = 0, aborted = 0, all = 0;
  Clock::time_point lastEnd = measureStart;
  for (auto& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "pg2pc: a client failed: %s\n", r.error.c_str());
      return 1;
    }
    committed += r.committed;
    aborted += r.aborted;
    all += r.all;
    lat.insert(lat.end(), r.latencyUs.begin(), r.latencyUs.end());
    dec.insert(dec.end(), r.decidedUs.begin(), r.decidedUs.end());
    lastEnd = std::max(lastEnd, r.lastEnd);
  }
  double seconds = std::chrono::duration<double>(lastEnd - measureStart).count();
  double tps = seconds > 0 ? static_cast<double>(committed) / seconds : 0;
  Latency l = summarize(std::move(lat)), d = summarize(std::move(dec));
  const bool logged = !o.decisionLogDir.empty();
  // Synced writes on the critical path (failure-free): PREPARE TRANSACTION and COMMIT
  // PREPARED each flush the WAL on every shard, plus the coordinator's log if on.
  const size_t n = o.conninfos.size();
  // This process's CPU (its client threads, warm-up included): per all_transactions.
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const double cpuUs = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  const double clientCpuPerTxn = all > 0 ? cpuUs / static_cast<double>(all) : 0;
  std::fprintf(stderr,
               "%s: clients=%d committed=%" PRIu64 " aborted=%" PRIu64
               " seconds=%.3f tps=%.1f p50us=%" PRIu64 " p90us=%" PRIu64 " p99us=%" PRIu64
               " maxus=%" PRIu64 " decided_p50us=%" PRIu64 "\n",
               o.label.c_str(), o.clients, committed, aborted, seconds, tps, l.p50, l.p90, l.p99,
               l.max, d.p50);
  std::printf(
      "{\"system\": \"%s\", \"shards\": %zu, \"clients\": %d, \"seconds\": %.3f, \"committed\": "
      "%" PRIu64 ", \"aborted\": %" PRIu64 ", \"errors\": %" PRIu64
      ", \"throughput_tps\": %.1f, \"latency_us\": {\"p50\": %" PRIu64 ", \"p90\": %" PRIu64
      ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64 "}, \"decided_latency_us\": {\"p50\": %" PRIu64
      ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
      "}, \"coordinator_log\": %s, \"reply_at\": \"%s\", "
      "\"expected_synced_writes_per_txn\": %zu, \"all_transactions\": %" PRIu64
      ", \"client_cpu_us_per_txn\": %.1f, \"keys\": %d, \"payload_bytes\": %zu}\n",
      o.label.c_str(), n, o.clients, seconds, committed, aborted, aborted, tps, l.p50, l.p90, l.p99,
      l.max, d.p50, d.p90, d.p99, d.max, logged ? "true" : "false",
      o.replyAtDecision ? "decision" : "commit", 2 * n + (logged ? 1 : 0), all, clientCpuPerTxn,
      o.keys, o.payloadBytes);
  return 0;
}
