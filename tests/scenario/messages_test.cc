#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// Every message is delivered twice: handlers are idempotent (a duplicate 2a gets the same
// 2b, a second Commit is a no-op, a duplicate 2b counts once). If this failed, pitfalls 4
// and 5 of docs/PROTOCOL.md §6 would be back.
TEST_CASE("every message duplicated") {
  for (Protocol p :
       {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    sim.setFilter([](const Envelope&) { return Fate::Duplicate; });
    TxnId t1 = sim.submit();
    CHECK(sim.runUntilDecided(t1, 1000));
    CHECK(sim.outcome(t1) == Outcome::Commit);
    TxnId t2 = sim.submit();
    CHECK(sim.runUntilQuiescent(2000));
    CHECK(sim.outcome(t2) == Outcome::Commit);
    sim.finalCheck();
    PC_CHECK_SAFE(sim);
  }
}

// Late messages: p1's ballot-0 votes are held back until the transaction is decided by
// recovery, then delivered. A late vote must not change a chosen value nor revive a
// collected transaction. If this failed, a slow network could flip an outcome.
TEST_CASE("late ballot-0 votes arrive after recovery decided") {
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    NodeId p1 = sim.participantIds()[0];
    sim.setFilter([&](const Envelope& e) {
      return std::holds_alternative<Phase2a>(e.msg) && e.from == p1 ? Fate::Hold : Fate::Random;
    });
    TxnId t = sim.submit();
    CHECK(sim.runUntil([&] { return sim.outcome(t).has_value(); }, 2000));
    // No acceptor saw p1's vote: recovery must have chosen Aborted for its instance.
    CHECK(sim.outcome(t) == Outcome::Abort);
    sim.setFilter(nullptr);
    CHECK(sim.releaseHeld([](const Envelope&) { return true; }) > 0);
    CHECK(sim.runUntilQuiescent(2000));
    CHECK(sim.outcome(t) == Outcome::Abort);
    PC_CHECK_SAFE(sim);
  }
}

// A Prepare that arrives after the transaction was decided (the participant never voted
// in time): it must not leave that participant prepared forever nor commit anything.
TEST_CASE("late prepare after the decision") {
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos, Protocol::TwoPC}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    NodeId p3 = sim.participantIds()[2];
    sim.setFilter([&](const Envelope& e) {
      return std::holds_alternative<Prepare>(e.msg) && e.to == p3 ? Fate::Hold : Fate::Random;
    });
    TxnId t = sim.submit();
    CHECK(sim.runUntil([&] { return sim.outcome(t).has_value(); }, 2000));
    CHECK(sim.outcome(t) == Outcome::Abort);
    sim.setFilter(nullptr);
    sim.runTicks(50);
    sim.releaseHeld([](const Envelope&) { return true; });
    CHECK(sim.runUntilQuiescent(3000));
    CHECK(sim.durableState(p3, t) != ParticipantState::Committed);
    CHECK(sim.node(p3).applyLog.empty());
    PC_CHECK_SAFE(sim);
  }
}

// Outcome messages are all lost: participants must still learn (faster variant: from the
// 2b; classic and 2PC: by asking / recovering). If this failed, one lost phase-3 message
// would leave a participant prepared forever.
TEST_CASE("every outcome message lost") {
  for (Protocol p : {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    sim.setFilter([](const Envelope& e) {
      return std::holds_alternative<OutcomeMsg>(e.msg) ? Fate::Drop : Fate::Random;
    });
    TxnId t = sim.submit();
    CHECK(sim.runUntilDecided(t, 3000));
    CHECK(sim.outcome(t) == Outcome::Commit);
    PC_CHECK_SAFE(sim);
  }
}

}  // namespace pc::sim::test
