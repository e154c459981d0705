// Unit tests of the Participant (participant.h): its ballot-0 vote, what it learns from
// 2b and outcomes, its recovery, restarts and duplicates (docs/PROTOCOL.md §3-§6).
#include "paxos_commit/participant.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
const std::set<NodeId> kAllAcceptors = {kA1, kA2, kA3};

struct ParticipantFixture {
  explicit ParticipantFixture(Protocol p = Protocol::Paxos, FanOut fanOut = FanOut::All,
                              Recovered initial = {})
      : cfg(makeConfig(p, fanOut)),
        h(
            Role::Participant,
            [this](const Recovered& r) {
              return std::make_unique<Participant>(kP1, cfg, engine, 7, r);
            },
            std::move(initial)) {}

  Output prepare(const TxnId& t, const Bytes& payload = "pay1") {
    return h.deliver(kCoord, prepareMsg(t, payload, kBoth, kCoord));
  }
  // One acceptor's bundled 2b at ballot 0.
  Output b2(const TxnId& t, NodeId acceptor, std::vector<InstanceVote> votes) {
    return h.deliver(acceptor, phase2b(t, acceptor, std::move(votes), kBoth));
  }
  std::optional<ParticipantState> state(const TxnId& t) const { return h.node().stateOf(t); }
  // Paxos GC acks wait up to Participant::kAckDelayTicks for a vote to ride with: tick
  // until they are due, and return everything sent meanwhile.
  Output ackTicks() {
    Output o;
    for (uint64_t k = 0; k < Participant::kAckDelayTicks; ++k) o.append(h.tick());
    return o;
  }

  CoreConfig cfg;
  FakeEngine engine;
  Harness<Participant> h;
};

bool hasRecord(const Output& o, const TxnId& t, ParticipantState s) {
  for (const auto& r : records<ParticipantTxnRecord>(o)) {
    if (r.txn == t && r.state == s) return true;
  }
  return false;
}

// Paxos Commit's GC acks, each entry of every AckBatch `o` sent, with its destination
// (they leave batched, on the tick after the outcome: docs/PROTOCOL.md §4).
std::vector<Sent<Ack>> batchedAcks(const Output& o) {
  std::vector<Sent<Ack>> out;
  for (const auto& s : sent<AckBatch>(o)) {
    for (const auto& a : s.msg.acks) out.push_back(Sent<Ack>{s.from, s.to, a});
  }
  return out;
}
std::set<NodeId> ackDestinations(const Output& o) {
  std::set<NodeId> out;
  for (const auto& s : batchedAcks(o)) out.insert(s.to);
  return out;
}

std::vector<Phase1a> phase1as(const Output& o) {
  std::vector<Phase1a> out;
  for (const auto& s : sent<Phase1a>(o)) out.push_back(s.msg);
  return out;
}

TEST_CASE("paxos: Prepare persists Prepared and sends the ballot-0 vote in the same Output") {
  // Durable before send (§3): a 2a(0, Prepared) sent before the prepared record is durable
  // could be chosen while a restart forgets the locks.
  ParticipantFixture f;
  TxnId t = txnId(1);
  Output o = f.prepare(t);
  CHECK(f.engine.count("prepare", t) == 1);
  auto recs = records<ParticipantTxnRecord>(o);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].txn == t);
  CHECK(recs[0].state == ParticipantState::Prepared);
  CHECK(recs[0].payload == "pay1");
  CHECK(recs[0].participants == kBoth);
  CHECK(recs[0].leader == kCoord);
  CHECK(destinations<Phase2a>(o) == kAllAcceptors);
  CHECK(countSent<Phase2a>(o) == 3);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(s.from == kP1);
    CHECK(s.msg.txn == t);
    CHECK(s.msg.participants == kBoth);
    CHECK(s.msg.leader == kCoord);
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Prepared)});
  }
  CHECK(countSent<VoteMsg>(o) == 0);
  CHECK(o.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("paxos: an engine's Aborted vote is persisted, sent, and settles Abort at once") {
  // A participant's own ballot-0 Aborted decides the transaction (§4); holding locks or
  // waiting for a quorum only delays everyone.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.engine.voteAborted(t, "conflict: key 'x'");
  Output o = f.prepare(t);
  auto recs = records<ParticipantTxnRecord>(o);
  REQUIRE_FALSE(recs.empty());
  CHECK(recs[0].state == ParticipantState::VotedAborted);
  CHECK(recs[0].reason == "conflict: key 'x'");
  CHECK(destinations<Phase2a>(o) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Aborted)});
    CHECK(s.msg.reason == "conflict: key 'x'");
  }
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(f.engine.count("abort", t) == 1);
  CHECK(f.engine.count("commit", t) == 0);
  auto st = f.state(t);
  CHECK((st == ParticipantState::VotedAborted || st == ParticipantState::Aborted));
}

