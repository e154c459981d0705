// The deterministic simulator (TigerBeetle VOPR / FoundationDB sim2 style): one thread,
// logical ticks, one seed. It runs the real protocol core (paxos_commit/) for every role:
// coordinators, participants (over the KV engine), acceptors, and simulated clients; it
// owns the network (seeded delay, reorder, drop, duplicate, partitions), each node's disk
// (a Recovered image; each node runs the real durable-before-send pipeline,
// paxos_commit/pipeline.h: a write completes some ticks later, background records wait
// for an urgent write or the next tick, sends wait for their batch, FIFO per node) and
// crashes (volatile state lost, durable records kept, including "persisted, not
// yet sent" and "crashed halfway through its sends"). The Checker runs after every step.
//
// Two ways to drive it:
//   * runRandom(): a random workload under faults (the safety phase), then a healed
//     liveness phase in which every transaction must be decided within a bound.
//   * the scripting API (scenario tests): submit, step, crash/restart, hold/drop/duplicate
//     specific messages, run until a condition or until quiescent.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "paxos_commit/config.h"
#include "tests/sim/checker.h"
#include "tests/sim/host.h"
#include "tests/sim/trace.h"

namespace pc::sim {

// Fault rates, all picked by the seed (a rate of 0 turns that fault off).
struct FaultRates {
  uint32_t dropPerMille = 0;
  uint32_t duplicatePerMille = 0;
  uint32_t latePerMille = 0;   // a message delayed by up to lateTicksMax
  uint64_t delayTicksMax = 1;  // normal delivery delay: uniform in [1, max]
  uint64_t lateTicksMax = 0;
  uint64_t diskTicksMax = 0;               // persist latency: uniform in [0, max]
  uint32_t crashPer10k = 0;                // per tick: some node crashes
  uint64_t downTicksMax = 0;               // a crashed node returns after [1, max] ticks
  uint32_t crashAfterPersistPerMille = 0;  // per durable write: crash before its sends
  uint32_t crashMidSendPerMille = 0;       // per output with sends: crash halfway through
  uint32_t partitionPer10k = 0;            // per tick: a random group is cut off
  uint64_t partitionTicksMax = 0;
  // Per tick: a burst of forged messages from ids that are not in the cluster (issue 12):
  // 2b/1b/Forgotten claiming a quorum, outcomes, votes, acks, prepares, 1a/2a at their own
  // ballots, requests and queries naming non-members. Nodes must refuse every one.
  uint32_t forgedPer10k = 0;
};

struct SimConfig {
  uint64_t seed = 1;
  CoreConfig core;  // protocol, fan-out, F, timeouts; node lists are filled in by Simulator
  int participants = 3;
  int coordinators = 1;
  int clients = 1;
  FaultRates faults;
  uint64_t clientRetryTicks = 120;
  // Random workload (runRandom only).
  int txns = 0;
  int hotKeys = 2;
  uint64_t safetyTicks = 400;
  uint64_t livenessTicksMax = 3000;  // after healing, every transaction decided within this
  uint64_t gcTailTicks = 0;          // extra healed ticks after everything is decided
  uint64_t stepsMax = 2000000;       // a hard bound on steps per run
};

// Everything the seed decides for a random run of `protocol`. Optional overrides (< 0:
// the seed picks).
struct Overrides {
  int participants = -1;
  int f = -1;
  int fanOut = -1;    // 1 all, 2 quorum
  int tinyCaps = -1;  // 1: tiny GC caps (low-water marks move all the time), 0: default caps
  int forged = -1;    // 1: forged messages from non-members in every seed, 0: never
};
SimConfig randomConfig(Protocol protocol, uint64_t seed, const Overrides& o);

struct Stats {
  uint64_t txns = 0;
  uint64_t committed = 0;
  uint64_t aborted = 0;
  uint64_t undecided = 0;
  uint64_t forgotten = 0;  // never ran anywhere; the client was told Forgotten
  uint64_t messagesSent = 0;
  uint64_t messagesDelivered = 0;
  uint64_t dropped = 0;  // by the network (random drop, partition, dead destination)
  uint64_t duplicated = 0;
  uint64_t late = 0;
  uint64_t partitions = 0;
  std::map<Role, uint64_t> crashes;
  uint64_t crashesAfterPersist = 0;
  uint64_t crashesMidSend = 0;
  uint64_t recoveries = 0;  // recovery leaders that began phase 1
  uint64_t forged = 0;      // forged messages injected from non-member ids
  uint64_t persists = 0;
  uint64_t maxDecideTicks = 0;      // submit -> decided, over all transactions
  uint64_t maxDecideAfterHeal = 0;  // heal -> decided, for those open at the heal
  uint64_t maxDecideSeed = 0;       // the seed of maxDecideAfterHeal
  uint64_t ticks = 0;
  uint64_t checks = 0;
  void add(const Stats& o);
};

// Scripted control of one message as it leaves its sender.
enum class Fate { Random, Deliver, Drop, Hold, Duplicate };

class Simulator {
 public:
  explicit Simulator(const SimConfig& cfg);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // ---- cluster ----
  const SimConfig& config() const { return cfg_; }
  Protocol protocol() const { return cfg_.core.protocol; }
  const std::vector<NodeId>& coordinatorIds() const { return coordinators_; }
  const std::vector<NodeId>& participantIds() const { return participants_; }
  const std::vector<NodeId>& acceptorIds() const { return acceptors_; }
  const std::vector<NodeId>& clientIds() const { return clients_; }
  const Names& names() const { return names_; }
  const SimNode& node(NodeId id) const { return nodes_.at(id); }
  uint64_t now() const { return now_; }

