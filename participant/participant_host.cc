#include "participant/participant_host.h"

#include <algorithm>

#include "paxos_commit/participant.h"
#include "rpc/convert.h"
#include "runtime/lock_wait.h"
#include "storage/quota_engine.h"

namespace pc {

namespace {

// A participant's own vote at ballot 0 (2PC VoteMsg, or the Paxos Commit 2a it sends for
// its instance): what participant.after_vote_sent waits for.
bool isBallotZeroVote(const Message& m) {
  if (std::holds_alternative<VoteMsg>(m)) return true;
  if (const auto* a = std::get_if<Phase2a>(&m)) {
    return !a->votes.empty() && a->votes.front().ballot.isZero();
  }
  return false;
}

// The rewrite of a heuristic decision's record once the coordinator answered: its outcome
// was made durable (and applied) by the decision's own record.
bool isConfirmation(const ParticipantTxnRecord& r) {
  return r.heuristic == Heuristic::Agreed || r.heuristic == Heuristic::Mismatch;
}

const char* pastTense(ParticipantState s) {
  return s == ParticipantState::Committed ? "committed" : "aborted";
}

}  // namespace

ParticipantHost::ParticipantHost(ExternalEngine* external) : external_(external) {}
ParticipantHost::~ParticipantHost() = default;

Node& ParticipantHost::start(const runtime::RoleContext& ctx, const Recovered& rec) {
  ctx_ = &ctx;
  Engine* inner = external_;
  if (external_) {
    external_->recover(rec);  // reconciles the engine with `rec`, or throws
  } else {
    engine_ = std::make_unique<kv::KvEngine>(ctx.env.reader());
    inner = engine_.get();
  }
  // Near the storage limit (map-size-max) new prepares are refused with a reason instead
  // of filling the map and fail-stopping; what is in flight still finishes.
  quota_ = std::make_unique<storage::QuotaEngine>(*inner, ctx.env);
  core_ = std::make_unique<Participant>(ctx.me.id, ctx.core, *quota_, ctx.seed, rec);
  return *core_;
}

PipelineOptions ParticipantHost::pipelineOptions() const {
  // An external engine applies an outcome only once its record is durable: a low-water
  // mark must not erase that record first (paxos_commit/pipeline.h).
  return PipelineOptions{external_ != nullptr};
}

bool ParticipantHost::urgent(const Record& r) const {
  // Besides what a reply waits for: an outcome an external engine applies once durable
  // (it holds locks till then). Otherwise outcome records whose only follower is a GC ack,
  // and low-water marks, may wait for the next urgent write or the next tick.
  return isCriticalRecord(r) || (external_ && std::holds_alternative<ParticipantTxnRecord>(r));
}

void ParticipantHost::onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) {
  runtime::Failpoints& fp = ctx_->failpoints;
  // Failpoints "after persist" first: they fire after the write and before the engine
  // hears of it, and before any reply leaves.
  for (const auto& r : records) {
    const auto* p = std::get_if<ParticipantTxnRecord>(&r);
    if (p == nullptr) continue;
    if (p->heuristic != Heuristic::None) {
      pipeline.atDurable(tag, [this, rec = *p] { heuristicDurable(rec); });
    }
    if (isConfirmation(*p)) continue;  // the outcome was applied and announced already
    if (p->state == ParticipantState::Prepared) {
      pipeline.atDurable(tag, [&fp] { fp.hit("participant.after_prepare_persisted"); });
    } else if (p->state == ParticipantState::Committed || p->state == ParticipantState::Aborted) {
      pipeline.atDurable(tag, [&fp] { fp.hit("participant.after_outcome_persisted"); });
    }
  }
  for (const auto& r : records) {
    const auto* p = std::get_if<ParticipantTxnRecord>(&r);
    if (p == nullptr || isConfirmation(*p)) continue;
    const bool committed = p->state == ParticipantState::Committed;
    if (external_ && (committed || p->state == ParticipantState::Aborted)) {
      // The engine applies the outcome once the node's record of it is durable, and before
      // the ack leaves: acceptors may forget the transaction after every ack.
      Outcome o = committed ? Outcome::Commit : Outcome::Abort;
      pipeline.atDurable(tag, [this, txn = p->txn, o] { external_->outcomeDurable(txn, o); });
    } else if (!external_ && committed) {
      // The Committed record applies the writes in LMDB: once the tables hold them, the
      // overlay may drop them.
      pipeline.atDurable(tag, [this, txn = p->txn] { committedDurable(txn); });
    }
  }
}

void ParticipantHost::committedDurable(const TxnId& txn) {
  // The last frame appended now is at or after the one that holds the record.
  notInTables_.emplace_back(ctx_->env.logSeq(), txn);
  forgetInTables();
}

void ParticipantHost::forgetInTables() {
  std::vector<TxnId> ready;
  while (!notInTables_.empty() && ctx_->env.tablesHold(notInTables_.front().first)) {
    ready.push_back(notInTables_.front().second);
    notInTables_.pop_front();
  }
  std::sort(ready.begin(), ready.end());
  engine_->forgetDurable(ready);
}

