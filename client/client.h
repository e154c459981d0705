// pc::Client: what an application links to commit transactions atomically across shards.
//
// Asynchronous flavour on KJ promises (many transactions in flight from one thread, on the
// caller's event loop) and a blocking flavour (BlockingClient) that owns its own loop.
//
// Transaction ids are chosen here (client clock in the high half, random low half), so a
// retry after `Unknown` -- with the same id -- is safe and idempotent: the coordinators,
// participants and acceptors all recognise the id and answer the same way.
//
// Modes: through a coordinator (2pc, paxos-classic, paxos: the coordinator leads), or
// paxos-direct, where this client is the initial leader itself: it sends prepare to the
// participants and learns the outcome from the acceptors' phase 2b (3 message delays).
// A client leader persists nothing: its id is random per process, so its ballots are new.
//
// Keys are routed to participants by FNV-1a 64 of the key modulo the number of
// participants, over the participants of the cluster file sorted by id -- unless the
// caller names the participant.
#pragma once

#include <kj/async-io.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc {

struct ClientOptions {
  std::string coordinator;          // preferred coordinator name (c1...); empty: the first
  uint32_t timeoutMs = 10000;       // a commit or query without an answer by then: Unknown
  uint32_t retryMs = 2000;          // no answer by then: retry (same id) at the next coordinator
  bool commitFailover = true;       // false: a commit stays with its first coordinator
  uint32_t queryTimeoutMs = 10000;  // outcome queries (they move on to the next coordinator)
};

struct CommitResult {
  TxnId txn;
  TxnStatus status = TxnStatus::Unknown;
  std::string reason;  // why aborted / why unknown
};

class Client {
 public:
  Client(kj::AsyncIoContext& io, runtime::ClusterConfig cluster, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  TxnId newTxnId();
  // The participant that owns `key` by the stable hash above.
  NodeId participantFor(const std::string& key) const;
  // Commits ops (grouped per participant) atomically. Never throws for an expected result:
  // Committed, Aborted{reason} or Unknown{reason}.
  kj::Promise<CommitResult> commit(TxnId txn, const std::map<NodeId, std::vector<kv::Op>>& ops);
  // Committed data of `key` at its participant (or at `participant` if given).
  kj::Promise<kv::Versioned> get(const std::string& key, NodeId participant = kNoNode);
  // What became of `txn`: Committed, Aborted, Unknown (not decided or no answer) or
  // Forgotten (collected long ago).
  kj::Promise<TxnStatus> outcome(TxnId txn);

  // A node's health as it reports it (pcommit cluster status uses the same call).
  struct InDoubtTxn {
    TxnId txn;
    uint64_t ageMs = 0;
    std::string waitingFor;
  };
  struct NodeStatus {
    std::string name;
    std::string role;
    uint32_t pid = 0;
    std::vector<InDoubtTxn> inDoubt;           // participants only
    std::map<std::string, uint64_t> counters;  // messages, synced commits, ...
  };
  kj::Promise<NodeStatus> status(NodeId node);

  const runtime::ClusterConfig& cluster() const { return cluster_; }
  NodeId id() const { return self_; }

  // This client's own transport counters, named as a node's status counters are:
  // messages_sent, messages_received, rpc_calls_sent, sent_<Kind> per message kind (logical
  // messages; status and get calls are not messages). For benchmarks.
  std::map<std::string, uint64_t> transportCounters() const;

 private:
  struct Impl;
  runtime::ClusterConfig cluster_;
  NodeId self_;
  std::unique_ptr<Impl> impl_;
};

// A transaction being built. Commit once.
class BlockingClient;
class Transaction {
 public:
  Transaction& put(const std::string& key, const std::string& value, NodeId participant = kNoNode);
  Transaction& del(const std::string& key, NodeId participant = kNoNode);
  Transaction& expect(const std::string& key, uint64_t version, NodeId participant = kNoNode);
  CommitResult commit();
  const TxnId& id() const { return txn_; }
  const std::map<NodeId, std::vector<kv::Op>>& ops() const { return ops_; }

 private:
  friend class BlockingClient;
  Transaction(BlockingClient& c, TxnId txn) : client_(c), txn_(txn) {}
  void add(kv::Op op, NodeId participant);
  BlockingClient& client_;
  TxnId txn_;
  std::map<NodeId, std::vector<kv::Op>> ops_;
};

// The blocking flavour: owns an event loop; call from one thread.
class BlockingClient {
 public:
  explicit BlockingClient(const std::string& clusterFile, ClientOptions options = {});
  BlockingClient(runtime::ClusterConfig cluster, ClientOptions options = {});
  ~BlockingClient();
  Transaction begin();
  CommitResult commit(TxnId txn, const std::map<NodeId, std::vector<kv::Op>>& ops);
  kv::Versioned get(const std::string& key, NodeId participant = kNoNode);
  TxnStatus outcome(TxnId txn);
  Client::NodeStatus status(NodeId node);
  Client& async() { return *client_; }

 private:
  kj::AsyncIoContext io_;
  std::unique_ptr<Client> client_;
};

}  // namespace pc
