// Unit tests of cluster membership in the core (issue 12): every role counts and trusts
// only the members of the cluster that have a part in the message it receives, and only
// when the message's own id field names the node it came from. A forged message from an
// id that is not in the cluster, or from a member claiming to be another, is refused and
// counted in rejected(); it never decides, never changes durable state. Also: rounds near
// the maximum are refused (a round+1 that wraps would make a transaction undecidable), and
// requests or queries naming participants outside the cluster create no durable state.
#include <limits>

#include "paxos_commit/acceptor.h"
#include "paxos_commit/participant.h"
#include "paxos_commit/paxos_coordinator.h"
#include "paxos_commit/two_pc_coordinator.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
constexpr NodeId kGhost1 = 9001;  // ids that are not in the cluster
constexpr NodeId kGhost2 = 9002;
constexpr NodeId kGhost3 = 9003;
constexpr NodeId kNotMember = 999;  // a participant id the cluster does not have
constexpr uint64_t kRoundMaxU64 = std::numeric_limits<uint64_t>::max();

std::vector<InstanceVote> allPrepared0() {
  return {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)};
}

// ---- fixtures ----

struct ParticipantFixture {
  explicit ParticipantFixture(Protocol p = Protocol::Paxos)
      : cfg(makeConfig(p)), h(Role::Participant, [this](const Recovered& r) {
          return std::make_unique<Participant>(kP1, cfg, engine, 7, r);
        }) {}
  Output prepare(const TxnId& t, NodeId leader = kCoord) {
    return h.deliver(leader, prepareMsg(t, "pay1", kBoth, leader));
  }
  CoreConfig cfg;
  FakeEngine engine;
  Harness<Participant> h;
};

struct PaxosCoordFixture {
  explicit PaxosCoordFixture(Protocol p = Protocol::Paxos)
      : cfg(makeConfig(p)), h(Role::Leader, [this](const Recovered& r) {
          return std::make_unique<PaxosCoordinator>(kCoord, cfg, 5, r);
        }) {}
  Output begin(const TxnId& t) {
    return h.deliver(kClient, request(t, {{kP1, "p1"}, {kP2, "p2"}}));
  }
  CoreConfig cfg;
  Harness<PaxosCoordinator> h;
};

struct TwoPcFixture {
  TwoPcFixture()
      : cfg(makeConfig(Protocol::TwoPC)), h(Role::TwoPcCoordinator, [this](const Recovered& r) {
          return std::make_unique<TwoPcCoordinator>(kCoord, cfg, r);
        }) {}
  CoreConfig cfg;
  Harness<TwoPcCoordinator> h;
};

struct AcceptorFixture {
  AcceptorFixture()
      : cfg(makeConfig(Protocol::Paxos)), h(Role::Acceptor, [this](const Recovered& r) {
          return std::make_unique<Acceptor>(kA1, cfg, r);
        }) {}
  CoreConfig cfg;
  Harness<Acceptor> h;
};

// ---- Phase 2b / 1b / Forgotten: only configured acceptors, only as themselves ----

TEST_CASE("membership: forged 2b from two non-member ids never decide at a leader") {
  // Issue 12 (1): 2b from ids 9001 and 9002 made F+1 for F=1 and decided Commit.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output o = f.h.deliver(kGhost1, phase2b(t, kGhost1, allPrepared0(), kBoth));
  o.append(f.h.deliver(kGhost2, phase2b(t, kGhost2, allPrepared0(), kBoth)));
  CHECK(o.learned.empty());
  CHECK(countSent<CommitReply>(o) == 0);
  CHECK(f.h.node().rejected() == 2);
  // The real acceptors still decide it.
  Output real = f.h.deliver(kA1, phase2b(t, kA1, allPrepared0(), kBoth));
  real.append(f.h.deliver(kA2, phase2b(t, kA2, allPrepared0(), kBoth)));
  CHECK(learnedOutcome(real, t, Outcome::Commit));
}

TEST_CASE("membership: a member's 2b naming another acceptor is refused at a leader") {
  // One acceptor must not stand in for two: m.acceptor must be the sender.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output o = f.h.deliver(kA1, phase2b(t, kA1, allPrepared0(), kBoth));
  o.append(f.h.deliver(kA1, phase2b(t, kA2, allPrepared0(), kBoth)));
  o.append(f.h.deliver(kGhost1, phase2b(t, kA3, allPrepared0(), kBoth)));
  CHECK(o.learned.empty());
  CHECK(f.h.node().rejected() == 2);
}

