// Records checked by meaning (issue 12 item 7). The codec (codec.h) refuses bytes that do
// not decode; these checks refuse records that decode but that no core could have
// written, and on which a core would assert or misbehave after a restart: an acceptor
// instance with a ballot but no value (or the reverse), bal above mbal, instances that are
// not the participants, lists that are not sorted and unique, a Prepared record whose KV
// payload does not decode, sizes beyond what the wire ever lets in.
//
// Contract: each check returns nullopt for a good record, else one line saying what is
// wrong (no database or key: the caller adds them). Pure functions, no I/O.
//   - Env::load() refuses the first bad record with StorageError Corrupted (the node does
//     not start: exit 1 at `pcommit serve`, never an assert);
//   - Env's writer asserts that every record it writes passes (a failure is our bug: a
//     node must never write what it could not load again);
//   - verify() (verify.h, `pcommit inspect --verify`) lists every problem of a directory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "paxos_commit/records.h"

namespace pc::storage {

// Bounds on stored records: what the wire lets in (rpc::Limits' defaults: 64 participants,
// 1 MiB payload per participant), and for reasons, which an engine makes locally (an
// embedded engine's exception text included), the payload's bound: generous, since a
// writer that met a longer one would assert. Raising rpc::Limits means raising these.
inline constexpr size_t kMaxRecordParticipants = 64;
inline constexpr size_t kMaxRecordPayloadBytes = size_t{1} << 20;
inline constexpr size_t kMaxRecordReasonBytes = size_t{1} << 20;

// kvPayloads: the built-in KV engine holds the data (Options::kvData), so a Prepared
// record's payload must decode as KV ops (the engine retakes its locks from it).
std::optional<std::string> checkRecord(const AcceptorTxnRecord& r);
std::optional<std::string> checkRecord(const ParticipantTxnRecord& r, bool kvPayloads);
std::optional<std::string> checkRecord(const DecisionRecord& r);
// Any record as written (low-water marks, forgets and leader rounds are always good).
std::optional<std::string> checkRecord(const Record& r, bool kvPayloads);

// A problem found across records of a loaded image (vectors sorted by TxnId, as load()
// returns them): the database and transaction it is filed under, and why.
struct ImageProblem {
  const char* database;
  TxnId txn;
  std::string reason;
};
// Today: a transaction both live at the acceptor and forgotten (tombstone), which the
// acceptor asserts never happens.
std::vector<ImageProblem> checkImage(const Recovered& image);

// "round.leader", as the messages above print ballots.
std::string ballotText(const Ballot& b);

}  // namespace pc::storage
