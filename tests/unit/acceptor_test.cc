// Unit tests of the Acceptor (acceptor.h): given its state and one message or tick, the
// exact records it persists and the messages it sends (docs/PROTOCOL.md §1, §3, §5, §6).
#include "paxos_commit/acceptor.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};

struct AcceptorFixture {
  explicit AcceptorFixture(Protocol p = Protocol::Paxos, Recovered initial = {})
      : cfg(makeConfig(p)),
        h(
            Role::Acceptor,
            [this](const Recovered& r) { return std::make_unique<Acceptor>(kA1, cfg, r); },
            std::move(initial)) {}

  // Both participants vote at ballot 0; returns the Output of the second vote.
  Output voteBoth(const TxnId& t, Vote v1 = Vote::Prepared, Vote v2 = Vote::Prepared) {
    h.deliver(kP1, vote0(t, kP1, v1, kBoth));
    return h.deliver(kP2, vote0(t, kP2, v2, kBoth));
  }

  const AcceptorInstance* inst(const TxnId& t, NodeId i) const {
    const auto* r = h.node().state(t);
    return r == nullptr ? nullptr : findInstance(r, i);
  }

  CoreConfig cfg;
  Harness<Acceptor> h;
};

bool has2bVote(const Output& o, const InstanceVote& v) {
  for (const auto& s : sent<Phase2b>(o)) {
    for (const auto& x : s.msg.votes) {
      if (x == v) return true;
    }
  }
  return false;
}

TEST_CASE("ballot-0 votes are held until every instance voted, then one write and one 2b") {
  // The paper's one write per acceptor per transaction; a 2b per vote would multiply
  // messages and synced writes (docs/PROTOCOL.md §3, §7).
  AcceptorFixture f;
  TxnId t = txnId(1);
  Output first = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(first.persist.empty());
  CHECK(first.send.empty());
  Output second = f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth));
  auto recs = records<AcceptorTxnRecord>(second);
  REQUIRE(recs.size() == 1);
  CHECK(second.persist.size() == 1);
  CHECK(recs[0].txn == t);
  CHECK(recs[0].participants == kBoth);
  CHECK(recs[0].leader == kCoord);
  CHECK(recs[0].instances ==
        std::vector<AcceptorInstance>{{kP1, Ballot::zero(), Ballot::zero(), Vote::Prepared},
                                      {kP2, Ballot::zero(), Ballot::zero(), Vote::Prepared}});
  // Faster Paxos Commit: one bundled 2b to the leader and to every participant.
  CHECK(destinations<Phase2b>(second) == std::set<NodeId>{kCoord, kP1, kP2});
  CHECK(countSent<Phase2b>(second) == 3);
  for (const auto& s : sent<Phase2b>(second)) {
    CHECK(s.from == kA1);
    CHECK(s.msg.acceptor == kA1);
    CHECK(s.msg.txn == t);
    CHECK_FALSE(s.msg.forgotten);
    CHECK(s.msg.participants == kBoth);
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)});
  }
  CHECK(second.send.size() == 3);
}

TEST_CASE("paxos-classic: acceptors answer the leader only") {
  // In classic Paxos Commit participants learn from the leader's phase 3; extra 2b would
  // break the message counts of docs/PROTOCOL.md §7.
  AcceptorFixture f(Protocol::PaxosClassic);
  Output o = f.voteBoth(txnId(1));
  CHECK(destinations<Phase2b>(o) == std::set<NodeId>{kCoord});
  CHECK(countSent<Phase2b>(o) == 1);
}

TEST_CASE("paxos-direct: 2b go to the client leader and to every participant") {
  // With the client as leader, the 2b to the client is what makes 3 message delays.
  AcceptorFixture f(Protocol::PaxosDirect);
  TxnId t = txnId(1);
  f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth, kClient));
  Output o = f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth, kClient));
  CHECK(destinations<Phase2b>(o) == std::set<NodeId>{kClient, kP1, kP2});
}

