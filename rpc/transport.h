// Transport: Cap'n Proto over TCP between pcommit processes, on one KJ event loop.
//
// Inbound: serves the `Node` bootstrap interface on a listening address. Every message of a
// deliver() batch is converted and validated at the edge (convert.h); an invalid one is
// dropped and counted, logged once per peer. A peer that sends garbage bytes loses its
// connection (Cap'n Proto fails it); the process keeps serving.
// Outbound: one connection per peer node, opened lazily, reused, reconnected with backoff.
// Messages sent during one event-loop turn to one destination travel in one deliver()
// call (batching); each message is still counted on its own. Messages for a client go
// through the sink capability the client attached. Delivery is at most once: a message in a
// call that fails is lost, and the protocol's retries take over.
//
// Ownership: the Transport belongs to the event-loop thread and must outlive every promise
// it returns. Not thread-safe.
#pragma once

#include <kj/async-io.h>

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "paxos_commit/kv.h"
#include "rpc/convert.h"
#include "rpc/pcommit.capnp.h"

namespace pc::rpc {

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
};

struct TransportOptions {
  NodeId self = kNoNode;
  Limits limits;
  std::map<NodeId, PeerAddress> peers;  // nodes we may connect to
  // Client mode: on every outbound connection, attach our own sink so the peer can send
  // messages back to us (clients do not listen on a port).
  bool attachSinkOnConnect = false;
  uint64_t traversalLimitWords = uint64_t{8} << 20;  // 64 MiB per incoming RPC message
  uint32_t nestingLimit = 16;
  size_t maxQueuedPerPeer = 100000;  // beyond this, the oldest queued messages are dropped
  uint32_t maxInflightCallsPerPeer = 64;
  uint32_t reconnectBackoffMinMs = 20;
  uint32_t reconnectBackoffMaxMs = 1000;
};

// Counters (logical messages, not RPC calls, except where named).
struct TransportMetrics {
  std::array<uint64_t, std::variant_size_v<Message>> sentByKind{};
  std::array<uint64_t, std::variant_size_v<Message>> receivedByKind{};
  uint64_t messagesSent = 0;
  uint64_t messagesReceived = 0;
  uint64_t messagesLocal = 0;  // of messagesSent: handed in-process to a co-hosted node
  uint64_t rpcCallsSent = 0;
  uint64_t rpcCallsReceived = 0;
  uint64_t rejected = 0;       // invalid messages dropped at the edge
  uint64_t droppedQueue = 0;   // dropped because a peer's queue was full
  uint64_t droppedFailed = 0;  // lost in a failed call or with no route
  uint64_t connects = 0;
  uint64_t connectFailures = 0;
  uint64_t disconnects = 0;
};

class Transport : private kj::TaskSet::ErrorHandler {
 public:
  using Handler = std::function<void(NodeId from, Message&& msg)>;
  using StatusFn = std::function<void(wire::NodeStatus::Builder)>;
  // Reads committed data; may wait (a key locked by a prepared transaction is read once
  // that transaction is decided), may fail with a kj::Exception the caller sees.
  using GetFn = std::function<kj::Promise<kv::Versioned>(const std::string& key)>;
  using LogFn = std::function<void(const std::string& line)>;

  Transport(kj::AsyncIoContext& io, TransportOptions options, Handler handler, LogFn log);
  ~Transport();

  void setStatusFn(StatusFn f) { statusFn_ = std::move(f); }
  void setGetFn(GetFn f) { getFn_ = std::move(f); }

  // Binds host:port and serves until the promise is dropped. Throws (kj::Exception) if
  // the address cannot be bound.
  kj::Promise<void> listen(const std::string& host, uint16_t port);

  // Queues `msg` for `to`; sent at the end of this event-loop turn. `onDelivered` (may be
  // null) runs once the receiving process has accepted the call carrying it.
  void send(NodeId to, Message msg, std::function<void()> onDelivered = nullptr);

  // A message its owner delivered in-process to a node hosted on the same event loop
  // (runtime::NodeHost::setLocalPeers): counted as a send (messagesSent, sentByKind, and
  // messagesLocal) on the sender's transport and as a receipt on the receiver's, exactly as
  // one sent over TCP, but no RPC call is made or counted.
  void countLocalSend(const Message& msg);
  void countLocalReceive(const Message& msg);

  // Opens the connection to `peer` now (clients: so a peer that will send to us, like an
  // acceptor in paxos-direct, has our sink before it needs it).
  void connectNow(NodeId peer);

  // Reads committed data from a participant through its `get` method (its own connection).
  kj::Promise<kv::Versioned> get(NodeId participant, const std::string& key);

  // A node's status (its `status` method), through its own connection.
  kj::Promise<capnp::Response<wire::Node::StatusResults>> status(NodeId node);

  const TransportMetrics& metrics() const { return metrics_; }
  bool connected(NodeId peer) const;

 private:
  class NodeImpl;
  class SinkImpl;
  struct Outbound;
  struct Connection;

  Outbound& outbound(NodeId to);
  kj::Promise<void> acceptLoop(kj::ConnectionReceiver& listener);
  template <class Call>
  auto withOwnConnection(NodeId node, Call call)
      -> decltype(call(std::declval<wire::Node::Client>()));
  void scheduleFlush();
  void flushAll();
  void flush(Outbound& o);
  void connect(Outbound& o);
  void onCallFailed(Outbound& o, const kj::Exception& e);
  void receive(NodeId from, capnp::List<wire::Message>::Reader msgs);
  void attachSink(NodeId from, wire::Peer::Client sink, uint64_t connection);
  void logOnce(NodeId from, const std::string& what);

  kj::AsyncIoContext& io_;
  TransportOptions opts_;
  Handler handler_;
  LogFn log_;
  StatusFn statusFn_;
  GetFn getFn_;
  TransportMetrics metrics_;
  std::map<NodeId, std::unique_ptr<Outbound>> out_;
  std::map<NodeId, std::string> loggedBad_;  // peers we already logged a rejection for
  // Inbound connections. Owned here, not by tasks_: they are destroyed after every task
  // is cancelled (an RpcSystem must not die inside a TaskSet's destructor).
  std::map<uint64_t, kj::Own<Connection>> inbound_;
  std::map<uint64_t, std::set<NodeId>> sinksByConnection_;  // clients attached per connection
  uint64_t nextInbound_ = 0;
  bool flushScheduled_ = false;
  std::unique_ptr<kj::TaskSet> tasks_;

  void taskFailed(kj::Exception&& e) override;
};

}  // namespace pc::rpc
