// Storage quota (issue 12): with a tiny map limit, a participant whose storage is nearly
// full votes Aborted on new prepares with a "storage quota: ..." reason instead of the
// node fail-stopping at MDB_MAP_FULL, outcomes still get written in the headroom, and
// collection makes room again. If this failed, a full map would take the whole node down
// (acceptor and coordinator roles with it) or a participant would take locks it cannot
// make durable.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY  // enums and records without operator<<
#include <doctest/doctest.h>

#include "paxos_commit/config.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/participant.h"
#include "storage/env.h"
#include "storage/quota_engine.h"
#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;
using test::txn;

Options tinyMap() {
  Options o;
  o.mapSizeStart = size_t{256} << 10;
  o.mapSizeMax = size_t{1} << 20;
  o.quotaPercent = 90;
  return o;
}

// A finished record with a large payload: what fills the map until collection.
ParticipantTxnRecord filler(uint64_t i) {
  return ParticipantTxnRecord{
      txn(1, i), ParticipantState::VotedAborted, std::string(8000, 'x'), {1001}, 1, "filler"};
}

// Fills the map past the quota; returns how many fillers it took.
uint64_t fillPastQuota(Env& env) {
  uint64_t i = 0;
  while (!env.nearlyFull()) {
    env.writeBatch({filler(++i)});
    REQUIRE(i < 200);  // 1 MiB holds ~110 such records: the quota must trip before
  }
  return i;
}

const Bytes kPayload = kv::encodeOps({{kv::OpKind::Put, "k", "v", 0}});

TEST_CASE("the quota is measured against the map limit, free pages excluded") {
  TempDir tmp;
  Env env(tmp.path(), tinyMap());
  StorageQuota q = env.quota();
  CHECK_FALSE(q.nearlyFull);
  CHECK(q.limitBytes == size_t{1} << 20);
  CHECK(q.quotaBytes == (size_t{1} << 20) * 90 / 100);
  CHECK(q.liveBytes > 0);
  CHECK(q.liveBytes < q.quotaBytes);
  uint64_t n = fillPastQuota(env);
  q = env.quota();
  CHECK(q.nearlyFull);
  CHECK(q.liveBytes >= q.quotaBytes);
  CHECK(q.liveBytes <= q.limitBytes);
  // Collection erases the finished records: their pages go to LMDB's free list, which the
  // quota does not count (the high-water mark of the file stays where it was).
  uint64_t highWater = env.usedBytes();
  env.writeBatch({ParticipantLowWaterRecord{txn(1, n)}});
  CHECK_FALSE(env.nearlyFull());
  CHECK(env.quota().liveBytes < env.quota().quotaBytes / 2);
  CHECK(env.usedBytes() >= highWater);
}

TEST_CASE("a participant over its quota votes Aborted with the reason; others keep writing") {
  TempDir tmp;
  Env env(tmp.path(), tinyMap());
  kv::KvEngine kvEngine(env.reader());
  QuotaEngine engine(kvEngine, env);
  CoreConfig cfg;
  cfg.acceptors = {2001, 2002, 2003};
  cfg.coordinators = {1};
  cfg.participants = {1001};  // members only (paxos_commit/membership.h)

  // Under the quota: the engine's own vote.
  CHECK(engine.prepare(txn(8, 1), kPayload).vote == Vote::Prepared);
  engine.abort(txn(8, 1), kPayload);
  CHECK(engine.refused() == 0);

  uint64_t n = fillPastQuota(env);
  Participant core(1001, cfg, engine, 1, env.load());
  Output out = core.onMessage(Envelope{1, 1001, Prepare{txn(9, 1), kPayload, {1001}, 1}});
  REQUIRE(out.persist.size() == 1);
  const auto* rec = std::get_if<ParticipantTxnRecord>(&out.persist[0]);
  REQUIRE(rec != nullptr);
  CHECK(rec->state == ParticipantState::VotedAborted);
  CHECK(rec->reason.rfind("storage quota: ", 0) == 0);
  CHECK(rec->reason.find("of the 1.0 MiB map limit in use") != std::string::npos);
  CHECK(kvEngine.lockCount() == 0);  // no locks taken for a refused transaction
  CHECK(engine.refused() == 1);
  // The refusal itself, and outcomes, acceptor and coordinator records still fit.
  env.writeBatch(out.persist);
  AcceptorTxnRecord a{txn(9, 2), {1001}, 1, {{1001, Ballot{}, Ballot{}, Vote::Prepared}}};
  env.writeBatch({a, DecisionRecord{txn(9, 3), {1001}, false}, LeaderRoundRecord{3}});
  CHECK(env.load().participantTxns.back().reason == rec->reason);

  // Collection makes room: the next prepare is the engine's again.
  env.writeBatch({ParticipantLowWaterRecord{txn(1, n)}});
  CHECK(engine.prepare(txn(9, 4), kPayload).vote == Vote::Prepared);
  CHECK(engine.refused() == 1);
}

TEST_CASE("quotaPercent 100: nearly full only when the map is") {
  TempDir tmp;
  Options o = tinyMap();
  o.quotaPercent = 100;
  Env env(tmp.path(), o);
  for (uint64_t i = 1; i <= 60; ++i) env.writeBatch({filler(i)});  // ~half the map
  CHECK_FALSE(env.nearlyFull());
  CHECK(env.quota().quotaBytes == env.quota().limitBytes);
}

}  // namespace
}  // namespace pc::storage
