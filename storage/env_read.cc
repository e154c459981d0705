// Env: the read side (pooled read-only transactions, load, KV reads, inspection) and the
// quota's measurement of the pages in use.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "paxos_commit/assert.h"
#include "storage/env.h"
#include "storage/kv_tables.h"
#include "storage/lmdb_txn.h"
#include "storage/record_tables.h"

namespace pc::storage {

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
      if (rc == 0) rc = renewIfBehind();
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
  // LMDB 0.9 picks a reader's meta page by the txnid it read from the lock file. A reader
  // preempted between the two can find that page already overwritten by the commit after
  // next, still being synced and not yet published: it sees that future snapshot, and its
  // next read the published, older one (reads went back by one commit; seen by
  // storage_env_test's reader check, 1 run in 8 under load). Its txnid is then below the
  // last commit this process finished: begin again, so reads never go back.
  int renewIfBehind() {
    for (int i = 0; i < 64 && mdb_txn_id(txn_) < env_.committedTxnId_.load(); ++i) {
      mdb_txn_reset(txn_);
      int rc = mdb_txn_renew(txn_);
      if (rc != 0) {
        mdb_txn_abort(txn_);
        txn_ = nullptr;
        return rc;
      }
    }
    return 0;
  }
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

// ---- reads ----

Recovered Env::load() const {
  // The record log's records beyond the tables (record_log.h), copied while the tables'
  // snapshot is taken, both under the write mutex: then the only write that can be in
  // the snapshot and also in the copy is the checkpoint in flight, whose records come
  // first in the copy -- and applying records again over their own effect changes
  // nothing (each sets its key's state or raises a mark), so the image is the same.
  std::vector<Record> extra;
  Recovered image;
  {
    std::unique_lock<std::mutex> g(writeMu_, std::defer_lock);
    if (!opts_.readOnly) g.lock();
    ReadTxn t(*this);
    if (opts_.readOnly) {
      extra = logTail_;
    } else {
      extra.reserve(inflight_.size() + logged_.size());
      extra.insert(extra.end(), inflight_.begin(), inflight_.end());
      extra.insert(extra.end(), logged_.begin(), logged_.end());
      g.unlock();
    }
    image = records_->load(lmdb::Place{dir_, dataPath()}, t.get());
  }
  if (extra.empty()) return image;
  // Applied as the tables would apply them, then in the tables' order.
  for (const Record& r : extra) applyRecord(image, r);
  auto byTxn = [](auto& v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.txn < b.txn; });
  };
  byTxn(image.acceptorTxns);
  byTxn(image.acceptorTombstones);
  byTxn(image.participantTxns);
  byTxn(image.decisions);
  return image;
}

// ---- a read-only open's record log tail ----

// What the replay of logTail_ will do to kv_data and kv_locks, by the rule of env.h that
// RecordTables and KvTables apply (and tests/storage's Reference): every participant
// record drops its transaction's locks and a Prepared one takes its keys; a Committed one
// applies its payload unless the transaction's row was Committed already; a participant
// low-water mark erases the finished rows at or below it.
void Env::computeTailKv() {
  auto tail = std::make_unique<TailKv>();
  ReadTxn t(*this);
  const lmdb::Place at{dir_, dataPath()};
  std::map<TxnId, ParticipantState> state;
  for (const auto& p : records_->load(at, t.get()).participantTxns) state[p.txn] = p.state;
  for (const Record& r : logTail_) {
    if (const auto* low = std::get_if<ParticipantLowWaterRecord>(&r)) {
      for (auto it = state.begin(); it != state.end() && it->first <= low->mark;) {
        it = it->second == ParticipantState::Prepared ? std::next(it) : state.erase(it);
      }
      continue;
    }
    const auto* p = std::get_if<ParticipantTxnRecord>(&r);
    if (p == nullptr) continue;
    tail->touched.insert(p->txn);
    tail->locks.erase(p->txn);
    auto was = state.find(p->txn);
    const bool wasCommitted = was != state.end() && was->second == ParticipantState::Committed;
    state[p->txn] = p->state;
    const bool commits = p->state == ParticipantState::Committed && !wasCommitted;
    if (p->state != ParticipantState::Prepared && !commits) continue;
    // The log's records passed checkRecord (openRecordLog): the payload decodes.
    std::optional<std::vector<kv::Op>> ops = kv::decodeOps(p->payload);
    PC_ASSERT(ops.has_value(), p->txn);
    if (p->state == ParticipantState::Prepared) {
      tail->locks[p->txn] = KvTables::lockKeys(*ops);
      continue;
    }
    // The tables' value first, then the commit as kv::applyOps (the KV rule) applies it.
    for (const auto& op : *ops) {
      if (op.kind != kv::OpKind::Expect && tail->data.count(op.key) == 0) {
        tail->data[op.key] = kv_->read(at, t.get(), op.key);
      }
    }
    kv::applyOps(tail->data, *ops);
  }
  tailKv_ = std::move(tail);
}

// ---- reads ----