TEST_CASE("a ballot-0 Aborted vote is written and answered at once") {
  // An Aborted vote settles the transaction; holding it for the bundle only delays abort.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Phase2a m = vote0(t, kP1, Vote::Aborted, kBoth);
  m.reason = "conflict on key 'k'";
  Output o = f.h.deliver(kP1, m);
  auto recs = records<AcceptorTxnRecord>(o);
  REQUIRE(recs.size() == 1);
  const auto* i1 = findInstance(&recs[0], kP1);
  REQUIRE(i1 != nullptr);
  CHECK(i1->bal == Ballot::zero());
  CHECK(i1->val == Vote::Aborted);
  CHECK(destinations<Phase2b>(o) == std::set<NodeId>{kCoord, kP1, kP2});
  for (const auto& s : sent<Phase2b>(o)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Aborted)});
    CHECK(s.msg.reason == "conflict on key 'k'");
  }
}

TEST_CASE("pitfall 8: a partial bundle is flushed after bundleCapTicks") {
  // Without a cap, one silent participant would stall every other instance's 2b forever.
  AcceptorFixture f;
  f.cfg.bundleCapTicks = 5;
  f.h.restart();  // pick up the config
  TxnId t = txnId(1);
  Output held = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(held.send.empty());
  CHECK(held.persist.empty());
  Output early = f.h.ticks(4);
  CHECK(countSent<Phase2b>(early) == 0);
  Output flushed = f.h.tick();
  auto recs = records<AcceptorTxnRecord>(flushed);
  REQUIRE(recs.size() == 1);
  CHECK(findInstance(&recs[0], kP1)->val == Vote::Prepared);
  const auto* i2 = findInstance(&recs[0], kP2);
  CHECK((i2 == nullptr || !i2->bal.has_value()));
  CHECK(destinations<Phase2b>(flushed) == std::set<NodeId>{kCoord, kP1, kP2});
  for (const auto& s : sent<Phase2b>(flushed)) {
    CHECK(s.msg.votes == std::vector<InstanceVote>{iv0(kP1, Vote::Prepared)});
  }
  // After the cap, a late vote is written and answered at once, per instance.
  Output late = f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth));
  CHECK(records<AcceptorTxnRecord>(late).size() == 1);
  CHECK(has2bVote(late, iv0(kP2, Vote::Prepared)));
  CHECK(destinations<Phase2b>(late) == std::set<NodeId>{kCoord, kP1, kP2});
}

TEST_CASE("a ballot-0 2a from anyone but the instance's own participant is rejected") {
  // Ballot 0 of instance i belongs to participant i alone (docs/PROTOCOL.md §1); accepting it
  // from another node lets a third party vote for i.
  AcceptorFixture f;
  TxnId t = txnId(1);
  uint64_t before = f.h.node().rejected();
  Output o = f.h.deliver(kP2, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(o.persist.empty());
  CHECK(o.send.empty());
  CHECK(f.h.node().rejected() == before + 1);
  Output o2 = f.h.deliver(kCoord, vote0(t, kP1, Vote::Aborted, kBoth));
  CHECK(o2.persist.empty());
  CHECK(o2.send.empty());
  CHECK(f.h.node().rejected() == before + 2);
  // Nothing was held either: P2's own vote does not complete a bundle with a forged one.
  Output o3 = f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth));
  CHECK(countSent<Phase2b>(o3) == 0);
}

TEST_CASE("a 2a for an instance outside its participant list is rejected") {
  // Every 2a carries the full participant list; an instance outside it is malformed.
  AcceptorFixture f;
  uint64_t before = f.h.node().rejected();
  Output o = f.h.deliver(kP3, vote0(txnId(1), kP3, Vote::Prepared, kBoth));
  CHECK(o.persist.empty());
  CHECK(o.send.empty());
  CHECK(f.h.node().rejected() == before + 1);
}

TEST_CASE("pitfall 5: a duplicate ballot-0 2a gets the same 2b") {
  // A lost 2b is recovered by the participant resending its 2a; the answer must be the
  // same vote, from durable state.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output dup = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(has2bVote(dup, iv0(kP1, Vote::Prepared)));
  CHECK(destinations<Phase2b>(dup).count(kCoord) == 1);
  for (const auto& r : records<AcceptorTxnRecord>(dup)) {
    CHECK(findInstance(&r, kP1)->val == Vote::Prepared);
  }
  CHECK(f.inst(t, kP1)->val == Vote::Prepared);
}

