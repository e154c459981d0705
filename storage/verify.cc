#include "storage/verify.h"

#include <algorithm>
#include <map>
#include <set>

#include "paxos_commit/kv.h"
#include "storage/codec.h"
#include "storage/identity.h"
#include "storage/lmdb_txn.h"
#include "storage/validate.h"

namespace pc::storage {

namespace {

class Verifier {
 public:
  explicit Verifier(const Env& env) : env_(env) {}
  VerifyReport run();

 private:
  // Visits every entry of `db`; f(key, value) may throw DecodeError (a problem, then the
  // next entry) or return a reason (a problem) or nullopt (fine).
  template <class F>
  void each(const char* db, F f) {
    env_.forEachRaw(db, [&](std::string_view k, std::string_view v) {
      ++report_.entries;
      std::optional<std::string> why;
      try {
        why = f(k, v);
      } catch (const codec::DecodeError& e) {
        why = e.what();
      }
      if (why) report_.problems.push_back({db, lmdb::keyText(db, k), *why});
    });
  }
  void records();
  void kvData();
  void kvLocks();

  const Env& env_;
  VerifyReport report_;
  Recovered image_;
  std::optional<TxnId> rejoined_;
  TxnId participantLowWater_;
};

using Reason = std::optional<std::string>;

void Verifier::records() {
  // The meta database: the format record (the open checked it), the identity record and
  // the rejoin mark (storage/identity.h). Whose the identity is, `serve` checks against
  // its cluster file; here only that it is well-formed.
  each("meta", [&](auto k, auto v) -> Reason {
    if (k == "format") return codec::decodeFormat(v) ? Reason() : Reason("not a format record");
    if (k == "identity") {
      codec::decodeIdentity(v);
      return std::nullopt;
    }
    if (k == "rejoined") {
      TxnId mark = codec::decodeTxn(v);
      rejoined_ = mark;
      return std::nullopt;
    }
    return "unknown meta key";
  });
  each("acceptor", [&](auto k, auto v) -> Reason {
    AcceptorTxnRecord r = codec::decodeAcceptorTxn(codec::parseTxnKey(k), v);
    if (auto why = checkRecord(r)) return why;
    image_.acceptorTxns.push_back(std::move(r));
    return std::nullopt;
  });
  each("acceptor_tombstones", [&](auto k, auto v) -> Reason {
    image_.acceptorTombstones.push_back({codec::parseTxnKey(k), codec::decodeOutcome(v)});
    return std::nullopt;
  });
  each("participant", [&](auto k, auto v) -> Reason {
    ParticipantTxnRecord r = codec::decodeParticipantTxn(codec::parseTxnKey(k), v);
    if (auto why = checkRecord(r, env_.kvData())) return why;
    image_.participantTxns.push_back(std::move(r));
    return std::nullopt;
  });
  each("decision", [&](auto k, auto v) -> Reason {
    DecisionRecord r = codec::decodeDecision(codec::parseTxnKey(k), v);
    if (auto why = checkRecord(r)) return why;
    return std::nullopt;
  });
  each("low_water", [&](auto k, auto v) -> Reason {
    if (k != "acceptor" && k != "participant" && k != "decision") return "unknown low-water key";
    TxnId mark = codec::decodeTxn(v);
    if (k == "participant") participantLowWater_ = mark;
    return std::nullopt;
  });
  each("leader", [&](auto k, auto v) -> Reason {
    if (k != "round") return "unknown leader key";
    codec::decodeU64(v);
    return std::nullopt;
  });
  for (const auto& p : checkImage(image_)) {
    report_.problems.push_back({p.database, p.txn.toString(), p.reason});
  }
  if (rejoined_ && participantLowWater_ < *rejoined_) {
    // A rejoined participant must stay "forgotten" below its mark (docs/PROTOCOL.md §5).
    report_.problems.push_back(
        {"low_water", "participant",
         "below the rejoin mark " + rejoined_->toString() + " of the meta database"});
  }
}

void Verifier::kvData() {
  const size_t maxKey = env_.maxKeyBytes();
  each("kv_data", [&](auto k, auto v) -> Reason {
    codec::KvValue kv = codec::decodeKvValue(v);
    std::string key = codec::kvKeyOf(k, kv);  // throws on a bad tag
    if (key.size() > kv::kMaxKeyBytes) return "kv key of " + std::to_string(key.size()) + " bytes";
    if (kv.versioned.value && kv.versioned.value->size() > kv::kMaxValueBytes) {
      return "kv value of " + std::to_string(kv.versioned.value->size()) + " bytes (at most " +
             std::to_string(kv::kMaxValueBytes) + ")";
    }
    if (kv.versioned.version == 0) return "kv entry at version 0 (never written)";
    const bool longSlot = k[0] == '\1';
    if (longSlot != codec::isLongKey(key, maxKey)) return "kv slot of the wrong kind for its key";
    if (!longSlot && kv.fullKey) return "short kv slot carrying a full key";
    if (longSlot && k != codec::kvSlotKey(key, maxKey, static_cast<uint8_t>(k.back()))) {
      return "long kv slot does not match its full key's hash";
    }
    return std::nullopt;
  });
}

void Verifier::kvLocks() {
  // Locks are derived from Prepared records (kv_tables.h): each must belong to one and
  // name a key its payload touches.
  std::map<TxnId, std::set<std::string>> prepared;
  for (const auto& p : image_.participantTxns) {
    if (p.state != ParticipantState::Prepared) continue;
    auto& keys = prepared[p.txn];
    if (auto ops = kv::decodeOps(p.payload)) {
      for (const auto& op : *ops) keys.insert(op.key);
    }
  }
  each("kv_locks", [&](auto k, auto v) -> Reason {
    if (k.size() != codec::kTxnKeyBytes + 4) {
      return "lock key of " + std::to_string(k.size()) + " bytes";
    }
    TxnId txn = codec::parseTxnKey(k.substr(0, codec::kTxnKeyBytes));
    std::string key = codec::decodeLock(v);
    auto it = prepared.find(txn);
    if (it == prepared.end()) return "lock of " + txn.toString() + " with no prepared record";
    if (it->second.count(key) == 0) {
      return "lock of " + txn.toString() + " on a key its payload does not touch";
    }
    return std::nullopt;
  });
}

VerifyReport Verifier::run() {
  records();
  kvData();
  kvLocks();
  return std::move(report_);
}

}  // namespace

VerifyReport verify(const Env& env) { return Verifier(env).run(); }

}  // namespace pc::storage
