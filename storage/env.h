// Env: the one LMDB environment of a pcommit process, in its data directory.
//
// What is stored (one named database per kind; keys of transactions are 16-byte
// big-endian TxnIds, so LMDB order is TxnId order; values are codec.h encodings):
//   meta                 "format" -> magic + format version (kFormatVersion)
//                        "identity" -> cluster id + node id (identity.h), "rejoined" -> TxnId
//   acceptor             txn -> AcceptorTxnRecord (per instance mbal, bal, val; participants)
//   acceptor_tombstones  txn -> acked outcome (1 byte)  forgotten txns above the low-water mark
//   low_water            "acceptor" | "participant" | "decision" -> TxnId
//   participant          txn -> ParticipantTxnRecord (prepared records, outcomes until acked)
//   kv_data              kv key -> (version, value)   the built-in KV engine's committed data
//   kv_locks             txn || index -> kv key       locks of Prepared records (derived)
//   leader               "round" -> highest ballot round used as a leader
//   decision             txn -> DecisionRecord        2PC Commit decisions until acked
//
// Semantics: writing records gives exactly the image that paxos_commit's applyRecord()
// gives for the same sequence (load() returns it; its vectors are sorted by TxnId where
// applyRecord keeps first-insertion order). In addition, when a ParticipantTxnRecord with
// state Committed is written and the stored record for that txn was not already Committed,
// its payload's put/del ops are applied to kv_data in the same write transaction (exactly
// once: versions bump by one per put or del; a deleted key keeps its version).
//
// Durability: every write is one LMDB write transaction committed with sync (no
// MDB_NOSYNC, MDB_NOMETASYNC or MDB_MAPASYNC) -- or, with a record log
// (Options::recordLogBytes, record_log.h), one synced append to the log whose records
// reach the tables at the next checkpoint (a synced LMDB commit, made by the Env's
// checkpoint thread when a half of the log is full; at a clean close; at the next open
// after a crash). When
// writeGroup() returns, every record given is on disk; a crash at any moment leaves each
// group entirely present or absent. With a record log, load() returns the tables with
// the log's records applied (applyRecord), so what a role recovers is the same either way.
//
// Errors: opening and load() throw StorageError (see errors.h) with a message naming the
// path and the cause; load() checks every record by meaning too (validate.h) and refuses
// a bad one as Corrupted, naming the database, the key and the reason. While running, an
// environment failure (a failed commit, EIO, ENOSPC, a corrupted page met by the writer
// or a reader, the map full at mapSizeMax) calls failStop(): never retried, the process
// aborts and recovers from disk at restart. MDB_MAP_FULL below mapSizeMax is not a
// failure: the map doubles and the group is retried. Writing a record that fails the
// checks of validate.h is our bug (PC_ASSERT): a node never writes what it cannot load.
//
// Quota (like etcd's --quota-backend-bytes): nearlyFull() says the pages in use reached
// Options::quotaPercent of mapSizeMax. Env itself refuses nothing; a participant's engine
// wrapped in QuotaEngine (quota_engine.h) then votes Aborted on new prepares with a
// "storage quota: ..." reason, while outcomes, acceptor and coordinator records keep
// using the headroom left, instead of the whole node fail-stopping at MDB_MAP_FULL.
//
// Layout of the code: data_dir.h (directory checks, pid lock, format record),
// record_tables.h (one function per record kind, load), kv_tables.h (the KV engine's
// tables), lmdb_txn.h (LMDB helpers), validate.h (checks by meaning), verify.h.
//
// Threads: one writer at a time (writeBatch/writeGroup serialise on a mutex; in a node
// only the StorageThread writes). With a record log, a checkpoint thread writes the
// tables while the writer appends to the other half of the log; the writer waits for it
// only when that half fills before the checkpoint ends (EnvMetrics::logCheckpointWaits). read(),
// load(), forEach*() may run on any thread, concurrently with the writer (read-only LMDB
// transactions, MDB_NOTLS). No reader may be running when the Env is destroyed.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/records.h"
#include "storage/dir_lock.h"
#include "storage/errors.h"
#include "storage/identity.h"

