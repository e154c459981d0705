#include "tests/sim/sim.h"

#include <algorithm>
#include <sstream>

#include "paxos_commit/assert.h"

namespace pc::sim {

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  Rng r(a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL));
  r.next();
  return r.next();
}

// Swarm testing: each fault is off in a quarter of the seeds, otherwise at a random rate.
uint32_t swarm(Rng& r, uint32_t max) {
  if (r.below(4) == 0) return 0;
  return static_cast<uint32_t>(1 + r.below(max));
}

std::set<TxnId> txnsOf(const Output& out) {
  std::set<TxnId> s;
  for (const auto& r : out.persist) {
    std::visit(
        [&](const auto& x) {
          if constexpr (requires { x.txn; }) s.insert(x.txn);
        },
        r);
  }
  for (const auto& e : out.send) s.insert(messageTxn(e.msg));
  return s;
}

}  // namespace

void Stats::add(const Stats& o) {
  txns += o.txns;
  committed += o.committed;
  aborted += o.aborted;
  undecided += o.undecided;
  forgotten += o.forgotten;
  messagesSent += o.messagesSent;
  messagesDelivered += o.messagesDelivered;
  dropped += o.dropped;
  duplicated += o.duplicated;
  late += o.late;
  partitions += o.partitions;
  for (const auto& [r, c] : o.crashes) crashes[r] += c;
  crashesAfterPersist += o.crashesAfterPersist;
  crashesMidSend += o.crashesMidSend;
  recoveries += o.recoveries;
  forged += o.forged;
  persists += o.persists;
  maxDecideTicks = std::max(maxDecideTicks, o.maxDecideTicks);
  if (o.maxDecideAfterHeal > maxDecideAfterHeal) {
    maxDecideAfterHeal = o.maxDecideAfterHeal;
    maxDecideSeed = o.maxDecideSeed;
  }
  ticks += o.ticks;
  checks += o.checks;
}

SimConfig randomConfig(Protocol protocol, uint64_t seed, const Overrides& o) {
  Rng r(mix(seed, static_cast<uint64_t>(protocol)));
  SimConfig c;
  c.seed = seed;
  CoreConfig& k = c.core;
  k.protocol = protocol;
  k.f = o.f >= 0 ? o.f : static_cast<int>(r.below(3));
  uint64_t shape = r.below(100);
  int n = shape < 45   ? 1 + static_cast<int>(r.below(3))
          : shape < 85 ? 4 + static_cast<int>(r.below(5))
                       : 9 + static_cast<int>(r.below(8));
  c.participants = o.participants > 0 ? o.participants : n;
  c.coordinators = 1 + static_cast<int>(r.below(3));
  c.clients = 1 + static_cast<int>(r.below(4));
  bool quorum = r.below(2) == 0;
  k.fanOut = o.fanOut > 0 ? static_cast<FanOut>(o.fanOut) : (quorum ? FanOut::Quorum : FanOut::All);
  c.txns = 3 + static_cast<int>(r.below(14));
  c.hotKeys = 1 + static_cast<int>(r.below(3));

  FaultRates& f = c.faults;
  f.delayTicksMax = 1 + r.below(8);
  f.diskTicksMax = r.below(4);
  f.dropPerMille = swarm(r, 100);
  f.duplicatePerMille = swarm(r, 100);
  f.latePerMille = swarm(r, 30);
  f.lateTicksMax = 20 + r.below(150);
  f.crashPer10k = swarm(r, 150);
  f.downTicksMax = 10 + r.below(200);
  f.crashAfterPersistPerMille = swarm(r, 30);
  f.crashMidSendPerMille = swarm(r, 30);
  f.partitionPer10k = swarm(r, 50);
  f.partitionTicksMax = 10 + r.below(100);

  // Timeouts: anything goes for safety; short ones make duelling leaders common.
  bool hasty = r.below(10) == 0;
  k.recoveryTimeoutTicks = hasty ? 3 + r.below(8) : 20 + r.below(80);
  k.recoveryJitterTicks = 1 + r.below(40);
  k.prepareRetryTicks = 5 + r.below(30);
  k.leaderTimeoutTicks = hasty ? 5 + r.below(10) : 30 + r.below(120);
  k.ballotRetryTicks = 5 + r.below(40);
  k.bundleCapTicks = r.below(4);
  k.fanOutFallbackTicks = 2 + r.below(30);
  k.ackRequestTicks = 30 + r.below(200);
  bool tiny = r.below(5) == 0;
  if (o.tinyCaps >= 0) tiny = o.tinyCaps == 1;
  if (tiny) {
    // Tiny caps: low-water marks and tombstone collection run all the time.
    k.tombstoneCap = 1 + r.below(3);
    k.finishedCap = 1 + r.below(3);
    k.outcomeCacheCap = 1 + r.below(3);
  }
  c.clientRetryTicks = 60 + r.below(150);
  c.safetyTicks = 200 + r.below(700);
  c.livenessTicksMax = 4000;
  c.gcTailTicks = r.below(10) < 3 ? k.ackRequestTicks * 2 + 50 : 0;
  // Forged messages from non-members: a separate stream, so the draws above (and every
  // seed's configuration before this mode existed) stay the same. On in 1 seed of 4.
  Rng fr(mix(seed, 0xf0f9edULL + static_cast<uint64_t>(protocol)));
  bool forged = o.forged >= 0 ? o.forged == 1 : fr.below(4) == 0;
  f.forgedPer10k = forged ? static_cast<uint32_t>(100 + fr.below(1500)) : 0;
  // Quorum fan-out's window (CoreConfig::fanOutWindowShift), on a stream of its own too.
  // Simulated ids carry the tick in hi: 0 picks the F+1 per tick of submission, 3 per 8
  // ticks, 20 (the default) the same F+1 for every transaction of the run.
  Rng wr(mix(seed, 0xfa40e7ULL + static_cast<uint64_t>(protocol)));
  const uint32_t shifts[] = {0, 3, 20};
  k.fanOutWindowShift = shifts[wr.below(3)];
  return c;
}

