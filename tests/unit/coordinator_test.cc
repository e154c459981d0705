// Unit tests of both coordinators (paxos_coordinator.h, two_pc_coordinator.h): the PaxosCoordinator
// hosting a Leader, and the 2PC coordinator with its durable Commit decision and presumed abort.
#include "paxos_commit/paxos_coordinator.h"
#include "paxos_commit/two_pc_coordinator.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
const std::set<NodeId> kAllAcceptors = {kA1, kA2, kA3};
constexpr NodeId kAsker = 77;

CommitRequest req(const TxnId& t) { return request(t, {{kP1, "p1"}, {kP2, "p2"}}); }

// ---- validateRequest ----

TEST_CASE("validateRequest accepts a well-formed request and names each problem") {
  // Bad input from outside is refused with a clear message before it reaches a leader.
  CHECK(validateRequest(req(txnId(1))).empty());
  CHECK(validateRequest(request(txnId(1), {{kP1, ""}})).empty());
  CHECK_FALSE(validateRequest(req(TxnId{})).empty());                                 // zero id
  CHECK_FALSE(validateRequest(request(txnId(1), {})).empty());                        // no payload
  CHECK_FALSE(validateRequest(request(txnId(1), {{kP2, "a"}, {kP1, "b"}})).empty());  // order
  CHECK_FALSE(validateRequest(request(txnId(1), {{kP1, "a"}, {kP1, "b"}})).empty());  // dup
  CHECK_FALSE(validateRequest(request(txnId(1), {{kNoNode, "a"}})).empty());          // node 0
}

// ---- PaxosCoordinator ----

struct PaxosCoordFixture {
  explicit PaxosCoordFixture(Protocol p = Protocol::Paxos, Recovered initial = {})
      : cfg(makeConfig(p)),
        h(
            Role::Leader,
            [this](const Recovered& r) {
              return std::make_unique<PaxosCoordinator>(kCoord, cfg, 5, r);
            },
            std::move(initial)) {}
  Output b2(const TxnId& t, NodeId acceptor, std::vector<InstanceVote> votes) {
    return h.deliver(acceptor, phase2b(t, acceptor, std::move(votes), kBoth));
  }
  CoreConfig cfg;
  Harness<PaxosCoordinator> h;
};

std::vector<InstanceVote> allPrepared0() {
  return {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)};
}

Ballot ballotOf1a(const Output& o) {
  auto as = sent<Phase1a>(o);
  REQUIRE_FALSE(as.empty());
  return as[0].msg.ballot;
}

