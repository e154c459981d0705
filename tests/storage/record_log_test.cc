// The record log in front of the tables (storage/record_log.h): what a crash leaves in it
// loads exactly as the tables would have it, read-only and at a writable open; a torn
// last frame ends the log, a whole frame that does not decode is refused as corruption;
// the pending frames may start in either half (a checkpoint in flight); appends go on
// while the checkpoint thread writes the tables;
// turning the log off empties it into the tables; a group larger than half the log goes to
// the tables; every record kind survives the log's encoding; the frame checksum is CRC-32C
// on both of its paths. A participant's records go through the log too: its committed KV
// writes reach the tables (and read()) at the checkpoint, which tablesHold() reports, and
// a read-only open shows the KV data and locks of the log's records as the replay will
// write them. The SIGKILL loop with a log is in crash_test.cc.
#include "storage/record_log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/codec.h"
#include "storage/env.h"
#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;

Options withLog(size_t bytes) {
  Options o;
  o.mapSizeStart = size_t{1} << 20;
  o.recordLogBytes = bytes;
  return o;
}

Options readOnly() {
  Options o;
  o.readOnly = true;
  return o;
}

// Random batches of every record kind (participant records with KV payloads included).
std::vector<std::vector<Record>> randomBatches(uint64_t seed, int n) {
  test::RecordGen gen(seed);
  std::vector<std::vector<Record>> out;
  while (static_cast<int>(out.size()) < n) {
    std::vector<Record> b;
    const int size = 1 + static_cast<int>(out.size() % 4);
    while (static_cast<int>(b.size()) < size) b.push_back(gen.next());
    out.push_back(std::move(b));
  }
  return out;
}

// A child writes the batches through an Env with a log and dies without closing it (no
// checkpoint at close): what the parent finds is what a crash leaves.
void writeAndCrash(const std::string& dir, const std::vector<std::vector<Record>>& batches,
                   size_t logBytes) {
  test::ChildResult r = test::runInChild([&] {
    auto* env = new Env(dir, withLog(logBytes));  // never destroyed: a crash
    for (const auto& b : batches) env->writeBatch(b);
  });
  INFO(r.err);
  REQUIRE(r.exited);
  REQUIRE(r.exitCode == 0);
}

test::Reference referenceOf(const std::vector<std::vector<Record>>& batches) {
  test::Reference ref;
  for (const auto& b : batches) {
    for (const auto& r : b) ref.apply(r);
  }
  return ref;
}

Recovered reference(const std::vector<std::vector<Record>>& batches) {
  return test::normalized(referenceOf(batches).image);
}

// The KV data as forEachKv lists it, and each key as read() returns it.
std::map<std::string, kv::Versioned> kvOf(const Env& env) {
  std::map<std::string, kv::Versioned> out;
  env.forEachKv([&](const std::string& k, const kv::Versioned& v) {
    out[k] = v;
    CHECK(env.read(k) == v);
  });
  return out;
}

std::vector<std::pair<TxnId, std::string>> locksOf(const Env& env) {
  std::vector<std::pair<TxnId, std::string>> out;
  env.forEachLock([&](const TxnId& t, const std::string& k) { out.emplace_back(t, k); });
  return out;
}

