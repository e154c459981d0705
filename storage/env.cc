// Env: opening the environment, the write path (group commit, map growth) and metrics.
// Reads are in env_read.cc; what each record writes in record_tables.cc and kv_tables.cc;
// the data directory's checks in data_dir.cc.
#include "storage/env.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "paxos_commit/assert.h"
#include "storage/codec.h"
#include "storage/data_dir.h"
#include "storage/kv_tables.h"
#include "storage/lmdb_txn.h"
#include "storage/quiet_thread.h"
#include "storage/record_log.h"
#include "storage/record_tables.h"
#include "storage/validate.h"

namespace pc::storage {

namespace {

constexpr const char* kFormatKey = "format";
constexpr const char* kIdentityKey = "identity";
constexpr const char* kRejoinedKey = "rejoined";
constexpr const char* kLogAppliedKey = "log_applied";
constexpr unsigned kMaxDbs = 16;

size_t roundUp(size_t v, size_t unit) { return (v + unit - 1) / unit * unit; }

}  // namespace

// ---- open ----

Env::Env(std::string dir, Options options) : dir_(std::move(dir)), opts_(options) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  PC_ASSERT(opts_.mapSizeStart > 0 && opts_.mapSizeStart <= opts_.mapSizeMax, opts_.mapSizeStart,
            opts_.mapSizeMax);
  PC_ASSERT(opts_.quotaPercent >= 1 && opts_.quotaPercent <= 100, opts_.quotaPercent);
  if (!opts_.readOnly && !opts_.mayInit && ::access(dataPath().c_str(), F_OK) != 0) {
    // Before anything is created: a refused start leaves the directory as it was.
    throw StorageError(ErrorKind::NotInitialised, dir_,
                       "data directory " + dir_ + " holds no pcommit data (no " + dataPath() + ")");
  }
  // 1. The directory: exists, is ours, has room; the pid lock (data_dir.h).
  lock_ = prepareDataDir(dir_, DataDirChecks{opts_.readOnly, opts_.createDir, opts_.minFreeBytes});
  // 2. LMDB: the environment, then the named databases and the format record.
  try {
    openLmdb();
    openDatabases();
    openRecordLog();
    if (!opts_.readOnly) updateQuota();
    if (log_) checkpointThread_ = startQuietThread([this] { runCheckpoints(); });
  } catch (...) {
    log_.reset();
    records_.reset();
    kv_.reset();
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
    lock_.reset();
    throw;
  }
}

void Env::openLmdb() {
  int rc = mdb_env_create(&env_);
  if (rc != 0) throwMdb(rc, "creating the LMDB environment");
  mdb_env_set_maxdbs(env_, kMaxDbs);
  pageBytes_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (!opts_.readOnly) {
    rc = mdb_env_set_mapsize(env_, roundUp(opts_.mapSizeStart, pageBytes_));
    if (rc != 0) throwMdb(rc, "setting the map size");
  }
  // MDB_NOTLS: read transactions are pooled and used from any thread. Sync stays on.
  unsigned flags = MDB_NOTLS | (opts_.readOnly ? MDB_RDONLY : 0u);
  rc = mdb_env_open(env_, dir_.c_str(), flags, 0644);
  if (rc != 0) {
    if (rc == ENOENT) {
      throw StorageError(ErrorKind::NotPcommit, dir_,
                         dir_ + " is not a pcommit data directory: it has no data.mdb");
    }
    throwMdb(rc, "opening the LMDB environment");
  }
  unsigned got = 0;
  mdb_env_get_flags(env_, &got);
  PC_ASSERT((got & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC)) == 0, got);
  if (!opts_.readOnly) {
    // Reader slots of dead processes (e.g. a SIGKILLed inspector) would pin old pages.
    int dead = 0;
    mdb_reader_check(env_, &dead);
  }
  maxKeyBytes_ = static_cast<size_t>(mdb_env_get_maxkeysize(env_));
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  mapSize_ = info.me_mapsize;
}

