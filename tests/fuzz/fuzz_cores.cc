// Fuzz target: message sequences fed to the protocol cores (paxos_commit/): an Acceptor, a
// Participant (over the built-in KV engine), a PaxosCoordinator (which hosts the Leader) or
// a TwoPcCoordinator or ReplicatedCoordinator (2pc-replicated), driven as the runtime drives them:
// deliver a message or tick, make the Output's records durable (applyRecord on a simulated disk),
// and on a "crash" rebuild the node from that disk alone. The script format is core_script.h.
// Checks after every step: checkInvariants() (PC_ASSERT aborts, libFuzzer keeps the
// input), no crash or sanitizer report on any message a peer could send, every message
// sent comes from the node itself, and a restart from the disk passes checkInvariants too.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core_script.h"
#include "paxos_commit/acceptor.h"
#include "paxos_commit/assert.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/participant.h"
#include "paxos_commit/paxos_coordinator.h"
#include "paxos_commit/records.h"
#include "paxos_commit/replicated_coordinator.h"
#include "paxos_commit/two_pc_coordinator.h"

namespace {

using namespace pc;
using namespace pc::fuzz;

// The unit tests' cluster (F = 1), with short timers so scripts reach every timeout.
CoreConfig makeConfig(const Setup& s) {
  CoreConfig c;
  c.protocol = s.protocol;
  c.fanOut = s.fanOut;
  c.f = 1;
  c.acceptors = {kA1, kA2, kA3};
  c.coordinators = {kCoord, kCoord2};
  // kStranger stays outside: scripts naming it exercise the membership checks.
  c.participants = {kP1, kP2, kP3};
  c.recoveryTimeoutTicks = 8;
  c.recoveryJitterTicks = 4;
  c.prepareRetryTicks = 4;
  c.leaderTimeoutTicks = 12;
  c.ballotRetryTicks = 6;
  c.bundleCapTicks = 2;
  c.fanOutFallbackTicks = 3;
  c.ackRequestTicks = 20;
  // Small caps, so garbage collection and low-water marks happen within a script.
  c.tombstoneCap = 2;
  c.finishedCap = 2;
  c.outcomeCacheCap = 2;
  c.maxActiveTxns = 3;
  return c;
}

class Runner {
 public:
  explicit Runner(const Setup& s) : setup_(s), cfg_(makeConfig(s)) {
    // The runtime hosts each role only with a protocol it serves.
    if (setup_.role == CoreRole::TwoPc && cfg_.protocol != Protocol::TwoPCReplicated) {
      cfg_.protocol = Protocol::TwoPC;
    }
    if (setup_.role == CoreRole::Acceptor && !isPaxos(cfg_.protocol)) {
      cfg_.protocol = Protocol::Paxos;
    }
    if (setup_.role == CoreRole::PaxosCoordinator &&
        (!isPaxos(cfg_.protocol) || cfg_.protocol == Protocol::TwoPCReplicated)) {
      cfg_.protocol = Protocol::Paxos;
    }
    start();
  }

  void step(const Step& s) {
    switch (s.kind) {
      case Step::Tick:
        for (uint64_t i = 0; i < s.ticks; ++i) apply(node_->onTick());
        break;
      case Step::Restart:
        start();
        break;
      case Step::Deliver: {
        Envelope e = s.env;
        e.to = node_->id();
        apply(node_->onMessage(e));
        break;
      }
    }
  }

 private:
  void start() {
    node_.reset();  // before the engine it may refer to
    switch (setup_.role) {
      case CoreRole::Acceptor:
        node_ = std::make_unique<Acceptor>(kA1, cfg_, disk_);
        break;
      case CoreRole::Participant:
        // A crash loses the engine's memory too (locks, overlay); the core restores locks
        // of prepared transactions from the disk.
        engine_ = std::make_unique<kv::KvEngine>([this](const std::string& key) {
          auto it = data_.find(key);
          return it == data_.end() ? kv::Versioned{} : it->second;
        });
        node_ = std::make_unique<Participant>(kP1, cfg_, *engine_, /*seed=*/1, disk_);
        break;
      case CoreRole::PaxosCoordinator:
        node_ = std::make_unique<PaxosCoordinator>(kCoord, cfg_, /*seed=*/1, disk_);
        break;
      case CoreRole::TwoPc:
        if (cfg_.protocol == Protocol::TwoPCReplicated) {
          node_ = std::make_unique<ReplicatedCoordinator>(kCoord, cfg_, /*seed=*/1, disk_);
        } else {
          node_ = std::make_unique<TwoPcCoordinator>(kCoord, cfg_, disk_);
        }
        break;
    }
    node_->checkInvariants();
  }

  // The runtime's contract (output.h): records durable first, then the sends.
  void apply(const Output& out) {
    for (const auto& r : out.persist) {
      applyRecord(disk_, r);
      // A durable Committed record is where the participant's writes become data.
      if (const auto* p = std::get_if<ParticipantTxnRecord>(&r)) {
        if (p->state == ParticipantState::Committed) {
          if (auto ops = kv::decodeOps(p->payload)) kv::applyOps(data_, *ops);
        }
      }
    }
    for (const auto& e : out.send) {
      PC_ASSERT(e.from == node_->id(), e);
      PC_ASSERT(e.to != kNoNode, e);
    }
    node_->checkInvariants();
  }

  Setup setup_;
  CoreConfig cfg_;
  Recovered disk_;
  std::map<std::string, kv::Versioned> data_;
  std::unique_ptr<kv::KvEngine> engine_;
  std::unique_ptr<Node> node_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ScriptReader r(data, size);
  Runner runner(setupOf(r.byte()));
  Step s;
  for (size_t n = 0; n < kMaxSteps && readStep(r, s); ++n) runner.step(s);
  return 0;
}