  // ---- scripting ----
  // Builds a payload: ops on keys of one participant.
  static Bytes put(const std::string& key, const std::string& value);
  // Submits a transaction from client `clientIndex` to coordinator `coordinatorIndex`
  // (or, in paxos-direct, to its own leader). Empty payloads = a put on every participant.
  TxnId submit(std::vector<ParticipantPayload> payloads = {}, size_t clientIndex = 0,
               size_t coordinatorIndex = 0);
  void step();  // one tick: disk completions, deliveries, node ticks, faults
  void runTicks(uint64_t n);
  // Runs until `done()` holds (checked after every tick) or maxTicks pass or a violation.
  bool runUntil(const std::function<bool()>& done, uint64_t maxTicks);
  bool runUntilDecided(const TxnId& txn, uint64_t maxTicks);
  bool runUntilAllDecided(uint64_t maxTicks);
  // Every transaction decided, nothing in flight (held messages aside), disks idle.
  bool runUntilQuiescent(uint64_t maxTicks);

  void crash(NodeId id, const std::string& why = "scripted");
  void restart(NodeId id);
  bool isUp(NodeId id) const { return nodes_.at(id).up; }
  // The node's next durable write completes, then it crashes before any send leaves.
  void crashAfterNextPersist(NodeId id) { nodes_.at(id).crashAfterNextPersist = true; }
  // Messages between `side` and the rest are lost until heal().
  void partition(const std::vector<NodeId>& side);
  void heal();
  // Decides the fate of every message as it leaves its sender (Random: the seeded network).
  void setFilter(std::function<Fate(const Envelope&)> filter) { filter_ = std::move(filter); }
  size_t heldCount() const { return held_.size(); }
  // Held messages matching `pred` are put on the network now (delivered next tick).
  size_t releaseHeld(const std::function<bool(const Envelope&)>& pred);
  size_t dropHeld(const std::function<bool(const Envelope&)>& pred);
  size_t inFlight() const { return network_.size(); }
  // Puts a copy of a message that already left its sender back on the network (a
  // duplicate or very late copy, as the network may make): delivered after `delay` ticks.
  void inject(const Envelope& e, uint64_t delay = 1);
  // Stops random faults, heals partitions, restarts every crashed node.
  void healAll();

