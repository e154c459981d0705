#include "storage/record_tables.h"

#include <vector>

#include "paxos_commit/overloaded.h"
#include "storage/codec.h"
#include "storage/validate.h"

namespace pc::storage {

namespace {

constexpr const char* kLowWaterAcceptor = "acceptor";
constexpr const char* kLowWaterParticipant = "participant";
constexpr const char* kLowWaterDecision = "decision";
constexpr const char* kLeaderRoundKey = "round";

// Erases every key of `dbi` <= mark for which drop(value) holds (a range scan from the
// first key: keys are big-endian TxnIds, so LMDB order is TxnId order).
template <class Drop>
void eraseUpTo(lmdb::WriteTxn& w, MDB_dbi dbi, const TxnId& mark, Drop drop) {
  std::string last = codec::txnKey(mark);
  std::vector<std::string> doomed;
  w.scan(dbi, "", [&](std::string_view k, std::string_view v) {
    if (k > std::string_view(last)) return false;
    if (drop(v)) doomed.emplace_back(k);
    return true;
  });
  for (const auto& k : doomed) w.del(dbi, k);
}

}  // namespace

// ---- writes: one function per record kind ----

uint64_t RecordTables::apply(lmdb::WriteTxn& w, const Record& r) const {
  uint64_t kvOps = 0;
  std::visit(Overloaded{
                 [&](const AcceptorTxnRecord& x) { applyAcceptorTxn(w, x); },
                 [&](const AcceptorForgetRecord& x) { applyAcceptorForget(w, x); },
                 [&](const AcceptorLowWaterRecord& x) { applyAcceptorLowWater(w, x); },
                 [&](const ParticipantTxnRecord& x) { kvOps = applyParticipantTxn(w, x); },
                 [&](const ParticipantLowWaterRecord& x) { applyParticipantLowWater(w, x); },
                 [&](const LeaderRoundRecord& x) { applyLeaderRound(w, x); },
                 [&](const DecisionRecord& x) { applyDecision(w, x); },
                 [&](const DecisionLowWaterRecord& x) { applyDecisionLowWater(w, x); },
             },
             r);
  return kvOps;
}

TxnId RecordTables::lowWater(lmdb::WriteTxn& w, const char* which) const {
  auto v = w.get(dbi_.lowWater, which);
  return v ? codec::decodeTxn(*v) : TxnId{};
}

void RecordTables::raiseLowWater(lmdb::WriteTxn& w, const char* which, const TxnId& mark) const {
  if (mark > lowWater(w, which)) w.put(dbi_.lowWater, which, codec::encodeTxn(mark));
}

void RecordTables::applyAcceptorTxn(lmdb::WriteTxn& w, const AcceptorTxnRecord& x) const {
  w.put(dbi_.acceptor, codec::txnKey(x.txn), codec::encode(x));
}

void RecordTables::applyAcceptorForget(lmdb::WriteTxn& w, const AcceptorForgetRecord& x) const {
  std::string k = codec::txnKey(x.txn);
  w.del(dbi_.acceptor, k);
  // A tombstone only above the low-water mark: below it, "forgotten" is implied.
  if (x.txn > lowWater(w, kLowWaterAcceptor)) {
    w.put(dbi_.tombstones, k, codec::encodeOutcome(x.outcome));
  }
}

void RecordTables::applyAcceptorLowWater(lmdb::WriteTxn& w, const AcceptorLowWaterRecord& x) const {
  raiseLowWater(w, kLowWaterAcceptor, x.mark);
  eraseUpTo(w, dbi_.tombstones, x.mark, [](std::string_view) { return true; });
}

uint64_t RecordTables::applyParticipantTxn(lmdb::WriteTxn& w, const ParticipantTxnRecord& x) const {
  std::string k = codec::txnKey(x.txn);
  auto prev = w.get(dbi_.participant, k);
  bool wasCommitted = prev && codec::decodeParticipantState(*prev) == ParticipantState::Committed;
  // The participant's data first (locks, committed writes), then its protocol record.
  uint64_t kvOps = kv_.onParticipantRecord(w, x, wasCommitted);
  w.put(dbi_.participant, k, codec::encode(x));
  return kvOps;
}

void RecordTables::applyParticipantLowWater(lmdb::WriteTxn& w,
                                            const ParticipantLowWaterRecord& x) const {
  raiseLowWater(w, kLowWaterParticipant, x.mark);
  // Finished records go; Prepared ones stay (their outcome is still unknown).
  eraseUpTo(w, dbi_.participant, x.mark, [](std::string_view v) {
    return codec::decodeParticipantState(v) != ParticipantState::Prepared;
  });
}

void RecordTables::applyLeaderRound(lmdb::WriteTxn& w, const LeaderRoundRecord& x) const {
  auto v = w.get(dbi_.leader, kLeaderRoundKey);
  if (!v || x.round > codec::decodeU64(*v)) {
    w.put(dbi_.leader, kLeaderRoundKey, codec::encodeU64(x.round));
  }
}

void RecordTables::applyDecision(lmdb::WriteTxn& w, const DecisionRecord& x) const {
  w.put(dbi_.decision, codec::txnKey(x.txn), codec::encode(x));
}

void RecordTables::applyDecisionLowWater(lmdb::WriteTxn& w, const DecisionLowWaterRecord& x) const {
  raiseLowWater(w, kLowWaterDecision, x.mark);
  eraseUpTo(w, dbi_.decision, x.mark, [](std::string_view v) {
    // The key is not needed to tell whether a decision is done.
    return codec::decodeDecision(TxnId{}, v).done;
  });
}

// ---- load ----

namespace {

// Decodes every value of a txn-keyed database, checks each by meaning, appends to `out`.
template <class T, class Decode, class Check>
void loadAll(const lmdb::Place& at, MDB_txn* txn, MDB_dbi dbi, const char* name,
             std::vector<T>& out, Decode decode, Check check) {
  lmdb::readAll(at, txn, dbi, name, [&](std::string_view k, std::string_view v) {
    T rec = decode(codec::parseTxnKey(k), v);
    if (auto why = check(rec)) throw lmdb::corruptedRecord(at, name, k, *why);
    out.push_back(std::move(rec));
  });
}

}  // namespace

Recovered RecordTables::load(const lmdb::Place& at, MDB_txn* txn) const {
  Recovered img;
  const bool kvPayloads = kv_.appliesData();
  loadAll(at, txn, dbi_.acceptor, "acceptor", img.acceptorTxns, codec::decodeAcceptorTxn,
          [](const auto& r) { return checkRecord(r); });
  lmdb::readAll(at, txn, dbi_.tombstones, "acceptor_tombstones", [&](auto k, auto v) {
    img.acceptorTombstones.push_back(
        AcceptorTombstone{codec::parseTxnKey(k), codec::decodeOutcome(v)});
  });
  loadAll(at, txn, dbi_.participant, "participant", img.participantTxns,
          codec::decodeParticipantTxn, [&](const auto& r) { return checkRecord(r, kvPayloads); });
  loadAll(at, txn, dbi_.decision, "decision", img.decisions, codec::decodeDecision,
          [](const auto& r) { return checkRecord(r); });
  auto mark = [&](const char* which) {
    return lmdb::readOne<TxnId>(at, txn, dbi_.lowWater, "low_water", which, codec::decodeTxn)
        .value_or(TxnId{});
  };
  img.acceptorLowWater = mark(kLowWaterAcceptor);
  img.participantLowWater = mark(kLowWaterParticipant);
  img.decisionLowWater = mark(kLowWaterDecision);
  img.leaderRound =
      lmdb::readOne<uint64_t>(at, txn, dbi_.leader, "leader", kLeaderRoundKey, codec::decodeU64)
          .value_or(0);
  for (const auto& p : checkImage(img)) {
    throw lmdb::corruptedRecord(at, p.database, codec::txnKey(p.txn), p.reason);
  }
  return img;
}

}  // namespace pc::storage