bool Env::openMeta(MDB_txn* txn) {
  int rc = mdb_dbi_open(txn, "meta", 0, &dbi_.meta);
  if (rc == MDB_INCOMPATIBLE) {
    throw StorageError(ErrorKind::NotPcommit, dir_,
                       dir_ + " is not a pcommit data directory: " + dataPath() +
                           " is an LMDB file pcommit did not write");
  }
  if (rc != 0 && rc != MDB_NOTFOUND) throwMdb(rc, "opening the meta database");
  if (rc == 0) {
    MDB_val k = lmdb::toVal(kFormatKey), v;
    rc = mdb_get(txn, dbi_.meta, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) throwMdb(rc, "reading the format record");
    std::optional<std::string_view> format;
    if (rc == 0) format = lmdb::toView(v);
    format_ = checkFormatRecord(dir_, dataPath(), format, kFormatVersionLog);
    return false;
  }
  // No meta database: a fresh environment (never initialised, or a crash before the
  // first commit), or someone else's LMDB file.
  MDB_dbi mainDbi;
  rc = mdb_dbi_open(txn, nullptr, 0, &mainDbi);
  if (rc != 0) throwMdb(rc, "opening the main database");
  MDB_stat ms{};
  rc = mdb_stat(txn, mainDbi, &ms);
  if (rc != 0) throwMdb(rc, "reading the main database");
  if (ms.ms_entries == 0 && !opts_.readOnly && !opts_.mayInit) {
    throw StorageError(ErrorKind::NotInitialised, dir_,
                       "data directory " + dir_ + " holds no pcommit data (" + dataPath() +
                           " was never initialised)");
  }
  if (ms.ms_entries != 0 || opts_.readOnly) {
    throw StorageError(ErrorKind::NotPcommit, dir_,
                       dir_ + " is not a pcommit data directory: " + dataPath() +
                           (ms.ms_entries != 0 ? " is an LMDB file pcommit did not write"
                                               : " was never initialised") +
                           " (no format record)");
  }
  rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi_.meta);
  if (rc != 0) throwMdb(rc, "creating the meta database");
  return true;
}

void Env::openDatabases() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, opts_.readOnly ? MDB_RDONLY : 0u, &txn);
  if (rc != 0) throwMdb(rc, "beginning the opening transaction");
  struct Guard {
    MDB_txn*& t;
    ~Guard() {
      if (t != nullptr) mdb_txn_abort(t);
    }
  } guard{txn};

  const bool fresh = openMeta(txn);
  // The creation order is part of the on-disk image: keep it.
  const std::pair<const char*, MDB_dbi*> dbs[] = {
      {"acceptor", &dbi_.acceptor},  {"acceptor_tombstones", &dbi_.tombstones},
      {"low_water", &dbi_.lowWater}, {"participant", &dbi_.participant},
      {"kv_data", &dbi_.kvData},     {"kv_locks", &dbi_.kvLocks},
      {"leader", &dbi_.leader},      {"decision", &dbi_.decision},
  };
  for (const auto& [name, dbi] : dbs) {
    rc = mdb_dbi_open(txn, name, opts_.readOnly ? 0u : MDB_CREATE, dbi);
    if (rc == MDB_NOTFOUND) {
      throw StorageError(ErrorKind::Corrupted, dir_,
                         dataPath() + " is corrupted: named database '" + name + "' is missing");
    }
    if (rc != 0) throwMdb(rc, std::string("opening database '") + name + "'");
  }
  if (fresh) {
    std::string f = codec::encodeFormat(kFormatVersion);
    MDB_val k = lmdb::toVal(kFormatKey), v = lmdb::toVal(f);
    rc = mdb_put(txn, dbi_.meta, &k, &v, 0);
    if (rc != 0) throwMdb(rc, "writing the format record");
  } else {
    readIdentity(txn);
  }
  if (!opts_.readOnly) writeIdentity(txn, fresh);
  created_ = fresh;
  // Commit keeps the handles (a read-only txn's commit just ends it); a fresh
  // environment's format record is synced here.
  MDB_txn* t = txn;
  txn = nullptr;
  rc = mdb_txn_commit(t);
  if (rc != 0) throwMdb(rc, "committing the opening transaction");

  kv_ = std::make_unique<KvTables>(dbi_.kvData, dbi_.kvLocks, maxKeyBytes_, opts_.kvData);
  records_ =
      std::make_unique<RecordTables>(RecordDbis{dbi_.acceptor, dbi_.tombstones, dbi_.lowWater,
                                                dbi_.participant, dbi_.leader, dbi_.decision},
                                     *kv_);
}

