// Unit tests of heuristic decisions at the participant (paxos_commit/heuristic.h,
// participant.h onHeuristicDecision; docs/PROTOCOL.md §9): an operator's
// outcome for an in-doubt 2PC transaction, and what the coordinator says afterwards.
#include "paxos_commit/participant.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
constexpr NodeId kOperator = 0x80000007u;  // a client id: `pcommit resolve`

struct Fixture {
  explicit Fixture(Protocol p = Protocol::TwoPC)
      : cfg(makeConfig(p, FanOut::All)), h(Role::Participant, [this](const Recovered& r) {
          return std::make_unique<Participant>(kP1, cfg, engine, 7, r);
        }) {}

  Output prepare(const TxnId& t) { return h.deliver(kCoord, prepareMsg(t, "pay1", kBoth, kCoord)); }
  // The operator's request (nullopt: only ask), checked by the harness like any input.
  Output resolve(const TxnId& t, std::optional<Outcome> o, NodeId from = kOperator) {
    Snapshot before = h.node().snapshot();
    Output out = h.node().onHeuristicDecision(from, t, o, answer);
    h.node().checkDelta(before);
    return h.step(std::move(out));
  }
  std::optional<ParticipantState> state(const TxnId& t) const { return h.node().stateOf(t); }
  const ParticipantTxnRecord* recordIn(const Output& o, const TxnId& t) {
    for (const auto& r : o.persist) {
      const auto* p = std::get_if<ParticipantTxnRecord>(&r);
      if (p != nullptr && p->txn == t) return p;
    }
    return nullptr;
  }
  Heuristic markOnDisk(const TxnId& t) const {
    for (const auto& r : h.disk.participantTxns) {
      if (r.txn == t) return r.heuristic;
    }
    return Heuristic::None;
  }

  CoreConfig cfg;
  FakeEngine engine;
  Harness<Participant> h;
  HeuristicAnswer answer;
};

TEST_CASE("2pc: a heuristic abort is durable, releases the locks, and answers resolved") {
  // The operator's whole point: an in-doubt transaction whose coordinator is gone stops
  // holding its keys, and a restart does not take them back.
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.resolve(t, Outcome::Abort);
  CHECK(f.answer.result == HeuristicResult::Resolved);
  CHECK(f.answer.outcome == Outcome::Abort);
  CHECK(f.answer.heuristic == Heuristic::Pending);
  CHECK(f.answer.leader == kCoord);
  const auto* rec = f.recordIn(o, t);
  REQUIRE(rec != nullptr);
  CHECK(rec->state == ParticipantState::Aborted);
  CHECK(rec->heuristic == Heuristic::Pending);
  CHECK(f.engine.count("abort", t) == 1);
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(countSent<Ack>(o) == 0);
  CHECK(f.h.node().inDoubt().empty());
  f.h.restart();
  CHECK(f.engine.count("restore", t) == 0);
  CHECK(f.h.node().inDoubt().empty());
  CHECK(f.state(t) == ParticipantState::Aborted);
}

TEST_CASE("2pc: a heuristic commit applies the writes like a coordinator's Commit") {
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.resolve(t, Outcome::Commit);
  CHECK(f.answer.result == HeuristicResult::Resolved);
  CHECK(f.answer.outcome == Outcome::Commit);
  CHECK(f.engine.count("commit", t) == 1);
  REQUIRE(f.recordIn(o, t) != nullptr);
  CHECK(f.recordIn(o, t)->state == ParticipantState::Committed);
}

TEST_CASE("a resolve changes nothing where the transaction is decided, unknown or forgotten") {
  // The operator asks every participant of the cluster: the ones that never prepared it or
  // already know the outcome must report so and keep their state.
  Fixture f;
  TxnId decided = txnId(1);
  f.prepare(decided);
  f.h.deliver(kCoord, OutcomeMsg{decided, Outcome::Commit});
  Output o = f.resolve(decided, Outcome::Abort);
  CHECK(o.persist.empty());
  CHECK(f.answer.result == HeuristicResult::Decided);
  CHECK(f.answer.outcome == Outcome::Commit);
  CHECK(f.answer.heuristic == Heuristic::None);
  CHECK(f.engine.count("abort", decided) == 0);
  CHECK(f.state(decided) == ParticipantState::Committed);

  Output u = f.resolve(txnId(9), Outcome::Abort);
  CHECK(u.empty());
  CHECK(f.answer.result == HeuristicResult::Unknown);
  CHECK_FALSE(f.answer.outcome.has_value());
  CHECK_FALSE(f.state(txnId(9)).has_value());
}

