// Unit tests of the delta checks (snapshot.h, Node::checkDelta): a step that lowers a
// promise, a vote or a mark, or changes a known outcome, must fail the check; a legal step
// must pass. If these failed, the per-step delta checks of the unit harness and of the
// simulator would pass on state that went backwards.
#include "paxos_commit/snapshot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include "paxos_commit/acceptor.h"
#include "tests/unit/test_util.h"

namespace pc {
namespace {

using namespace pc::test;

// Runs `f` in a child process; true if it died of a PC_ASSERT (SIGABRT).
bool aborts(const std::function<void()>& f) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen("/dev/null", "w", stderr);  // the child's assertion text is expected
    f();
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

Snapshot withInstance(Ballot mbal, std::optional<Ballot> bal, std::optional<Vote> val) {
  Snapshot s;
  s.instances[{txnId(1), kP1}] = AcceptorInstance{kP1, mbal, bal, val};
  return s;
}

TEST_CASE("checkDelta: promises and votes that grow pass") {
  Snapshot a = withInstance(ballot(1, kCoord), std::nullopt, std::nullopt);
  Snapshot b = withInstance(ballot(2, kCoord), ballot(2, kCoord), Vote::Prepared);
  b.lowWater = txnId(3);
  b.leaderRound = 4;
  b.outcomes[txnId(1)] = Outcome::Commit;
  CHECK_FALSE(aborts([&] { checkSnapshotDelta(a, b, kA1); }));
  CHECK_FALSE(aborts([&] { checkSnapshotDelta(b, b, kA1); }));
  // An instance or an outcome may be collected (forgotten), never changed.
  CHECK_FALSE(aborts([&] {
    checkSnapshotDelta(b, Snapshot{b.lowWater, {}, 4, 0, {}, {}, {}}, kA1);
  }));
}

TEST_CASE("checkDelta: an mbal or bal that goes down, or a val changed at one bal, fails") {
  Snapshot high = withInstance(ballot(3, kCoord), ballot(2, kCoord), Vote::Prepared);
  CHECK(aborts([&] {
    checkSnapshotDelta(high, withInstance(ballot(2, kCoord), ballot(2, kCoord), Vote::Prepared),
                       kA1);
  }));
  CHECK(aborts([&] {
    checkSnapshotDelta(high, withInstance(ballot(3, kCoord), ballot(1, kCoord), Vote::Prepared),
                       kA1);
  }));
  CHECK(aborts([&] {
    checkSnapshotDelta(high, withInstance(ballot(3, kCoord), std::nullopt, std::nullopt), kA1);
  }));
  CHECK(aborts([&] {
    checkSnapshotDelta(high, withInstance(ballot(3, kCoord), ballot(2, kCoord), Vote::Aborted),
                       kA1);
  }));
}

TEST_CASE("checkDelta: marks, rounds and outcomes never go back") {
  Snapshot a;
  a.lowWater = txnId(5);
  a.presumedAbortMark = txnId(5);
  a.leaderRound = 7;
  a.nextRound = 8;
  a.outcomes[txnId(2)] = Outcome::Commit;
  a.leaderOutcomes[txnId(2)] = Outcome::Commit;
  auto with = [&](const std::function<void(Snapshot&)>& change) {
    Snapshot b = a;
    change(b);
    return aborts([&] { checkSnapshotDelta(a, b, kA1); });
  };
  CHECK(with([](Snapshot& b) { b.lowWater = txnId(4); }));
  CHECK(with([](Snapshot& b) { b.presumedAbortMark = txnId(4); }));
  CHECK(with([](Snapshot& b) { b.leaderRound = 6; }));
  CHECK(with([](Snapshot& b) { b.nextRound = 7; }));
  CHECK(with([](Snapshot& b) { b.outcomes[txnId(2)] = Outcome::Abort; }));
  CHECK(with([](Snapshot& b) { b.leaderOutcomes[txnId(2)] = Outcome::Abort; }));
  CHECK_FALSE(with([](Snapshot&) {}));
}

TEST_CASE("checkDelta: an acceptor's snapshot follows its promise") {
  // The snapshot is what the delta check sees: a 1a must show as a higher mbal.
  CoreConfig cfg = makeConfig(Protocol::Paxos);
  Acceptor acc(kA1, cfg, Recovered{});
  TxnId t = txnId(1);
  acc.onMessage(Envelope{kCoord, kA1, phase1a(t, ballot(2, kCoord), {kP1, kP2})});
  Snapshot before = acc.snapshot();
  REQUIRE(before.instances.count({t, kP1}) == 1);
  CHECK(before.instances.at({t, kP1}).mbal == ballot(2, kCoord));
  acc.onMessage(Envelope{kCoord2, kA1, phase1a(t, ballot(3, kCoord2), {kP1, kP2})});
  CHECK(acc.snapshot().instances.at({t, kP1}).mbal == ballot(3, kCoord2));
  CHECK_FALSE(aborts([&] { acc.checkDelta(before); }));
}

}  // namespace
}  // namespace pc
