// Unit tests of the Leader (leader.h): ballot 0 at a coordinator, recovery at a fresh
// ballot, and what it tells participants, clients and askers (docs/PROTOCOL.md §4, §5, §6).
#include "paxos_commit/leader.h"

#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

const ParticipantList kBoth = {kP1, kP2};
const std::set<NodeId> kAllAcceptors = {kA1, kA2, kA3};
constexpr NodeId kAsker = 77;

// A Leader hosted on a simulated disk: Outputs are checked for durable-before-send and
// their records applied; restart() builds a new Leader from the durable round only.
struct LeaderFixture {
  explicit LeaderFixture(Protocol p = Protocol::Paxos, uint64_t persistedRound = 0)
      : cfg(makeConfig(p)), rng(11) {
    disk.leaderRound = persistedRound;
    leader = std::make_unique<Leader>(kCoord, cfg, rng, disk.leaderRound);
  }

  Output step(Output o) {
    auto bad = unjustifiedPromises(o, disk, Role::Leader);
    CHECK_MESSAGE(bad.empty(), "durable-before-send violated:\n" << joinLines(bad) << dump(o));
    auto broken = recordInvariantViolations(o, disk);
    CHECK_MESSAGE(broken.empty(), joinLines(broken));
    for (const auto& r : o.persist) applyRecord(disk, r);
    for (const auto& e : o.send) CHECK(e.from == kCoord);
    leader->checkInvariants();
    return o;
  }
  Output begin(const TxnId& t) {
    return step(leader->begin(request(t, {{kP1, "p1"}, {kP2, "p2"}}), kClient, now));
  }
  Output recover(const TxnId& t, const ParticipantList& ps = kBoth, NodeId asker = kAsker) {
    return step(leader->recover(t, ps, asker, now));
  }
  Output b2(const TxnId& t, NodeId acceptor, std::vector<InstanceVote> votes) {
    return step(leader->onPhase2b(acceptor, phase2b(t, acceptor, std::move(votes), kBoth), now));
  }
  Output b1(const Phase1b& m) { return step(leader->onPhase1b(m.acceptor, m, now)); }
  Output tick() { return step(leader->onTick(++now)); }
  Output ticks(uint64_t n) {
    Output all;
    for (uint64_t i = 0; i < n; ++i) all.append(tick());
    return all;
  }
  void restart() { leader = std::make_unique<Leader>(kCoord, cfg, rng, disk.leaderRound); }

  // The ballot of the (single) 1a round in `o`.
  static Ballot ballotOf1a(const Output& o) {
    auto as = sent<Phase1a>(o);
    REQUIRE_FALSE(as.empty());
    for (const auto& s : as) CHECK(s.msg.ballot == as[0].msg.ballot);
    return as[0].msg.ballot;
  }

  CoreConfig cfg;
  Rng rng;
  Recovered disk;
  std::unique_ptr<Leader> leader;
  uint64_t now = 0;
};

std::vector<InstanceVote> allPrepared0() {
  return {iv0(kP1, Vote::Prepared), iv0(kP2, Vote::Prepared)};
}

TEST_CASE("ballot 0: begin sends Prepare to each participant with its payload") {
  // Each participant must get its own payload, the full list (for its 2a) and where to
  // send (leader = self); ballot 0 needs no durable leader state.
  LeaderFixture f;
  TxnId t = txnId(1);
  Output o = f.begin(t);
  CHECK(o.persist.empty());
  CHECK(destinations<Prepare>(o) == std::set<NodeId>{kP1, kP2});
  CHECK(o.send.size() == 2);
  auto p1 = sentTo<Prepare>(o, kP1);
  auto p2 = sentTo<Prepare>(o, kP2);
  REQUIRE(p1.size() == 1);
  REQUIRE(p2.size() == 1);
  CHECK(p1[0] == Prepare{t, "p1", kBoth, kCoord});
  CHECK(p2[0] == Prepare{t, "p2", kBoth, kCoord});
  CHECK(f.leader->isActive(t));
  REQUIRE(f.leader->request(t) != nullptr);
  CHECK(f.leader->request(t)->payloads.size() == 2);
}

