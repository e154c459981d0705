// Transport: Cap'n Proto over TCP between pcommit processes, on one KJ event loop.
//
// Inbound: serves the `Node` bootstrap interface on a listening address. Every message of a
// deliver() batch is converted and validated at the edge (convert.h); an invalid one is
// dropped and counted, logged once per peer. A peer that sends garbage bytes loses its
// connection (Cap'n Proto fails it); the process keeps serving.
// Outbound: one connection per peer node, opened lazily, reused, reconnected with backoff.
// Messages sent during one event-loop turn to one destination travel in one deliver()
// call (batching); each message is still counted on its own. Messages for a client go
// through the sink capability the client attached. Delivery is at most once: a message in
// a call that fails is lost, and the protocol's retries take over.
// Delivery streams (options.streams, the default; rpc/transport_stream.cc): between
// members, a connection carries one-way frames (pcommit.capnp StreamFrame) instead of
// deliver() calls, so a delivery costs one Cap'n Proto message, not a Call, a Return and a
// Finish (three socket writes and three wake-ups). One frame is written at a time per peer;
// what is sent meanwhile waits and leaves in the next frame. An inbound connection is a
// stream if its first 8 bytes are the stream preamble, else Cap'n Proto RPC (get, status
// and resolve always use RPC). A client's stream is its sink as well: its first frame sets
// `sink`, and the node writes that client's messages back on it as frames, checked as
// attach is. Every check below applies to a frame as to a call.
//
// The edge (issue 12): every input from the network is bounded, and none stops the node.
// - Accept errors (EMFILE/ENFILE when descriptors run out, or any other) pause accepting
//   with a back-off (acceptBackoffMinMs doubling to acceptBackoffMaxMs), logged once per
//   burst; established connections keep being served; accepting resumes by itself.
// - At most maxInboundConnections inbound connections; one beyond is closed at once
//   (counted; one log line when refusing starts, one when it stops).
// - An inbound connection that has not made a single call idleTimeoutMs after it was
//   accepted is closed (half-open connections, stalled frames).
// - Every socket has TCP keepalive (keepaliveIdleS/IntervalS/Count): a peer that vanished
//   without a FIN or RST is noticed.
// - An outbound call with no answer for callTimeoutMs fails its connection (counted in
//   callTimeouts): its messages are lost as in any failed call, and the connection is made
//   again while there is something to send (so at most once per callTimeoutMs while the
//   peer stays silent). A connect has the same deadline. `get` and `status` (one-off
//   connections) fail after oneOffTimeoutMs. Deadlines are on the real clock, and a stall
//   must be seen by two watchdog ticks: a loop that was not run (a blocking client between
//   calls) finds its answers unread, not lost. A client's sink has no call deadline: the
//   blocking client runs its loop only inside its calls, so between transactions it is
//   slow, not gone; its queue is bounded and its connection's end (close, keepalive) ends
//   it.
// - Per-peer queues are bounded in messages (maxQueuedPerPeer) and bytes
//   (maxQueuedBytesPerPeer): the oldest are dropped and counted (droppedQueue).
// - Routes to ids that are neither members nor attached clients are not kept; rejection
//   logs remember at most kMaxLoggedSenders ids; a connection attaches at most
//   kMaxSinksPerConnection client sinks.
// - `attach` (a client's sink) is refused for a cluster member's id (self and peers): a
//   client can never replace a member's route. Without TLS, identity is not
//   authenticated: a process that can reach the port can send as any id.
//
// With TLS (options.tls, rpc/tls.h): every connection, in and out, is mutual TLS with the
// cluster's CA; a client checks that the server's certificate names the node it dialled.
// The certificate of an inbound connection decides what it may call (transport_tls.cc):
// - a node's (CN c1, p2, ...): deliver with `from` equal to that node's id, get, status;
// - a client's (CN client, client-*): attach once -- the id it attaches is bound to the
//   connection -- then deliver from that id only CommitRequest, OutcomeQuery and, as the
//   leader of its own transactions (paxos-direct), Prepare naming it as leader, Phase1a of
//   ballot 0 or of its own ballot, and OutcomeMsg; get; never status;
// - an admin's (CN admin): get and status.
// Anything else -- a plaintext peer, a certificate of another CA or naming nobody of this
// cluster, a failed or stalled handshake (idleTimeoutMs), a forbidden call or message --
// is refused, counted (tlsRefused) and logged once per peer (name and address; at most
// kMaxLoggedSenders of them). Handshakes in progress count against maxInboundConnections.
// With TLS off, none of this runs: one branch per call, a pointer test per message.
//
// Ownership: the Transport belongs to the event-loop thread and must outlive every promise
// it returns. Not thread-safe.
#pragma once