TEST_CASE("paxos coordinator: a CommitRequest starts ballot 0 and the client gets the outcome") {
  // The coordinator is the initial leader in `paxos` and `paxos-classic`.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kClient, req(t));
  CHECK(destinations<Prepare>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<Prepare>(o)) CHECK(s.msg.leader == kCoord);
  CHECK(o.persist.empty());
  f.b2(t, kA1, allPrepared0());
  Output d = f.b2(t, kA2, allPrepared0());
  auto replies = sentTo<CommitReply>(d, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
}

TEST_CASE("paxos-classic coordinator: phase 3 goes to every participant") {
  // Classic participants learn only from the leader.
  PaxosCoordFixture f(Protocol::PaxosClassic);
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.b2(t, kA1, allPrepared0());
  Output d = f.b2(t, kA3, allPrepared0());
  CHECK(destinations<OutcomeMsg>(d) == std::set<NodeId>{kP1, kP2});
  CHECK(sentTo<CommitReply>(d, kClient).size() == 1);
}

TEST_CASE("paxos-direct coordinator: a CommitRequest from a client that cannot lead is served") {
  // In paxos-direct clients normally lead ballot 0 themselves; a client that sends its
  // request to a coordinator anyway is served (paxos_coordinator.h), not left without an answer.
  PaxosCoordFixture f(Protocol::PaxosDirect);
  Output o = f.h.deliver(kClient, req(txnId(1)));
  CHECK(countSent<Prepare>(o) == 2);
}

TEST_CASE("paxos coordinator: an invalid CommitRequest is rejected and counted") {
  // Garbage from a client must never start a transaction (docs/STYLE.md: reject, count).
  PaxosCoordFixture f;
  uint64_t before = f.h.node().rejected();
  Output o = f.h.deliver(kClient, request(txnId(1), {{kP2, "a"}, {kP1, "b"}}));
  CHECK(countSent<Prepare>(o) == 0);
  CHECK(f.h.node().rejected() == before + 1);
  CHECK(o.persist.empty());
}

TEST_CASE("paxos coordinator: a reused txn id with different contents is refused") {
  // §2: a txn id is bound to one participant list and payload set.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  uint64_t before = f.h.node().rejected();
  Output o = f.h.deliver(kClient, request(t, {{kP1, "p1"}, {kP2, "DIFFERENT"}}));
  CHECK(countSent<Prepare>(o) == 0);
  CHECK(f.h.node().rejected() == before + 1);
  // A retry with the same contents is safe, and the client is still answered.
  Output retry = f.h.deliver(kClient, req(t));
  CHECK(f.h.node().rejected() == before + 1);
  for (const auto& s : sent<Prepare>(retry)) CHECK(s.msg.payload != "DIFFERENT");
  f.b2(t, kA1, allPrepared0());
  Output d = f.b2(t, kA2, allPrepared0());
  CHECK_FALSE(sentTo<CommitReply>(d, kClient).empty());
}

TEST_CASE("pitfall 6: an OutcomeQuery for an unknown txn starts phase 1, never guesses Aborted") {
  // In Paxos Commit the coordinator keeps no decisions: "unknown" may well be committed.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kAsker, OutcomeQuery{t, kBoth});
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  Ballot b = ballotOf1a(o);
  CHECK(b.round >= 1);
  CHECK(b.leader == kCoord);
  for (const auto& s : sent<Phase1a>(o)) CHECK(s.msg.participants == kBoth);
  for (const auto& s : sent<OutcomeReply>(o)) CHECK(s.msg.status != TxnStatus::Aborted);
  CHECK(countSent<OutcomeReply>(o) == 0);
}

TEST_CASE("pitfall 6: a query recovers a Prepared txn as Committed") {
  // The coordinator that never saw the txn must find the chosen Prepared votes.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Ballot b = ballotOf1a(f.h.deliver(kAsker, OutcomeQuery{t, kBoth}));
  std::vector<InstanceReport> reps = {voted(kP1, Ballot::zero(), Vote::Prepared),
                                      voted(kP2, Ballot::zero(), Vote::Prepared)};
  f.h.deliver(kA1, promise(t, kA1, b, kBoth, reps));
  Output p2 = f.h.deliver(kA2, promise(t, kA2, b, kBoth, reps));
  REQUIRE(countSent<Phase2a>(p2) == 3);
  for (const auto& s : sent<Phase2a>(p2)) {
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)});
  }
  CHECK_FALSE(records<LeaderRoundRecord>(p2).empty());
  std::vector<InstanceVote> votes = {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)};
  f.b2(t, kA1, votes);
  Output d = f.b2(t, kA2, votes);
  auto replies = sentTo<OutcomeReply>(d, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(destinations<OutcomeMsg>(d) == std::set<NodeId>{kP1, kP2});
}

TEST_CASE("pitfall 6: a query for a collected txn answers Forgotten") {
  // After GC the honest answer is "forgotten", not a guessed "aborted" (docs/DESIGN.md §3).
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Ballot b = ballotOf1a(f.h.deliver(kAsker, OutcomeQuery{t, kBoth}));
  Phase1b gone;
  gone.txn = t;
  gone.ballot = b;
  gone.forgotten = true;
  Output o;
  for (NodeId a : {kA1, kA2}) {
    gone.acceptor = a;
    o.append(f.h.deliver(a, gone));
  }
  auto replies = sentTo<OutcomeReply>(o, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Forgotten);
}

