#include "runtime/node_host.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "paxos_commit/acceptor.h"
#include "paxos_commit/assert.h"
#include "paxos_commit/coordinator.h"
#include "paxos_commit/participant.h"

namespace pc::runtime {

namespace {

uint64_t monotonicMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t wallClockMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool isBallotZeroVote(const Message& m) {
  if (std::holds_alternative<VoteMsg>(m)) return true;
  if (const auto* a = std::get_if<Phase2a>(&m)) {
    return !a->votes.empty() && a->votes.front().ballot.isZero();
  }
  return false;
}

}  // namespace

void logLine(const std::string& node, const std::string& line) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::gmtime_r(&tv.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::fprintf(stderr, "%s.%03dZ %s %s\n", buf, static_cast<int>(tv.tv_usec / 1000), node.c_str(),
               line.c_str());
  std::fflush(stderr);
}

class NodeHost::Errors : public kj::TaskSet::ErrorHandler {
 public:
  explicit Errors(const NodeHost& h) : h_(h) {}
  void taskFailed(kj::Exception&& e) override {
    h_.log(std::string("task failed: ") + e.getDescription().cStr());
  }

 private:
  const NodeHost& h_;
};

NodeHost::NodeHost(kj::AsyncIoContext& io, const ClusterConfig& cluster, const NodeInfo& me,
                   storage::Env& env, Failpoints& failpoints, uint64_t seed, LogFn log,
                   ExternalEngine* external)
    : io_(io),
      cluster_(cluster),
      me_(me),
      coreCfg_(cluster.coreConfig()),
      env_(env),
      fp_(failpoints),
      seed_(seed),
      log_(std::move(log)),
      external_(external),
      startMs_(monotonicMs()),
      errors_(std::make_unique<Errors>(*this)),
      tasks_(std::make_unique<kj::TaskSet>(*errors_)) {}

NodeHost::~NodeHost() = default;

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

void NodeHost::log(const std::string& line) const {
  if (log_) log_(line);
}

kj::Promise<void> NodeHost::run() {
  const bool inlineWrites = storageWritesInline();  // refuses a bad value before anything
  // KJ checks the sockets (epoll) only when its event queue is empty, unless told to poll
  // every so many events. A node whose loop never runs dry -- a participant reading the
  // leader's next prepare, already in the socket after each synced write -- then never
  // read its other connections: the acceptors' 2b waited there for tens of ms (it learned
  // outcomes long after the client had its answer, and the client's next transaction
  // found its keys still locked), as did the returns of its own calls and the storage
  // thread's eventfd. Polling every kBusyPollEvents events bounds that wait.
  io_.waitScope.setBusyPollInterval(kBusyPollEvents);
  Recovered rec = env_.load();
  switch (me_.role) {
    case Role::Participant:
      if (external_) {
        external_->recover(rec);  // reconciles the engine with `rec`, or throws
        core_ = std::make_unique<Participant>(me_.id, coreCfg_, *external_, seed_, rec);
        break;
      }
      engine_ = std::make_unique<kv::KvEngine>(env_.reader());
      core_ = std::make_unique<Participant>(me_.id, coreCfg_, *engine_, seed_, rec);
      break;
    case Role::Acceptor:
      core_ = std::make_unique<Acceptor>(me_.id, coreCfg_, rec);
      break;
    case Role::Coordinator:
      if (coreCfg_.protocol == Protocol::TwoPC) {
        // Presumed abort across restarts: a transaction begun before now (client clocks
        // are in the ids) and not decided is aborted, never started afresh.
        core_ = std::make_unique<TwoPcCoordinator>(me_.id, coreCfg_, rec,
                                                   TxnId{wallClockMicros(), ~uint64_t{0}});
      } else {
        core_ = std::make_unique<PaxosCoordinator>(me_.id, coreCfg_, seed_, rec);
      }
      break;
  }
  size_t inDoubt = 0;
  for (const auto& p : rec.participantTxns) inDoubt += p.state == ParticipantState::Prepared;
  log("recovered from " + env_.dir() + ": " + std::to_string(rec.participantTxns.size()) +
      " participant records (" + std::to_string(inDoubt) + " in doubt), " +
      std::to_string(rec.acceptorTxns.size()) + " acceptor records, " +
      std::to_string(rec.decisions.size()) + " decisions, leader round " +
      std::to_string(rec.leaderRound));

  storage::ThreadOptions sopts;
  sopts.inlineWrites = inlineWrites;
  storage_ = std::make_unique<storage::StorageThread>(env_, sopts);
  if (!inlineWrites) {  // inline writes complete in scheduleInlineWrite, not by the eventfd
    durableObserver_ = std::make_unique<kj::UnixEventPort::FdObserver>(
        io_.unixEventPort, storage_->eventFd(), kj::UnixEventPort::FdObserver::OBSERVE_READ);
  }

  rpc::TransportOptions topts;
  topts.self = me_.id;
  for (const auto& n : cluster_.nodes) {
    if (n.id != me_.id) topts.peers[n.id] = rpc::PeerAddress{n.host, n.port};
  }
  topts.maxInboundConnections = cluster_.maxConnections;
  topts.idleTimeoutMs = cluster_.idleTimeoutMs;
  topts.callTimeoutMs = cluster_.callTimeoutMs;
  transport_ = std::make_unique<rpc::Transport>(
      io_, topts, [this](NodeId from, Message&& m) { onInbound(from, std::move(m)); },
      [this](const std::string& l) { log(l); });
  transport_->setStatusFn([this](wire::NodeStatus::Builder b) { fillStatus(b); });
  if (engine_ || (external_ && external_->readable())) {
    transport_->setGetFn([this](const std::string& key) { return readCommitted(key, 0); });
  }
  auto listening = transport_->listen(me_.host, me_.port);
  log("ready: " + me_.name + " (" + toString(me_.role) + ", " + toString(coreCfg_.protocol) +
      ") listening on " + me_.address() +
      (inlineWrites ? "" : " (storage writes on a thread: PCOMMIT_STORAGE_WRITES=thread)"));
  kj::Promise<void> durable = inlineWrites ? kj::Promise<void>(kj::NEVER_DONE) : watchDurable();
  kj::Promise<void> metricsServing = kj::NEVER_DONE;
  if (me_.metricsPort != 0) {
    // GET /metrics and /healthz on this event loop; values are read at scrape time.
    metrics_ = std::make_unique<HostMetrics>(me_.name, toString(me_.role), coreCfg_.protocol);
    metrics_->setCollect([this](NodeSample& s) { fillMetrics(s); });
    metricsServing = metrics_->serve(io_, me_.metricsHost, me_.metricsPort,
                                     [this](const std::string& l) { log(l); });
    log("metrics: http://" + me_.metricsAddress() + "/metrics");
  }
  return listening.exclusiveJoin(kj::mv(durable))
      .exclusiveJoin(tickLoop())
      .exclusiveJoin(kj::mv(metricsServing));
}

kj::Promise<kv::Versioned> NodeHost::readCommitted(const std::string& key, uint32_t waitedMs) {
  // A key locked by a prepared transaction may be committed already (the client may have
  // been told so): wait for the outcome, so a read after a commit sees it. The same over
  // the built-in engine and over an external one (whose read may throw: evalNow).
  auto holder = external_ ? external_->lockHolder(key) : engine_->lockHolder(key);
  if (!holder) {
    if (!external_) return engine_->read(key);
    return kj::evalNow([this, key]() { return external_->read(key); });
  }
  if (waitedMs >= kReadLockWaitMs) {
    return KJ_EXCEPTION(OVERLOADED, "key is locked by an in-doubt transaction", holder->toString(),
                        waitedMs);
  }
  return io_.provider->getTimer()
      .afterDelay(cluster_.tickMs * kj::MILLISECONDS)
      .then([this, key, waitedMs]() { return readCommitted(key, waitedMs + cluster_.tickMs); });
}

kj::Promise<void> NodeHost::tickLoop() {
  return io_.provider->getTimer().afterDelay(cluster_.tickMs * kj::MILLISECONDS).then([this]() {
    handle(core_->onTick());
    if (inlineWriteDeferred_) scheduleInlineWrite(true);  // background waits one tick at most
    return tickLoop();
  });
}

kj::Promise<void> NodeHost::watchDurable() {
  return durableObserver_->whenBecomesReadable().then([this]() {
    onDurable(storage_->pollDurable());
    return watchDurable();
  });
}

void NodeHost::onInbound(NodeId from, Message&& msg) {
  uint64_t before = core_->rejected();
  const char* name = messageName(msg);
  if (metrics_) metrics_->onInbound(msg);
  handle(core_->onMessage(Envelope{from, me_.id, std::move(msg)}));
  if (core_->rejected() > before && rejectedLogged_ < 100) {
    ++rejectedLogged_;  // bounded: a misbehaving peer cannot flood the log
    log(std::string("rejected ") + name + " from node " + std::to_string(from));
  }
}

void NodeHost::handle(Output&& out) {
  if (metrics_) metrics_->onOutput(out);
  if (external_) holdBackLowWater(out.persist);
  storage::Seq tag = lastSeq_;
  if (!out.persist.empty()) {
    // Failpoints around the write, named after the protocol step they interrupt.
    for (const auto& r : out.persist) {
      if (std::holds_alternative<AcceptorTxnRecord>(r)) fp_.hit("acceptor.before_persist");
    }
    tag = lastSeq_ + 1;
    for (const auto& r : out.persist) {
      if (std::holds_alternative<AcceptorTxnRecord>(r)) {
        afterPersist_.emplace_back(tag, "acceptor.after_persist_before_reply");
      } else if (const auto* p = std::get_if<ParticipantTxnRecord>(&r)) {
        if (p->state == ParticipantState::Prepared) {
          afterPersist_.emplace_back(tag, "participant.after_prepare_persisted");
        } else if (p->state == ParticipantState::Committed ||
                   p->state == ParticipantState::Aborted) {
          afterPersist_.emplace_back(tag, "participant.after_outcome_persisted");
          if (external_) {
            externalDurable_.emplace_back(
                tag, p->txn,
                p->state == ParticipantState::Committed ? Outcome::Commit : Outcome::Abort);
          } else if (p->state == ParticipantState::Committed) {
            kvDurable_.emplace_back(tag, p->txn);
          }
        }
      } else if (const auto* d = std::get_if<DecisionRecord>(&r); d && !d->done) {
        afterPersist_.emplace_back(tag, "coordinator.after_decision_persisted");
      }
    }
    // Urgent: a record some reply waits for (a vote, an acceptor's vote, a decision), or
    // an outcome an external engine applies once durable (it holds locks till then).
    // The rest -- outcome records whose only follower is a GC ack, forgets, low-water
    // marks -- may wait for the next urgent write or the next tick (inline writes).
    bool urgent = std::any_of(out.persist.begin(), out.persist.end(), [this](const Record& r) {
      return isCriticalRecord(r) || (external_ && std::holds_alternative<ParticipantTxnRecord>(r));
    });
    submit(std::move(out.persist), urgent);
  }
  for (const auto& ev : out.recoveriesStarted) {
    if (recovering_.size() < 10000) recovering_.insert(ev.txn);
    std::ostringstream os;
    os << "recovery started: txn " << ev.txn << " at ballot " << ev.ballot;
    log(os.str());
  }
  for (const auto& l : out.learned) {
    if (recovering_.erase(l.txn) != 0) {
      log("recovery finished: txn " + l.txn.toString() + " " + toString(l.outcome));
    }
  }
  for (auto& e : out.send) route(tag, std::move(e));
}

void NodeHost::holdBackLowWater(std::vector<Record>& persist) {
  // A low-water mark erases finished records. With an external engine, a Committed record
  // is durable before the engine applies it; were the mark to erase it first and the node
  // crash, a restart could not tell that transaction from one whose prepare never became
  // durable (which it aborts). So the mark waits until every outcome it may cover (those
  // in batches up to this one) is applied.
  std::optional<TxnId> found;
  std::erase_if(persist, [&found](const Record& r) {
    const auto* lw = std::get_if<ParticipantLowWaterRecord>(&r);
    if (lw) found = found ? std::max(*found, lw->mark) : lw->mark;
    return lw != nullptr;
  });
  if (!found) return;
  TxnId mark = *found;
  storage::Seq after = persist.empty() ? lastSeq_ : lastSeq_ + 1;
  if (heldLowWater_) {
    // (A held mark waits for a batch not yet durable: the merged one waits for both.)
    heldLowWater_ = std::make_pair(std::max(after, heldLowWater_->first),
                                   std::max(mark, heldLowWater_->second));
    return;
  }
  if (after <= durableSeq_) {
    persist.push_back(ParticipantLowWaterRecord{mark});  // nothing pending: write it now
    return;
  }
  heldLowWater_ = std::make_pair(after, mark);
}

void NodeHost::submit(std::vector<Record>&& batch, bool urgent) {
  ++lastSeq_;
  if (overflow_.empty()) {
    if (auto seq = storage_->trySubmit(std::move(batch))) {
      PC_ASSERT(*seq == lastSeq_, *seq, lastSeq_);
      scheduleInlineWrite(urgent);
      return;
    }
  }
  // The storage queue is full: keep the batch here (in order) and stop nothing else; it
  // goes in as soon as a group completes. Its sends wait for it like any other.
  overflow_.push_back(std::move(batch));
}

void NodeHost::route(storage::Seq tag, Envelope&& e) {
  // Every send waits for the records it depends on (FIFO by batch sequence number).
  if (tag > durableSeq_) {
    // A message other than a GC ack must not wait for a deferred background write.
    bool gc = std::holds_alternative<Ack>(e.msg) || std::holds_alternative<AckRequest>(e.msg);
    outbox_.push_back(Pending{tag, std::move(e)});
    if (!gc) scheduleInlineWrite(true);
    return;
  }
  transmit(std::move(e));
}

void NodeHost::transmit(Envelope&& e) {
  if (e.to == me_.id) {
    // To ourselves (a participant's recovery leader): through the event loop, never by a
    // re-entrant call into the core.
    tasks_->add(
        kj::evalLater([this, env = std::move(e)]() mutable { handle(core_->onMessage(env)); }));
    return;
  }
  std::function<void()> onDelivered;
  if (const auto* p = std::get_if<Prepare>(&e.msg); p && me_.role == Role::Coordinator) {
    // coordinator.after_prepare_sent fires once every participant has received its prepare.
    TxnId txn = p->txn;
    preparesInFlight_[txn] += 1;
    onDelivered = [this, txn]() {
      auto it = preparesInFlight_.find(txn);
      if (it == preparesInFlight_.end()) return;
      if (--it->second == 0) {
        preparesInFlight_.erase(it);
        fp_.hit("coordinator.after_prepare_sent");
      }
    };
  } else if (me_.role == Role::Participant && isBallotZeroVote(e.msg)) {
    onDelivered = [this]() { fp_.hit("participant.after_vote_sent"); };
  } else if (std::holds_alternative<CommitReply>(e.msg)) {
    fp_.hit("coordinator.before_reply");
  }
  if (auto it = localPeers_.find(e.to); it != localPeers_.end()) {
    // A co-hosted node: its inbound path on a later turn (never re-entrant), as if it had
    // arrived over TCP; onDelivered then runs as once a network call is accepted.
    NodeHost* peer = it->second;
    transport_->countLocalSend(e.msg);
    peer->tasks_->add(kj::evalLater([peer, from = me_.id, msg = std::move(e.msg),
                                     onDelivered = std::move(onDelivered)]() mutable {
      if (!peer->transport_) return;  // that host never started: lost, as to a dead peer
      peer->transport_->countLocalReceive(msg);
      peer->onInbound(from, std::move(msg));
      if (onDelivered) onDelivered();
    }));
    return;
  }
  transport_->send(e.to, std::move(e.msg), std::move(onDelivered));
}

void NodeHost::setLocalPeers(const std::vector<NodeHost*>& peers) {
  localPeers_.clear();
  for (NodeHost* p : peers) {
    if (p != this) localPeers_[p->me_.id] = p;
  }
}

void NodeHost::onDurable(storage::Seq seq) {
  if (seq <= durableSeq_) return;
  durableSeq_ = seq;
  // A failpoint "after persist" fires after the write and before any reply leaves.
  while (!afterPersist_.empty() && afterPersist_.front().first <= seq) {
    fp_.hit(afterPersist_.front().second);
    afterPersist_.pop_front();
  }
  while (!kvDurable_.empty() && kvDurable_.front().first <= seq) {
    engine_->forgetDurable(kvDurable_.front().second);
    kvDurable_.pop_front();
  }
  // An external engine applies an outcome once the node's record of it is durable, and
  // before the ack leaves (below): acceptors may forget the transaction after every ack.
  while (!externalDurable_.empty() && std::get<0>(externalDurable_.front()) <= seq) {
    auto [tag, txn, outcome] = externalDurable_.front();
    externalDurable_.pop_front();
    external_->outcomeDurable(txn, outcome);
  }
  if (heldLowWater_ && heldLowWater_->first <= seq) {
    std::vector<Record> batch{ParticipantLowWaterRecord{heldLowWater_->second}};
    heldLowWater_.reset();
    submit(std::move(batch), false);
  }
  while (!outbox_.empty() && outbox_.front().seq <= seq) {
    transmit(std::move(outbox_.front().env));
    outbox_.pop_front();
  }
  while (!overflow_.empty()) {
    auto seqOk = storage_->trySubmit(std::move(overflow_.front()));
    if (!seqOk) break;
    overflow_.pop_front();
    scheduleInlineWrite(true);
  }
}

void NodeHost::scheduleInlineWrite(bool urgent) {
  if (!storage_->inlineWrites()) return;
  if (!urgent) {
    // Background only: rides with the next urgent write, or goes at the next tick.
    inlineWriteDeferred_ = true;
    return;
  }
  if (inlineWriteScheduled_) return;
  inlineWriteScheduled_ = true;
  // After everything else this turn (the messages that arrived together are all handled
  // and their group is complete), write it and release what waited for it.
  tasks_->add(kj::evalLater([this]() {
    inlineWriteScheduled_ = false;
    inlineWriteDeferred_ = false;
    if (!metrics_) return onDurable(storage_->writeQueued());
    // Timed for pcommit_synced_commit_duration_seconds (if it did commit anything).
    const uint64_t before = env_.metrics().syncedCommits;
    const double t0 = metrics_->now();
    storage::Seq seq = storage_->writeQueued();
    if (env_.metrics().syncedCommits > before) metrics_->onSyncedCommit(metrics_->now() - t0);
    onDurable(seq);
  }));
}

void NodeHost::fillStatus(wire::NodeStatus::Builder b) {
  b.setNodeId(me_.id);
  b.setName(me_.name);
  b.setRole(toString(me_.role));
  b.setProtocol(toString(coreCfg_.protocol));
  b.setPid(static_cast<uint32_t>(::getpid()));
  b.setUptimeMs(monotonicMs() - startMs_);
  if (const auto* p = dynamic_cast<const Participant*>(core_.get())) {
    auto list = p->inDoubt();
    auto ib = b.initInDoubt(static_cast<unsigned>(list.size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      rpc::setTxn(ib[i].initTxn(), list[i].txn);
      ib[i].setAgeMs((core_->now() - list[i].sinceTick) * cluster_.tickMs);
      ib[i].setLeader(list[i].leader);
      ib[i].setRecovering(list[i].recovering);
      std::string waiting;
      if (coreCfg_.protocol == Protocol::TwoPC) {
        waiting = "the outcome from coordinator " + nameForId(list[i].leader) + " (2PC blocks)";
      } else if (list[i].recovering) {
        waiting = "its recovery (phase 1/2 with the acceptors)";
      } else {
        waiting = "the acceptors' votes (recovery after its timeout)";
      }
      ib[i].setWaitingFor(waiting);
    }
  }
  const auto& tm = transport_->metrics();
  auto sm = storage_->metrics();
  std::vector<std::pair<std::string, uint64_t>> counters = {
      {"messages_sent", tm.messagesSent},
      {"messages_received", tm.messagesReceived},
      {"messages_local", tm.messagesLocal},
      {"rpc_calls_sent", tm.rpcCallsSent},
      {"rpc_calls_received", tm.rpcCallsReceived},
      {"rejected_at_edge", tm.rejected},
      {"rejected_by_core", core_->rejected()},
      {"dropped_queue_full", tm.droppedQueue},
      {"dropped_failed", tm.droppedFailed},
      {"inbound_refused", tm.inboundRefused},
      {"inbound_idle_closed", tm.inboundIdleClosed},
      {"accept_errors", tm.acceptErrors},
      {"call_timeouts", tm.callTimeouts},
      {"attach_refused", tm.attachRefused},
      {"synced_commits", sm.env.syncedCommits},
      {"synced_commits_critical", sm.env.criticalCommits},
      {"synced_commits_background", sm.env.backgroundCommits},
      {"records_written", sm.env.recordsWritten},
      {"records_critical", sm.env.criticalRecords},
      {"storage_pending_records", sm.pendingRecords},
      {"outbox", outbox_.size()},
  };
  // One counter per message kind, in the order of the Message variant.
  for (size_t k = 0; k < tm.sentByKind.size(); ++k) {
    counters.emplace_back(std::string("sent_") + messageKindName(k), tm.sentByKind[k]);
  }
  auto cb = b.initCounters(static_cast<unsigned>(counters.size()));
  for (unsigned i = 0; i < counters.size(); ++i) {
    cb[i].setName(counters[i].first);
    cb[i].setValue(counters[i].second);
  }
}

void NodeHost::fillMetrics(NodeSample& s) {
  const auto& tm = transport_->metrics();
  s.sentByKind.assign(tm.sentByKind.begin(), tm.sentByKind.end());
  s.receivedByKind.assign(tm.receivedByKind.begin(), tm.receivedByKind.end());
  s.rejectedAtEdge = tm.rejected;
  s.rejectedByCore = core_->rejected();
  s.droppedQueueFull = tm.droppedQueue;
  s.droppedFailed = tm.droppedFailed;
  s.connects = tm.connects;
  s.connectFailures = tm.connectFailures;
  s.disconnects = tm.disconnects;
  for (const auto& n : cluster_.nodes) {
    if (n.id != me_.id && transport_->connected(n.id)) ++s.peersConnected;
  }
  auto sm = storage_->metrics();
  s.syncedCommits = sm.env.syncedCommits;
  s.storageQueueBytes = sm.pendingBytes;
  s.outboxMessages = outbox_.size();
  s.mapUsedBytes = env_.usedBytes();
  s.mapSizeBytes = sm.env.mapSizeBytes;
  if (const auto* p = dynamic_cast<const Participant*>(core_.get())) {
    auto list = p->inDoubt();
    s.inDoubt = list.size();
    uint64_t oldestTicks = 0;
    for (const auto& d : list) oldestTicks = std::max(oldestTicks, core_->now() - d.sinceTick);
    s.oldestInDoubtAgeSeconds = static_cast<double>(oldestTicks * cluster_.tickMs) / 1000.0;
  }
}

}  // namespace pc::runtime
