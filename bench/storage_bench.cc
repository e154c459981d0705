// Storage benchmarks (Google Benchmark; not tests). Run:
//   build/release/bench/pc_storage_bench [--benchmark_filter=...]
// Data goes to $TMPDIR (default /tmp); use the disk a node would use.
//
//   BM_BareLmdbSyncedCommit      one put + synced commit on a raw LMDB env (the floor)
//   BM_EnvSingleRecordSynced     Env::writeBatch of one AcceptorTxnRecord (target: <= 1.3x)
//   BM_StorageThreadSingleRecord submit + waitDurable of one record, one producer
//   BM_GroupCommit/threads:64    64 producers, each submit + waitDurable one record per
//                                iteration (target: >= 20x the single-record rate)
//   BM_FasterThanDisk            one producer submitting 4 KiB records as fast as it can
//                                through a 8 MiB queue: peak pending bytes and peak RSS
//                                growth, at two volumes (it must not grow with volume)
#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "storage/env.h"
#include "storage/record_log.h"
#include "storage/storage_thread.h"

namespace {

using namespace pc;
using namespace pc::storage;

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pc_storage_bench.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A typical acceptor vote: 3 instances, 3 participants.
Record acceptorRecord(uint64_t i) {
  AcceptorTxnRecord a{TxnId{i + 1, 42}, {1, 2, 3}, 9, {}};
  for (NodeId n = 1; n <= 3; ++n) {
    a.instances.push_back({n, Ballot{}, Ballot{}, Vote::Prepared});
  }
  return a;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so each run measures its own peak.
void resetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

uint64_t peakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

void BM_BareLmdbSyncedCommit(benchmark::State& state) {
  BenchDir dir;
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_mapsize(env, size_t{1} << 30);
  if (mdb_env_open(env, dir.path().c_str(), 0, 0644) != 0) std::abort();  // synced
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  mdb_txn_begin(env, nullptr, 0, &txn);
  mdb_dbi_open(txn, "acceptor", MDB_CREATE, &dbi);  // a named db, like pc_storage
  mdb_txn_commit(txn);
  std::string value(60, 'v');  // the size of an encoded acceptorRecord()
  uint64_t i = 0;
  for (auto _ : state) {
    char key[16] = {};
    uint64_t be = __builtin_bswap64(++i);
    std::memcpy(key + 8, &be, 8);
    MDB_val k{sizeof key, key}, v{value.size(), value.data()};
    mdb_txn_begin(env, nullptr, 0, &txn);
    mdb_put(txn, dbi, &k, &v, 0);
    if (mdb_txn_commit(txn) != 0) std::abort();
  }
  state.SetItemsProcessed(state.iterations());
  mdb_env_close(env);
}
BENCHMARK(BM_BareLmdbSyncedCommit)->UseRealTime();

void BM_EnvSingleRecordSynced(benchmark::State& state) {
  BenchDir dir;
  Env env(dir.path());
  uint64_t i = 0;
  for (auto _ : state) env.writeBatch({acceptorRecord(i++)});
  state.SetItemsProcessed(state.iterations());
  state.counters["synced_commits"] = double(env.metrics().syncedCommits);
}
BENCHMARK(BM_EnvSingleRecordSynced)->UseRealTime();

void BM_StorageThreadSingleRecord(benchmark::State& state) {
  BenchDir dir;
  Env env(dir.path());
  StorageThread st(env);
  uint64_t i = 0;
  for (auto _ : state) st.waitDurable(st.submit({acceptorRecord(i++)}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StorageThreadSingleRecord)->UseRealTime();

// Shared by the 64 producer threads; thread 0 sets up before the start barrier and tears
// down after the end barrier.
std::unique_ptr<BenchDir> gDir;
std::unique_ptr<Env> gEnv;
std::unique_ptr<StorageThread> gThread;
std::atomic<uint64_t> gNext{0};

void BM_GroupCommit(benchmark::State& state) {
  if (state.thread_index() == 0) {
    gDir = std::make_unique<BenchDir>();
    gEnv = std::make_unique<Env>(gDir->path());
    gThread = std::make_unique<StorageThread>(*gEnv);
  }
  for (auto _ : state) {
    gThread->waitDurable(gThread->submit({acceptorRecord(gNext.fetch_add(1))}));
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    ThreadMetrics m = gThread->metrics();
    gThread.reset();
    state.counters["commits_per_record"] =
        double(m.env.syncedCommits) / double(std::max<uint64_t>(1, m.env.recordsWritten));
    state.counters["largest_group"] = double(m.largestGroupRecords);
    gEnv.reset();
    gDir.reset();
  }
}
BENCHMARK(BM_GroupCommit)->Threads(64)->UseRealTime();

void BM_FasterThanDisk(benchmark::State& state) {
  BenchDir dir;
  Env env(dir.path());
  ThreadOptions o;
  o.maxPendingBytes = size_t{8} << 20;
  StorageThread st(env, o);
  Bytes payload(4096, 'p');
  resetPeakRss();
  uint64_t rssBefore = peakRssBytes();
  uint64_t i = 0;
  Seq last = 0;
  for (auto _ : state) {
    last = st.submit(
        {ParticipantTxnRecord{TxnId{++i, 7}, ParticipantState::Prepared, payload, {1, 2}, 1, ""}});
  }
  st.waitDurable(last);
  ThreadMetrics m = st.metrics();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(payload.size()));
  state.counters["submitted_MiB"] = double(i * payload.size()) / double(1 << 20);
  state.counters["queue_bound_MiB"] = double(o.maxPendingBytes) / double(1 << 20);
  state.counters["peak_pending_MiB"] = double(m.pendingBytesPeak) / double(1 << 20);
  state.counters["blocked_submits"] = double(m.submitBlocked);
  state.counters["peak_rss_growth_MiB"] = double(peakRssBytes() - rssBefore) / double(1 << 20);
  state.counters["peak_rss_MiB"] = double(peakRssBytes()) / double(1 << 20);
}
// Two volumes (80 MiB and 320 MiB submitted): the peak RSS must not grow with the volume.
BENCHMARK(BM_FasterThanDisk)->Iterations(20000)->UseRealTime();
BENCHMARK(BM_FasterThanDisk)->Iterations(80000)->UseRealTime();

// The record log's frame checksum over a frame of a 64-client group (~10 KB): the CPU's
// crc32 instruction where there is one (crc32c), and the table it falls back to.
template <uint32_t (*Crc)(uint32_t, std::string_view)>
void BM_Checksum(benchmark::State& state) {
  const std::string frame(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(Crc(0, frame));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK_TEMPLATE(BM_Checksum, crc32c)->Name("BM_Crc32c")->Arg(10 * 1024);
BENCHMARK_TEMPLATE(BM_Checksum, crc32cPortable)->Name("BM_Crc32cPortable")->Arg(10 * 1024);

}  // namespace

BENCHMARK_MAIN();