TEST_CASE("quorum fan-out: the vote goes to F+1 acceptors, the rest after fanOutFallbackTicks") {
  // The paper's minimum fan-out; without the fallback one slow acceptor of the F+1 stalls
  // the transaction forever. (Which F+1 is the participant's choice: it may spread load.)
  ParticipantFixture f(Protocol::Paxos, FanOut::Quorum);
  TxnId t = txnId(1);
  Output o = f.prepare(t);
  std::set<NodeId> first = destinations<Phase2a>(o);
  CHECK(first.size() == f.cfg.quorum());
  CHECK(countSent<Phase2a>(o) == f.cfg.quorum());
  std::set<NodeId> rest;
  for (NodeId a : kAllAcceptors) {
    if (first.count(a) == 0) rest.insert(a);
  }
  REQUIRE(rest.size() == 1);
  NodeId other = *rest.begin();
  Output early = f.h.ticks(f.cfg.fanOutFallbackTicks - 1);
  CHECK(sentTo<Phase2a>(early, other).empty());
  Output late = f.h.tick();
  auto msgs = sentTo<Phase2a>(late, other);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].votes == std::vector<InstanceVote>{iv0(kP1, Vote::Prepared)});
}

TEST_CASE(
    "quorum fan-out: one clock window's transactions vote to the same F+1, the next moves on") {
  // Transactions in flight together must wait on the same acceptors: with an F+1 picked per
  // transaction they were decided at different times and their writes stopped grouping
  // (fan-out quorum flat at ~660 txn/s from two clients on, README Performance).
  ParticipantFixture f(Protocol::Paxos, FanOut::Quorum);
  const uint64_t window = uint64_t{1} << f.cfg.fanOutWindowShift;
  const uint64_t start = 1'764'900'000'000'000ULL / window * window;  // a client's clock, us
  std::set<NodeId> first;
  for (uint64_t k = 0; k < 12; ++k) {
    // Ids as clients make them: the clock in hi (here all in one window), random bits in lo.
    TxnId t{start + k * (window / 16), (0x9e3779b97f4a7c15ULL * (k + 1)) | 1};
    std::set<NodeId> to = destinations<Phase2a>(f.prepare(t, "pay" + std::to_string(k)));
    CHECK(to.size() == f.cfg.quorum());
    if (k == 0) first = to;
    CHECK(to == first);
  }
  // The next window: another F+1, so that over time every acceptor takes its share.
  TxnId later{start + window, 5};
  std::set<NodeId> to = destinations<Phase2a>(f.prepare(later, "pay-later"));
  CHECK(to.size() == f.cfg.quorum());
  CHECK(to != first);
}

TEST_CASE("2pc: Prepare persists Prepared and sends the vote to the prepare's leader") {
  // 2PC: the vote goes to the coordinator that asked, and only after the record.
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  Output o = f.prepare(t);
  CHECK(hasRecord(o, t, ParticipantState::Prepared));
  auto votes = sentTo<VoteMsg>(o, kCoord);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].txn == t);
  CHECK(votes[0].participant == kP1);
  CHECK(votes[0].vote == Vote::Prepared);
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(o.send.size() == 1);
}

TEST_CASE("2pc: an engine's Aborted vote goes to the coordinator with its reason") {
  // The client is told why its transaction aborted.
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  f.engine.voteAborted(t, "expect failed: key 'k'");
  Output o = f.prepare(t);
  auto votes = sentTo<VoteMsg>(o, kCoord);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].vote == Vote::Aborted);
  CHECK(votes[0].reason == "expect failed: key 'k'");
  CHECK(learnedOutcome(o, t, Outcome::Abort));
}