TEST_CASE("classic: on F+1 matching 2b for every instance, tell participants and client") {
  // Classic Paxos Commit: participants learn only from the leader's phase 3.
  LeaderFixture f(Protocol::PaxosClassic);
  TxnId t = txnId(1);
  f.begin(t);
  Output o1 = f.b2(t, kA1, allPrepared0());
  CHECK(o1.send.empty());
  CHECK(o1.learned.empty());
  Output o2 = f.b2(t, kA3, allPrepared0());
  CHECK(learnedOutcome(o2, t, Outcome::Commit));
  CHECK(destinations<OutcomeMsg>(o2) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o2)) CHECK(s.msg == OutcomeMsg{t, Outcome::Commit});
  auto replies = sentTo<CommitReply>(o2, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].txn == t);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(o2.send.size() == 3);
  CHECK_FALSE(f.leader->isActive(t));
  CHECK(f.leader->finishedStatus(t) == TxnStatus::Committed);
}

TEST_CASE("faster paxos: at ballot 0 the leader answers the client only") {
  // Participants learn from the acceptors' 2b; a phase 3 would only add N messages (§7).
  LeaderFixture f(Protocol::Paxos);
  TxnId t = txnId(1);
  f.begin(t);
  f.b2(t, kA1, allPrepared0());
  Output o = f.b2(t, kA2, allPrepared0());
  CHECK(learnedOutcome(o, t, Outcome::Commit));
  CHECK(countSent<OutcomeMsg>(o) == 0);
  CHECK(destinations<CommitReply>(o) == std::set<NodeId>{kClient});
  CHECK(o.send.size() == 1);
}

TEST_CASE("a ballot-0 Aborted 2b aborts at once and the client hears the reason") {
  // §4: the participant's own Aborted settles the transaction; the reason explains it.
  LeaderFixture f(Protocol::PaxosClassic);
  TxnId t = txnId(1);
  f.begin(t);
  Phase2b m = phase2b(t, kA2, {iv0(kP2, Vote::Aborted)}, kBoth);
  m.reason = "conflict: key 'k'";
  Output o = f.step(f.leader->onPhase2b(m.acceptor, m, f.now));
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  auto replies = sentTo<CommitReply>(o, kClient);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Aborted);
  CHECK(replies[0].reason.find("conflict") != std::string::npos);
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o)) CHECK(s.msg.outcome == Outcome::Abort);
  CHECK(f.leader->finishedStatus(t) == TxnStatus::Aborted);
}

TEST_CASE("a leader never commits on the first Prepared, nor on F acceptors") {
  // §4: Commit iff every instance is chosen Prepared by F+1 acceptors.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output o = f.b2(t, kA1, allPrepared0());
  o.append(f.b2(t, kA2, {iv0(kP1, Vote::Prepared)}));
  o.append(f.b2(t, kA3, {iv0(kP1, Vote::Prepared)}));
  CHECK(o.learned.empty());
  CHECK(countSent<CommitReply>(o) == 0);
  CHECK(f.leader->isActive(t));
}

TEST_CASE("pitfall 4: a leader counts duplicate 2b from one acceptor once") {
  // A duplicated 2b must not stand in for a second acceptor.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output o;
  for (int i = 0; i < 3; ++i) o.append(f.b2(t, kA1, allPrepared0()));
  CHECK(o.learned.empty());
  CHECK(countSent<CommitReply>(o) == 0);
}

TEST_CASE("ballot 0: prepare is resent to silent participants only") {
  // A lost Prepare is repaired by resending it; resending to participants whose vote was
  // seen is wasted messages.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  f.b2(t, kA1, {iv0(kP1, Vote::Prepared)});
  Output o = f.ticks(f.cfg.prepareRetryTicks);
  CHECK(destinations<Prepare>(o) == std::set<NodeId>{kP2});
  for (const auto& s : sent<Prepare>(o)) CHECK(s.msg == Prepare{t, "p2", kBoth, kCoord});
}

TEST_CASE("pitfall 6: a ballot-0 leader's timeout starts recovery, never a guessed abort") {
  // A slow participant is not an aborted one: after leaderTimeoutTicks the leader runs
  // phase 1 at a ballot it owns, and tells the client nothing it does not know.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output early = f.ticks(f.cfg.leaderTimeoutTicks - 1);
  CHECK(countSent<Phase1a>(early) == 0);
  CHECK(countSent<CommitReply>(early) == 0);
  Output o = f.ticks(f.cfg.ballotRetryTicks);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  Ballot b = LeaderFixture::ballotOf1a(o);
  CHECK(b.round >= 1);
  CHECK(b.leader == kCoord);
  for (const auto& s : sent<Phase1a>(o)) CHECK(s.msg.participants == kBoth);
  CHECK(countSent<CommitReply>(o) == 0);
  CHECK(o.learned.empty());
  CHECK_FALSE(o.recoveriesStarted.empty());
}

