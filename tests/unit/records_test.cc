// Unit tests of records.cc: applyRecord is the reference semantics of every durable
// record (the simulator's disk is exactly this; storage/ must match it).
#include "paxos_commit/records.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using test::txnId;

AcceptorTxnRecord acceptorRec(const TxnId& t, Ballot mbal) {
  AcceptorTxnRecord r;
  r.txn = t;
  r.participants = {1, 2};
  r.leader = 50;
  r.instances = {AcceptorInstance{1, mbal, mbal, Vote::Prepared},
                 AcceptorInstance{2, mbal, std::nullopt, std::nullopt}};
  return r;
}

ParticipantTxnRecord participantRec(const TxnId& t, ParticipantState s) {
  return ParticipantTxnRecord{t, s, "payload", {1, 2}, 50, ""};
}

TEST_CASE("AcceptorTxnRecord is an upsert keyed by txn") {
  // A later acceptor write replaces the earlier one; two copies would reload stale mbal.
  Recovered img;
  applyRecord(img, acceptorRec(txnId(1), Ballot::zero()));
  applyRecord(img, acceptorRec(txnId(2), Ballot::zero()));
  applyRecord(img, acceptorRec(txnId(1), Ballot{4, 50}));
  REQUIRE(img.acceptorTxns.size() == 2);
  const auto* r = test::findAcceptorTxn(img, txnId(1));
  REQUIRE(r != nullptr);
  CHECK(r->instances[0].mbal == Ballot{4, 50});
}

TEST_CASE("AcceptorForgetRecord erases the state and leaves one tombstone") {
  // Pitfall 7: a collected txn must leave a tombstone, or a late 1a/2a starts afresh.
  Recovered img;
  applyRecord(img, acceptorRec(txnId(1), Ballot::zero()));
  applyRecord(img, acceptorRec(txnId(2), Ballot::zero()));
  applyRecord(img, AcceptorForgetRecord{txnId(1), Outcome::Commit});
  CHECK(test::findAcceptorTxn(img, txnId(1)) == nullptr);
  CHECK(test::findAcceptorTxn(img, txnId(2)) != nullptr);
  REQUIRE(img.acceptorTombstones.size() == 1);
  // The tombstone keeps the outcome the participants acked, for later outcome queries.
  CHECK(img.acceptorTombstones[0] == AcceptorTombstone{txnId(1), Outcome::Commit});
  applyRecord(img, AcceptorForgetRecord{txnId(1)});  // idempotent
  CHECK(img.acceptorTombstones.size() == 1);
}

TEST_CASE("AcceptorLowWaterRecord erases tombstones <= mark and never lowers the mark") {
  // The low-water mark replaces tombstones below it; lowering it would revive old ids.
  Recovered img;
  for (uint64_t i = 1; i <= 4; ++i) applyRecord(img, AcceptorForgetRecord{txnId(i)});
  applyRecord(img, AcceptorLowWaterRecord{txnId(2)});
  CHECK(img.acceptorLowWater == txnId(2));
  CHECK(img.acceptorTombstones == std::vector<AcceptorTombstone>{{txnId(3)}, {txnId(4)}});
  applyRecord(img, AcceptorLowWaterRecord{txnId(1)});
  CHECK(img.acceptorLowWater == txnId(2));
  // A forget at or below the mark needs no tombstone: the mark already covers it.
  applyRecord(img, AcceptorForgetRecord{txnId(2)});
  CHECK(img.acceptorTombstones.size() == 2);
}

TEST_CASE("a low-water mark never erases live acceptor state") {
  // Only tombstones go below the mark; live votes of an old txn must survive reload.
  Recovered img;
  applyRecord(img, acceptorRec(txnId(1), Ballot::zero()));
  applyRecord(img, AcceptorLowWaterRecord{txnId(5)});
  CHECK(test::findAcceptorTxn(img, txnId(1)) != nullptr);
}

