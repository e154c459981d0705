#include "coordinator/coordinator_host.h"

#include <chrono>

#include "paxos_commit/paxos_coordinator.h"
#include "paxos_commit/replicated_coordinator.h"
#include "paxos_commit/two_pc_coordinator.h"

namespace pc {

namespace {

uint64_t wallClockMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

CoordinatorHost::CoordinatorHost() = default;
CoordinatorHost::~CoordinatorHost() = default;

Node& CoordinatorHost::start(const runtime::RoleContext& ctx, const Recovered& rec) {
  fp_ = &ctx.failpoints;
  replicated_ = ctx.core.protocol == Protocol::TwoPCReplicated;
  if (ctx.core.protocol == Protocol::TwoPC) {
    // Presumed abort across restarts: a transaction begun before now (client clocks are in
    // the ids) and not decided is aborted, never started afresh.
    core_ = std::make_unique<TwoPcCoordinator>(ctx.me.id, ctx.core, rec,
                                               TxnId{wallClockMicros(), ~uint64_t{0}});
  } else if (ctx.core.protocol == Protocol::TwoPCReplicated) {
    // Its decisions live at the acceptors: a transaction begun before now may have been
    // proposed, so it is never presumed aborted, only recovered there.
    core_ = std::make_unique<ReplicatedCoordinator>(ctx.me.id, ctx.core, ctx.seed, rec,
                                                    TxnId{wallClockMicros(), ~uint64_t{0}});
  } else {
    core_ = std::make_unique<PaxosCoordinator>(ctx.me.id, ctx.core, ctx.seed, rec);
  }
  return *core_;
}

void CoordinatorHost::onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) {
  for (const auto& r : records) {
    if (const auto* d = std::get_if<DecisionRecord>(&r); d && !d->done) {
      // After the write and before any reply leaves.
      pipeline.atDurable(tag, [this] { fp_->hit("coordinator.after_decision_persisted"); });
    }
  }
}

std::function<void()> CoordinatorHost::onSend(const Envelope& e) {
  if (const auto* p = std::get_if<Prepare>(&e.msg);
      p != nullptr && fp_->armed("coordinator.after_prepare_sent")) {
    // coordinator.after_prepare_sent fires once every participant has received its prepare
    // (only when armed: waiting for the receipt costs an ack per delivery stream frame).
    TxnId txn = p->txn;
    preparesInFlight_[txn] += 1;
    return [this, txn]() {
      auto it = preparesInFlight_.find(txn);
      if (it == preparesInFlight_.end()) return;
      if (--it->second == 0) {
        preparesInFlight_.erase(it);
        fp_->hit("coordinator.after_prepare_sent");
      }
    };
  }
  if (const auto* o = std::get_if<OutcomeMsg>(&e.msg);
      o != nullptr && replicated_ && o->outcome == Outcome::Commit) {
    // Chosen at F+1 acceptors, before the first participant is told (a crash here leaves
    // the Commit to the participants' recovery at the acceptors).
    fp_->hit("coordinator.after_decision_chosen");
  }
  if (std::holds_alternative<CommitReply>(e.msg)) fp_->hit("coordinator.before_reply");
  return {};
}

}  // namespace pc