TEST_CASE("a duplicate ballot-0 2a while held is not counted as another instance") {
  // A resent vote must not complete the bundle on its own.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  Output dup = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(dup.persist.empty());
  CHECK(countSent<Phase2b>(dup) == 0);
  Output o = f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth));
  CHECK(records<AcceptorTxnRecord>(o).size() == 1);
  CHECK(countSent<Phase2b>(o) == 3);
}

TEST_CASE("a participant's second, different ballot-0 vote is refused") {
  // §8: a participant never votes twice at ballot 0; accepting a changed vote could turn
  // a chosen Aborted into Prepared.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kP1, vote0(t, kP1, Vote::Aborted, kBoth));
  uint64_t before = f.h.node().rejected();
  Output o = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(o.persist.empty());
  CHECK_FALSE(has2bVote(o, iv0(kP1, Vote::Prepared)));
  CHECK(f.h.node().rejected() == before + 1);
  CHECK(f.inst(t, kP1)->val == Vote::Aborted);
}

TEST_CASE("pitfall 5: a duplicate 2a at b > 0 gets the same 2b; another value is refused") {
  // A leader resending its 2a must get the same answer; a second value at one ballot
  // would be two proposals in one ballot.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Ballot b{2, kCoord};
  Phase2a m = phase2a(t, b, {{kP1, Vote::Prepared}, {kP2, Vote::Aborted}}, kBoth, kCoord);
  f.h.deliver(kCoord, m);
  Output dup = f.h.deliver(kCoord, m);
  auto to = sentTo<Phase2b>(dup, kCoord);
  REQUIRE(to.size() == 1);
  CHECK(sortedVotes(to[0].votes) ==
        std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  Output other = f.h.deliver(kCoord, phase2a(t, b, {{kP2, Vote::Prepared}}, kBoth, kCoord));
  CHECK_FALSE(has2bVote(other, iv(kP2, b, Vote::Prepared)));
  CHECK(f.inst(t, kP2)->val == Vote::Aborted);
}

TEST_CASE("phase 1: an acceptor promises b >= mbal, makes mbal durable in the same Output") {
  // Pitfall 3: a 1b whose mbal is not durable lets a restarted acceptor promise twice.
  AcceptorFixture f;
  TxnId t = txnId(1);
  Ballot b{1, kCoord};
  Output o = f.h.deliver(kCoord, phase1a(t, b, kBoth));
  auto recs = records<AcceptorTxnRecord>(o);
  REQUIRE(recs.size() == 1);
  for (NodeId i : kBoth) {
    const auto* x = findInstance(&recs[0], i);
    REQUIRE(x != nullptr);
    CHECK(x->mbal == b);
    CHECK_FALSE(x->bal.has_value());
  }
  auto replies = sentTo<Phase1b>(o, kCoord);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].promised);
  CHECK_FALSE(replies[0].forgotten);
  CHECK(replies[0].acceptor == kA1);
  CHECK(replies[0].ballot == b);
  CHECK(replies[0].mbal == b);
  auto reports = replies[0].reports;
  std::sort(reports.begin(), reports.end(),
            [](const auto& x, const auto& y) { return x.instance < y.instance; });
  CHECK(reports == std::vector<InstanceReport>{noVote(kP1), noVote(kP2)});
  CHECK(o.send.size() == 1);
}

TEST_CASE("phase 1b reports the last vote of every instance") {
  // Pitfall 2: the recovery leader can only keep a Prepared vote it is shown.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{1, kCoord2}, kBoth));
  auto replies = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].promised);
  CHECK(replies[0].participants == kBoth);
  auto reports = replies[0].reports;
  std::sort(reports.begin(), reports.end(),
            [](const auto& x, const auto& y) { return x.instance < y.instance; });
  CHECK(reports == std::vector<InstanceReport>{voted(kP1, Ballot::zero(), Vote::Prepared),
                                               voted(kP2, Ballot::zero(), Vote::Prepared)});
  CHECK(f.inst(t, kP1)->mbal == Ballot{1, kCoord2});
  CHECK(f.inst(t, kP1)->bal == Ballot::zero());
}