namespace pc::storage {

class KvTables;
class RecordLog;
class RecordTables;

// Format 1: the tables alone. Format 2: the tables and a record log (records.log) that may
// hold records the tables do not yet; a build that reads only format 1 must refuse it.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kFormatVersionLog = 2;
inline constexpr size_t kDefaultMapSizeMax = size_t{64} << 30;
// Smallest map limit accepted (a few pages per named database, plus room to work).
inline constexpr size_t kMinMapSizeMax = size_t{1} << 20;

struct Options {
  // The map starts at mapSizeStart (or the size already in the file, if larger) and
  // doubles on MDB_MAP_FULL up to mapSizeMax; a group that does not fit then fail-stops.
  // mapSizeMax comes from the cluster file's map-size-max (kDefaultMapSizeMax if unset).
  size_t mapSizeStart = size_t{16} << 20;
  size_t mapSizeMax = kDefaultMapSizeMax;
  // nearlyFull() once the pages in use reach this percentage of mapSizeMax (1..100).
  unsigned quotaPercent = 90;
  // Read-only: no pid lock, no writes, safe while the owning node runs (inspect).
  bool readOnly = false;
  // Create the data directory (not its parents) if it does not exist.
  bool createDir = false;
  // Refuse to open for writing with less free space than this on the data directory's
  // file system ("full disk"); 0 disables the check.
  uint64_t minFreeBytes = uint64_t{4} << 20;
  // Apply committed KV payloads to kv_data and derive kv_locks (the built-in KV engine).
  // Off for a node whose participant runs an external engine (its own store holds data).
  bool kvData = true;
  // Who opens the directory (serve; identity.h). Written at the first open, in the
  // transaction that creates the environment; a later open by another cluster or node
  // throws IdentityMismatch. nullopt: no check, nothing written (inspect, tools, tests).
  std::optional<Identity> identity;
  // false: a directory without an environment is not initialised but refused with
  // NotInitialised, before anything is created in it (a participant whose data was lost
  // must not silently start empty: cli/serve.cc).
  bool mayInit = true;
  // For a fresh environment only (a participant rejoining after its data was lost): the
  // "rejoined" record and the participant low-water mark, written in the creating
  // transaction (identity.h). Ignored when the environment already exists.
  std::optional<TxnId> rejoinMark;
  // > 0: group commits go to a record log of this many bytes in front of the tables
  // (record_log.h). A participant's committed KV writes then reach kv_data (and read())
  // only at the checkpoint: its engine keeps them in its overlay until tablesHold() says
  // the tables have them (participant/participant_host.cc). 0: no log; a log left by an
  // earlier open is emptied into the tables and removed.
  size_t recordLogBytes = 0;
};

// Monotonic counters, readable from any thread.
struct EnvMetrics {
  uint64_t syncedCommits = 0;      // LMDB write transactions committed with sync
  uint64_t criticalCommits = 0;    // ... that held at least one critical record
  uint64_t backgroundCommits = 0;  // ... that held background records only
  uint64_t recordsWritten = 0;
  uint64_t criticalRecords = 0;  // isCriticalRecord()
  uint64_t backgroundRecords = 0;
  uint64_t kvOpsApplied = 0;    // put/del ops applied to kv_data
  uint64_t mapFullRetries = 0;  // groups retried after MDB_MAP_FULL
  uint64_t mapResizes = 0;
  uint64_t mapSizeBytes = 0;         // current map size
  uint64_t logAppends = 0;           // synced appends to the record log (in syncedCommits)
  uint64_t logBytes = 0;             // bytes appended
  uint64_t logCheckpoints = 0;       // synced LMDB commits that emptied the log into the tables
  uint64_t logCheckpointWaits = 0;   // appends that waited for a checkpoint to finish
  uint64_t logCheckpointMicros = 0;  // time spent in checkpoints (the checkpoint thread)
  // Records a checkpoint left out because a later record of the same checkpoint overwrote
  // or erased their row (supersededRecords in paxos_commit/records.h).
  uint64_t logCheckpointSkipped = 0;
  uint64_t logReplayed = 0;  // records found in the log at the open
  // Time spent in synced commits (log appends included): from holding the write lock to
  // the sync's return, so a group's own write, not its wait for the group before it.
  uint64_t syncedCommitMicros = 0;
};

struct DbStat {
  std::string name;
  uint64_t entries = 0;
};

// Where the data file stands against its limit (see "Quota" above).
struct StorageQuota {
  uint64_t liveBytes = 0;   // pages in use, not counting free pages LMDB will reuse
  uint64_t limitBytes = 0;  // Options::mapSizeMax
  uint64_t quotaBytes = 0;  // quotaPercent of limitBytes
  bool nearlyFull = false;  // liveBytes >= quotaBytes
};

class Env {
 public:
  // Opens (readOnly) or opens-or-initialises the environment in `dir`. Throws
  // StorageError: DirMissing, NotWritable, DiskFull, InUse (names the holder's pid),
  // NotPcommit (a non-empty directory without pcommit data, or an LMDB file pcommit did
  // not write), UnknownFormat, Corrupted (MDB_INVALID, MDB_CORRUPTED, ...), Io,
  // IdentityMismatch and NotInitialised (Options::identity, Options::mayInit).
  explicit Env(std::string dir, Options options = {});
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Everything a role needs to recover (vectors sorted by TxnId). Throws StorageError
  // (Corrupted names the database and key of an undecodable value).
  Recovered load() const;