void Env::readIdentity(MDB_txn* txn) {
  MDB_val k = lmdb::toVal(kIdentityKey), v;
  int rc = mdb_get(txn, dbi_.meta, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) throwMdb(rc, "reading the identity record");
  auto corrupted = [&](const std::string& key, const std::string& why) {
    throw StorageError(ErrorKind::Corrupted, dir_,
                       dataPath() + " is corrupted: database 'meta', key '" + key + "': " + why);
  };
  try {
    if (rc == 0) identity_ = codec::decodeIdentity(lmdb::toView(v));
    MDB_val rk = lmdb::toVal(kRejoinedKey), rv;
    rc = mdb_get(txn, dbi_.meta, &rk, &rv);
    if (rc != 0 && rc != MDB_NOTFOUND) throwMdb(rc, "reading the rejoined record");
    if (rc == 0) rejoinedAt_ = codec::decodeTxn(lmdb::toView(rv));
  } catch (const codec::DecodeError& e) {
    corrupted(identity_ ? kRejoinedKey : kIdentityKey, e.what());
  }
}

void Env::writeIdentity(MDB_txn* txn, bool fresh) {
  if (!opts_.identity) return;
  const Identity& want = *opts_.identity;
  if (identity_) {
    if (auto why = identityMismatch(dir_, *identity_, want)) {
      throw StorageError(ErrorKind::IdentityMismatch, dir_, *why);
    }
    if (!identity_->clusterId.empty() || want.clusterId.empty()) return;  // as stored
  }
  identityEvent_ = fresh       ? IdentityEvent::Written
                   : identity_ ? IdentityEvent::ClusterIdAdded
                               : IdentityEvent::Adopted;
  std::string value = codec::encodeIdentity(want);
  MDB_val k = lmdb::toVal(kIdentityKey), v = lmdb::toVal(value);
  int rc = mdb_put(txn, dbi_.meta, &k, &v, 0);
  if (rc != 0) throwMdb(rc, "writing the identity record");
  identity_ = want;
  if (fresh && opts_.rejoinMark) {
    // The participant forgets nothing it ever knew: everything at or below the mark is
    // "forgotten" to it from its first moment (docs/PROTOCOL.md §5, rejoining empty).
    std::string mark = codec::encodeTxn(*opts_.rejoinMark);
    MDB_val rk = lmdb::toVal(kRejoinedKey), rv = lmdb::toVal(mark);
    rc = mdb_put(txn, dbi_.meta, &rk, &rv, 0);
    if (rc != 0) throwMdb(rc, "writing the rejoined record");
    MDB_val lk = lmdb::toVal("participant"), lv = lmdb::toVal(mark);
    rc = mdb_put(txn, dbi_.lowWater, &lk, &lv, 0);
    if (rc != 0) throwMdb(rc, "writing the participant low-water mark");
    rejoinedAt_ = opts_.rejoinMark;
  }
}

// ---- the record log (record_log.h) ----

uint64_t Env::readLogApplied() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) throwMdb(rc, "beginning a read transaction");
  std::optional<uint64_t> v;
  try {
    v = lmdb::readOne<uint64_t>(lmdb::Place{dir_, dataPath()}, txn, dbi_.meta, "meta",
                                kLogAppliedKey, codec::decodeU64);
  } catch (...) {
    mdb_txn_abort(txn);
    throw;
  }
  mdb_txn_abort(txn);
  return v.value_or(0);
}

void Env::writeFormat(uint32_t version) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) throwMdb(rc, "beginning a write transaction");
  std::string f = codec::encodeFormat(version);
  MDB_val k = lmdb::toVal(kFormatKey), v = lmdb::toVal(f);
  rc = mdb_put(txn, dbi_.meta, &k, &v, 0);
  if (rc != 0) {
    mdb_txn_abort(txn);
    throwMdb(rc, "writing the format record");
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) throwMdb(rc, "committing the format record");
  format_ = version;
}

