#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// An acceptor persists its votes and crashes before its 2b leaves; after the restart it
// must still hold (and answer with) those votes. If this failed, "durable before send" or
// the acceptor's reload would be broken.
TEST_CASE("acceptor crashes after persisting its vote, before replying") {
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    NodeId a1 = sim.acceptorIds()[0];
    sim.crashAfterNextPersist(a1);
    TxnId t = sim.submit();
    CHECK(sim.runUntil([&] { return !sim.isUp(a1); }, 100));
    CHECK_FALSE(sim.node(a1).disk.acceptorTxns.empty());
    sim.restart(a1);
    CHECK(sim.runUntilDecided(t, 1000));
    CHECK(sim.outcome(t) == Outcome::Commit);
    PC_CHECK_SAFE(sim);
  }
}

// F acceptors down: Paxos Commit still commits (F+1 remain). If this failed, the
// protocol would not tolerate the failures it is configured for.
TEST_CASE("F acceptors down: commits") {
  for (int f : {1, 2}) {
    CAPTURE(f);
    Simulator sim(quietConfig(Protocol::Paxos, 3, f));
    for (int i = 0; i < f; ++i) sim.crash(sim.acceptorIds()[static_cast<size_t>(i)]);
    TxnId t = sim.submit();
    CHECK(sim.runUntilDecided(t, 1000));
    CHECK(sim.outcome(t) == Outcome::Commit);
    PC_CHECK_SAFE(sim);
  }
}

// F+1 acceptors down: nothing can be chosen, so nobody may decide; participants wait
// (safely, prepared) and finish once one acceptor returns. If this failed, Paxos Commit
// would decide without a quorum (unsafe) or stay stuck after the quorum is back.
TEST_CASE("F+1 acceptors down: waits safely, then finishes when one returns") {
  for (Protocol p : {Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p, 3, 1));
    sim.crash(sim.acceptorIds()[0]);
    sim.crash(sim.acceptorIds()[1]);
    TxnId t = sim.submit();
    sim.runTicks(800);
    CHECK_FALSE(sim.outcome(t).has_value());
    CHECK(allIn(sim, t, ParticipantState::Prepared));
    sim.restart(sim.acceptorIds()[1]);
    CHECK(sim.runUntilDecided(t, 2000));
    CHECK(sim.outcome(t).has_value());
    PC_CHECK_SAFE(sim);
  }
}

// Quorum fan-out: votes go to F+1 acceptors first; with one of those down the
// participants must fall back to the others. If this failed, quorum fan-out would block.
TEST_CASE("quorum fan-out with a first-choice acceptor down: falls back and commits") {
  SimConfig c = quietConfig(Protocol::Paxos, 3, 1);
  c.core.fanOut = FanOut::Quorum;
  Simulator sim(c);
  for (NodeId a : sim.acceptorIds()) {
    sim.crash(a);
    TxnId t = sim.submit();
    CHECK(sim.runUntilDecided(t, 1000));
    CHECK(sim.outcome(t) == Outcome::Commit);
    sim.restart(a);
  }
  PC_CHECK_SAFE(sim);
}

}  // namespace pc::sim::test
