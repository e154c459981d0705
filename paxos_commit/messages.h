// Every message of docs/PROTOCOL.md §2 as a plain value, and the envelope that carries one.
// rpc/ converts Cap'n Proto readers into these at the edge (validating every field); the
// simulator passes them around directly. Nothing here knows how it travels.
#pragma once

#include <variant>
#include <vector>

#include "paxos_commit/types.h"

namespace pc {

struct ParticipantPayload {
  NodeId participant = kNoNode;
  Bytes payload;
  bool operator==(const ParticipantPayload&) const = default;
};

// One instance's vote at one ballot (carried by phase 2a and phase 2b).
struct InstanceVote {
  NodeId instance = kNoNode;  // the participant whose vote this instance decides
  Ballot ballot;
  Vote vote = Vote::Aborted;
  bool operator==(const InstanceVote&) const = default;
};

// One instance's acceptor state as reported in phase 1b.
struct InstanceReport {
  NodeId instance = kNoNode;
  std::optional<Ballot> bal;  // ballot of the last vote; nullopt = never voted (bal = -1)
  std::optional<Vote> val;    // nullopt iff bal is nullopt
  bool operator==(const InstanceReport&) const = default;
};

// client -> coordinator: commit these per-participant payloads atomically. Retrying with
// the same txn id is safe; the same id with different contents is refused.
struct CommitRequest {
  TxnId txn;
  std::vector<ParticipantPayload> payloads;  // sorted by participant, unique
  bool operator==(const CommitRequest&) const = default;
};

// coordinator (or the client's own leader) -> client.
struct CommitReply {
  TxnId txn;
  TxnStatus status = TxnStatus::Unknown;
  std::string reason;  // why it aborted, or why the outcome is unknown
  bool operator==(const CommitReply&) const = default;
};
// The reason of an Aborted reply to a retry of a transaction finished earlier, whose own
// reason went with its state.
inline constexpr const char* kAbortedEarlierReason =
    "decided earlier (the original reason is no longer kept)";

// leader / 2PC coordinator -> participant: prepare your part. `leader` is where votes
// (2PC) or, in Paxos Commit, phase 2b from the acceptors are to be sent.
struct Prepare {
  TxnId txn;
  Bytes payload;
  ParticipantList participants;
  NodeId leader = kNoNode;
  bool operator==(const Prepare&) const = default;
};

// participant -> 2PC coordinator.
// `owner` (not kNoNode): the participant is already prepared for this transaction under
// another coordinator, `owner`; the receiver is not its coordinator and must not decide it.
struct VoteMsg {
  TxnId txn;
  NodeId participant = kNoNode;
  Vote vote = Vote::Aborted;
  std::string reason;
  NodeId owner = kNoNode;
  bool operator==(const VoteMsg&) const = default;
};

// leader -> acceptors: phase 1a for every instance of `participants` at `ballot` (> 0).
// An empty participant list asks only "what do you know of this transaction?": it
// promises nothing and changes nothing.
struct Phase1a {
  TxnId txn;
  Ballot ballot;
  ParticipantList participants;
  bool operator==(const Phase1a&) const = default;
};

// acceptor -> leader. `promised`: mbal is now `ballot` for every instance listed (and
// durable). Otherwise `mbal` is the acceptor's higher promise, so the leader can skip
// ahead. `forgotten`: the transaction was garbage-collected here.
struct Phase1b {
  TxnId txn;
  NodeId acceptor = kNoNode;
  Ballot ballot;
  bool promised = false;
  bool forgotten = false;
  std::optional<Outcome> outcome = std::nullopt;  // forgotten: the acked outcome, if kept
  Ballot mbal;
  ParticipantList participants;  // as stored with the votes; empty if none known
  std::vector<InstanceReport> reports;
  bool operator==(const Phase1b&) const = default;
};

// participant (ballot 0, its own instance) or leader (ballot > 0) -> acceptors.
// Carries the full participant list; acceptors store it with the vote (docs/PROTOCOL.md §2).
// `leader` is where phase 2b goes (besides the participants in the faster variant).
struct Phase2a {
  TxnId txn;
  ParticipantList participants;
  NodeId leader = kNoNode;
  std::vector<InstanceVote> votes;
  std::string reason;  // ballot-0 Aborted: the participant's reason, passed on in 2b
  bool operator==(const Phase2a&) const = default;
};

// acceptor -> leader (and every participant in the faster variant). Bundles the
// instances of one transaction this acceptor has voted in. `forgotten`: collected here.
struct Phase2b {
  TxnId txn;
  NodeId acceptor = kNoNode;
  ParticipantList participants;
  std::vector<InstanceVote> votes;
  bool forgotten = false;
  std::string reason;  // why a participant voted Aborted, when this 2b carries that vote
  std::optional<Outcome> outcome = std::nullopt;  // forgotten: the acked outcome, if kept
  bool operator==(const Phase2b&) const = default;
};

// leader / 2PC coordinator -> participants: the decision (phase 3).
struct OutcomeMsg {
  TxnId txn;
  Outcome outcome = Outcome::Abort;
  bool operator==(const OutcomeMsg&) const = default;
};

// participant -> acceptors (Paxos Commit) or 2PC coordinator: my outcome is durable,
// you may collect your state for this transaction.
struct Ack {
  TxnId txn;
  NodeId participant = kNoNode;
  // The outcome it made durable; nullopt when it finished and forgot the transaction long
  // ago and no longer knows (it acks so that the acceptor can collect, nothing more).
  std::optional<Outcome> outcome = std::nullopt;
  bool operator==(const Ack&) const = default;
};

// acceptor / 2PC coordinator -> participant: please ack if your outcome is durable (sent
// when acks went missing, e.g. after the collector restarted).
struct AckRequest {
  TxnId txn;
  bool operator==(const AckRequest&) const = default;
};

// anyone -> coordinator (or, in 2PC, a participant -> its coordinator): what became of
// this transaction? The participant list helps a Paxos coordinator that never saw it; a
// 2PC coordinator presumes abort only when the asker is in it (a participant asks only
// the coordinator that prepared it; a client may be asking the wrong one).
struct OutcomeQuery {
  TxnId txn;
  ParticipantList participants;
  bool operator==(const OutcomeQuery&) const = default;
};

// coordinator -> asker.
struct OutcomeReply {
  TxnId txn;
  TxnStatus status = TxnStatus::Unknown;
  bool operator==(const OutcomeReply&) const = default;
};

// participant -> acceptors (Paxos Commit): the acks of every transaction whose outcome it
// made durable since its last tick, in one message per acceptor per tick (pcommit: GC acks
// batched, docs/PROTOCOL.md §4). Each entry means exactly what an Ack alone means and names
// the sender as its participant; an acceptor handles the entries as that many acks, with
// one write for all the tombstones they leave.
struct AckBatch {
  std::vector<Ack> acks;  // 1..kMaxAcksPerBatch entries
  bool operator==(const AckBatch&) const = default;
};
// A participant sends at most this many acks in one AckBatch (more go in further ones).
inline constexpr size_t kMaxAcksPerBatch = 1024;

using Message =
    std::variant<CommitRequest, CommitReply, Prepare, VoteMsg, Phase1a, Phase1b, Phase2a, Phase2b,
                 OutcomeMsg, Ack, AckRequest, OutcomeQuery, OutcomeReply, AckBatch>;

// Index of each alternative, stable: used by metrics and by rpc/ tags.
const char* messageName(const Message& m);
// The same name by the alternative's index in Message (for per-kind counters).
const char* messageKindName(size_t index);
// The transaction a message is about (an AckBatch: its first entry's, zero if empty).
TxnId messageTxn(const Message& m);

struct Envelope {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Message msg;
  bool operator==(const Envelope&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Envelope& e);

}  // namespace pc