TEST_CASE("a 1a below mbal is refused with the higher mbal and changes nothing") {
  // The leader skips ahead with the reported mbal; promising a lower ballot breaks Paxos.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kCoord, phase1a(t, Ballot{5, kCoord}, kBoth));
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{4, kCoord2}, kBoth));
  CHECK(o.persist.empty());
  auto replies = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(replies[0].promised);
  CHECK(replies[0].mbal == Ballot{5, kCoord});
  CHECK(f.inst(t, kP1)->mbal == Ballot{5, kCoord});
}

TEST_CASE("a 1a is promised only if b >= mbal of every instance") {
  // One instance promised higher elsewhere: a partial promise would let two leaders each
  // believe they own the transaction.
  AcceptorFixture f;
  TxnId t = txnId(1);
  // A 2a at (5) for instance 2 only raises that instance's mbal.
  f.h.deliver(kCoord, phase2a(t, Ballot{5, kCoord}, {{kP2, Vote::Prepared}}, kBoth, kCoord));
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{3, kCoord2}, kBoth));
  auto replies = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(replies[0].promised);
  CHECK(replies[0].mbal == Ballot{5, kCoord});
  const auto* i1 = f.inst(t, kP1);
  CHECK((i1 == nullptr || i1->mbal < Ballot{3, kCoord2}));
}

TEST_CASE("phase 2: a 2a at b is accepted iff b >= mbal") {
  // Accepting below the promise lets an old leader's value be chosen behind a new one.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  f.h.deliver(kCoord, phase1a(t, Ballot{2, kCoord}, kBoth));
  // Below mbal: refused.
  Output low =
      f.h.deliver(kCoord2, phase2a(t, Ballot{1, kCoord2}, {{kP2, Vote::Aborted}}, kBoth, kCoord2));
  CHECK_FALSE(has2bVote(low, iv(kP2, Ballot{1, kCoord2}, Vote::Aborted)));
  CHECK(f.inst(t, kP2)->bal == Ballot::zero());
  CHECK(f.inst(t, kP2)->val == Vote::Prepared);
  // Equal to mbal: accepted, durable in the same Output.
  Output eq =
      f.h.deliver(kCoord, phase2a(t, Ballot{2, kCoord}, {{kP2, Vote::Prepared}}, kBoth, kCoord));
  CHECK(records<AcceptorTxnRecord>(eq).size() == 1);
  CHECK(has2bVote(eq, iv(kP2, Ballot{2, kCoord}, Vote::Prepared)));
  CHECK(destinations<Phase2b>(eq).count(kCoord) == 1);
  CHECK(f.inst(t, kP2)->bal == (Ballot{2, kCoord}));
  CHECK(f.inst(t, kP2)->mbal == (Ballot{2, kCoord}));
  // Above mbal without a 1a here: accepted too (mbal = bal = b).
  Output high =
      f.h.deliver(kCoord2, phase2a(t, Ballot{3, kCoord2}, {{kP1, Vote::Prepared}}, kBoth, kCoord2));
  CHECK(has2bVote(high, iv(kP1, Ballot{3, kCoord2}, Vote::Prepared)));
  CHECK(f.inst(t, kP1)->mbal == (Ballot{3, kCoord2}));
  CHECK(f.inst(t, kP1)->bal == (Ballot{3, kCoord2}));
}

TEST_CASE("a ballot-0 vote arriving after a higher promise is not accepted") {
  // Once mbal > 0 a recovery leader may already have proposed Aborted for the instance;
  // a late ballot-0 Prepared accepted now could form a conflicting quorum.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kCoord, phase1a(t, Ballot{1, kCoord}, kBoth));
  Output o = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  o.append(f.h.deliver(kP2, vote0(t, kP2, Vote::Prepared, kBoth)));
  o.append(f.h.ticks(f.cfg.bundleCapTicks + 1));
  CHECK_FALSE(has2bVote(o, iv0(kP1, Vote::Prepared)));
  CHECK_FALSE(has2bVote(o, iv0(kP2, Vote::Prepared)));
  CHECK_FALSE(f.inst(t, kP1)->bal.has_value());
  CHECK_FALSE(f.inst(t, kP2)->bal.has_value());
}