  // ---- inspection ----
  // Decided: outcome known, no participant still prepared, every participant applied a
  // Commit, and the client has its answer.
  bool decided(const TxnId& txn) const;
  std::optional<Outcome> outcome(const TxnId& txn) const;
  std::optional<TxnStatus> clientStatus(const TxnId& txn) const;
  std::optional<ParticipantState> durableState(NodeId participant, const TxnId& txn) const;
  const std::vector<TxnId>& txnIds() const { return txnOrder_; }
  const Checker& checker() const { return checker_; }
  Checker& checkerForTest() { return checker_; }  // tests that prove the checker bites
  bool violated() const { return checker_.violated(); }
  const std::string& violation() const { return checker_.violation(); }
  const Stats& stats() const { return stats_; }
  Trace& trace() { return trace_; }
  const Trace& trace() const { return trace_; }
  std::string describeTxn(const TxnId& txn) const;  // where each participant stands

  // ---- random run ----
  // Safety phase with faults, then the healed liveness phase; returns false on violation.
  bool runRandom();
  // The checker's final data checks (called by runRandom at the end).
  void finalCheck();

  // Optional human-readable narration (the demo): called for every trace event.
  void setNarrator(
      std::function<void(uint64_t tick, const std::string& kind, const std::string& text)> n) {
    narrator_ = std::move(n);
  }

 private:
  struct InFlight {
    Envelope env;
    bool late = false;
  };
  void build();
  void startNode(SimNode& n);
  void handleOutput(SimNode& n, Output&& out, const std::set<TxnId>& touchedIn);
  void checkWake(SimNode& n, const Output& tickOut);
  void startWrites(SimNode& n);
  void drainPipeline(SimNode& n);
  void applyDurable(SimNode& n, const Record& r);
  void leave(SimNode& n, const Envelope& e);
  void enqueue(const Envelope& e, uint64_t delay, bool late);
  void deliver(const Envelope& e);
  bool partitioned(NodeId a, NodeId b) const;
  void injectFaults();
  // The forged-message mode (FaultRates::forgedPer10k), kept apart from the driver path.
  void buildForgers();
  void injectForged();
  std::vector<Envelope> forgeBurst(const TxnId& txn, const ParticipantList& parts);
  bool isForger(NodeId id) const;
  void workload();
  void updateDecided();
  void log(const std::string& kind, const std::string& text);
  Bytes randomPayload(NodeId participant);
  uint64_t chance(uint32_t perMille) { return faultsOn_ && rng_.below(1000) < perMille; }

  SimConfig cfg_;
  Rng rng_;          // network and faults
  Rng workloadRng_;  // workload
  Rng forgeRng_;     // forged messages only: the other streams stay as they were
  Names names_;
  Trace trace_;
  Checker checker_;
  Stats stats_;
  uint64_t now_ = 0;
  uint64_t steps_ = 0;
  uint64_t seq_ = 0;
  bool faultsOn_ = true;
  uint64_t healTick_ = 0;

  std::vector<NodeId> coordinators_, participants_, acceptors_, clients_;
  std::vector<NodeId> forgers_;  // ids outside the cluster that forge messages
  std::map<NodeId, SimNode> nodes_;
  std::map<std::pair<uint64_t, uint64_t>, InFlight> network_;  // (deliver tick, seq)
  std::vector<Envelope> held_;
  std::function<Fate(const Envelope&)> filter_;
  std::set<NodeId> partitionSide_;
  uint64_t partitionEndTick_ = 0;

  std::vector<TxnId> txnOrder_;
  std::map<TxnId, uint64_t> decidedTick_;
  std::vector<std::pair<uint64_t, size_t>> plannedSubmits_;  // (tick, client index)
  uint64_t txnSeq_ = 0;
  std::function<void(uint64_t, const std::string&, const std::string&)> narrator_;
};

// A failure report: seed, mode, violation, the trace tail, the replay command.
std::string failureReport(const Simulator& sim, const std::string& replayCommand);

}  // namespace pc::sim