TEST_CASE("a question (no outcome) reports in doubt and decides nothing") {
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.resolve(t, std::nullopt);
  CHECK(o.empty());
  CHECK(f.answer.result == HeuristicResult::InDoubt);
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("Paxos Commit refuses a heuristic decision; the acceptors decide") {
  // Paxos Commit never blocks on one coordinator: a hand-made outcome could only break it.
  Fixture f(Protocol::Paxos);
  TxnId t = txnId(1);
  f.prepare(t);
  Output o = f.resolve(t, Outcome::Abort);
  CHECK(o.empty());
  CHECK(f.answer.result == HeuristicResult::Refused);
  CHECK(f.answer.reason.find("acceptors") != std::string::npos);
  CHECK(f.state(t) == ParticipantState::Prepared);
  CHECK(f.engine.count("abort", t) == 0);
}

TEST_CASE("only a client id may resolve; a member id is refused and counted") {
  // A coordinator or participant never settles another's transaction by hand.
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  uint64_t before = f.h.node().rejected();
  Output o = f.resolve(t, Outcome::Abort, kCoord);
  CHECK(o.empty());
  CHECK(f.answer.result == HeuristicResult::Refused);
  CHECK(f.h.node().rejected() == before + 1);
  CHECK(f.state(t) == ParticipantState::Prepared);
}

TEST_CASE("2pc: the participant asks the coordinator until it answers; same outcome: agreed") {
  // After a heuristic abort the restarted coordinator has no decision: it presumes abort,
  // and the participant records the agreement (durably: a restart does not ask again).
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.resolve(t, Outcome::Abort);
  Output o = f.h.ticks(f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks + 1);
  auto q = sentTo<OutcomeQuery>(o, kCoord);
  REQUIRE_FALSE(q.empty());
  CHECK(q[0].txn == t);
  Output unknown = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Unknown});
  CHECK(unknown.persist.empty());
  Output reply = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Aborted});
  REQUIRE(f.recordIn(reply, t) != nullptr);
  CHECK(f.recordIn(reply, t)->heuristic == Heuristic::Agreed);
  CHECK(f.markOnDisk(t) == Heuristic::Agreed);
  CHECK(reply.learned.empty());
  f.h.restart();
  Output later = f.h.ticks(3 * (f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks));
  CHECK(countSent<OutcomeQuery>(later) == 0);
  f.resolve(t, std::nullopt);
  CHECK(f.answer.heuristic == Heuristic::Agreed);
}

TEST_CASE(
    "2pc: the coordinator's Commit after a heuristic abort is a mismatch, acked, not applied") {
  // The coordinator decided Commit (every vote was in) while the operator aborted here:
  // atomicity is broken, and that must be recorded -- not hidden, and not "fixed" by
  // applying writes the operator discarded. The ack stops the coordinator's resending.
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.resolve(t, Outcome::Abort);
  Output o = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  REQUIRE(f.recordIn(o, t) != nullptr);
  CHECK(f.recordIn(o, t)->heuristic == Heuristic::Mismatch);
  CHECK(f.recordIn(o, t)->state == ParticipantState::Aborted);
  CHECK(f.engine.count("commit", t) == 0);
  CHECK(o.learned.empty());
  auto acks = sentTo<Ack>(o, kCoord);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].outcome == Outcome::Abort);
  // Resent again: acked again, nothing else changes.
  Output again = f.h.deliver(kCoord, OutcomeMsg{t, Outcome::Commit});
  CHECK(again.persist.empty());
  CHECK(sentTo<Ack>(again, kCoord).size() == 1);
  f.resolve(t, std::nullopt);
  CHECK(f.answer.heuristic == Heuristic::Mismatch);
  CHECK(f.answer.outcome == Outcome::Abort);
}

TEST_CASE("2pc: a heuristic commit against the coordinator's (presumed) abort is a mismatch") {
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.resolve(t, Outcome::Commit);
  Output o = f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Forgotten});
  REQUIRE(f.recordIn(o, t) != nullptr);
  CHECK(f.recordIn(o, t)->heuristic == Heuristic::Mismatch);
  CHECK(f.state(t) == ParticipantState::Committed);
}

TEST_CASE("2pc: a pending heuristic decision survives a restart and is still confirmed") {
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.resolve(t, Outcome::Abort);
  CHECK(f.markOnDisk(t) == Heuristic::Pending);
  f.h.restart();
  Output o = f.h.ticks(f.cfg.recoveryTimeoutTicks + f.cfg.recoveryJitterTicks + 1);
  CHECK_FALSE(sentTo<OutcomeQuery>(o, kCoord).empty());
  f.h.deliver(kCoord, OutcomeReply{t, TxnStatus::Aborted});
  CHECK(f.markOnDisk(t) == Heuristic::Agreed);
}

TEST_CASE("only the coordinator that prepared it confirms a heuristic decision") {
  Fixture f;
  TxnId t = txnId(1);
  f.prepare(t);
  f.resolve(t, Outcome::Abort);
  Output o = f.h.deliver(kCoord2, OutcomeReply{t, TxnStatus::Committed});
  CHECK(o.persist.empty());
  CHECK(f.markOnDisk(t) == Heuristic::Pending);
}

}  // namespace
}  // namespace pc