TEST_CASE("pitfall 3: mbal survives a restart") {
  // An acceptor that forgets its promise on restart can accept an older leader's 2a.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.h.deliver(kCoord, phase1a(t, Ballot{5, kCoord}, kBoth));
  f.h.restart();
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{4, kCoord2}, kBoth));
  auto replies = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(replies.size() == 1);
  CHECK_FALSE(replies[0].promised);
  CHECK(replies[0].mbal == Ballot{5, kCoord});
  Output o2 =
      f.h.deliver(kCoord2, phase2a(t, Ballot{4, kCoord2}, {{kP1, Vote::Aborted}}, kBoth, kCoord2));
  CHECK_FALSE(has2bVote(o2, iv(kP1, Ballot{4, kCoord2}, Vote::Aborted)));
}

TEST_CASE("pitfall 3: votes survive a restart and are reported in 1b") {
  // A vote lost on restart lets a recovery leader propose Aborted over a chosen Prepared.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  f.h.restart();
  Output dup = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  CHECK(has2bVote(dup, iv0(kP1, Vote::Prepared)));
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{1, kCoord2}, kBoth));
  auto replies = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].promised);
  for (const auto& r : replies[0].reports) {
    CHECK(r.bal == Ballot::zero());
    CHECK(r.val == Vote::Prepared);
  }
}

TEST_CASE("pitfall 7: acks from every participant collect the state and leave a tombstone") {
  // Collecting before every participant made its outcome durable lets a late 1a see a
  // fresh instance and choose Aborted for a committed transaction.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output a1 = f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  CHECK(records<AcceptorForgetRecord>(a1).empty());
  CHECK(f.h.node().state(t) != nullptr);
  Output a2 = f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit});
  // The tombstone keeps the outcome the participants acked, for later outcome queries.
  CHECK(records<AcceptorForgetRecord>(a2) ==
        std::vector<AcceptorForgetRecord>{{t, Outcome::Commit}});
  CHECK(f.h.node().state(t) == nullptr);
  CHECK(f.h.node().isForgotten(t));
  Output late = f.h.deliver(kCoord, Phase1a{t, Ballot{9, kCoord}, {kP1, kP2}});
  auto bs = sent<Phase1b>(late);
  REQUIRE(bs.size() == 1);
  CHECK(bs[0].msg.forgotten);
  CHECK(bs[0].msg.outcome == std::optional(Outcome::Commit));
  CHECK(f.h.node().liveCount() == 0);
  CHECK(f.h.node().tombstoneCount() == 1);
}

TEST_CASE("GC acks batched: one AckBatch collects every transaction it completes, in one write") {
  // docs/PROTOCOL.md §4: a participant acks the outcomes of a tick in one message; the
  // acceptor handles its entries as that many acks and writes all their tombstones in one
  // Output (one batch for storage, so one LMDB write).
  AcceptorFixture f;
  for (uint64_t n = 1; n <= 3; ++n) {
    f.voteBoth(txnId(n));
    f.h.deliver(kP1, Ack{txnId(n), kP1, n == 2 ? Outcome::Abort : Outcome::Commit});
  }
  Output o = f.h.deliver(
      kP2, AckBatch{{Ack{txnId(1), kP2, Outcome::Commit}, Ack{txnId(2), kP2, Outcome::Abort},
                     Ack{txnId(3), kP2, Outcome::Commit},
                     Ack{txnId(9), kP2, Outcome::Commit}}});  // unknown here
  CHECK(records<AcceptorForgetRecord>(o) ==
        std::vector<AcceptorForgetRecord>{
            {txnId(1), Outcome::Commit}, {txnId(2), Outcome::Abort}, {txnId(3), Outcome::Commit}});
  CHECK(o.persist.size() == 3);
  CHECK(f.h.node().liveCount() == 0);
  CHECK(f.h.node().tombstoneCount() == 3);
  CHECK(f.h.node().rejected() == 0);
}

