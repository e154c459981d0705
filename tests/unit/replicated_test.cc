// Unit tests of `2pc-replicated` (replicated_coordinator.h): the coordinator's Commit goes to
// the acceptors' decision instance before it is sent; the acceptor takes that instance
// and nothing else; a participant in doubt asks its coordinator once, then recovers the
// decision at the acceptors (docs/PROTOCOL.md §5, §7).
#include "paxos_commit/acceptor.h"
#include "paxos_commit/participant.h"
#include "paxos_commit/replicated_coordinator.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
const std::set<NodeId> kAllAcceptors = {kA1, kA2, kA3};
constexpr Protocol kRepl = Protocol::TwoPCReplicated;

CommitRequest req(const TxnId& t) { return request(t, {{kP1, "p1"}, {kP2, "p2"}}); }
InstanceVote commit0() { return iv0(kDecisionInstance, Vote::Prepared); }
Phase2a decision0(const TxnId& t, NodeId coord = kCoord) {
  Phase2a m;
  m.txn = t;
  m.participants = kBoth;
  m.leader = coord;
  m.votes = {commit0()};
  return m;
}

struct CoordFixture {
  explicit CoordFixture(FanOut fanOut = FanOut::All, TxnId startMark = {})
      : cfg(makeConfig(kRepl, fanOut)), h(Role::Leader, [this, startMark](const Recovered& r) {
          return std::make_unique<ReplicatedCoordinator>(kCoord, cfg, 5, r, startMark);
        }) {}
  Output vote(const TxnId& t, NodeId p, Vote v) { return h.deliver(p, VoteMsg{t, p, v, ""}); }
  Output b2(const TxnId& t, NodeId a, std::vector<InstanceVote> votes = {commit0()}) {
    return h.deliver(a, phase2b(t, a, std::move(votes), kBoth));
  }
  CoreConfig cfg;
  Harness<ReplicatedCoordinator> h;
};

TEST_CASE("2pc-replicated: Commit goes to the acceptors first, out only after F+1 2b") {
  CoordFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kClient, req(t));
  CHECK(destinations<Prepare>(o) == std::set<NodeId>{kP1, kP2});
  f.vote(t, kP1, Vote::Prepared);
  Output all = f.vote(t, kP2, Vote::Prepared);
  // No record of its own: the acceptors are the coordinator's log.
  CHECK(all.persist.empty());
  CHECK(countSent<OutcomeMsg>(all) == 0);
  CHECK(countSent<CommitReply>(all) == 0);
  CHECK(destinations<Phase2a>(all) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(all)) CHECK(s.msg == decision0(t));
  Output one = f.b2(t, kA2);
  CHECK(countSent<OutcomeMsg>(one) == 0);  // one acceptor is not a quorum
  CHECK_FALSE(learnedAnything(one, t));
  Output two = f.b2(t, kA3);
  CHECK(destinations<OutcomeMsg>(two) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(two)) CHECK(s.msg.outcome == Outcome::Commit);
  auto replies = sentTo<CommitReply>(two, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(learnedOutcome(two, t, Outcome::Commit));
  CHECK(f.h.node().statusOf(t) == TxnStatus::Committed);
  // The third 2b is late: nothing more.
  CHECK(f.b2(t, kA1).send.empty());
}

TEST_CASE("2pc-replicated: a 2b from a non-acceptor or for another instance does not count") {
  CoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  f.b2(t, kA1);
  // A participant posing as an acceptor, and an acceptor speaking for another.
  CHECK(f.h.deliver(kP1, phase2b(t, kP1, {commit0()}, kBoth)).send.empty());
  CHECK(f.h.deliver(kA2, phase2b(t, kA3, {commit0()}, kBoth)).send.empty());
  CHECK(f.h.node().rejected() == 2);
  // A participant's own instance is not the decision.
  CHECK(f.b2(t, kA2, {iv0(kP1, Vote::Prepared)}).send.empty());
  CHECK(f.h.node().statusOf(t) == TxnStatus::Unknown);
}

TEST_CASE("2pc-replicated: an Aborted vote aborts at once, writing nothing anywhere") {
  CoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  Output o = f.vote(t, kP2, Vote::Aborted);
  CHECK(o.persist.empty());
  CHECK(countSent<Phase2a>(o) == 0);  // presumed abort: the decision instance stays free
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg.outcome == Outcome::Abort);
  CHECK(learnedOutcome(o, t, Outcome::Abort));
}