TEST_CASE("faster paxos: Commit needs F+1 matching 2b for every instance") {
  // §4: commit iff every instance is chosen Prepared; then the outcome is durable before
  // the ack, and the ack goes to every acceptor for GC.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o1 = f.b2(t, kA1, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)});
  CHECK(o1.learned.empty());
  Output o2 = f.b2(t, kA2, {iv0(kP1, Vote::Prepared)});
  CHECK(o2.learned.empty());  // instance 2 has one acceptor only
  CHECK(f.engine.count("commit", t) == 0);
  Output o3 = f.b2(t, kA2, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)});
  CHECK(learnedOutcome(o3, t, Outcome::Commit));
  CHECK(hasRecord(o3, t, ParticipantState::Committed));
  auto recs = records<ParticipantTxnRecord>(o3);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].payload == "pay1");
  CHECK(f.engine.count("commit", t) == 1);
  CHECK(f.engine.count("abort", t) == 0);
  CHECK(countSent<Ack>(o3) + countSent<AckBatch>(o3) == 0);  // acks wait for the tick
  Output acks = f.ackTicks();
  CHECK(ackDestinations(acks) == kAllAcceptors);
  for (const auto& s : batchedAcks(acks)) {
    CHECK(s.msg.txn == t);
    CHECK(s.msg.participant == kP1);
    CHECK(s.msg.outcome == Outcome::Commit);
  }
  CHECK(f.state(t) == ParticipantState::Committed);
}

TEST_CASE("faster paxos: never commit on the first Prepared seen") {
  // §4: an instance with one Prepared 2b can still be chosen Aborted by a recovery leader.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.b2(t, kA1, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)});
  o.append(f.b2(t, kA2, {iv0(kP1, Vote::Prepared)}));
  o.append(f.b2(t, kA3, {iv0(kP1, Vote::Prepared)}));
  CHECK(o.learned.empty());
  CHECK(f.engine.count("commit", t) == 0);
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("pitfall 4: a participant counts duplicate 2b from one acceptor once") {
  // A redelivered 2b must not look like a quorum.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o;
  for (int i = 0; i < 4; ++i) {
    o.append(f.b2(t, kA1, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)}));
  }
  CHECK(o.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("pitfall 4: a participant does not combine 2b of different ballots") {
  // Per (instance, ballot, value): b0 and b1 votes from two acceptors are no quorum.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.b2(t, kA1, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)});
  o.append(f.b2(t, kA2, {iv0(kP1, Vote::Prepared), iv(kP2, Ballot{1, kCoord}, Vote::Prepared)}));
  CHECK(o.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("a ballot-0 Aborted 2b from one acceptor settles Abort at the participant") {
  // §4: the other participant's own Aborted can never be outvoted.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.b2(t, kA3, {iv0(kP2, Vote::Aborted)});
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(hasRecord(o, t, ParticipantState::Aborted));
  CHECK(f.engine.count("abort", t) == 1);
  CHECK(f.engine.count("commit", t) == 0);
  Output acks = f.ackTicks();
  CHECK(ackDestinations(acks) == kAllAcceptors);
  for (const auto& s : batchedAcks(acks)) CHECK(s.msg.outcome == Outcome::Abort);
  CHECK(f.state(t) == ParticipantState::Aborted);
}

TEST_CASE("a leader's Aborted at b > 0 from one acceptor does not abort the participant") {
  // §4: only ballot 0 is the participant's own vote; at b > 0 Prepared may still win.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.b2(t, kA1, {iv(kP2, Ballot{1, kCoord}, Vote::Aborted)});
  CHECK(o.learned.empty());
  CHECK(f.engine.count("abort", t) == 0);
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("an instance chosen Aborted at b > 0 aborts the participant") {
  // §4: Abort as soon as any instance is chosen Aborted.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.b2(t, kA1, {iv(kP2, Ballot{1, kCoord}, Vote::Aborted)});
  o.append(f.b2(t, kA2, {iv(kP2, Ballot{1, kCoord}, Vote::Aborted)}));
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(f.state(t) == ParticipantState::Aborted);
}

TEST_CASE("an OutcomeMsg Commit is applied, made durable, and acked to every acceptor") {
  // Phase 3 of classic Paxos Commit and of recovery.
  ParticipantFixture f(Protocol::PaxosClassic);
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  CHECK(learnedOutcome(o, t, Outcome::Commit));
  CHECK(hasRecord(o, t, ParticipantState::Committed));
  CHECK(f.engine.count("commit", t) == 1);
  CHECK(ackDestinations(f.ackTicks()) == kAllAcceptors);
}

TEST_CASE("an OutcomeMsg Abort releases the locks and is made durable") {
  // The engine must release the locks of an aborted transaction.
  ParticipantFixture f(Protocol::PaxosClassic);
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Abort});
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(hasRecord(o, t, ParticipantState::Aborted));
  CHECK(f.engine.count("abort", t) == 1);
  CHECK(f.engine.count("commit", t) == 0);
}

TEST_CASE("pitfall 5: a second Commit is a no-op") {
  // Applying a commit twice would double-apply writes (versions bumped twice).
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  Output again = f.h.deliver(kCoord2, OutcomeMsg{t, Outcome::Commit});
  again.append(f.b2(t, kA1, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)}));
  again.append(f.b2(t, kA2, {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)}));
  CHECK(f.engine.count("commit", t) == 1);
  CHECK(again.learned.empty());
  for (const auto& r : records<ParticipantTxnRecord>(again)) {
    CHECK(r.state == ParticipantState::Committed);
  }
  CHECK(f.state(t) == ParticipantState::Committed);
}

