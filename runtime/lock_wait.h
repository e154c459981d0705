// The lock-wait error: a read (`pcommit get`, Client::get) of a key held by an in-doubt
// transaction gave up after waiting for its outcome. The participant raises it as a KJ
// exception (OVERLOADED) whose description is one readable line followed by the same facts
// in a fixed machine-readable form; a client finds that form anywhere in the description it
// receives (Cap'n Proto prefixes "remote exception: ") and words its own line from it:
//
//   key 'x1' is held by in-doubt transaction 0006... (waiting for coordinator c1) after
//   5,000 ms [pcommit.lock_wait key=7831 txn=0006... leader=1 recovering=0 waited_ms=5000]
//
// key is hex (keys are bytes), txn 32 hex digits, leader the node id the holder last heard
// of (0: none), recovering 0|1 (its own recovery leader runs), waited_ms decimal. Fields are
// only ever added. The description is hostile input to the client: parseLockWait checks
// every field and yields nullopt for anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "paxos_commit/types.h"

namespace pc::runtime {

struct LockWait {
  std::string key;
  TxnId txn;
  NodeId leader = kNoNode;  // the leader the holder last heard of
  bool recovering = false;  // the holder's own recovery leader is running
  uint32_t waitedMs = 0;
};

// The exception description the participant sends: message() + " " + the bracketed form.
std::string encodeLockWait(const LockWait& w);
// The bracketed form found in `description`, checked; nullopt if absent or malformed.
std::optional<LockWait> parseLockWait(std::string_view description);
// The one line: "key 'x1' is held by in-doubt transaction T (waiting for coordinator c1)
// after 5,000 ms". Bytes of the key that are not printable ASCII are written as \xNN.
std::string lockWaitMessage(const LockWait& w);

}  // namespace pc::runtime
