// Unit tests of VoteTally (tally.h): when an instance is chosen and what the 2b seen imply
// (docs/PROTOCOL.md §4, pitfall 4).
#include "paxos_commit/tally.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using test::iv;
using test::iv0;
using test::kA1;
using test::kA2;
using test::kA3;

constexpr size_t kQuorum = 2;  // F = 1
const std::vector<NodeId> kAcceptors = {kA1, kA2, kA3};

TEST_CASE("an instance is chosen by F+1 distinct acceptors, not by F") {
  // Paxos: fewer than F+1 acceptors can be outvoted by a later ballot; deciding on F breaks
  // agreement.
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv0(1, Vote::Prepared));
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK_FALSE(t.decision().has_value());
  t.add(kA2, iv0(1, Vote::Prepared));
  CHECK(t.chosen(1) == Vote::Prepared);
  CHECK(t.decision() == Outcome::Commit);
}

TEST_CASE("pitfall 4: duplicate 2b from one acceptor count once") {
  // A redelivered 2b must not pass for a second acceptor, or one acceptor forms a quorum.
  VoteTally t({1}, kAcceptors, kQuorum);
  for (int i = 0; i < 5; ++i) t.add(kA1, iv0(1, Vote::Prepared));
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK_FALSE(t.decision().has_value());
}

TEST_CASE("pitfall 4: 2b at different ballots do not combine into a quorum") {
  // The same value at two ballots is not a quorum of either: count per (instance, ballot,
  // value).
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv0(1, Vote::Prepared));
  t.add(kA2, iv(1, Ballot{1, 50}, Vote::Prepared));
  t.add(kA3, iv(1, Ballot{2, 51}, Vote::Prepared));
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK_FALSE(t.decision().has_value());
  t.add(kA1, iv(1, Ballot{2, 51}, Vote::Prepared));
  CHECK(t.chosen(1) == Vote::Prepared);
}

TEST_CASE("2b with different values at one ballot do not combine") {
  // A quorum is per value too.
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv(1, Ballot{1, 50}, Vote::Prepared));
  t.add(kA2, iv(1, Ballot{1, 50}, Vote::Aborted));
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK_FALSE(t.decision().has_value());
}

TEST_CASE("Commit only when every instance is chosen Prepared, never on the first one") {
  // Committing while another instance may still be chosen Aborted breaks atomicity.
  VoteTally t({1, 2, 3}, kAcceptors, kQuorum);
  t.add(kA1, iv0(1, Vote::Prepared));
  t.add(kA2, iv0(1, Vote::Prepared));
  CHECK(t.chosen(1) == Vote::Prepared);
  CHECK_FALSE(t.decision().has_value());
  t.add(kA1, iv0(2, Vote::Prepared));
  t.add(kA3, iv0(2, Vote::Prepared));
  CHECK_FALSE(t.decision().has_value());
  t.add(kA1, iv0(3, Vote::Prepared));
  CHECK_FALSE(t.decision().has_value());
  t.add(kA2, iv0(3, Vote::Prepared));
  CHECK(t.decision() == Outcome::Commit);
}

TEST_CASE("instances chosen Prepared at different ballots still commit") {
  // Each instance is its own Paxos: instance 2 chosen by a recovery leader counts.
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  t.add(kA1, iv0(1, Vote::Prepared));
  t.add(kA2, iv0(1, Vote::Prepared));
  t.add(kA2, iv(2, Ballot{3, 50}, Vote::Prepared));
  t.add(kA3, iv(2, Ballot{3, 50}, Vote::Prepared));
  CHECK(t.decision() == Outcome::Commit);
}

TEST_CASE("Abort as soon as one instance is chosen Aborted") {
  // An instance chosen Aborted can never become Prepared: waiting for others only stalls.
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  t.add(kA1, iv(2, Ballot{1, 50}, Vote::Aborted));
  CHECK_FALSE(t.decision().has_value());  // a leader's Aborted at b > 0, not chosen yet
  t.add(kA2, iv(2, Ballot{1, 50}, Vote::Aborted));
  CHECK(t.chosen(2) == Vote::Aborted);
  CHECK(t.decision() == Outcome::Abort);
}

TEST_CASE("a single ballot-0 Aborted settles the transaction at once") {
  // Only the participant votes at ballot 0 and never twice: its Aborted can never be
  // outvoted, so one 2b is enough (docs/PROTOCOL.md §4).
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  t.add(kA1, iv0(1, Vote::Prepared));
  t.add(kA2, iv0(1, Vote::Prepared));
  t.add(kA3, iv0(2, Vote::Aborted));
  CHECK(t.decision() == Outcome::Abort);
}