TEST_CASE("an outcome for a transaction never prepared here does not touch the engine") {
  // Committing data that was never prepared (and locked) here would be a phantom write.
  ParticipantFixture f;
  TxnId t = txnId(9);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  CHECK(f.engine.calls.empty());
  CHECK(records<ParticipantTxnRecord>(o).empty());
  CHECK_FALSE(learnedOutcome(o, t, Outcome::Commit));
}

TEST_CASE("pitfall 1: a prepared participant never aborts on its own (paxos)") {
  // A participant that voted Prepared may be part of a chosen Commit; aborting on a
  // timeout breaks atomicity.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.ticks(10 * (f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks));
  CHECK(o.learned.empty());
  CHECK(f.engine.count("abort", t) == 0);
  CHECK_FALSE(hasRecord(o, t, ParticipantState::Aborted));
  CHECK_FALSE(hasRecord(o, t, ParticipantState::VotedAborted));
  for (const auto& s : sent<Phase2a>(o)) {
    for (const auto& v : s.msg.votes) {
      CHECK_FALSE((v.ballot.isZero() && v.vote == Vote::Aborted));
    }
  }
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("pitfall 1: a prepared participant's timeout starts recovery (phase 1a)") {
  // Its timeout must start a recovery leader, with a ballot it owns, for every instance.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output early = f.h.ticks(f.cfg.recoveryTimeoutTicks - 1);
  CHECK(countSent<Phase1a>(early) == 0);
  CHECK(early.recoveriesStarted.empty());
  uint64_t took = 0;
  Output o = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; },
                           f.cfg.recoveryJitterTicks + 1, &took);
  REQUIRE(took > 0);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  for (const auto& m : phase1as(o)) {
    CHECK(m.txn == t);
    CHECK(m.ballot.round >= 1);
    CHECK(m.ballot.leader == kP1);
    CHECK(m.participants == kBoth);
  }
  REQUIRE_FALSE(o.recoveriesStarted.empty());
  CHECK(o.recoveriesStarted[0].txn == t);
  CHECK(o.recoveriesStarted[0].ballot.leader == kP1);
  CHECK(o.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("pitfall 1: a prepared 2pc participant asks its coordinator and never aborts") {
  // 2PC blocks while its coordinator is down; a unilateral abort could contradict a
  // durable Commit decision.
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  f.prepare(t);
  Output early = f.h.ticks(f.cfg.recoveryTimeoutTicks - 1);
  CHECK(countSent<OutcomeQuery>(early) == 0);
  Output o = f.h.ticks(f.cfg.recoveryJitterTicks + 1);
  auto q = sentTo<OutcomeQuery>(o, kCoord);
  REQUIRE_FALSE(q.empty());
  CHECK(q[0].txn == t);
  Output longer = f.h.ticks(10 * (f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks));
  CHECK(countSent<Phase1a>(longer) == 0);
  CHECK(longer.learned.empty());
  CHECK(f.engine.count("abort", t) == 0);
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("pitfall 2: a participant's recovery leader proposes the Prepared it is shown") {
  // Recovery must keep a reported Prepared vote; proposing Aborted could contradict a
  // Commit already learned elsewhere. The round is durable before the 2a (§3).
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output start = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; },
                               f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks);
  auto as = phase1as(start);
  REQUIRE_FALSE(as.empty());
  Ballot b = as[0].ballot;
  f.h.deliver(kA1,
              promise(t, kA1, b, kBoth, {voted(kP1, Ballot::zero(), Vote::Prepared), noVote(kP2)}));
  Output o = f.h.deliver(
      kA2, promise(t, kA2, b, kBoth, {noVote(kP1), voted(kP2, Ballot::zero(), Vote::Prepared)}));
  CHECK_FALSE(records<LeaderRoundRecord>(o).empty());
  CHECK(destinations<Phase2a>(o) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)});
  }
  f.b2(t, kA1, {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)});
  Output done = f.b2(t, kA2, {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)});
  CHECK(learnedOutcome(done, t, Outcome::Commit));
  CHECK(hasRecord(done, t, ParticipantState::Committed));
  CHECK(f.engine.count("commit", t) == 1);
  // Recovery always tells the participants (§5 step 4).
  auto outcomes = sentTo<OutcomeMsg>(done, kP2);
  REQUIRE_FALSE(outcomes.empty());
  CHECK(outcomes[0].outcome == Outcome::Commit);
}

