// Unit tests of the built-in KV engine's pure half (kv.h): the payload codec, versions,
// no-wait locking, expect checks and the overlay of committed writes.
#include "paxos_commit/kv.h"

#include "paxos_commit/rng.h"
#include "tests/unit/test_util.h"

namespace pc::kv {
namespace {

using test::txnId;

Op put(std::string k, std::string v) { return Op{OpKind::Put, std::move(k), std::move(v), 0}; }
Op del(std::string k) { return Op{OpKind::Del, std::move(k), "", 0}; }
Op expect(std::string k, uint64_t version) { return Op{OpKind::Expect, std::move(k), "", version}; }

// Committed data as durable storage would hold it; the engine reads it through a Reader.
struct Store {
  std::map<std::string, Versioned> data;
  KvEngine::Reader reader() {
    return [this](const std::string& k) {
      auto it = data.find(k);
      return it == data.end() ? Versioned{} : it->second;
    };
  }
};

TEST_CASE("payload codec round-trips put, del and expect") {
  // Participants decode what clients encode; a lossy codec writes the wrong data.
  std::vector<Op> ops = {put("a", "1"),
                         del("b"),
                         expect("c", 42),
                         put("d", ""),
                         put(std::string("\0k\xff", 3), std::string(300, '\x80')),
                         expect("e", UINT64_MAX)};
  auto back = decodeOps(encodeOps(ops));
  REQUIRE(back.has_value());
  CHECK(*back == ops);
  auto empty = decodeOps(encodeOps({}));
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("decodeOps refuses malformed payloads") {
  // Bad input from outside is refused, never trusted (truncated, unknown kind, trailing
  // bytes, empty or oversize key, oversize value, too many ops).
  Bytes good = encodeOps({put("key", "value")});
  CHECK(decodeOps(good).has_value());
  CHECK_FALSE(decodeOps("").has_value());
  for (size_t n = 1; n < good.size(); ++n) {
    CHECK_MESSAGE(!decodeOps(good.substr(0, n)).has_value(), "truncated at " << n);
  }
  CHECK_FALSE(decodeOps(good + "x").has_value());
  Bytes badKind = good;
  badKind[1] = 4;
  CHECK_FALSE(decodeOps(badKind).has_value());
  badKind[1] = 0;
  CHECK_FALSE(decodeOps(badKind).has_value());
  CHECK_FALSE(decodeOps(encodeOps({put("", "v")})).has_value());
  CHECK_FALSE(decodeOps(encodeOps({put(std::string(kMaxKeyBytes + 1, 'k'), "v")})).has_value());
  CHECK(decodeOps(encodeOps({put(std::string(kMaxKeyBytes, 'k'), "v")})).has_value());
  CHECK_FALSE(decodeOps(encodeOps({put("k", std::string(kMaxValueBytes + 1, 'v'))})).has_value());
  std::vector<Op> many(kMaxOps + 1, del("k"));
  CHECK_FALSE(decodeOps(encodeOps(many)).has_value());
  // A count claiming more ops than there are bytes.
  CHECK_FALSE(decodeOps(Bytes("\x05", 1)).has_value());
  // A varint that never ends.
  CHECK_FALSE(decodeOps(Bytes(11, '\xff')).has_value());
}

TEST_CASE("decodeOps accepts only the encoding encodeOps writes") {
  // An overlong varint lost its high bits silently (an expect of a version past 2^64 read
  // as another version), and redundant zero groups gave one op list many encodings.
  // Found by tests/fuzz/fuzz_kv_ops.
  Bytes good = encodeOps({expect("k", UINT64_MAX)});
  REQUIRE(decodeOps(good).has_value());
  CHECK(decodeOps(good)->at(0).version == UINT64_MAX);
  Bytes overflow = good;
  overflow.back() = '\x02';  // the 10th group may only hold bit 63
  CHECK_FALSE(decodeOps(overflow).has_value());
  // The count 1 written as two groups (0x81 0x00) instead of one.
  CHECK_FALSE(decodeOps(Bytes("\x81\x00", 2) + good.substr(1)).has_value());
  CHECK(decodeOps(Bytes("\x00", 1)).has_value());  // zero itself is one zero group
}

TEST_CASE("decodeOps never crashes on random bytes (fuzz)") {
  // Garbage on the wire must be refused, never crash or loop; whatever decodes must
  // re-encode to the same ops.
  Rng rng(20240601);
  Bytes seed = encodeOps({put("alpha", "one"), del("beta"), expect("gamma", 7)});
  size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b;
    if (i % 2 == 0) {
      size_t n = static_cast<size_t>(rng.below(64));
      for (size_t j = 0; j < n; ++j) b.push_back(static_cast<char>(rng.below(256)));
    } else {  // mutate a valid payload: flips, truncation, insertion
      b = seed;
      uint64_t edits = 1 + rng.below(4);
      for (uint64_t e = 0; e < edits && !b.empty(); ++e) {
        size_t at = static_cast<size_t>(rng.below(b.size()));
        switch (rng.below(3)) {
          case 0:
            b[at] = static_cast<char>(rng.below(256));
            break;
          case 1:
            b.resize(at);
            break;
          default:
            b.insert(at, 1, static_cast<char>(rng.below(256)));
            break;
        }
      }
    }
    auto ops = decodeOps(b);
    if (ops) {
      ++decoded;
      auto again = decodeOps(encodeOps(*ops));
      REQUIRE(again.has_value());
      CHECK(*again == *ops);
      for (const auto& op : *ops) {
        CHECK_FALSE(op.key.empty());
        CHECK(op.key.size() <= kMaxKeyBytes);
      }
    }
  }
  MESSAGE("decoded " << decoded << " of 20000 fuzzed payloads");
}

TEST_CASE("applyOps bumps the version on put and del; del keeps the version (no ABA)") {
  // An expect must never be fooled by delete-then-recreate.
  std::map<std::string, Versioned> data;
  applyOps(data, {put("k", "v1")});
  CHECK(data["k"] == Versioned{"v1", 1});
  applyOps(data, {del("k")});
  CHECK(data["k"] == Versioned{std::nullopt, 2});
  applyOps(data, {put("k", "v1")});
  CHECK(data["k"] == Versioned{"v1", 3});
  applyOps(data, {expect("k", 3)});
  CHECK(data["k"].version == 3);
  applyOps(data, {put("x", "a"), put("x", "b")});
  CHECK(data["x"] == Versioned{"b", 2});
}

TEST_CASE("prepare takes the locks of every key") {
  // Locks held from prepare to outcome are what makes a Prepared vote a promise.
  Store s;
  KvEngine e(s.reader());
  auto r = e.prepare(txnId(1), encodeOps({put("a", "1"), del("b"), expect("c", 0)}));
  CHECK(r.vote == Vote::Prepared);
  CHECK(e.lockCount() == 3);
  CHECK(e.lockHolder("a") == txnId(1));
  CHECK(e.lockHolder("b") == txnId(1));
  CHECK(e.lockHolder("c") == txnId(1));
  CHECK_FALSE(e.lockHolder("d").has_value());
}

TEST_CASE("no-wait: a prepare on a locked key votes Aborted naming the key, takes no lock") {
  // Waiting for locks would deadlock across shards; a partial lock would leak.
  Store s;
  KvEngine e(s.reader());
  REQUIRE(e.prepare(txnId(1), encodeOps({put("a", "1")})).vote == Vote::Prepared);
  auto r = e.prepare(txnId(2), encodeOps({put("free", "x"), put("a", "2")}));
  CHECK(r.vote == Vote::Aborted);
  CHECK(r.reason.find("'a'") != std::string::npos);
  CHECK(e.lockCount() == 1);
  CHECK_FALSE(e.lockHolder("free").has_value());
  // An expect on a locked key conflicts too: its version may change at commit.
  CHECK(e.prepare(txnId(3), encodeOps({expect("a", 0)})).vote == Vote::Aborted);
}

TEST_CASE("expect checks the committed version") {
  // Optimistic checks: a stale read must abort, a fresh one must prepare.
  Store s;
  s.data["k"] = Versioned{"v", 4};
  KvEngine e(s.reader());
  auto bad = e.prepare(txnId(1), encodeOps({expect("k", 3), put("j", "x")}));
  CHECK(bad.vote == Vote::Aborted);
  CHECK(bad.reason.find("'k'") != std::string::npos);
  CHECK(e.lockCount() == 0);
  CHECK(e.prepare(txnId(2), encodeOps({expect("k", 4)})).vote == Vote::Prepared);
  CHECK(e.prepare(txnId(3), encodeOps({expect("never", 0)})).vote == Vote::Prepared);
}

TEST_CASE("a malformed payload votes Aborted and takes no lock") {
  // A participant must vote (Aborted), not crash, on garbage from a client.
  Store s;
  KvEngine e(s.reader());
  auto r = e.prepare(txnId(1), Bytes("\x01\x09", 2));
  CHECK(r.vote == Vote::Aborted);
  CHECK_FALSE(r.reason.empty());
  CHECK(e.lockCount() == 0);
}

TEST_CASE("commit makes writes visible, bumps versions and releases the locks") {
  // After Commit, reads and later prepares must see the new data at once.
  Store s;
  s.data["b"] = Versioned{"old", 5};
  KvEngine e(s.reader());
  Bytes p = encodeOps({put("a", "1"), del("b")});
  REQUIRE(e.prepare(txnId(1), p).vote == Vote::Prepared);
  e.commit(txnId(1), p);
  CHECK(e.lockCount() == 0);
  CHECK(e.read("a") == Versioned{"1", 1});
  CHECK(e.read("b") == Versioned{std::nullopt, 6});
  CHECK(e.prepare(txnId(2), encodeOps({expect("b", 6)})).vote == Vote::Prepared);
  CHECK(e.prepare(txnId(3), encodeOps({expect("b", 5)})).vote == Vote::Aborted);
}

TEST_CASE("committed writes stay in the overlay until forgetDurable") {
  // Between commit and the storage write, checks must already see the new version.
  Store s;
  KvEngine e(s.reader());
  Bytes p1 = encodeOps({put("a", "1"), put("b", "1")});
  REQUIRE(e.prepare(txnId(1), p1).vote == Vote::Prepared);
  e.commit(txnId(1), p1);
  CHECK(e.overlaySize() == 2);
  CHECK(s.data.empty());  // storage has not written yet
  CHECK(e.read("a") == Versioned{"1", 1});
  // A later commit overwrites "a"; forgetting txn 1 must keep txn 2's pending write.
  Bytes p2 = encodeOps({put("a", "2")});
  REQUIRE(e.prepare(txnId(2), p2).vote == Vote::Prepared);
  e.commit(txnId(2), p2);
  applyOps(s.data, *decodeOps(p1));  // storage made txn 1 durable
  e.forgetDurable(txnId(1));
  CHECK(e.overlaySize() == 1);
  CHECK(e.read("a") == Versioned{"2", 2});
  CHECK(e.read("b") == Versioned{"1", 1});
  applyOps(s.data, *decodeOps(p2));
  e.forgetDurable(txnId(2));
  CHECK(e.overlaySize() == 0);
  CHECK(e.read("a") == Versioned{"2", 2});
}

TEST_CASE("abort releases the locks and is idempotent") {
  // A lock left behind by an aborted txn would abort every later txn on that key.
  Store s;
  KvEngine e(s.reader());
  Bytes p = encodeOps({put("a", "1")});
  REQUIRE(e.prepare(txnId(1), p).vote == Vote::Prepared);
  e.abort(txnId(1), p);
  CHECK(e.lockCount() == 0);
  e.abort(txnId(1), p);
  e.abort(txnId(9), p);  // never prepared
  CHECK(e.lockCount() == 0);
  CHECK(e.read("a") == Versioned{});
  CHECK(e.prepare(txnId(2), p).vote == Vote::Prepared);
}

TEST_CASE("an aborted prepare's abort does not release another txn's locks") {
  // abort() of the loser of a conflict must not unlock the winner.
  Store s;
  KvEngine e(s.reader());
  Bytes p = encodeOps({put("a", "1")});
  REQUIRE(e.prepare(txnId(1), p).vote == Vote::Prepared);
  REQUIRE(e.prepare(txnId(2), p).vote == Vote::Aborted);
  e.abort(txnId(2), p);
  CHECK(e.lockHolder("a") == txnId(1));
}

TEST_CASE("restorePrepared retakes the locks after a restart") {
  // A restarted participant must keep its prepared txns' locks (pitfall 1).
  Store s;
  KvEngine e(s.reader());
  Bytes p = encodeOps({put("a", "1"), expect("b", 0)});
  e.restorePrepared(txnId(1), p);
  CHECK(e.lockCount() == 2);
  CHECK(e.lockHolder("a") == txnId(1));
  CHECK(e.prepare(txnId(2), encodeOps({put("b", "x")})).vote == Vote::Aborted);
  e.commit(txnId(1), p);
  CHECK(e.lockCount() == 0);
  CHECK(e.read("a") == Versioned{"1", 1});
}

}  // namespace
}  // namespace pc::kv
