#include "runtime/node_host.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "paxos_commit/assert.h"
#include "runtime/tls_certs.h"

namespace pc::runtime {

uint64_t NodeHost::monotonicMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
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
                   std::unique_ptr<RoleHost> role)
    : io_(io),
      cluster_(cluster),
      me_(me),
      coreCfg_(cluster.coreConfig()),
      env_(env),
      fp_(failpoints),
      seed_(seed),
      log_(std::move(log)),
      roleCtx_{io_, cluster_, me_, coreCfg_, env_, fp_, seed_, log_},
      role_(std::move(role)),
      startMs_(monotonicMs()),
      errors_(std::make_unique<Errors>(*this)),
      tasks_(std::make_unique<kj::TaskSet>(*errors_)) {
  PC_ASSERT(role_ != nullptr, me_.name);
}

NodeHost::~NodeHost() = default;

void NodeHost::log(const std::string& line) const {
  if (log_) log_(line);
}

bool ticksOnDemand() {
  const char* v = std::getenv("PCOMMIT_TICKS");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "demand") return true;
  if (std::string_view(v) == "fixed") return false;
  throw std::runtime_error(std::string("PCOMMIT_TICKS=") + v + ": expected demand or fixed");
}

kj::Promise<void> NodeHost::run() {
  const bool inlineWrites = storageWritesInline();  // refuses a bad value before anything
  ticksOnDemand_ = ticksOnDemand();
  // KJ checks the sockets (epoll) only when its event queue is empty, unless told to poll
  // every so many events. A node whose loop never runs dry -- a participant reading the
  // leader's next prepare, already in the socket after each synced write -- then never
  // read its other connections: the acceptors' 2b waited there for tens of ms (it learned
  // outcomes long after the client had its answer, and the client's next transaction
  // found its keys still locked), as did the returns of its own calls and the storage
  // thread's eventfd. Polling every kBusyPollEvents events bounds that wait.
  io_.waitScope.setBusyPollInterval(kBusyPollEvents);
  Recovered rec = env_.load();
  core_ = &role_->start(roleCtx_, rec);
  pipeline_ = Pipeline(role_->pipelineOptions());
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
  if (!inlineWrites) {  // inline writes complete in scheduleWrite, not by the eventfd
    durableObserver_ = std::make_unique<kj::UnixEventPort::FdObserver>(
        io_.unixEventPort, storage_->eventFd(), kj::UnixEventPort::FdObserver::OBSERVE_READ);
  }

  rpc::TransportOptions topts;
  topts.self = me_.id;
  for (const auto& n : cluster_.nodes) {
    if (n.id != me_.id) topts.peers[n.id] = rpc::PeerAddress{n.host, n.port};
    topts.names[n.id] = n.name;
  }
  topts.selfName = me_.name;
  if (cluster_.tlsEnabled()) topts.tls = loadNodeTls(cluster_, me_);  // mutual TLS (rpc/tls.h)
  topts.maxInboundConnections = cluster_.maxConnections;
  topts.idleTimeoutMs = cluster_.idleTimeoutMs;
  topts.callTimeoutMs = cluster_.callTimeoutMs;
  topts.netDelayUs = cluster_.netDelayUs;
  topts.clusterId = cluster_.clusterId;
  topts.streams = rpc::deliveryStreamsFromEnvironment();  // PCOMMIT_DELIVERY
  transport_ = std::make_unique<rpc::Transport>(
      io_, topts, [this](NodeId from, Message&& m) { onInbound(from, std::move(m)); },
      [this](const std::string& l) { log(l); });
  transport_->setStatusFn([this](wire::NodeStatus::Builder b) { fillStatus(b); });
  transport_->setResolveFn([this](NodeId from, const TxnId& txn, std::optional<Outcome> o) {
    return resolve(from, txn, o);
  });
  if (role_->readable()) {
    transport_->setGetFn([this](const std::string& key) { return role_->read(key); });
  }
  // The `listen` key: bind there, while peers and clients keep using `address`.
  const bool ownListen = me_.hasListen();
  auto listening = transport_->listen(ownListen ? me_.listenHost : me_.host,
                                      ownListen ? me_.listenPort : me_.port);
  log("ready: " + me_.name + " (" + toString(me_.role) + ", " + toString(coreCfg_.protocol) +
      ") listening on " + me_.listenAddress() +
      (ownListen ? " (advertised as " + me_.address() + ")" : "") +
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
      .exclusiveJoin(startTicking())
      .exclusiveJoin(kj::mv(metricsServing));
}

kj::Promise<void> NodeHost::startTicking() {
  if (!ticksOnDemand_) return tickLoop();
  auto failed = kj::newPromiseAndFulfiller<void>();  // rejected by a tick that threw
  tickFailed_ = kj::mv(failed.fulfiller);
  epoch_ = io_.provider->getTimer().now();
  armTimer();
  return kj::mv(failed.promise);
}

uint64_t NodeHost::elapsedTicks() {
  const int64_t ms = (io_.provider->getTimer().now() - epoch_) / kj::MILLISECONDS;
  return ms <= 0 ? 0 : static_cast<uint64_t>(ms) / cluster_.tickMs;
}

void NodeHost::catchUp() {
  if (!ticksOnDemand_ || core_ == nullptr || inCatchUp_) return;
  uint64_t due = elapsedTicks();
  if (core_->now() >= due) return;
  if (due - core_->now() > kMaxCatchUpTicks) {
    // Stopped for longer than this (SIGSTOP, a suspended VM): the rest are skipped, and
    // tick k of the core stays at epoch_ + k ticks.
    const uint64_t skip = due - core_->now() - kMaxCatchUpTicks;
    epoch_ += skip * cluster_.tickMs * kj::MILLISECONDS;
    skippedTicks_ += skip;
    due -= skip;
    log("ticks: " + std::to_string(skip) + " skipped after a stop of the process (" +
        std::to_string(skippedTicks_) + " in all)");
  }
  inCatchUp_ = true;
  while (core_->now() < due) handle(core_->onTick());
  inCatchUp_ = false;
  wakes_.erase(wakes_.begin(), wakes_.upper_bound(core_->now()));
  writeAtTick();
  armTimer();
}

void NodeHost::noteWake(uint64_t tick) {
  if (!ticksOnDemand_ || tick == 0 || core_ == nullptr) return;
  // A tick already reached means the next one (the role checks `now >= deadline`).
  wakes_.insert(std::max(tick, core_->now() + 1));
}

void NodeHost::armTimer() {
  if (!ticksOnDemand_ || core_ == nullptr || inCatchUp_) return;
  const uint64_t now = core_->now();
  uint64_t target = now + std::max<uint64_t>(1, kMaxIdleMs / cluster_.tickMs);
  if (!wakes_.empty()) target = std::min(target, std::max(*wakes_.begin(), now + 1));
  // Background records are written at a tick (writeAtTick): the next ones must come. And
  // a node at work ticks as a fixed-rate tick did (kBusyMs).
  if (now < activeUntilTick_ || pipeline_.writeNeed() != WriteNeed::None ||
      pipeline_.hasUnsubmitted()) {
    target = std::min(target, now + 1);
  }
  if (timerTick_ > now && timerTick_ <= target) return;  // the live timer comes first
  timerTick_ = target;
  const uint64_t gen = ++timerGen_;
  const kj::TimePoint at = epoch_ + target * cluster_.tickMs * kj::MILLISECONDS;
  tasks_->add(io_.provider->getTimer()
                  .atTime(at)
                  .then([this, gen]() {
                    if (gen != timerGen_) return;  // an earlier timer replaced this one
                    timerTick_ = 0;
                    catchUp();
                    armTimer();  // catchUp() did if a tick was due; if not, this one
                  })
                  .catch_([this](kj::Exception&& e) {
                    if (tickFailed_) tickFailed_->reject(kj::mv(e));
                  }));
}

kj::Promise<void> NodeHost::tickLoop() {
  return io_.provider->getTimer().afterDelay(cluster_.tickMs * kj::MILLISECONDS).then([this]() {
    handle(core_->onTick());
    writeAtTick();
    return tickLoop();
  });
}

void NodeHost::onInbound(NodeId from, Message&& msg) {
  catchUp();
  if (ticksOnDemand_)
    activeUntilTick_ = core_->now() + std::max<uint64_t>(1, kBusyMs / cluster_.tickMs);
  uint64_t before = core_->rejected();
  const char* name = messageName(msg);
  if (metrics_) metrics_->onInbound(msg);
  handle(core_->onMessage(Envelope{from, me_.id, std::move(msg)}));
  if (core_->rejected() > before && rejectedLogged_ < 100) {
    ++rejectedLogged_;  // bounded: a misbehaving peer cannot flood the log
    log(std::string("rejected ") + name + " from node " + std::to_string(from));
  }
}

storage::Seq NodeHost::handle(Output&& out) {
  if (metrics_) metrics_->onOutput(out);
  noteWake(out.wakeAtTick);
  // The Output's records become the next batch (the role first hooks its duties on it);
  // its sends wait for that batch, or for the last earlier one (paxos_commit/pipeline.h).
  storage::Seq tag = pipeline_.lastSeq();
  if (!out.persist.empty()) {
    role_->onPersist(out.persist, pipeline_.nextSeq(), pipeline_);
    bool urgent = std::any_of(out.persist.begin(), out.persist.end(),
                              [this](const Record& r) { return role_->urgent(r); });
    tag = pipeline_.persist(std::move(out.persist), urgent);
    scheduleSubmit();
  }
  logOutput(out);
  for (auto& e : out.send) pipeline_.send(tag, std::move(e));
  transmitReleased();
  if (pipeline_.writeNeed() == WriteNeed::Urgent) scheduleWrite();
  armTimer();  // a wake-up announced, or background records that need the next tick
  return tag;
}

void NodeHost::logOutput(const Output& out) {
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
}

void NodeHost::transmitReleased() {
  // The spare buffer goes round with the pipeline's (Pipeline::takeReleased): no allocation
  // per batch. Taken out of the member first, so a nested call would simply get its own.
  std::vector<Envelope> buf = std::move(spareSends_);
  buf.clear();
  pipeline_.takeReleased(buf);
  for (auto& e : buf) transmit(std::move(e));
  buf.clear();
  spareSends_ = std::move(buf);
}

void NodeHost::transmit(Envelope&& e) {
  if (e.to == me_.id) {
    // To ourselves (a participant's recovery leader): through the event loop, never by a
    // re-entrant call into the core.
    tasks_->add(kj::evalLater([this, env = std::move(e)]() mutable {
      catchUp();
      handle(core_->onMessage(env));
    }));
    return;
  }
  std::function<void()> onDelivered = role_->onSend(e);
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

}  // namespace pc::runtime
