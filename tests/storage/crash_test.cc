// Crash safety with real processes: a child writes batches through the StorageThread in a
// loop and reports each acknowledged (durable) batch on a pipe; the parent SIGKILLs it at
// random moments, reopens the directory and checks that the durable state is exactly the
// reference image of some prefix of the batches that includes every acknowledged one. So
// every acknowledged record is present and intact, and no batch is half-visible. If this
// fails, a node could answer a message whose record a crash then loses. The second case
// runs the same with a small record log in front of the tables (record_log.h: kills
// during appends, checkpoints and the log's restart), reading the result read-only first
// (the log's records applied in memory, the KV data included) and then reopening for
// writing, with the log on or, every other round, off (emptied into the tables and
// removed).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "storage/storage_thread.h"
#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;

constexpr int kKills = 100;

TxnId T(uint64_t i, uint64_t k) { return TxnId{i + 1, k}; }
TxnId lowMark(uint64_t i) { return TxnId{i + 1, 99}; }

ParticipantTxnRecord prepared(uint64_t i) {
  std::string value = "v" + std::to_string(i) + std::string(i % 16 == 0 ? 20000 : 0, 'z');
  std::vector<kv::Op> ops{{kv::OpKind::Put, "ctr", std::to_string(i), 0},
                          {kv::OpKind::Put, "k" + std::to_string(i % 64), value, 0}};
  if (i % 3 == 0) ops.push_back({kv::OpKind::Del, "k" + std::to_string((i + 7) % 64), "", 0});
  return ParticipantTxnRecord{T(i, 2), ParticipantState::Prepared, kv::encodeOps(ops), {1, 2}, 7,
                              ""};
}

// Batch i, deterministic. It touches every record type and garbage-collects as it goes
// (so the live state, and the reference's cost, stays small): commits the previous
// transaction (KV apply exactly once across batches), forgets older ones, raises low-water
// marks, and every 16th batch carries a 20 KB value so the map grows under the kills.
std::vector<Record> batch(uint64_t i) {
  std::vector<Record> b;
  AcceptorTxnRecord a{T(i, 1), {1, 2, 3}, 7, {}};
  for (NodeId n = 1; n <= 3; ++n) {
    a.instances.push_back({n, Ballot{i, 7}, Ballot{i, 7}, i % 5 ? Vote::Prepared : Vote::Aborted});
  }
  b.push_back(a);
  b.push_back(prepared(i));
  if (i > 0) {
    ParticipantTxnRecord prev = prepared(i - 1);
    prev.state = ParticipantState::Committed;
    b.push_back(prev);
  }
  b.push_back(DecisionRecord{T(i, 3), {1, 2}, false});
  if (i >= 2) b.push_back(DecisionRecord{T(i - 2, 3), {}, true});
  b.push_back(LeaderRoundRecord{i + 1});
  if (i >= 3) b.push_back(AcceptorForgetRecord{T(i - 3, 1)});
  if (i % 8 == 7) {
    b.push_back(AcceptorLowWaterRecord{lowMark(i - 4)});
    b.push_back(ParticipantLowWaterRecord{lowMark(i - 4)});
    b.push_back(DecisionLowWaterRecord{lowMark(i - 4)});
  }
  return b;
}

// The child: open, write batches from `start` on with up to 8 in flight, report each one
// durable on `ackFd` (8 bytes, the batch index). Never returns.
constexpr size_t kSmallLog = 8192;  // a checkpoint every few batches

[[noreturn]] void child(const std::string& dir, uint64_t start, int ackFd, bool withLog) {
  rlimit no{0, 0};
  ::setrlimit(RLIMIT_CORE, &no);
  Options o;
  o.mapSizeStart = size_t{128} << 10;
  if (withLog) o.recordLogBytes = kSmallLog;
  Env env(dir, o);
  StorageThread st(env);
  std::deque<std::pair<Seq, uint64_t>> inFlight;
  for (uint64_t i = start;; ++i) {
    inFlight.emplace_back(st.submit(batch(i)), i);
    Seq durable = inFlight.size() >= 8 ? (st.waitDurable(inFlight.front().first), st.durableSeq())
                                       : st.durableSeq();
    while (!inFlight.empty() && inFlight.front().first <= durable) {
      uint64_t acked = inFlight.front().second;
      if (::write(ackFd, &acked, sizeof acked) != sizeof acked) ::_exit(3);
      inFlight.pop_front();
    }
  }
}

