#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// Every node of every role crashes right after the prepares left and comes back from its
// disk: the transaction still reaches one outcome everywhere. If this failed, some role
// would keep state it does not persist (a restart is supposed to be just a long pause).
TEST_CASE("restart of every role mid-transaction") {
  for (Protocol p :
       {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    TxnId t = sim.submit();
    sim.runTicks(3);  // prepares out, votes on their way
    std::vector<NodeId> all;
    for (const auto* ids :
         {&sim.coordinatorIds(), &sim.participantIds(), &sim.acceptorIds(), &sim.clientIds()}) {
      for (NodeId id : *ids) {
        if (p == Protocol::TwoPC && ids == &sim.acceptorIds()) continue;  // none in 2PC
        all.push_back(id);
      }
    }
    for (NodeId id : all) sim.crash(id);
    sim.runTicks(20);
    for (NodeId id : all) sim.restart(id);
    CHECK(sim.runUntilDecided(t, 3000));
    CHECK(sim.outcome(t).has_value());
    sim.finalCheck();
    PC_CHECK_SAFE(sim);
  }
}

// A participant persists its Prepared vote and crashes before the vote leaves: after the
// restart it keeps its locks and the prepared record, and the transaction still ends the
// same everywhere. If this failed, "persisted, not yet sent" would lose or flip a vote.
TEST_CASE("participant crashes after persisting its vote, before sending it") {
  for (Protocol p : {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    NodeId p1 = sim.participantIds()[0];
    sim.crashAfterNextPersist(p1);
    TxnId t = sim.submit();
    CHECK(sim.runUntil([&] { return !sim.isUp(p1); }, 100));
    CHECK(sim.durableState(p1, t) == ParticipantState::Prepared);
    sim.runTicks(10);
    sim.restart(p1);
    CHECK(sim.node(p1).engine->lockHolder("k0") == t);  // locks retaken from the record
    CHECK(sim.runUntilDecided(t, 3000));
    PC_CHECK_SAFE(sim);
  }
}

// A recovery leader persists its round and crashes; after the restart it must use a
// higher round (never reuse a ballot). If this failed, two 2a with different values could
// share a ballot.
TEST_CASE("a recovery leader restarts and never reuses its round") {
  Simulator sim(quietConfig(Protocol::PaxosClassic));
  TxnId t = submitAndCrashCoordinatorAfterPrepares(sim);
  NodeId p1 = sim.participantIds()[0];
  CHECK(sim.runUntil([&] { return sim.node(p1).disk.leaderRound > 0 || sim.outcome(t); }, 500));
  sim.crash(p1);
  sim.restart(p1);
  CHECK(sim.runUntilDecided(t, 3000));
  CHECK(sim.outcome(t) == Outcome::Commit);
  PC_CHECK_SAFE(sim);
}

}  // namespace pc::sim::test