TEST_CASE("recovery: phase 1a at a ballot above every ballot seen") {
  // A recovery ballot at or below one already used can be refused forever or, worse,
  // collide with another leader's ballot.
  LeaderFixture f(Protocol::Paxos, 10);
  TxnId t = txnId(1);
  Output o = f.recover(t);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  Ballot b = LeaderFixture::ballotOf1a(o);
  CHECK(b.round > 10);
  CHECK(b.leader == kCoord);
  CHECK_FALSE(o.recoveriesStarted.empty());
  CHECK(o.recoveriesStarted[0].txn == t);
  CHECK(o.recoveriesStarted[0].ballot == b);
  CHECK(countSent<Phase2a>(o) == 0);
}

TEST_CASE("recovery: a refusal with a higher mbal makes the next ballot go above it") {
  // §5 step 2: acceptors answer with their mbal so the leader can skip ahead.
  LeaderFixture f;
  TxnId t = txnId(1);
  Output o = f.recover(t);
  Ballot b = LeaderFixture::ballotOf1a(o);
  Phase1b no;
  no.txn = t;
  no.acceptor = kA1;
  no.ballot = b;
  no.promised = false;
  no.mbal = Ballot{20, 61};
  no.participants = kBoth;
  Output r = f.b1(no);
  no.acceptor = kA2;
  r.append(f.b1(no));
  // The retry is backed off (up to 4x ballotRetryTicks after the first ballot, jitter
  // included) so duelling leaders drift apart; within 8x it must have happened.
  r.append(f.ticks(8 * f.cfg.ballotRetryTicks));
  auto as = sent<Phase1a>(r);
  REQUIRE_FALSE(as.empty());
  CHECK(as.back().msg.ballot.round > 20);
  CHECK(as.back().msg.ballot.leader == kCoord);
  CHECK(countSent<Phase2a>(r) == 0);
}

TEST_CASE("pitfall 2: recovery leader proposes the highest-ballot value, not Aborted") {
  // Proposing Aborted over a reported Prepared could overturn a chosen Prepared: one
  // participant commits while another aborts.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(
      t, kA1, b, kBoth,
      {voted(kP1, Ballot{2, 60}, Vote::Aborted), voted(kP2, Ballot{3, 61}, Vote::Aborted)}));
  Output o = f.b1(promise(
      t, kA2, b, kBoth,
      {voted(kP1, Ballot{3, 61}, Vote::Prepared), voted(kP2, Ballot::zero(), Vote::Prepared)}));
  CHECK(destinations<Phase2a>(o) == kAllAcceptors);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(s.msg.txn == t);
    CHECK(s.msg.participants == kBoth);
    CHECK(s.msg.leader == kCoord);
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  }
}

TEST_CASE("pitfall 2: a ballot-0 Prepared shown by one acceptor of the quorum is kept") {
  // One acceptor's ballot-0 Prepared may be part of a chosen quorum with an acceptor that
  // did not answer: only a vote nobody reported may be replaced by Aborted.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(t, kA1, b, kBoth, {voted(kP1, Ballot::zero(), Vote::Prepared), noVote(kP2)}));
  Output o = f.b1(promise(t, kA3, b, kBoth, {noVote(kP1), noVote(kP2)}));
  REQUIRE(countSent<Phase2a>(o) == 3);
  for (const auto& s : sent<Phase2a>(o)) {
    CHECK(sortedVotes(s.msg.votes) ==
          std::vector<InstanceVote>{iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Aborted)});
  }
}

TEST_CASE("recovery: the round is durable before the 2a, in the same Output") {
  // §3: a leader that restarts and reuses a round could send two different 2a at one
  // ballot.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)}));
  Output o = f.b1(promise(t, kA2, b, kBoth, {noVote(kP1), noVote(kP2)}));
  REQUIRE(countSent<Phase2a>(o) > 0);
  auto rounds = records<LeaderRoundRecord>(o);
  REQUIRE_FALSE(rounds.empty());
  CHECK(rounds.back().round >= b.round);
  CHECK(f.leader->persistedRound() >= b.round);
}

TEST_CASE("recovery: no 2a on F promises, and duplicate 1b count once") {
  // F+1 promises are what makes the proposal safe; one acceptor twice is only one.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  Output o = f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)}));
  o.append(f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)})));
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(o.persist.empty());
}

