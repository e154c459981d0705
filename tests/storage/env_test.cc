// Env: every record type survives a write, a reopen and a load(); LMDB gives exactly the
// image of paxos_commit's applyRecord (plus the KV rule) on random sequences; readers run
// beside the writer. A failure here means a node would recover a different state than it
// wrote.
#include "storage/env.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;
using test::txn;

Options smallOptions() {
  Options o;
  o.mapSizeStart = size_t{1} << 20;
  return o;
}

Recovered loadNormalized(const Env& env) { return test::normalized(env.load()); }

// Writes `records` one batch each into a fresh directory and into the reference, then
// checks load() before and after a reopen.
void roundTrip(const std::vector<Record>& records) {
  TempDir dir;
  test::Reference ref;
  {
    Env env(dir.path(), smallOptions());
    for (const auto& r : records) {
      env.writeBatch({r});
      ref.apply(r);
    }
    test::checkSame(loadNormalized(env), test::normalized(ref.image));
  }
  Env env(dir.path(), smallOptions());
  test::checkSame(loadNormalized(env), test::normalized(ref.image));
}

TEST_CASE("a fresh directory loads as empty and stays valid after reopen") {
  TempDir dir;
  {
    Env env(dir.path());
    test::checkSame(env.load(), Recovered{});
  }
  Env env(dir.path());
  test::checkSame(env.load(), Recovered{});
  CHECK(env.read("nothing") == kv::Versioned{});
}

TEST_CASE("round trip: acceptor state, forget (tombstone) and low-water mark") {
  AcceptorTxnRecord a{txn(1, 1), {1, 2, 3}, 4, {}};
  a.instances = {{1, Ballot{2, 4}, Ballot{2, 4}, Vote::Prepared},
                 {2, Ballot{0, 0}, Ballot{0, 0}, Vote::Aborted},
                 {3, Ballot{7, 1}, std::nullopt, std::nullopt}};
  AcceptorTxnRecord b = a;
  b.txn = txn(2, 1);
  AcceptorTxnRecord a2 = a;  // an upsert replaces the whole transaction
  a2.instances[2].mbal = Ballot{9, 2};
  roundTrip({a, b, a2});
  roundTrip({a, b, AcceptorForgetRecord{txn(1, 1)}});
  roundTrip({a, AcceptorForgetRecord{txn(1, 1)}, AcceptorForgetRecord{txn(3, 3)},
             AcceptorLowWaterRecord{txn(2, 0)}});
  // Below the low-water mark no tombstone is kept (forgotten is implied).
  roundTrip({AcceptorLowWaterRecord{txn(5, 0)}, AcceptorForgetRecord{txn(4, 0)},
             AcceptorLowWaterRecord{txn(1, 0)}});
}

TEST_CASE("round trip: participant records in every state, and the participant low-water") {
  Bytes payload = kv::encodeOps({{kv::OpKind::Put, "x", "1", 0}, {kv::OpKind::Expect, "y", "", 0}});
  ParticipantTxnRecord p{txn(1, 1), ParticipantState::Prepared, payload, {1, 2}, 7, ""};
  ParticipantTxnRecord v{txn(1, 2),      ParticipantState::VotedAborted, payload, {1, 2}, 7,
                         "expect failed"};
  ParticipantTxnRecord c = p;
  c.txn = txn(1, 3);
  c.state = ParticipantState::Committed;
  ParticipantTxnRecord ab = p;
  ab.txn = txn(2, 1);
  ab.state = ParticipantState::Aborted;
  roundTrip({p, v, c, ab});
  // The low-water erases finished records <= mark and keeps Prepared ones.
  roundTrip({p, v, c, ab, ParticipantLowWaterRecord{txn(1, 9)}});
}

TEST_CASE("round trip: leader round only rises; 2PC decisions and their low-water") {
  roundTrip({LeaderRoundRecord{5}, LeaderRoundRecord{3}});
  roundTrip({LeaderRoundRecord{5}, LeaderRoundRecord{8}});
  DecisionRecord d1{txn(1, 1), {1, 2}, false};
  DecisionRecord d2{txn(1, 2), {1, 3}, false};
  DecisionRecord d1done{txn(1, 1), {}, true};
  roundTrip({d1, d2, d1done});
  roundTrip({d1, d2, d1done, DecisionLowWaterRecord{txn(1, 5)}});  // d2 is not done: kept
}

