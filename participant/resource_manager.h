// pc::ResourceManager: what a storage engine implements to take part in pcommit
// transactions as a participant (run it with pc::ParticipantNode, participant_node.h).
//
// A transaction reaches a participant as one payload: the built-in KV operations of
// paxos_commit/kv.h (decode with kv::decodeOps: put, del, expect-version), at most
// kv::kMaxOps of them, the ops routed to this participant only. Versions are per key: 0 =
// never written; every committed put or del adds one; a deleted key keeps its version.
// An engine that follows these rules behaves like the built-in LMDB one.
//
// THREADS. Every call is made on the node's event-loop thread, one at a time, never
// concurrently with another call of this interface. A call may block on I/O (it must, to
// be durable); while it blocks the node handles no other message, so every transaction on
// this node waits. Keep calls short: one synced write each.
//
// LIFECYCLE. At start the node calls prepared() once, then commit()/abort() for the
// transactions the node's own records have already decided (see RESTART), before any
// prepare(). Afterwards, for each transaction: exactly one prepare(); if it voted Prepared,
// later exactly one commit() or abort() (plus repeats after a crash). A transaction that
// voted Aborted gets no further call, unless prepare() threw (then abort()).
//
// RESTART. The node keeps its own durable record of each transaction (the vote, then the
// outcome) in its data directory. At start it lists prepared() and reconciles:
//   node record Committed                      -> commit(txn)
//   node record Aborted / voted Aborted / none -> abort(txn)   (no Prepared vote can have
//                                                 left without the node's Prepared record)
//   node record Prepared                       -> kept prepared: the node learns the
//                                                 outcome from the cluster, then calls
//                                                 commit() or abort()
// A transaction the node holds Prepared that prepared() does not list means the engine lost
// a prepared transaction (its prepare was not durable): the node refuses to start with an
// error naming the transaction. It cannot vote again, and cannot commit writes it lost.
//
// ERRORS. An exception from prepare() counts as an Aborted vote (its message is the reason),
// and the node then calls abort(txn) to release whatever the failed prepare left (an
// exception from that abort() is logged and ignored). An exception from commit() or abort()
// stops the node (ParticipantNode::run() fails): the outcome is recorded durably on the node
// and is applied again at the next start. An exception from prepared() fails the start.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/types.h"

namespace pc {

// (PrepareResult, declared in paxos_commit/engine.h: {Vote vote; std::string reason;}.)

class ResourceManager {
 public:
  virtual ~ResourceManager() = default;

  // Validate `payload` for `txn` and lock what it touches.
  //   Prepared: the writes and the locks are DURABLE when this returns (a crash right after
  //     must find `txn` in prepared() with its locks), and are kept until commit()/abort().
  //     The engine must not apply, lose or release them on its own.
  //   Aborted, reason: nothing is held, nothing is written; the reason reaches the client
  //     ("conflict: key 'k' is locked by TXN", "expect failed: ...", "malformed payload").
  // Locks do not wait: a key locked by another prepared transaction means vote Aborted
  // (waiting would block the node's loop, and the holder may wait for this very node).
  // Deterministic given the engine's state. Never called twice for the same txn, except
  // after the engine aborted it at restart (a retried prepare is then a fresh one).
  virtual PrepareResult prepare(const TxnId& txn, const Bytes& payload) = 0;

  // The outcome is Commit: make the prepared writes visible and release the locks, durably
  // before returning. Called once the node's own Committed record is durable and before
  // the node acknowledges the outcome; after the ack the cluster may forget `txn`.
  // Idempotent: a txn that is not prepared (committed already, e.g. before a crash) is a
  // no-op. Only called for transactions prepare() voted Prepared on (or prepared() listed).
  virtual void commit(const TxnId& txn) = 0;

  // The outcome is Abort: drop the prepared writes and release the locks, durably before
  // returning. Same timing as commit(). Idempotent: an unknown txn is a no-op.
  virtual void abort(const TxnId& txn) = 0;

  // Every transaction the engine holds prepared (durable, neither committed nor aborted),
  // in any order. Called once at start, before any other call.
  virtual std::vector<TxnId> prepared() = 0;

  // Optional: committed data for `pcommit get` and pc::Client::get. The node calls read()
  // only when readable() returns true, and only for a key no prepared transaction of this
  // node touches (it waits for their outcome first, up to 5 s).
  virtual bool readable() const { return false; }
  virtual kv::Versioned read(const std::string& key) {
    throw std::logic_error("this resource manager does not serve reads: " + key);
  }
};

}  // namespace pc