TEST_CASE("membership: forged 2b never decide at a participant (faster variant)") {
  // A participant that voted Prepared while the other voted Aborted must not commit on
  // forged 2b claiming every instance Prepared.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kGhost1, phase2b(t, kGhost1, allPrepared0(), kBoth));
  o.append(f.h.deliver(kGhost2, phase2b(t, kGhost2, allPrepared0(), kBoth)));
  o.append(f.h.deliver(kA1, phase2b(t, kA2, allPrepared0(), kBoth)));
  o.append(f.h.deliver(kA1, phase2b(t, kA3, allPrepared0(), kBoth)));
  CHECK(o.learned.empty());
  CHECK(f.h.node().stateOf(t) == ParticipantState::Prepared);
  CHECK(f.engine.count("commit", t) == 0);
  CHECK(f.h.node().rejected() == 4);
}

TEST_CASE("membership: forged Forgotten never aborts a prepared participant") {
  // "Forgotten" from F+1 acceptors aborts a prepared participant (no instance can ever be
  // chosen); from one acceptor posing as two, or from non-members, it must not.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Phase2b forgot;
  forgot.txn = t;
  forgot.forgotten = true;
  Output o;
  for (NodeId claimed : {kA1, kA2}) {
    forgot.acceptor = claimed;
    o.append(f.h.deliver(kA1, forgot));
  }
  for (NodeId ghost : {kGhost1, kGhost2}) {
    forgot.acceptor = ghost;
    o.append(f.h.deliver(ghost, forgot));
  }
  CHECK(o.learned.empty());
  CHECK(f.h.node().stateOf(t) == ParticipantState::Prepared);
  CHECK(f.h.node().rejected() == 3);
}

TEST_CASE("membership: a forged Forgotten 1b with an outcome never decides at a leader") {
  // A tombstone's outcome is final only when a real acceptor reports it.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output q = f.h.deliver(kClient, OutcomeQuery{t, kBoth});
  REQUIRE(countSent<Phase1a>(q) == 3);
  Phase1b m;
  m.txn = t;
  m.acceptor = kGhost1;
  m.ballot = sent<Phase1a>(q)[0].msg.ballot;
  m.forgotten = true;
  m.outcome = Outcome::Commit;
  Output o = f.h.deliver(kGhost1, m);
  m.acceptor = kA2;
  o.append(f.h.deliver(kA1, m));
  CHECK(o.learned.empty());
  CHECK(countSent<OutcomeReply>(o) == 0);
  CHECK(f.h.node().rejected() == 2);
}

TEST_CASE("membership: forged 1b promises from non-members never lead to a 2a") {
  // Phase 2a must rest on F+1 real promises, or a forged report picks the value.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output q = f.h.deliver(kClient, OutcomeQuery{t, kBoth});
  Ballot b = sent<Phase1a>(q)[0].msg.ballot;
  Output o;
  for (NodeId ghost : {kGhost1, kGhost2, kGhost3}) {
    o.append(f.h.deliver(ghost, promise(t, ghost, b, kBoth,
                                        {voted(kP1, Ballot::zero(), Vote::Prepared),
                                         voted(kP2, Ballot::zero(), Vote::Prepared)})));
  }
  o.append(f.h.deliver(kA1, promise(t, kA2, b, kBoth, {noVote(kP1), noVote(kP2)})));
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(f.h.node().rejected() == 4);
}

// ---- Outcome, Vote, Ack, AckRequest: only from those with a part in the transaction ----

TEST_CASE("membership: a forged Outcome Commit from a non-member is refused by a participant") {
  // Issue 12 (2): the outcome of a Paxos participant came from whoever sent it.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kGhost1, OutcomeMsg{t, Outcome::Commit});
  CHECK(o.learned.empty());
  CHECK(f.h.node().stateOf(t) == ParticipantState::Prepared);
  CHECK(f.h.node().rejected() == 1);
  // The coordinator and the other participant (a recovery leader) are heard.
  Output real = f.h.deliver(kP2, OutcomeMsg{t, Outcome::Abort});
  CHECK(learnedOutcome(real, t, Outcome::Abort));
}

TEST_CASE("membership: a participant takes Prepare only from a coordinator (not paxos-direct)") {
  // Issue 12 (4): a Prepare naming a leader that is not a coordinator pinned 2PC locks.
  for (Protocol p : {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos}) {
    ParticipantFixture f(p);
    TxnId t = txnId(1);
    Output o = f.prepare(t, kGhost1);
    CHECK(o.persist.empty());
    CHECK(o.send.empty());
    CHECK_FALSE(f.h.node().stateOf(t).has_value());
    CHECK(f.engine.count("prepare", t) == 0);
    // Leader field and sender must agree too.
    o = f.h.deliver(kCoord, prepareMsg(t, "pay1", kBoth, kCoord2));
    CHECK(o.persist.empty());
    CHECK(f.h.node().rejected() == 2);
  }
}

