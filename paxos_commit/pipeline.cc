#include "paxos_commit/pipeline.h"

#include <algorithm>
#include <utility>

#include "paxos_commit/assert.h"
#include "paxos_commit/canary.h"

namespace pc {

namespace {

// Garbage collection may wait for a background write: an ack only lets acceptors forget a
// transaction sooner (docs/PROTOCOL.md §5), it promises nothing a client waits for.
bool isGcMessage(const Message& m) {
  return std::holds_alternative<Ack>(m) || std::holds_alternative<AckBatch>(m) ||
         std::holds_alternative<AckRequest>(m);
}

}  // namespace

Seq Pipeline::persist(std::vector<Record>&& records, bool urgent) {
  if (opts_.holdBackLowWater) holdBack(records);
  if (records.empty()) return last_;
  ++last_;
  if (urgent) urgentUpTo_ = last_;
  unsubmitted_.push_back(Batch{last_, std::move(records), urgent});
  checkInvariants();
  return last_;
}

void Pipeline::holdBack(std::vector<Record>& records) {
  // A low-water mark erases finished records. With an engine that applies an outcome only
  // once its Committed record is durable, were the mark to erase that record first and the
  // node crash, a restart could not tell the transaction from one whose prepare never
  // became durable (which it aborts). So the mark waits until every outcome it may cover
  // (those in batches up to this one) is applied, i.e. durable with its hooks run.
  std::optional<TxnId> found;
  std::erase_if(records, [&found](const Record& r) {
    const auto* lw = std::get_if<ParticipantLowWaterRecord>(&r);
    if (lw) found = found ? std::max(*found, lw->mark) : lw->mark;
    return lw != nullptr;
  });
  if (!found) return;
  const TxnId mark = *found;
  const Seq after = records.empty() ? last_ : last_ + 1;
  if (heldLowWater_) {
    // A held mark waits for a batch not yet durable: the merged one waits for both.
    heldLowWater_ = std::make_pair(std::max(after, heldLowWater_->first),
                                   std::max(mark, heldLowWater_->second));
    return;
  }
  if (after <= durable_) {
    records.push_back(ParticipantLowWaterRecord{mark});  // nothing pending: write it now
    return;
  }
  heldLowWater_ = std::make_pair(after, mark);
}

void Pipeline::send(Seq tag, Envelope&& e) {
  PC_ASSERT(tag <= last_, tag, last_);
  if (tag <= durable_) {
    // Everything queued earlier waited for a batch <= durable_ and was released with it,
    // so leaving now keeps FIFO order.
    PC_ASSERT(outbox_.empty(), outbox_.size(), durable_);
    release(std::move(e), tag);
    return;
  }
  if (kCanary == kCanaryEarlySend && !canaryFired_ && !isGcMessage(e.msg)) {
    // Canary: one send leaves before its record is durable. The simulator's checker must
    // catch it (tests/sim/CMakeLists.txt, sim_canary_send).
    canaryFired_ = true;
    released_.push_back(std::move(e));
    return;
  }
  if (!isGcMessage(e.msg)) urgentUpTo_ = std::max(urgentUpTo_, tag);
  PC_ASSERT(outbox_.empty() || outbox_.back().tag <= tag, outbox_.back().tag, tag);
  outbox_.push_back(Waiting{tag, std::move(e)});
}

void Pipeline::atDurable(Seq tag, std::function<void()> hook) {
  PC_ASSERT(tag <= last_ + 1, tag, last_);
  if (tag <= durable_) {
    hook();
    return;
  }
  PC_ASSERT(hooks_.empty() || hooks_.back().first <= tag, hooks_.back().first, tag);
  hooks_.emplace_back(tag, std::move(hook));
}

std::vector<Record>& Pipeline::nextUnsubmitted() {
  PC_ASSERT(!unsubmitted_.empty());
  return unsubmitted_.front().records;
}

Seq Pipeline::nextUnsubmittedSeq() const {
  PC_ASSERT(!unsubmitted_.empty());
  return unsubmitted_.front().seq;
}

bool Pipeline::nextUnsubmittedUrgent() const {
  PC_ASSERT(!unsubmitted_.empty());
  return unsubmitted_.front().urgent;
}

void Pipeline::submitted(Seq seq) {
  PC_ASSERT(!unsubmitted_.empty(), seq);
  PC_ASSERT(unsubmitted_.front().seq == seq, unsubmitted_.front().seq, seq);
  PC_ASSERT(seq == submittedTo_ + 1, seq, submittedTo_);
  unsubmitted_.pop_front();
  submittedTo_ = seq;
  checkInvariants();
}

void Pipeline::durable(Seq seq) {
  if (seq <= durable_) return;
  // Storage makes durable only what it was given, in order.
  PC_ASSERT(seq <= submittedTo_, seq, submittedTo_, last_);
  // Hooks first: a failpoint "after persist" fires before any reply leaves, and an engine
  // applies an outcome before the ack that lets acceptors forget the transaction. durable_
  // moves only after them: should one throw, the rest run at the next report.
  while (!hooks_.empty() && hooks_.front().first <= seq) {
    std::function<void()> hook = std::move(hooks_.front().second);
    hooks_.pop_front();
    hook();
  }
  durable_ = seq;
  if (heldLowWater_ && heldLowWater_->first <= seq) {
    std::vector<Record> batch{ParticipantLowWaterRecord{heldLowWater_->second}};
    heldLowWater_.reset();
    ++last_;
    unsubmitted_.push_back(Batch{last_, std::move(batch), false});
  }
  while (!outbox_.empty() && outbox_.front().tag <= seq) {
    Waiting w = std::move(outbox_.front());
    outbox_.pop_front();
    release(std::move(w.env), w.tag);
  }
  checkInvariants();
}

void Pipeline::release(Envelope&& e, Seq tag) {
  // Durable before send: the one rule this class exists for.
  PC_ASSERT(tag <= durable_, tag, durable_);
  released_.push_back(std::move(e));
}

std::vector<Envelope> Pipeline::takeReleased() {
  std::vector<Envelope> out;
  takeReleased(out);
  return out;
}

void Pipeline::takeReleased(std::vector<Envelope>& into) {
  PC_ASSERT(into.empty(), into.size());
  into.swap(released_);
}

WriteNeed Pipeline::writeNeed() const {
  if (urgentUpTo_ > durable_) return WriteNeed::Urgent;
  if (last_ > durable_) return WriteNeed::Background;
  return WriteNeed::None;
}

bool Pipeline::idle() const {
  return unsubmitted_.empty() && durable_ == last_ && outbox_.empty() && hooks_.empty() &&
         !heldLowWater_ && released_.empty();
}

void Pipeline::checkInvariants() const {
  PC_ASSERT(durable_ <= submittedTo_, durable_, submittedTo_);
  PC_ASSERT(submittedTo_ <= last_, submittedTo_, last_);
  PC_ASSERT(submittedTo_ + unsubmitted_.size() == last_, submittedTo_, unsubmitted_.size(), last_);
  PC_ASSERT(urgentUpTo_ <= last_, urgentUpTo_, last_);
  if (!unsubmitted_.empty()) {
    PC_ASSERT(unsubmitted_.front().seq == submittedTo_ + 1, unsubmitted_.front().seq, submittedTo_);
  }
  if (!outbox_.empty()) {
    // Sends wait only for batches not yet durable, oldest first.
    PC_ASSERT(outbox_.front().tag > durable_, outbox_.front().tag, durable_);
    PC_ASSERT(outbox_.front().tag <= outbox_.back().tag, outbox_.front().tag, outbox_.back().tag);
  }
  if (!hooks_.empty()) PC_ASSERT(hooks_.front().first > durable_, hooks_.front().first, durable_);
  if (heldLowWater_) PC_ASSERT(heldLowWater_->first > durable_, heldLowWater_->first, durable_);
}

}  // namespace pc
