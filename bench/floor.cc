#include "bench/floor.h"

#include <capnp/rpc-twoparty.h>
#include <lmdb.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench/floor.capnp.h"

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

// Synced LMDB commits of one small put each, as a node's storage thread does them.
Stats syncedWrites(const FloorOptions& o) {
  TempDir dir(o.dir);
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "mdb_env_create");
  std::vector<double> us;
  try {
    check(mdb_env_set_mapsize(env, size_t{64} << 20), "mdb_env_set_mapsize");
    check(mdb_env_open(env, dir.path().c_str(), MDB_NOTLS, 0644), "mdb_env_open");
    MDB_dbi dbi = 0;
    std::string value(std::min<size_t>(o.payloadBytes, 1024), 'x');
    auto deadline = Clock::now() + std::chrono::duration<double>(o.secondsEach);
    for (int i = 0; i < o.samplesMax + 10 && (i < 20 || Clock::now() < deadline); ++i) {
      auto t0 = Clock::now();
      MDB_txn* txn = nullptr;
      check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
      if (i == 0) check(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
      std::string key = "k" + std::to_string(i % 64);
      MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
      int rc = mdb_put(txn, dbi, &k, &v, 0);
      if (rc != 0) {
        mdb_txn_abort(txn);
        check(rc, "mdb_put");
      }
      check(mdb_txn_commit(txn), "mdb_txn_commit");
      if (i >= 10) us.push_back(elapsedUs(t0));  // the first ones grow the file
    }
  } catch (...) {
    mdb_env_close(env);
    throw;
  }
  mdb_env_close(env);
  return stats(std::move(us));
}

class Echo final : public FloorEcho::Server {
 protected:
  kj::Promise<void> ping(PingContext) override { return kj::READY_NOW; }
};

// Round trips from the caller's event loop to an echo server on its own thread.
Stats roundTrips(kj::AsyncIoContext& io, const FloorOptions& o) {
  // The server thread: listens on 127.0.0.1 (a port the OS picks) until told to stop. The
  // stop promise belongs to its loop; the fulfiller it hands over may be called from here.
  struct Ready {
    uint16_t port = 0;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
  };
  std::promise<Ready> readyPromise;
  auto readyFuture = readyPromise.get_future();
  std::thread server([&readyPromise] {
    bool announced = false;
    try {
      auto sio = kj::setupAsyncIo();
      auto addr = sio.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(sio.waitScope);
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
    auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", ready.port).wait(io.waitScope);
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
  auto w = syncedWrites(options);
  f.syncedWriteUs = w.p50;
  f.syncedWriteP90Us = w.p90;
  try {
    auto r = roundTrips(io, options);
    f.rttUs = r.p50;
    f.rttP90Us = r.p90;
  } catch (const kj::Exception& e) {
    throw std::runtime_error(std::string("floor: loopback round trip: ") +
                             e.getDescription().cStr());
  }
  f.measured = true;
  return f;
}

}  // namespace pc::bench