#include <capnp/message.h>
#include <kj/async-io.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "paxos_commit/kv.h"
#include "rpc/convert.h"
#include "rpc/delay_line.h"
#include "rpc/pcommit.capnp.h"

namespace pc::rpc {

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
};

class Tls;

// Who an inbound connection is, by its certificate (TLS); Open without TLS.
struct PeerAuth {
  enum class Kind : uint8_t { Open, Node, Client, Admin };
  Kind kind = Kind::Open;
  NodeId node = kNoNode;    // Node: the id its certificate names
  NodeId client = kNoNode;  // Client: the id bound by its attach (kNoNode before)
  std::string peer;         // "c1 at 10.0.0.5", for logs
};

struct TransportOptions {
  NodeId self = kNoNode;
  Limits limits;
  std::map<NodeId, PeerAddress> peers;  // nodes we may connect to
  // Client mode: on every outbound connection, attach our own sink so the peer can send
  // messages back to us (clients do not listen on a port).
  bool attachSinkOnConnect = false;
  // The cluster file's cluster-id (32 hex digits), or empty. Sent in `attach` on every
  // outbound connection (nodes and clients alike); an inbound attach naming another
  // cluster marks that connection foreign: it and every later call on it fail (counted in
  // clusterMismatch). A side without an id checks nothing (files from before the key).
  std::string clusterId;
  uint64_t traversalLimitWords = uint64_t{8} << 20;  // 64 MiB per incoming RPC message
  uint32_t nestingLimit = 16;
  size_t maxQueuedPerPeer = 100000;  // beyond this, the oldest queued messages are dropped
  size_t maxQueuedBytesPerPeer = size_t{256} << 20;  // the same, in bytes (approximate sizes)
  size_t maxBatchBytes = size_t{8} << 20;  // one deliver() call carries at most this (>= 1 msg)
  uint32_t maxInflightCallsPerPeer = 64;
  uint32_t reconnectBackoffMinMs = 20;
  uint32_t reconnectBackoffMaxMs = 1000;
  // The edge (see the top of this file). Defaults match runtime::ClusterConfig's.
  uint32_t maxInboundConnections = 1024;
  uint32_t idleTimeoutMs = 10000;    // inbound connection without a call by then: closed
  uint32_t callTimeoutMs = 5000;     // outbound call (and connect) without an answer: failed
  uint32_t oneOffTimeoutMs = 10000;  // get and status, connect included
  uint32_t acceptBackoffMinMs = 100;
  uint32_t acceptBackoffMaxMs = 1000;
  // Benchmarks only (`net-delay-us`, rpc/delay_line.h): every message sent over the network
  // leaves this many microseconds after send(). 0: none.
  uint32_t netDelayUs = 0;
  // Deliveries over one-way streams (see the top of this file); false: deliver() calls, as
  // before (PCOMMIT_DELIVERY=rpc, for comparisons). In client mode (attachSinkOnConnect)
  // the stream's first frame asks for the client's messages back on the same connection.
  bool streams = true;
  bool keepalive = true;
  int keepaliveIdleS = 10;  // TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: dead after ~25 s
  int keepaliveIntervalS = 5;
  int keepaliveCount = 3;
  // Mutual TLS (see the top of this file); null: plaintext. statusTls (an admin's
  // certificate) is what status() shows; null: tls. selfName: our node name, "" for a client.
  std::shared_ptr<const Tls> tls;
  std::shared_ptr<const Tls> statusTls;
  std::string selfName;
  bool poolOneOff = true;  // TLS: get/status reuse one connection per node (bench: false)
  std::map<NodeId, std::string> names;  // peers' node names (c1...): their certificates'
};

