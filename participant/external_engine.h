// ExternalEngine: a participant's engine supplied from outside the node (the embedding API,
// participant/ParticipantNode, adapts a pc::ResourceManager to it) instead of the built-in
// LMDB KV engine the participant role host (participant/participant_host.h) builds
// otherwise.
//
// The core drives it like any Engine (paxos_commit/engine.h): prepare, commit, abort,
// restorePrepared, synchronously on the event-loop thread. The role host adds three duties:
//   recover()         once, before the core is built, with the records it is built from;
//   outcomeDurable()  after the node's Committed / Aborted record of a transaction is
//                     durable, before the ack that depends on it leaves, in record order;
//   lockHolder/read   `pcommit get` (only when readable()).
// An exception from recover() refuses the start; from outcomeDurable() it ends the node's
// run() promise (the node stops; at restart recover() sees the durable outcome again).
#pragma once

#include <optional>
#include <string>

#include "paxos_commit/engine.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/records.h"

namespace pc {

class ExternalEngine : public Engine {
 public:
  // The node's durable state, as loaded, before the core restores it.
  virtual void recover(const Recovered& rec) = 0;
  // The node's record that `txn` ended with `o` is durable.
  virtual void outcomeDurable(const TxnId& txn, Outcome o) = 0;
  // Whether read() serves `pcommit get`; if not, the node answers that it holds no data.
  virtual bool readable() const = 0;
  // The prepared transaction (outcome not applied yet) a read of `key` must wait for.
  virtual std::optional<TxnId> lockHolder(const std::string& key) const = 0;
  // Committed data. Called only when readable() and no lock holder.
  virtual kv::Versioned read(const std::string& key) = 0;
};

}  // namespace pc