// ---- construction ----

Simulator::Simulator(const SimConfig& cfg)
    : cfg_(cfg),
      rng_(mix(cfg.seed, 0x5eed0000ULL + static_cast<uint64_t>(cfg.core.protocol))),
      workloadRng_(mix(cfg.seed, 0x3017ULL + static_cast<uint64_t>(cfg.core.protocol))),
      forgeRng_(mix(cfg.seed, 0xf0f6e5ULL + static_cast<uint64_t>(cfg.core.protocol))),
      checker_(cfg_.core, names_) {
  PC_ASSERT(cfg.participants >= 1 && cfg.participants <= 16, cfg.participants);
  PC_ASSERT(cfg.coordinators >= 1 && cfg.coordinators <= 9, cfg.coordinators);
  PC_ASSERT(cfg.clients >= 1 && cfg.clients <= 9, cfg.clients);
  PC_ASSERT(cfg.core.f >= 0 && cfg.core.f <= 4, cfg.core.f);
  build();
}

Simulator::~Simulator() = default;

void Simulator::build() {
  CoreConfig& k = cfg_.core;
  k.acceptors.clear();
  k.coordinators.clear();
  for (int i = 1; i <= cfg_.coordinators; ++i) {
    NodeId id = static_cast<NodeId>(i);
    coordinators_.push_back(id);
    names_.addNode(id, "c" + std::to_string(i));
  }
  for (int i = 1; i <= cfg_.participants; ++i) {
    NodeId id = static_cast<NodeId>(10 + i);
    participants_.push_back(id);
    names_.addNode(id, "p" + std::to_string(i));
  }
  // Acceptor ids are in the configuration in every mode (participants build a Leader
  // over them); in 2PC no acceptor process exists, so a message to one is a bug.
  for (int i = 1; i <= 2 * k.f + 1; ++i) {
    NodeId id = static_cast<NodeId>(30 + i);
    acceptors_.push_back(id);
    names_.addNode(id, "a" + std::to_string(i));
  }
  for (int i = 1; i <= cfg_.clients; ++i) {
    NodeId id = static_cast<NodeId>(40 + i);
    clients_.push_back(id);
    names_.addNode(id, "cl" + std::to_string(i));
  }
  k.acceptors = acceptors_;
  k.coordinators = coordinators_;
  k.participants = participants_;
  buildForgers();
  checker_.setNodes(&nodes_);

  auto add = [&](NodeId id, Role role) {
    SimNode& n = nodes_[id];
    n.id = id;
    n.role = role;
    n.name = names_.node(id);
    startNode(n);
  };
  for (NodeId id : coordinators_) add(id, Role::Coordinator);
  for (NodeId id : participants_) add(id, Role::Participant);
  if (isPaxos(k.protocol)) {
    for (NodeId id : acceptors_) add(id, Role::Acceptor);
  }
  for (NodeId id : clients_) add(id, Role::Client);

  std::ostringstream os;
  os << "config seed=" << cfg_.seed << " mode=" << toString(k.protocol)
     << " fanout=" << toString(k.fanOut) << " window-shift=" << k.fanOutWindowShift << " f=" << k.f
     << " participants=" << cfg_.participants << " coordinators=" << cfg_.coordinators
     << " clients=" << cfg_.clients << " drop=" << cfg_.faults.dropPerMille
     << "/1000 dup=" << cfg_.faults.duplicatePerMille << "/1000 late=" << cfg_.faults.latePerMille
     << "/1000 delay<=" << cfg_.faults.delayTicksMax << " disk<=" << cfg_.faults.diskTicksMax
     << " crash=" << cfg_.faults.crashPer10k
     << "/10000 crashAfterPersist=" << cfg_.faults.crashAfterPersistPerMille
     << "/1000 crashMidSend=" << cfg_.faults.crashMidSendPerMille
     << "/1000 partition=" << cfg_.faults.partitionPer10k
     << "/10000 forged=" << cfg_.faults.forgedPer10k
     << "/10000 recoveryTimeout=" << k.recoveryTimeoutTicks
     << " leaderTimeout=" << k.leaderTimeoutTicks << " caps=" << k.finishedCap;
  log("config", os.str());
}

void Simulator::startNode(SimNode& n) {
  const CoreConfig& k = cfg_.core;
  n.wakes = {1};
  uint64_t seed = mix(mix(cfg_.seed, n.id), n.incarnation);
  switch (n.role) {
    case Role::Coordinator:
      if (k.protocol == Protocol::TwoPCReplicated) {
        // As a real one: every id issued before this start may have been proposed.
        n.replicatedCoordinator = std::make_unique<ReplicatedCoordinator>(
            n.id, k, seed, n.disk, TxnId{now_, ~uint64_t{0}});
      } else if (isPaxos(k.protocol)) {
        n.paxosCoordinator = std::make_unique<PaxosCoordinator>(n.id, k, seed, n.disk);
      } else {
        // The mark a real coordinator takes from its clock at start: every id issued so far.
        n.twoPcCoordinator =
            std::make_unique<TwoPcCoordinator>(n.id, k, n.disk, TxnId{now_, ~uint64_t{0}});
      }
      break;
    case Role::Participant: {
      const auto* data = &n.data;
      n.engine = std::make_unique<kv::KvEngine>([data](const std::string& key) {
        auto it = data->find(key);
        return it == data->end() ? kv::Versioned{} : it->second;
      });
      n.participant = std::make_unique<Participant>(n.id, k, *n.engine, seed, n.disk);
      break;
    }
    case Role::Acceptor:
      n.acceptor = std::make_unique<Acceptor>(n.id, k, n.disk);
      break;
    case Role::Client:
      n.client = std::make_unique<SimClient>(n.id, k, seed, cfg_.clientRetryTicks, n.disk,
                                             n.journal, now_);
      break;
  }
}

