// Fuzz target: every record decoder of storage/codec.h, which a node runs on the bytes it
// finds in LMDB at start (a corrupted or foreign database must give a clear error, never a
// crash). Every input goes to every decoder. Checks: a decoder either throws DecodeError
// or returns a value that encodes back to exactly the input bytes (one encoding per value);
// the cheap state reader agrees with the full participant decoder; kv slot keys give back
// their key; the record log's entries round-trip too.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "paxos_commit/assert.h"
#include "storage/codec.h"

namespace codec = pc::storage::codec;

namespace {

const pc::TxnId kTxn{0x1000, 7};

// Runs `roundTrip` (decode then encode) unless decoding refuses the bytes.
void check(const char* what, std::string_view in, const std::function<std::string()>& roundTrip) {
  std::string out;
  try {
    out = roundTrip();
  } catch (const codec::DecodeError&) {
    return;
  }
  PC_ASSERT(out == in, what, codec::printable(in), codec::printable(out));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  check("txn key", in, [&] { return codec::txnKey(codec::parseTxnKey(in)); });
  check("acceptor", in, [&] {
    auto r = codec::decodeAcceptorTxn(kTxn, in);
    PC_ASSERT(r.txn == kTxn, r.txn);
    return codec::encode(r);
  });
  check("participant", in, [&] {
    auto r = codec::decodeParticipantTxn(kTxn, in);
    PC_ASSERT(codec::decodeParticipantState(in) == r.state, pc::toString(r.state));
    return codec::encode(r);
  });
  try {
    (void)codec::decodeParticipantState(in);
  } catch (const codec::DecodeError&) {
  }
  check("decision", in, [&] { return codec::encode(codec::decodeDecision(kTxn, in)); });
  check("low-water", in, [&] { return codec::encodeTxn(codec::decodeTxn(in)); });
  check("u64", in, [&] { return codec::encodeU64(codec::decodeU64(in)); });
  check("empty", in, [&] {
    codec::decodeEmpty(in);
    return codec::encodeEmpty();
  });
  check("outcome", in, [&] { return codec::encodeOutcome(codec::decodeOutcome(in)); });
  check("kv", in, [&] { return codec::encode(codec::decodeKvValue(in)); });
  check("lock", in, [&] { return codec::encodeLock(codec::decodeLock(in)); });
  check("format", in, [&] {
    auto v = codec::decodeFormat(in);
    if (!v) throw codec::DecodeError("not a format record");
    return codec::encodeFormat(*v);
  });

  // The record log's entries (record_log.h), one after another as in a frame: each one
  // decoded encodes back to exactly the bytes it consumed.
  {
    size_t pos = 0;
    try {
      while (pos < in.size()) {
        const size_t start = pos;
        const pc::Record r = codec::decodeLogRecord(in, pos);
        std::string out;
        codec::appendLogRecord(out, r);
        PC_ASSERT(out == in.substr(start, pos - start), codec::printable(in.substr(start)));
      }
    } catch (const codec::DecodeError&) {
    }
  }

  // A kv key (any bytes, up to kv::kMaxKeyBytes) and its LMDB slot key: the slot key fits
  // LMDB's key limit and kvKeyOf recovers the key, short or long.
  if (!in.empty() && in.size() <= pc::kv::kMaxKeyBytes) {
    constexpr size_t kMaxLmdbKey = 511;
    const std::string key(in);
    const std::string slot = codec::kvSlotKey(key, kMaxLmdbKey, 3);
    PC_ASSERT(slot.size() <= kMaxLmdbKey, slot.size());
    codec::KvValue v;
    if (codec::isLongKey(key, kMaxLmdbKey)) v.fullKey = key;
    PC_ASSERT(codec::kvKeyOf(slot, v) == key, codec::printable(key));
  }
  return 0;
}