// Counters (logical messages, not RPC calls, except where named).
struct TransportMetrics {
  std::array<uint64_t, std::variant_size_v<Message>> sentByKind{};
  std::array<uint64_t, std::variant_size_v<Message>> receivedByKind{};
  uint64_t messagesSent = 0;
  uint64_t messagesReceived = 0;
  uint64_t messagesLocal = 0;     // of messagesSent: handed in-process to a co-hosted node
  uint64_t rpcCallsSent = 0;      // deliver() calls, or stream frames carrying messages
  uint64_t rpcCallsReceived = 0;  // the same, received
  uint64_t rejected = 0;          // invalid messages dropped at the edge
  uint64_t droppedQueue = 0;      // dropped because a peer's queue was full
  uint64_t droppedFailed = 0;     // lost in a failed call or with no route
  uint64_t connects = 0;
  uint64_t connectFailures = 0;
  uint64_t disconnects = 0;
  // The edge (issue 12).
  uint64_t inboundAccepted = 0;
  uint64_t inboundRefused = 0;     // closed at once: maxInboundConnections reached
  uint64_t inboundIdleClosed = 0;  // closed: no call within idleTimeoutMs
  uint64_t acceptErrors = 0;       // accept() failures (EMFILE, ENFILE, ...), each backed off
  uint64_t callTimeouts = 0;       // outbound calls or connects past callTimeoutMs
  uint64_t attachRefused = 0;      // attach as a member id, or too many on one connection
  uint64_t clusterMismatch = 0;    // attaches naming another cluster (inbound, or refused ours)
  uint64_t routesDropped = 0;      // routes to unknown ids forgotten after dropping their queue
  uint64_t sendersUnlogged = 0;    // rejections not logged: kMaxLoggedSenders ids logged already
  // TLS: handshakes failed or timed out (plaintext peers, other CAs), calls and messages
  // refused for the certificate's kind, certificates naming nobody of the cluster.
  uint64_t tlsHandshakes = 0;  // inbound handshakes completed
  uint64_t tlsRefused = 0;
};

// Resolves `ms` milliseconds from now by the real monotonic clock. KJ's Timer::afterDelay
// counts from when the event loop last polled, which is stale after the loop was not run
// for a while (a blocking client between calls): a deadline taken from it can expire
// before anything happened. Every deadline here uses this; clients' too (client/).
kj::Promise<void> afterRealDelay(kj::Timer& timer, uint32_t ms);

// PCOMMIT_DELIVERY: unset, empty or "stream" -> true (delivery streams), "rpc" -> false.
// Anything else throws std::runtime_error naming the value.
bool deliveryStreamsFromEnvironment();

class Transport : private kj::TaskSet::ErrorHandler {
 public:
  using Handler = std::function<void(NodeId from, Message&& msg)>;
  using StatusFn = std::function<void(wire::NodeStatus::Builder)>;
  // Reads committed data; may wait (a key locked by a prepared transaction is read once
  // that transaction is decided), may fail with a kj::Exception the caller sees.
  using GetFn = std::function<kj::Promise<kv::Versioned>(const std::string& key)>;
  using LogFn = std::function<void(const std::string& line)>;
  // Node.resolve (`pcommit resolve`): an operator's heuristic decision for `txn`, or only a
  // question (nullopt); resolves with the answer once the decision is durable.
  using ResolveFn = std::function<kj::Promise<HeuristicAnswer>(NodeId from, const TxnId& txn,
                                                               std::optional<Outcome> outcome)>;

  Transport(kj::AsyncIoContext& io, TransportOptions options, Handler handler, LogFn log);
  ~Transport();

  void setStatusFn(StatusFn f) { statusFn_ = std::move(f); }
  void setGetFn(GetFn f) { getFn_ = std::move(f); }
  void setResolveFn(ResolveFn f) { resolveFn_ = std::move(f); }

  // Binds host:port (or host "unix:PATH", port ignored: rpc/unix_socket.h) and serves until
  // the promise is dropped. Throws (kj::Exception) if the address cannot be bound.
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
  // Resolves once `peer` has answered our attach on a connection we opened (at once if it
  // has on the current one): from then on it holds our id and, for a client, our sink.
  // Connects, and retries a failed connect with backoff, until then. A paxos-direct client
  // sends nothing before F+1 acceptors can route their 2b to it.
  kj::Promise<void> introduced(NodeId peer);
  // Connects to `peer` now and again whenever the connection is lost (noticed as the peer
  // closes it, not only when a call fails), with backoff, whether or not anything waits to
  // be sent: a paxos-direct client keeps its sink at every acceptor across their restarts.
  void keepConnected(NodeId peer);

  // Reads committed data from a participant through its `get` method (its own connection).
  kj::Promise<kv::Versioned> get(NodeId participant, const std::string& key);

  // A node's status (its `status` method), through its own connection.
  kj::Promise<capnp::Response<wire::Node::StatusResults>> status(NodeId node);