// ---- scripting ----

Bytes Simulator::put(const std::string& key, const std::string& value) {
  return kv::encodeOps({kv::Op{kv::OpKind::Put, key, value, 0}});
}

TxnId Simulator::submit(std::vector<ParticipantPayload> payloads, size_t clientIndex,
                        size_t coordinatorIndex) {
  PC_ASSERT(clientIndex < clients_.size(), clientIndex);
  SimNode& c = nodes_.at(clients_[clientIndex]);
  PC_ASSERT(c.up, c.name);
  ++txnSeq_;
  if (payloads.empty()) {
    for (NodeId p : participants_) {
      payloads.push_back(ParticipantPayload{p, put("k0", "v" + std::to_string(txnSeq_))});
    }
  }
  std::sort(payloads.begin(), payloads.end(),
            [](const ParticipantPayload& a, const ParticipantPayload& b) {
              return a.participant < b.participant;
            });
  // Ids roughly order by age (hi = the client's clock), as real clients make them.
  TxnId id{now_ + 1, (static_cast<uint64_t>(clientIndex + 1) << 48) | txnSeq_};
  CommitRequest req{id, std::move(payloads)};
  names_.addTxn(id);
  checker_.registerTxn(req, now_);
  txnOrder_.push_back(id);
  ++stats_.txns;
  ParticipantList parts;
  for (const auto& p : req.payloads) parts.push_back(p.participant);
  log("submit", c.name + " " + names_.txn(id) + " " + names_.list(parts));
  Output out = c.client->submit(req, coordinatorIndex, now_);
  handleOutput(c, std::move(out), {id});
  return id;
}

void Simulator::step() {
  ++now_;
  ++steps_;
  ++stats_.ticks;
  // Random faults: crashed nodes come back when their time is up.
  for (auto& [id, n] : nodes_) {
    if (!n.up && n.restartTick != 0 && n.restartTick <= now_) restart(id);
  }
  if (!partitionSide_.empty() && partitionEndTick_ != 0 && now_ >= partitionEndTick_) heal();
  // Storage completions, FIFO per node; their sends leave now.
  for (auto& [id, n] : nodes_) {
    if (n.up) drainPipeline(n);
  }
  // Deliveries due by now, in (tick, sequence) order.
  while (!network_.empty() && network_.begin()->first.first <= now_ && !violated()) {
    InFlight f = std::move(network_.begin()->second);
    network_.erase(network_.begin());
    deliver(f.env);
  }
  // Every live node's clock advances one tick.
  for (auto& [id, n] : nodes_) {
    if (!n.up || violated()) continue;
    Output out = n.client ? n.client->onTick(now_) : n.node()->onTick();
    if (!n.client) checkWake(n, out);
    handleOutput(n, std::move(out), {});
    // Background records wait one tick at most (NodeHost::tickLoop).
    if (n.up && n.pipeline.hasUnsubmitted()) {
      startWrites(n);
      drainPipeline(n);
    }
  }
  workload();
  injectFaults();
  injectForged();
  updateDecided();
  stats_.checks = checker_.checksRun();
}

// Output::wakeAtTick is the role's promise that ticks before it have nothing to do: a host
// may keep the wake-ups announced and sleep until the next instead of ticking at a fixed
// rate. A tick that sends anything when no announced wake-up is due breaks it (a timer
// that such a host would never fire). Records alone are housekeeping (a low-water mark)
// and may wait for the next wake-up.
void Simulator::checkWake(SimNode& n, const Output& tickOut) {
  const uint64_t t = n.node()->now();
  const bool due = !n.wakes.empty() && *n.wakes.begin() <= t;
  if (!tickOut.send.empty() && !due) {
    checker_.fail(n.name + " sent " + std::to_string(tickOut.send.size()) +
                  " message(s) at its tick " + std::to_string(t) + " with no wake-up due (" +
                  (n.wakes.empty() ? std::string("none announced")
                                   : "next announced: tick " + std::to_string(*n.wakes.begin())) +
                  "): first " + names_.message(tickOut.send.front()));
  }
  n.wakes.erase(n.wakes.begin(), n.wakes.upper_bound(t));  // this tick's own: handleOutput
}

void Simulator::runTicks(uint64_t n) {
  for (uint64_t i = 0; i < n && !violated(); ++i) step();
}

bool Simulator::runUntil(const std::function<bool()>& done, uint64_t maxTicks) {
  for (uint64_t i = 0; i < maxTicks; ++i) {
    if (violated()) return false;
    if (done()) return true;
    step();
  }
  return !violated() && done();
}

bool Simulator::runUntilDecided(const TxnId& txn, uint64_t maxTicks) {
  return runUntil([&] { return decided(txn); }, maxTicks);
}

bool Simulator::runUntilAllDecided(uint64_t maxTicks) {
  return runUntil(
      [&] {
        for (const TxnId& t : txnOrder_) {
          if (!decided(t)) return false;
        }
        return true;
      },
      maxTicks);
}

