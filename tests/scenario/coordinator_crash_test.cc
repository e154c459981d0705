#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// Coordinator dies after its prepares left: Paxos Commit finishes without it; if this
// failed, Paxos Commit would be as blocking as 2PC (the reason it exists would be gone).
TEST_CASE("paxos: the coordinator dies after prepares are sent; participants finish it") {
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    TxnId t = submitAndCrashCoordinatorAfterPrepares(sim);
    bool finished = sim.runUntil([&] { return allIn(sim, t, ParticipantState::Committed); }, 500);
    CHECK(finished);
    CHECK_FALSE(sim.isUp(sim.coordinatorIds()[0]));
    CHECK(sim.outcome(t) == Outcome::Commit);
    // The client retries with c2 and gets a final answer.
    CHECK(sim.runUntilDecided(t, 2000));
    PC_CHECK_SAFE(sim);
  }
}

// paxos-direct: the client is the leader and dies after its prepares left; if this failed,
// putting the leader in the client would make every client crash a blocking failure.
TEST_CASE("paxos-direct: the client-leader dies after prepares; participants finish it") {
  Simulator sim(quietConfig(Protocol::PaxosDirect));
  size_t prepares = 0;
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<Prepare>(e.msg)) ++prepares;
    return Fate::Random;
  });
  TxnId t = sim.submit();  // in paxos-direct the prepares leave at once
  sim.runUntil([&] { return prepares == 3; }, 100);
  sim.setFilter(nullptr);
  sim.crash(sim.clientIds()[0]);
  CHECK(sim.runUntil([&] { return allIn(sim, t, ParticipantState::Committed); }, 500));
  sim.restart(sim.clientIds()[0]);  // it asks a coordinator for the outcome
  CHECK(sim.runUntilDecided(t, 2000));
  PC_CHECK_SAFE(sim);
}

// 2PC with its coordinator down after the prepares: participants block (prepared, locks
// held) until it returns, then finish. If this failed, either 2PC would decide without its
// coordinator (unsafe) or never finish after it returns (the coordinator's restart is broken).
TEST_CASE("2pc: the coordinator dies after prepares; blocks until it returns, then finishes") {
  Simulator sim(quietConfig(Protocol::TwoPC));
  TxnId t = submitAndCrashCoordinatorAfterPrepares(sim);
  sim.runTicks(600);
  CHECK(allIn(sim, t, ParticipantState::Prepared));
  CHECK_FALSE(sim.outcome(t).has_value());
  sim.restart(sim.coordinatorIds()[0]);
  CHECK(sim.runUntilDecided(t, 1000));
  CHECK(sim.outcome(t).has_value());
  PC_CHECK_SAFE(sim);
}

// 2PC: the coordinator persisted Commit, then died before telling anyone; after its
// restart it must resend Commit. If this failed, a durable Commit would be lost.
TEST_CASE("2pc: coordinator crashes after persisting Commit, before sending it") {
  Simulator sim(quietConfig(Protocol::TwoPC));
  TxnId t = sim.submit();
  NodeId c1 = sim.coordinatorIds()[0];
  // The only record a 2PC coordinator writes is the Commit decision.
  sim.runTicks(1);
  sim.crashAfterNextPersist(c1);
  CHECK(sim.runUntil([&] { return !sim.isUp(c1); }, 100));
  CHECK_FALSE(sim.node(c1).disk.decisions.empty());
  CHECK(allIn(sim, t, ParticipantState::Prepared));
  sim.restart(c1);
  CHECK(sim.runUntilDecided(t, 1000));
  CHECK(sim.outcome(t) == Outcome::Commit);
  PC_CHECK_SAFE(sim);
}

}  // namespace pc::sim::test