void Env::openRecordLog() {
  const uint64_t applied = readLogApplied();
  RecordLog::Scan scan = RecordLog::scan(dir_, applied);
  // A record the node could not load again is corruption, as in a table (validate.h).
  for (const Record& r : scan.records) {
    if (std::optional<std::string> why = checkRecord(r, /*kvPayloads=*/true)) {
      throw StorageError(ErrorKind::Corrupted, dir_,
                         dir_ + "/" + kRecordLogFile + " is corrupted: a " + recordName(r) +
                             " record fails its checks: " + *why);
    }
  }
  logReplayed_ = scan.records.size();
  if (opts_.readOnly) {
    logTail_ = std::move(scan.records);
    if (!logTail_.empty() && opts_.kvData) computeTailKv();
    return;
  }
  if (!scan.records.empty()) {
    writeTables(std::span<const std::vector<Record>>(&scan.records, 1), scan.lastSeq);
  }
  if (opts_.recordLogBytes == 0) {
    // Back to the tables alone: the log is empty (above), so remove it, then say so.
    RecordLog::remove(dir_);
    if (format_ == kFormatVersionLog) writeFormat(kFormatVersion);
    return;
  }
  // The format first: a build that knows no log must refuse the directory from now on.
  if (format_ != kFormatVersionLog) writeFormat(kFormatVersionLog);
  log_ = std::make_unique<RecordLog>(dir_, std::max(opts_.recordLogBytes, kMinRecordLogBytes),
                                     scan.lastSeq);
  tablesSeq_.store(scan.lastSeq, std::memory_order_release);
  loggedSeq_.store(scan.lastSeq, std::memory_order_release);
}

void Env::waitCheckpoint(std::unique_lock<std::mutex>& g) {
  if (!inflightBusy_) return;
  logCheckpointWaits_.fetch_add(1);
  checkpointCv_.wait(g, [&] { return !inflightBusy_; });
}

void Env::writeCheckpoint(const std::vector<Record>& records, uint64_t lastSeq) {
  const auto t0 = std::chrono::steady_clock::now();
  // A row that a later record of this checkpoint overwrites or erases is not written at
  // all: most acceptor records are forgotten within one half of the log.
  const std::vector<bool> skip = supersededRecords(records);
  logCheckpointSkipped_.fetch_add(
      static_cast<uint64_t>(std::count(skip.begin(), skip.end(), true)));
  writeTables(std::span<const std::vector<Record>>(&records, 1), lastSeq, &skip);
  // Committed: readers see the frames up to lastSeq in the tables from now on.
  tablesSeq_.store(lastSeq, std::memory_order_release);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  logCheckpoints_.fetch_add(1);
  logCheckpointMicros_.fetch_add(static_cast<uint64_t>(us.count()));
}

void Env::checkpoint(std::unique_lock<std::mutex>& g) {
  waitCheckpoint(g);
  if (!logged_.empty()) {
    writeCheckpoint(logged_, log_->lastSeq());
    logged_.clear();
  }
  log_->restart();
}

bool Env::appendToLog(std::unique_lock<std::mutex>& g,
                      std::span<const std::vector<Record>> batches) {
  size_t bytes = log_->append(batches);
  if (bytes == 0) {
    // This half is full. The other half is free once its checkpoint is done; this one's
    // records go to the checkpoint thread, and appends go on there meanwhile.
    waitCheckpoint(g);
    if (!logged_.empty()) {
      inflight_.swap(logged_);  // logged_ gets the emptied vector back, with its capacity
      inflightSeq_ = log_->lastSeq();
      inflightBusy_ = true;
      checkpointCv_.notify_all();
    }
    log_->switchHalf();
    bytes = log_->append(batches);
    if (bytes == 0) {
      // Larger than a half: the caller writes it to the tables, after this checkpoint.
      waitCheckpoint(g);
      return false;
    }
  }
  for (const auto& batch : batches) logged_.insert(logged_.end(), batch.begin(), batch.end());
  loggedSeq_.store(log_->lastSeq(), std::memory_order_release);
  logAppends_.fetch_add(1);
  logBytes_.fetch_add(bytes);
  return true;
}

void Env::runCheckpoints() {
  std::unique_lock<std::mutex> g(writeMu_);
  for (;;) {
    checkpointCv_.wait(g, [&] { return inflightBusy_ || checkpointStop_; });
    if (!inflightBusy_) return;
    g.unlock();
    try {
      writeCheckpoint(inflight_, inflightSeq_);
    } catch (const std::exception& e) {
      failStop("data directory " + dir_ + ": checkpoint of " + dir_ + "/" + kRecordLogFile +
               " failed: " + e.what());
    }
    g.lock();
    inflight_.clear();
    inflightBusy_ = false;
    checkpointCv_.notify_all();
  }
}

void Env::stopCheckpoints() {
  if (!checkpointThread_.joinable()) return;
  {
    std::lock_guard<std::mutex> g(writeMu_);
    checkpointStop_ = true;  // the thread finishes a checkpoint in flight first
  }
  checkpointCv_.notify_all();
  checkpointThread_.join();
}