bool Simulator::runUntilQuiescent(uint64_t maxTicks) {
  return runUntil(
      [&] {
        if (!network_.empty()) return false;
        for (const auto& [id, n] : nodes_) {
          if (!n.storageIdle()) return false;
        }
        for (const TxnId& t : txnOrder_) {
          if (!decided(t)) return false;
        }
        return true;
      },
      maxTicks);
}

void Simulator::crash(NodeId id, const std::string& why) {
  SimNode& n = nodes_.at(id);
  if (!n.up) return;
  n.up = false;
  // Records not yet durable are lost, and the sends waiting on them.
  n.pipeline = Pipeline();
  n.writes.clear();
  n.crashAfterNextPersist = false;
  // The participant refers to its engine: destroy it first.
  n.participant.reset();
  n.engine.reset();
  n.paxosCoordinator.reset();
  n.twoPcCoordinator.reset();
  n.replicatedCoordinator.reset();
  n.acceptor.reset();
  n.client.reset();
  ++stats_.crashes[n.role];
  checker_.onCrash(n);
  log("crash", n.name + " (" + why + ")");
}

void Simulator::restart(NodeId id) {
  SimNode& n = nodes_.at(id);
  if (n.up) return;
  n.up = true;
  n.restartTick = 0;
  ++n.incarnation;
  startNode(n);
  log("restart", n.name + " from its durable records");
  checker_.afterRestart(n);
}

void Simulator::partition(const std::vector<NodeId>& side) {
  partitionSide_ = std::set<NodeId>(side.begin(), side.end());
  partitionEndTick_ = 0;
  std::string s;
  for (NodeId id : partitionSide_) s += (s.empty() ? "" : ",") + names_.node(id);
  log("partition", "{" + s + "} cut off from the rest");
}

void Simulator::heal() {
  if (partitionSide_.empty()) return;
  partitionSide_.clear();
  partitionEndTick_ = 0;
  log("heal", "partition healed");
}

void Simulator::healAll() {
  faultsOn_ = false;
  heal();
  for (auto& [id, n] : nodes_) {
    if (!n.up) restart(id);
  }
  healTick_ = now_;
  log("heal", "faults stop; every node is up");
}

size_t Simulator::releaseHeld(const std::function<bool(const Envelope&)>& pred) {
  size_t count = 0;
  std::vector<Envelope> keep;
  for (auto& e : held_) {
    if (pred(e)) {
      log("release", names_.message(e));
      enqueue(e, 1, false);
      ++count;
    } else {
      keep.push_back(std::move(e));
    }
  }
  held_ = std::move(keep);
  return count;
}

void Simulator::inject(const Envelope& e, uint64_t delay) {
  log("inject", names_.message(e));
  enqueue(e, delay, false);
}

size_t Simulator::dropHeld(const std::function<bool(const Envelope&)>& pred) {
  size_t before = held_.size();
  std::vector<Envelope> keep;
  for (auto& e : held_) {
    if (pred(e)) {
      log("drop", "held " + names_.message(e));
      ++stats_.dropped;
    } else {
      keep.push_back(std::move(e));
    }
  }
  held_ = std::move(keep);
  return before - held_.size();
}

// ---- the machinery ----

void Simulator::log(const std::string& kind, const std::string& text) {
  trace_.add(now_, kind + " " + text);
  if (narrator_) narrator_(now_, kind, text);
}

void Simulator::handleOutput(SimNode& n, Output&& out, const std::set<TxnId>& touchedIn) {
  if (out.wakeAtTick != 0 && !n.client) n.wakes.insert(out.wakeAtTick);  // checkWake's
  std::set<TxnId> touched = txnsOf(out);
  touched.insert(touchedIn.begin(), touchedIn.end());
  checker_.afterStep(n, touched);
  for (const auto& l : out.learned) {
    log("learn", n.name + " " + names_.txn(l.txn) + " " + toString(l.outcome));
    checker_.onLearned(n, l, out, now_);
  }
  for (const auto& r : out.recoveriesStarted) {
    ++stats_.recoveries;
    log("recover", n.name + " leads " + names_.txn(r.txn) + " at " + names_.ballot(r.ballot));
  }
  if (out.persist.empty() && out.send.empty()) return;
  // The real node's pipeline: the Output's records become the next batch, its sends wait
  // for it (or for the last earlier batch), FIFO. Urgent records, and sends other than GC
  // acks, make the node write now; background records ride along or wait for the tick.
  bool urgent = std::any_of(out.persist.begin(), out.persist.end(), isCriticalRecord);
  Seq tag = n.pipeline.persist(std::move(out.persist), urgent);
  for (auto& e : out.send) n.pipeline.send(tag, std::move(e));
  if (n.pipeline.writeNeed() == WriteNeed::Urgent) startWrites(n);
  drainPipeline(n);
}

void Simulator::startWrites(SimNode& n) {
  // What a node's inline write does: everything queued goes to the disk as one group; it
  // becomes durable some ticks later, never before an earlier write (FIFO).
  while (n.pipeline.hasUnsubmitted()) {
    DiskWrite w;
    w.seq = n.pipeline.nextUnsubmittedSeq();
    w.records = std::move(n.pipeline.nextUnsubmitted());
    n.pipeline.submitted(w.seq);
    w.readyTick = now_ + rng_.below(cfg_.faults.diskTicksMax + 1);
    if (!n.writes.empty()) w.readyTick = std::max(w.readyTick, n.writes.back().readyTick);
    n.writes.push_back(std::move(w));
  }
}