TEST_CASE("an AckBatch entry in another participant's name is refused, the sender's taken") {
  // Each entry is held to what an Ack alone is: a participant acks for itself only, or a
  // forged entry could collect state before that participant's outcome is durable.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output o =
      f.h.deliver(kP1, AckBatch{{Ack{t, kP2, Outcome::Commit}, Ack{t, kP1, Outcome::Commit}}});
  CHECK(f.h.node().rejected() == 1);
  CHECK(o.persist.empty());
  CHECK(f.h.node().state(t) != nullptr);  // kP2 has not acked: nothing collected
  Output a2 = f.h.deliver(kP2, AckBatch{{Ack{t, kP2, Outcome::Commit}}});
  CHECK(records<AcceptorForgetRecord>(a2) ==
        std::vector<AcceptorForgetRecord>{{t, Outcome::Commit}});
  Output forged = f.h.deliver(kCoord, AckBatch{{Ack{txnId(2), kCoord, Outcome::Commit}}});
  CHECK(forged.empty());
  CHECK(f.h.node().rejected() == 2);
}

TEST_CASE("pitfall 7: a late 1a or 2a for a collected transaction is answered forgotten") {
  // Treating a collected transaction as fresh would let a recovery leader choose Aborted.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit});
  Output o1 = f.h.deliver(kCoord2, phase1a(t, Ballot{1, kCoord2}, kBoth));
  CHECK(records<AcceptorTxnRecord>(o1).empty());
  auto r1 = sentTo<Phase1b>(o1, kCoord2);
  REQUIRE(r1.size() == 1);
  CHECK(r1[0].forgotten);
  CHECK_FALSE(r1[0].promised);
  Output o2 = f.h.deliver(kP1, vote0(t, kP1, Vote::Prepared, kBoth));
  o2.append(f.h.ticks(f.cfg.bundleCapTicks + 1));
  CHECK(records<AcceptorTxnRecord>(o2).empty());
  for (const auto& s : sent<Phase2b>(o2)) {
    CHECK(s.msg.forgotten);
    CHECK(s.msg.votes.empty());
  }
  CHECK(countSent<Phase2b>(o2) >= 1);
  Output o3 =
      f.h.deliver(kCoord2, phase2a(t, Ballot{1, kCoord2}, {{kP1, Vote::Aborted}}, kBoth, kCoord2));
  CHECK(records<AcceptorTxnRecord>(o3).empty());
  CHECK_FALSE(has2bVote(o3, iv(kP1, Ballot{1, kCoord2}, Vote::Aborted)));
  CHECK(f.h.node().state(t) == nullptr);
}

TEST_CASE("pitfall 7: the tombstone survives a restart") {
  // A tombstone kept only in memory is the same as none after a crash.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  f.h.deliver(kP2, Ack{t, kP2, Outcome::Commit});
  f.h.restart();
  CHECK(f.h.node().isForgotten(t));
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{1, kCoord2}, kBoth));
  auto r = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(r.size() == 1);
  CHECK(r[0].forgotten);
  CHECK(o.persist.empty());
}

TEST_CASE("pitfall 7: a transaction at or below the low-water mark with no state is forgotten") {
  // Tombstones below the mark are erased; the mark itself must keep refusing those ids.
  Recovered img;
  img.acceptorLowWater = txnId(10);
  AcceptorFixture f(Protocol::Paxos, img);
  CHECK(f.h.node().isForgotten(txnId(5)));
  CHECK(f.h.node().isForgotten(txnId(10)));
  Output old = f.h.deliver(kCoord2, phase1a(txnId(5), Ballot{1, kCoord2}, kBoth));
  CHECK(old.persist.empty());
  auto r = sentTo<Phase1b>(old, kCoord2);
  REQUIRE(r.size() == 1);
  CHECK(r[0].forgotten);
  Output fresh = f.h.deliver(kCoord2, phase1a(txnId(11), Ballot{1, kCoord2}, kBoth));
  auto r2 = sentTo<Phase1b>(fresh, kCoord2);
  REQUIRE(r2.size() == 1);
  CHECK(r2[0].promised);
  CHECK_FALSE(r2[0].forgotten);
}