TEST_CASE("2pc-replicated: fan-out quorum sends the 2a to F+1, the rest after the fallback") {
  CoordFixture f(FanOut::Quorum);
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  Output o = f.vote(t, kP2, Vote::Prepared);
  auto first = destinations<Phase2a>(o);
  CHECK(first.size() == 2);
  Output early = f.h.ticks(f.cfg.fanOutFallbackTicks - 1);
  CHECK(countSent<Phase2a>(early) == 0);
  Output rest = f.h.tick();
  std::set<NodeId> all = first;
  for (NodeId a : destinations<Phase2a>(rest)) CHECK(all.insert(a).second);
  CHECK(all == kAllAcceptors);
}

TEST_CASE("2pc-replicated: no quorum in time hands the decision to phase 1 at a higher ballot") {
  CoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  uint64_t ticked = 0;
  Output o = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; },
                           f.cfg.leaderTimeoutTicks + 1, &ticked);
  REQUIRE(countSent<Phase1a>(o) == 3);
  Ballot b = sent<Phase1a>(o)[0].msg.ballot;
  CHECK(b.round >= 1);
  CHECK(b.leader == kCoord);
  // Two promises, one of which saw the Commit at ballot 0: the leader proposes Commit.
  f.h.deliver(kA1, promise(t, kA1, b, kBoth, {noVote(kDecisionInstance)}));
  Output p2 = f.h.deliver(
      kA2, promise(t, kA2, b, kBoth, {voted(kDecisionInstance, Ballot::zero(), Vote::Prepared)}));
  REQUIRE(countSent<Phase2a>(p2) == 3);
  CHECK(sent<Phase2a>(p2)[0].msg.votes ==
        std::vector<InstanceVote>{iv(kDecisionInstance, b, Vote::Prepared)});
  f.h.deliver(kA1, phase2b(t, kA1, {iv(kDecisionInstance, b, Vote::Prepared)}, kBoth));
  Output d = f.h.deliver(kA2, phase2b(t, kA2, {iv(kDecisionInstance, b, Vote::Prepared)}, kBoth));
  auto replies = sentTo<CommitReply>(d, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(destinations<OutcomeMsg>(d) == std::set<NodeId>{kP1, kP2});
}

TEST_CASE("2pc-replicated: a restarted coordinator never presumes abort for an old txn") {
  // It may have proposed Commit before the restart: only the acceptors know.
  TxnId t = txnId(1);
  CoordFixture f(FanOut::All, txnId(5));
  Output q = f.h.deliver(kP1, OutcomeQuery{t, kBoth});
  auto rs = sentTo<OutcomeReply>(q, kP1);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == TxnStatus::Unknown);  // the participant recovers at the acceptors
  CHECK(f.vote(t, kP2, Vote::Prepared).send.empty());
  // A client's retry is answered from the acceptors: phase 1 on the decision instance.
  Output r = f.h.deliver(kClient, req(t));
  CHECK(countSent<Prepare>(r) == 0);
  CHECK(destinations<Phase1a>(r) == kAllAcceptors);
  // A txn begun after the restart that it never proposed: presumed abort for its participant.
  Output fresh = f.h.deliver(kP1, OutcomeQuery{txnId(9), kBoth});
  auto fr = sentTo<OutcomeReply>(fresh, kP1);
  REQUIRE(fr.size() == 1);
  CHECK(fr[0].status == TxnStatus::Aborted);
}

TEST_CASE("2pc-replicated: a client's query for an unknown txn asks the acceptors, no guess") {
  // The client library sends no participant list: the acceptors are asked for it first.
  CoordFixture f;
  Output o = f.h.deliver(kClient, OutcomeQuery{txnId(3), {}});
  CHECK(countSent<OutcomeReply>(o) == 0);
  REQUIRE(destinations<Phase1a>(o) == kAllAcceptors);
  CHECK(sent<Phase1a>(o)[0].msg.participants.empty());
  // With the list, phase 1 on the decision instance at once.
  Output p = f.h.deliver(kClient, OutcomeQuery{txnId(4), kBoth});
  REQUIRE(destinations<Phase1a>(p) == kAllAcceptors);
  CHECK(sent<Phase1a>(p)[0].msg.ballot.round >= 1);
}

