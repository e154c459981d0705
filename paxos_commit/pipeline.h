// Pipeline: a node's durable-before-send outbox, as a pure state machine (no I/O, no
// clock). The node host and the simulator both drive it, so the simulator checks the
// ordering the real node runs.
//
// The rule (paxos_commit/output.h, docs/PROTOCOL.md §6 pitfall 9): each core Output's records
// form one batch with the next sequence number 1, 2, 3, ...; batches become durable in
// that order, so "durable up to seq" is the whole completion state. Each send of an
// Output is tagged with the sequence number of the last batch handed in so far (its own
// Output's batch, or an earlier one's if it has no records) and is released only once
// that batch is durable, in FIFO order: a send never overtakes an earlier one, so a reply
// a role builds from in-memory state ahead of the disk never leaves before that state.
//
// Driving it (one thread; every call is synchronous):
//   persist(records, urgent) -> tag    a core Output's records (none: tag = lastSeq())
//   send(tag, envelope)                each of that Output's sends, in order
//   atDurable(tag, hook)               run hook once batch `tag` is durable, before any
//                                      send waiting for it is released (role queues:
//                                      failpoints, engine notifications)
//   hasUnsubmitted / nextUnsubmitted / submitted(seq)
//                                      the driver hands batches to storage in order
//   durable(seq)                       storage: every batch <= seq is durable
//   takeReleased()                     the sends that may leave now, in FIFO order
//   writeNeed()                        Urgent: something waits for a batch not yet durable;
//                                      Background: only records nobody waits for urgently
//                                      (they may ride with the next urgent write or wait
//                                      for the next tick); None: all durable
//
// Urgency: a batch is urgent if the caller says so (a record a reply waits for). A send
// waiting for a batch not yet durable makes that batch urgent too, except a GC Ack,
// AckBatch or AckRequest: collection may wait for a background write.
//
// Low-water hold-back (holdBackLowWater, for participants whose engine applies outcomes
// only once their record is durable): a ParticipantLowWaterRecord is taken out of its
// batch and re-enters as a background batch of its own once every batch handed in up to
// then is durable, so it never erases a Committed record before the engine applied it.
//
// Invariants (checkInvariants, asserted on every call that changes state): durableSeq <=
// lastSeq; submitted batches are exactly (durableSeq', lastSeq - unsubmitted]; the outbox
// is in tag order and holds only tags > durableSeq; nothing is ever released with a tag
// above durableSeq (the canary build PC_CANARY=3 breaks exactly this, once).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "paxos_commit/messages.h"
#include "paxos_commit/records.h"

namespace pc {

using Seq = uint64_t;

enum class WriteNeed : uint8_t { None, Background, Urgent };

struct PipelineOptions {
  bool holdBackLowWater = false;  // see above: participants over an external engine
};

class Pipeline {
 public:
  explicit Pipeline(PipelineOptions options = {}) : opts_(options) {}

  // Takes the records of one core Output (a low-water mark may be held back first).
  // Returns the tag its sends wait for: the new batch's seq, or lastSeq() if no batch.
  Seq persist(std::vector<Record>&& records, bool urgent);
  // The seq the next non-empty batch will get (for hooks registered before persist()).
  Seq nextSeq() const { return last_ + 1; }
  // Queues `e` behind batch `tag` (tag <= lastSeq()); released at once if durable.
  void send(Seq tag, Envelope&& e);
  // Runs `hook` in durable() once batch `tag` (<= nextSeq()) is durable, in registration
  // order, before the sends waiting for it are released. A hook that throws leaves the
  // pipeline consistent (it is removed before it runs); the rest wait for the next call.
  void atDurable(Seq tag, std::function<void()> hook);

  // Batches not yet handed to storage, oldest first. The driver moves the records out of
  // nextUnsubmitted() and confirms with submitted(seq) (the storage's sequence number,
  // which must be the batch's); a refused batch stays here, records untouched.
  bool hasUnsubmitted() const { return !unsubmitted_.empty(); }
  std::vector<Record>& nextUnsubmitted();
  Seq nextUnsubmittedSeq() const;
  bool nextUnsubmittedUrgent() const;
  void submitted(Seq seq);

  // Storage reports every batch <= seq durable (a stale or repeated report is ignored).
  // Runs the due hooks, re-enters a held low-water mark, releases the due sends.
  void durable(Seq seq);
  // The sends released since the last call, in the order they were queued.
  std::vector<Envelope> takeReleased();
  // The same into `into` (which must be empty): the two vectors trade buffers, so a caller
  // that hands the same vector back keeps both capacities and the hot path allocates
  // nothing (a fresh vector per batch made the allocator fault in new pages: ~2% of a
  // participant's CPU at 64 clients).
  void takeReleased(std::vector<Envelope>& into);

  WriteNeed writeNeed() const;
  Seq lastSeq() const { return last_; }
  Seq durableSeq() const { return durable_; }
  size_t outboxSize() const { return outbox_.size(); }
  // Nothing unsubmitted, nothing in flight, nothing waiting, no hold-back.
  bool idle() const;
  void checkInvariants() const;

 private:
  struct Waiting {
    Seq tag;
    Envelope env;
  };
  struct Batch {
    Seq seq;
    std::vector<Record> records;
    bool urgent;
  };
  void holdBack(std::vector<Record>& records);
  void release(Envelope&& e, Seq tag);

  PipelineOptions opts_;
  Seq last_ = 0;         // the last batch handed in
  Seq submittedTo_ = 0;  // every batch <= this went to storage
  Seq durable_ = 0;      // every batch <= this is durable
  Seq urgentUpTo_ = 0;   // some batch <= this is waited for urgently
  std::deque<Batch> unsubmitted_;
  std::deque<Waiting> outbox_;
  std::deque<std::pair<Seq, std::function<void()>>> hooks_;
  std::vector<Envelope> released_;
  // A held low-water mark: re-enters once batch `first` is durable.
  std::optional<std::pair<Seq, TxnId>> heldLowWater_;
  bool canaryFired_ = false;  // PC_CANARY=3 only
};

}  // namespace pc