kv::Versioned Env::read(const std::string& key) const {
  if (tailKv_) {
    auto it = tailKv_->data.find(key);
    if (it != tailKv_->data.end()) return it->second;
  }
  try {
    ReadTxn t(*this);
    return kv_->read(lmdb::Place{dir_, dataPath()}, t.get(), key);
  } catch (const StorageError& e) {
    // The event loop cannot go on without its data: environment failure, fail-stop.
    failStop(e.what());
  }
}

void Env::forEachKv(
    const std::function<void(const std::string& key, const kv::Versioned&)>& fn) const {
  ReadTxn t(*this);
  if (!tailKv_) {
    kv_->forEachKv(lmdb::Place{dir_, dataPath()}, t.get(), fn);
    return;
  }
  std::map<std::string, kv::Versioned> all;
  kv_->forEachKv(lmdb::Place{dir_, dataPath()}, t.get(),
                 [&](const std::string& k, const kv::Versioned& v) { all[k] = v; });
  for (const auto& [k, v] : tailKv_->data) all[k] = v;
  for (const auto& [k, v] : all) fn(k, v);
}

void Env::forEachLock(
    const std::function<void(const TxnId& txn, const std::string& key)>& fn) const {
  ReadTxn t(*this);
  if (!tailKv_) {
    kv_->forEachLock(lmdb::Place{dir_, dataPath()}, t.get(), fn);
    return;
  }
  std::vector<std::pair<TxnId, std::string>> all;
  kv_->forEachLock(lmdb::Place{dir_, dataPath()}, t.get(),
                   [&](const TxnId& txn, const std::string& key) {
                     if (tailKv_->touched.count(txn) == 0) all.emplace_back(txn, key);
                   });
  for (const auto& [txn, keys] : tailKv_->locks) {
    for (const auto& k : keys) all.emplace_back(txn, k);
  }
  std::sort(all.begin(), all.end());
  for (const auto& [txn, key] : all) fn(txn, key);
}

namespace {

template <class Dbis>
std::vector<std::pair<const char*, MDB_dbi>> namedDbs(const Dbis& d) {
  return {
      {"meta", d.meta},
      {"acceptor", d.acceptor},
      {"acceptor_tombstones", d.tombstones},
      {"low_water", d.lowWater},
      {"participant", d.participant},
      {"kv_data", d.kvData},
      {"kv_locks", d.kvLocks},
      {"leader", d.leader},
      {"decision", d.decision},
  };
}

}  // namespace

std::vector<DbStat> Env::stats() const {
  ReadTxn t(*this);
  std::vector<DbStat> out;
  for (const auto& [name, dbi] : namedDbs(dbi_)) {
    MDB_stat ms{};
    int rc = mdb_stat(t.get(), dbi, &ms);
    if (rc != 0) throwMdb(rc, std::string("reading statistics of database '") + name + "'");
    out.push_back(DbStat{name, ms.ms_entries});
  }
  return out;
}

void Env::forEachRaw(
    const std::string& database,
    const std::function<void(std::string_view key, std::string_view value)>& fn) const {
  auto dbs = namedDbs(dbi_);
  auto it =
      std::find_if(dbs.begin(), dbs.end(), [&](const auto& d) { return database == d.first; });
  PC_ASSERT(it != dbs.end(), database);
  ReadTxn t(*this);
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(t.get(), it->second, &c);
  if (rc != 0) throwMdb(rc, "opening a cursor on database '" + database + "'");
  struct Close {
    MDB_cursor* c;
    ~Close() { mdb_cursor_close(c); }
  } close{c};
  MDB_val k, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    fn(lmdb::toView(k), lmdb::toView(v));
  }
  if (rc != MDB_NOTFOUND) throw lmdb::readFailure(lmdb::Place{dir_, dataPath()}, database, rc);
}

// ---- quota ----

uint64_t Env::freePages(MDB_txn* txn) const {
  // LMDB's free list (database 0): each value is a list of page numbers whose first word
  // is its length (as mdb_stat -f counts them). Pages freed by collection are reused
  // before the file grows, so they do not count as used.
  MDB_cursor* c = nullptr;
  if (mdb_cursor_open(txn, 0, &c) != 0) return 0;
  uint64_t pages = 0;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (v.mv_size < sizeof(size_t)) continue;
    size_t n = 0;
    std::memcpy(&n, v.mv_data, sizeof n);
    pages += n;
  }
  mdb_cursor_close(c);
  return pages;
}

void Env::updateQuota() {
  // Cheap while far from the quota (the last page in use is below it); the free list is
  // only walked near it.
  uint64_t live = usedBytes();
  if (live >= quotaBytes()) {
    ReadTxn t(*this);
    uint64_t freeBytes = freePages(t.get()) * pageBytes_;
    live = freeBytes < live ? live - freeBytes : 0;
  }
  liveBytes_.store(live, std::memory_order_relaxed);
  nearlyFull_.store(live >= quotaBytes(), std::memory_order_relaxed);
}

}  // namespace pc::storage
