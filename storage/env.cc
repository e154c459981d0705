#include "storage/env.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "paxos_commit/assert.h"
#include "paxos_commit/overloaded.h"
#include "storage/codec.h"

namespace pc::storage {

namespace {

constexpr const char* kLowWaterAcceptor = "acceptor";
constexpr const char* kLowWaterParticipant = "participant";
constexpr const char* kLowWaterDecision = "decision";
constexpr const char* kLeaderRoundKey = "round";
constexpr const char* kFormatKey = "format";
constexpr unsigned kMaxDbs = 16;
constexpr int kMaxProbes = 256;

// An LMDB call failed inside a write transaction: MDB_MAP_FULL is retried after growing
// the map, anything else fail-stops.
struct MdbFail {
  int rc;
  std::string doing;
};

MDB_val toVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view toView(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

bool isCorruption(int rc) {
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
         rc == MDB_VERSION_MISMATCH || rc == MDB_PANIC;
}

size_t roundUp(size_t v, size_t unit) { return (v + unit - 1) / unit * unit; }

std::string errnoText(int e) { return std::strerror(e); }

std::optional<uint64_t> freeBytesOf(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return std::nullopt;
  return uint64_t{vfs.f_bavail} * uint64_t{vfs.f_frsize};
}

// LMDB reports a short write as EIO, whatever stopped it: name the likely cause.
std::string diagnoseWriteFailure(const std::string& dir) {
  std::optional<uint64_t> freeBytes = freeBytesOf(dir);
  if (freeBytes && *freeBytes < (uint64_t{1} << 20)) {
    return " (disk full: " + std::to_string(*freeBytes) + " bytes free on its file system)";
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    return " (file size limit RLIMIT_FSIZE is " + std::to_string(lim.rlim_cur) + " bytes)";
  }
  return "";
}

// Records are checked against what the core promises; a violation is our bug.
uint64_t estimateRecords(std::span<const std::vector<Record>> batches) {
  uint64_t n = 0;
  for (const auto& b : batches) n += b.size();
  return n;
}

}  // namespace

// ---- read transactions ----

class Env::ReadTxn {
 public:
  explicit ReadTxn(const Env& env) : env_(env) {
    for (int attempt = 0;; ++attempt) {
      if (env.remapPending_.load()) {
        std::unique_lock<std::mutex> g(env.gateMu_);
        env.gateCv_.wait(g, [&] { return !env.remapPending_.load(); });
      }
      lock_ = std::shared_lock<std::shared_mutex>(env.remapMu_);
      int rc = begin();
      if (rc == 0) return;
      lock_.unlock();
      if (rc == MDB_MAP_RESIZED && attempt < 8) {
        // Another process grew the map past ours (we are a read-only inspector): adopt
        // the size recorded in the file, with no transaction of ours live.
        std::unique_lock<std::shared_mutex> g(env.remapMu_);
        int rc2 = mdb_env_set_mapsize(env.env_, 0);
        if (rc2 != 0) env.throwMdb(rc2, "adopting the grown map size");
        continue;
      }
      env.throwMdb(rc, "beginning a read transaction");
    }
  }
  ~ReadTxn() {
    mdb_txn_reset(txn_);
    std::lock_guard<std::mutex> g(env_.readPoolMu_);
    env_.readPool_.push_back(txn_);
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  MDB_txn* get() const { return txn_; }

 private:
  int begin() {
    MDB_txn* pooled = nullptr;
    {
      std::lock_guard<std::mutex> g(env_.readPoolMu_);
      if (!env_.readPool_.empty()) {
        pooled = env_.readPool_.back();
        env_.readPool_.pop_back();
      }
    }
    if (pooled != nullptr) {
      int rc = mdb_txn_renew(pooled);
      if (rc == 0) {
        txn_ = pooled;
        return 0;
      }
      mdb_txn_abort(pooled);
      return rc;
    }
    return mdb_txn_begin(env_.env_, nullptr, MDB_RDONLY, &txn_);
  }

  const Env& env_;
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
};

// ---- write transactions ----

class Env::WriteCtx {
 public:
  WriteCtx(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn() const { return txn_; }

  // The view is valid until the next write in this transaction.
  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) {
    MDB_val k = toVal(key), v;
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    if (rc != 0) throw MdbFail{rc, "mdb_get"};
    return toView(v);
  }
  void put(MDB_dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = toVal(key), v = toVal(value);
    int rc = mdb_put(txn_, dbi, &k, &v, 0);
    if (rc != 0) throw MdbFail{rc, "mdb_put"};
  }
  void del(MDB_dbi dbi, std::string_view key) {
    MDB_val k = toVal(key);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) throw MdbFail{rc, "mdb_del"};
  }
  // Calls f(key, value) for keys >= from in order while it returns true.
  template <class F>
  void scan(MDB_dbi dbi, std::string_view from, F f) {
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(txn_, dbi, &c);
    if (rc != 0) throw MdbFail{rc, "mdb_cursor_open"};
    MDB_val k = toVal(from), v;
    rc = mdb_cursor_get(c, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
      if (!f(toView(k), toView(v))) break;
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) throw MdbFail{rc, "mdb_cursor_get"};
  }

