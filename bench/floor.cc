#include "bench/floor.h"

#include <capnp/rpc-twoparty.h>
#include <lmdb.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <latch>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench/floor.capnp.h"
#include "storage/record_log.h"

namespace pc::bench {

namespace {

using Clock = std::chrono::steady_clock;

double elapsedUs(Clock::time_point since) {
  return std::chrono::duration<double, std::micro>(Clock::now() - since).count();
}

struct Stats {
  double p50 = 0, p90 = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    auto r = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
    return v[std::clamp<size_t>(r, 1, v.size()) - 1];
  };
  s.p50 = at(0.5);
  s.p90 = at(0.9);
  return s;
}

// A temporary directory, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& base) {
    std::string tmpl = base + "/pcommit-floor-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("floor: cannot create a directory in " + base);
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("floor: ") + what + ": " + mdb_strerror(rc));
}

// One synced-write store in `dir` (which must exist), written as a node writes its own:
// with recordLogBytes > 0 a record log of that capacity (storage/record_log.h), one
// participant record of payloadBytes per synced append, the way a node's group commit
// goes to its log; with 0 an LMDB environment (sync on) and one small put per synced
// commit, the way a node with PCOMMIT_RECORD_LOG=off writes. A log that cannot be made
// (no space for it) throws; a failed write or sync into it ends the benchmark as it ends a
// node (storage/errors.h, fail-stop): the disk the nodes write to is failing.
class Writer {
 public:
  Writer(const std::string& dir, size_t payloadBytes, size_t recordLogBytes)
      : value_(std::min<size_t>(payloadBytes, 1024), 'x') {
    if (recordLogBytes > 0) {
      log_ = std::make_unique<storage::RecordLog>(
          dir, std::max(recordLogBytes, storage::kMinRecordLogBytes), 0);
      // The record every append writes, made once: only the append is timed.
      ParticipantTxnRecord r;
      r.txn = TxnId{1, 0};
      r.payload = value_;
      r.participants = {1, 2, 3};
      r.leader = 4;
      batch_.push_back(Record{std::move(r)});
      return;
    }
    check(mdb_env_create(&env_), "mdb_env_create");
    try {
      check(mdb_env_set_mapsize(env_, size_t{64} << 20), "mdb_env_set_mapsize");
      check(mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0644), "mdb_env_open");
    } catch (...) {
      mdb_env_close(env_);
      throw;
    }
  }
  ~Writer() {
    if (env_ != nullptr) mdb_env_close(env_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // One synced write; returns its microseconds.
  double commit() {
    auto t0 = Clock::now();
    if (log_) {
      appendToLog();
    } else {
      commitToLmdb();
    }
    ++commits_;
    return elapsedUs(t0);
  }

 private:
  void appendToLog() {
    if (log_->append(std::span(&batch_, 1)) == 0) {
      // This half is full. A node hands its records to a checkpoint on another thread
      // and goes on in the other half; nothing here needs them, so just move on.
      log_->switchHalf();
      if (log_->append(std::span(&batch_, 1)) == 0) {
        throw std::runtime_error("floor: one record does not fit in half the record log");
      }
    }
  }

  void commitToLmdb() {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    if (commits_ == 0) {
      int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
      if (rc != 0) {
        mdb_txn_abort(txn);
        check(rc, "mdb_dbi_open");
      }
    }
    std::string key = std::to_string(commits_ % 64);
    key.insert(key.begin(), 'k');  // not "k" + ...: GCC 12 warns (-Wrestrict, a false positive)
    MDB_val k{key.size(), key.data()}, v{value_.size(), value_.data()};
    int rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      check(rc, "mdb_put");
    }
    check(mdb_txn_commit(txn), "mdb_txn_commit");
  }

  std::unique_ptr<storage::RecordLog> log_;
  std::vector<Record> batch_;  // with log_: the one record of every append
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  uint64_t commits_ = 0;
  std::string value_;
};

constexpr int kWarmupCommits = 10;  // the first ones grow the file (LMDB)

