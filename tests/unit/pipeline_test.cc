// Unit tests of pipeline.cc: the durable-before-send outbox every node host and the
// simulator drive (docs/PROTOCOL.md §6 pitfall 9). If these fail, a reply can leave before the
// record that justifies it, or a node stalls waiting for a write nobody schedules.
#include "paxos_commit/pipeline.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using test::txnId;

Envelope vote(uint64_t n) { return Envelope{1, 50, VoteMsg{txnId(n), 1, Vote::Prepared, "", 0}}; }
Envelope ack(uint64_t n) { return Envelope{1, 60, Ack{txnId(n), 1, Outcome::Commit}}; }

ParticipantTxnRecord rec(uint64_t n, ParticipantState s) {
  return ParticipantTxnRecord{txnId(n), s, "payload", {1}, 50, ""};
}

std::vector<TxnId> txnsOf(const std::vector<Envelope>& es) {
  std::vector<TxnId> out;
  for (const auto& e : es) out.push_back(messageTxn(e.msg));
  return out;
}

TEST_CASE("a send waits for its own Output's records, then leaves") {
  // Pitfall 9: a Prepared vote must not leave before the Prepared record is durable.
  Pipeline p;
  Seq tag = p.persist({rec(1, ParticipantState::Prepared)}, true);
  CHECK(tag == 1);
  p.send(tag, vote(1));
  CHECK(p.takeReleased().empty());
  CHECK(p.writeNeed() == WriteNeed::Urgent);
  REQUIRE(p.hasUnsubmitted());
  p.nextUnsubmitted().clear();
  p.submitted(1);
  CHECK(p.takeReleased().empty());  // submitted is not durable
  p.durable(1);
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(1)});
  CHECK(p.writeNeed() == WriteNeed::None);
  CHECK(p.idle());
}

TEST_CASE("a send without records waits for every earlier batch (FIFO)") {
  // A duplicate answered from memory that is ahead of the disk must not overtake it.
  Pipeline p;
  Seq t1 = p.persist({rec(1, ParticipantState::Prepared)}, true);
  p.send(t1, vote(1));
  Seq t2 = p.persist({}, false);
  CHECK(t2 == t1);
  p.send(t2, vote(2));
  Seq t3 = p.persist({rec(3, ParticipantState::Prepared)}, true);
  p.send(t3, vote(3));
  p.nextUnsubmitted().clear();
  p.submitted(1);
  p.nextUnsubmitted().clear();
  p.submitted(2);
  p.durable(1);
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(1), txnId(2)});
  p.durable(2);
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(3)});
  p.durable(2);  // a repeated report changes nothing
  CHECK(p.takeReleased().empty());
}

TEST_CASE("once durable, a send without records leaves at once") {
  // No write is pending: nothing to wait for, and no write is asked for.
  Pipeline p;
  p.send(p.persist({}, false), vote(1));
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(1)});
  CHECK(p.writeNeed() == WriteNeed::None);
}

TEST_CASE("background records wait; a GC ack does not make them urgent, a vote does") {
  // An outcome record whose only follower is an Ack may wait for the next tick; a vote
  // behind the same batch must force the write, or the commit path stalls a tick.
  Pipeline p;
  Seq t1 = p.persist({rec(1, ParticipantState::Committed)}, false);
  CHECK(p.writeNeed() == WriteNeed::Background);
  p.send(t1, ack(1));
  CHECK(p.writeNeed() == WriteNeed::Background);
  p.send(t1, vote(2));
  CHECK(p.writeNeed() == WriteNeed::Urgent);
  p.nextUnsubmitted().clear();
  p.submitted(1);
  p.durable(1);
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(1), txnId(2)});
  CHECK(p.writeNeed() == WriteNeed::None);
}