TEST_CASE("membership: in paxos-direct the client leads ballot 0 and is heard for Prepare") {
  // paxos-direct: the client is the leader at ballot 0 and is not a member.
  ParticipantFixture f(Protocol::PaxosDirect);
  TxnId t = txnId(1);
  Output o = f.prepare(t, kClient);
  CHECK(records<ParticipantTxnRecord>(o).size() == 1);
  CHECK(countSent<Phase2a>(o) == 3);
  CHECK(f.h.node().rejected() == 0);
  // But its outcome is not taken on its word: it is not a member, and the acceptors' 2b
  // reach every participant in this mode anyway.
  Output forged = f.h.deliver(kClient, OutcomeMsg{t, Outcome::Commit});
  CHECK(forged.learned.empty());
}

TEST_CASE("membership: in paxos and paxos-classic a client id may lead ballot 0 (direct mode)") {
  // client/client.h ClientMode::Direct works on every Paxos cluster: a Prepare from a
  // client id (high bit set) is heard; from a non-member that is no client it is not.
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos}) {
    ParticipantFixture f(p);
    const NodeId client = 0x80000123u;
    Output o = f.prepare(txnId(1), client);
    CHECK(records<ParticipantTxnRecord>(o).size() == 1);
    CHECK(countSent<Phase2a>(o) == 3);
    CHECK(f.h.node().rejected() == 0);
    Output ghost = f.prepare(txnId(2), kGhost1);
    CHECK(ghost.persist.empty());
    CHECK(f.h.node().rejected() == 1);
  }
}

TEST_CASE("membership: a forged AckRequest creates no durable state at a participant") {
  // Only an acceptor (Paxos) asks a participant for its ack; a non-member's request for a
  // transaction it never saw would durably pledge an Aborted vote.
  ParticipantFixture f;
  Output o = f.h.deliver(kGhost1, AckRequest{txnId(5)});
  CHECK(o.persist.empty());
  CHECK(o.send.empty());
  CHECK(f.h.node().rejected() == 1);
  Output real = f.h.deliver(kA1, AckRequest{txnId(5)});
  CHECK(records<ParticipantTxnRecord>(real).size() == 1);
}

TEST_CASE("membership: a 2PC coordinator takes a vote only from that participant itself") {
  // Issue 12 (2): forged VoteMsg{Prepared} naming both participants committed the
  // transaction although neither voted.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, request(t, {{kP1, "p1"}, {kP2, "p2"}}));
  Output o = f.h.deliver(kGhost1, VoteMsg{t, kP1, Vote::Prepared, "", kNoNode});
  o.append(f.h.deliver(kGhost1, VoteMsg{t, kP2, Vote::Prepared, "", kNoNode}));
  o.append(f.h.deliver(kP3, VoteMsg{t, kP3, Vote::Prepared, "", kNoNode}));
  CHECK(o.learned.empty());
  CHECK(o.persist.empty());
  CHECK(f.h.node().rejected() == 3);
  Output real = f.h.deliver(kP1, VoteMsg{t, kP1, Vote::Prepared, "", kNoNode});
  real.append(f.h.deliver(kP2, VoteMsg{t, kP2, Vote::Prepared, "", kNoNode}));
  CHECK(learnedOutcome(real, t, Outcome::Commit));
}

TEST_CASE("membership: forged acks never collect an acceptor's state nor set its tombstone") {
  // Issue 12 (2): forged Ack{outcome} left a tombstone with the forged outcome.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth));
  REQUIRE(f.h.node().state(t) != nullptr);
  Output o = f.h.deliver(kGhost1, Ack{t, kP1, Outcome::Abort});
  o.append(f.h.deliver(kP1, Ack{t, kP2, Outcome::Abort}));
  CHECK(records<AcceptorForgetRecord>(o).empty());
  CHECK(f.h.node().rejected() == 2);
  Output real = f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  real.append(f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit}));
  auto forget = records<AcceptorForgetRecord>(real);
  REQUIRE(forget.size() == 1);
  CHECK(forget[0].outcome == Outcome::Commit);
}

TEST_CASE("membership: a 2PC coordinator takes an ack only from that participant itself") {
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, request(t, {{kP1, "p1"}, {kP2, "p2"}}));
  f.h.deliver(kP1, VoteMsg{t, kP1, Vote::Prepared, "", kNoNode});
  f.h.deliver(kP2, VoteMsg{t, kP2, Vote::Prepared, "", kNoNode});
  Output o = f.h.deliver(kGhost1, Ack{t, kP1, Outcome::Commit});
  o.append(f.h.deliver(kP1, Ack{t, kP2, Outcome::Commit}));
  CHECK(o.persist.empty());
  CHECK(f.h.node().rejected() == 2);
}

TEST_CASE("membership: a 2PC coordinator presumes abort only for a member participant") {
  // A query from a non-member listing itself must not plant an abort for that id.
  TwoPcFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kGhost1, OutcomeQuery{t, {kP1, kGhost1}});
  auto r = sentTo<OutcomeReply>(o, kGhost1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Unknown);
  CHECK(f.h.node().statusOf(t) == std::nullopt);
}