  uint64_t kvOps = 0;

 private:
  MDB_txn* txn_;
};

// ---- open ----

Env::Env(std::string dir, Options options) : dir_(std::move(dir)), opts_(options) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  PC_ASSERT(opts_.mapSizeStart > 0 && opts_.mapSizeStart <= opts_.mapSizeMax, opts_.mapSizeStart,
            opts_.mapSizeMax);
  const std::string& d = dir_;

  struct stat st {};
  if (::stat(d.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT && opts_.createDir && !opts_.readOnly) {
      if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
        int e2 = errno;
        throw StorageError(e2 == ENOENT ? ErrorKind::DirMissing : ErrorKind::NotWritable, d,
                           "cannot create data directory " + d + ": " + errnoText(e2));
      }
      if (::stat(d.c_str(), &st) != 0) {
        throw StorageError(ErrorKind::Io, d, "data directory " + d + ": " + errnoText(errno));
      }
    } else if (e == ENOENT) {
      throw StorageError(ErrorKind::DirMissing, d, "data directory " + d + " does not exist");
    } else {
      throw StorageError(e == EACCES ? ErrorKind::NotWritable : ErrorKind::Io, d,
                         "data directory " + d + " cannot be accessed: " + errnoText(e));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    throw StorageError(ErrorKind::DirMissing, d, "data directory " + d + " is not a directory");
  }
  if (::access(d.c_str(), opts_.readOnly ? (R_OK | X_OK) : (R_OK | W_OK | X_OK)) != 0) {
    int e = errno;
    throw StorageError(ErrorKind::NotWritable, d,
                       "data directory " + d + " is not " +
                           (opts_.readOnly ? "readable" : "writable") + ": " + errnoText(e));
  }

  // Not ours? A directory without data.mdb must hold nothing but LMDB's lock file and our
  // pid file: pointing --data at a home directory must not litter it.
  bool hasData = ::access((d + "/data.mdb").c_str(), F_OK) == 0;
  if (!hasData) {
    if (opts_.readOnly) {
      throw StorageError(ErrorKind::NotPcommit, d,
                         d + " is not a pcommit data directory: it has no data.mdb");
    }
    DIR* dh = ::opendir(d.c_str());
    if (dh == nullptr) {
      throw StorageError(ErrorKind::Io, d,
                         "cannot list data directory " + d + ": " + errnoText(errno));
    }
    std::string stranger;
    while (dirent* ent = ::readdir(dh)) {
      std::string name = ent->d_name;
      if (name == "." || name == ".." || name == "lock.mdb" || name == DirLock::kFileName) {
        continue;
      }
      stranger = name;
      break;
    }
    ::closedir(dh);
    if (!stranger.empty()) {
      throw StorageError(ErrorKind::NotPcommit, d,
                         d + " is not a pcommit data directory: it is not empty (found '" +
                             stranger + "') and has no data.mdb");
    }
  }

  if (!opts_.readOnly) {
    // Before the pid file: on a full disk even that cannot be written.
    std::optional<uint64_t> freeBytes = freeBytesOf(d);
    if (opts_.minFreeBytes > 0 && freeBytes && *freeBytes < opts_.minFreeBytes) {
      throw StorageError(
          ErrorKind::DiskFull, d,
          "data directory " + d + " is on a full disk: " + std::to_string(*freeBytes) +
              " bytes free, at least " + std::to_string(opts_.minFreeBytes) + " needed");
    }
    lock_ = std::make_unique<DirLock>(d);
  }