TEST_CASE("acks from some participants only keep the state") {
  // One missing ack means that participant may still need the votes to learn the outcome.
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output o = f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  o.append(f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit}));
  CHECK(records<AcceptorForgetRecord>(o).empty());
  CHECK(f.h.node().state(t) != nullptr);
  CHECK_FALSE(f.h.node().isForgotten(t));
}

TEST_CASE("a missing ack is asked for after ackRequestTicks") {
  // If an ack is lost the state would never be collected; storage must stay bounded.
  AcceptorFixture f;
  f.cfg.ackRequestTicks = 10;
  f.h.restart();
  TxnId t = txnId(1);
  f.voteBoth(t);
  f.h.deliver(kP1, Ack{t, kP1, Outcome::Commit});
  Output o = f.h.ticks(25);
  CHECK(destinations<AckRequest>(o) == std::set<NodeId>{kP2});
  for (const auto& s : sent<AckRequest>(o)) CHECK(s.msg.txn == t);
}

TEST_CASE("the ack request's timer is announced by the write that arms it") {
  // A host that ticks on demand (runtime/node_host.h) sleeps until an announced tick; a
  // timer first announced by a later tick's Output would fire only at its idle wake-up.
  AcceptorFixture f;
  f.cfg.ackRequestTicks = 10;
  f.h.restart();
  TxnId t = txnId(1);
  Output flushed = f.voteBoth(t);
  REQUIRE(records<AcceptorTxnRecord>(flushed).size() == 1);
  CHECK(flushed.wakeAtTick != 0);
  CHECK(flushed.wakeAtTick <= f.h.node().now() + 10);
  // A 1a creates the state too (a recovery leader's, for a transaction never voted here).
  TxnId u = txnId(2);
  Output promised = f.h.deliver(kCoord2, phase1a(u, Ballot{1, kCoord2}, kBoth));
  REQUIRE(records<AcceptorTxnRecord>(promised).size() == 1);
  CHECK(promised.wakeAtTick != 0);
  CHECK(promised.wakeAtTick <= f.h.node().now() + 10);
}

TEST_CASE("a 1a with an empty participant list asks, and promises and changes nothing") {
  // A recovery leader that does not know the participants asks first (messages.h).
  AcceptorFixture f;
  TxnId t = txnId(1);
  f.voteBoth(t);
  Output o = f.h.deliver(kCoord2, phase1a(t, Ballot{1, kCoord2}, {}));
  CHECK(o.persist.empty());
  auto r = sentTo<Phase1b>(o, kCoord2);
  REQUIRE(r.size() == 1);
  CHECK(r[0].participants == kBoth);
  CHECK(f.inst(t, kP1)->mbal == Ballot::zero());
  CHECK(f.inst(t, kP2)->mbal == Ballot::zero());
}

TEST_CASE("a 2a at b > 0 for an unknown transaction creates its state") {
  // A leader's 2a may reach an acceptor that never saw ballot 0 or the 1a.
  AcceptorFixture f;
  TxnId t = txnId(3);
  Output o = f.h.deliver(
      kCoord,
      phase2a(t, Ballot{1, kCoord}, {{kP1, Vote::Aborted}, {kP2, Vote::Aborted}}, kBoth, kCoord));
  auto recs = records<AcceptorTxnRecord>(o);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].participants == kBoth);
  auto to = sentTo<Phase2b>(o, kCoord);
  REQUIRE(to.size() == 1);
  CHECK(sortedVotes(to[0].votes) ==
        std::vector<InstanceVote>{iv(kP1, Ballot{1, kCoord}, Vote::Aborted),
                                  iv(kP2, Ballot{1, kCoord}, Vote::Aborted)});
}

}  // namespace
}  // namespace pc
