// The protocol's records of a participant whose engine is external (storage::Options
// kvData = false): LMDB keeps the records but applies no KV data and derives no locks. If
// this fails, every write of an embedded engine is stored twice, once where nobody reads it.
#include <stdlib.h>

#include <filesystem>

#include "storage/env.h"
#include "tests/unit/test_util.h"  // also doctest, with a stringifier for pc enums

namespace pc {
namespace {

struct Counts {
  size_t kv = 0;
  size_t locks = 0;
  size_t records = 0;
};

Counts writeAndCount(bool kvData) {
  std::string dir = std::filesystem::temp_directory_path() / "pc-node-storage.XXXXXX";
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  Counts c;
  {
    storage::Options o;
    o.kvData = kvData;
    storage::Env env(dir, o);
    ParticipantTxnRecord r;
    r.txn = test::txnId(1);
    r.payload = kv::encodeOps({kv::Op{kv::OpKind::Put, "k", "v", 0}});
    r.participants = {test::kP1};
    r.leader = test::kCoord;
    r.state = ParticipantState::Prepared;
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

}  // namespace
}  // namespace pc