  try {
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
    rc = mdb_env_open(env_, d.c_str(), flags, 0644);
    if (rc != 0) {
      if (rc == ENOENT) {
        throw StorageError(ErrorKind::NotPcommit, d,
                           d + " is not a pcommit data directory: it has no data.mdb");
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
    openDatabases();
  } catch (...) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
    lock_.reset();
    throw;
  }
}

void Env::openDatabases() {
  const std::string& d = dir_;
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, opts_.readOnly ? MDB_RDONLY : 0u, &txn);
  if (rc != 0) throwMdb(rc, "beginning the opening transaction");
  struct Guard {
    MDB_txn*& t;
    ~Guard() {
      if (t != nullptr) mdb_txn_abort(t);
    }
  } guard{txn};

  bool fresh = false;
  rc = mdb_dbi_open(txn, "meta", 0, &dbi_.meta);
  if (rc == MDB_NOTFOUND) {
    // No meta database: a fresh environment (never initialised, or a crash before the
    // first commit), or someone else's LMDB file.
    MDB_dbi mainDbi;
    rc = mdb_dbi_open(txn, nullptr, 0, &mainDbi);
    if (rc != 0) throwMdb(rc, "opening the main database");
    MDB_stat ms{};
    rc = mdb_stat(txn, mainDbi, &ms);
    if (rc != 0) throwMdb(rc, "reading the main database");
    if (ms.ms_entries != 0 || opts_.readOnly) {
      throw StorageError(ErrorKind::NotPcommit, d,
                         d + " is not a pcommit data directory: " + dataPath() +
                             (ms.ms_entries != 0 ? " is an LMDB file pcommit did not write"
                                                 : " was never initialised") +
                             " (no format record)");
    }
    fresh = true;
    rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi_.meta);
    if (rc != 0) throwMdb(rc, "creating the meta database");
  } else if (rc == MDB_INCOMPATIBLE) {
    throw StorageError(ErrorKind::NotPcommit, d,
                       d + " is not a pcommit data directory: " + dataPath() +
                           " is an LMDB file pcommit did not write");
  } else if (rc != 0) {
    throwMdb(rc, "opening the meta database");
  }

  if (!fresh) {
    MDB_val k = toVal(kFormatKey), v;
    rc = mdb_get(txn, dbi_.meta, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) throwMdb(rc, "reading the format record");
    std::optional<uint32_t> version;
    if (rc == 0) version = codec::decodeFormat(toView(v));
    if (!version) {
      throw StorageError(
          ErrorKind::NotPcommit, d,
          d + " is not a pcommit data directory: " + dataPath() + " has no pcommit format record");
    }
    if (*version != kFormatVersion) {
      throw StorageError(ErrorKind::UnknownFormat, d,
                         d + " was written by unknown storage format version " +
                             std::to_string(*version) + " (this build reads version " +
                             std::to_string(kFormatVersion) + "); refusing to open it");
    }
  }

  const std::pair<const char*, MDB_dbi*> dbs[] = {
      {"acceptor", &dbi_.acceptor},  {"acceptor_tombstones", &dbi_.tombstones},
      {"low_water", &dbi_.lowWater}, {"participant", &dbi_.participant},
      {"kv_data", &dbi_.kvData},     {"kv_locks", &dbi_.kvLocks},
      {"leader", &dbi_.leader},      {"decision", &dbi_.decision},
  };
  for (const auto& [name, dbi] : dbs) {
    rc = mdb_dbi_open(txn, name, opts_.readOnly ? 0u : MDB_CREATE, dbi);
    if (rc == MDB_NOTFOUND) {
      throw StorageError(ErrorKind::Corrupted, d,
                         dataPath() + " is corrupted: named database '" + name + "' is missing");
    }
    if (rc != 0) throwMdb(rc, std::string("opening database '") + name + "'");
  }
  if (fresh) {
    std::string f = codec::encodeFormat(kFormatVersion);
    MDB_val k = toVal(kFormatKey), v = toVal(f);
    rc = mdb_put(txn, dbi_.meta, &k, &v, 0);
    if (rc != 0) throwMdb(rc, "writing the format record");
  }
  // Commit keeps the handles (a read-only txn's commit just ends it); a fresh
  // environment's format record is synced here.
  MDB_txn* t = txn;
  txn = nullptr;
  rc = mdb_txn_commit(t);
  if (rc != 0) throwMdb(rc, "committing the opening transaction");
}