TEST_CASE("paxos coordinator: a query for a decided txn is answered from memory") {
  // No need for phase 1 when the outcome is known.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.b2(t, kA1, allPrepared0());
  f.b2(t, kA2, allPrepared0());
  Output o = f.h.deliver(kAsker, OutcomeQuery{t, kBoth});
  auto replies = sentTo<OutcomeReply>(o, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(countSent<Phase1a>(o) == 0);
}

TEST_CASE("paxos coordinator: a query for an active txn waits for its outcome") {
  // The asker must be told the real outcome, not a guess, once it is known.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  Output q = f.h.deliver(kAsker, OutcomeQuery{t, kBoth});
  for (const auto& s : sent<OutcomeReply>(q)) CHECK(s.msg.status != TxnStatus::Aborted);
  f.b2(t, kA1, allPrepared0());
  Output d = f.b2(t, kA2, allPrepared0());
  bool told = false;
  for (const auto& r : sentTo<OutcomeReply>(q, kAsker)) told |= r.status == TxnStatus::Committed;
  for (const auto& r : sentTo<OutcomeReply>(d, kAsker)) told |= r.status == TxnStatus::Committed;
  CHECK(told);
}

TEST_CASE("paxos coordinator: a restart resumes above the persisted round") {
  // The round must survive restarts or ballots are reused.
  Recovered img;
  img.leaderRound = 9;
  PaxosCoordFixture f(Protocol::Paxos, img);
  Ballot b = ballotOf1a(f.h.deliver(kAsker, OutcomeQuery{txnId(1), kBoth}));
  CHECK(b.round > 9);
}

TEST_CASE("paxos coordinator: persists nothing but leader rounds") {
  // Paxos Commit's coordinator keeps no durable decision: any other can replace it.
  PaxosCoordFixture f;
  TxnId t = txnId(1);
  Output all = f.h.deliver(kClient, req(t));
  all.append(f.h.ticks(f.cfg.leaderTimeoutTicks + f.cfg.ballotRetryTicks));
  for (const auto& r : all.persist) CHECK(std::holds_alternative<LeaderRoundRecord>(r));
}

// ---- TwoPcCoordinator ----

struct TwoPcFixture {
  explicit TwoPcFixture(Recovered initial = {})
      : cfg(makeConfig(Protocol::TwoPC)),
        h(
            Role::TwoPcCoordinator,
            [this](const Recovered& r) {
              return std::make_unique<TwoPcCoordinator>(kCoord, cfg, r);
            },
            std::move(initial)) {}
  Output vote(const TxnId& t, NodeId p, Vote v, std::string reason = "") {
    return h.deliver(p, VoteMsg{t, p, v, std::move(reason)});
  }
  CoreConfig cfg;
  Harness<TwoPcCoordinator> h;
};

TEST_CASE("2pc: a CommitRequest sends Prepare to every participant, persisting nothing") {
  // Presumed abort: nothing is durable before the decision.
  TwoPcFixture f;
  TxnId t = txnId(1);
  Output o = f.h.deliver(kClient, req(t));
  CHECK(o.persist.empty());
  auto p1 = sentTo<Prepare>(o, kP1);
  auto p2 = sentTo<Prepare>(o, kP2);
  REQUIRE(p1.size() == 1);
  REQUIRE(p2.size() == 1);
  CHECK(p1[0] == Prepare{t, "p1", kBoth, kCoord});
  CHECK(p2[0] == Prepare{t, "p2", kBoth, kCoord});
  CHECK(f.h.node().activeCount() == 1);
}

TEST_CASE("2pc: all Prepared -> durable Commit decision, then Commit and the client reply") {
  // §3: the Commit decision is durable before Commit leaves, in the same Output.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  Output o1 = f.vote(t, kP1, Vote::Prepared);
  CHECK(o1.persist.empty());
  CHECK(o1.send.empty());
  Output o2 = f.vote(t, kP2, Vote::Prepared);
  auto recs = records<DecisionRecord>(o2);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0] == DecisionRecord{t, kBoth, false});
  CHECK(destinations<OutcomeMsg>(o2) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o2)) CHECK(s.msg == OutcomeMsg{t, Outcome::Commit});
  auto replies = sentTo<CommitReply>(o2, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(learnedOutcome(o2, t, Outcome::Commit));
  CHECK(f.h.node().statusOf(t) == TxnStatus::Committed);
}

TEST_CASE("2pc: an Aborted vote aborts at once with no record (presumed abort)") {
  // Presumed abort: Abort is never persisted; the client hears the participant's reason.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  Output o = f.vote(t, kP2, Vote::Aborted, "conflict: key 'k'");
  CHECK(o.persist.empty());
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg.outcome == Outcome::Abort);
  auto replies = sentTo<CommitReply>(o, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Aborted);
  CHECK(replies[0].reason.find("conflict") != std::string::npos);
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  // A Prepared vote arriving late changes nothing.
  Output late = f.vote(t, kP1, Vote::Prepared);
  CHECK(records<DecisionRecord>(late).empty());
  for (const auto& s : sent<OutcomeMsg>(late)) CHECK(s.msg.outcome == Outcome::Abort);
  // A client retrying the finished txn hears Aborted again, with a reason that says why
  // it has no other (the chaos suite saw empty reasons here).
  Output again = f.h.deliver(kClient, req(t));
  auto retried = sentTo<CommitReply>(again, kClient);
  REQUIRE(retried.size() == 1);
  CHECK(retried[0].status == TxnStatus::Aborted);
  CHECK(retried[0].reason.find("decided earlier") != std::string::npos);
}