TEST_CASE("pitfall 9: a co-located recovery leader's decision is durable before the ack") {
  // The participant hosts its recovery leader in-process; learning from it is still a
  // message: Committed must be persisted in the Output that carries the acks.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output start = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; },
                               f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks);
  auto as = phase1as(start);
  REQUIRE_FALSE(as.empty());
  Ballot b = as[0].ballot;
  std::vector<InstanceReport> reps = {voted(kP1, Ballot::zero(), Vote::Prepared),
                                      voted(kP2, Ballot::zero(), Vote::Prepared)};
  f.h.deliver(kA1, promise(t, kA1, b, kBoth, reps));
  Output p2 = f.h.deliver(kA3, promise(t, kA3, b, kBoth, reps));
  // The round record comes before the 2a in the same Output (checked by the harness).
  auto rounds = records<LeaderRoundRecord>(p2);
  REQUIRE_FALSE(rounds.empty());
  CHECK(rounds[0].round >= b.round);
  std::vector<InstanceVote> votes = {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)};
  Output o = f.b2(t, kA1, votes);
  o.append(f.b2(t, kA3, votes));
  CHECK(hasRecord(o, t, ParticipantState::Committed));
  CHECK(ackDestinations(f.ackTicks()) == kAllAcceptors);
  CHECK(f.engine.count("commit", t) == 1);
  CHECK(sentTo<OutcomeMsg>(o, kP1).empty());  // nothing "sent" to itself
}

TEST_CASE("a participant's recovery leader proposes Aborted only where nobody voted") {
  // An instance no acceptor of a quorum voted in cannot have been chosen: Aborted is safe.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output start = f.h.tickUntil([](const Output& x) { return countSent<Phase1a>(x) > 0; },
                               f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks);
  auto as = phase1as(start);
  REQUIRE_FALSE(as.empty());
  Ballot b = as[0].ballot;
  f.h.deliver(kA1,
              promise(t, kA1, b, kBoth, {voted(kP1, Ballot::zero(), Vote::Prepared), noVote(kP2)}));
  Output o = f.h.deliver(kA3, promise(t, kA3, b, kBoth, {noVote(kP1), noVote(kP2)}));
  REQUIRE(countSent<Phase2a>(o) > 0);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  }
  f.b2(t, kA1, {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  Output done = f.b2(t, kA3, {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  CHECK(learnedOutcome(done, t, Outcome::Abort));
  CHECK(f.state(t) == ParticipantState::Aborted);
  CHECK(f.engine.count("abort", t) == 1);
}

TEST_CASE("pitfall 5: a duplicate Prepare resends the same ballot-0 vote") {
  // A lost 2a is recovered by the leader resending prepare; preparing twice could retake
  // locks or, worse, vote differently.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output dup = f.prepare(t);
  CHECK(f.engine.count("prepare", t) == 1);
  CHECK(destinations<Phase2a>(dup) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(dup)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Prepared)});
  }
}

TEST_CASE("a duplicate Prepare after an Aborted vote resends Aborted, never Prepared") {
  // §8: a participant never sends two different ballot-0 votes; two would let a leader
  // find Prepared for an instance already settled Aborted.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.engine.voteAborted(t);
  f.prepare(t);
  f.engine.answers.clear();  // the engine would now prepare it
  Output dup = f.prepare(t);
  CHECK(f.engine.count("prepare", t) == 1);
  for (const auto& s : sent<Phase2a>(dup)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Aborted)});
  }
}