std::function<void()> ParticipantHost::onSend(const Envelope& e) {
  runtime::Failpoints& fp = ctx_->failpoints;
  // Only when armed: waiting for the receipt costs an ack per delivery stream frame.
  if (!isBallotZeroVote(e.msg) || !fp.armed("participant.after_vote_sent")) return {};
  return [&fp]() { fp.hit("participant.after_vote_sent"); };
}

Output ParticipantHost::resolve(NodeId from, const TxnId& txn, std::optional<Outcome> outcome,
                                HeuristicAnswer& answer) {
  return core_->onHeuristicDecision(from, txn, outcome, answer);
}

void ParticipantHost::heuristicDurable(const ParticipantTxnRecord& r) {
  const std::string coordinator = runtime::nameForId(r.leader);
  const std::string what = "txn " + r.txn.toString() + " " + pastTense(r.state) + " by operator";
  const char* other = r.state == ParticipantState::Committed ? "abort" : "commit";
  const char* same = r.state == ParticipantState::Committed ? "commit" : "abort";
  switch (r.heuristic) {
    case Heuristic::Pending:
      ++heuristicResolved_;
      ctx_->log("heuristic decision: " + what + "; locks released; asking coordinator " +
                coordinator + " for its decision until it answers");
      break;
    case Heuristic::Agreed:
      ++heuristicAgreed_;
      ctx_->log("heuristic decision agreed: " + what + ", and coordinator " + coordinator +
                " decided " + same);
      break;
    case Heuristic::Mismatch:
      ++heuristicMismatch_;
      ctx_->log("heuristic mismatch: " + what + ", but coordinator " + coordinator + " decided " +
                other + " (atomicity broken for this transaction: reconcile its data by hand)");
      break;
    case Heuristic::None:
      break;
  }
}

void ParticipantHost::fillMetrics(runtime::NodeSample& s) const {
  s.heuristicResolved = heuristicResolved_;
  s.heuristicAgreed = heuristicAgreed_;
  s.heuristicMismatch = heuristicMismatch_;
  auto list = core_->inDoubt();
  s.inDoubt = list.size();
  uint64_t oldestTicks = 0;
  for (const auto& d : list) oldestTicks = std::max(oldestTicks, core_->now() - d.sinceTick);
  s.oldestInDoubtAgeSeconds = static_cast<double>(oldestTicks * ctx_->cluster.tickMs) / 1000.0;
}

void ParticipantHost::fillStatus(wire::NodeStatus::Builder b) const {
  const uint32_t tickMs = ctx_->cluster.tickMs;
  auto list = core_->inDoubt();
  auto ib = b.initInDoubt(static_cast<unsigned>(list.size()));
  for (unsigned i = 0; i < list.size(); ++i) {
    rpc::setTxn(ib[i].initTxn(), list[i].txn);
    ib[i].setAgeMs((core_->now() - list[i].sinceTick) * tickMs);
    ib[i].setLeader(list[i].leader);
    ib[i].setRecovering(list[i].recovering);
    std::string waiting;
    if (ctx_->core.protocol == Protocol::TwoPC) {
      waiting =
          "the outcome from coordinator " + runtime::nameForId(list[i].leader) + " (2PC blocks)";
    } else if (ctx_->core.protocol == Protocol::TwoPCReplicated && !list[i].recovering) {
      waiting = "the outcome from coordinator " + runtime::nameForId(list[i].leader) +
                " (then the decision at the acceptors)";
    } else if (list[i].recovering) {
      waiting = "its recovery (phase 1/2 with the acceptors)";
    } else {
      waiting = "the acceptors' votes (recovery after its timeout)";
    }
    ib[i].setWaitingFor(waiting);
  }
}

bool ParticipantHost::readable() const { return engine_ || (external_ && external_->readable()); }

kj::Promise<kv::Versioned> ParticipantHost::read(const std::string& key) {
  return readCommitted(key, 0);
}

kj::Promise<kv::Versioned> ParticipantHost::readCommitted(const std::string& key,
                                                          uint32_t waitedMs) {
  // A key locked by a prepared transaction may be committed already (the client may have
  // been told so): wait for the outcome, so a read after a commit sees it. The same over
  // the built-in engine and over an external one (whose read may throw: evalNow).
  auto holder = external_ ? external_->lockHolder(key) : engine_->lockHolder(key);
  if (!holder) {
    if (!external_) return engine_->read(key);
    return kj::evalNow([this, key]() { return external_->read(key); });
  }
  if (waitedMs >= kReadLockWaitMs) {
    // One clear line naming the key, the holder and what it waits for, with the same facts
    // in the fixed form the client parses (runtime/lock_wait.h).
    runtime::LockWait w{key, *holder, kNoNode, false, waitedMs};
    for (const auto& d : core_->inDoubt()) {
      if (d.txn == *holder) {
        w.leader = d.leader;
        w.recovering = d.recovering;
      }
    }
    return kj::Exception(kj::Exception::Type::OVERLOADED, __FILE__, __LINE__,
                         kj::str(runtime::encodeLockWait(w)));
  }
  const uint32_t tickMs = ctx_->cluster.tickMs;
  return ctx_->io.provider->getTimer()
      .afterDelay(tickMs * kj::MILLISECONDS)
      .then([this, key, waitedMs, tickMs]() { return readCommitted(key, waitedMs + tickMs); });
}

}  // namespace pc