Env::~Env() {
  if (env_ == nullptr) return;
  for (MDB_txn* t : readPool_) mdb_txn_abort(t);
  readPool_.clear();
  mdb_env_close(env_);
  env_ = nullptr;
  lock_.reset();
}

void Env::throwMdb(int rc, const std::string& doing) const {
  ErrorKind kind = ErrorKind::Io;
  std::string what;
  if (isCorruption(rc)) {
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
             " bytes (MDB_MAP_FULL); raise the maximum or collect garbage");
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

void Env::writeGroup(std::span<const std::vector<Record>> batches) {
  PC_ASSERT(!opts_.readOnly, dir_);
  uint64_t records = estimateRecords(batches);
  if (records == 0) return;
  std::lock_guard<std::mutex> g(writeMu_);
  uint64_t kvOps = 0;
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      // Cannot happen to the only writer; adopt the file's size and go on.
      std::unique_lock<std::shared_mutex> rg(remapMu_);
      mdb_env_set_mapsize(env_, 0);
      continue;
    }
    if (rc != 0) {
      failStop("data directory " + dir_ + ": cannot begin a write transaction on " + dataPath() +
               ": " + describeError(rc));
    }
    WriteCtx w(txn);
    try {
      for (const auto& batch : batches) {
        for (const auto& r : batch) applyRecord(w, r);
      }
    } catch (const MdbFail& f) {
      mdb_txn_abort(txn);
      if (f.rc == MDB_MAP_FULL) {
        mapFullRetries_.fetch_add(1);
        growMap();
        continue;
      }
      failStop("data directory " + dir_ + ": write to " + dataPath() +
               " failed: " + describeError(f.rc) + " (" + f.doing + ")");
    } catch (const codec::DecodeError& e) {
      mdb_txn_abort(txn);
      failStop("data directory " + dir_ + ": " + dataPath() +
               " holds a corrupted value met while writing: " + e.what());
    }
    // Synced commit: returns once the data and the meta page are on disk (fdatasync).
    rc = mdb_txn_commit(txn);
    if (rc == MDB_MAP_FULL) {
      // Raised while saving the free list, before any page is written: nothing reached
      // the disk, so growing and redoing the group is safe.
      mapFullRetries_.fetch_add(1);
      growMap();
      continue;
    }
    if (rc != 0) {
      // A failed sync leaves the page cache in an unknown state: never retry it.
      failStop("data directory " + dir_ + ": synced commit to " + dataPath() +
               " failed: " + describeError(rc) + diagnoseWriteFailure(dir_));
    }
    kvOps = w.kvOps;
    break;
  }

  uint64_t critical = 0;
  for (const auto& batch : batches) {
    for (const auto& r : batch) critical += isCriticalRecord(r) ? 1 : 0;
  }
  if (syncedCommits_.fetch_add(1) % 1024 == 1023) {
    int dead = 0;
    mdb_reader_check(env_, &dead);  // see the constructor
  }
  (critical > 0 ? criticalCommits_ : backgroundCommits_).fetch_add(1);
  recordsWritten_.fetch_add(records);
  criticalRecords_.fetch_add(critical);
  backgroundRecords_.fetch_add(records - critical);
  kvOpsApplied_.fetch_add(kvOps);
}