TEST_CASE("2pc-replicated: told another coordinator owns the txn, it recovers at the acceptors") {
  CoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  VoteMsg owned{t, kP1, Vote::Prepared, "prepared under coordinator 51", kCoord2};
  Output o = f.h.deliver(kP1, owned);
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  CHECK(countSent<CommitReply>(o) == 0);
}

// ---- acceptor ----

struct AcceptorFixture {
  explicit AcceptorFixture(Protocol p = kRepl)
      : cfg(makeConfig(p)), h(Role::Acceptor, [this](const Recovered& r) {
          return std::make_unique<Acceptor>(kA1, cfg, r);
        }) {}
  CoreConfig cfg;
  Harness<Acceptor> h;
};

TEST_CASE("2pc-replicated acceptor: takes a coordinator's Commit at once, durable before 2b") {
  AcceptorFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kCoord, decision0(t));
  auto recs = records<AcceptorTxnRecord>(o);
  REQUIRE(recs.size() == 1);
  REQUIRE(recs[0].instances.size() == 1);
  CHECK(recs[0].instances[0].instance == kDecisionInstance);
  CHECK(recs[0].instances[0].val == Vote::Prepared);
  CHECK(recs[0].participants == kBoth);
  auto b = sentTo<Phase2b>(o, kCoord);
  REQUIRE(b.size() == 1);
  CHECK(b[0].votes == std::vector<InstanceVote>{commit0()});
  CHECK(destinations<Phase2b>(o) == std::set<NodeId>{kCoord});  // not to the participants
  // Pitfall 5: the same 2a again gets the same 2b, and no second write.
  Output dup = f.h.deliver(kCoord, decision0(t));
  CHECK(dup.persist.empty());
  CHECK(sentTo<Phase2b>(dup, kCoord).size() == 1);
}

TEST_CASE("2pc-replicated acceptor: refuses what is not the one decision instance's") {
  AcceptorFixture f;
  TxnId t = txnId(1);
  Phase2a abort0 = decision0(t);
  abort0.votes = {iv0(kDecisionInstance, Vote::Aborted)};
  CHECK(f.h.deliver(kCoord, abort0).empty());          // Abort is never written at 0
  CHECK(f.h.deliver(kP1, decision0(t, kP1)).empty());  // a participant's ballot 0
  CHECK(f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth)).empty());  // its own instance
  CHECK(f.h.deliver(kClient, decision0(t, kClient)).empty());             // not a member
  CHECK(f.h.node().rejected() == 4);
  CHECK(f.h.node().state(t) == nullptr);
}

TEST_CASE("2pc-replicated acceptor: a promise at a higher ballot makes a later ballot 0 stale") {
  AcceptorFixture f;
  TxnId t = txnId(1);
  Ballot b = ballot(3, kP2);
  Output p = f.h.deliver(kP2, phase1a(t, b, kBoth));
  auto ps = sentTo<Phase1b>(p, kP2);
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].promised);
  CHECK(ps[0].reports == std::vector<InstanceReport>{noVote(kDecisionInstance)});
  CHECK(f.h.deliver(kCoord, decision0(t)).send.empty());  // below the promise: not taken
  Output a = f.h.deliver(kP2, phase2a(t, b, {{kDecisionInstance, Vote::Aborted}}, kBoth, kP2));
  auto b2 = sentTo<Phase2b>(a, kP2);
  REQUIRE(b2.size() == 1);
  CHECK(b2[0].votes == std::vector<InstanceVote>{iv(kDecisionInstance, b, Vote::Aborted)});
}

TEST_CASE("paxos acceptor: the decision instance does not exist outside 2pc-replicated") {
  AcceptorFixture f(Protocol::Paxos);
  CHECK(f.h.deliver(kCoord, decision0(txnId(1))).empty());
  CHECK(f.h.node().rejected() == 1);
}

// ---- participant ----

struct ParticipantFixture {
  ParticipantFixture()
      : cfg(makeConfig(kRepl)), h(Role::Participant, [this](const Recovered& r) {
          return std::make_unique<Participant>(kP1, cfg, engine, 7, r);
        }) {}
  Output prepare(const TxnId& t) { return h.deliver(kCoord, prepareMsg(t, "pay1", kBoth, kCoord)); }
  CoreConfig cfg;
  FakeEngine engine;
  Harness<Participant> h;
};

// Ticks until the participant sends its Phase1a; returns that Output.
Output untilPhase1a(ParticipantFixture& f) {
  Output o = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; }, 1000);
  REQUIRE(countSent<Phase1a>(o) == 3);
  return o;
}