TEST_CASE("membership: acceptors take 1a/2a only from those who may lead") {
  // A non-member leading a ballot > 0 could get a value chosen that no participant voted.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kGhost1, phase1a(t, ballot(7, kGhost1), kBoth));
  o.append(f.h.deliver(
      kGhost1, phase2a(t, ballot(7, kGhost1), {{kP1, Vote::Prepared}, {kP2, Vote::Prepared}}, kBoth,
                       kGhost1)));
  // Ballot 0 of an instance that is not a participant of the cluster.
  o.append(f.h.deliver(kGhost1, vote0(t, kGhost1, Vote::Prepared, {kP1, kGhost1})));
  CHECK(o.persist.empty());
  CHECK(o.send.empty());
  CHECK(f.h.node().rejected() == 3);
  // A coordinator and a participant (recovery leader) may.
  CHECK_FALSE(f.h.deliver(kCoord, phase1a(t, ballot(7, kCoord), kBoth)).persist.empty());
  CHECK_FALSE(f.h.deliver(kP2, phase1a(t, ballot(8, kP2), kBoth)).persist.empty());
}

// ---- requests and queries naming non-members ----

TEST_CASE("membership: a CommitRequest naming a non-member is refused with its id") {
  // Issue 12 (4): acceptors persisted records for p999 that never collected their acks.
  for (Protocol p : {Protocol::Paxos, Protocol::TwoPC}) {
    CoreConfig cfg = makeConfig(p);
    std::unique_ptr<Node> n;
    if (p == Protocol::TwoPC) {
      n = std::make_unique<TwoPcCoordinator>(kCoord, cfg, Recovered{});
    } else {
      n = std::make_unique<PaxosCoordinator>(kCoord, cfg, 5, Recovered{});
    }
    TxnId t = txnId(1);
    Output o =
        n->onMessage(Envelope{kClient, kCoord, request(t, {{kP1, "p1"}, {kNotMember, "x"}})});
    CHECK(countSent<Prepare>(o) == 0);
    CHECK(o.persist.empty());
    auto r = sentTo<CommitReply>(o, kClient);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == TxnStatus::Aborted);
    CHECK(r[0].reason.find("999") != std::string::npos);
    CHECK(n->rejected() == 1);
  }
}

TEST_CASE("membership: an OutcomeQuery naming a non-member starts no recovery") {
  // Phase 1 for p999 would make the acceptors persist a record nobody ever acks.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kClient, OutcomeQuery{t, {kP1, kNotMember}});
  CHECK(countSent<Phase1a>(o) == 0);
  auto r = sentTo<OutcomeReply>(o, kClient);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Unknown);
  CHECK(f.h.node().rejected() == 1);
}

TEST_CASE("membership: acceptors refuse participant lists with non-members") {
  // Defence in depth: whatever a leader asks, no durable state for a non-member.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kCoord, phase1a(t, ballot(3, kCoord), {kP1, kNotMember}));
  o.append(f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, {kP1, kNotMember})));
  CHECK(o.persist.empty());
  CHECK(f.h.node().rejected() == 2);
}

// ---- rounds near the maximum ----

TEST_CASE("rounds: an acceptor refuses a ballot at round 2^64-1") {
  // Issue 12 (3): promising it would leave no higher ballot for any leader.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kCoord, phase1a(t, ballot(kRoundMaxU64, kCoord), kBoth));
  o.append(
      f.h.deliver(kCoord, phase2a(t, ballot(kRoundMaxU64, kCoord),
                                  {{kP1, Vote::Aborted}, {kP2, Vote::Aborted}}, kBoth, kCoord)));
  CHECK(o.persist.empty());
  CHECK(o.send.empty());
  CHECK(f.h.node().rejected() == 2);
}

TEST_CASE("rounds: a leader refuses a report of round 2^64-1 and still goes above") {
  // highestRoundSeen + 1 wrapped to 0: the transaction could never be decided.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output q = f.h.deliver(kClient, OutcomeQuery{t, kBoth});
  Ballot b = sent<Phase1a>(q)[0].msg.ballot;
  Phase1b refusal = promise(t, kA1, b, kBoth, {});
  refusal.promised = false;
  refusal.mbal = ballot(kRoundMaxU64, kCoord2);
  f.h.deliver(kA1, refusal);
  CHECK(f.h.node().rejected() == 1);
  Output next = f.h.tickUntil([](const Output& o) { return countSent<Phase1a>(o) > 0; }, 2000);
  auto as = sent<Phase1a>(next);
  REQUIRE_FALSE(as.empty());
  CHECK(as[0].msg.ballot.round > b.round);
}

}  // namespace
}  // namespace pc