TEST_CASE("restart: a prepared record retakes its locks and resends the same vote") {
  // §5: a restarted participant reloads its prepared transactions and keeps their locks;
  // a duplicate Prepare must not prepare again (§8, across restarts too).
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.h.restart();
  CHECK(f.engine.count("restore", t) == 1);
  CHECK(f.state(t) == ParticipantState::Prepared);
  auto doubt = f.h.node().inDoubt();
  REQUIRE(doubt.size() == 1);
  CHECK(doubt[0].txn == t);
  CHECK(doubt[0].participants == kBoth);
  CHECK(doubt[0].leader == kCoord);
  Output dup = f.prepare(t);
  CHECK(f.engine.count("prepare", t) == 1);
  CHECK(destinations<Phase2a>(dup) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(dup)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Prepared)});
  }
}

TEST_CASE("restart: a VotedAborted record resends Aborted and takes no locks") {
  // §8 across restarts: the engine's answer may differ now; the recorded vote stands.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.engine.voteAborted(t);
  f.prepare(t);
  f.engine.answers.clear();
  f.h.restart();
  CHECK(f.engine.count("restore", t) == 0);
  Output dup = f.prepare(t);
  CHECK(f.engine.count("prepare", t) == 1);
  for (const auto& s : sent<Phase2a>(dup)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Aborted)});
  }
}

TEST_CASE("restart: a prepared participant still starts recovery after its timeout") {
  // A restart is a long pause (§3); a reloaded prepared txn must still reach an outcome.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.h.restart();
  Output o = f.h.ticks(f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  CHECK(f.engine.count("abort", t) == 0);
}

TEST_CASE("restart: committed records do not retake locks") {
  // Retaking the locks of a finished transaction would block its keys forever.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  f.h.restart();
  CHECK(f.engine.count("restore", t) == 0);
  CHECK(f.h.node().inDoubt().empty());
  CHECK(f.state(t) == ParticipantState::Committed);
}

TEST_CASE("a Prepare whose payload differs from the recorded one is rejected") {
  // A txn id is bound to one payload (§2); preparing other data under the same id breaks
  // what the client was told.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t, "pay1");
  uint64_t before = f.h.node().rejected();
  Output o = f.prepare(t, "other");
  CHECK(f.h.node().rejected() == before + 1);
  CHECK(o.send.empty());
  CHECK(o.persist.empty());
  CHECK(f.engine.count("prepare", t) == 1);
}

TEST_CASE("a Prepare at or below the low-water mark with no record is refused") {
  // It may be a late duplicate of a finished, forgotten transaction (records.h); preparing
  // it again would vote in an instance that is already decided.
  Recovered img;
  img.participantLowWater = txnId(10);
  ParticipantFixture f(Protocol::Paxos, FanOut::All, img);
  Output o = f.prepare(txnId(5));
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(records<ParticipantTxnRecord>(o).empty());
  CHECK(f.engine.count("prepare", txnId(5)) == 0);
  Output fresh = f.prepare(txnId(11));
  CHECK(countSent<Phase2a>(fresh) == 3);
}

TEST_CASE("a participant rejoined empty answers forgotten below its mark, never Abort") {
  // Issue 12: a participant whose data directory was lost knows nothing of the
  // transactions before it came back. `serve --rejoin-empty` makes its low-water mark the
  // wall-clock id of its rejoin (storage/identity.h): an AckRequest for a transaction below
  // it gets an ack without an outcome, no Aborted pledge; a Prepare gets no vote. Were it
  // to pledge Aborted and ack Abort, the acceptors' tombstone of a committed transaction
  // would say aborted (the last acked outcome wins, acceptor.cc onAck).
  Recovered img;
  img.participantLowWater = txnId(100);  // the rejoin mark
  ParticipantFixture f(Protocol::Paxos, FanOut::All, img);
  const TxnId before = txnId(42);
  Output asked = f.h.deliver(kA2, AckRequest{before});
  auto acks = sentTo<Ack>(asked, kA2);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].txn == before);
  CHECK_FALSE(acks[0].outcome.has_value());  // "forgotten": no outcome claimed
  CHECK(asked.persist.empty());              // no VotedAborted pledge either
  CHECK_FALSE(f.state(before).has_value());
  Output late = f.prepare(before);  // a prepare begun before the rejoin: no vote at all
  CHECK(countSent<Phase2a>(late) == 0);
  CHECK(late.persist.empty());
  CHECK(f.engine.count("prepare", before) == 0);
  Output fresh = f.prepare(txnId(101));  // after the rejoin: a participant like any other
  CHECK(countSent<Phase2a>(fresh) == 3);
  CHECK(hasRecord(fresh, txnId(101), ParticipantState::Prepared));
}