std::string readFile(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

void writeAt(const std::string& path, size_t offset, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string logFile(const TempDir& dir) { return dir.path() + "/" + kRecordLogFile; }

TEST_CASE("what a crash leaves in the log loads as the tables would have it") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    TempDir dir;
    auto batches = randomBatches(seed, 400);
    writeAndCrash(dir.path(), batches, 8192);  // small: many checkpoints and restarts
    const Recovered want = reference(batches);
    const auto wantKv = referenceOf(batches).kv;
    REQUIRE(wantKv.size() > 2);  // committed payloads were among the records
    std::vector<std::pair<TxnId, std::string>> roLocks;
    {
      Env ro(dir.path(), readOnly());
      CHECK(ro.recordLogPending() > 0);  // every write ends with an append
      CHECK(ro.formatVersion() == kFormatVersionLog);
      test::checkSame(test::normalized(ro.load()), want);
      CHECK(kvOf(ro) == wantKv);  // the tail's commits applied, as the replay will
      roLocks = locksOf(ro);
    }
    {
      Env env(dir.path(), withLog(8192));
      CHECK(env.metrics().logReplayed > 0);
      test::checkSame(test::normalized(env.load()), want);
      CHECK(kvOf(env) == wantKv);
      CHECK(locksOf(env) == roLocks);  // read-only listed the locks the replay wrote
      // More writes on top, then a clean close: the log is emptied into the tables.
      env.writeBatch({LeaderRoundRecord{1000}});
    }
    Env env(dir.path(), withLog(8192));
    CHECK(env.metrics().logReplayed == 0);
    Recovered got = test::normalized(env.load());
    CHECK(got.leaderRound == 1000);
    CHECK(got.acceptorTxns == want.acceptorTxns);
  }
}

TEST_CASE("a torn last frame ends the log; the frames before it load") {
  TempDir dir;
  std::vector<std::vector<Record>> batches{
      {LeaderRoundRecord{1}}, {LeaderRoundRecord{2}}, {LeaderRoundRecord{3}}};
  writeAndCrash(dir.path(), batches, 8192);
  RecordLog::Scan s = RecordLog::scan(dir.path(), 0);
  REQUIRE(s.frames == 3);
  std::string file = readFile(logFile(dir));
  writeAt(logFile(dir), s.end - 1, std::string(1, static_cast<char>(file[s.end - 1] ^ 0x5a)));
  Env env(dir.path(), withLog(8192));
  CHECK(env.load().leaderRound == 2);
  CHECK(env.metrics().logReplayed == 2);
}

TEST_CASE("a whole frame whose records do not decode is refused as corruption") {
  TempDir dir;
  writeAndCrash(dir.path(), {{LeaderRoundRecord{7}}}, 8192);
  // The first record's kind byte (after the 24-byte header and the u32 count) made
  // unknown, and the checksum made right again: not a torn write, a bad frame.
  std::string file = readFile(logFile(dir));
  const uint32_t len = static_cast<uint8_t>(file[4]) | static_cast<uint8_t>(file[5]) << 8;
  file[kRecordLogHeaderBytes + 4] = 99;
  uint32_t crc = crc32c(crc32c(0, std::string_view(file).substr(0, 16)),
                        std::string_view(file).substr(kRecordLogHeaderBytes, len));
  std::string crcBytes(4, '\0');
  for (int i = 0; i < 4; ++i) crcBytes[i] = static_cast<char>(crc >> (8 * i));
  writeAt(logFile(dir), kRecordLogHeaderBytes + 4, std::string(1, 99));
  writeAt(logFile(dir), 16, crcBytes);
  file.replace(16, 4, crcBytes);
  for (bool ro : {true, false}) {
    CAPTURE(ro);
    try {
      Env env(dir.path(), ro ? readOnly() : withLog(8192));
      FAIL("opened a log with a corrupted frame");
    } catch (const StorageError& e) {
      CHECK(std::string(toString(e.kind())) == toString(ErrorKind::Corrupted));
      CHECK(std::string(e.what()) == logFile(dir) +
                                         " is corrupted: frame 1 at offset 0: unknown log "
                                         "record kind 99");
    }
  }
  CHECK(readFile(logFile(dir)) == file);  // refused, not repaired
}

TEST_CASE("turning the log off empties it into the tables and removes it") {
  TempDir dir;
  auto batches = randomBatches(7, 100);
  writeAndCrash(dir.path(), batches, 8192);
  {
    Options o = withLog(0);
    Env env(dir.path(), o);
    CHECK(env.formatVersion() == kFormatVersion);
    CHECK(!RecordLog::exists(dir.path()));
    test::checkSame(test::normalized(env.load()), reference(batches));
  }
  Env env(dir.path(), readOnly());
  test::checkSame(test::normalized(env.load()), reference(batches));
}