void crashLoop(bool withLog) {
  TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  uint64_t seed = rng();
  rng.seed(seed);
  MESSAGE("crash test seed " << seed);
  test::Reference ref;  // the image after batches [0, refN)
  uint64_t refN = 0;
  uint64_t totalAcked = 0, killsMidWrite = 0;
  auto started = std::chrono::steady_clock::now();

  for (int kill = 0; kill < kKills; ++kill) {
    int ack[2];
    REQUIRE(::pipe2(ack, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ack[0]);
      child(dir.path(), refN, ack[1], withLog);
    }
    ::close(ack[1]);
    // Let it run a random while (sometimes not even past opening), reading acks.
    int64_t ackedMax = -1;  // highest acknowledged batch index this round
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 50000);
    uint64_t buf[512];
    size_t have = 0;  // bytes of a partial ack carried over
    auto drain = [&](int timeoutMs) {
      pollfd p{ack[0], POLLIN, 0};
      if (::poll(&p, 1, timeoutMs) <= 0) return false;
      ssize_t n = ::read(ack[0], reinterpret_cast<char*>(buf) + have, sizeof buf - have);
      if (n <= 0) return false;
      have += size_t(n);
      for (size_t k = 0; k < have / 8; ++k) ackedMax = std::max<int64_t>(ackedMax, int64_t(buf[k]));
      size_t rest = have % 8;
      std::memmove(buf, reinterpret_cast<char*>(buf) + (have - rest), rest);
      have = rest;
      return true;
    };
    while (std::chrono::steady_clock::now() < deadline) drain(1);
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);  // not a fail-stop or an assertion
    while (drain(0)) {
    }
    ::close(ack[0]);

    // Reopen (the dead child's lock must be gone) and find how many batches are durable:
    // batch i writes leader round i + 1. With a log: read-only first (nothing written).
    std::optional<Recovered> readOnly;
    std::map<std::string, kv::Versioned> readOnlyKv;
    if (::access((dir.path() + "/data.mdb").c_str(), F_OK) != 0) {
      // Killed in the first round before LMDB made its file (a slow disk opens late): a
      // read-only open refuses such a directory, and nothing can have been acknowledged.
      REQUIRE(refN == 0);
      REQUIRE(ackedMax == -1);
    } else if (withLog) {
      Options ro;
      ro.readOnly = true;
      try {
        Env roEnv(dir.path(), ro);
        readOnly = test::normalized(roEnv.load());
        roEnv.forEachKv([&](const std::string& k, const kv::Versioned& v) { readOnlyKv[k] = v; });
      } catch (const StorageError& e) {
        // Killed in the first round after LMDB made its file but before the first commit
        // (the format record): a read-only open refuses the empty file, and nothing can
        // have been acknowledged; the read-write open below initialises it.
        const std::string what = e.what();
        CAPTURE(what);
        REQUIRE((e.kind() == ErrorKind::NotPcommit));
        REQUIRE(what.find("was never initialised") != std::string::npos);
        REQUIRE(refN == 0);
        REQUIRE(ackedMax == -1);
      }
    }
    Options rw;
    if (withLog && kill % 2 == 0) rw.recordLogBytes = kSmallLog;
    Env env(dir.path(), rw);
    Recovered got = test::normalized(env.load());
    if (withLog) CHECK(env.formatVersion() == (kill % 2 == 0 ? kFormatVersionLog : kFormatVersion));
    uint64_t n = got.leaderRound;
    CAPTURE(kill);
    CAPTURE(n);
    CAPTURE(ackedMax);
    REQUIRE(int64_t(n) >= ackedMax + 1);             // every acknowledged batch is there
    REQUIRE(n >= refN);                              // durable state never goes back
    if (ackedMax + 1 < int64_t(n)) ++killsMidWrite;  // written, not yet acknowledged
    totalAcked += ackedMax >= int64_t(refN) ? uint64_t(ackedMax + 1) - refN : 0;
    for (; refN < n; ++refN) {
      for (const auto& r : batch(refN)) ref.apply(r);
    }
    // Exactly the prefix [0, n): nothing of batch n, all of batch n - 1.
    Recovered want = test::normalized(ref.image);
    test::checkSame(got, want);
    if (readOnly) test::checkSame(*readOnly, want);
    size_t kvSeen = 0;
    env.forEachKv([&](const std::string& k, const kv::Versioned& v) {
      ++kvSeen;
      CAPTURE(k);
      REQUIRE(ref.kv.count(k) == 1);
      REQUIRE(ref.kv.at(k) == v);  // applied exactly once: versions match
    });
    REQUIRE(kvSeen == ref.kv.size());
    // Read-only, the log's committed writes count as the replay will apply them.
    if (readOnly) CHECK(readOnlyKv == ref.kv);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE(kKills << " SIGKILLs in " << seconds << " s: " << refN << " batches durable, "
                 << totalAcked << " acknowledged, " << killsMidWrite
                 << " kills with durable-but-unacknowledged batches");
  CHECK(refN > 100);  // the child really wrote between kills
  CHECK(seconds < 60);
}

TEST_CASE("SIGKILL at random moments never loses an acknowledged batch nor shows half of one") {
  crashLoop(/*withLog=*/false);
}

TEST_CASE("the same with a record log in front of the tables") { crashLoop(/*withLog=*/true); }

}  // namespace
}  // namespace pc::storage
