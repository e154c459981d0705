#include "tests/scenario/scenario_util.h"

// Core bugs the simulator found, each scripted as a named scenario so it stays fixed
// (docs/STYLE.md: a failing seed becomes a named scenario in the same commit as the fix).

namespace pc::sim::test {

// Acceptor, docs/PROTOCOL.md §3: a ballot > 0 2a that completes a pending ballot-0 bundle takes
// the bundle-flush path in onPhase2a and returns without persisting (or answering) its
// new votes; the next duplicate is then answered from memory, before durability. If this
// fails, an acceptor can vote, forget the vote in a crash, and let a chosen value change.
TEST_CASE("acceptor: a higher-ballot 2a that completes a ballot-0 bundle is persisted") {
  SimConfig c = quietConfig(Protocol::PaxosClassic, 3, 1);
  c.core.bundleCapTicks = 1000;     // ballot-0 votes wait for the third one
  c.core.prepareRetryTicks = 1000;  // c1 does not resend prepares
  c.core.leaderTimeoutTicks = 40;   // c1 soon leads recovery itself
  c.core.recoveryTimeoutTicks = 1000;
  Simulator sim(c);
  NodeId p3 = sim.participantIds()[2];
  NodeId a1 = sim.acceptorIds()[0];
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<Prepare>(e.msg) && e.to == p3) return Fate::Drop;
    if (std::holds_alternative<Phase1a>(e.msg) && e.to == a1) return Fate::Drop;
    if (const auto* m = std::get_if<Phase2a>(&e.msg);
        m && e.to == a1 && !m->votes.empty() && !m->votes[0].ballot.isZero()) {
      return Fate::Duplicate;  // the copy is answered from a1's memory
    }
    return Fate::Random;
  });
  TxnId t = sim.submit();
  sim.runUntil([&] { return sim.violated() || sim.outcome(t).has_value(); }, 500);
  sim.runTicks(20);
  PC_CHECK_SAFE(sim);
}

// 2PC, presumed abort: c1 aborts T1 on its deadline (its Abort messages are slow), then
// restarts and forgets that; the client's retried CommitRequest starts 2PC afresh and
// c1 commits T1. If this fails, a 2PC transaction can be told both outcomes.
TEST_CASE("2pc: a retried request after a restart must not commit an aborted transaction") {
  SimConfig c = quietConfig(Protocol::TwoPC, 1, 0);
  c.coordinators = 1;
  c.core.leaderTimeoutTicks = 30;
  c.core.recoveryTimeoutTicks = 1000;  // p1 does not ask first
  c.clientRetryTicks = 60;
  Simulator sim(c);
  bool holdVote = true;
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<VoteMsg>(e.msg) && holdVote) return Fate::Hold;
    if (std::holds_alternative<OutcomeMsg>(e.msg)) return Fate::Hold;
    if (std::holds_alternative<CommitReply>(e.msg)) return Fate::Hold;
    return Fate::Random;
  });
  TxnId t = sim.submit();
  CHECK(sim.runUntil([&] { return sim.outcome(t).has_value(); }, 200));  // c1 sent Abort
  CHECK(sim.outcome(t) == Outcome::Abort);
  sim.crash(sim.coordinatorIds()[0]);
  sim.restart(sim.coordinatorIds()[0]);
  holdVote = false;
  sim.runTicks(300);  // the client retries; nothing may commit T1 now
  PC_CHECK_SAFE(sim);
  CHECK(sim.node(sim.participantIds()[0]).applyLog.empty());
}

// 2PC: a late duplicate vote for a transaction whose Commit decision was collected (below
// the decision low-water mark) is answered with a presumed Abort. If this fails, a
// committed participant is told Abort.
TEST_CASE("2pc: a late vote for a collected Commit decision is not answered Abort") {
  SimConfig c = quietConfig(Protocol::TwoPC, 1, 0);
  c.coordinators = 1;
  c.core.tombstoneCap = 1;  // done decisions are collected at once
  Simulator sim(c);
  std::optional<Envelope> lateVote;
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<VoteMsg>(e.msg) && !lateVote) lateVote = e;
    return Fate::Random;
  });
  TxnId t1 = sim.submit();
  CHECK(sim.runUntilQuiescent(500));
  for (int i = 0; i < 3; ++i) {
    sim.submit();
    CHECK(sim.runUntilQuiescent(1000));
  }
  REQUIRE(lateVote.has_value());
  CHECK(sim.outcome(t1) == Outcome::Commit);
  sim.inject(*lateVote);
  sim.runTicks(20);
  PC_CHECK_SAFE(sim);
}

// Low-water marks by id order forget a transaction that has not run yet: T1's request is
// delayed while later transactions finish and are collected; the acceptors' low-water mark
// passes T1, they answer "forgotten" when its votes finally come, the recovery leader gives
// up on that answer, and the prepared participant waits (locks held) forever. If this
// fails, one delayed request can wedge a participant.
TEST_CASE("acceptor low-water mark: a delayed transaction still finishes") {
  SimConfig c = quietConfig(Protocol::Paxos, 1, 1);
  c.core.tombstoneCap = 1;
  c.core.ackRequestTicks = 20;
  Simulator sim(c);
  bool holdT1 = true;
  sim.setFilter([&](const Envelope& e) {
    return holdT1 && std::holds_alternative<CommitRequest>(e.msg) ? Fate::Hold : Fate::Random;
  });
  TxnId t1 = sim.submit();
  holdT1 = false;
  sim.runTicks(1);
  for (int i = 0; i < 3; ++i) {
    sim.submit();
    sim.runTicks(100);  // decided, acked, collected
  }
  sim.setFilter(nullptr);
  sim.releaseHeld([](const Envelope&) { return true; });
  CHECK(sim.runUntilDecided(t1, 3000));
  PC_CHECK_SAFE(sim);
}

// Duelling recovery leaders without back-off: 16 participants in doubt at once each lead
// recovery, and a refused leader retries within 1 + jitter(ballotRetryTicks); with a retry
// shorter than a ballot's round trip they pre-empt each other for ever (a normal recovery
// here takes under 100 ticks; with ballotRetryTicks = 5 it took 1,538). If this fails,
// recovery can livelock (docs/PROTOCOL.md §5: duelling leaders must cost time, not liveness).
TEST_CASE("sixteen duelling recovery leaders still decide") {
  SimConfig c = quietConfig(Protocol::Paxos, 16, 2);
  c.coordinators = 1;
  c.faults.delayTicksMax = 4;
  c.faults.diskTicksMax = 3;
  c.core.recoveryTimeoutTicks = 70;
  c.core.recoveryJitterTicks = 20;
  c.core.ballotRetryTicks = 3;
  c.core.leaderTimeoutTicks = 5000;
  c.core.prepareRetryTicks = 5000;
  c.seed = 1;
  Simulator sim(c);
  // Only a1 receives the ballot-0 votes: no quorum, so recovery must decide.
  sim.setFilter([&](const Envelope& e) {
    const auto* m = std::get_if<Phase2a>(&e.msg);
    bool zero = m && m->votes[0].ballot.isZero();
    return zero && e.to != sim.acceptorIds()[0] ? Fate::Drop : Fate::Random;
  });
  TxnId t = sim.submit();
  CHECK(sim.runUntil([&] { return sim.outcome(t).has_value(); }, 3000));
  PC_CHECK_SAFE(sim);
}

}  // namespace pc::sim::test