// Synced writes, back to back.
Stats syncedWrites(const FloorOptions& o) {
  TempDir dir(o.dir);
  Writer w(dir.path(), o.payloadBytes, o.recordLogBytes);
  std::vector<double> us;
  auto deadline = Clock::now() + std::chrono::duration<double>(o.secondsEach);
  for (int i = 0; i < o.samplesMax + kWarmupCommits && (i < 20 || Clock::now() < deadline); ++i) {
    double t = w.commit();
    if (i >= kWarmupCommits) us.push_back(t);
  }
  return stats(std::move(us));
}

// Synced writes with a sleep of gapUs before each one, as a node at one client makes them.
Stats pacedSyncedWrites(const FloorOptions& o, double gapUs, int samples) {
  TempDir dir(o.dir);
  Writer w(dir.path(), o.payloadBytes, o.recordLogBytes);
  for (int i = 0; i < kWarmupCommits; ++i) w.commit();
  const auto gap = std::chrono::microseconds(static_cast<int64_t>(gapUs));
  // Time enough for 20 samples at the longest gap, whatever secondsEach says.
  auto deadline = Clock::now() + std::chrono::duration<double>(o.secondsEach) + 20 * gap;
  std::vector<double> us;
  while (static_cast<int>(us.size()) < std::max(samples, 20) &&
         (us.size() < 20 || Clock::now() < deadline)) {
    std::this_thread::sleep_for(gap);
    us.push_back(w.commit());
  }
  return stats(std::move(us));
}

// The same with o.concurrentWriters environments in sibling directories, one thread each:
// every thread opens its environment and warms it up, then all start together and commit
// back to back until one has done its share (or secondsEach passed), so the commits
// measured overlap those of the other writers.
Stats concurrentSyncedWrites(const FloorOptions& o) {
  const int k = o.concurrentWriters;
  const int share = std::max(20, (o.concurrentSamples + k - 1) / k);
  TempDir dir(o.dir);
  std::vector<std::vector<double>> us(static_cast<size_t>(k));
  std::vector<std::string> errors(static_cast<size_t>(k));
  std::latch ready(k);
  std::atomic<bool> stop{false};
  auto deadline = Clock::now() + std::chrono::duration<double>(o.secondsEach);
  {
    std::vector<std::jthread> threads;
    auto start = [&](int t, auto body) {
      try {
        threads.emplace_back(body);
      } catch (...) {  // no thread: release the started ones before they are joined
        stop.store(true);
        ready.count_down(k - t);
        throw;
      }
    };
    for (int t = 0; t < k; ++t) {
      start(t, [&, t] {
        auto& mine = us[static_cast<size_t>(t)];
        bool arrived = false;
        try {
          std::string path = dir.path() + "/w" + std::to_string(t);
          std::filesystem::create_directory(path);
          Writer w(path, o.payloadBytes, o.recordLogBytes);
          for (int i = 0; i < kWarmupCommits; ++i) w.commit();
          arrived = true;
          ready.arrive_and_wait();
          while (!stop.load() && static_cast<int>(mine.size()) < share && Clock::now() < deadline) {
            mine.push_back(w.commit());
          }
        } catch (const std::exception& e) {
          errors[static_cast<size_t>(t)] = e.what();
          if (!arrived) ready.count_down();
        }
        stop.store(true);  // the others stop too: later commits would not overlap all
      });
    }
  }  // joins
  std::vector<double> all;
  for (size_t t = 0; t < us.size(); ++t) {
    if (!errors[t].empty()) throw std::runtime_error(errors[t]);
    all.insert(all.end(), us[t].begin(), us[t].end());
  }
  return stats(std::move(all));
}

class Echo final : public FloorEcho::Server {
 protected:
  kj::Promise<void> ping(PingContext) override { return kj::READY_NOW; }
};

