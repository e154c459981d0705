// StorageThread: group commit between the event loop and the disk.
//
// The event loop submits batches of records (one batch = the `persist` of one core
// Output); each gets a sequence number, 1, 2, 3, ... in submission order. The storage
// thread takes every batch pending, writes them all in ONE synced LMDB write transaction
// (Env::writeGroup) and then publishes the highest sequence number now durable. Batches
// become durable strictly in submission order, so "seq <= durableSeq()" is the whole
// completion state: the messages waiting on batch `seq` may leave once it holds.
//
// Back-pressure: the queue is bounded by records and by (estimated) bytes, counting
// batches from submission until they are durable. trySubmit() never blocks and refuses a
// batch that does not fit (the caller keeps it and retries after the next completion);
// submit() blocks until it fits. A batch larger than the bounds is accepted alone when
// nothing else is pending, so it cannot be refused forever.
//
// Completion signals (use any): eventFd() becomes readable after every durable group
// (level-triggered until pollDurable() drains it) -- the KJ event loop watches it;
// Options::onDurable is called on the storage thread; waitDurable() blocks.
//
// Failure: an environment failure while writing fail-stops the process (Env). Threads:
// trySubmit/submit/pollDurable/waitDurable/metrics are safe from any thread.
// Destruction writes everything already submitted, then joins the thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "paxos_commit/records.h"
#include "storage/env.h"

namespace pc::storage {

using Seq = uint64_t;

struct ThreadOptions {
  // Bounds of everything submitted and not yet durable (memory stays bounded under a
  // producer faster than the disk). maxPendingRecords also bounds the number of batches.
  size_t maxPendingRecords = size_t{1} << 16;
  size_t maxPendingBytes = size_t{64} << 20;
  // Bounds of one group commit (one LMDB write transaction); at least one batch is taken.
  size_t maxGroupRecords = size_t{1} << 15;
  size_t maxGroupBytes = size_t{32} << 20;
  // Called on the storage thread after each group is durable, with the new durableSeq.
  // Must be quick and must not call back into this StorageThread's blocking methods.
  std::function<void(Seq)> onDurable;
  // No thread: the owner writes what is queued by calling writeQueued() on its own thread
  // (an event loop calls it once per turn, when the turn's messages are handled). Saves
  // the two thread hand-offs per group commit; the caller blocks during the write.
  // submit() and waitDurable() must not be used (nothing else would make room or progress).
  bool inlineWrites = false;
};

struct ThreadMetrics {
  EnvMetrics env;  // synced commits, records, critical vs background
  uint64_t batchesSubmitted = 0;
  uint64_t groups = 0;              // group commits done by this thread
  uint64_t trySubmitRefused = 0;    // trySubmit() calls refused for lack of room
  uint64_t submitBlocked = 0;       // submit() calls that had to wait for room
  uint64_t pendingBatches = 0;      // now (submitted, not yet durable)
  uint64_t pendingRecords = 0;      // now
  uint64_t pendingBytes = 0;        // now
  uint64_t pendingRecordsPeak = 0;  // high-water marks
  uint64_t pendingBytesPeak = 0;
  uint64_t largestGroupRecords = 0;
};

// Rough heap footprint of a record, used for the byte bound.
size_t estimateBytes(const Record& r);

class StorageThread {
 public:
  // Precondition: env is open for writing and outlives this object.
  explicit StorageThread(Env& env, ThreadOptions options = {});
  ~StorageThread();
  StorageThread(const StorageThread&) = delete;
  StorageThread& operator=(const StorageThread&) = delete;

  // Non-blocking. On success the batch is moved from and its sequence number returned;
  // on nullopt (queue full) `records` is left untouched.
  std::optional<Seq> trySubmit(std::vector<Record>&& records);
  // Blocks while the queue is full. An empty batch is allowed (durable with its
  // predecessors).
  Seq submit(std::vector<Record>&& records);
  // While a Hold lives (on the submitting thread), the storage thread starts no group:
  // the batches submitted meanwhile wait and become one group when it ends (one wake-up).
  // Without it, a thread idle on another core wakes on the first trySubmit and writes that
  // batch alone while the rest are handed over. Holds nest; keep them short (a loop of
  // trySubmit), never across a wait for durability.
  class Hold {
   public:
    explicit Hold(StorageThread& t);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    StorageThread& t_;
  };

  // Every batch with seq <= durableSeq() is durable.
  Seq durableSeq() const;
  // Readable when durableSeq() advanced since the last pollDurable().
  int eventFd() const { return eventFd_; }
  // Drains eventFd() and returns durableSeq().
  Seq pollDurable();
  // Blocks until seq is durable.
  void waitDurable(Seq seq) const;
  // Inline mode only: writes every queued batch now (as few group commits as the group
  // bounds allow) and returns durableSeq(). Calls onDurable like the thread does.
  Seq writeQueued();
  bool inlineWrites() const { return opts_.inlineWrites; }

  ThreadMetrics metrics() const;

 private:
  struct Batch {
    Seq seq;
    std::vector<Record> records;
    size_t bytes;
  };
  bool fits(size_t records, size_t bytes) const;             // requires mu_
  Seq enqueue(std::vector<Record>&& records, size_t bytes);  // requires mu_
  void run();
  // Takes the pending batches (up to the group bounds), writes them in one synced
  // transaction and publishes. Waits for work if `wait`; false when there is none (or on
  // stop with nothing left).
  bool writeOneGroup(bool wait);

  Env& env_;
  ThreadOptions opts_;
  int eventFd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable workCv_;             // storage thread: work or stop
  std::condition_variable roomCv_;             // submit(): room freed
  mutable std::condition_variable durableCv_;  // waitDurable()
  std::deque<Batch> queue_;
  Seq nextSeq_ = 1;
  Seq durableSeq_ = 0;
  bool stop_ = false;
  int holds_ = 0;    // live Holds: no group starts while > 0
  ThreadMetrics m_;  // except env
  std::thread thread_;
};

}  // namespace pc::storage
