// pc::Client: what an application links to commit transactions atomically across shards.
//
//   pc::BlockingClient client("/path/cluster.conf");       // or pc::clusterFromAddresses(...)
//   auto a = client.get("alice");                           // value + version
//   auto r = client.begin().expect("alice", a.version).put("alice", "90").commit();
//   if (r.committed()) ...; else if (r.aborted()) ... r.reason; else /* unknown */ ...
//
// Asynchronous flavour (Client) on KJ promises: many transactions in flight from one thread,
// on the caller's event loop. Blocking flavour (BlockingClient): owns its own loop and waits
// on the same promises. Neither is thread-safe: use one from one thread.
//
// Results are values, never exceptions: Committed, Aborted{reason} or Unknown{reason}.
// Unknown means the outcome was not learned in time, not that the transaction failed.
//
// Transaction ids are chosen here (client clock in the high half, random low half), so a
// retry after `Unknown` -- with the same id -- is safe and idempotent: the coordinators,
// participants and acceptors all recognise the id and answer the same way. Committing a
// transaction object again, or calling commit(txn, ops) with the id of the Unknown result,
// is that retry; outcome(txn) asks without retrying. Never reuse an id for other ops.
//
// Modes (ClientOptions::mode): through a coordinator (2pc, paxos-classic, paxos: the
// coordinator leads; on no answer the same id goes to the next coordinator, except under
// 2PC where a transaction belongs to the coordinator that prepared it), or direct, where
// this client is the initial leader itself: it sends prepare to the participants and learns
// the outcome from the acceptors' phase 2b (3 message delays, no coordinator). A client
// leader persists nothing: its id is random per process, so its ballots are new; if it dies
// the participants' recovery leaders finish the transaction.
//
// Keys are routed to participants by FNV-1a 64 of the key modulo the number of
// participants, over the participants of the cluster sorted by id -- unless the caller
// names the participant (then every client must name the same one for that key).
//
// Errors: a cluster file or address list that cannot be used throws runtime::ConfigError
// (its message names the problem), as does a mode the cluster cannot serve. KJ exceptions
// from get() / status() mean the node did not answer.
#pragma once

#include <kj/async-io.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/types.h"
#include "runtime/cluster_config.h"

namespace pc {

// Who leads a client's transactions.
enum class ClientMode : uint8_t {
  Auto = 0,         // Direct if the cluster's protocol is paxos-direct, else Coordinator
  Coordinator = 1,  // a coordinator of the cluster leads (needs one; any protocol)
  Direct = 2,       // this client leads ballot 0 itself (Paxos protocols only)
};
const char* toString(ClientMode m);  // auto | coordinator | direct
std::optional<ClientMode> parseClientMode(std::string_view s);

struct ClientOptions {
  ClientMode mode = ClientMode::Auto;
  std::string coordinator;          // preferred coordinator name (c1...); empty: the first
  uint32_t timeoutMs = 10000;       // a commit without an outcome by then: Unknown
  uint32_t retryMs = 2000;          // no answer by then: retry (same id) at the next coordinator
  bool commitFailover = true;       // false: a commit stays with its first coordinator
  uint32_t queryTimeoutMs = 10000;  // outcome queries (they move on to the next coordinator)
  // paxos-direct: a commit waits up to this long for F+1 acceptors to hold this client's
  // sink (their 2b come to it), then sends anyway. Sent earlier, a vote can reach an
  // acceptor before the sink, the 2b is lost, and the outcome comes back only by recovery
  // and without an abort's reason. With F+1 acceptors down the commit then waits in doubt,
  // safely, as one from a client that attached before they went down.
  uint32_t attachWaitMs = 250;
};

// The result of a commit. `reason` says why Aborted (e.g. "expect failed: key 'alice' is
// at version 2, expected 1", a lock conflict) or why Unknown (no answer in time).
struct CommitResult {
  TxnId txn;
  TxnStatus status = TxnStatus::Unknown;
  std::string reason;
  bool committed() const { return status == TxnStatus::Committed; }
  bool aborted() const { return status == TxnStatus::Aborted; }
  bool unknown() const { return !committed() && !aborted(); }
};

// The cluster a client talks to, from its cluster file (the one `pcommit cluster start`
// writes; see runtime/cluster_config.h), or from a list of nodes "NAME=HOST:PORT" or
// "NAME=unix:PATH" (PATH as given, relative to the current directory) --
// c<N> coordinators, p<N> participants, a<N> acceptors, as in the cluster file -- and the
// protocol the nodes run. F is the number of acceptors less one, halved (2F+1 acceptors).
// Throws runtime::ConfigError naming the bad entry.
runtime::ClusterConfig clusterFromFile(const std::string& path);
runtime::ClusterConfig clusterFromAddresses(const std::vector<std::string>& nodes,
                                            Protocol protocol = Protocol::Paxos);

class Client;

// The operations of one transaction, grouped by participant, and its id (fixed when the
// transaction begins). put/del/expect append; a participant argument overrides the routing
// of that key. Copyable; the base of Transaction and AsyncTransaction.
template <class Self>
class TransactionOps {
 public:
  Self& put(const std::string& key, const std::string& value, NodeId participant = kNoNode) {
    return add(kv::Op{kv::OpKind::Put, key, value, 0}, participant);
  }
  Self& del(const std::string& key, NodeId participant = kNoNode) {
    return add(kv::Op{kv::OpKind::Del, key, "", 0}, participant);
  }
  // Commit only if `key` is at `version` when its participant prepares (0: never written).
  Self& expect(const std::string& key, uint64_t version, NodeId participant = kNoNode) {
    return add(kv::Op{kv::OpKind::Expect, key, "", version}, participant);
  }
  const TxnId& id() const { return txn_; }
  const std::map<NodeId, std::vector<kv::Op>>& ops() const { return ops_; }