TEST_CASE("recovery: promises for another ballot do not count") {
  // A 1b at an older ballot promises nothing about this one.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  Ballot older{b.round, kCoord - 1};  // another, lower ballot of the same round
  Output o = f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)}));
  o.append(f.b1(promise(t, kA2, older, kBoth, {noVote(kP1), noVote(kP2)})));
  CHECK(countSent<Phase2a>(o) == 0);
}

TEST_CASE("recovery: decides on F+1 matching 2b and always tells the participants") {
  // §5 step 4: a recovery leader's decision reaches participants that may be in doubt,
  // in the faster variant too, and the asker gets the status.
  LeaderFixture f(Protocol::Paxos);
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(
      t, kA1, b, kBoth,
      {voted(kP1, Ballot::zero(), Vote::Prepared), voted(kP2, Ballot::zero(), Vote::Prepared)}));
  f.b1(promise(
      t, kA2, b, kBoth,
      {voted(kP1, Ballot::zero(), Vote::Prepared), voted(kP2, Ballot::zero(), Vote::Prepared)}));
  std::vector<InstanceVote> votes = {iv(kP1, b, Vote::Prepared), iv(kP2, b, Vote::Prepared)};
  Output o1 = f.b2(t, kA1, votes);
  CHECK(o1.learned.empty());
  Output o2 = f.b2(t, kA3, votes);
  CHECK(learnedOutcome(o2, t, Outcome::Commit));
  CHECK(destinations<OutcomeMsg>(o2) == std::set<NodeId>{kP1, kP2});
  for (const auto& s : sent<OutcomeMsg>(o2)) CHECK(s.msg.outcome == Outcome::Commit);
  auto replies = sentTo<OutcomeReply>(o2, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(f.leader->finishedStatus(t) == TxnStatus::Committed);
}

TEST_CASE("recovery: an Abort decision also reaches every participant") {
  // In-doubt participants hold locks until told.
  LeaderFixture f(Protocol::Paxos);
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)}));
  f.b1(promise(t, kA2, b, kBoth, {noVote(kP1), noVote(kP2)}));
  std::vector<InstanceVote> votes = {iv(kP1, b, Vote::Aborted), iv(kP2, b, Vote::Aborted)};
  f.b2(t, kA1, votes);
  Output o = f.b2(t, kA2, votes);
  CHECK(learnedOutcome(o, t, Outcome::Abort));
  CHECK(destinations<OutcomeMsg>(o) == std::set<NodeId>{kP1, kP2});
  auto replies = sentTo<OutcomeReply>(o, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Aborted);
}

TEST_CASE("a restarted leader never reuses a round") {
  // §1: rounds are unique per leader because the highest is persisted before use.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  f.b1(promise(t, kA1, b, kBoth, {noVote(kP1), noVote(kP2)}));
  f.b1(promise(t, kA2, b, kBoth, {noVote(kP1), noVote(kP2)}));
  REQUIRE(f.disk.leaderRound >= b.round);
  f.restart();
  Ballot b2 = LeaderFixture::ballotOf1a(f.recover(txnId(2)));
  CHECK(b2.round > b.round);
}

TEST_CASE("recovery with no participant list asks the acceptors first") {
  // A coordinator asked about a txn it never saw must learn its instances before phase 1
  // (messages.h: a 1a with an empty list promises nothing).
  LeaderFixture f;
  TxnId t = txnId(1);
  Output o = f.recover(t, {}, kAsker);
  CHECK(destinations<Phase1a>(o) == kAllAcceptors);
  for (const auto& s : sent<Phase1a>(o)) CHECK(s.msg.participants.empty());
  Phase1b ans;
  ans.txn = t;
  ans.ballot = sent<Phase1a>(o)[0].msg.ballot;
  ans.promised = false;
  ans.participants = kBoth;
  ans.reports = {voted(kP1, Ballot::zero(), Vote::Prepared), noVote(kP2)};
  Output next;
  for (NodeId a : {kA1, kA2}) {
    ans.acceptor = a;
    next.append(f.b1(ans));
  }
  next.append(f.ticks(2 * f.cfg.ballotRetryTicks));
  bool sawList = false;
  for (const auto& s : sent<Phase1a>(next)) {
    if (s.msg.participants == kBoth) sawList = true;
    CHECK(s.msg.ballot.round >= 1);
  }
  CHECK(sawList);
  CHECK(countSent<OutcomeReply>(next) == 0);
}

