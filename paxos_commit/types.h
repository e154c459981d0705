// Plain value types shared by every role: transaction ids, node ids, ballots, votes,
// outcomes, protocol modes. No I/O, no clock: see docs/DESIGN.md §1.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace pc {

// A node of the cluster (coordinator, participant, acceptor) or a client. 0 is "nobody".
using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0;
// Clients pick ids with the high bit set; cluster members' ids never have it
// (runtime/cluster_config.h numbers them c<N> = N, p<N> = 1000 + N, a<N> = 2000 + N).
inline constexpr bool isClientId(NodeId id) { return (id & 0x80000000u) != 0; }

// 128-bit transaction id chosen by the client. By convention `hi` holds the client's
// clock in microseconds and `lo` random bits, so ids roughly order by age; the acceptor's
// and participant's low-water marks of collected transactions rely on that order only
// for garbage collection, never for safety of a live transaction.
struct TxnId {
  uint64_t hi = 0;
  uint64_t lo = 0;
  auto operator<=>(const TxnId&) const = default;
  bool isZero() const { return hi == 0 && lo == 0; }
  std::string toString() const;  // 32 lowercase hex digits
  static std::optional<TxnId> parse(std::string_view text);
};
std::ostream& operator<<(std::ostream& os, const TxnId& t);

// A Paxos ballot. Round 0 is ballot 0 of an instance, owned by that instance's
// participant (its own vote); `leader` is kNoNode there. Rounds > 0 belong to the leader
// named, so two leaders never share a ballot. Ordered lexicographically.
struct Ballot {
  uint64_t round = 0;
  NodeId leader = kNoNode;
  auto operator<=>(const Ballot&) const = default;
  bool isZero() const { return round == 0; }
  static Ballot zero() { return Ballot{}; }
};
std::ostream& operator<<(std::ostream& os, const Ballot& b);
// The highest round any node accepts (issue 12): a ballot above it is refused at the edge
// and in the core, so a leader's "highest round seen + 1" can never wrap to 0 and leave a
// transaction without a ballot above every promise. 2^62 rounds: never reached honestly.
inline constexpr uint64_t kRoundMax = uint64_t{1} << 62;
inline bool roundInRange(const Ballot& b) { return b.round <= kRoundMax; }

// A participant's vote: the value each Paxos instance chooses.
enum class Vote : uint8_t { Prepared = 1, Aborted = 2 };
// The outcome of a transaction.
enum class Outcome : uint8_t { Commit = 1, Abort = 2 };
// What a client or an outcome query is told.
enum class TxnStatus : uint8_t { Committed = 1, Aborted = 2, Unknown = 3, Forgotten = 4 };

enum class Protocol : uint8_t {
  TwoPC = 1,         // classic two-phase commit, durable coordinator, presumed abort
  PaxosClassic = 2,  // Paxos Commit: acceptors answer the leader only; leader sends phase 3
  Paxos = 3,         // faster Paxos Commit: acceptors' 2b go to the participants too
  PaxosDirect = 4,   // faster Paxos Commit with the client as the initial leader
  // 2PC whose coordinator writes its Commit decision to one Paxos instance on the
  // acceptors (kDecisionInstance) before sending it: no coordinator blocks (docs/PROTOCOL.md §5)
  TwoPCReplicated = 5,
};
// Vote fan-out: a participant's ballot-0 2a goes to all 2F+1 acceptors, or to F+1 first
// (the paper's minimum) and to the rest only after a timeout.
enum class FanOut : uint8_t { All = 1, Quorum = 2 };

const char* toString(Vote v);
const char* toString(Outcome o);
const char* toString(TxnStatus s);
const char* toString(Protocol p);
const char* toString(FanOut f);
std::optional<Protocol> parseProtocol(std::string_view s);
std::optional<FanOut> parseFanOut(std::string_view s);
// Acceptors run and participants ack to them (every mode but `2pc`; `2pc-replicated` too).
inline bool isPaxos(Protocol p) { return p != Protocol::TwoPC; }
// Participants vote to the coordinator that prepared them, which alone decides at ballot 0.
inline bool coordinatorCollectsVotes(Protocol p) {
  return p == Protocol::TwoPC || p == Protocol::TwoPCReplicated;
}
inline bool acceptorsTellParticipants(Protocol p) {
  return p == Protocol::Paxos || p == Protocol::PaxosDirect;
}
std::ostream& operator<<(std::ostream& os, Vote v);
std::ostream& operator<<(std::ostream& os, Outcome o);

using Bytes = std::string;  // opaque payload bytes

// Participants of a transaction, sorted ascending and unique. A participant's id is also
// the id of its Paxos instance.
using ParticipantList = std::vector<NodeId>;
bool isSortedUnique(const ParticipantList& l);
bool contains(const ParticipantList& l, NodeId id);

// `2pc-replicated`: the id of a transaction's one decision instance at the acceptors. Its
// value Prepared means Commit, Aborted means Abort. Not a member id (runtime/cluster_config.h
// numbers members below 3000) and not a client id (high bit clear), so no node owns it:
// ballot 0 is taken from a coordinator, and only with the value Prepared (a coordinator
// never writes an Abort: presumed abort), ballots > 0 from their leader.
inline constexpr NodeId kDecisionInstance = 0x7fffffffu;
// The Paxos instances of a transaction: one per participant, or in `2pc-replicated` the
// single decision instance.
ParticipantList instancesOf(Protocol p, const ParticipantList& participants);
// The same without building the list (the acceptor asks per message).
size_t instanceCount(Protocol p, const ParticipantList& participants);
bool isInstanceOf(Protocol p, const ParticipantList& participants, NodeId instance);

}  // namespace pc