TEST_CASE("2pc: no decision within leaderTimeoutTicks aborts") {
  // A 2PC coordinator may abort while it has not decided (participants still wait).
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  Output early = f.h.ticks(f.cfg.leaderTimeoutTicks - 1);
  CHECK(countSent<CommitReply>(early) == 0);
  CHECK(countSent<OutcomeMsg>(early) == 0);
  Output o = f.h.tick();
  CHECK(o.persist.empty());
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg.outcome == Outcome::Abort);
  auto replies = sentTo<CommitReply>(o, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Aborted);
}

TEST_CASE("2pc: a query for an unknown txn is Aborted, below the low-water mark Forgotten") {
  // Presumed abort answers a participant's query for an unknown txn as Aborted; below the
  // mark a Commit may have been collected, so the honest answer is Forgotten.
  Recovered img;
  img.decisionLowWater = txnId(10);
  TwoPcFixture f(img);
  Output o = f.h.deliver(kP1, OutcomeQuery{txnId(20), {kP1, kP2}});
  auto r = sentTo<OutcomeReply>(o, kP1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Aborted);
  Output old = f.h.deliver(kP1, OutcomeQuery{txnId(5), {kP1, kP2}});
  auto r2 = sentTo<OutcomeReply>(old, kP1);
  REQUIRE(r2.size() == 1);
  CHECK(r2[0].status == TxnStatus::Forgotten);
}

TEST_CASE("2pc: a late Prepared vote below the low-water mark is not presumed aborted") {
  // Below the mark a done Commit decision may have been collected: answering the late
  // duplicate vote with Abort (or remembering it as aborted) contradicts that Commit.
  Recovered img;
  img.decisionLowWater = txnId(10);
  TwoPcFixture f(img);
  Output o = f.vote(txnId(5), kP1, Vote::Prepared);
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg.outcome != Outcome::Abort);
  CHECK(f.h.node().statusOf(txnId(5)) != TxnStatus::Aborted);
  auto r = sentTo<OutcomeReply>(f.h.deliver(kP1, OutcomeQuery{txnId(5), {}}), kP1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Forgotten);
}

TEST_CASE("2pc: a query for a decided txn answers Committed, before and after done") {
  // A done decision is kept as a tombstone so a late query is not presumed aborted.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  auto r = sentTo<OutcomeReply>(f.h.deliver(kP1, OutcomeQuery{t, {}}), kP1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Committed);
  f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit});
  auto r2 = sentTo<OutcomeReply>(f.h.deliver(kP2, OutcomeQuery{t, {}}), kP2);
  REQUIRE(r2.size() == 1);
  CHECK(r2[0].status == TxnStatus::Committed);
}

TEST_CASE("2pc: after every ack the decision is rewritten done") {
  // Done decisions can be collected; undone ones must be resent after a restart.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  Output a1 = f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  CHECK(records<DecisionRecord>(a1).empty());
  Output a2 = f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit});
  auto recs = records<DecisionRecord>(a2);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].txn == t);
  CHECK(recs[0].done);
  CHECK(recs[0].participants.empty());
}

TEST_CASE("2pc: Commit is resent to participants that have not acked") {
  // A lost Commit would leave a participant prepared (and its locks held) forever.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  Output o = f.h.ticks(f.cfg.ackRequestTicks + f.cfg.prepareRetryTicks);
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg == OutcomeMsg{t, Outcome::Commit});
}

TEST_CASE("2pc: a restart with an undone decision resends Commit") {
  // §5: a restarted 2PC coordinator reloads its decisions; its participants are waiting.
  Recovered img;
  img.decisions.push_back(DecisionRecord{txnId(1), kBoth, false});
  TwoPcFixture f(img);
  CHECK(f.h.node().statusOf(txnId(1)) == TxnStatus::Committed);
  Output o = f.h.ticks(f.cfg.ackRequestTicks + f.cfg.prepareRetryTicks);
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg == OutcomeMsg{txnId(1), Outcome::Commit});
  f.h.deliver(kP1, Ack{txnId(1), kP1, Outcome::Commit});
  Output a = f.h.deliver(kP2, Ack{txnId(1), kP2, Outcome::Commit});
  auto recs = records<DecisionRecord>(a);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].done);
}