TEST_CASE("2pc-replicated participant: votes to its coordinator, as in 2PC") {
  ParticipantFixture f;
  TxnId t = txnId(1);
  Output o = f.prepare(t);
  CHECK(countSent<Phase2a>(o) == 0);
  auto v = sentTo<VoteMsg>(o, kCoord);
  REQUIRE(v.size() == 1);
  CHECK(v[0].vote == Vote::Prepared);
  CHECK(f.h.node().stateOf(t) == ParticipantState::Prepared);
}

TEST_CASE("2pc-replicated participant: asks its coordinator once, then recovers at the acceptors") {
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output q = f.h.tickUntil([](const Output& x) { return countSent<OutcomeQuery>(x) > 0; }, 1000);
  CHECK(sentTo<OutcomeQuery>(q, kCoord).size() == 1);
  CHECK(countSent<Phase1a>(q) == 0);
  // The coordinator is dead: no answer. Phase 1 on the decision instance, a ballot of ours.
  Output p1 = untilPhase1a(f);
  Ballot b = sent<Phase1a>(p1)[0].msg.ballot;
  CHECK(b.leader == kP1);
  CHECK(sent<Phase1a>(p1)[0].msg.participants == kBoth);
  // One of F+1 promises reports the coordinator's Commit: it is proposed again.
  f.h.deliver(kA1, promise(t, kA1, b, kBoth, {noVote(kDecisionInstance)}));
  Output a = f.h.deliver(
      kA3, promise(t, kA3, b, kBoth, {voted(kDecisionInstance, Ballot::zero(), Vote::Prepared)}));
  REQUIRE(countSent<Phase2a>(a) == 3);
  CHECK(sent<Phase2a>(a)[0].msg.votes ==
        std::vector<InstanceVote>{iv(kDecisionInstance, b, Vote::Prepared)});
  f.h.deliver(kA1, phase2b(t, kA1, {iv(kDecisionInstance, b, Vote::Prepared)}, kBoth));
  Output d = f.h.deliver(kA3, phase2b(t, kA3, {iv(kDecisionInstance, b, Vote::Prepared)}, kBoth));
  CHECK(f.h.node().stateOf(t) == ParticipantState::Committed);
  CHECK(sentTo<OutcomeMsg>(d, kP2).size() == 1);  // tells the other participant
}

TEST_CASE("2pc-replicated participant: a free decision instance recovers to Abort") {
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output p1 = untilPhase1a(f);
  Ballot b = sent<Phase1a>(p1)[0].msg.ballot;
  f.h.deliver(kA1, promise(t, kA1, b, kBoth, {noVote(kDecisionInstance)}));
  Output a = f.h.deliver(kA2, promise(t, kA2, b, kBoth, {noVote(kDecisionInstance)}));
  REQUIRE(countSent<Phase2a>(a) == 3);
  CHECK(sent<Phase2a>(a)[0].msg.votes ==
        std::vector<InstanceVote>{iv(kDecisionInstance, b, Vote::Aborted)});
  f.h.deliver(kA1, phase2b(t, kA1, {iv(kDecisionInstance, b, Vote::Aborted)}, kBoth));
  f.h.deliver(kA2, phase2b(t, kA2, {iv(kDecisionInstance, b, Vote::Aborted)}, kBoth));
  CHECK(f.h.node().stateOf(t) == ParticipantState::Aborted);
}

TEST_CASE("2pc-replicated participant: an Unknown answer starts recovery at once") {
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Unknown});
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  // The coordinator's answer, when it has one, settles it without the acceptors.
  ParticipantFixture g;
  g.prepare(t);
  g.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Committed});
  CHECK(g.h.node().stateOf(t) == ParticipantState::Committed);
}

TEST_CASE("2pc-replicated participant: another coordinator's outcome is refused") {
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord2, OutcomeMsg{t, Outcome::Abort});
  CHECK(o.empty());
  CHECK(f.h.node().rejected() == 1);
  CHECK(f.h.node().stateOf(t) == ParticipantState::Prepared);
  // A participant of the transaction leading its recovery is believed.
  f.h.deliver(kP2, OutcomeMsg{t, Outcome::Abort});
  CHECK(f.h.node().stateOf(t) == ParticipantState::Aborted);
}

}  // namespace
}  // namespace pc
