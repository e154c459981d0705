// Durable records: what each role must not forget (docs/PROTOCOL.md §3). The core returns
// them in Output::persist; the caller makes every record of an Output durable (one LMDB
// write transaction) before any message of that Output -- or of a later Output -- leaves.
// Records are keyed upserts or erasures; storage/ maps each kind to a named database.
#pragma once

#include <variant>
#include <vector>

#include "paxos_commit/heuristic.h"
#include "paxos_commit/messages.h"
#include "paxos_commit/types.h"

namespace pc {

// ---- acceptor ----

// Acceptor state of one instance (docs/PROTOCOL.md §1): mbal = highest ballot answered,
// (bal, val) = last vote; no vote <=> bal and val are nullopt.
struct AcceptorInstance {
  NodeId instance = kNoNode;
  Ballot mbal;
  std::optional<Ballot> bal;
  std::optional<Vote> val;
  bool operator==(const AcceptorInstance&) const = default;
};

// Upsert: the whole acceptor state of one transaction (all its instances: one write per
// acceptor per transaction, as in the paper), with the participant list that came with
// the votes. Key: txn.
struct AcceptorTxnRecord {
  TxnId txn;
  ParticipantList participants;
  NodeId leader = kNoNode;
  std::vector<AcceptorInstance> instances;  // sorted by instance
  bool operator==(const AcceptorTxnRecord&) const = default;
};

// Erase the acceptor state of `txn` and keep a tombstone, so a late 1a/2a for it is
// refused ("forgotten") instead of starting a fresh instance (docs/PROTOCOL.md §6.7). The
// tombstone keeps the outcome every participant acked, so an outcome query after
// collection still gets the real answer (until the low-water mark passes it).
struct AcceptorForgetRecord {
  TxnId txn;
  std::optional<Outcome> outcome = std::nullopt;  // nullopt if no ack said which
  bool operator==(const AcceptorForgetRecord&) const = default;
};

struct AcceptorTombstone {
  TxnId txn;
  std::optional<Outcome> outcome = std::nullopt;
  bool operator==(const AcceptorTombstone&) const = default;
  auto operator<=>(const AcceptorTombstone&) const = default;
};

// Raise the acceptor's low-water mark: erase every tombstone <= mark; from now on any
// transaction <= mark that has no live state is treated as forgotten.
struct AcceptorLowWaterRecord {
  TxnId mark;
  bool operator==(const AcceptorLowWaterRecord&) const = default;
};

// ---- participant ----

enum class ParticipantState : uint8_t {
  Prepared = 1,      // voted Prepared at ballot 0; locks held; outcome not known
  VotedAborted = 2,  // voted Aborted at ballot 0 (never votes again); outcome is Abort
  Committed = 3,     // outcome Commit is durable (and applied to the engine's data)
  Aborted = 4,       // outcome Abort is durable
};
const char* toString(ParticipantState s);

// Upsert: a participant's record of one transaction. Key: txn. Written when it votes
// (Prepared / VotedAborted, before the vote leaves) and when it learns the outcome
// (before its ack). For the built-in KV engine, storage applies `payload` to the data in
// the same write transaction when the state becomes Committed -- once: re-writing a record
// that is already Committed applies nothing. `heuristic`: not None when an operator decided
// the outcome (paxos_commit/heuristic.h); rewritten once the coordinator's decision is known.
struct ParticipantTxnRecord {
  TxnId txn;
  ParticipantState state = ParticipantState::Prepared;
  Bytes payload;
  ParticipantList participants;
  NodeId leader = kNoNode;  // who asked us to prepare (2PC: the coordinator to ask)
  std::string reason;       // why we voted Aborted, if we did
  Heuristic heuristic = Heuristic::None;
  bool operator==(const ParticipantTxnRecord&) const = default;
};

// Raise the participant's low-water mark: erase every finished (Committed / Aborted /
// VotedAborted) record <= mark. A Prepare for a transaction <= mark that has no record is
// refused: it may be a late duplicate of one already finished and forgotten.
struct ParticipantLowWaterRecord {
  TxnId mark;
  bool operator==(const ParticipantLowWaterRecord&) const = default;
};

// ---- leader ----

// Upsert (singleton): the highest ballot round this node has used as a leader. Persisted
// before any 2a in a new round leaves, so a restarted leader never reuses a ballot.
struct LeaderRoundRecord {
  uint64_t round = 0;
  bool operator==(const LeaderRoundRecord&) const = default;
};

// ---- 2PC coordinator ----

// Upsert: the 2PC coordinator decided Commit (presumed abort: Abort is never recorded).
// Key: txn. Written with done = false before Commit is sent; rewritten with done = true
// (participants dropped) once every participant acked, and kept as a small tombstone so a
// later outcome query still answers Committed rather than a presumed Aborted.
struct DecisionRecord {
  TxnId txn;
  ParticipantList participants;
  bool done = false;
  bool operator==(const DecisionRecord&) const = default;
};

// Raise the coordinator's low-water mark: erase every done DecisionRecord <= mark; an
// outcome query for a transaction <= mark with no record answers Forgotten.
struct DecisionLowWaterRecord {
  TxnId mark;
  bool operator==(const DecisionLowWaterRecord&) const = default;
};

using Record = std::variant<AcceptorTxnRecord, AcceptorForgetRecord, AcceptorLowWaterRecord,
                            ParticipantTxnRecord, ParticipantLowWaterRecord, LeaderRoundRecord,
                            DecisionRecord, DecisionLowWaterRecord>;

const char* recordName(const Record& r);

// True for records on the commit path (the "synced writes" of docs/PROTOCOL.md §7): votes,
// acceptor votes and promises, leader rounds, 2PC decisions. False for background writes
// (applying an outcome before its ack, garbage collection).
bool isCriticalRecord(const Record& r);

// Everything a role reloads at restart: the latest value of every live key. storage/
// load() builds it from LMDB; the simulator from its durable map.
struct Recovered {
  std::vector<AcceptorTxnRecord> acceptorTxns;
  std::vector<AcceptorTombstone> acceptorTombstones;
  TxnId acceptorLowWater;
  std::vector<ParticipantTxnRecord> participantTxns;
  TxnId participantLowWater;
  uint64_t leaderRound = 0;
  std::vector<DecisionRecord> decisions;  // done ones included
  TxnId decisionLowWater;
};

// Applies one record to a Recovered image (the reference semantics of every record; the
// simulator's "disk" is exactly this). Storage must give the same result.
void applyRecord(Recovered& image, const Record& r);

// Which records of a sequence a later record of the same sequence makes pointless: an
// AcceptorTxnRecord followed by another one or by an AcceptorForgetRecord of its
// transaction, and a DecisionRecord followed by another one of its transaction (each a
// keyed upsert whose key the later record overwrites or erases; nothing in between reads
// it for another key). For every starting image, applying the records not marked, in
// order, gives the image of applying them all. A checkpoint of the record log skips the
// marked ones: at 64 clients most acceptor records are forgotten within one log half.
std::vector<bool> supersededRecords(const std::vector<Record>& records);

}  // namespace pc
