// The input format of fuzz_cores (and of its seeds, written by fuzz_seeds): a byte string
// decodes to a bounded script run against one protocol core. Every byte string is a valid
// script (missing bytes read as 0), so libFuzzer's mutations always reach the core.
//
//   byte 0       setup: role (bits 0-1: acceptor, participant, Paxos coordinator, 2PC
//                coordinator), protocol (bits 2-3, and bit 5: protocol 1 + (bits 2-3 +
//                4 x bit 5) % 5, so 2pc-replicated is bit 5 with bits 2-3 clear and the
//                older seeds, bit 5 clear, keep their meaning), fan-out (bit 4)
//   then steps   one opcode byte each, then its operands:
//                  op % 32 == 0 or 1   tick 1 + (next byte % 16) times
//                  op % 32 == 2        crash and restart from the records made durable
//                  otherwise           deliver message kind (op % 32 - 3) % 14 of
//                                      pc::Message from node(next byte), then its fields
//                (op % 32, not % 16, since AckBatch made 14 kinds: the seeds' opcodes,
//                all below 16, keep their meaning)
//
// Fields take one byte each from small tables (4 transactions, 10 node ids, participants
// from {1, 2, 3, 7}, ballots with rounds 0..3, 5 payloads), so messages collide on the same
// transactions and ballots, as real traffic does. Every message is one fromWire (rpc/) could
// deliver: ids non-zero where the wire requires it, lists sorted and unique, ballot 0 without
// a leader and ballots > 0 with one. Semantic nonsense (a stranger's 2b, an instance not in
// the list, a ballot the sender does not own) is generated on purpose: the cores must drop
// it, never crash on it (docs/STYLE.md: bad input from outside).
//
// ScriptWriter is the inverse (for seeds): it picks, for each field value, the first byte
// that reads back as that value, and asserts there is one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "paxos_commit/assert.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/messages.h"