void Env::applyRecord(WriteCtx& w, const Record& rec) {
  auto lowWater = [&](const char* which) {
    auto v = w.get(dbi_.lowWater, which);
    return v ? codec::decodeTxn(*v) : TxnId{};
  };
  // Erases every key of `dbi` <= mark for which drop(value) holds (range scan from the
  // first key: keys are big-endian TxnIds).
  auto eraseUpTo = [&](MDB_dbi dbi, const TxnId& mark, auto drop) {
    std::string last = codec::txnKey(mark);
    std::vector<std::string> doomed;
    w.scan(dbi, "", [&](std::string_view k, std::string_view v) {
      if (k > std::string_view(last)) return false;
      if (drop(v)) doomed.emplace_back(k);
      return true;
    });
    for (const auto& k : doomed) w.del(dbi, k);
  };
  auto dropLocks = [&](const TxnId& txn) {
    std::string prefix = codec::txnKey(txn);
    std::vector<std::string> doomed;
    w.scan(dbi_.kvLocks, prefix, [&](std::string_view k, std::string_view) {
      if (k.substr(0, prefix.size()) != prefix) return false;
      doomed.emplace_back(k);
      return true;
    });
    for (const auto& k : doomed) w.del(dbi_.kvLocks, k);
  };
  // The built-in KV engine: find the slot of `key` (probing past hash collisions of
  // long keys); returns the slot key and the current value.
  auto kvFind = [&](const std::string& key) {
    bool isLong = codec::isLongKey(key, maxKeyBytes_);
    for (int probe = 0; probe < kMaxProbes; ++probe) {
      std::string slot = codec::kvSlotKey(key, maxKeyBytes_, static_cast<uint8_t>(probe));
      auto v = w.get(dbi_.kvData, slot);
      if (!v) return std::make_pair(slot, codec::KvValue{});
      codec::KvValue cur = codec::decodeKvValue(*v);
      if (!isLong || cur.fullKey == key) return std::make_pair(slot, cur);
    }
    PC_ASSERT(false, "kv probe sequence exhausted", codec::printable(key));
    return std::make_pair(std::string(), codec::KvValue{});
  };

  std::visit(Overloaded{
                 [&](const AcceptorTxnRecord& x) {
                   w.put(dbi_.acceptor, codec::txnKey(x.txn), codec::encode(x));
                 },
                 [&](const AcceptorForgetRecord& x) {
                   std::string k = codec::txnKey(x.txn);
                   w.del(dbi_.acceptor, k);
                   // A tombstone only above the low-water mark: below it, "forgotten" is implied.
                   if (x.txn > lowWater(kLowWaterAcceptor)) {
                     w.put(dbi_.tombstones, k, codec::encodeOutcome(x.outcome));
                   }
                 },
                 [&](const AcceptorLowWaterRecord& x) {
                   if (x.mark > lowWater(kLowWaterAcceptor)) {
                     w.put(dbi_.lowWater, kLowWaterAcceptor, codec::encodeTxn(x.mark));
                   }
                   eraseUpTo(dbi_.tombstones, x.mark, [](std::string_view) { return true; });
                 },
                 [&](const ParticipantTxnRecord& x) {
                   std::string k = codec::txnKey(x.txn);
                   auto prev = w.get(dbi_.participant, k);
                   bool wasCommitted =
                       prev && codec::decodeParticipantState(*prev) == ParticipantState::Committed;
                   dropLocks(x.txn);
                   std::optional<std::vector<kv::Op>> ops;
                   bool kvData = opts_.kvData;  // else an external engine holds the data
                   if (kvData && (x.state == ParticipantState::Prepared ||
                                  (x.state == ParticipantState::Committed && !wasCommitted))) {
                     ops = kv::decodeOps(x.payload);
                   }
                   if (x.state == ParticipantState::Prepared && ops) {
                     // Derived index of the locks a Prepared record holds (for inspection; the
                     // engine retakes them from the payload at restart).
                     std::vector<std::string> keys;
                     for (const auto& op : *ops) keys.push_back(op.key);
                     std::sort(keys.begin(), keys.end());
                     keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
                     for (uint32_t i = 0; i < keys.size(); ++i) {
                       w.put(dbi_.kvLocks, codec::lockKey(x.txn, i), codec::encodeLock(keys[i]));
                     }
                   }
                   if (kvData && x.state == ParticipantState::Committed && !wasCommitted) {
                     // Commit applies the writes exactly once, in the transaction that makes the
                     // outcome durable. The engine voted Prepared on this payload, so it decodes.
                     PC_ASSERT(ops.has_value(), x.txn, "committed payload does not decode");
                     for (const auto& op : *ops) {
                       if (op.kind == kv::OpKind::Expect) continue;
                       auto [slot, cur] = kvFind(op.key);
                       cur.versioned.version += 1;
                       if (op.kind == kv::OpKind::Put) {
                         cur.versioned.value = op.value;
                       } else {
                         cur.versioned.value.reset();
                       }
                       if (codec::isLongKey(op.key, maxKeyBytes_)) cur.fullKey = op.key;
                       w.put(dbi_.kvData, slot, codec::encode(cur));
                       w.kvOps += 1;
                     }
                   }
                   w.put(dbi_.participant, k, codec::encode(x));
                 },
                 [&](const ParticipantLowWaterRecord& x) {
                   if (x.mark > lowWater(kLowWaterParticipant)) {
                     w.put(dbi_.lowWater, kLowWaterParticipant, codec::encodeTxn(x.mark));
                   }
                   // Finished records go; Prepared ones stay (their outcome is still unknown).
                   eraseUpTo(dbi_.participant, x.mark, [](std::string_view v) {
                     return codec::decodeParticipantState(v) != ParticipantState::Prepared;
                   });
                 },
                 [&](const LeaderRoundRecord& x) {
                   auto v = w.get(dbi_.leader, kLeaderRoundKey);
                   if (!v || x.round > codec::decodeU64(*v)) {
                     w.put(dbi_.leader, kLeaderRoundKey, codec::encodeU64(x.round));
                   }
                 },
                 [&](const DecisionRecord& x) {
                   w.put(dbi_.decision, codec::txnKey(x.txn), codec::encode(x));
                 },
                 [&](const DecisionLowWaterRecord& x) {
                   if (x.mark > lowWater(kLowWaterDecision)) {
                     w.put(dbi_.lowWater, kLowWaterDecision, codec::encodeTxn(x.mark));
                   }
                   eraseUpTo(dbi_.decision, x.mark, [](std::string_view v) {
                     // The key is not needed to tell whether a decision is done.
                     return codec::decodeDecision(TxnId{}, v).done;
                   });
                 },
             },
             rec);
}

