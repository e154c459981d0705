// The protocol's records of a participant whose engine is external (storage::Options
// kvData = false): LMDB keeps the records but applies no KV data and derives no locks. If
// this fails, every write of an embedded engine is stored twice, once where nobody reads it.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "storage/env.h"
#include "storage/record_log.h"
#include "tests/unit/test_util.h"  // also doctest, with a stringifier for pc enums

namespace pc {
namespace {

struct Counts {
  size_t kv = 0;
  size_t locks = 0;
  size_t records = 0;
};

// A participant's Prepared record of one transaction that puts k = v.
ParticipantTxnRecord preparedPut() {
  ParticipantTxnRecord r;
  r.txn = test::txnId(1);
  r.payload = kv::encodeOps({kv::Op{kv::OpKind::Put, "k", "v", 0}});
  r.participants = {test::kP1};
  r.leader = test::kCoord;
  r.state = ParticipantState::Prepared;
  return r;
}

Counts writeAndCount(bool kvData) {
  std::string dir = std::filesystem::temp_directory_path() / "pc-node-storage.XXXXXX";
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  Counts c;
  {
    storage::Options o;
    o.kvData = kvData;
    storage::Env env(dir, o);
    ParticipantTxnRecord r = preparedPut();
    env.writeBatch({r});
    env.forEachLock([&](const TxnId&, const std::string&) { ++c.locks; });
    r.state = ParticipantState::Committed;
    env.writeBatch({r});
    env.forEachKv([&](const std::string&, const kv::Versioned&) { ++c.kv; });
    c.records = env.load().participantTxns.size();
  }
  std::filesystem::remove_all(dir);
  return c;
}

TEST_CASE("kvData off: records kept, no KV data, no derived locks (on: both)") {
  Counts off = writeAndCount(false);
  CHECK(off.records == 1);
  CHECK(off.locks == 0);
  CHECK(off.kv == 0);
  Counts on = writeAndCount(true);  // the built-in engine's behaviour, unchanged
  CHECK(on.records == 1);
  CHECK(on.locks == 1);
  CHECK(on.kv == 1);
}

TEST_CASE("kvData off with the record log: a crash's records come back, still no KV or locks") {
  // An embedded participant (pc::ParticipantNode) writes its records through the log. A
  // child writes a Prepared record, then the Committed one, and dies without closing (no
  // checkpoint): the next open replays the log, and the replay applies the kvData rule too.
  std::string dir = std::filesystem::temp_directory_path() / "pc-node-storage-log.XXXXXX";
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  storage::Options o;
  o.kvData = false;
  o.recordLogBytes = storage::kMinRecordLogBytes;
  ParticipantTxnRecord r = preparedPut();
  auto writeAndCrash = [&](const ParticipantTxnRecord& rec) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      int code = 0;
      try {
        auto* env = new storage::Env(dir, o);  // never destroyed: a crash
        env->writeBatch({rec});
      } catch (...) {
        code = 1;
      }
      ::_exit(code);  // no destructor, no checkpoint at close
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK(storage::RecordLog::exists(dir));
  };
  auto reopen = [&](ParticipantState expected) {
    storage::Env env(dir, o);  // replays the log into the tables
    Recovered rec = env.load();
    REQUIRE(rec.participantTxns.size() == 1);
    CHECK(rec.participantTxns.front().state == expected);
    size_t kv = 0, locks = 0;
    env.forEachKv([&](const std::string&, const kv::Versioned&) { ++kv; });
    env.forEachLock([&](const TxnId&, const std::string&) { ++locks; });
    CHECK(kv == 0);
    CHECK(locks == 0);
  };
  writeAndCrash(r);
  reopen(ParticipantState::Prepared);
  r.state = ParticipantState::Committed;
  writeAndCrash(r);
  reopen(ParticipantState::Committed);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pc