  // One synced write transaction holding every record of every batch, in order. Returns
  // when it is durable. Fail-stops on failure (see above). Precondition: !readOnly.
  void writeGroup(std::span<const std::vector<Record>> batches);
  void writeBatch(const std::vector<Record>& records) {
    writeGroup(std::span<const std::vector<Record>>(&records, 1));
  }

  // Committed KV data in the tables, through a read-only txn. With a record log, a write
  // is in the tables once tablesHold(the logSeq() after it); a read-only open also
  // applies the log's records beyond the tables (as the next writable open will). Any
  // thread. Fail-stops on an LMDB error or a corrupted value.
  kv::Versioned read(const std::string& key) const;
  // A kv::KvEngine::Reader over this Env (the Env must outlive it).
  kv::KvEngine::Reader reader() const {
    return [this](const std::string& key) { return read(key); };
  }

  // With a record log: the number of the last frame appended (0 before the first, and
  // without a log), and whether the tables hold every frame up to `seq` (always true
  // without a log). A group written when logSeq() was S is readable through read() once
  // tablesHold(S). Any thread.
  uint64_t logSeq() const { return loggedSeq_.load(std::memory_order_acquire); }
  bool tablesHold(uint64_t seq) const {
    return !log_ || seq <= tablesSeq_.load(std::memory_order_acquire);
  }

  // For inspection: every kv entry in storage order, every lock, entry counts. Throw
  // StorageError like load(). A read-only open with a record log left behind lists the
  // kv entries and locks as the tables will hold them once it is replayed (the entries
  // then in key order).
  void forEachKv(const std::function<void(const std::string& key, const kv::Versioned&)>& fn) const;
  void forEachLock(const std::function<void(const TxnId& txn, const std::string& key)>& fn) const;
  std::vector<DbStat> stats() const;