Env::~Env() {
  if (env_ == nullptr) return;
  if (log_) {
    // A clean close leaves the log empty: the next open has nothing to replay.
    stopCheckpoints();
    std::unique_lock<std::mutex> g(writeMu_);
    checkpoint(g);
    log_.reset();
  }
  for (MDB_txn* t : readPool_) mdb_txn_abort(t);
  readPool_.clear();
  records_.reset();
  kv_.reset();
  mdb_env_close(env_);
  env_ = nullptr;
  lock_.reset();
}

void Env::throwMdb(int rc, const std::string& doing) const {
  ErrorKind kind = ErrorKind::Io;
  std::string what;
  if (lmdb::isCorruption(rc)) {
    kind = ErrorKind::Corrupted;
    what = dataPath() + " is corrupted or not an LMDB file (" + describeError(rc) + ", while " +
           doing + ")";
  } else if (rc == ENOSPC) {
    kind = ErrorKind::DiskFull;
    what = "data directory " + dir_ + " is on a full disk (" + describeError(rc) + ", while " +
           doing + ")";
  } else if (rc == EACCES || rc == EROFS || rc == EPERM) {
    kind = ErrorKind::NotWritable;
    what = "data directory " + dir_ + " is not writable (" + describeError(rc) + ", while " +
           doing + ")";
  } else {
    what = "data directory " + dir_ + ": " + describeError(rc) + " while " + doing;
  }
  throw StorageError(kind, dir_, what);
}

// ---- writes ----

void Env::growMap() {
  int dead = 0;
  mdb_reader_check(env_, &dead);
  uint64_t cur = mapSize_.load();
  if (cur >= opts_.mapSizeMax) {
    failStop("data directory " + dir_ + ": " + dataPath() + " is full at the configured " +
             "maximum map size of " + std::to_string(opts_.mapSizeMax) +
             " bytes (MDB_MAP_FULL); raise map-size-max in the cluster file or collect garbage");
  }
  uint64_t next = std::min<uint64_t>(opts_.mapSizeMax, cur * 2);
  next = std::max<uint64_t>(next, cur + pageBytes_);
  next = roundUp(static_cast<size_t>(next), pageBytes_);
  remapPending_ = true;  // new readers wait at the gate; current ones finish
  {
    std::unique_lock<std::shared_mutex> g(remapMu_);
    int rc = mdb_env_set_mapsize(env_, static_cast<size_t>(next));
    if (rc != 0) {
      failStop("data directory " + dir_ + ": growing the map of " + dataPath() + " to " +
               std::to_string(next) + " bytes failed: " + describeError(rc));
    }
    MDB_envinfo info{};
    mdb_env_info(env_, &info);
    mapSize_ = info.me_mapsize;
  }
  {
    std::lock_guard<std::mutex> g(gateMu_);
    remapPending_ = false;
  }
  gateCv_.notify_all();
  mapResizes_.fetch_add(1);
}

bool Env::tryWriteGroup(std::span<const std::vector<Record>> batches, uint64_t& kvOps,
                        std::optional<uint64_t> logApplied, const std::vector<bool>* skip) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Cannot happen to the only writer; adopt the file's size and go on.
    std::unique_lock<std::shared_mutex> rg(remapMu_);
    mdb_env_set_mapsize(env_, 0);
    return false;
  }
  if (rc != 0) {
    failStop("data directory " + dir_ + ": cannot begin a write transaction on " + dataPath() +
             ": " + describeError(rc));
  }
  lmdb::WriteTxn w(txn);
  uint64_t ops = 0;
  try {
    size_t i = 0;
    for (const auto& batch : batches) {
      for (const auto& r : batch) {
        if (skip == nullptr || !(*skip)[i]) ops += records_->apply(w, r);
        ++i;
      }
    }
    if (logApplied) w.put(dbi_.meta, kLogAppliedKey, codec::encodeU64(*logApplied));
  } catch (const lmdb::MdbFail& f) {
    mdb_txn_abort(txn);
    if (f.rc == MDB_MAP_FULL) return false;
    failStop("data directory " + dir_ + ": write to " + dataPath() +
             " failed: " + describeError(f.rc) + " (" + f.doing + ")");
  } catch (const codec::DecodeError& e) {
    mdb_txn_abort(txn);
    failStop("data directory " + dir_ + ": " + dataPath() +
             " holds a corrupted value met while writing: " + e.what());
  }
  // Synced commit: returns once the data and the meta page are on disk (fdatasync).
  const uint64_t id = mdb_txn_id(txn);
  rc = mdb_txn_commit(txn);
  // MDB_MAP_FULL is raised while saving the free list, before any page is written:
  // nothing reached the disk, so growing and redoing the group is safe.
  if (rc == MDB_MAP_FULL) return false;
  if (rc != 0) {
    // A failed sync leaves the page cache in an unknown state: never retry it.
    failStop("data directory " + dir_ + ": synced commit to " + dataPath() +
             " failed: " + describeError(rc) + diagnoseWriteFailure(dir_));
  }
  committedTxnId_.store(id);  // readers begin at or above it (env_read.cc)
  kvOps += ops;
  return true;
}