TEST_CASE("commit applies the payload to the KV data exactly once, with versions") {
  TempDir dir;
  Env env(dir.path(), smallOptions());
  Bytes payload = kv::encodeOps({{kv::OpKind::Put, "a", "1", 0},
                                 {kv::OpKind::Put, "b", "2", 0},
                                 {kv::OpKind::Expect, "c", "", 0}});
  ParticipantTxnRecord p{txn(1, 1), ParticipantState::Prepared, payload, {1}, 1, ""};
  env.writeBatch({p});
  CHECK(env.read("a") == kv::Versioned{});  // prepared is not committed

  p.state = ParticipantState::Committed;
  env.writeBatch({p});
  CHECK(env.read("a") == kv::Versioned{std::string("1"), 1});
  CHECK(env.read("b") == kv::Versioned{std::string("2"), 1});
  CHECK(env.read("c") == kv::Versioned{});  // expect writes nothing
  env.writeBatch({p});                      // a duplicate Committed record applies nothing
  CHECK(env.read("a") == kv::Versioned{std::string("1"), 1});

  ParticipantTxnRecord d{txn(1, 2),
                         ParticipantState::Committed,
                         kv::encodeOps({{kv::OpKind::Del, "a", "", 0}}),
                         {1},
                         1,
                         ""};
  env.writeBatch({d, d});                                  // twice in one batch: still once
  CHECK(env.read("a") == kv::Versioned{std::nullopt, 2});  // deleted, keeps its version
  ParticipantTxnRecord again{txn(1, 3),
                             ParticipantState::Committed,
                             kv::encodeOps({{kv::OpKind::Put, "a", "3", 0}}),
                             {1},
                             1,
                             ""};
  env.writeBatch({again});
  CHECK(env.read("a") == kv::Versioned{std::string("3"), 3});  // no ABA: version 3
  CHECK(env.metrics().kvOpsApplied == 4);
}

TEST_CASE("keys longer than LMDB's key limit, sharing a long prefix, stay distinct") {
  TempDir dir;
  std::string prefix(3000, 'p');
  std::string k1 = prefix + "1", k2 = prefix + "2", k3(kv::kMaxKeyBytes, 'z');
  {
    Env env(dir.path(), smallOptions());
    env.writeBatch({ParticipantTxnRecord{txn(1, 1),
                                         ParticipantState::Committed,
                                         kv::encodeOps({{kv::OpKind::Put, k1, "one", 0},
                                                        {kv::OpKind::Put, k2, "two", 0},
                                                        {kv::OpKind::Put, k3, "three", 0},
                                                        {kv::OpKind::Put, k1, "uno", 0}}),
                                         {1},
                                         1,
                                         ""}});
  }
  Env env(dir.path(), smallOptions());
  CHECK(env.read(k1) == kv::Versioned{std::string("uno"), 2});
  CHECK(env.read(k2) == kv::Versioned{std::string("two"), 1});
  CHECK(env.read(k3) == kv::Versioned{std::string("three"), 1});
  CHECK(env.read(prefix) == kv::Versioned{});
  std::set<std::string> seen;
  env.forEachKv([&](const std::string& k, const kv::Versioned&) { seen.insert(k); });
  CHECK(seen == std::set<std::string>{k1, k2, k3});
}

TEST_CASE("locks of a Prepared record are stored and go away with its outcome") {
  TempDir dir;
  Env env(dir.path(), smallOptions());
  Bytes payload = kv::encodeOps({{kv::OpKind::Put, "b", "1", 0},
                                 {kv::OpKind::Expect, "a", "", 0},
                                 {kv::OpKind::Del, "b", "", 0}});
  ParticipantTxnRecord p{txn(1, 1), ParticipantState::Prepared, payload, {1}, 1, ""};
  env.writeBatch({p});
  std::vector<std::pair<TxnId, std::string>> locks;
  auto collect = [&] {
    locks.clear();
    env.forEachLock([&](const TxnId& t, const std::string& k) { locks.emplace_back(t, k); });
  };
  collect();
  CHECK(locks == std::vector<std::pair<TxnId, std::string>>{{txn(1, 1), "a"}, {txn(1, 1), "b"}});
  p.state = ParticipantState::Aborted;
  env.writeBatch({p});
  collect();
  CHECK(locks.empty());
}

TEST_CASE("LMDB storage gives exactly applyRecord's image on random record sequences") {
  // Random batches and groups, random reopens; compares load() and the KV data with the
  // reference after every reopen and at the end.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    TempDir dir;
    test::RecordGen gen(seed);
    test::Reference ref;
    std::mt19937_64 rng(seed * 7919);
    auto env = std::make_unique<Env>(dir.path(), smallOptions());
    auto verify = [&] {
      test::checkSame(loadNormalized(*env), test::normalized(ref.image));
      for (const auto& k : gen.keys()) {
        auto it = ref.kv.find(k);
        CHECK(env->read(k) == (it == ref.kv.end() ? kv::Versioned{} : it->second));
      }
      size_t stored = 0;
      env->forEachKv([&](const std::string& k, const kv::Versioned& v) {
        ++stored;
        CHECK(ref.kv.count(k) == 1);
        CHECK(ref.kv[k] == v);
      });
      CHECK(stored == ref.kv.size());
      // Locks: exactly the keys of the Prepared records.
      std::set<std::pair<TxnId, std::string>> want, got;
      for (const auto& p : ref.image.participantTxns) {
        if (p.state != ParticipantState::Prepared) continue;
        auto ops = kv::decodeOps(p.payload);
        for (const auto& op : *ops) want.emplace(p.txn, op.key);
      }
      env->forEachLock([&](const TxnId& t, const std::string& k) { got.emplace(t, k); });
      CHECK(got == want);
    };
    for (int step = 0; step < 40; ++step) {
      std::vector<std::vector<Record>> group(1 + rng() % 4);
      for (auto& batch : group) {
        size_t n = rng() % 8;  // empty batches too
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(gen.next());
          ref.apply(batch.back());
        }
      }
      env->writeGroup(group);
      if (rng() % 10 == 0) {
        env.reset();
        env = std::make_unique<Env>(dir.path(), smallOptions());
        verify();
      }
    }
    verify();
  }
}