TEST_CASE("ParticipantTxnRecord is an upsert keyed by txn") {
  // Prepared then Committed for one txn must reload as Committed, once.
  Recovered img;
  applyRecord(img, participantRec(txnId(1), ParticipantState::Prepared));
  applyRecord(img, participantRec(txnId(1), ParticipantState::Committed));
  REQUIRE(img.participantTxns.size() == 1);
  CHECK(img.participantTxns[0].state == ParticipantState::Committed);
}

TEST_CASE("participant low-water erasures never erase a Prepared record") {
  // Pitfall 1: erasing a prepared record would drop its locks and let it vote again.
  Recovered img;
  applyRecord(img, participantRec(txnId(1), ParticipantState::Prepared));
  applyRecord(img, participantRec(txnId(2), ParticipantState::Committed));
  applyRecord(img, participantRec(txnId(3), ParticipantState::Aborted));
  applyRecord(img, participantRec(txnId(4), ParticipantState::VotedAborted));
  applyRecord(img, participantRec(txnId(9), ParticipantState::Committed));
  applyRecord(img, ParticipantLowWaterRecord{txnId(5)});
  CHECK(img.participantLowWater == txnId(5));
  REQUIRE(img.participantTxns.size() == 2);
  CHECK(test::findParticipantTxn(img, txnId(1)) != nullptr);  // Prepared survives
  CHECK(test::findParticipantTxn(img, txnId(9)) != nullptr);  // above the mark
  applyRecord(img, ParticipantLowWaterRecord{txnId(3)});
  CHECK(img.participantLowWater == txnId(5));  // never lowered
}

TEST_CASE("LeaderRoundRecord only ever raises the round") {
  // A leader must never reuse a round after restart: the reloaded round is the maximum.
  Recovered img;
  applyRecord(img, LeaderRoundRecord{3});
  applyRecord(img, LeaderRoundRecord{7});
  applyRecord(img, LeaderRoundRecord{5});
  CHECK(img.leaderRound == 7);
}

TEST_CASE("DecisionRecord upserts; the low-water mark erases only done decisions") {
  // An undone Commit decision must survive GC, or a restarted 2PC coordinator presumes abort.
  Recovered img;
  applyRecord(img, DecisionRecord{txnId(1), {1, 2}, false});
  applyRecord(img, DecisionRecord{txnId(2), {1, 2}, false});
  applyRecord(img, DecisionRecord{txnId(2), {}, true});
  applyRecord(img, DecisionRecord{txnId(8), {}, true});
  REQUIRE(img.decisions.size() == 3);
  CHECK(test::findDecision(img, txnId(2))->done);
  applyRecord(img, DecisionLowWaterRecord{txnId(4)});
  CHECK(img.decisionLowWater == txnId(4));
  CHECK(test::findDecision(img, txnId(1)) != nullptr);
  CHECK(test::findDecision(img, txnId(2)) == nullptr);
  CHECK(test::findDecision(img, txnId(8)) != nullptr);
  applyRecord(img, DecisionLowWaterRecord{txnId(2)});
  CHECK(img.decisionLowWater == txnId(4));
}

TEST_CASE("supersededRecords marks the rows a later record overwrites or erases") {
  // A checkpoint of the record log skips these; every other kind is always applied.
  std::vector<Record> seq = {
      acceptorRec(txnId(1), Ballot::zero()),  // 0: forgotten below -> skipped
      acceptorRec(txnId(2), Ballot::zero()),  // 1: overwritten below -> skipped
      AcceptorForgetRecord{txnId(1), Outcome::Commit},
      acceptorRec(txnId(2), Ballot{3, 50}),             // 3: the last of txn 2 -> kept
      AcceptorForgetRecord{txnId(1), Outcome::Commit},  // a second forget: kept
      DecisionRecord{txnId(3), {1, 2}, false},          // 5: overwritten below -> skipped
      AcceptorLowWaterRecord{txnId(9)},
      DecisionRecord{txnId(3), {}, true},
      participantRec(txnId(4), ParticipantState::Prepared),
      participantRec(txnId(4), ParticipantState::Committed),  // participants: never skipped
      acceptorRec(txnId(5), Ballot::zero()),                  // a forget *before* it does not count
  };
  seq.insert(seq.begin() + 10, AcceptorForgetRecord{txnId(5), Outcome::Abort});
  std::vector<bool> want = {true,  true,  false, false, false, true,
                            false, false, false, false, false, false};
  CHECK(supersededRecords(seq) == want);
  CHECK(supersededRecords({}).empty());

  // The image without the skipped records is the image with them.
  Recovered all, kept;
  const auto skip = supersededRecords(seq);
  for (size_t i = 0; i < seq.size(); ++i) {
    applyRecord(all, seq[i]);
    if (!skip[i]) applyRecord(kept, seq[i]);
  }
  CHECK(all.acceptorTxns == kept.acceptorTxns);
  CHECK(all.acceptorTombstones == kept.acceptorTombstones);
  CHECK(all.decisions == kept.decisions);
  CHECK(all.participantTxns == kept.participantTxns);
}