TEST_CASE("2pc: a participant rejoined empty acks a decision below its mark without an outcome") {
  // The 2PC coordinator marks its Commit decision done on every ack; the rejoined
  // participant claims no outcome it cannot know.
  Recovered img;
  img.participantLowWater = txnId(100);
  ParticipantFixture f(Protocol::TwoPC, FanOut::All, img);
  Output asked = f.h.deliver(kCoord, AckRequest{txnId(42)});
  auto acks = sentTo<Ack>(asked, kCoord);
  REQUIRE(acks.size() == 1);
  CHECK_FALSE(acks[0].outcome.has_value());
  CHECK(asked.persist.empty());
}

TEST_CASE("without a rejoin mark, an empty participant pledges Aborted for an unknown id") {
  // Why a wiped participant must not start as a fresh one (the test above shows the fix):
  // to it a committed transaction it lost is merely unknown, and it acks Abort.
  ParticipantFixture f;
  Output asked = f.h.deliver(kA2, AckRequest{txnId(42)});
  auto acks = sentTo<Ack>(asked, kA2);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].outcome == Outcome::Abort);
  CHECK(hasRecord(asked, txnId(42), ParticipantState::VotedAborted));
}

TEST_CASE("an AckRequest is answered only once the outcome is durable") {
  // An ack for a still-prepared txn lets acceptors collect votes it may still need.
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output early = f.h.deliver(kA2, AckRequest{t});
  CHECK(countSent<Ack>(early) == 0);
  f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  Output late = f.h.deliver(kA2, AckRequest{t});
  auto acks = sentTo<Ack>(late, kA2);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].outcome == Outcome::Commit);
  CHECK(acks[0].participant == kP1);
}

TEST_CASE("paxos: the acks of every outcome learned in one tick leave as one AckBatch each") {
  // GC acks batched (docs/PROTOCOL.md §4): one message per acceptor per tick, not one per
  // transaction and acceptor; each entry acks what that transaction's record made durable.
  ParticipantFixture f(Protocol::PaxosClassic);
  for (uint64_t n = 1; n <= 3; ++n) f.prepare(txnId(n));
  Output learned;
  for (uint64_t n = 1; n <= 3; ++n) {
    learned.append(
        f.h.deliver(kCoord, OutcomeMsg{txnId(n), n == 2 ? Outcome::Abort : Outcome::Commit}));
  }
  CHECK(countSent<Ack>(learned) + countSent<AckBatch>(learned) == 0);
  CHECK(learned.wakeAtTick != 0);  // a tick-on-demand driver must come back for them
  Output tick = f.ackTicks();
  CHECK(countSent<Ack>(tick) == 0);
  CHECK(countSent<AckBatch>(tick) == 3);
  CHECK(destinations<AckBatch>(tick) == kAllAcceptors);
  for (NodeId a : kAllAcceptors) {
    auto batches = sentTo<AckBatch>(tick, a);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].acks == std::vector<Ack>{{txnId(1), kP1, Outcome::Commit},
                                              {txnId(2), kP1, Outcome::Abort},
                                              {txnId(3), kP1, Outcome::Commit}});
  }
  CHECK(countSent<AckBatch>(f.h.tick()) == 0);  // sent once; AckRequest asks for lost ones
}

TEST_CASE("paxos: a full AckBatch leaves at once, without waiting for the tick") {
  // The queue is bounded by kMaxAcksPerBatch even if ticks stall and no vote goes out.
  ParticipantFixture f;
  for (uint64_t n = 1; n <= kMaxAcksPerBatch + 1; ++n) f.prepare(txnId(n));
  Output o;
  for (uint64_t n = 1; n <= kMaxAcksPerBatch + 1; ++n) {
    o.append(f.b2(txnId(n), kA1, {iv0(kP2, Vote::Aborted)}));
  }
  auto full = sentTo<AckBatch>(o, kA2);
  REQUIRE(full.size() == 1);
  CHECK(full[0].acks.size() == kMaxAcksPerBatch);
  CHECK(full[0].acks.front().txn == txnId(1));
  auto rest = sentTo<AckBatch>(f.ackTicks(), kA2);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].acks == std::vector<Ack>{{txnId(kMaxAcksPerBatch + 1), kP1, Outcome::Abort}});
}