  // A participant's `resolve` method, as this transport's id (a client's), through its own
  // connection. Fails (kj::Exception) if the node does not answer or its answer is invalid.
  kj::Promise<HeuristicAnswer> resolve(NodeId participant, const TxnId& txn,
                                       std::optional<Outcome> outcome);

  const TransportMetrics& metrics() const { return metrics_; }
  // Why the last outbound connect or call failed ("" if none did): a client that got no
  // answer says why (a refused TLS handshake, a plaintext peer, a refused connect).
  const std::string& lastFailure() const { return lastFailure_; }
  bool connected(NodeId peer) const;
  // Served, and being set up (a TLS handshake, or the first bytes not read yet).
  size_t inboundConnections() const { return inbound_.size() + handshakes_; }
  size_t routes() const { return out_.size(); }  // outbound entries (members, clients)

  static constexpr size_t kMaxLoggedSenders = 1024;
  static constexpr size_t kMaxSinksPerConnection = 16;

 private:
  class NodeImpl;
  class SinkImpl;
  struct Outbound;
  struct Connection;

  Outbound& outbound(NodeId to);
  kj::Promise<void> acceptLoop(kj::ConnectionReceiver& listener);
  void accepted(kj::Own<kj::AsyncIoStream> stream);
  void serveInbound(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth);
  // Delivery streams (transport_stream.cc). classify reads an inbound connection's first 8
  // bytes and serves it as a stream or as RPC.
  void classify(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth);
  void serveStream(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth);
  kj::Promise<void> readInbound(uint64_t key);
  void handleInboundFrame(Connection& c, wire::StreamFrame::Reader f);
  void writeAck(Connection& c, uint64_t ackId);
  // Resolves when inbound connection `key` has made no call (or sent no frame) by the idle
  // timeout (counted); never otherwise.
  kj::Promise<void> untilIdle(uint64_t key);
  // How many queued messages the next call or frame to `o` carries (>= 1 if any queued).
  size_t nextBatch(const Outbound& o) const;
  // Moves the first list.size() queued messages of `o` into `list` (a call or a frame,
  // counted in rpcCallsSent); returns their onDelivered callbacks.
  std::vector<std::function<void()>> takeBatch(Outbound& o,
                                               capnp::List<wire::Message>::Builder list);
  void streamConnected(Outbound& o, kj::Own<kj::AsyncIoStream> stream);
  void flushStream(Outbound& o);
  kj::Promise<void> readOutbound(NodeId id, uint64_t gen, Connection& c);
  bool useStreams() const { return opts_.streams; }
  // A delivery stream asks its peer for an ack at most this often (the liveness check).
  uint32_t ackIntervalMs() const { return std::max<uint32_t>(opts_.callTimeoutMs / 4, 10); }
  // TLS (transport_tls.cc).
  void handshake(kj::Own<kj::AsyncIoStream> stream);
  kj::Promise<kj::Own<kj::AsyncIoStream>> secureOutbound(kj::Own<kj::AsyncIoStream> stream,
                                                         NodeId peer, const Tls* tls);
  std::optional<PeerAuth> authOf(const std::string& commonName) const;
  void receiveAuthenticated(PeerAuth& auth, NodeId from, capnp::List<wire::Message>::Reader msgs);
  bool clientMaySend(const PeerAuth& auth, const Message& m) const;
  void checkAttach(PeerAuth& auth, NodeId from, bool withSink);
  void checkStatus(const PeerAuth& auth);
  [[noreturn]] void refuse(const PeerAuth& auth, const std::string& what);
  void logPeerOnce(const std::string& peer, const std::string& line);
  kj::Promise<void> acceptFailed(kj::ConnectionReceiver& listener, const kj::Exception& e);
  void dropInbound(uint64_t key);
  void setKeepalive(kj::AsyncIoStream& stream);
  bool isMember(NodeId id) const { return id == opts_.self || opts_.peers.count(id) != 0; }
  kj::Promise<void> callWatchdog();
  bool awaiting(const Outbound& o) const;  // whether the watchdog waits for something of o
  bool forgettable(const Outbound& o) const;
  struct OneOff;
  kj::Promise<kj::Own<OneOff>> openOneOff(NodeId node, const Tls* tls);
  template <class Call>
  auto withOwnConnection(NodeId node, const Tls* tls, Call call)
      -> decltype(call(std::declval<wire::Node::Client>()));
  void enqueue(NodeId to, Message msg, std::function<void()> onDelivered);
  void scheduleFlush();
  void flushAll();
  void flush(Outbound& o);
  void connect(Outbound& o);
  void onCallFailed(Outbound& o, const kj::Exception& e);
  // `client`: a TLS client's connection, whose messages are checked one by one; returns
  // how many were refused for it.
  size_t receive(NodeId from, capnp::List<wire::Message>::Reader msgs,
                 const PeerAuth* client = nullptr);
  void attachSink(NodeId from, wire::Peer::Client sink, uint64_t connection);
  void logOnce(NodeId from, const std::string& what);