TEST_CASE("a group larger than half the log goes straight to the tables") {
  TempDir dir;
  std::vector<Record> big;
  // Built in place: gcc 12 at -O2 flags moving a temporary Record into the vector as
  // maybe-uninitialized (a false positive in its variant move).
  for (uint64_t i = 1; i <= 200; ++i) {
    big.emplace_back(std::in_place_type<DecisionRecord>, TxnId{1, i}, ParticipantList{1, 2, 3},
                     false);
  }
  {
    Env env(dir.path(), withLog(kMinRecordLogBytes));
    env.writeBatch({LeaderRoundRecord{5}});
    env.writeBatch(big);
    EnvMetrics m = env.metrics();
    CHECK(m.logAppends == 1);
    CHECK(m.logCheckpoints == 1);  // the logged record went first
    CHECK(m.syncedCommits == 2);
  }
  Recovered got = Env(dir.path(), readOnly()).load();
  CHECK(got.decisions.size() == 200);
  CHECK(got.leaderRound == 5);
}

TEST_CASE("the frames the tables lack are read from the half that holds the next one") {
  TempDir dir;
  auto round = [](uint64_t r) { return std::vector<std::vector<Record>>{{LeaderRoundRecord{r}}}; };
  auto rounds = [&](uint64_t applied) {
    std::vector<uint64_t> out;
    for (const Record& r : RecordLog::scan(dir.path(), applied).records) {
      out.push_back(std::get<LeaderRoundRecord>(r).round);
    }
    return out;
  };
  using V = std::vector<uint64_t>;
  RecordLog log(dir.path(), 8192, 0);
  for (uint64_t r = 1; r <= 3; ++r) REQUIRE(log.append(round(r)) > 0);  // frames 1-3: first half
  log.switchHalf();
  for (uint64_t r = 4; r <= 5; ++r) REQUIRE(log.append(round(r)) > 0);  // 4-5: second half
  CHECK(rounds(0) == V{1, 2, 3, 4, 5});  // nothing applied: the first half, then the second
  CHECK(rounds(3) == V{4, 5});           // the first half's checkpoint done
  // Back to the first half, over its old frames, while the second's checkpoint runs.
  log.switchHalf();
  for (uint64_t r = 6; r <= 7; ++r) REQUIRE(log.append(round(r)) > 0);
  CHECK(rounds(3) == V{4, 5, 6, 7});  // the second half first, then the first
  CHECK(rounds(5) == V{6, 7});        // old frame 3 behind frame 7 ends the scan
  CHECK(rounds(7).empty());
}

TEST_CASE("appends go on while checkpoints run; load() sees every record meanwhile") {
  TempDir dir;
  auto batches = randomBatches(11, 600);
  {
    Env env(dir.path(), withLog(8192));
    for (size_t i = 0; i < batches.size(); ++i) {
      env.writeBatch(batches[i]);
      if (i % 97 == 0) {
        std::vector<std::vector<Record>> prefix(batches.begin(), batches.begin() + long(i) + 1);
        test::checkSame(test::normalized(env.load()), reference(prefix));
      }
    }
    EnvMetrics m = env.metrics();
    CHECK(m.logCheckpoints > 5);  // many halves filled
    CHECK(m.syncedCommits == batches.size());
    // A few groups with large KV payloads exceed half the log and went to the tables.
    CHECK(m.logAppends > batches.size() * 9 / 10);
    // 24 transaction ids: most acceptor and decision rows are rewritten or forgotten
    // within one half, and those checkpoints left them out (supersededRecords).
    CHECK(m.logCheckpointSkipped > 0);
    test::checkSame(test::normalized(env.load()), reference(batches));
  }
  Env env(dir.path(), readOnly());
  CHECK(env.recordLogPending() == 0);  // the clean close emptied the log
  test::checkSame(test::normalized(env.load()), reference(batches));
}