void Simulator::drainPipeline(SimNode& n) {
  while (n.up && !violated()) {
    // Sends released by the last durable write (or at once) leave first, in order.
    std::vector<Envelope> released = n.pipeline.takeReleased();
    if (!released.empty()) {
      size_t cut = released.size();
      if (chance(cfg_.faults.crashMidSendPerMille)) cut = rng_.below(cut);
      for (size_t k = 0; k < cut && !violated(); ++k) leave(n, released[k]);
      if (cut < released.size()) {
        ++stats_.crashesMidSend;
        crash(n.id, "halfway through its sends (" + std::to_string(cut) + " of " +
                        std::to_string(released.size()) + " left)");
        n.restartTick = now_ + 1 + rng_.below(cfg_.faults.downTicksMax);
        return;
      }
      continue;
    }
    if (n.writes.empty() || n.writes.front().readyTick > now_) return;
    DiskWrite w = std::move(n.writes.front());
    n.writes.pop_front();
    for (const auto& r : w.records) applyDurable(n, r);
    if (n.crashAfterNextPersist || chance(cfg_.faults.crashAfterPersistPerMille)) {
      bool scripted = n.crashAfterNextPersist;
      ++stats_.crashesAfterPersist;
      crash(n.id, "after persist, before its sends left");
      if (!scripted) n.restartTick = now_ + 1 + rng_.below(cfg_.faults.downTicksMax);
      return;
    }
    n.pipeline.durable(w.seq);
  }
}

void Simulator::applyDurable(SimNode& n, const Record& r) {
  ++stats_.persists;
  checker_.onPersist(n, r, now_);
  if (const auto* p = std::get_if<ParticipantTxnRecord>(&r);
      p && p->state == ParticipantState::Committed) {
    const ParticipantTxnRecord* prev = nullptr;
    for (const auto& x : n.disk.participantTxns) {
      if (x.txn == p->txn) prev = &x;
    }
    // What LMDB storage does in the same write transaction: apply a commit's writes once.
    if (prev == nullptr || prev->state != ParticipantState::Committed) {
      checker_.onApply(n, p->txn, p->payload);
      if (auto ops = kv::decodeOps(p->payload)) kv::applyOps(n.data, *ops);
      n.applyLog.push_back(p->txn);
      if (n.engine) n.engine->forgetDurable(p->txn);
    }
  }
  applyRecord(n.disk, r);
  log("persist", n.name + " " + names_.record(r));
}

void Simulator::leave(SimNode& n, const Envelope& e) {
  ++stats_.messagesSent;
  checker_.onSend(n, e, now_);
  std::string text = names_.message(e);
  Fate fate = filter_ ? filter_(e) : Fate::Random;
  switch (fate) {
    case Fate::Drop:
      ++stats_.dropped;
      log("drop", "scripted " + text);
      return;
    case Fate::Hold:
      log("hold", text);
      held_.push_back(e);
      return;
    case Fate::Deliver:
      log("send", text);
      enqueue(e, 1, false);
      return;
    case Fate::Duplicate:
      log("send", text + " (duplicated)");
      ++stats_.duplicated;
      enqueue(e, 1, false);
      enqueue(e, 2, false);
      return;
    case Fate::Random:
      break;
  }
  const FaultRates& f = cfg_.faults;
  if (chance(f.dropPerMille)) {
    ++stats_.dropped;
    log("drop", text);
    return;
  }
  bool late = chance(f.latePerMille) && f.lateTicksMax > 0;
  uint64_t delay = late ? 1 + rng_.below(f.lateTicksMax) : 1 + rng_.below(f.delayTicksMax);
  log("send", text + (late ? " (late: " + std::to_string(delay) + " ticks)" : ""));
  if (late) ++stats_.late;
  enqueue(e, delay, late);
  if (chance(f.duplicatePerMille)) {
    ++stats_.duplicated;
    uint64_t d2 = 1 + rng_.below(f.delayTicksMax + (late ? f.lateTicksMax : 0));
    log("dup", text + " (another copy in " + std::to_string(d2) + " ticks)");
    enqueue(e, d2, false);
  }
}

void Simulator::enqueue(const Envelope& e, uint64_t delay, bool late) {
  network_.emplace(std::make_pair(now_ + std::max<uint64_t>(delay, 1), seq_++), InFlight{e, late});
}

bool Simulator::partitioned(NodeId a, NodeId b) const {
  if (partitionSide_.empty()) return false;
  return partitionSide_.count(a) != partitionSide_.count(b);
}

void Simulator::deliver(const Envelope& e) {
  if (isForger(e.to)) {
    log("lost", names_.message(e) + " (to a forger: no such node)");
    return;
  }
  auto it = nodes_.find(e.to);
  if (it == nodes_.end()) {
    checker_.fail(names_.node(e.from) + " sent " + messageName(e.msg) + " to " + names_.node(e.to) +
                  ", which does not exist in " + toString(cfg_.core.protocol));
    return;
  }
  SimNode& n = it->second;
  std::string text = names_.message(e);
  if (!n.up) {
    ++stats_.dropped;
    log("lost", text + " (destination down)");
    return;
  }
  if (partitioned(e.from, e.to)) {
    ++stats_.dropped;
    log("lost", text + " (partition)");
    return;
  }
  ++stats_.messagesDelivered;
  log("recv", text);
  Output out = n.client ? n.client->onMessage(e, now_) : n.node()->onMessage(e);
  handleOutput(n, std::move(out), {messageTxn(e.msg)});
}