TEST_CASE("pitfall 6: recovery of a collected transaction answers Forgotten") {
  // Collected means every participant acked a durable outcome; "aborted" would be a guess.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  Phase1b gone;
  gone.txn = t;
  gone.ballot = b;
  gone.forgotten = true;
  Output o;
  for (NodeId a : {kA1, kA2}) {
    gone.acceptor = a;
    o.append(f.b1(gone));
  }
  auto replies = sentTo<OutcomeReply>(o, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Forgotten);
  CHECK(countSent<Phase2a>(o) == 0);
  CHECK(countSent<OutcomeMsg>(o) == 0);
  CHECK_FALSE(f.leader->isActive(t));
}

TEST_CASE("addWaiter: a later asker is told the outcome too") {
  // Outcome queries that arrive while a txn is active must not be dropped.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  f.leader->addWaiter(t, kAsker, false);
  f.b2(t, kA1, allPrepared0());
  Output o = f.b2(t, kA2, allPrepared0());
  auto replies = sentTo<OutcomeReply>(o, kAsker);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == TxnStatus::Committed);
  CHECK(sentTo<CommitReply>(o, kClient).size() == 1);
}

TEST_CASE("a 2b for a transaction the leader does not drive is ignored") {
  // Late 2b after a decision, or for someone else's txn, are protocol noise.
  LeaderFixture f;
  Output o = f.b2(txnId(5), kA1, allPrepared0());
  o.append(f.b2(txnId(5), kA2, allPrepared0()));
  CHECK(o.send.empty());
  CHECK(o.learned.empty());
  CHECK(o.persist.empty());
}

TEST_CASE("membership: a leader counts 1b and 2b only from configured acceptors as themselves") {
  // Issue 12 (1): the sender is the transport's, never the message's own claim.
  LeaderFixture f;
  TxnId t = txnId(1);
  f.begin(t);
  Output o = f.step(f.leader->onPhase2b(9001, phase2b(t, 9001, allPrepared0(), kBoth), f.now));
  o.append(f.step(f.leader->onPhase2b(9002, phase2b(t, 9002, allPrepared0(), kBoth), f.now)));
  o.append(f.step(f.leader->onPhase2b(kA1, phase2b(t, kA2, allPrepared0(), kBoth), f.now)));
  o.append(f.b2(t, kA1, allPrepared0()));
  CHECK(o.learned.empty());
  CHECK(f.leader->rejected() == 3);
  Phase1b forgot;
  forgot.txn = t;
  forgot.acceptor = kA2;
  forgot.forgotten = true;
  forgot.outcome = Outcome::Abort;
  CHECK(f.step(f.leader->onPhase1b(kA3, forgot, f.now)).learned.empty());
  CHECK(f.leader->rejected() == 4);
  CHECK(learnedOutcome(f.b2(t, kA3, allPrepared0()), t, Outcome::Commit));
}

TEST_CASE("membership: a paxos-direct client leader tells no participant the outcome") {
  // Participants take phase 3 only from members; the client is not one, so it sends
  // none (they learn from the acceptors' 2b, or recover themselves).
  CoreConfig cfg = makeConfig(Protocol::PaxosDirect);
  Rng rng(3);
  Leader client(kClient, cfg, rng, 0);
  TxnId t = txnId(1);
  Output o = client.recover(t, kBoth, kNoNode, 0);
  Ballot b = sent<Phase1a>(o)[0].msg.ballot;
  for (NodeId a : {kA1, kA2}) {
    client.onPhase1b(a, promise(t, a, b, kBoth, {noVote(kP1), noVote(kP2)}), 0);
  }
  Output d;
  for (NodeId a : {kA1, kA2}) {
    d.append(client.onPhase2b(
        a, phase2b(t, a, {iv(kP1, b, Vote::Aborted), iv(kP2, b, Vote::Aborted)}, kBoth), 0));
  }
  CHECK(learnedOutcome(d, t, Outcome::Abort));
  CHECK(countSent<OutcomeMsg>(d) == 0);
}

TEST_CASE("rounds: a 1b reporting a round above the bound is refused") {
  // Issue 12 (3): a recovery leader must never need a round above 2^64-1.
  LeaderFixture f;
  TxnId t = txnId(1);
  Ballot b = LeaderFixture::ballotOf1a(f.recover(t));
  Phase1b m =
      promise(t, kA1, b, kBoth, {voted(kP1, Ballot{~uint64_t{0}, kCoord2}, Vote::Prepared)});
  CHECK(f.b1(m).send.empty());
  CHECK(f.leader->rejected() == 1);
}

}  // namespace
}  // namespace pc