ParticipantTxnRecord participantRecord(TxnId txn, ParticipantState state,
                                       const std::vector<kv::Op>& ops) {
  return ParticipantTxnRecord{txn, state, kv::encodeOps(ops), {1, 2}, 7, ""};
}

TEST_CASE(
    "a participant's committed writes reach the tables at the checkpoint; tablesHold says when") {
  TempDir dir;
  const TxnId t{5, 1};
  const std::vector<kv::Op> ops{{kv::OpKind::Put, "k", "v", 0}};
  {
    Env env(dir.path(), withLog(8192));
    CHECK(env.tablesHold(env.logSeq()));  // nothing logged yet
    env.writeBatch({participantRecord(t, ParticipantState::Prepared, ops)});
    env.writeBatch({participantRecord(t, ParticipantState::Committed, ops)});
    const uint64_t seq = env.logSeq();
    CHECK(seq == 2);
    // Durable in the log, not yet in the tables: read() still has the old value, which is
    // why the engine keeps the write in its overlay until tablesHold(seq).
    CHECK_FALSE(env.tablesHold(seq));
    CHECK(env.read("k") == kv::Versioned{});
    // Fill the half: the checkpoint thread puts both records in the tables.
    for (uint64_t i = 0; !env.tablesHold(seq); ++i) {
      REQUIRE(i < 10000);
      if (env.logSeq() < 200) {
        env.writeBatch({LeaderRoundRecord{i + 1}});
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    CHECK(env.read("k") == kv::Versioned{std::string("v"), 1});
    CHECK(env.metrics().logCheckpoints >= 1);
  }
  // Without a log, every write is in the tables when it returns.
  Options plain;
  Env env(dir.path(), plain);
  CHECK(env.logSeq() == 0);
  env.writeBatch({participantRecord(TxnId{6, 1}, ParticipantState::Committed,
                                    {{kv::OpKind::Put, "k", "w", 0}})});
  CHECK(env.tablesHold(env.logSeq()));
  CHECK(env.read("k") == kv::Versioned{std::string("w"), 2});
}

TEST_CASE("read-only, the log's participant records show as the replay will write them") {
  TempDir dir;
  const TxnId u{3, 1}, t{4, 1};
  const std::vector<kv::Op> uOps{{kv::OpKind::Put, "x", "1", 0}, {kv::OpKind::Del, "y", "", 0}};
  const std::vector<kv::Op> tOps{{kv::OpKind::Put, "b", "2", 0}, {kv::OpKind::Put, "a", "3", 0}};
  {
    // u prepared, in the tables (a clean close empties the log): its locks are there.
    Env env(dir.path(), withLog(8192));
    env.writeBatch({participantRecord(u, ParticipantState::Prepared, uOps)});
  }
  // Then, in the log only: u commits (twice: the second applies nothing), t prepares.
  writeAndCrash(dir.path(),
                {{participantRecord(u, ParticipantState::Committed, uOps)},
                 {participantRecord(u, ParticipantState::Committed, uOps),
                  participantRecord(t, ParticipantState::Prepared, tOps)}},
                8192);
  const std::map<std::string, kv::Versioned> wantKv{{"x", {std::string("1"), 1}},
                                                    {"y", {std::nullopt, 1}}};
  const std::vector<std::pair<TxnId, std::string>> wantLocks{{t, "a"}, {t, "b"}};
  {
    Env ro(dir.path(), readOnly());
    REQUIRE(ro.recordLogPending() == 3);
    CHECK(kvOf(ro) == wantKv);
    CHECK(ro.read("x") == kv::Versioned{std::string("1"), 1});
    CHECK(locksOf(ro) == wantLocks);  // u's lock went with its commit
  }
  Env env(dir.path(), withLog(8192));
  CHECK(kvOf(env) == wantKv);
  CHECK(locksOf(env) == wantLocks);
}

TEST_CASE("a checkpoint without its superseded records leaves the tables it would with them") {
  // The property the checkpoint relies on, over random sequences whose ids collide, from
  // random starting images: the records supersededRecords marks change nothing.
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    test::RecordGen gen(seed);
    test::Reference all, kept;
    for (int i = 0; i < 20; ++i) {  // the tables before the checkpoint
      Record r = gen.next();
      all.apply(r);
      kept.apply(r);
    }
    std::vector<Record> half;
    for (int i = 0; i < 40; ++i) half.push_back(gen.next());
    const std::vector<bool> skip = supersededRecords(half);
    for (size_t i = 0; i < half.size(); ++i) {
      all.apply(half[i]);
      if (!skip[i]) kept.apply(half[i]);
    }
    INFO("seed " << seed);
    test::checkSame(test::normalized(kept.image), test::normalized(all.image));
    CHECK(kept.kv == all.kv);
  }
}

TEST_CASE("the checkpoint thread takes no signal: they stay the event loop's") {
  // pcommit serve opens its environments, then the event loop (KJ) takes SIGTERM and
  // SIGINT by blocking them and reading them from a signalfd. A thread started before
  // that without them blocked would take a SIGTERM and end the process by its default
  // action, skipping the clean stop (found by e2e_unix: socket files left behind).
  TempDir dir;
  REQUIRE(test::otherThreadsBlocked().empty());
  Env env(dir.path(), withLog(8192));
  auto threads = test::otherThreadsBlocked();
  REQUIRE(threads.size() == 1);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    CAPTURE(sig);
    CHECK((threads.begin()->second >> (sig - 1) & 1) == 1);
  }
}