  // For inspection (verify.h): every entry of the named database ("meta", "acceptor",
  // "acceptor_tombstones", "low_water", "participant", "kv_data", "kv_locks", "leader",
  // "decision") as raw bytes, in key order. Throws StorageError on an LMDB error;
  // exceptions thrown by fn propagate.
  void forEachRaw(
      const std::string& database,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const;
  // The built-in KV engine's payloads are decoded and applied (Options::kvData).
  bool kvData() const { return opts_.kvData; }
  size_t maxKeyBytes() const { return maxKeyBytes_; }  // LMDB's key limit (codec.h's kv slots)

  // The quota state as of the last commit (or the open). Any thread; no LMDB call.
  StorageQuota quota() const;
  bool nearlyFull() const { return nearlyFull_.load(std::memory_order_relaxed); }

  // The identity record as stored after the open (nullopt: none), what the open did to it,
  // whether this open created the environment, and the rejoin mark if it has one.
  const std::optional<Identity>& identity() const { return identity_; }
  IdentityEvent identityEvent() const { return identityEvent_; }
  bool created() const { return created_; }
  const std::optional<TxnId>& rejoinedAt() const { return rejoinedAt_; }

  const std::string& dir() const { return dir_; }
  std::string dataPath() const { return dir_ + "/data.mdb"; }
  bool readOnly() const { return opts_.readOnly; }
  uint32_t formatVersion() const { return format_; }
  // For a read-only open, the records found in the record log (Options::recordLogBytes)
  // that the tables do not hold yet.
  size_t recordLogPending() const { return logTail_.size(); }
  uint64_t usedBytes() const;  // pages in use (last page + 1) * page size
  EnvMetrics metrics() const;

 private:
  class ReadTxn;
  struct Dbis {
    MDB_dbi meta = 0, acceptor = 0, tombstones = 0, lowWater = 0, participant = 0, kvData = 0,
            kvLocks = 0, leader = 0, decision = 0;
  };

  void openLmdb();
  void openDatabases();
  bool openMeta(MDB_txn* txn);  // true: a fresh environment (meta just created)
  void readIdentity(MDB_txn* txn);
  // Checks, adopts or (fresh) writes the identity record and the rejoin mark.
  void writeIdentity(MDB_txn* txn, bool fresh);
  void growMap();
  // One write transaction holding every record; false if it must be retried after the
  // map grew (MDB_MAP_FULL). Fail-stops on anything else. Adds the KV ops to kvOps.
  // logApplied: also record that the tables now hold the log up to that frame.
  // skip: if set, one flag per record of the batches in order; a flagged record is not
  // applied.
  bool tryWriteGroup(std::span<const std::vector<Record>> batches, uint64_t& kvOps,
                     std::optional<uint64_t> logApplied = std::nullopt,
                     const std::vector<bool>* skip = nullptr);
  // One synced LMDB commit of the batches (growing the map as needed). The one table
  // writer: the thread holding writeMu_ with no checkpoint in flight, or the checkpoint
  // thread while one is.
  uint64_t writeTables(std::span<const std::vector<Record>> batches,
                       std::optional<uint64_t> logApplied, const std::vector<bool>* skip = nullptr);
  // At the open: empties a log left behind into the tables; opens the log (or removes it).
  void openRecordLog();
  uint64_t readLogApplied();
  void writeFormat(uint32_t version);
  // One checkpoint: the records into the tables with log_applied = lastSeq (writeTables),
  // less those a later record of the same checkpoint supersedes (supersededRecords),
  // counted and timed in the metrics.
  void writeCheckpoint(const std::vector<Record>& records, uint64_t lastSeq);
  // Requires writeMu_ (held by g): the logged records into the tables, now, on this
  // thread, after any checkpoint in flight; the log starts again at its first half.
  void checkpoint(std::unique_lock<std::mutex>& g);
  // Requires writeMu_ (held by g): appends the batches to the log, handing a full half to
  // the checkpoint thread; false if they are larger than a half (nothing written, the
  // tables hold every logged record).
  bool appendToLog(std::unique_lock<std::mutex>& g, std::span<const std::vector<Record>> batches);
  // Requires writeMu_ (held by g): waits until no checkpoint is in flight.
  void waitCheckpoint(std::unique_lock<std::mutex>& g);
  void runCheckpoints();  // the checkpoint thread
  void stopCheckpoints();
  void updateQuota();
  uint64_t quotaBytes() const { return uint64_t{opts_.mapSizeMax} * opts_.quotaPercent / 100; }
  uint64_t freePages(MDB_txn* txn) const;
  [[noreturn]] void throwMdb(int rc, const std::string& doing) const;

  std::string dir_;
  Options opts_;
  std::unique_ptr<DirLock> lock_;
  MDB_env* env_ = nullptr;
  Dbis dbi_;
  std::unique_ptr<KvTables> kv_;
  std::unique_ptr<RecordTables> records_;
  std::optional<Identity> identity_;
  IdentityEvent identityEvent_ = IdentityEvent::None;
  bool created_ = false;
  std::optional<TxnId> rejoinedAt_;
  uint32_t format_ = kFormatVersion;
  std::unique_ptr<RecordLog> log_;
  std::vector<Record> logged_;  // in the log's current half, not in the tables (writeMu_)
  // Handed to the checkpoint thread: the records of the other half, up to frame
  // inflightSeq_ (writeMu_; read by that thread without it while inflightBusy_).
  std::vector<Record> inflight_;
  uint64_t inflightSeq_ = 0;
  bool inflightBusy_ = false;
  bool checkpointStop_ = false;
  std::condition_variable checkpointCv_;  // with writeMu_: work, stop, done
  std::thread checkpointThread_;
  std::vector<Record> logTail_;  // read-only open: the log's records beyond the tables
  // Read-only open with a non-empty logTail_: what its participant records do to kv_data
  // and kv_locks (env_read.cc), so reads and listings show what the replay will write.
  struct TailKv {
    std::map<std::string, kv::Versioned> data;  // every key a committed tail record wrote
    std::set<TxnId> touched;  // transactions with a tail record: their table locks are gone
    std::map<TxnId, std::vector<std::string>> locks;  // the locks the tail leaves
  };
  std::unique_ptr<TailKv> tailKv_;
  void computeTailKv();
  // The last frame appended, and the last one the tables hold (log_applied).
  std::atomic<uint64_t> loggedSeq_{0}, tablesSeq_{0};
  size_t maxKeyBytes_ = 511;
  size_t pageBytes_ = 4096;

  // Readers hold it shared while their txn is live; growing the map (munmap + mmap)
  // holds it exclusively, since LMDB requires no live transaction in the process then.
  // glibc's rwlock prefers readers, so a resize raises remapPending_ first and new
  // readers wait at the gate: the writer cannot be starved by a busy event loop.
  mutable std::shared_mutex remapMu_;
  std::atomic<bool> remapPending_{false};
  mutable std::mutex gateMu_;
  mutable std::condition_variable gateCv_;
  mutable std::mutex writeMu_;
  mutable std::mutex readPoolMu_;
  mutable std::vector<MDB_txn*> readPool_;  // reset read-only txns, renewed on use

  std::atomic<uint64_t> mapSize_{0};
  std::atomic<uint64_t> syncedCommits_{0}, criticalCommits_{0}, backgroundCommits_{0},
      recordsWritten_{0}, criticalRecords_{0}, backgroundRecords_{0}, kvOpsApplied_{0},
      mapFullRetries_{0}, mapResizes_{0}, logAppends_{0}, logBytes_{0}, logCheckpoints_{0},
      logReplayed_{0}, tableCommits_{0}, logCheckpointWaits_{0}, logCheckpointMicros_{0},
      logCheckpointSkipped_{0}, syncedCommitMicros_{0};
  // The txnid of the last write transaction this process committed (ReadTxn: a reader
  // must not begin below it).
  std::atomic<uint64_t> committedTxnId_{0};
  std::atomic<uint64_t> liveBytes_{0};
  std::atomic<bool> nearlyFull_{false};
};

}  // namespace pc::storage