TEST_CASE("readers on other threads see committed KV data while the writer writes") {
  TempDir dir;
  Options o;
  o.mapSizeStart = size_t{256} << 10;  // small: the writer grows the map while they read
  Env env(dir.path(), o);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0}, anomalies{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      uint64_t lastVersion = 0;
      while (!done) {
        kv::Versioned v = env.read("counter");
        // Never goes back, and value and version come from the same commit.
        if (v.version < lastVersion || (v.version > 0 && v.value != std::to_string(v.version))) {
          anomalies.fetch_add(1);
        }
        lastVersion = v.version;
        reads.fetch_add(1);
      }
    });
  }
  std::string big(20000, 'b');
  for (uint64_t i = 1; i <= 200; ++i) {
    env.writeBatch(
        {ParticipantTxnRecord{txn(i, 1),
                              ParticipantState::Committed,
                              kv::encodeOps({{kv::OpKind::Put, "counter", std::to_string(i), 0},
                                             {kv::OpKind::Put, "big" + std::to_string(i), big, 0}}),
                              {1},
                              1,
                              ""}});
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK(anomalies.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(env.read("counter") == kv::Versioned{std::string("200"), 200});
  CHECK(env.metrics().mapResizes > 0);
  MESSAGE("reads during writes: " << reads.load() << ", map resizes: " << env.metrics().mapResizes);
}

TEST_CASE("the map grows from a small start and the grown size is kept on reopen") {
  TempDir dir;
  Options o;
  o.mapSizeStart = size_t{64} << 10;
  o.mapSizeMax = size_t{64} << 20;
  std::string value(100000, 'v');
  uint64_t grownTo = 0;
  {
    Env env(dir.path(), o);
    for (uint64_t i = 1; i <= 40; ++i) {
      env.writeBatch(
          {DecisionRecord{txn(i, 0), {1}, false},
           ParticipantTxnRecord{txn(i, 1),
                                ParticipantState::Committed,
                                kv::encodeOps({{kv::OpKind::Put, std::to_string(i), value, 0}}),
                                {1},
                                1,
                                ""}});
    }
    CHECK(env.metrics().mapResizes > 0);
    CHECK(env.metrics().mapFullRetries > 0);
    grownTo = env.metrics().mapSizeBytes;
    CHECK(grownTo > o.mapSizeStart);
    CHECK(grownTo <= o.mapSizeMax);
  }
  Env env(dir.path(), o);
  CHECK(env.metrics().mapSizeBytes >= env.usedBytes());
  CHECK(env.load().decisions.size() == 40);
  CHECK(env.read("40") == kv::Versioned{value, 1});
}

TEST_CASE("metrics count synced commits, records, critical and background") {
  TempDir dir;
  Env env(dir.path(), smallOptions());
  env.writeBatch({});  // nothing to write: no commit
  CHECK(env.metrics().syncedCommits == 0);
  CHECK(env.metrics().syncedCommitMicros == 0);
  const auto t0 = std::chrono::steady_clock::now();
  env.writeBatch({LeaderRoundRecord{1}, AcceptorLowWaterRecord{txn(1, 1)}});
  env.writeBatch({AcceptorLowWaterRecord{txn(1, 2)}, DecisionRecord{txn(1, 1), {}, true}});
  std::vector<std::vector<Record>> group{{DecisionRecord{txn(2, 1), {1}, false}},
                                         {ParticipantLowWaterRecord{txn(1, 1)}}};
  env.writeGroup(group);
  const auto wallUs =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EnvMetrics m = env.metrics();
  CHECK(m.syncedCommits == 3);
  // Their time, in microseconds: some, and no more than the calls took.
  CHECK(m.syncedCommitMicros > 0);
  CHECK(m.syncedCommitMicros <= static_cast<uint64_t>(wallUs));
  CHECK(m.criticalCommits == 2);
  CHECK(m.backgroundCommits == 1);
  CHECK(m.recordsWritten == 6);
  CHECK(m.criticalRecords == 2);
  CHECK(m.backgroundRecords == 4);
}

}  // namespace
}  // namespace pc::storage
