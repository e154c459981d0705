// Unit tests of the core's value types (types.h, messages.h, output.h, rng.h, config.h):
// transaction ids, ballots, protocol names, the message helpers and the Output batch.
#include "paxos_commit/types.h"

#include <sstream>

#include "paxos_commit/config.h"
#include "paxos_commit/messages.h"
#include "paxos_commit/output.h"
#include "paxos_commit/rng.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

TEST_CASE("TxnId prints as 32 lowercase hex digits and parses back") {
  // A txn id printed by one tool (logs, `pcommit outcome`) must parse in another.
  TxnId t{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  CHECK(t.toString() == "0123456789abcdeffedcba9876543210");
  auto back = TxnId::parse(t.toString());
  REQUIRE(back.has_value());
  CHECK(*back == t);
  std::ostringstream os;
  os << t;
  CHECK(os.str() == t.toString());
  TxnId small{0, 1};
  CHECK(small.toString() == "00000000000000000000000000000001");
  CHECK(TxnId::parse(small.toString()) == small);
}

TEST_CASE("TxnId::parse accepts upper case hex") {
  // Ids pasted from other tools may be upper case; they denote the same transaction.
  auto t = TxnId::parse("0123456789ABCDEFFEDCBA9876543210");
  REQUIRE(t.has_value());
  CHECK(t->hi == 0x0123456789abcdefULL);
  CHECK(t->lo == 0xfedcba9876543210ULL);
}

TEST_CASE("TxnId::parse refuses bad input") {
  // Bad input from outside is refused, never turned into some other transaction's id.
  CHECK_FALSE(TxnId::parse("").has_value());
  CHECK_FALSE(TxnId::parse("0123").has_value());
  CHECK_FALSE(TxnId::parse("0123456789abcdeffedcba98765432100").has_value());  // 33 digits
  CHECK_FALSE(TxnId::parse("0123456789abcdeffedcba987654321").has_value());    // 31 digits
  CHECK_FALSE(TxnId::parse("0123456789abcdefxedcba9876543210").has_value());   // not hex
  CHECK_FALSE(TxnId::parse("0123456789abcdef fedcba987654321").has_value());   // a space
  CHECK_FALSE(TxnId::parse("-123456789abcdeffedcba9876543210").has_value());
  // The zero id means "no transaction".
  CHECK_FALSE(TxnId::parse("00000000000000000000000000000000").has_value());
}

TEST_CASE("TxnId orders by hi, then lo") {
  // Low-water marks rely on ids ordering by the client's clock (hi) first.
  CHECK(TxnId{1, 99} < TxnId{2, 0});
  CHECK(TxnId{2, 0} < TxnId{2, 1});
  CHECK(TxnId{} < TxnId{0, 1});
  CHECK(TxnId{}.isZero());
  CHECK_FALSE(TxnId{0, 1}.isZero());
  CHECK_FALSE(TxnId{1, 0}.isZero());
}

TEST_CASE("Ballot orders lexicographically by (round, leader)") {
  // Ballot order decides which proposal wins; leaders with the same round must still
  // have distinct, totally ordered ballots.
  CHECK(Ballot::zero() < Ballot{1, 1});
  CHECK(Ballot{1, 99} < Ballot{2, 1});
  CHECK(Ballot{3, 5} < Ballot{3, 6});
  CHECK(Ballot{3, 5} == Ballot{3, 5});
  CHECK(Ballot{3, 5} != Ballot{3, 6});
  CHECK(Ballot::zero().isZero());
  CHECK(Ballot::zero().leader == kNoNode);
  CHECK_FALSE(Ballot{1, 0}.isZero());
  // Round 0 is ballot 0 whatever the leader field says: it belongs to the participant.
  CHECK(Ballot::zero() < Ballot{0, 7});
}

TEST_CASE("Ballot prints b0 for ballot zero and bROUND.LEADER otherwise") {
  // Logs and failure messages of the simulator name ballots this way.
  std::ostringstream a, b;
  a << Ballot::zero();
  b << Ballot{3, 7};
  CHECK(a.str() == "b0");
  CHECK(b.str() == "b3.7");
}

TEST_CASE("protocol and fan-out names round-trip; unknown names are refused") {
  // The CLI parses --protocol / --vote-fanout with these; a typo must be refused (exit 64).
  for (Protocol p :
       {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CHECK(parseProtocol(toString(p)) == p);
  }
  CHECK(std::string(toString(Protocol::TwoPC)) == "2pc");
  CHECK(std::string(toString(Protocol::PaxosClassic)) == "paxos-classic");
  CHECK(std::string(toString(Protocol::Paxos)) == "paxos");
  CHECK(std::string(toString(Protocol::PaxosDirect)) == "paxos-direct");
  CHECK_FALSE(parseProtocol("Paxos").has_value());
  CHECK_FALSE(parseProtocol("").has_value());
  CHECK_FALSE(parseProtocol("3pc").has_value());
  CHECK(parseFanOut("all") == FanOut::All);
  CHECK(parseFanOut("quorum") == FanOut::Quorum);
  CHECK_FALSE(parseFanOut("some").has_value());
}

TEST_CASE("which protocols send 2b to the participants") {
  // Only the faster variants let participants learn from the acceptors (docs/PROTOCOL.md §4).
  CHECK_FALSE(isPaxos(Protocol::TwoPC));
  CHECK(isPaxos(Protocol::PaxosClassic));
  CHECK(isPaxos(Protocol::Paxos));
  CHECK(isPaxos(Protocol::PaxosDirect));
  CHECK_FALSE(acceptorsTellParticipants(Protocol::TwoPC));
  CHECK_FALSE(acceptorsTellParticipants(Protocol::PaxosClassic));
  CHECK(acceptorsTellParticipants(Protocol::Paxos));
  CHECK(acceptorsTellParticipants(Protocol::PaxosDirect));
}

TEST_CASE("participant lists: sorted-unique check and membership") {
  // Participant lists are validated with isSortedUnique; contains() relies on the order.
  CHECK(isSortedUnique({}));
  CHECK(isSortedUnique({4}));
  CHECK(isSortedUnique({1, 2, 9}));
  CHECK_FALSE(isSortedUnique({2, 1}));
  CHECK_FALSE(isSortedUnique({1, 1}));
  CHECK(contains({1, 2, 9}, 9));
  CHECK(contains({1, 2, 9}, 1));
  CHECK_FALSE(contains({1, 2, 9}, 3));
  CHECK_FALSE(contains({}, 3));
}

TEST_CASE("messageName and messageTxn cover every message") {
  // Metrics and rpc tags index messages by name; every alternative must carry its txn.
  TxnId t = test::txnId(7);
  std::vector<Message> all = {CommitRequest{t, {}},
                              CommitReply{t, TxnStatus::Committed, ""},
                              Prepare{t, "", {1}, 50},
                              VoteMsg{t, 1, Vote::Prepared, ""},
                              Phase1a{t, {1, 2}, {1}},
                              Phase1b{t, 101, {}, false, false, {}, {}, {}, {}},
                              test::vote0(t, 1, Vote::Prepared, {1}),
                              test::phase2b(t, 101, {}, {1}),
                              OutcomeMsg{t, Outcome::Commit},
                              Ack{t, 1, Outcome::Commit},
                              AckRequest{t},
                              OutcomeQuery{t, {}},
                              OutcomeReply{t, TxnStatus::Aborted},
                              AckBatch{{Ack{t, 1, Outcome::Commit}}}};
  std::set<std::string> names;
  for (const auto& m : all) {
    CHECK(messageTxn(m) == t);
    names.insert(messageName(m));
  }
  CHECK(names.size() == all.size());
}

TEST_CASE("Output::wakeAt keeps the earliest timer and ignores 0") {
  // A caller sleeping until wakeAtTick must not oversleep an earlier timer.
  Output o;
  CHECK(o.empty());
  o.wakeAt(0);
  CHECK(o.wakeAtTick == 0);
  o.wakeAt(30);
  CHECK(o.wakeAtTick == 30);
  o.wakeAt(50);
  CHECK(o.wakeAtTick == 30);
  o.wakeAt(10);
  CHECK(o.wakeAtTick == 10);
  CHECK_FALSE(o.empty());
}

TEST_CASE("Output::append keeps records and sends in order") {
  // Records of an earlier step must become durable before a later step's sends (FIFO).
  Output a, b;
  a.persist.push_back(LeaderRoundRecord{1});
  a.send.push_back(test::env(50, 1, OutcomeMsg{test::txnId(1), Outcome::Commit}));
  a.wakeAt(20);
  b.persist.push_back(LeaderRoundRecord{2});
  b.send.push_back(test::env(50, 2, OutcomeMsg{test::txnId(2), Outcome::Abort}));
  b.learned.push_back(Learned{test::txnId(2), Outcome::Abort});
  b.recoveriesStarted.push_back(RecoveryEvent{test::txnId(2), Ballot{1, 50}});
  b.wakeAt(10);
  a.append(std::move(b));
  REQUIRE(a.persist.size() == 2);
  CHECK(std::get<LeaderRoundRecord>(a.persist[0]).round == 1);
  CHECK(std::get<LeaderRoundRecord>(a.persist[1]).round == 2);
  REQUIRE(a.send.size() == 2);
  CHECK(a.send[0].to == 1);
  CHECK(a.send[1].to == 2);
  CHECK(a.wakeAtTick == 10);
  CHECK(a.learned.size() == 1);
  CHECK(a.recoveriesStarted.size() == 1);
}

TEST_CASE("Rng replays exactly from its seed") {
  // The simulator replays a failing run from its seed; the generator must be deterministic.
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next();
    CHECK(x == b.next());
    if (x != c.next()) differs = true;
  }
  CHECK(differs);
  Rng r(7);
  CHECK(r.below(0) == 0);
  for (int i = 0; i < 1000; ++i) CHECK(r.below(13) < 13);
  CHECK_FALSE(r.chance(0, 5));
  CHECK(r.chance(5, 5));
}

TEST_CASE("CoreConfig quorum is F+1") {
  // Every quorum count (tally, recovery) uses F+1 out of 2F+1 acceptors.
  CoreConfig c;
  c.f = 1;
  CHECK(c.quorum() == 2);
  c.f = 2;
  CHECK(c.quorum() == 3);
  c.f = 0;
  CHECK(c.quorum() == 1);
}

}  // namespace
}  // namespace pc