  kj::AsyncIoContext& io_;
  TransportOptions opts_;
  Handler handler_;
  LogFn log_;
  StatusFn statusFn_;
  GetFn getFn_;
  ResolveFn resolveFn_;
  TransportMetrics metrics_;
  std::map<NodeId, std::unique_ptr<Outbound>> out_;
  std::map<NodeId, std::string> loggedBad_;  // senders we logged a rejection for (bounded)
  std::set<NodeId> attachRefusedLogged_;     // member ids refused at attach (<= members)
  std::set<NodeId> mismatchLogged_;  // ids whose other cluster was logged (kMaxLoggedSenders)
  // Whether an attach naming `theirs` (wire bytes) is of another cluster; counts and logs.
  bool foreignCluster(NodeId from, capnp::Data::Reader theirs);
  // Whether `peer` refused us (`why`: its attach error or stream refusal) for being of
  // another cluster; counts and logs it (once per peer).
  bool refusedAsForeign(NodeId peer, const std::string& why);
  // Sends attach on an outbound connection to `id` (transport.cc).
  void introduce(wire::Node::Client& node, NodeId id, uint64_t gen);
  void connectFailed(NodeId id, uint64_t gen, const kj::Exception& e);
  void markIntroduced(NodeId id, uint64_t gen);
  // A client's route (attach's sink, or a stream's): refuses a member's id and more than
  // kMaxSinksPerConnection clients on one connection (kj::Exception), else binds it.
  Outbound& sinkRoute(NodeId from, uint64_t connection);
  void attachStreamSink(NodeId from, Connection& c);
  void flushSinkStream(Outbound& o);
  // Writes `b` on inbound stream `c` after what is being written there; `done(ok)` runs on
  // a later turn once it is written (ok) or failed.
  void writeInbound(Connection& c, kj::Own<capnp::MallocMessageBuilder> b,
                    std::function<void(bool ok)> done);
  // Fills an attach request's clusterId from opts_.clusterId.
  void setClusterId(wire::Node::AttachParams::Builder req) const;
  void setClusterId(wire::StreamFrame::Builder frame) const;
  // Inbound connections. Owned here, not by tasks_: they are destroyed after every task
  // is cancelled (an RpcSystem must not die inside a TaskSet's destructor).
  std::map<uint64_t, kj::Own<Connection>> inbound_;
  std::map<uint64_t, std::set<NodeId>> sinksByConnection_;  // clients attached per connection
  uint64_t nextInbound_ = 0;
  bool flushScheduled_ = false;
  uint32_t acceptBackoffMs_ = 0;  // 0: accepting normally; else the current back-off
  bool refusing_ = false;         // at the connection cap (logged once per episode)
  uint64_t refusedInEpisode_ = 0;
  std::unique_ptr<DelayLine> delay_;  // netDelayUs > 0 only; its task is in tasks_
  // With a delay: this turn's sends, pushed on the delay line as one item at the turn's end.
  struct Delayed {
    NodeId to;
    Message msg;
    std::function<void()> onDelivered;
  };
  std::vector<Delayed> delayedTurn_;
  uint32_t handshakes_ = 0;          // inbound connections being set up (TLS handshake, preamble)
  std::set<std::string> tlsLogged_;  // peers whose TLS refusal was logged (bounded)
  std::map<std::string, NodeId> memberIds_;  // node name -> id (self and peers)
  std::string lastFailure_;
  // TLS get/status connections (transport_oneoff.cc); `ref` owns `conn` (OneOff is only
  // complete there).
  struct PooledOneOff {
    kj::Own<kj::Refcounted> ref;
    OneOff* conn = nullptr;
  };
  std::map<std::pair<NodeId, const Tls*>, PooledOneOff> oneOffPool_;
  std::unique_ptr<kj::TaskSet> tasks_;

  void taskFailed(kj::Exception&& e) override;
};

}  // namespace pc::rpc