TEST_CASE("isCriticalRecord counts exactly the commit-path synced writes") {
  // The benchmark's "synced writes" column (docs/PROTOCOL.md §7) counts these records.
  CHECK(isCriticalRecord(acceptorRec(txnId(1), Ballot::zero())));
  CHECK(isCriticalRecord(participantRec(txnId(1), ParticipantState::Prepared)));
  CHECK(isCriticalRecord(participantRec(txnId(1), ParticipantState::VotedAborted)));
  CHECK_FALSE(isCriticalRecord(participantRec(txnId(1), ParticipantState::Committed)));
  CHECK_FALSE(isCriticalRecord(participantRec(txnId(1), ParticipantState::Aborted)));
  CHECK(isCriticalRecord(LeaderRoundRecord{1}));
  CHECK(isCriticalRecord(DecisionRecord{txnId(1), {1}, false}));
  CHECK_FALSE(isCriticalRecord(DecisionRecord{txnId(1), {}, true}));
  CHECK_FALSE(isCriticalRecord(AcceptorForgetRecord{txnId(1)}));
  CHECK_FALSE(isCriticalRecord(AcceptorLowWaterRecord{txnId(1)}));
  CHECK_FALSE(isCriticalRecord(ParticipantLowWaterRecord{txnId(1)}));
  CHECK_FALSE(isCriticalRecord(DecisionLowWaterRecord{txnId(1)}));
}

TEST_CASE("every record kind has a distinct name") {
  // storage/ maps record kinds to named databases by these names.
  std::vector<Record> all = {acceptorRec(txnId(1), Ballot::zero()),
                             AcceptorForgetRecord{},
                             AcceptorLowWaterRecord{},
                             participantRec(txnId(1), ParticipantState::Prepared),
                             ParticipantLowWaterRecord{},
                             LeaderRoundRecord{},
                             DecisionRecord{},
                             DecisionLowWaterRecord{}};
  std::set<std::string> names;
  for (const auto& r : all) names.insert(recordName(r));
  CHECK(names.size() == all.size());
  CHECK(std::string(toString(ParticipantState::Prepared)) == "prepared");
}

}  // namespace
}  // namespace pc