void Env::writeGroup(std::span<const std::vector<Record>> batches) {
  PC_ASSERT(!opts_.readOnly, dir_);
  uint64_t records = 0, critical = 0;
  for (const auto& batch : batches) {
    for (const auto& r : batch) {
      // The core promises records it could load again (validate.h); anything else is our
      // bug, caught before it reaches the disk. Not the KV payload decode: the engine voted
      // Prepared only on a payload it decoded, and decoding it again per prepare cost the
      // write path an allocation per operation (load still checks it).
      std::optional<std::string> why = checkRecord(r, /*kvPayloads=*/false);
      PC_ASSERT(!why, recordName(r), why.value_or(""));
      ++records;
      critical += isCriticalRecord(r) ? 1 : 0;
    }
  }
  if (records == 0) return;
  std::unique_lock<std::mutex> g(writeMu_);
  const auto t0 = std::chrono::steady_clock::now();
  bool logged = false;
  if (log_) {
    // false: larger than half the log; straight into the tables below, which hold every
    // logged frame by then.
    logged = appendToLog(g, batches);
  }
  if (!logged) kvOpsApplied_.fetch_add(writeTables(batches, std::nullopt));
  syncedCommitMicros_.fetch_add(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count()));
  syncedCommits_.fetch_add(1);
  (critical > 0 ? criticalCommits_ : backgroundCommits_).fetch_add(1);
  recordsWritten_.fetch_add(records);
  criticalRecords_.fetch_add(critical);
  backgroundRecords_.fetch_add(records - critical);
}

uint64_t Env::writeTables(std::span<const std::vector<Record>> batches,
                          std::optional<uint64_t> logApplied, const std::vector<bool>* skip) {
  uint64_t kvOps = 0;
  while (!tryWriteGroup(batches, kvOps, logApplied, skip)) {
    mapFullRetries_.fetch_add(1);
    growMap();
  }
  updateQuota();
  if (tableCommits_.fetch_add(1) % 1024 == 1023) {
    int dead = 0;
    mdb_reader_check(env_, &dead);  // see openLmdb()
  }
  return kvOps;
}

// ---- sizes, quota, metrics ----

uint64_t Env::usedBytes() const {
  MDB_envinfo info{};
  MDB_stat st{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  return (uint64_t{info.me_last_pgno} + 1) * st.ms_psize;
}

StorageQuota Env::quota() const {
  StorageQuota q;
  q.liveBytes = liveBytes_.load(std::memory_order_relaxed);
  q.limitBytes = opts_.mapSizeMax;
  q.quotaBytes = quotaBytes();
  q.nearlyFull = nearlyFull();
  return q;
}

EnvMetrics Env::metrics() const {
  EnvMetrics m;
  m.syncedCommits = syncedCommits_.load();
  m.syncedCommitMicros = syncedCommitMicros_.load();
  m.criticalCommits = criticalCommits_.load();
  m.backgroundCommits = backgroundCommits_.load();
  m.recordsWritten = recordsWritten_.load();
  m.criticalRecords = criticalRecords_.load();
  m.backgroundRecords = backgroundRecords_.load();
  m.kvOpsApplied = kvOpsApplied_.load();
  m.mapFullRetries = mapFullRetries_.load();
  m.mapResizes = mapResizes_.load();
  m.mapSizeBytes = mapSize_.load();
  m.logAppends = logAppends_.load();
  m.logBytes = logBytes_.load();
  m.logCheckpoints = logCheckpoints_.load();
  m.logReplayed = logReplayed_.load();
  m.logCheckpointWaits = logCheckpointWaits_.load();
  m.logCheckpointMicros = logCheckpointMicros_.load();
  m.logCheckpointSkipped = logCheckpointSkipped_.load();
  return m;
}

}  // namespace pc::storage
