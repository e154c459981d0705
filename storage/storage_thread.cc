#include "storage/storage_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "paxos_commit/assert.h"
#include "paxos_commit/overloaded.h"
#include "storage/quiet_thread.h"

namespace pc::storage {

size_t estimateBytes(const Record& r) {
  size_t extra = std::visit(
      Overloaded{
          [](const AcceptorTxnRecord& x) {
            return x.participants.size() * sizeof(NodeId) +
                   x.instances.size() * sizeof(AcceptorInstance);
          },
          [](const ParticipantTxnRecord& x) {
            return x.payload.size() + x.reason.size() + x.participants.size() * sizeof(NodeId);
          },
          [](const DecisionRecord& x) { return x.participants.size() * sizeof(NodeId); },
          [](const auto&) { return size_t{0}; },
      },
      r);
  return sizeof(Record) + extra;
}

StorageThread::StorageThread(Env& env, ThreadOptions options)
    : env_(env), opts_(std::move(options)) {
  PC_ASSERT(!env.readOnly(), env.dir());
  PC_ASSERT(opts_.maxPendingRecords > 0 && opts_.maxPendingBytes > 0, opts_.maxPendingRecords);
  PC_ASSERT(opts_.maxGroupRecords > 0 && opts_.maxGroupBytes > 0, opts_.maxGroupRecords);
  eventFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  PC_ASSERT(eventFd_ >= 0, std::strerror(errno));
  if (!opts_.inlineWrites) thread_ = startQuietThread([this] { run(); });
}

StorageThread::~StorageThread() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  workCv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    writeQueued();
  }
  PC_ASSERT(queue_.empty(), queue_.size());
  ::close(eventFd_);
}

bool StorageThread::fits(size_t records, size_t bytes) const {
  if (m_.pendingBatches == 0) return true;  // alone, anything goes (else it starves)
  return m_.pendingBatches + 1 <= opts_.maxPendingRecords &&
         m_.pendingRecords + records <= opts_.maxPendingRecords &&
         m_.pendingBytes + bytes <= opts_.maxPendingBytes;
}

Seq StorageThread::enqueue(std::vector<Record>&& records, size_t bytes) {
  Seq seq = nextSeq_++;
  m_.pendingBatches += 1;
  m_.pendingRecords += records.size();
  m_.pendingBytes += bytes;
  m_.pendingRecordsPeak = std::max(m_.pendingRecordsPeak, m_.pendingRecords);
  m_.pendingBytesPeak = std::max(m_.pendingBytesPeak, m_.pendingBytes);
  m_.batchesSubmitted += 1;
  queue_.push_back(Batch{seq, std::move(records), bytes});
  return seq;
}

std::optional<Seq> StorageThread::trySubmit(std::vector<Record>&& records) {
  size_t bytes = 0;
  for (const auto& r : records) bytes += estimateBytes(r);
  Seq seq;
  {
    std::lock_guard<std::mutex> g(mu_);
    PC_ASSERT(!stop_);
    if (!fits(records.size(), bytes)) {
      m_.trySubmitRefused += 1;
      return std::nullopt;
    }
    seq = enqueue(std::move(records), bytes);
  }
  workCv_.notify_one();
  return seq;
}

Seq StorageThread::submit(std::vector<Record>&& records) {
  size_t bytes = 0;
  for (const auto& r : records) bytes += estimateBytes(r);
  Seq seq;
  {
    std::unique_lock<std::mutex> g(mu_);
    PC_ASSERT(!stop_);
    PC_ASSERT(!opts_.inlineWrites);
    if (!fits(records.size(), bytes)) {
      m_.submitBlocked += 1;
      roomCv_.wait(g, [&] { return fits(records.size(), bytes); });
    }
    seq = enqueue(std::move(records), bytes);
  }
  workCv_.notify_one();
  return seq;
}

StorageThread::Hold::Hold(StorageThread& t) : t_(t) {
  std::lock_guard<std::mutex> g(t_.mu_);
  ++t_.holds_;
}

StorageThread::Hold::~Hold() {
  {
    std::lock_guard<std::mutex> g(t_.mu_);
    --t_.holds_;
  }
  t_.workCv_.notify_one();
}

Seq StorageThread::durableSeq() const {
  std::lock_guard<std::mutex> g(mu_);
  return durableSeq_;
}

Seq StorageThread::pollDurable() {
  uint64_t n;
  while (::read(eventFd_, &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
  }
  return durableSeq();
}

void StorageThread::waitDurable(Seq seq) const {
  PC_ASSERT(!opts_.inlineWrites);
  std::unique_lock<std::mutex> g(mu_);
  PC_ASSERT(seq < nextSeq_, seq, nextSeq_);
  durableCv_.wait(g, [&] { return durableSeq_ >= seq; });
}

ThreadMetrics StorageThread::metrics() const {
  ThreadMetrics out;
  {
    std::lock_guard<std::mutex> g(mu_);
    out = m_;
  }
  out.env = env_.metrics();
  return out;
}

void StorageThread::run() {
  while (writeOneGroup(true)) {
  }
}

Seq StorageThread::writeQueued() {
  PC_ASSERT(opts_.inlineWrites);
  while (writeOneGroup(false)) {
  }
  return durableSeq();
}

bool StorageThread::writeOneGroup(bool wait) {
  std::vector<std::vector<Record>> group;
  Seq last = 0;
  size_t records = 0, bytes = 0, batches = 0;
  {
    std::unique_lock<std::mutex> g(mu_);
    if (wait) workCv_.wait(g, [&] { return stop_ || (!queue_.empty() && holds_ == 0); });
    if (queue_.empty()) return false;  // nothing to do (or stop_ and drained)
    // Take everything pending, up to the group bounds (at least one batch; batches are
    // never split: each must be all-or-nothing on disk).
    while (!queue_.empty()) {
      Batch& b = queue_.front();
      if (!group.empty() && (records + b.records.size() > opts_.maxGroupRecords ||
                             bytes + b.bytes > opts_.maxGroupBytes)) {
        break;
      }
      records += b.records.size();
      bytes += b.bytes;
      batches += 1;
      last = b.seq;
      group.push_back(std::move(b.records));
      queue_.pop_front();
    }
  }
  // One synced write transaction for the whole group; fail-stops on failure.
  env_.writeGroup(group);
  {
    std::lock_guard<std::mutex> g(mu_);
    PC_ASSERT(last > durableSeq_, last, durableSeq_);
    durableSeq_ = last;
    m_.pendingBatches -= batches;
    m_.pendingRecords -= records;
    m_.pendingBytes -= bytes;
    m_.groups += 1;
    m_.largestGroupRecords = std::max<uint64_t>(m_.largestGroupRecords, records);
  }
  roomCv_.notify_all();
  durableCv_.notify_all();
  if (!opts_.inlineWrites) {
    uint64_t one = 1;
    ssize_t w = ::write(eventFd_, &one, sizeof one);
    PC_ASSERT(w == static_cast<ssize_t>(sizeof one) || errno == EAGAIN, std::strerror(errno));
  }
  if (opts_.onDurable) opts_.onDurable(last);
  return true;
}

}  // namespace pc::storage
