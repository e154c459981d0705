// What the simulator keeps per simulated process: the role object (the real core), its
// durable "disk" (a Recovered image updated with applyRecord, the reference semantics of
// every record), the storage pipeline (paxos_commit/pipeline.h: batches not yet durable,
// and the sends that wait for them, FIFO), and for participants the durable KV data and the
// KvEngine over it. Also the simulated client, which is not a core Node: it sends
// CommitRequests (and retries), or in `paxos-direct` hosts a Leader itself.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "paxos_commit/acceptor.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/leader.h"
#include "paxos_commit/participant.h"
#include "paxos_commit/paxos_coordinator.h"
#include "paxos_commit/pipeline.h"
#include "paxos_commit/replicated_coordinator.h"
#include "paxos_commit/two_pc_coordinator.h"

namespace pc::sim {

enum class Role : uint8_t { Coordinator = 1, Participant = 2, Acceptor = 3, Client = 4 };
const char* toString(Role r);

// One transaction as its application sees it. Survives a client crash (the application
// logged its intent): a restarted client asks for the outcomes it is still missing.
struct ClientTxn {
  CommitRequest request;
  uint64_t submitTick = 0;
  size_t coordinatorIndex = 0;  // where the last attempt went
  uint64_t retryTick = 0;
  uint32_t attempts = 0;
  std::optional<TxnStatus> final;  // Committed / Aborted / Forgotten
  uint64_t finalTick = 0;
};
using ClientJournal = std::map<TxnId, ClientTxn>;

class SimClient {
 public:
  // `cfg` is copied (a Leader keeps a reference to it). `disk` gives the persisted leader
  // round (paxos-direct only). A client built over a non-empty journal is a restart.
  SimClient(NodeId self, const CoreConfig& cfg, uint64_t seed, uint64_t retryTicks,
            const Recovered& disk, ClientJournal& journal, uint64_t now);

  Output submit(const CommitRequest& req, size_t coordinatorIndex, uint64_t now);
  Output onMessage(const Envelope& e, uint64_t now);
  Output onTick(uint64_t now);
  void checkInvariants() const;
  const Leader* leader() const { return leader_.get(); }
  bool direct() const { return direct_; }

 private:
  Output attempt(ClientTxn& t, uint64_t now);
  void settle(const TxnId& txn, TxnStatus s, uint64_t now);
  Output absorb(Output&& out, uint64_t now);

  NodeId self_;
  CoreConfig cfg_;
  Rng rng_;
  uint64_t retryTicks_;
  ClientJournal& journal_;
  bool direct_;
  std::unique_ptr<Leader> leader_;  // paxos-direct only
};

// A batch of records handed to the simulated disk: durable at readyTick (FIFO per node).
struct DiskWrite {
  Seq seq = 0;
  std::vector<Record> records;
  uint64_t readyTick = 0;
};

struct SimNode {
  NodeId id = kNoNode;
  Role role = Role::Participant;
  std::string name;
  bool up = true;
  uint32_t incarnation = 0;
  uint64_t restartTick = 0;  // random faults: when to come back (0 = not scheduled)

  Recovered disk;  // durable: survives crashes
  // Volatile, lost on crash: the node's durable-before-send pipeline (the same class the
  // real node host drives) and the batches it handed to the disk, not yet durable.
  Pipeline pipeline;
  std::deque<DiskWrite> writes;
  bool crashAfterNextPersist = false;  // scripted "persisted, not yet sent"
  // The wake-ups the role has asked for (Output::wakeAtTick) and that have not come yet, as
  // a tick-on-demand host would keep them. Volatile: {1} after a start, so the first tick
  // may act. A tick that sends when none is due is a timer the role did not announce
  // (Simulator::checkWake).
  std::set<uint64_t> wakes{1};

  // The role, while up (exactly one of these, by role).
  std::unique_ptr<PaxosCoordinator> paxosCoordinator;
  std::unique_ptr<TwoPcCoordinator> twoPcCoordinator;
  std::unique_ptr<ReplicatedCoordinator> replicatedCoordinator;
  std::unique_ptr<Participant> participant;
  std::unique_ptr<Acceptor> acceptor;
  std::unique_ptr<SimClient> client;

  // Participant: durable KV data, the engine over it (volatile), the order in which
  // committed payloads reached the durable data.
  std::map<std::string, kv::Versioned> data;
  std::unique_ptr<kv::KvEngine> engine;
  std::vector<TxnId> applyLog;

  ClientJournal journal;  // client

  Node* node() const;  // the core role as a Node (nullptr for clients and while down)
  // Nothing waits for the disk and nothing waits to be sent.
  bool storageIdle() const { return pipeline.idle() && writes.empty(); }
};

}  // namespace pc::sim