TEST_CASE("paxos: queued acks ride with the next ballot-0 vote, in its Output, after it") {
  // One client's transactions in turn: the acks of one leave with the next one's votes
  // (one call per acceptor, and the acceptor's forget record joins the vote's write)
  // instead of on a tick of their own; the Output's pipeline keeps them after the
  // prepared record like every send of that Output.
  ParticipantFixture f;
  f.prepare(txnId(1));
  Output learned = f.b2(txnId(1), kA1, {iv0(kP2, Vote::Aborted)});
  CHECK(countSent<AckBatch>(learned) == 0);
  CHECK(countSent<AckBatch>(f.h.tick()) == 0);  // not due yet: one tick of kAckDelayTicks
  Output next = f.prepare(txnId(2));
  CHECK(hasRecord(next, txnId(2), ParticipantState::Prepared));
  CHECK(countSent<Phase2a>(next) == kAllAcceptors.size());
  CHECK(destinations<AckBatch>(next) == kAllAcceptors);
  for (NodeId a : kAllAcceptors) {
    auto batches = sentTo<AckBatch>(next, a);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].acks == std::vector<Ack>{{txnId(1), kP1, Outcome::Abort}});
  }
  CHECK(countSent<AckBatch>(f.ackTicks()) == 0);  // sent once
}

TEST_CASE("paxos: a prepare the engine refuses acks its Abort batched, on the tick") {
  // The participant's own ballot-0 Aborted settles the transaction at once (§4).
  ParticipantFixture f;
  TxnId t = txnId(1);
  f.engine.voteAborted(t);
  Output o = f.prepare(t);
  CHECK(countSent<Ack>(o) + countSent<AckBatch>(o) == 0);
  Output acks = f.ackTicks();
  CHECK(ackDestinations(acks) == kAllAcceptors);
  for (const auto& s : batchedAcks(acks)) CHECK(s.msg == Ack{t, kP1, Outcome::Abort});
}

TEST_CASE("2pc: an OutcomeMsg Commit is made durable and acked to the coordinator") {
  // The 2PC coordinator marks its decision done after every ack (presumed abort).
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  CHECK(hasRecord(o, t, ParticipantState::Committed));
  CHECK(f.engine.count("commit", t) == 1);
  auto acks = sentTo<Ack>(o, kCoord);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].outcome == Outcome::Commit);
  CHECK(countSent<Ack>(o) == 1);
}

TEST_CASE("2pc: an Abort outcome needs no ack (presumed abort)") {
  // The 2PC coordinator keeps no Abort record, so it waits for no Abort ack.
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Abort});
  CHECK(hasRecord(o, t, ParticipantState::Aborted));
  CHECK(countSent<Ack>(o) == 0);
  CHECK(f.engine.count("abort", t) == 1);
}

TEST_CASE("2pc: an OutcomeReply settles an in-doubt participant; Unknown does not") {
  // The answer to the participant's own query is how a 2PC participant leaves doubt.
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  TxnId u = txnId(2);
  f.prepare(t);
  f.prepare(u);
  Output unknown = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Unknown});
  CHECK(unknown.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
  Output c = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Committed});
  CHECK(learnedOutcome(c, t, Outcome::Commit));
  CHECK(f.state(t) == ParticipantState::Committed);
  Output a = f.h.deliver(kCoord, OutcomeReply{u, TxnStatus::Aborted});
  CHECK(learnedOutcome(a, u, Outcome::Abort));
  CHECK(f.state(u) == ParticipantState::Aborted);
}

TEST_CASE("2pc: only the coordinator that prepared us decides; another is told the owner") {
  // A client that retried at a second coordinator must not let that one abort what the
  // first may have committed durably: its outcome is ignored, its prepare answered with a
  // vote naming the owner (e2e found a participant applying such an Abort).
  ParticipantFixture f(Protocol::TwoPC);
  TxnId t = txnId(1);
  f.prepare(t);
  Output foreignAbort = f.h.deliver(kCoord2, OutcomeMsg{t, Outcome::Abort});
  CHECK(foreignAbort.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
  CHECK(f.engine.count("abort", t) == 0);
  Output foreignReply = f.h.deliver(kCoord2, OutcomeReply{t, TxnStatus::Aborted});
  CHECK(foreignReply.learned.empty());
  CHECK(f.state(t) == ParticipantState::Prepared);
  Output foreignPrepare = f.h.deliver(kCoord2, prepareMsg(t, "pay1", kBoth, kCoord2));
  auto votes = sentTo<VoteMsg>(foreignPrepare, kCoord2);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].owner == kCoord);
  CHECK(f.state(t) == ParticipantState::Prepared);
  // The owner's decision still counts.
  Output own = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  CHECK(learnedOutcome(own, t, Outcome::Commit));
}

}  // namespace
}  // namespace pc
