// When a node's records go to disk (durable-before-send: paxos_commit/pipeline.h): each
// turn's batches become one group -- written by the event loop at the end of the turn
// (inline, the default) or handed together to the storage thread
// (PCOMMIT_STORAGE_WRITES=thread) -- and the sends that waited for a group leave once it
// is durable. Background records wait for a tick (writeAtTick).
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/node_host.h"
#include "storage/record_log.h"

namespace pc::runtime {

bool storageWritesInline() {
  // Inline (the default): the event loop writes each turn's records itself, in one synced
  // commit, once the turn's messages are handled; while it waits for the disk, what
  // arrives queues in the sockets and becomes the next group. Thread: a storage thread
  // writes while the loop goes on (two thread hand-offs per group). Measured in README
  // "Performance": inline nearly doubles Paxos Commit's throughput at 64 clients here.
  const char* v = std::getenv("PCOMMIT_STORAGE_WRITES");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "inline") return true;
  if (std::string_view(v) == "thread") return false;
  throw std::runtime_error(std::string("PCOMMIT_STORAGE_WRITES=") + v +
                           ": expected inline or thread");
}

size_t recordLogBytes() {
  // On by default: one synced append instead of a synced LMDB commit per group, for
  // every role (storage/record_log.h).
  const char* v = std::getenv("PCOMMIT_RECORD_LOG");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "on") return kDefaultRecordLogBytes;
  if (std::string_view(v) == "off") return 0;
  std::optional<uint64_t> bytes = parseByteSize(v);
  if (!bytes || !storage::recordLogSizeAccepted(*bytes)) {
    throw std::runtime_error(std::string("PCOMMIT_RECORD_LOG=") + v +
                             ": expected on, off or a size from 4KiB to 1GiB");
  }
  return static_cast<size_t>(*bytes);
}

// Background records: after one whole tick at most two (node_host.h).
void NodeHost::writeAtTick() {
  const WriteNeed need = pipeline_.writeNeed();
  const bool aged = pipeline_.durableSeq() < seqAtLastTick_;
  seqAtLastTick_ = pipeline_.lastSeq();
  if (need == WriteNeed::Urgent || (need == WriteNeed::Background && aged)) scheduleWrite();
}

kj::Promise<void> NodeHost::watchDurable() {
  return durableObserver_->whenBecomesReadable().then([this]() {
    releaseDurable(storage_->pollDurable());
    return watchDurable();
  });
}

bool NodeHost::submitQueued() {
  // Batches go to storage in order; a full queue keeps the rest in the pipeline (and their
  // sends waiting) until a group completes and makes room. Held: a storage thread takes
  // them as one group, not the first alone (storage_thread.h).
  std::optional<storage::StorageThread::Hold> hold;  // inline writes: no thread to hold
  if (!storage_->inlineWrites() && pipeline_.hasUnsubmitted()) hold.emplace(*storage_);
  bool any = false;
  while (pipeline_.hasUnsubmitted()) {
    auto seq = storage_->trySubmit(std::move(pipeline_.nextUnsubmitted()));
    if (!seq) break;
    pipeline_.submitted(*seq);
    any = true;
  }
  return any;
}

void NodeHost::scheduleSubmit() {
  // Inline writes: queued now, written by scheduleWrite at the end of the turn. A storage
  // thread writes as soon as it is handed something, so the turn's batches are handed over
  // together at its end: handed over one Output at a time, an idle thread wrote the first
  // alone and the rest of the turn waited for a second synced commit (README "Performance").
  if (storage_->inlineWrites()) {
    submitQueued();
    return;
  }
  if (submitScheduled_) return;
  submitScheduled_ = true;
  tasks_->add(kj::evalLater([this]() {
    submitScheduled_ = false;
    submitQueued();
  }));
}

void NodeHost::releaseDurable(storage::Seq seq) {
  // The role's hooks run first (failpoints "after persist", engine notifications), then
  // the sends that waited for these batches leave, in order.
  bool refused = pipeline_.hasUnsubmitted();
  pipeline_.durable(seq);
  transmitReleased();
  // Batches the full queue refused go now, and are written at once.
  bool moved = submitQueued();
  if (pipeline_.writeNeed() == WriteNeed::Urgent || (refused && moved)) scheduleWrite();
}

void NodeHost::scheduleWrite() {
  if (!storage_->inlineWrites() || writeScheduled_) return;
  writeScheduled_ = true;
  // After everything else this turn (the messages that arrived together are all handled
  // and their group is complete), write it and release what waited for it.
  tasks_->add(kj::evalLater([this]() {
    writeScheduled_ = false;
    if (!metrics_) return releaseDurable(storage_->writeQueued());
    // Timed for pcommit_synced_commit_duration_seconds (if it did commit anything).
    const uint64_t before = env_.metrics().syncedCommits;
    const double t0 = metrics_->now();
    storage::Seq seq = storage_->writeQueued();
    if (env_.metrics().syncedCommits > before) metrics_->onSyncedCommit(metrics_->now() - t0);
    releaseDurable(seq);
  }));
}

}  // namespace pc::runtime