Bytes Simulator::randomPayload(NodeId participant) {
  Rng& r = workloadRng_;
  if (r.below(100) == 0) return Bytes("\xff\x01garbage", 9);  // votes Aborted: malformed
  const SimNode& p = nodes_.at(participant);
  std::vector<kv::Op> ops;
  size_t count = 1 + r.below(3);
  for (size_t i = 0; i < count; ++i) {
    kv::Op op;
    op.key = "k" + std::to_string(r.below(static_cast<uint64_t>(cfg_.hotKeys)));
    uint64_t kind = r.below(100);
    if (kind < 55) {
      op.kind = kv::OpKind::Put;
      op.value = "v" + std::to_string(txnSeq_ + 1);
    } else if (kind < 65) {
      op.kind = kv::OpKind::Del;
    } else {
      // Expect the version the data has now (a read-check); sometimes a stale one.
      op.kind = kv::OpKind::Expect;
      auto it = p.data.find(op.key);
      op.version = it == p.data.end() ? 0 : it->second.version;
      if (r.below(8) == 0) op.version += 1;
    }
    ops.push_back(op);
  }
  return kv::encodeOps(ops);
}

void Simulator::workload() {
  if (plannedSubmits_.empty() || !faultsOn_) return;
  std::vector<std::pair<uint64_t, size_t>> later;
  for (auto& [tick, client] : plannedSubmits_) {
    if (tick > now_) {
      later.push_back({tick, client});
      continue;
    }
    if (!nodes_.at(clients_[client]).up) {
      later.push_back({now_ + 5, client});  // the client is down: it submits when back
      continue;
    }
    Rng& r = workloadRng_;
    std::vector<ParticipantPayload> payloads;
    bool all = r.below(2) == 0;
    for (NodeId p : participants_) {
      if (all || r.below(2) == 0) payloads.push_back(ParticipantPayload{p, randomPayload(p)});
    }
    if (payloads.empty()) {
      NodeId p = participants_[r.below(participants_.size())];
      payloads.push_back(ParticipantPayload{p, randomPayload(p)});
    }
    submit(std::move(payloads), client, r.below(coordinators_.size()));
  }
  plannedSubmits_ = std::move(later);
}

void Simulator::injectFaults() {
  if (!faultsOn_ || violated()) return;
  const FaultRates& f = cfg_.faults;
  if (f.crashPer10k > 0 && rng_.below(10000) < f.crashPer10k) {
    // Pick a role, then one of its live nodes: coordinators crash as often as acceptors.
    std::vector<std::vector<NodeId>> groups;
    auto live = [&](const std::vector<NodeId>& ids) {
      std::vector<NodeId> up;
      for (NodeId id : ids) {
        auto it = nodes_.find(id);
        if (it != nodes_.end() && it->second.up) up.push_back(id);
      }
      if (!up.empty()) groups.push_back(up);
    };
    live(coordinators_);
    live(participants_);
    if (isPaxos(cfg_.core.protocol)) live(acceptors_);
    if (cfg_.core.protocol == Protocol::PaxosDirect) live(clients_);
    if (!groups.empty()) {
      const auto& g = groups[rng_.below(groups.size())];
      NodeId victim = g[rng_.below(g.size())];
      crash(victim, "random");
      nodes_.at(victim).restartTick = now_ + 1 + rng_.below(f.downTicksMax);
    }
  }
  if (f.partitionPer10k > 0 && partitionSide_.empty() && rng_.below(10000) < f.partitionPer10k) {
    std::vector<NodeId> side;
    for (const auto& [id, n] : nodes_) {
      if (rng_.below(2) == 0) side.push_back(id);
    }
    if (!side.empty() && side.size() < nodes_.size()) {
      ++stats_.partitions;
      partition(side);
      partitionEndTick_ = now_ + 1 + rng_.below(f.partitionTicksMax);
    }
  }
}

// ---- forged messages from non-members (issue 12) ----

void Simulator::buildForgers() {
  if (cfg_.faults.forgedPer10k == 0) return;
  // Enough ids to pose as a full quorum of acceptors on their own.
  int count = 2 * cfg_.core.f + 2;
  for (int i = 1; i <= count; ++i) {
    NodeId id = static_cast<NodeId>(9000 + i);
    forgers_.push_back(id);
    names_.addNode(id, "x" + std::to_string(i));
  }
}

bool Simulator::isForger(NodeId id) const {
  return std::find(forgers_.begin(), forgers_.end(), id) != forgers_.end();
}

void Simulator::injectForged() {
  if (!faultsOn_ || violated() || forgers_.empty()) return;
  Rng& r = forgeRng_;
  if (r.below(10000) >= cfg_.faults.forgedPer10k) return;
  // Mostly transactions that exist (that is where a forged message could do harm), now
  // and then a fresh id (where it could plant state).
  TxnId txn{now_ + 1, 0xf0f0000000000000ULL | r.below(1000)};
  ParticipantList parts = participants_;
  if (!txnOrder_.empty() && r.below(5) != 0) {
    txn = txnOrder_[r.below(txnOrder_.size())];
    if (const TxnFacts* f = checker_.facts(txn)) parts = f->participants;
  }
  for (const Envelope& e : forgeBurst(txn, parts)) {
    ++stats_.forged;
    log("forge", names_.message(e));
    enqueue(e, 1 + r.below(cfg_.faults.delayTicksMax), false);
  }
}