namespace pc::fuzz {

inline constexpr size_t kMaxSteps = 256;
inline constexpr uint64_t kMaxTicksPerStep = 16;

enum class CoreRole : uint8_t { Acceptor = 0, Participant = 1, PaxosCoordinator = 2, TwoPc = 3 };

// The cluster every script runs in (the unit tests' ids: tests/unit/test_util.h).
inline constexpr NodeId kP1 = 1, kP2 = 2, kP3 = 3, kStranger = 7;
inline constexpr NodeId kCoord = 50, kCoord2 = 51, kClient = 90;
inline constexpr NodeId kA1 = 101, kA2 = 102, kA3 = 103;
inline constexpr NodeId kNodes[] = {kP1,     kP2, kP3, kCoord, kCoord2,
                                    kClient, kA1, kA2, kA3,    kStranger};
inline constexpr NodeId kListMembers[] = {kP1, kP2, kP3, kStranger};  // by mask bit
inline constexpr NodeId kLeaders[] = {kCoord, kCoord2, kP1, kP2, kP3};
inline constexpr size_t kTxns = 4;
inline constexpr size_t kPayloads = 5;

struct Setup {
  CoreRole role = CoreRole::Acceptor;
  Protocol protocol = Protocol::Paxos;
  FanOut fanOut = FanOut::All;
};

struct Step {
  enum Kind { Tick, Restart, Deliver } kind = Tick;
  uint64_t ticks = 0;  // Tick
  Envelope env;        // Deliver (env.to is filled in by the runner)
};

// ---- one byte -> one field value ----

inline NodeId nodeOf(uint8_t b) { return kNodes[b % std::size(kNodes)]; }
inline NodeId nodeOrNoneOf(uint8_t b) {
  size_t i = b % (std::size(kNodes) + 1);
  return i == 0 ? kNoNode : kNodes[i - 1];
}
// An instance: a node id as nodeOf for the bytes the older seeds use (0..9), and
// 2pc-replicated's decision instance (types.h) for every eleventh byte.
inline NodeId instanceOf(uint8_t b) {
  size_t i = b % (std::size(kNodes) + 1);
  return i == std::size(kNodes) ? kDecisionInstance : kNodes[i];
}
inline TxnId txnOf(uint8_t b) { return TxnId{0x1000, 1 + b % kTxns}; }
inline ParticipantList listOf(uint8_t b) {
  ParticipantList l;
  for (size_t i = 0; i < std::size(kListMembers); ++i) {
    if ((b >> i) & 1) l.push_back(kListMembers[i]);
  }
  return l;
}
inline Ballot ballotOf(uint8_t b) {
  uint64_t round = b % 4;
  if (round == 0) return Ballot::zero();
  return Ballot{round, kLeaders[(b / 4) % std::size(kLeaders)]};
}
inline Vote voteOf(uint8_t b) { return b % 2 == 0 ? Vote::Prepared : Vote::Aborted; }
inline Outcome outcomeOf(uint8_t b) { return b % 2 == 0 ? Outcome::Commit : Outcome::Abort; }
inline std::optional<Outcome> optOutcomeOf(uint8_t b) {
  if (b % 3 == 0) return std::nullopt;
  return b % 3 == 1 ? Outcome::Commit : Outcome::Abort;
}
inline TxnStatus statusOf(uint8_t b) { return static_cast<TxnStatus>(1 + b % 4); }
inline std::string textOf(uint8_t b) { return b % 2 == 0 ? "" : "r"; }
inline bool flagOf(uint8_t b) { return (b & 1) != 0; }
inline Bytes payloadOf(uint8_t b) {
  using kv::Op;
  using kv::OpKind;
  switch (b % kPayloads) {
    case 0:
      return "";
    case 1:
      return kv::encodeOps({Op{OpKind::Put, "a", "1", 0}});
    case 2:
      return kv::encodeOps({Op{OpKind::Put, "a", "2", 0}, Op{OpKind::Put, "b", "2", 0}});
    case 3:
      return kv::encodeOps({Op{OpKind::Expect, "a", "", 0}, Op{OpKind::Del, "b", "", 0}});
    default:
      return "\xff";  // malformed: the engine votes Aborted
  }
}
inline size_t countOf(uint8_t b) { return b % 4; }

// ---- reading ----

class ScriptReader {
 public:
  ScriptReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  void txn(TxnId& v) { v = txnOf(byte()); }
  void node(NodeId& v) { v = nodeOf(byte()); }
  void instance(NodeId& v) { v = instanceOf(byte()); }
  void nodeOrNone(NodeId& v) { v = nodeOrNoneOf(byte()); }
  void list(ParticipantList& v) { v = listOf(byte()); }
  void ballot(Ballot& v) { v = ballotOf(byte()); }
  void vote(Vote& v) { v = voteOf(byte()); }
  void outcome(Outcome& v) { v = outcomeOf(byte()); }
  void optOutcome(std::optional<Outcome>& v) { v = optOutcomeOf(byte()); }
  void status(TxnStatus& v) { v = statusOf(byte()); }
  void text(std::string& v) { v = textOf(byte()); }
  void flag(bool& v) { v = flagOf(byte()); }
  void payload(Bytes& v) { v = payloadOf(byte()); }
  void count(size_t& n) { n = countOf(byte()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// ---- writing (seeds) ----

class ScriptWriter {
 public:
  std::string bytes;

  void put(uint8_t b) { bytes.push_back(static_cast<char>(b)); }
  template <class T, class F>
  void inverse(const T& v, F of) {
    for (int b = 0; b < 256; ++b) {
      if (of(static_cast<uint8_t>(b)) == v) {
        put(static_cast<uint8_t>(b));
        return;
      }
    }
    PC_ASSERT(false, "value not representable in a fuzz script");
  }
  void txn(TxnId& v) { inverse(v, txnOf); }
  void node(NodeId& v) { inverse(v, nodeOf); }
  void instance(NodeId& v) { inverse(v, instanceOf); }
  void nodeOrNone(NodeId& v) { inverse(v, nodeOrNoneOf); }
  void list(ParticipantList& v) { inverse(v, listOf); }
  void ballot(Ballot& v) { inverse(v, ballotOf); }
  void vote(Vote& v) { inverse(v, voteOf); }
  void outcome(Outcome& v) { inverse(v, outcomeOf); }
  void optOutcome(std::optional<Outcome>& v) { inverse(v, optOutcomeOf); }
  void status(TxnStatus& v) { inverse(v, statusOf); }
  void text(std::string& v) { inverse(v, textOf); }
  void flag(bool& v) { inverse(v, flagOf); }
  void payload(Bytes& v) { inverse(v, payloadOf); }
  void count(size_t& n) { inverse(n, countOf); }
};

// ---- the fields of each message, in order (one definition for reading and writing) ----

template <class IO>
void votesIO(IO& io, std::vector<InstanceVote>& votes) {
  size_t n = votes.size();
  io.count(n);
  votes.resize(n);
  for (auto& v : votes) {
    io.instance(v.instance);
    io.ballot(v.ballot);
    io.vote(v.vote);
  }
}

template <class IO>
void fieldsIO(IO& io, Message& msg) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (requires { m.txn; }) io.txn(m.txn);
        if constexpr (std::is_same_v<T, AckBatch>) {
          size_t n = m.acks.size();
          io.count(n);
          m.acks.resize(n);
          for (auto& a : m.acks) {
            io.txn(a.txn);
            io.node(a.participant);
            io.optOutcome(a.outcome);
          }
        } else if constexpr (std::is_same_v<T, CommitRequest>) {
          // Payloads for the participants of a list (sorted, unique, as clients send).
          ParticipantList ps;
          for (const auto& p : m.payloads) ps.push_back(p.participant);
          io.list(ps);
          m.payloads.resize(ps.size());
          for (size_t i = 0; i < ps.size(); ++i) {
            m.payloads[i].participant = ps[i];
            io.payload(m.payloads[i].payload);
          }
        } else if constexpr (std::is_same_v<T, CommitReply>) {
          io.status(m.status);
          io.text(m.reason);
        } else if constexpr (std::is_same_v<T, Prepare>) {
          io.payload(m.payload);
          io.list(m.participants);
          io.node(m.leader);
        } else if constexpr (std::is_same_v<T, VoteMsg>) {
          io.node(m.participant);
          io.vote(m.vote);
          io.text(m.reason);
          io.nodeOrNone(m.owner);
        } else if constexpr (std::is_same_v<T, Phase1a>) {
          io.ballot(m.ballot);
          io.list(m.participants);
        } else if constexpr (std::is_same_v<T, Phase1b>) {
          io.node(m.acceptor);
          io.ballot(m.ballot);
          io.flag(m.promised);
          io.flag(m.forgotten);
          io.optOutcome(m.outcome);
          io.ballot(m.mbal);
          io.list(m.participants);
          size_t n = m.reports.size();
          io.count(n);
          m.reports.resize(n);
          for (auto& r : m.reports) {
            io.instance(r.instance);
            bool hasVote = r.bal.has_value();
            Ballot bal = r.bal.value_or(Ballot::zero());
            Vote val = r.val.value_or(Vote::Prepared);
            io.flag(hasVote);
            io.ballot(bal);
            io.vote(val);
            r.bal = hasVote ? std::optional<Ballot>(bal) : std::nullopt;
            r.val = hasVote ? std::optional<Vote>(val) : std::nullopt;
          }
        } else if constexpr (std::is_same_v<T, Phase2a>) {
          io.list(m.participants);
          io.nodeOrNone(m.leader);
          votesIO(io, m.votes);
          io.text(m.reason);
        } else if constexpr (std::is_same_v<T, Phase2b>) {
          io.node(m.acceptor);
          io.list(m.participants);
          votesIO(io, m.votes);
          io.flag(m.forgotten);
          io.text(m.reason);
          io.optOutcome(m.outcome);
        } else if constexpr (std::is_same_v<T, OutcomeMsg>) {
          io.outcome(m.outcome);
        } else if constexpr (std::is_same_v<T, Ack>) {
          io.node(m.participant);
          io.optOutcome(m.outcome);
        } else if constexpr (std::is_same_v<T, AckRequest>) {
          // the txn only
        } else if constexpr (std::is_same_v<T, OutcomeQuery>) {
          io.list(m.participants);
        } else if constexpr (std::is_same_v<T, OutcomeReply>) {
          io.status(m.status);
        }
      },
      msg);
}

inline constexpr size_t kMessageKinds = std::variant_size_v<Message>;
static_assert(kMessageKinds == 14, "a new message kind needs its fields in fieldsIO");

template <size_t I = 0>
Message emptyMessage(size_t kind) {
  if constexpr (I + 1 < kMessageKinds) {
    if (kind != I) return emptyMessage<I + 1>(kind);
  }
  return Message{std::in_place_index<I>};
}

inline Setup setupOf(uint8_t b) {
  Setup s;
  s.role = static_cast<CoreRole>(b % 4);
  s.protocol = static_cast<Protocol>(1 + ((b / 4) % 4 + 4 * ((b / 32) % 2)) % 5);
  s.fanOut = (b / 16) % 2 == 0 ? FanOut::All : FanOut::Quorum;
  return s;
}

// Reads one step; false when the input is used up.
inline bool readStep(ScriptReader& r, Step& s) {
  if (r.done()) return false;
  uint8_t op = r.byte() % 32;
  if (op <= 1) {
    s.kind = Step::Tick;
    s.ticks = 1 + r.byte() % kMaxTicksPerStep;
  } else if (op == 2) {
    s.kind = Step::Restart;
  } else {
    s.kind = Step::Deliver;
    s.env.from = nodeOf(r.byte());
    s.env.msg = emptyMessage(static_cast<size_t>(op - 3) % kMessageKinds);
    fieldsIO(r, s.env.msg);
  }
  return true;
}

inline void writeSetup(ScriptWriter& w, Setup s) {
  const auto p = static_cast<uint8_t>(static_cast<uint8_t>(s.protocol) - 1);  // 0..4
  uint8_t b = static_cast<uint8_t>(static_cast<uint8_t>(s.role) | ((p % 4) << 2) |
                                   (s.fanOut == FanOut::Quorum ? 16 : 0) | (p == 4 ? 32 : 0));
  w.put(b);
}
inline void writeTicks(ScriptWriter& w, uint64_t n) {
  PC_ASSERT(n >= 1 && n <= kMaxTicksPerStep, n);
  w.put(0);
  w.put(static_cast<uint8_t>(n - 1));
}
inline void writeRestart(ScriptWriter& w) { w.put(2); }
inline void writeDeliver(ScriptWriter& w, NodeId from, Message m) {
  w.put(static_cast<uint8_t>(3 + m.index()));
  w.node(from);
  fieldsIO(w, m);
}

}  // namespace pc::fuzz
