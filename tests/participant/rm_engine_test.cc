// Unit tests of participant/rm_engine.h: the restart reconcile rules of
// resource_manager.h, and when the adapter calls the engine (prepare at once; commit/abort
// only once the node's outcome record is durable). If these fail, an embedded engine can
// commit what the cluster aborted, lose a prepared transaction unnoticed, or apply an
// outcome a crash then leaves without a record.
#include "participant/rm_engine.h"

#include <algorithm>
#include <set>

#include "paxos_commit/participant.h"
#include "tests/unit/test_util.h"  // also doctest, with a stringifier for pc enums

namespace pc {
namespace {

using pc::test::kCoord;
using pc::test::kP1;
using pc::test::txnId;

// A small engine: prepared transactions in a set, committed writes in a map, every call
// recorded. `failPrepare` makes prepare() throw after "taking" the transaction.
class MemoryRm : public ResourceManager {
 public:
  PrepareResult prepare(const TxnId& txn, const Bytes& payload) override {
    calls.push_back("prepare " + txn.toString());
    if (failPrepare) {
      held.insert(txn);
      throw std::runtime_error("disk on fire");
    }
    auto ops = kv::decodeOps(payload);
    if (!ops) return {Vote::Aborted, "malformed payload"};
    for (const auto& op : *ops) {
      if (op.kind == kv::OpKind::Expect && data[op.key].version != op.version) {
        return {Vote::Aborted, "expect failed: " + op.key};
      }
    }
    held.insert(txn);
    payloads[txn] = *ops;
    return {Vote::Prepared, ""};
  }
  void commit(const TxnId& txn) override {
    calls.push_back("commit " + txn.toString());
    if (held.erase(txn) == 0) return;
    kv::applyOps(data, payloads[txn]);
  }
  void abort(const TxnId& txn) override {
    calls.push_back("abort " + txn.toString());
    held.erase(txn);
  }
  std::vector<TxnId> prepared() override { return {held.begin(), held.end()}; }
  bool readable() const override { return true; }
  kv::Versioned read(const std::string& key) override { return data[key]; }

  size_t count(const std::string& what) const {
    return static_cast<size_t>(std::count_if(calls.begin(), calls.end(),
                                             [&](const auto& c) { return c.rfind(what, 0) == 0; }));
  }