// One burst: every forger sends the same kind of message to every node that could act on
// it. Each kind is something a non-member has no part in (in paxos-direct a client may
// lead ballot 0 and its own ballots > 0, so Prepare and 1a/2a > 0 are not forged there).
std::vector<Envelope> Simulator::forgeBurst(const TxnId& txn, const ParticipantList& parts) {
  Rng& r = forgeRng_;
  const bool direct = cfg_.core.protocol == Protocol::PaxosDirect;
  // In 2PC the acceptor ids are configured but no acceptor runs: nothing to forge to.
  const std::vector<NodeId> acceptors =
      isPaxos(cfg_.core.protocol) ? acceptors_ : std::vector<NodeId>{};
  std::vector<Envelope> out;
  std::vector<NodeId> leaders = coordinators_;
  leaders.insert(leaders.end(), parts.begin(), parts.end());
  if (direct) leaders.insert(leaders.end(), clients_.begin(), clients_.end());
  NodeId p = parts[r.below(parts.size())];
  ParticipantList withGhost = parts;
  withGhost.push_back(forgers_[0]);  // forger ids sort after every member's
  Ballot high{1000 + r.below(1000), forgers_[0]};
  Outcome o = r.below(2) == 0 ? Outcome::Commit : Outcome::Abort;
  auto toAll = [&](const std::vector<NodeId>& to, const Message& m, bool eachForger) {
    size_t n = eachForger ? forgers_.size() : 1;
    for (size_t k = 0; k < n; ++k) {
      for (NodeId d : to) out.push_back(Envelope{forgers_[k], d, m});
    }
  };
  switch (r.below(11)) {
    case 0:
    case 1: {  // a quorum of 2b, every instance Prepared, each from a forger as itself
      std::vector<InstanceVote> votes;
      Ballot b = r.below(2) == 0 ? Ballot::zero() : high;
      for (NodeId i : parts) votes.push_back(InstanceVote{i, b, Vote::Prepared});
      for (NodeId x : forgers_) {
        Phase2b m{txn, x, parts, votes, false, "", std::nullopt};
        for (NodeId d : leaders) out.push_back(Envelope{x, d, m});
      }
      break;
    }
    case 2: {  // 2b and "forgotten" 1b claiming to come from the real acceptors
      std::vector<InstanceVote> votes;
      for (NodeId i : parts) votes.push_back(InstanceVote{i, Ballot::zero(), Vote::Prepared});
      for (size_t k = 0; k < acceptors_.size() && k < forgers_.size(); ++k) {
        Phase2b m{txn, acceptors_[k], parts, votes, false, "", std::nullopt};
        Phase1b f;
        f.txn = txn;
        f.acceptor = acceptors_[k];
        f.forgotten = true;
        f.outcome = o;
        for (NodeId d : leaders) {
          out.push_back(Envelope{forgers_[k], d, m});
          out.push_back(Envelope{forgers_[k], d, f});
        }
      }
      break;
    }
    case 3: {  // "forgotten, outcome o" 1b and 2b from forgers as themselves
      for (NodeId x : forgers_) {
        Phase1b f;
        f.txn = txn;
        f.acceptor = x;
        f.forgotten = true;
        f.outcome = o;
        Phase2b g{txn, x, {}, {}, true, "", o};
        for (NodeId d : leaders) {
          out.push_back(Envelope{x, d, f});
          out.push_back(Envelope{x, d, g});
        }
      }
      break;
    }
    case 4:  // phase 3 from a non-member
      toAll(parts, OutcomeMsg{txn, o}, false);
      break;
    case 5:  // votes and acks for a participant, from someone else
      toAll(coordinators_, VoteMsg{txn, p, Vote::Prepared, "", kNoNode}, false);
      toAll(coordinators_, Ack{txn, p, o}, false);
      toAll(acceptors, Ack{txn, p, o}, false);
      // The same in a batch, behind an entry the forger may send (its own id names it).
      toAll(acceptors, AckBatch{{Ack{txn, forgers_[0], o}, Ack{txn, p, o}}}, false);
      break;
    case 6:  // a non-member asks for acks (Paxos: would pledge an Aborted vote)
      toAll(parts, AckRequest{txn}, false);
      break;
    case 7: {  // a request and a query naming a non-member participant
      std::vector<ParticipantPayload> payloads;
      for (NodeId i : withGhost) payloads.push_back(ParticipantPayload{i, put("k0", "forged")});
      toAll(coordinators_, CommitRequest{TxnId{txn.hi, txn.lo ^ 0xf0f0ULL}, payloads}, false);
      toAll(coordinators_, OutcomeQuery{txn, withGhost}, false);
      break;
    }
    case 8: {  // ballot 0 of an instance that is not in the cluster
      Phase2a m{txn,
                withGhost,
                forgers_[0],
                {InstanceVote{forgers_[0], Ballot::zero(), Vote::Prepared}},
                ""};
      toAll(acceptors, m, false);
      break;
    }
    case 9:  // a non-member leads a ballot > 0 (not in paxos-direct: clients may)
      if (!direct) {
        std::vector<InstanceVote> votes;
        for (NodeId i : parts) votes.push_back(InstanceVote{i, high, Vote::Prepared});
        toAll(acceptors, Phase1a{txn, high, parts}, false);
        toAll(acceptors, Phase2a{txn, parts, forgers_[0], votes, ""}, false);
      }
      break;
    default:  // a non-member prepares (not in paxos-direct: clients may)
      if (!direct) {
        for (NodeId i : parts) {
          out.push_back(
              Envelope{forgers_[0], i, Prepare{txn, put("k0", "forged"), parts, forgers_[0]}});
        }
      }
      break;
  }
  return out;
}

// ---- inspection ----

std::optional<Outcome> Simulator::outcome(const TxnId& txn) const {
  const TxnFacts* f = checker_.facts(txn);
  if (f == nullptr) return std::nullopt;
  return f->outcome;
}