// ---- reads ----

namespace {

// Iterates a whole database in a read transaction; LMDB errors and undecodable values
// become StorageError naming the database and key.
template <class F>
void readAll(const Env& env, MDB_txn* txn, MDB_dbi dbi, const char* name, F f) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &c);
  MDB_val k, v;
  if (rc == 0) rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
  try {
    while (rc == 0) {
      f(toView(k), toView(v));
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
  } catch (const codec::DecodeError& e) {
    mdb_cursor_close(c);
    throw StorageError(ErrorKind::Corrupted, env.dir(),
                       env.dataPath() + " is corrupted: database '" + name + "' key " +
                           codec::printable(toView(k)) + ": " + e.what());
  }
  if (c != nullptr) mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) {
    throw StorageError(isCorruption(rc) ? ErrorKind::Corrupted : ErrorKind::Io, env.dir(),
                       env.dataPath() + (isCorruption(rc) ? " is corrupted" : ": read failed") +
                           " (" + describeError(rc) + ", reading database '" + name + "')");
  }
}

template <class T, class F>
std::optional<T> readOne(const Env& env, MDB_txn* txn, MDB_dbi dbi, const char* name,
                         std::string_view key, F decode) {
  MDB_val k = toVal(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) {
    throw StorageError(isCorruption(rc) ? ErrorKind::Corrupted : ErrorKind::Io, env.dir(),
                       env.dataPath() + (isCorruption(rc) ? " is corrupted" : ": read failed") +
                           " (" + describeError(rc) + ", reading database '" + name + "')");
  }
  try {
    return decode(toView(v));
  } catch (const codec::DecodeError& e) {
    throw StorageError(ErrorKind::Corrupted, env.dir(),
                       env.dataPath() + " is corrupted: database '" + name + "' key " +
                           codec::printable(key) + ": " + e.what());
  }
}

}  // namespace

Recovered Env::load() const {
  ReadTxn t(*this);
  Recovered img;
  readAll(*this, t.get(), dbi_.acceptor, "acceptor", [&](auto k, auto v) {
    img.acceptorTxns.push_back(codec::decodeAcceptorTxn(codec::parseTxnKey(k), v));
  });
  readAll(*this, t.get(), dbi_.tombstones, "acceptor_tombstones", [&](auto k, auto v) {
    img.acceptorTombstones.push_back(
        AcceptorTombstone{codec::parseTxnKey(k), codec::decodeOutcome(v)});
  });
  readAll(*this, t.get(), dbi_.participant, "participant", [&](auto k, auto v) {
    img.participantTxns.push_back(codec::decodeParticipantTxn(codec::parseTxnKey(k), v));
  });
  readAll(*this, t.get(), dbi_.decision, "decision", [&](auto k, auto v) {
    img.decisions.push_back(codec::decodeDecision(codec::parseTxnKey(k), v));
  });
  auto mark = [&](const char* which) {
    return readOne<TxnId>(*this, t.get(), dbi_.lowWater, "low_water", which, codec::decodeTxn)
        .value_or(TxnId{});
  };
  img.acceptorLowWater = mark(kLowWaterAcceptor);
  img.participantLowWater = mark(kLowWaterParticipant);
  img.decisionLowWater = mark(kLowWaterDecision);
  img.leaderRound =
      readOne<uint64_t>(*this, t.get(), dbi_.leader, "leader", kLeaderRoundKey, codec::decodeU64)
          .value_or(0);
  return img;
}