// Round trips from the caller's event loop to an echo server on its own thread.
Stats roundTrips(kj::AsyncIoContext& io, const FloorOptions& o) {
  // The server thread: listens on 127.0.0.1 (a port the OS picks), or with unixSocket on
  // a socket in a temporary directory, until told to stop. The stop promise belongs to its
  // loop; the fulfiller it hands over may be called from here.
  struct Ready {
    uint16_t port = 0;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
  };
  std::optional<TempDir> sockDir;
  std::string where = "127.0.0.1";
  if (o.unixSocket) {
    sockDir.emplace(o.dir);
    where = "unix:" + sockDir->path() + "/echo.sock";
  }
  std::promise<Ready> readyPromise;
  auto readyFuture = readyPromise.get_future();
  std::thread server([&readyPromise, &where] {
    bool announced = false;
    try {
      auto sio = kj::setupAsyncIo();
      auto addr = sio.provider->getNetwork().parseAddress(where, 0).wait(sio.waitScope);
      auto listener = addr->listen();
      capnp::TwoPartyServer srv(kj::heap<Echo>());
      auto listening = srv.listen(*listener).eagerlyEvaluate(nullptr);
      auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
      readyPromise.set_value(
          Ready{static_cast<uint16_t>(listener->getPort()), kj::mv(paf.fulfiller)});
      announced = true;
      paf.promise.wait(sio.waitScope);
    } catch (...) {
      if (!announced) readyPromise.set_exception(std::current_exception());
    }
  });
  Ready ready;
  std::vector<double> us;
  try {
    ready = readyFuture.get();
    auto addr = io.provider->getNetwork().parseAddress(where, ready.port).wait(io.waitScope);
    auto stream = addr->connect().wait(io.waitScope);
    capnp::TwoPartyClient client(*stream);
    auto echo = client.bootstrap().castAs<FloorEcho>();
    kj::Array<kj::byte> payload = kj::heapArray<kj::byte>(o.payloadBytes);
    std::fill(payload.begin(), payload.end(), 'x');
    auto deadline = Clock::now() + std::chrono::duration<double>(o.secondsEach);
    for (int i = 0; i < o.samplesMax + 100 && (i < 200 || Clock::now() < deadline); ++i) {
      auto t0 = Clock::now();
      auto req = echo.pingRequest();
      req.setPayload(payload);
      req.send().wait(io.waitScope);
      if (i >= 100) us.push_back(elapsedUs(t0));  // warm-up: connection, allocator
    }
  } catch (...) {
    if (ready.stop) ready.stop->fulfill();
    server.join();
    throw;
  }
  ready.stop->fulfill();
  server.join();
  return stats(std::move(us));
}

}  // namespace

FloorSummary measureFloor(kj::AsyncIoContext& io, const FloorOptions& options) {
  FloorSummary f;
  f.dir = options.dir;
  f.syncedWriteKind = options.recordLogBytes > 0 ? kWriteLogAppend : kWriteLmdbCommit;
  auto w = syncedWrites(options);
  f.syncedWriteUs = w.p50;
  f.syncedWriteP90Us = w.p90;
  f.concurrentWriters = std::max(options.concurrentWriters, 1);
  if (f.concurrentWriters >= 2) {
    auto c = concurrentSyncedWrites(options);
    f.syncedWriteConcurrentUs = c.p50;
    f.syncedWriteConcurrentP90Us = c.p90;
  } else {
    f.syncedWriteConcurrentUs = w.p50;
    f.syncedWriteConcurrentP90Us = w.p90;
  }
  try {
    auto r = roundTrips(io, options);
    f.rttUs = r.p50;
    f.rttP90Us = r.p90;
  } catch (const kj::Exception& e) {
    throw std::runtime_error(std::string("floor: ") +
                             (options.unixSocket ? "Unix socket" : "loopback") +
                             " round trip: " + e.getDescription().cStr());
  }
  f.transport = options.unixSocket ? "unix" : "tcp";
  f.measured = true;
  return f;
}

void measurePacedSyncedWrite(const FloorOptions& options, double gapUs, int samples,
                             FloorSummary& floor) {
  gapUs = std::clamp(gapUs, 1.0, 100000.0);
  auto s = pacedSyncedWrites(options, gapUs, samples);
  floor.pacedGapUs = gapUs;
  floor.syncedWritePacedUs = s.p50;
  floor.syncedWritePacedP90Us = s.p90;
}

}  // namespace pc::bench