TEST_CASE("a leader's Aborted at b > 0 seen once does not settle the transaction") {
  // At b > 0 that instance can still be chosen Prepared at a higher ballot (§4).
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv(1, Ballot{2, 50}, Vote::Aborted));
  CHECK_FALSE(t.decision().has_value());
  t.add(kA2, iv(1, Ballot{3, 51}, Vote::Prepared));
  t.add(kA3, iv(1, Ballot{3, 51}, Vote::Prepared));
  CHECK(t.decision() == Outcome::Commit);
}

TEST_CASE("2b for an instance outside the participant list are ignored") {
  // A stray instance must neither complete the set nor abort it.
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv0(7, Vote::Aborted));
  t.add(kA2, iv0(7, Vote::Aborted));
  CHECK_FALSE(t.decision().has_value());
  CHECK_FALSE(t.chosen(7).has_value());
  CHECK(t.silentInstances() == std::vector<NodeId>{1});
}

TEST_CASE("silentInstances lists the instances with no 2b at all") {
  // The ballot-0 leader resends prepare to exactly these participants.
  VoteTally t({1, 2, 3}, kAcceptors, kQuorum);
  CHECK(t.silentInstances() == std::vector<NodeId>{1, 2, 3});
  t.add(kA1, iv0(2, Vote::Prepared));
  CHECK(t.silentInstances() == std::vector<NodeId>{1, 3});
}

TEST_CASE("maxRoundSeen is the highest round of any 2b") {
  // A recovery leader must pick a ballot above every ballot seen for the transaction.
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  CHECK(t.maxRoundSeen() == 0);
  t.add(kA1, iv(1, Ballot{7, 60}, Vote::Prepared));
  t.add(kA2, iv(2, Ballot{3, 61}, Vote::Prepared));
  CHECK(t.maxRoundSeen() == 7);
}

TEST_CASE("an empty tally decides nothing") {
  // A default tally (participants unknown yet) must never report Commit.
  VoteTally t;
  CHECK_FALSE(t.decision().has_value());
  VoteTally u({}, kAcceptors, kQuorum);
  CHECK_FALSE(u.decision().has_value());
}

TEST_CASE("membership: 2b from ids that are not configured acceptors never count") {
  // Issue 12 (1): two 2b from ids 9001 and 9002 made F+1 and decided Commit.
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  CHECK_FALSE(tallyCounts(kAcceptors, 9001));
  CHECK(tallyCounts(kAcceptors, kA2));
  for (NodeId ghost : {9001u, 9002u, 9003u}) {
    t.add(ghost, iv0(1, Vote::Prepared));
    t.add(ghost, iv0(2, Vote::Prepared));
  }
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK_FALSE(t.decision().has_value());
  CHECK(t.silentInstances() == std::vector<NodeId>{1, 2});
}

TEST_CASE("rounds: a 2b above the round bound is ignored and never raises maxRoundSeen") {
  // Issue 12 (3): a leader going above 2^64-1 wraps to round 0.
  VoteTally t({1}, kAcceptors, kQuorum);
  t.add(kA1, iv(1, Ballot{~uint64_t{0}, 50}, Vote::Prepared));
  t.add(kA2, iv(1, Ballot{~uint64_t{0}, 50}, Vote::Prepared));
  CHECK_FALSE(t.chosen(1).has_value());
  CHECK(t.maxRoundSeen() == 0);
}

TEST_CASE("bounded: past kMaxEntries keys a tally ignores new ones and still counts the old") {
  // An acceptor outside the fault model sending 2b for ballots nobody asked for must not
  // make the tally grow (or its scan slow) without bound.
  VoteTally t({1, 2}, kAcceptors, kQuorum);
  t.add(kA1, iv(1, Ballot{1, 7}, Vote::Prepared));  // key 1 of the bound
  for (uint64_t r = 2; r <= VoteTally::kMaxEntries + 50; ++r)
    t.add(kA3, iv(2, Ballot{r, 7}, Vote::Aborted));
  CHECK(t.maxRoundSeen() == VoteTally::kMaxEntries + 50);
  // A key seen before the bound still counts its second acceptor.
  t.add(kA2, iv(1, Ballot{1, 7}, Vote::Prepared));
  CHECK(t.chosen(1) == Vote::Prepared);
  // A key first seen past the bound is ignored, even with a quorum behind it.
  t.add(kA1, iv(2, Ballot{VoteTally::kMaxEntries + 50, 7}, Vote::Aborted));
  t.add(kA2, iv(2, Ballot{VoteTally::kMaxEntries + 50, 7}, Vote::Aborted));
  CHECK_FALSE(t.chosen(2).has_value());
  // One below it was kept: kA3's vote and one more make a quorum.
  t.add(kA1, iv(2, Ballot{VoteTally::kMaxEntries, 7}, Vote::Aborted));
  CHECK(t.chosen(2) == Vote::Aborted);
  CHECK(t.decision() == Outcome::Abort);
}

}  // namespace
}  // namespace pc