namespace pc {
namespace {

using namespace pc::test;

Output sending(Message m, NodeId from = 9, NodeId to = 8) {
  Output o;
  o.send.push_back(env(from, to, std::move(m)));
  return o;
}

TEST_CASE("test_util: the durable-before-send checker bites") {
  // A checker that never complains proves nothing (docs/STYLE.md): each promise kind without
  // its record must be reported, and with it (now or earlier) must not.
  TxnId t = txnId(1);
  Recovered empty;
  // Acceptor 2b.
  Output b2 = sending(phase2b(t, kA1, {iv0(kP1, Vote::Prepared)}, {kP1}));
  CHECK(unjustifiedPromises(b2, empty, Role::Acceptor).size() == 1);
  AcceptorTxnRecord rec{t, {kP1}, kCoord, {{kP1, Ballot::zero(), Ballot::zero(), Vote::Prepared}}};
  Output b2ok = b2;
  b2ok.persist.push_back(rec);
  CHECK(unjustifiedPromises(b2ok, empty, Role::Acceptor).empty());
  Recovered earlier;
  applyRecord(earlier, rec);
  CHECK(unjustifiedPromises(b2, earlier, Role::Acceptor).empty());
  Output b2wrong = sending(phase2b(t, kA1, {iv0(kP1, Vote::Aborted)}, {kP1}));
  CHECK(unjustifiedPromises(b2wrong, earlier, Role::Acceptor).size() == 1);
  // Acceptor 1b: a promise needs a durable mbal >= ballot.
  Output b1 = sending(promise(t, kA1, Ballot{2, kCoord}, {kP1}, {noVote(kP1)}));
  CHECK(unjustifiedPromises(b1, earlier, Role::Acceptor).size() == 1);
  // Participant: ballot-0 vote, 2PC vote and ack need their records.
  Output v0 = sending(vote0(t, kP1, Vote::Prepared, {kP1}));
  CHECK(unjustifiedPromises(v0, empty, Role::Participant).size() == 1);
  Recovered prepared;
  applyRecord(prepared, ParticipantTxnRecord{t, ParticipantState::Prepared, "", {kP1}, kCoord, ""});
  CHECK(unjustifiedPromises(v0, prepared, Role::Participant).empty());
  CHECK(unjustifiedPromises(sending(VoteMsg{t, kP1, Vote::Prepared, ""}), empty, Role::Participant)
            .size() == 1);
  CHECK(unjustifiedPromises(sending(Ack{t, kP1, Outcome::Commit}), prepared, Role::Participant)
            .size() == 1);
  // Leader: a 2a at b > 0 needs its round durable.
  Output a2 = sending(phase2a(t, Ballot{3, kCoord}, {{kP1, Vote::Aborted}}, {kP1}, kCoord));
  CHECK(unjustifiedPromises(a2, empty, Role::Leader).size() == 1);
  a2.persist.push_back(LeaderRoundRecord{3});
  CHECK(unjustifiedPromises(a2, empty, Role::Leader).empty());
  // 2PC: Commit (to participants or the client) needs the decision; Abort does not.
  CHECK(unjustifiedPromises(sending(OutcomeMsg{t, Outcome::Commit}), empty, Role::TwoPcCoordinator)
            .size() == 1);
  CHECK(unjustifiedPromises(sending(CommitReply{t, TxnStatus::Committed, ""}), empty,
                            Role::TwoPcCoordinator)
            .size() == 1);
  CHECK(unjustifiedPromises(sending(OutcomeMsg{t, Outcome::Abort}), empty, Role::TwoPcCoordinator)
            .empty());
}

TEST_CASE("test_util: the record invariant checker bites") {
  // mbal going down or bal above mbal must be reported (docs/PROTOCOL.md §8).
  TxnId t = txnId(1);
  Recovered disk;
  applyRecord(disk, AcceptorTxnRecord{t, {kP1}, kCoord, {{kP1, Ballot{5, kCoord}, {}, {}}}});
  Output down;
  down.persist.push_back(AcceptorTxnRecord{t, {kP1}, kCoord, {{kP1, Ballot{4, kCoord}, {}, {}}}});
  CHECK_FALSE(recordInvariantViolations(down, disk).empty());
  Output above;
  above.persist.push_back(AcceptorTxnRecord{
      t, {kP1}, kCoord, {{kP1, Ballot{5, kCoord}, Ballot{6, kCoord}, Vote::Prepared}}});
  CHECK_FALSE(recordInvariantViolations(above, disk).empty());
  Output fine;
  fine.persist.push_back(AcceptorTxnRecord{
      t, {kP1}, kCoord, {{kP1, Ballot{6, kCoord}, Ballot{6, kCoord}, Vote::Prepared}}});
  CHECK(recordInvariantViolations(fine, disk).empty());
  Output round;
  round.persist.push_back(LeaderRoundRecord{1});
  Recovered leader;
  leader.leaderRound = 3;
  CHECK_FALSE(recordInvariantViolations(round, leader).empty());
}

}  // namespace
}  // namespace pc
