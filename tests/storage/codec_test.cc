// The on-disk codec: every value round-trips, and every damaged value is refused with a
// DecodeError rather than read as garbage (a silent misread would corrupt recovery).
#include "storage/codec.h"

#include <doctest/doctest.h>

#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::txn;

// Every strict prefix and every one-byte extension of a valid value must be refused.
template <class Decode>
void checkRejectsDamage(const std::string& good, Decode decode) {
  for (size_t n = 0; n < good.size(); ++n) {
    CHECK_THROWS_AS(decode(std::string_view(good).substr(0, n)), codec::DecodeError);
  }
  CHECK_THROWS_AS(decode(good + "x"), codec::DecodeError);
  std::string badVersion = good;
  badVersion[0] = 7;
  CHECK_THROWS_WITH_AS(decode(badVersion), doctest::Contains("unknown value version 7"),
                       codec::DecodeError);
}

TEST_CASE("txn keys sort like TxnIds: low-water erasure relies on LMDB byte order") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    TxnId a{rng() % 4, rng()}, b{rng() % 4, rng()};
    if (i % 3 == 0) b.hi = a.hi;
    CHECK((codec::txnKey(a) < codec::txnKey(b)) == (a < b));
    CHECK(codec::parseTxnKey(codec::txnKey(a)) == a);
  }
  CHECK_THROWS_AS(codec::parseTxnKey("short"), codec::DecodeError);
}

TEST_CASE("acceptor records round-trip, including no-vote instances, and refuse damage") {
  AcceptorTxnRecord a{txn(1, 2), {1, 2, 7}, 9, {}};
  a.instances.push_back({1, Ballot{3, 9}, Ballot{3, 9}, Vote::Prepared});
  a.instances.push_back({2, Ballot{0, 0}, std::nullopt, std::nullopt});
  a.instances.push_back({7, Ballot{5, 1}, Ballot{2, 4}, Vote::Aborted});
  std::string enc = codec::encode(a);
  CHECK(codec::decodeAcceptorTxn(a.txn, enc) == a);
  checkRejectsDamage(enc, [&](std::string_view v) { return codec::decodeAcceptorTxn(a.txn, v); });
  // An unknown vote byte is refused, not cast into the enum.
  std::string badVote = enc;
  badVote[badVote.size() - 1] = 9;
  CHECK_THROWS_WITH_AS(codec::decodeAcceptorTxn(a.txn, badVote), doctest::Contains("bad vote"),
                       codec::DecodeError);
}

TEST_CASE("participant records round-trip for every state and refuse damage") {
  for (int s = 1; s <= 4; ++s) {
    ParticipantTxnRecord p{txn(5, 6),
                           static_cast<ParticipantState>(s),
                           kv::encodeOps({{kv::OpKind::Put, "k", std::string("v\0v", 3), 0}}),
                           {2, 3},
                           4,
                           s == 2 ? "conflict" : ""};
    std::string enc = codec::encode(p);
    CHECK(codec::decodeParticipantTxn(p.txn, enc) == p);
    // Parenthesised: doctest's stringifier would find pc::toString(ParticipantState) by ADL.
    CHECK((codec::decodeParticipantState(enc) == p.state));
    checkRejectsDamage(enc,
                       [&](std::string_view v) { return codec::decodeParticipantTxn(p.txn, v); });
  }
  std::string enc = codec::encode(ParticipantTxnRecord{});
  enc[1] = 5;  // state byte
  CHECK_THROWS_WITH_AS(codec::decodeParticipantState(enc),
                       doctest::Contains("bad participant state"), codec::DecodeError);
}

TEST_CASE("a heuristic mark round-trips; records without one keep the old encoding") {
  // docs/PROTOCOL.md §9: the mark is an optional trailing byte, so
  // records written before it existed still decode (as None) and are written the same.
  ParticipantTxnRecord plain{txn(5, 6), ParticipantState::Aborted, "ops", {2, 3}, 4, ""};
  std::string old = codec::encode(plain);
  for (Heuristic h : {Heuristic::Pending, Heuristic::Agreed, Heuristic::Mismatch}) {
    ParticipantTxnRecord p = plain;
    p.heuristic = h;
    std::string enc = codec::encode(p);
    CHECK(enc.size() == old.size() + 1);
    CHECK(enc.compare(0, old.size(), old) == 0);
    CHECK(codec::decodeParticipantTxn(p.txn, enc) == p);
    // Damage: a cut inside the old fields or an extra byte is refused (a cut exactly before
    // the mark is the old encoding, below).
    for (size_t n = 0; n < old.size(); ++n) {
      CHECK_THROWS_AS(codec::decodeParticipantTxn(p.txn, std::string_view(enc).substr(0, n)),
                      codec::DecodeError);
    }
    CHECK_THROWS_AS(codec::decodeParticipantTxn(p.txn, enc + "x"), codec::DecodeError);
  }
  CHECK((codec::decodeParticipantTxn(plain.txn, old).heuristic == Heuristic::None));
  CHECK_THROWS_WITH_AS(codec::decodeParticipantTxn(plain.txn, old + std::string(1, '\0')),
                       doctest::Contains("bad heuristic mark 0"), codec::DecodeError);
  // Only a decided transaction can carry one.
  ParticipantTxnRecord prepared = plain;
  prepared.state = ParticipantState::Prepared;
  CHECK_THROWS_WITH_AS(
      codec::decodeParticipantTxn(prepared.txn, codec::encode(prepared) + std::string(1, '\1')),
      doctest::Contains("not decided"), codec::DecodeError);
}