kv::Versioned Env::read(const std::string& key) const {
  try {
    ReadTxn t(*this);
    bool isLong = codec::isLongKey(key, maxKeyBytes_);
    for (int probe = 0; probe < kMaxProbes; ++probe) {
      std::string slot = codec::kvSlotKey(key, maxKeyBytes_, static_cast<uint8_t>(probe));
      auto v = readOne<codec::KvValue>(*this, t.get(), dbi_.kvData, "kv_data", slot,
                                       codec::decodeKvValue);
      if (!v) return kv::Versioned{};
      if (!isLong || v->fullKey == key) return v->versioned;
    }
    return kv::Versioned{};
  } catch (const StorageError& e) {
    // The event loop cannot go on without its data: environment failure, fail-stop.
    failStop(e.what());
  }
}

void Env::forEachKv(
    const std::function<void(const std::string& key, const kv::Versioned&)>& fn) const {
  ReadTxn t(*this);
  readAll(*this, t.get(), dbi_.kvData, "kv_data", [&](auto k, auto v) {
    codec::KvValue kv = codec::decodeKvValue(v);
    fn(codec::kvKeyOf(k, kv), kv.versioned);
  });
}

void Env::forEachLock(
    const std::function<void(const TxnId& txn, const std::string& key)>& fn) const {
  ReadTxn t(*this);
  readAll(*this, t.get(), dbi_.kvLocks, "kv_locks", [&](auto k, auto v) {
    if (k.size() != codec::kTxnKeyBytes + 4) {
      throw codec::DecodeError("lock key of " + std::to_string(k.size()) + " bytes");
    }
    fn(codec::parseTxnKey(k.substr(0, codec::kTxnKeyBytes)), codec::decodeLock(v));
  });
}

std::vector<DbStat> Env::stats() const {
  ReadTxn t(*this);
  std::vector<DbStat> out;
  const std::pair<const char*, MDB_dbi> dbs[] = {
      {"meta", dbi_.meta},
      {"acceptor", dbi_.acceptor},
      {"acceptor_tombstones", dbi_.tombstones},
      {"low_water", dbi_.lowWater},
      {"participant", dbi_.participant},
      {"kv_data", dbi_.kvData},
      {"kv_locks", dbi_.kvLocks},
      {"leader", dbi_.leader},
      {"decision", dbi_.decision},
  };
  for (const auto& [name, dbi] : dbs) {
    MDB_stat ms{};
    int rc = mdb_stat(t.get(), dbi, &ms);
    if (rc != 0) throwMdb(rc, std::string("reading statistics of database '") + name + "'");
    out.push_back(DbStat{name, ms.ms_entries});
  }
  return out;
}

uint64_t Env::usedBytes() const {
  MDB_envinfo info{};
  MDB_stat st{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  return (uint64_t{info.me_last_pgno} + 1) * st.ms_psize;
}

EnvMetrics Env::metrics() const {
  EnvMetrics m;
  m.syncedCommits = syncedCommits_.load();
  m.criticalCommits = criticalCommits_.load();
  m.backgroundCommits = backgroundCommits_.load();
  m.recordsWritten = recordsWritten_.load();
  m.criticalRecords = criticalRecords_.load();
  m.backgroundRecords = backgroundRecords_.load();
  m.kvOpsApplied = kvOpsApplied_.load();
  m.mapFullRetries = mapFullRetries_.load();
  m.mapResizes = mapResizes_.load();
  m.mapSizeBytes = mapSize_.load();
  return m;
}

}  // namespace pc::storage
