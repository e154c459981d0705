#include "storage/codec.h"

#include <algorithm>
#include <cstring>

#include "paxos_commit/assert.h"
#include "paxos_commit/hash.h"
#include "paxos_commit/overloaded.h"
#include "storage/identity.h"

namespace pc::storage::codec {

namespace {

// Sanity cap on any length field: larger than anything pcommit writes (a payload is at
// most kv::kMaxOps ops of kv::kMaxValueBytes), smaller than what would exhaust memory.
constexpr uint64_t kMaxLength = uint64_t{1} << 32;

class Writer {
 public:
  explicit Writer(size_t reserve = 0) {
    out_.reserve(reserve + 1);
    u8(kValueVersion);
  }
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  // Little-endian, a whole field per append (not a capacity check per byte).
  void u32(uint32_t v) { le<4>(v); }
  void u64(uint64_t v) { le<8>(v); }
  void bytes(std::string_view s) {
    PC_ASSERT(s.size() < kMaxLength, s.size());
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void ballot(const Ballot& b) {
    u64(b.round);
    u32(b.leader);
  }
  void nodes(const ParticipantList& l) {
    PC_ASSERT(l.size() < kMaxLength, l.size());
    u32(static_cast<uint32_t>(l.size()));
    for (NodeId n : l) u32(n);
  }
  std::string take() { return std::move(out_); }

 private:
  template <int N>
  void le(uint64_t v) {
    char b[N];
    for (int i = 0; i < N; ++i) b[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
    out_.append(b, N);
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in, const char* what) : in_(in), what_(what) {
    uint8_t version = u8();
    if (version != kValueVersion) {
      fail("unknown value version " + std::to_string(version));
    }
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint32_t u32() {
    need(4);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
    return v;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
    return v;
  }
  std::string bytes() {
    uint32_t n = u32();
    need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  bool flag() {
    uint8_t b = u8();
    if (b > 1) fail("bad flag byte " + std::to_string(b));
    return b == 1;
  }
  Ballot ballot() {
    Ballot b;
    b.round = u64();
    b.leader = u32();
    return b;
  }
  ParticipantList nodes() {
    uint32_t n = u32();
    need(uint64_t{n} * 4);  // before reserving: a corrupt count must not allocate
    ParticipantList l;
    l.reserve(n);
    for (uint32_t i = 0; i < n; ++i) l.push_back(u32());
    return l;
  }
  Vote vote() {
    uint8_t v = u8();
    if (v != static_cast<uint8_t>(Vote::Prepared) && v != static_cast<uint8_t>(Vote::Aborted)) {
      fail("bad vote " + std::to_string(v));
    }
    return static_cast<Vote>(v);
  }
  bool atEnd() const { return pos_ == in_.size(); }
  void end() {
    if (pos_ != in_.size()) {
      fail(std::to_string(in_.size() - pos_) + " trailing bytes");
    }
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw DecodeError(std::string(what_) + " value: " + why);
  }

 private:
  void need(uint64_t n) const {
    if (n > in_.size() - pos_) {
      fail("truncated (need " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
           " of " + std::to_string(in_.size()) + ")");
    }
  }
  std::string_view in_;
  size_t pos_ = 0;
  const char* what_;
};

ParticipantState checkState(Reader& r, uint8_t s) {
  if (s < static_cast<uint8_t>(ParticipantState::Prepared) ||
      s > static_cast<uint8_t>(ParticipantState::Aborted)) {
    r.fail("bad participant state " + std::to_string(s));
  }
  return static_cast<ParticipantState>(s);
}

void putU64BE(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(static_cast<uint8_t>(v >> (8 * i))));
}

uint64_t getU64BE(std::string_view in, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[pos + i]);
  return v;
}

}  // namespace

std::string txnKey(const TxnId& txn) {
  std::string k;
  k.reserve(kTxnKeyBytes);
  putU64BE(k, txn.hi);
  putU64BE(k, txn.lo);
  return k;
}

TxnId parseTxnKey(std::string_view key) {
  if (key.size() != kTxnKeyBytes) {
    throw DecodeError("transaction key of " + std::to_string(key.size()) + " bytes, expected 16");
  }
  return TxnId{getU64BE(key, 0), getU64BE(key, 8)};
}

std::string encode(const AcceptorTxnRecord& r) {
  Writer w(16 + 4 * r.participants.size() + 32 * r.instances.size());
  w.nodes(r.participants);
  w.u32(r.leader);
  w.u32(static_cast<uint32_t>(r.instances.size()));
  for (const auto& i : r.instances) {
    w.u32(i.instance);
    w.ballot(i.mbal);
    w.u8(i.bal ? 1 : 0);
    if (i.bal) w.ballot(*i.bal);
    w.u8(i.val ? 1 : 0);
    if (i.val) w.u8(static_cast<uint8_t>(*i.val));
  }
  return w.take();
}

AcceptorTxnRecord decodeAcceptorTxn(const TxnId& txn, std::string_view value) {
  Reader r(value, "acceptor");
  AcceptorTxnRecord a;
  a.txn = txn;
  a.participants = r.nodes();
  a.leader = r.u32();
  uint32_t n = r.u32();
  if (n > value.size()) r.fail("instance count " + std::to_string(n) + " exceeds value size");
  a.instances.reserve(n);
  for (uint32_t k = 0; k < n; ++k) {
    AcceptorInstance i;
    i.instance = r.u32();
    i.mbal = r.ballot();
    if (r.flag()) i.bal = r.ballot();
    if (r.flag()) i.val = r.vote();
    a.instances.push_back(i);
  }
  r.end();
  return a;
}

std::string encode(const ParticipantTxnRecord& r) {
  Writer w(32 + r.payload.size() + 4 * r.participants.size() + r.reason.size());
  w.u8(static_cast<uint8_t>(r.state));
  w.bytes(r.payload);
  w.nodes(r.participants);
  w.u32(r.leader);
  w.bytes(r.reason);
  // Optional trailing field (absent in records written before heuristic decisions existed,
  // and whenever it is None): the heuristic mark of docs/PROTOCOL.md §9.
  if (r.heuristic != Heuristic::None) w.u8(static_cast<uint8_t>(r.heuristic));
  return w.take();
}

ParticipantTxnRecord decodeParticipantTxn(const TxnId& txn, std::string_view value) {
  Reader r(value, "participant");
  ParticipantTxnRecord p;
  p.txn = txn;
  p.state = checkState(r, r.u8());
  p.payload = r.bytes();
  p.participants = r.nodes();
  p.leader = r.u32();
  p.reason = r.bytes();
  if (!r.atEnd()) {
    uint8_t h = r.u8();
    if (h < static_cast<uint8_t>(Heuristic::Pending) ||
        h > static_cast<uint8_t>(Heuristic::Mismatch)) {
      r.fail("bad heuristic mark " + std::to_string(h));
    }
    if (p.state != ParticipantState::Committed && p.state != ParticipantState::Aborted) {
      r.fail("heuristic mark on a transaction that is not decided");
    }
    p.heuristic = static_cast<Heuristic>(h);
  }
  r.end();
  return p;
}

ParticipantState decodeParticipantState(std::string_view value) {
  Reader r(value, "participant");
  return checkState(r, r.u8());
}

std::string encode(const DecisionRecord& r) {
  Writer w(8 + 4 * r.participants.size());
  w.nodes(r.participants);
  w.u8(r.done ? 1 : 0);
  return w.take();
}

DecisionRecord decodeDecision(const TxnId& txn, std::string_view value) {
  Reader r(value, "decision");
  DecisionRecord d;
  d.txn = txn;
  d.participants = r.nodes();
  d.done = r.flag();
  r.end();
  return d;
}

std::string encodeTxn(const TxnId& t) {
  Writer w(16);
  w.u64(t.hi);
  w.u64(t.lo);
  return w.take();
}

TxnId decodeTxn(std::string_view value) {
  Reader r(value, "low-water");
  TxnId t;
  t.hi = r.u64();
  t.lo = r.u64();
  r.end();
  return t;
}

std::string encodeU64(uint64_t v) {
  Writer w(8);
  w.u64(v);
  return w.take();
}

uint64_t decodeU64(std::string_view value) {
  Reader r(value, "leader round");
  uint64_t v = r.u64();
  r.end();
  return v;
}

std::string encodeEmpty() { return Writer().take(); }

void decodeEmpty(std::string_view value) {
  Reader r(value, "tombstone");
  r.end();
}

// 0 = not known, else the Outcome's value.
std::string encodeOutcome(std::optional<Outcome> o) {
  Writer w(1);
  w.u8(o ? static_cast<uint8_t>(*o) : 0);
  return w.take();
}

std::optional<Outcome> decodeOutcome(std::string_view value) {
  Reader r(value, "tombstone");
  uint8_t o = r.u8();
  r.end();
  if (o == 0) return std::nullopt;
  if (o != static_cast<uint8_t>(Outcome::Commit) && o != static_cast<uint8_t>(Outcome::Abort)) {
    r.fail("bad outcome " + std::to_string(o));
  }
  return static_cast<Outcome>(o);
}

bool isLongKey(std::string_view key, size_t maxKeyBytes) { return key.size() + 1 > maxKeyBytes; }

std::string kvSlotKey(std::string_view key, size_t maxKeyBytes, uint8_t probe) {
  PC_ASSERT(maxKeyBytes >= kLongKeyPrefixBytes + 10, maxKeyBytes);
  std::string k;
  if (!isLongKey(key, maxKeyBytes)) {
    k.reserve(key.size() + 1);
    k.push_back('\0');
    k.append(key);
    return k;
  }
  k.reserve(kLongKeyPrefixBytes + 10);
  k.push_back('\1');
  k.append(key.substr(0, kLongKeyPrefixBytes));
  putU64BE(k, fnv1a64(key));
  k.push_back(static_cast<char>(probe));
  return k;
}

std::string encode(const KvValue& v) {
  Writer w(16 + (v.versioned.value ? v.versioned.value->size() : 0) +
           (v.fullKey ? v.fullKey->size() : 0));
  w.u64(v.versioned.version);
  w.u8(v.versioned.value ? 1 : 0);
  if (v.versioned.value) w.bytes(*v.versioned.value);
  w.u8(v.fullKey ? 1 : 0);
  if (v.fullKey) w.bytes(*v.fullKey);
  return w.take();
}

KvValue decodeKvValue(std::string_view value) {
  Reader r(value, "kv");
  KvValue v;
  v.versioned.version = r.u64();
  if (r.flag()) v.versioned.value = r.bytes();
  if (r.flag()) v.fullKey = r.bytes();
  r.end();
  return v;
}

std::string kvKeyOf(std::string_view slotKey, const KvValue& v) {
  if (!slotKey.empty() && slotKey[0] == '\0') return std::string(slotKey.substr(1));
  if (!slotKey.empty() && slotKey[0] == '\1' && v.fullKey) return *v.fullKey;
  throw DecodeError("kv slot key with bad tag or a long key without its full key");
}

std::string lockKey(const TxnId& txn, uint32_t index) {
  std::string k = txnKey(txn);
  for (int i = 3; i >= 0; --i)
    k.push_back(static_cast<char>(static_cast<uint8_t>(index >> (8 * i))));
  return k;
}

std::string encodeLock(const std::string& kvKey) {
  Writer w(kvKey.size() + 4);
  w.bytes(kvKey);
  return w.take();
}

std::string decodeLock(std::string_view value) {
  Reader r(value, "lock");
  std::string k = r.bytes();
  r.end();
  return k;
}

namespace {

void appendBody(std::string& out, uint8_t kind, std::string_view key, std::string_view value) {
  const uint64_t n = key.size() + value.size();
  PC_ASSERT(n < kMaxLength, n);
  out.push_back(static_cast<char>(kind));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(static_cast<uint8_t>(n >> (8 * i))));
  out.append(key);
  out.append(value);
}

}  // namespace

void appendLogRecord(std::string& out, const Record& r) {
  const auto kind = static_cast<uint8_t>(r.index());
  std::visit(
      Overloaded{
          [&](const AcceptorTxnRecord& x) { appendBody(out, kind, txnKey(x.txn), encode(x)); },
          [&](const AcceptorForgetRecord& x) {
            appendBody(out, kind, txnKey(x.txn), encodeOutcome(x.outcome));
          },
          [&](const AcceptorLowWaterRecord& x) { appendBody(out, kind, {}, encodeTxn(x.mark)); },
          [&](const ParticipantTxnRecord& x) { appendBody(out, kind, txnKey(x.txn), encode(x)); },
          [&](const ParticipantLowWaterRecord& x) { appendBody(out, kind, {}, encodeTxn(x.mark)); },
          [&](const LeaderRoundRecord& x) { appendBody(out, kind, {}, encodeU64(x.round)); },
          [&](const DecisionRecord& x) { appendBody(out, kind, txnKey(x.txn), encode(x)); },
          [&](const DecisionLowWaterRecord& x) { appendBody(out, kind, {}, encodeTxn(x.mark)); },
      },
      r);
}

Record decodeLogRecord(std::string_view in, size_t& pos) {
  if (in.size() - pos < 5) throw DecodeError("log record truncated (header)");
  const auto kind = static_cast<uint8_t>(in[pos]);
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= uint32_t{static_cast<uint8_t>(in[pos + 1 + i])} << (8 * i);
  if (in.size() - pos - 5 < n) {
    throw DecodeError("log record of " + std::to_string(n) + " bytes truncated");
  }
  const std::string_view body = in.substr(pos + 5, n);
  pos += 5 + n;
  auto keyed = [&](auto decode) {
    if (body.size() < kTxnKeyBytes) throw DecodeError("log record shorter than its txn key");
    return decode(parseTxnKey(body.substr(0, kTxnKeyBytes)), body.substr(kTxnKeyBytes));
  };
  switch (kind) {
    case 0:
      return keyed([](const TxnId& t, std::string_view v) { return decodeAcceptorTxn(t, v); });
    case 1:
      return keyed([](const TxnId& t, std::string_view v) {
        return AcceptorForgetRecord{t, decodeOutcome(v)};
      });
    case 2:
      return AcceptorLowWaterRecord{decodeTxn(body)};
    case 3:
      return keyed([](const TxnId& t, std::string_view v) { return decodeParticipantTxn(t, v); });
    case 4:
      return ParticipantLowWaterRecord{decodeTxn(body)};
    case 5:
      return LeaderRoundRecord{decodeU64(body)};
    case 6:
      return keyed([](const TxnId& t, std::string_view v) { return decodeDecision(t, v); });
    case 7:
      return DecisionLowWaterRecord{decodeTxn(body)};
    default:
      throw DecodeError("unknown log record kind " + std::to_string(kind));
  }
}
static_assert(std::variant_size_v<Record> == 8, "a new record kind needs a log encoding");

std::string encodeFormat(uint32_t version) {
  std::string s(kFormatMagic);
  for (int i = 0; i < 4; ++i)
    s.push_back(static_cast<char>(static_cast<uint8_t>(version >> (8 * i))));
  return s;
}

std::optional<uint32_t> decodeFormat(std::string_view value) {
  if (value.size() != kFormatMagic.size() + 4 ||
      value.substr(0, kFormatMagic.size()) != kFormatMagic) {
    return std::nullopt;
  }
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v |= uint32_t{static_cast<uint8_t>(value[kFormatMagic.size() + i])} << (8 * i);
  }
  return v;
}

std::string encodeIdentity(const Identity& id) {
  Writer w(16 + id.clusterId.size() + id.nodeName.size());
  w.bytes(id.clusterId);
  w.u32(id.node);
  w.bytes(id.nodeName);
  return w.take();
}

Identity decodeIdentity(std::string_view value) {
  Reader r(value, "identity");
  Identity id;
  id.clusterId = r.bytes();
  id.node = r.u32();
  id.nodeName = r.bytes();
  r.end();
  // By meaning: what serve writes (runtime/cluster_config.h's cluster id and node names).
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (!id.clusterId.empty() &&
      (id.clusterId.size() != 32 || !std::all_of(id.clusterId.begin(), id.clusterId.end(), hex))) {
    r.fail("cluster id is not 32 lowercase hex digits");
  }
  if (id.node == kNoNode) r.fail("no node id");
  if (id.nodeName.empty() || id.nodeName.size() > 8 ||
      !std::all_of(id.nodeName.begin(), id.nodeName.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); })) {
    r.fail("bad node name '" + printable(id.nodeName) + "'");
  }
  return id;
}

std::string printable(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

}  // namespace pc::storage::codec