TEST_CASE("decision, low-water, round and tombstone values round-trip and refuse damage") {
  DecisionRecord d{txn(1, 1), {1, 4}, true};
  CHECK(codec::decodeDecision(d.txn, codec::encode(d)) == d);
  checkRejectsDamage(codec::encode(d),
                     [&](std::string_view v) { return codec::decodeDecision(d.txn, v); });
  CHECK(codec::decodeTxn(codec::encodeTxn(txn(~0ull, 3))) == txn(~0ull, 3));
  checkRejectsDamage(codec::encodeTxn(txn(1, 2)), codec::decodeTxn);
  CHECK(codec::decodeU64(codec::encodeU64(1234567890123ull)) == 1234567890123ull);
  checkRejectsDamage(codec::encodeU64(7), codec::decodeU64);
  CHECK_NOTHROW(codec::decodeEmpty(codec::encodeEmpty()));
  CHECK_THROWS_AS(codec::decodeEmpty(codec::encodeEmpty() + "x"), codec::DecodeError);
  // Tombstones keep the acked outcome; anything else in their value is refused.
  CHECK(codec::decodeOutcome(codec::encodeOutcome(Outcome::Commit)) ==
        std::optional(Outcome::Commit));
  CHECK(codec::decodeOutcome(codec::encodeOutcome(Outcome::Abort)) ==
        std::optional(Outcome::Abort));
  CHECK_FALSE(codec::decodeOutcome(codec::encodeOutcome(std::nullopt)).has_value());
  std::string bad = codec::encodeOutcome(Outcome::Commit);
  bad.back() = '\x07';
  CHECK_THROWS_AS(codec::decodeOutcome(bad), codec::DecodeError);
  CHECK_THROWS_AS(codec::decodeOutcome(codec::encodeEmpty()), codec::DecodeError);
}

TEST_CASE("a corrupt length cannot make the decoder allocate or read out of bounds") {
  DecisionRecord d{txn(1, 1), {1}, false};
  std::string enc = codec::encode(d);
  enc[1] = '\xff';  // participant count low byte
  enc[4] = '\x7f';  // ... and high byte: ~2^31 entries claimed
  CHECK_THROWS_WITH_AS(codec::decodeDecision(d.txn, enc), doctest::Contains("truncated"),
                       codec::DecodeError);
}

TEST_CASE(
    "kv slots: short keys map to themselves, long keys to a hashed slot with the key inside") {
  const size_t maxKey = 511;
  CHECK(codec::kvSlotKey("abc", maxKey, 0) == std::string("\0abc", 4));
  std::string longKey(4000, 'q');
  std::string slot0 = codec::kvSlotKey(longKey, maxKey, 0);
  std::string slot1 = codec::kvSlotKey(longKey, maxKey, 1);
  CHECK(slot0.size() <= maxKey);
  CHECK(slot0 != slot1);
  CHECK(codec::kvSlotKey(longKey + "x", maxKey, 0) != slot0);
  codec::KvValue v{kv::Versioned{std::string("val"), 3}, longKey};
  CHECK(codec::decodeKvValue(codec::encode(v)) == v);
  CHECK(codec::kvKeyOf(slot0, v) == longKey);
  codec::KvValue deleted{kv::Versioned{std::nullopt, 8}, std::nullopt};
  CHECK(codec::decodeKvValue(codec::encode(deleted)) == deleted);
  checkRejectsDamage(codec::encode(v), codec::decodeKvValue);
}

TEST_CASE("the format record is recognised by its magic only") {
  CHECK(codec::decodeFormat(codec::encodeFormat(1)) == 1u);
  CHECK(codec::decodeFormat(codec::encodeFormat(99)) == 99u);
  CHECK_FALSE(codec::decodeFormat("something else").has_value());
  CHECK_FALSE(codec::decodeFormat("").has_value());
}

}  // namespace
}  // namespace pc::storage