std::optional<TxnStatus> Simulator::clientStatus(const TxnId& txn) const {
  for (NodeId c : clients_) {
    const auto& j = nodes_.at(c).journal;
    auto it = j.find(txn);
    if (it != j.end()) return it->second.final;
  }
  return std::nullopt;
}

std::optional<ParticipantState> Simulator::durableState(NodeId participant,
                                                        const TxnId& txn) const {
  for (const auto& r : nodes_.at(participant).disk.participantTxns) {
    if (r.txn == txn) return r.state;
  }
  return std::nullopt;
}

bool Simulator::decided(const TxnId& txn) const {
  const TxnFacts* f = checker_.facts(txn);
  auto c = clientStatus(txn);
  if (f == nullptr || !c) return false;
  // No outcome anywhere is fine only if the client was told Forgotten (the transaction
  // fell below the low-water marks before it ran) and nobody is left prepared.
  if (!f->outcome && *c != TxnStatus::Forgotten) return false;
  for (NodeId p : f->participants) {
    const SimNode& n = nodes_.at(p);
    auto s = durableState(p, txn);
    if (s && *s == ParticipantState::Prepared) return false;
    if (f->outcome && *f->outcome == Outcome::Commit &&
        std::find(n.applyLog.begin(), n.applyLog.end(), txn) == n.applyLog.end()) {
      return false;
    }
  }
  return true;
}

std::string Simulator::describeTxn(const TxnId& txn) const {
  std::string s = names_.txn(txn);
  auto o = outcome(txn);
  s += std::string(" outcome=") + (o ? toString(*o) : "none");
  auto c = clientStatus(txn);
  s += std::string(" client=") + (c ? toString(*c) : "waiting");
  if (const TxnFacts* f = checker_.facts(txn)) {
    for (NodeId p : f->participants) {
      auto st = durableState(p, txn);
      s += " " + names_.node(p) + ":" + (st ? toString(*st) : "-");
      if (!nodes_.at(p).up) s += "(down)";
    }
  }
  return s;
}

void Simulator::updateDecided() {
  for (const TxnId& t : txnOrder_) {
    if (decidedTick_.count(t) != 0 || !decided(t)) continue;
    decidedTick_[t] = now_;
    const TxnFacts* f = checker_.facts(t);
    stats_.maxDecideTicks = std::max(stats_.maxDecideTicks, now_ - f->submitTick);
    if (healTick_ != 0) {
      stats_.maxDecideAfterHeal =
          std::max(stats_.maxDecideAfterHeal, now_ - std::max(healTick_, f->submitTick));
      stats_.maxDecideSeed = cfg_.seed;
    }
  }
}

// ---- the random run ----

bool Simulator::runRandom() {
  for (int i = 0; i < cfg_.txns; ++i) {
    uint64_t tick = 1 + workloadRng_.below(std::max<uint64_t>(cfg_.safetyTicks * 3 / 4, 1));
    plannedSubmits_.push_back({tick, workloadRng_.below(clients_.size())});
  }
  std::sort(plannedSubmits_.begin(), plannedSubmits_.end());
  // Safety phase: faults on.
  while (now_ < cfg_.safetyTicks && !violated() && steps_ < cfg_.stepsMax) step();
  // Liveness phase: faults stop, everything restarts; every transaction must finish.
  if (!violated()) {
    healAll();
    bool quiet = false;
    while (!violated() && !quiet) {
      if (now_ - healTick_ > cfg_.livenessTicksMax || steps_ >= cfg_.stepsMax) {
        std::string open;
        for (const TxnId& t : txnOrder_) {
          if (!decided(t)) open += "; " + describeTxn(t);
        }
        checker_.fail("liveness: not every transaction decided within " +
                      std::to_string(cfg_.livenessTicksMax) + " ticks after healing" + open);
        break;
      }
      step();
      quiet = network_.empty();
      for (const auto& [id, n] : nodes_) quiet = quiet && n.storageIdle();
      for (const TxnId& t : txnOrder_) quiet = quiet && decided(t);
    }
  }
  if (!violated() && cfg_.gcTailTicks > 0) runTicks(cfg_.gcTailTicks);
  if (!violated()) {
    // The tail may have delivered late messages: let them settle before the data check.
    runUntilQuiescent(cfg_.livenessTicksMax);
  }
  if (!violated()) finalCheck();
  for (const TxnId& t : txnOrder_) {
    auto o = outcome(t);
    if (!decided(t)) {
      ++stats_.undecided;
    } else if (!o) {
      ++stats_.forgotten;
    } else if (*o == Outcome::Commit) {
      ++stats_.committed;
    } else {
      ++stats_.aborted;
    }
  }
  stats_.checks = checker_.checksRun();
  log("end", violated() ? "VIOLATION " + violation() : "ok");
  return !violated();
}

void Simulator::finalCheck() {
  for (const TxnId& t : txnOrder_) {
    if (!decided(t)) {
      checker_.fail("final check: " + describeTxn(t) + " is not decided");
      return;
    }
  }
  checker_.finalCheck(nodes_);
}

std::string failureReport(const Simulator& sim, const std::string& replayCommand) {
  std::ostringstream os;
  os << "VIOLATION seed=" << sim.config().seed << " mode=" << toString(sim.protocol()) << "\n  "
     << sim.violation() << "\n--- last " << sim.trace().tail().size() << " trace lines ---\n";
  for (const auto& l : sim.trace().tail()) os << "  " << l << "\n";
  os << "--- replay: " << replayCommand << "\n";
  return os.str();
}

}  // namespace pc::sim