TEST_CASE("crc32c is CRC-32C on every path, at every length and alignment") {
  // The check value of CRC-32C (RFC 3720's polynomial) over "123456789".
  CHECK(crc32c(0, "123456789") == 0xE3069283u);
  CHECK(crc32cPortable(0, "123456789") == 0xE3069283u);
  CHECK(crc32c(0, "") == 0u);
  std::mt19937_64 rng(7);
  std::string data(300, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 1 + len / 4) {
      std::string_view piece(data.data() + start, len);
      INFO("start " << start << " length " << len);
      REQUIRE(crc32c(0, piece) == crc32cPortable(0, piece));
      // Continuing a CRC over two pieces equals one pass over both.
      const size_t cut = len / 3;
      CHECK(crc32c(crc32c(0, piece.substr(0, cut)), piece.substr(cut)) == crc32c(0, piece));
    }
  }
}

TEST_CASE("every record kind survives the log's encoding; bad bytes are refused") {
  const std::vector<Record> all{
      AcceptorTxnRecord{TxnId{1, 2}, {1, 2}, 3, {{1, Ballot{0, 3}, Ballot{0, 3}, Vote::Prepared}}},
      AcceptorForgetRecord{TxnId{1, 3}, Outcome::Commit},
      AcceptorLowWaterRecord{TxnId{1, 1}},
      ParticipantTxnRecord{TxnId{2, 2}, ParticipantState::Aborted, {}, {1, 2}, 4, "why"},
      ParticipantLowWaterRecord{TxnId{2, 1}},
      LeaderRoundRecord{42},
      DecisionRecord{TxnId{3, 3}, {1}, true},
      DecisionLowWaterRecord{TxnId{3, 1}},
  };
  std::string bytes;
  for (const auto& r : all) codec::appendLogRecord(bytes, r);
  size_t pos = 0;
  for (const auto& r : all) CHECK(static_cast<bool>(codec::decodeLogRecord(bytes, pos) == r));
  CHECK(pos == bytes.size());
  for (size_t cut = 0; cut < 21; ++cut) {  // every truncation of the first record
    size_t p = 0;
    CHECK_THROWS_AS(codec::decodeLogRecord(std::string_view(bytes).substr(0, cut), p),
                    codec::DecodeError);
  }
  std::string unknown = bytes;
  unknown[0] = 8;
  pos = 0;
  CHECK_THROWS_AS(codec::decodeLogRecord(unknown, pos), codec::DecodeError);
}

}  // namespace
}  // namespace pc::storage
