#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// Every participant times out at about the same tick and leads recovery at once: the
// leaders pre-empt each other, yet exactly one outcome is chosen and it is Commit (every
// participant voted Prepared). If this failed, duelling leaders would cost safety, not
// just time (docs/PROTOCOL.md §5).
TEST_CASE("duelling recovery leaders agree") {
  SimConfig c = quietConfig(Protocol::PaxosClassic, 5, 2);
  c.core.recoveryJitterTicks = 1;  // everyone times out together
  c.core.ballotRetryTicks = 3;
  c.faults.delayTicksMax = 3;
  c.seed = 7;
  Simulator sim(c);
  TxnId t = submitAndCrashCoordinatorAfterPrepares(sim);
  CHECK(sim.runUntil([&] { return allIn(sim, t, ParticipantState::Committed); }, 3000));
  CHECK(sim.stats().recoveries >= 2);
  CHECK(sim.outcome(t) == Outcome::Commit);
  PC_CHECK_SAFE(sim);
}

// A participant votes Aborted (its expect fails): everyone aborts, the client is told
// why. If this failed, one participant's refusal would not veto the transaction.
TEST_CASE("a participant votes Aborted: the transaction aborts everywhere") {
  for (Protocol p :
       {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CAPTURE(toString(p));
    Simulator sim(quietConfig(p));
    std::vector<ParticipantPayload> pl;
    for (NodeId id : sim.participantIds()) {
      Bytes b = id == sim.participantIds()[1]
                    ? kv::encodeOps({kv::Op{kv::OpKind::Expect, "k0", "", 7}})  // wrong version
                    : Simulator::put("k0", "x");
      pl.push_back(ParticipantPayload{id, b});
    }
    TxnId t = sim.submit(pl);
    CHECK(sim.runUntilDecided(t, 1000));
    CHECK(sim.outcome(t) == Outcome::Abort);
    CHECK(sim.clientStatus(t) == TxnStatus::Aborted);
    CHECK(sim.durableState(sim.participantIds()[1], t) == ParticipantState::VotedAborted);
    for (NodeId id : sim.participantIds()) CHECK(sim.node(id).applyLog.empty());
    PC_CHECK_SAFE(sim);
  }
}

// Two transactions on the same key race: at most one of them can hold the lock, the other
// is refused; the data equals the committed writes. If this failed, isolation (the locks)
// would be broken.
TEST_CASE("conflicting transactions: the lock holder wins, the data is consistent") {
  Simulator sim(quietConfig(Protocol::Paxos));
  TxnId a = sim.submit({}, 0, 0);
  TxnId b = sim.submit({}, 0, 1);
  CHECK(sim.runUntilQuiescent(2000));
  int commits = (sim.outcome(a) == Outcome::Commit) + (sim.outcome(b) == Outcome::Commit);
  CHECK(commits >= 1);
  sim.finalCheck();
  PC_CHECK_SAFE(sim);
}

}  // namespace pc::sim::test