  std::set<TxnId> held;
  std::map<TxnId, std::vector<kv::Op>> payloads;
  std::map<std::string, kv::Versioned> data;
  std::vector<std::string> calls;
  bool failPrepare = false;
};

ParticipantTxnRecord record(const TxnId& t, ParticipantState s, const Bytes& payload = {}) {
  ParticipantTxnRecord r;
  r.txn = t;
  r.state = s;
  r.payload = payload;
  r.participants = {kP1};
  r.leader = kCoord;
  return r;
}

Bytes putOps(const std::string& key, const std::string& value) {
  return kv::encodeOps({kv::Op{kv::OpKind::Put, key, value, 0}});
}

TEST_CASE("reconcile: the node's record decides what happens to each prepared engine txn") {
  // Committed record -> commit; Aborted, VotedAborted, or no record (the Prepared record
  // never became durable, so no Prepared vote left) -> abort; Prepared -> kept in doubt.
  MemoryRm rm;
  const TxnId kept = txnId(1), committed = txnId(2), aborted = txnId(3), votedAborted = txnId(4),
              unrecorded = txnId(5);
  rm.held = {kept, committed, aborted, votedAborted, unrecorded};
  Recovered rec;
  rec.participantTxns = {record(kept, ParticipantState::Prepared),
                         record(committed, ParticipantState::Committed),
                         record(aborted, ParticipantState::Aborted),
                         record(votedAborted, ParticipantState::VotedAborted),
                         record(txnId(6), ParticipantState::Committed)};  // engine done already
  RmEngine e(rm, nullptr);
  e.recover(rec);
  CHECK(e.reconciled().kept == std::vector<TxnId>{kept});
  CHECK(e.reconciled().committed == std::vector<TxnId>{committed});
  CHECK(e.reconciled().aborted == std::vector<TxnId>{aborted, votedAborted, unrecorded});
  CHECK(rm.held == std::set<TxnId>{kept});
  CHECK(rm.count("commit " + committed.toString()) == 1);
  CHECK(rm.count("commit " + txnId(6).toString()) == 0);  // not listed: nothing to do
  CHECK(rm.count("abort") == 3);
}

TEST_CASE("reconcile: a txn prepared on the node but not in the engine refuses the start") {
  // The node voted Prepared; the engine lost the writes it promised were durable. Starting
  // would let the cluster commit writes that no longer exist.
  MemoryRm rm;
  rm.held = {txnId(2)};
  Recovered rec;
  rec.participantTxns = {record(txnId(1), ParticipantState::Prepared),
                         record(txnId(2), ParticipantState::Prepared)};
  RmEngine e(rm, nullptr);
  std::string what;
  try {
    e.recover(rec);
  } catch (const ResourceManagerContractError& ex) {
    what = ex.what();
  }
  CHECK(what.find(txnId(1).toString()) != std::string::npos);
  CHECK(what.find(txnId(2).toString()) == std::string::npos);
  CHECK(rm.count("commit") == 0);
  CHECK(rm.count("abort") == 0);  // nothing touched before refusing
}

TEST_CASE("adapter: an exception from prepare is an Aborted vote, then abort releases") {
  MemoryRm rm;
  rm.failPrepare = true;
  RmEngine e(rm, nullptr);
  PrepareResult r = e.prepare(txnId(1), putOps("k", "v"));
  CHECK(r.vote == Vote::Aborted);
  CHECK(r.reason.find("disk on fire") != std::string::npos);
  CHECK(rm.count("abort " + txnId(1).toString()) == 1);
  CHECK(rm.held.empty());
  CHECK(!e.lockHolder("k"));
  e.outcomeDurable(txnId(1), Outcome::Abort);  // the engine holds nothing: no more calls
  CHECK(rm.count("abort") == 1);
}

TEST_CASE("adapter: commit reaches the engine only when the node's record is durable") {
  // The core calls engine.commit before its Committed record is written. Were the engine
  // to commit then and the node crash before the record, the restart would find the node
  // Prepared and the engine not: indistinguishable from an engine that lost the txn.
  MemoryRm rm;
  RmEngine e(rm, nullptr);
  const TxnId t = txnId(1);
  CHECK(e.prepare(t, putOps("k", "v")).vote == Vote::Prepared);
  CHECK(e.lockHolder("k") == t);
  e.commit(t, putOps("k", "v"));
  CHECK(rm.count("commit") == 0);
  CHECK(e.lockHolder("k") == t);  // a read still waits: the outcome is not applied
  e.outcomeDurable(t, Outcome::Commit);
  CHECK(rm.count("commit " + t.toString()) == 1);
  CHECK(!e.lockHolder("k"));
  CHECK(e.read("k") == kv::Versioned{"v", 1});
  e.outcomeDurable(t, Outcome::Commit);  // a repeat: no second commit
  CHECK(rm.count("commit") == 1);
}

TEST_CASE("core over the adapter: prepare, Commit, restart with the txn in doubt") {
  // The real participant core (2PC) drives the adapter; after a "crash" with the txn
  // prepared, a new core restores it from the records and the engine keeps it.
  CoreConfig cfg = test::makeConfig(Protocol::TwoPC);
  MemoryRm rm;
  const TxnId t = txnId(7);
  const Bytes payload = putOps("a", "1");
  Recovered disk;
  {
    RmEngine e(rm, nullptr);
    e.recover(disk);
    Participant core(kP1, cfg, e, 1, disk);
    Output o = core.onMessage(Envelope{kCoord, kP1, Prepare{t, payload, {kP1}, kCoord}});
    REQUIRE(o.persist.size() == 1);
    for (const auto& r : o.persist) applyRecord(disk, r);
    CHECK(rm.held.count(t) == 1);
    CHECK(core.stateOf(t) == ParticipantState::Prepared);
  }  // crash: the engine keeps its prepared state, the node its Prepared record
  RmEngine e(rm, nullptr);
  e.recover(disk);
  CHECK(e.reconciled().kept == std::vector<TxnId>{t});
  Participant core(kP1, cfg, e, 1, disk);
  CHECK(e.lockHolder("a") == t);  // restorePrepared took the read lock again
  Output o = core.onMessage(Envelope{kCoord, kP1, OutcomeMsg{t, Outcome::Commit}});
  CHECK(core.stateOf(t) == ParticipantState::Committed);
  CHECK(rm.count("commit") == 0);  // the Committed record is not durable yet
  bool committedRecord = false;
  for (const auto& r : o.persist) {
    const auto* p = std::get_if<ParticipantTxnRecord>(&r);
    committedRecord = committedRecord || (p && p->state == ParticipantState::Committed);
  }
  CHECK(committedRecord);
  e.outcomeDurable(t, Outcome::Commit);  // what NodeHost does once the record is durable
  CHECK(rm.data["a"] == kv::Versioned{"1", 1});
  CHECK(rm.held.empty());
}

}  // namespace
}  // namespace pc