 protected:
  TransactionOps(const Client& client, TxnId txn) : router_(&client), txn_(txn) {}
  Self& add(kv::Op op, NodeId participant);

  const Client* router_;
  TxnId txn_;
  std::map<NodeId, std::vector<kv::Op>> ops_;
};

// A transaction on the asynchronous client. commit() sends it; the object may be destroyed
// once commit() returned (the promise does not refer to it). commit() again with no change
// retries the same id (after Unknown).
class AsyncTransaction : public TransactionOps<AsyncTransaction> {
 public:
  kj::Promise<CommitResult> commit();

 private:
  friend class Client;
  AsyncTransaction(Client& c, TxnId txn) : TransactionOps(c, txn), client_(&c) {}
  Client* client_;
};

class Client {
 public:
  // Connects lazily (the first message to a node opens its connection; lost connections
  // are re-opened with back-off). Throws runtime::ConfigError if options.mode cannot be
  // served by `cluster` (Direct under 2PC, Coordinator without a coordinator), or if the
  // cluster's TLS files (tls-ca, tls-cert, tls-key, tls-admin-*) cannot be used: with
  // tls-ca set, every connection is mutual TLS with them (rpc/tls.h).
  Client(kj::AsyncIoContext& io, runtime::ClusterConfig cluster, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A new transaction with a fresh id.
  AsyncTransaction begin();
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
    NodeId leader = kNoNode;  // the leader it last heard of; kNoNode if none
    bool recovering = false;  // its own recovery leader is running
  };
  struct NodeStatus {
    std::string name;
    std::string role;
    uint32_t pid = 0;
    std::vector<InDoubtTxn> inDoubt;           // participants only
    std::map<std::string, uint64_t> counters;  // messages, synced commits, ...
    NodeId nodeId = kNoNode;
    std::string protocol;
    uint64_t uptimeMs = 0;
    std::string version;  // the node's build (`pcommit --version`); empty from older nodes
  };
  kj::Promise<NodeStatus> status(NodeId node);

  const runtime::ClusterConfig& cluster() const { return cluster_; }
  NodeId id() const { return self_; }
  // The mode this client runs in (Auto resolved).
  ClientMode mode() const;

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

// A transaction on the blocking client. commit() again with no change retries the same id
// (after Unknown).
class BlockingClient;
class Transaction : public TransactionOps<Transaction> {
 public:
  CommitResult commit();

 private:
  friend class BlockingClient;
  Transaction(BlockingClient& c, TxnId txn);
  BlockingClient* client_;
};

// The blocking flavour: owns an event loop; call from one thread.
class BlockingClient {
 public:
  explicit BlockingClient(const std::string& clusterFile, ClientOptions options = {});
  BlockingClient(runtime::ClusterConfig cluster, ClientOptions options = {});
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  Transaction begin();
  CommitResult commit(TxnId txn, const std::map<NodeId, std::vector<kv::Op>>& ops);
  kv::Versioned get(const std::string& key, NodeId participant = kNoNode);
  TxnStatus outcome(TxnId txn);
  Client::NodeStatus status(NodeId node);
  Client& async() { return *client_; }
  const runtime::ClusterConfig& cluster() const { return client_->cluster(); }
  // The event loop commits and reads wait on (for callers mixing in their own promises).
  kj::AsyncIoContext& io() { return io_; }

 private:
  kj::AsyncIoContext io_;
  std::unique_ptr<Client> client_;
};

template <class Self>
Self& TransactionOps<Self>::add(kv::Op op, NodeId participant) {
  if (participant == kNoNode) participant = router_->participantFor(op.key);
  ops_[participant].push_back(std::move(op));
  return static_cast<Self&>(*this);
}

}  // namespace pc