TEST_CASE("hooks run once their batch is durable, before its sends are released") {
  // A failpoint "after persist" must fire before the reply leaves; an engine applies an
  // outcome before the ack that lets acceptors forget the transaction.
  Pipeline p;
  std::vector<std::string> events;
  p.atDurable(p.nextSeq(), [&] { events.push_back("hook1"); });
  Seq t1 = p.persist({rec(1, ParticipantState::Committed)}, true);
  p.send(t1, ack(1));
  p.atDurable(p.nextSeq(), [&] { events.push_back("hook2"); });
  Seq t2 = p.persist({rec(2, ParticipantState::Committed)}, true);
  CHECK(t2 == 2);
  p.nextUnsubmitted().clear();
  p.submitted(1);
  p.durable(1);
  for (const auto& e : p.takeReleased()) events.push_back("send " + messageTxn(e.msg).toString());
  CHECK(events == std::vector<std::string>{"hook1", "send " + txnId(1).toString()});
  p.atDurable(1, [&] { events.push_back("late hook"); });  // already durable: runs now
  CHECK(events.back() == "late hook");
}

TEST_CASE("a throwing hook leaves the pipeline consistent") {
  // An external engine's outcomeDurable may throw; the node stops, and must not assert.
  Pipeline p;
  p.atDurable(p.nextSeq(), [] { throw std::runtime_error("engine failed"); });
  p.send(p.persist({rec(1, ParticipantState::Committed)}, true), ack(1));
  p.nextUnsubmitted().clear();
  p.submitted(1);
  CHECK_THROWS_AS(p.durable(1), std::runtime_error);
  p.checkInvariants();
  CHECK(p.takeReleased().empty());  // the ack waits: its engine call failed
  p.durable(1);                     // the next report releases it (the hook ran once)
  CHECK(txnsOf(p.takeReleased()) == std::vector<TxnId>{txnId(1)});
}

TEST_CASE("low-water hold-back: the mark waits until earlier outcomes are durable") {
  // With an external engine, a mark that erased a Committed record before the engine
  // applied it would let a restart abort a committed transaction.
  Pipeline p(PipelineOptions{true});
  Seq t1 = p.persist({rec(1, ParticipantState::Committed)}, true);
  CHECK(t1 == 1);
  // The mark arrives alone: held back, no batch, tag stays 1.
  Seq t2 = p.persist({ParticipantLowWaterRecord{txnId(1)}}, false);
  CHECK(t2 == 1);
  CHECK(p.lastSeq() == 1);
  // A second mark merges with the held one.
  p.persist({ParticipantLowWaterRecord{txnId(2)}}, false);
  CHECK(p.lastSeq() == 1);
  p.nextUnsubmitted().clear();
  p.submitted(1);
  p.durable(1);
  // Re-entered as a background batch of its own with the higher mark.
  REQUIRE(p.hasUnsubmitted());
  CHECK(p.lastSeq() == 2);
  CHECK_FALSE(p.nextUnsubmittedUrgent());
  REQUIRE(p.nextUnsubmitted().size() == 1);
  const auto* lw = std::get_if<ParticipantLowWaterRecord>(&p.nextUnsubmitted().front());
  REQUIRE(lw != nullptr);
  CHECK(lw->mark == txnId(2));
  CHECK(p.writeNeed() == WriteNeed::Background);
}

TEST_CASE("low-water hold-back: nothing pending, the mark is written at once") {
  // No outcome can be waiting for its engine: holding the mark back would only delay GC.
  Pipeline p(PipelineOptions{true});
  Seq t = p.persist({ParticipantLowWaterRecord{txnId(5)}}, false);
  CHECK(t == 1);
  REQUIRE(p.hasUnsubmitted());
  CHECK(p.nextUnsubmitted().size() == 1);
}

TEST_CASE("without hold-back, a low-water mark goes with its batch") {
  // The built-in engine applies a commit in the same write as its record.
  Pipeline p;
  Seq t1 = p.persist({rec(1, ParticipantState::Committed)}, true);
  Seq t2 = p.persist({ParticipantLowWaterRecord{txnId(1)}}, false);
  CHECK(t1 == 1);
  CHECK(t2 == 2);
}

}  // namespace
}  // namespace pc