TEST_CASE("2pc: a restart with a done decision answers Committed and resends nothing") {
  // A done decision is only a tombstone for queries.
  Recovered img;
  img.decisions.push_back(DecisionRecord{txnId(1), {}, true});
  TwoPcFixture f(img);
  Output o = f.h.ticks(f.cfg.ackRequestTicks + f.cfg.prepareRetryTicks);
  CHECK(countSent<OutcomeMsg>(o) == 0);
  auto r = sentTo<OutcomeReply>(f.h.deliver(kP1, OutcomeQuery{txnId(1), {}}), kP1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Committed);
}

TEST_CASE("2pc: a txn undecided at a crash is presumed aborted after restart") {
  // §5: a prepared transaction the coordinator has no decision for is aborted.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.h.restart();
  CHECK(f.h.node().activeCount() == 0);
  auto r = sentTo<OutcomeReply>(f.h.deliver(kP1, OutcomeQuery{t, {kP1, kP2}}), kP1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Aborted);
}

TEST_CASE("2pc: a coordinator told another one owns the txn steps back without deciding") {
  // Participants prepared under c1 answer c2's prepare with a vote naming c1; c2 must not
  // time out into an Abort it cannot decide (e2e: a client was told "aborted" while c1
  // had made Commit durable). Later votes for it are ignored, not presumed aborted.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  VoteMsg owned{t, kP1, Vote::Prepared, "prepared under coordinator 51", kCoord2};
  Output o = f.h.deliver(kP1, owned);
  auto replies = sentTo<CommitReply>(o, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Unknown);
  CHECK(countSent<OutcomeMsg>(o) == 0);
  CHECK(o.persist.empty());
  CHECK(o.learned.empty());
  owned.participant = kP2;
  Output late = f.h.deliver(kP2, owned);
  CHECK(countSent<OutcomeMsg>(late) == 0);
  CHECK_FALSE(f.h.node().statusOf(t).has_value());
}

TEST_CASE("2pc: a client's query for a txn this coordinator does not know is Unknown") {
  // Presumed abort holds only at the transaction's own coordinator; a client may ask
  // another one, which must not answer Aborted for a transaction its peer committed.
  TwoPcFixture f;
  auto r = sentTo<OutcomeReply>(f.h.deliver(kClient, OutcomeQuery{txnId(3), {}}), kClient);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Unknown);
}

TEST_CASE("2pc: a crash after the decision keeps Commit") {
  // The whole point of the durable decision: it survives the coordinator.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  f.h.restart();
  auto r = sentTo<OutcomeReply>(f.h.deliver(kP2, OutcomeQuery{t, {}}), kP2);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == TxnStatus::Committed);
}

TEST_CASE("pitfall 5: a duplicate Prepared vote after Commit decides nothing new") {
  // Idempotent handlers: a duplicate vote must not produce a second, different decision.
  TwoPcFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  f.vote(t, kP1, Vote::Prepared);
  f.vote(t, kP2, Vote::Prepared);
  Output dup = f.vote(t, kP2, Vote::Prepared);
  for (const auto& r : records<DecisionRecord>(dup)) CHECK(r.txn == t);
  for (const auto& s : sent<OutcomeMsg>(dup)) CHECK(s.msg.outcome == Outcome::Commit);
  CHECK(countSent<CommitReply>(dup) <= 1);
  for (const auto& s : sent<CommitReply>(dup)) CHECK(s.msg.status == TxnStatus::Committed);
}

TEST_CASE("2pc: an invalid or reused-id CommitRequest is rejected") {
  // Bad input is refused and counted; an id is bound to one payload set.
  TwoPcFixture f;
  uint64_t before = f.h.node().rejected();
  Output bad = f.h.deliver(kClient, request(txnId(2), {}));
  CHECK(countSent<Prepare>(bad) == 0);
  CHECK(f.h.node().rejected() == before + 1);
  TxnId t = txnId(1);
  f.h.deliver(kClient, req(t));
  Output reuse = f.h.deliver(kClient, request(t, {{kP1, "p1"}, {kP2, "DIFFERENT"}}));
  CHECK(countSent<Prepare>(reuse) == 0);
  CHECK(f.h.node().rejected() == before + 2);
}

}  // namespace
}  // namespace pc
