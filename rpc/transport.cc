#include "rpc/transport.h"

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <type_traits>

#include "paxos_commit/assert.h"
#include "rpc/transport_internal.h"
#include "rpc/unix_socket.h"

namespace pc::rpc {

namespace {
size_t kindIndex(const Message& m) { return m.index(); }

kj::TimePoint realNow() { return kj::systemPreciseMonotonicClock().now(); }

// What a queued message holds, roughly (its variable parts and the variant itself): the
// unit of the byte bounds on queues and batches. Cheap: no serialisation.
size_t approxBytes(const Message& m) {
  return std::visit(
      [](const auto& x) {
        size_t n = sizeof(Message);
        if constexpr (requires { x.payloads; }) {
          for (const auto& p : x.payloads) n += sizeof(p) + p.payload.size();
        }
        if constexpr (requires { x.payload; }) n += x.payload.size();
        if constexpr (requires { x.reason; }) n += x.reason.size();
        if constexpr (requires { x.participants; }) n += x.participants.size() * sizeof(NodeId);
        if constexpr (requires { x.votes; }) n += x.votes.size() * sizeof(InstanceVote);
        if constexpr (requires { x.reports; }) n += x.reports.size() * sizeof(InstanceReport);
        if constexpr (requires { x.acks; }) n += x.acks.size() * sizeof(Ack);
        return n;
      },
      m);
}
}  // namespace

kj::Promise<void> afterRealDelay(kj::Timer& timer, uint32_t ms) {
  // The event port's timer runs on the same clock (kj::UnixEventPort).
  return timer.atTime(realNow() + ms * kj::MILLISECONDS);
}

// Receives messages (as a node's bootstrap interface, or as a client's attached sink).
class Transport::SinkImpl final : public wire::Peer::Server {
 public:
  explicit SinkImpl(Transport& t) : t_(t) {}
  kj::Promise<void> deliver(DeliverContext context) override {
    auto p = context.getParams();
    t_.receive(p.getFrom(), p.getMessages());
    return kj::READY_NOW;
  }

 private:
  Transport& t_;
};

Transport::Transport(kj::AsyncIoContext& io, TransportOptions options, Handler handler, LogFn log)
    : io_(io),
      opts_(std::move(options)),
      handler_(std::move(handler)),
      log_(std::move(log)),
      tasks_(std::make_unique<kj::TaskSet>(static_cast<kj::TaskSet::ErrorHandler&>(*this))) {
  PC_ASSERT(opts_.self != kNoNode);
  PC_ASSERT(opts_.maxQueuedPerPeer >= 1 && opts_.maxBatchBytes >= 1, opts_.maxQueuedPerPeer,
            opts_.maxBatchBytes);
  PC_ASSERT(opts_.acceptBackoffMinMs >= 1 && opts_.acceptBackoffMinMs <= opts_.acceptBackoffMaxMs,
            opts_.acceptBackoffMinMs, opts_.acceptBackoffMaxMs);
  if (opts_.callTimeoutMs > 0) tasks_->add(callWatchdog());
  if (opts_.netDelayUs > 0) {
    delay_ = std::make_unique<DelayLine>(io_.unixEventPort, opts_.netDelayUs);
    tasks_->add(delay_->run());
  }
  if (!opts_.selfName.empty()) memberIds_[opts_.selfName] = opts_.self;
  for (const auto& [id, name] : opts_.names) {
    if (opts_.peers.count(id) != 0) memberIds_[name] = id;
  }
}

Transport::~Transport() {
  // Cancel every task first, then drop the connections (members below tasks_ in the
  // class would be destroyed before it; these are above it, so this order is explicit).
  tasks_.reset();
  oneOffPool_.clear();
  inbound_.clear();
  out_.clear();
}

void Transport::taskFailed(kj::Exception&& e) {
  // A connection or call failed: peers come and go, the protocol retries. Never fatal.
  if (log_) log_(std::string("transport: ") + e.getDescription().cStr());
}

kj::Promise<void> Transport::listen(const std::string& host, uint16_t port) {
  kj::Own<kj::ConnectionReceiver> listener;
  if (auto path = unixPathOf(host)) {  // a stale socket file goes, ours goes when dropped
    listener = listenUnix(io_.provider->getNetwork(), io_.waitScope, *path);
  } else {
    auto addr = io_.provider->getNetwork().parseAddress(host, port).wait(io_.waitScope);
    listener = addr->listen();
  }
  auto& ref = *listener;
  if (log_) {
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    log_("transport: open files limit " + std::to_string(files.rlim_cur) + ", at most " +
         std::to_string(opts_.maxInboundConnections) + " inbound connections, idle timeout " +
         std::to_string(opts_.idleTimeoutMs) + " ms, call timeout " +
         std::to_string(opts_.callTimeoutMs) + " ms");
  }
  return acceptLoop(ref).attach(kj::mv(listener));
}

kj::Promise<void> Transport::acceptLoop(kj::ConnectionReceiver& listener) {
  // evalNow: KJ's accept() throws synchronously when accept(2) fails at once (EMFILE with
  // connections already waiting), and asynchronously when it fails after a wait.
  return kj::evalNow([&listener]() { return listener.accept(); })
      .then(
          [this, &listener](kj::Own<kj::AsyncIoStream> stream) {
            if (acceptBackoffMs_ != 0) {
              acceptBackoffMs_ = 0;
              if (log_) log_("transport: accepting connections again");
            }
            accepted(kj::mv(stream));
            return acceptLoop(listener);
          },
          [this, &listener](kj::Exception&& e) { return acceptFailed(listener, e); });
}

kj::Promise<void> Transport::acceptFailed(kj::ConnectionReceiver& listener,
                                          const kj::Exception& e) {
  // Out of descriptors (EMFILE, ENFILE) or any other accept error: the pending connection
  // stays in the backlog and the listener stays readable, so retrying at once would spin.
  // Pause accepting, keep serving every established connection, try again later.
  metrics_.acceptErrors++;
  if (acceptBackoffMs_ == 0) {
    acceptBackoffMs_ = opts_.acceptBackoffMinMs;
    if (log_) {
      log_(std::string("transport: accept failed (") + e.getDescription().cStr() +
           "): pausing accepts, retrying from " + std::to_string(opts_.acceptBackoffMinMs) +
           " ms up to every " + std::to_string(opts_.acceptBackoffMaxMs) +
           " ms; established connections are still served");
    }
  }
  uint32_t delay = acceptBackoffMs_;
  acceptBackoffMs_ = std::min(acceptBackoffMs_ * 2, opts_.acceptBackoffMaxMs);
  return io_.provider->getTimer().afterDelay(delay * kj::MILLISECONDS).then([this, &listener]() {
    return acceptLoop(listener);
  });
}

void Transport::setKeepalive(kj::AsyncIoStream& stream) {
  if (!opts_.keepalive) return;
  // A peer that vanished without FIN or RST (power loss, a cable) would otherwise hold its
  // connection forever. Not a TCP socket (a test's pipe): nothing to keep alive.
  // A Unix socket's peer cannot vanish that way: its end closes with its process.
  int on = 1;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 int domain = 0;
                 kj::uint len = sizeof domain;
                 stream.getsockopt(SOL_SOCKET, SO_DOMAIN, &domain, &len);
                 if (domain == AF_UNIX) return;
                 stream.setsockopt(SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
                 stream.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, &opts_.keepaliveIdleS, sizeof(int));
                 stream.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, &opts_.keepaliveIntervalS,
                                   sizeof(int));
                 stream.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, &opts_.keepaliveCount, sizeof(int));
               })) {
    (void)e;
  }
}

void Transport::accepted(kj::Own<kj::AsyncIoStream> stream) {
  if (inbound_.size() + handshakes_ >= opts_.maxInboundConnections) {
    // Beyond the cap: closed at once (dropping the stream closes it). One log line when
    // refusing starts, one when it ends, whatever the number refused.
    metrics_.inboundRefused++;
    refusedInEpisode_++;
    if (!refusing_) {
      refusing_ = true;
      if (log_) {
        log_("transport: " + std::to_string(inbound_.size()) +
             " inbound connections (max-connections): refusing new ones");
      }
    }
    return;
  }
  if (refusing_) {
    refusing_ = false;
    if (log_) {
      log_("transport: below max-connections again (" + std::to_string(refusedInEpisode_) +
           " connections refused meanwhile)");
    }
    refusedInEpisode_ = 0;
  }
  metrics_.inboundAccepted++;
  setKeepalive(*stream);
  if (opts_.tls) {
    handshake(kj::mv(stream));  // then serveInbound, with the certificate's name
    return;
  }
  classify(kj::mv(stream), PeerAuth{});  // a delivery stream or RPC, by its first bytes
}

void Transport::dropInbound(uint64_t key) {
  inbound_.erase(key);
  auto it = sinksByConnection_.find(key);
  if (it == sinksByConnection_.end()) return;
  for (NodeId client : it->second) {
    auto o = out_.find(client);
    if (o != out_.end() && o->second->isSink && o->second->sinkConnection == key) {
      out_.erase(o);
    }
  }
  sinksByConnection_.erase(it);
}

void Transport::attachSink(NodeId from, wire::Peer::Client sink, uint64_t connection) {
  if (from == kNoNode) return;
  Outbound& o = sinkRoute(from, connection);
  o.sink = kj::mv(sink);
  flush(o);
}

Transport::Outbound& Transport::sinkRoute(NodeId from, uint64_t connection) {
  // A client's sink is a route to a client, never to a member: the members' routes are
  // the connections we make to the addresses in the cluster file (issue 12: attach as
  // p1 at c1 turned p1's route into the caller's sink).
  if (isMember(from)) {
    metrics_.attachRefused++;
    if (attachRefusedLogged_.insert(from).second && log_) {
      log_("refused attach as node " + std::to_string(from) +
           ": a cluster member's id (counted; logged once per id)");
    }
    throw KJ_EXCEPTION(FAILED, "attach refused: the id belongs to a cluster member", from);
  }
  auto& attached = sinksByConnection_[connection];
  if (attached.count(from) == 0 && attached.size() >= kMaxSinksPerConnection) {
    metrics_.attachRefused++;
    throw KJ_EXCEPTION(FAILED, "attach refused: too many clients on one connection",
                       kMaxSinksPerConnection);
  }
  auto& o = outbound(from);
  o.isSink = true;
  o.sinkConnection = connection;
  attached.insert(from);
  o.sink = nullptr;  // the caller sets the one it got (a capability, or a stream)
  o.sinkStream = nullptr;
  o.generation++;
  o.inflight = 0;
  return o;
}

void Transport::logOnce(NodeId from, const std::string& what) {
  if (loggedBad_.count(from) != 0) return;
  // Sender ids are claims: a peer can make up a new one per message. Past the cap, new
  // senders are counted, not logged or remembered (evicting old ones instead would let a
  // peer that cycles ids write one log line per message).
  if (loggedBad_.size() >= kMaxLoggedSenders) {
    if (metrics_.sendersUnlogged++ == 0 && log_) {
      log_("rejected input from more than " + std::to_string(kMaxLoggedSenders) +
           " sender ids: further senders are counted (rejected_at_edge), not logged");
    }
    return;
  }
  loggedBad_.emplace(from, what);
  if (log_) log_("rejected input from node " + std::to_string(from) + ": " + what);
}

size_t Transport::receive(NodeId from, capnp::List<wire::Message>::Reader msgs,
                          const PeerAuth* client) {
  metrics_.rpcCallsReceived++;
  // The peer is back (it just called us): skip what is left of our reconnect back-off to
  // it, or a restarted node would wait up to the maximum back-off for our answers.
  if (auto it = out_.find(from); it != out_.end() && it->second->inBackoff) {
    Outbound& o = *it->second;
    o.inBackoff = false;
    o.connecting = false;
    o.generation++;  // the pending retry timer sees a new generation and does nothing
    o.backoffMs = opts_.reconnectBackoffMinMs;
    if (!o.queue.empty()) connect(o);
  }
  if (from == kNoNode || msgs.size() > opts_.limits.maxBatch) {
    metrics_.rejected += msgs.size();
    logOnce(from, "bad sender id or oversize batch");
    return 0;
  }
  size_t refused = 0;
  for (auto r : msgs) {
    auto result = fromWire(r, opts_.limits);
    if (auto* why = std::get_if<std::string>(&result)) {
      metrics_.rejected++;
      logOnce(from, *why);
      continue;
    }
    auto& m = std::get<Message>(result);
    if (client && !clientMaySend(*client, m)) {
      ++refused;
      continue;
    }
    metrics_.messagesReceived++;
    metrics_.receivedByKind[kindIndex(m)]++;
    handler_(from, std::move(m));
  }
  return refused;
}

Transport::Outbound& Transport::outbound(NodeId to) {
  auto it = out_.find(to);
  if (it != out_.end()) return *it->second;
  auto o = std::make_unique<Outbound>();
  o->id = to;
  o->backoffMs = opts_.reconnectBackoffMinMs;
  return *out_.emplace(to, std::move(o)).first->second;
}

bool Transport::connected(NodeId peer) const {
  auto it = out_.find(peer);
  return it != out_.end() && (it->second->conn.get() != nullptr || it->second->sink != nullptr ||
                              it->second->sinkStream != nullptr);
}

void Transport::send(NodeId to, Message msg, std::function<void()> onDelivered) {
  if (delay_) {
    // Everything sent in one turn leaves together, one delay later, as it would without a
    // delay (one deliver() per destination). Pushed one by one, each message got its own
    // due time a few microseconds apart, the timer released them one at a time, and the
    // receivers lost the grouping of their synced writes (2pc, 16 clients, D = 100 us:
    // 9.4 RPC calls and 3.6 synced commits per transaction against 0.7 and 0.25 at D = 0).
    if (delayedTurn_.empty()) {
      tasks_->add(kj::evalLater([this]() {
        delay_->push([this, turn = std::move(delayedTurn_)]() mutable {
          for (auto& d : turn) enqueue(d.to, std::move(d.msg), std::move(d.onDelivered));
        });
        delayedTurn_.clear();
      }));
    }
    delayedTurn_.push_back(Delayed{to, std::move(msg), std::move(onDelivered)});
    return;
  }
  enqueue(to, std::move(msg), std::move(onDelivered));
}

void Transport::enqueue(NodeId to, Message msg, std::function<void()> onDelivered) {
  auto& o = outbound(to);
  metrics_.messagesSent++;
  metrics_.sentByKind[kindIndex(msg)]++;
  const size_t bytes = approxBytes(msg);
  if (bytes > opts_.maxQueuedBytesPerPeer) {
    metrics_.droppedQueue++;  // larger than a whole queue may hold
    return;
  }
  // Bounded in messages and in bytes: a dead or slow peer must not eat our memory. The
  // oldest go first (the protocol retries what matters).
  while (!o.queue.empty() && (o.queue.size() >= opts_.maxQueuedPerPeer ||
                              o.queuedBytes + bytes > opts_.maxQueuedBytesPerPeer)) {
    o.popFront();
    metrics_.droppedQueue++;
  }
  o.queuedBytes += bytes;
  o.queue.push_back(Outbound::Item{std::move(msg), std::move(onDelivered), bytes});
  PC_ASSERT(
      o.queue.size() <= opts_.maxQueuedPerPeer && o.queuedBytes <= opts_.maxQueuedBytesPerPeer,
      o.queue.size(), o.queuedBytes);
  scheduleFlush();
}

void Transport::countLocalSend(const Message& msg) {
  metrics_.messagesSent++;
  metrics_.messagesLocal++;
  metrics_.sentByKind[kindIndex(msg)]++;
}

void Transport::countLocalReceive(const Message& msg) {
  metrics_.messagesReceived++;
  metrics_.receivedByKind[kindIndex(msg)]++;
}

void Transport::scheduleFlush() {
  if (flushScheduled_) return;
  flushScheduled_ = true;
  // Everything sent during this turn goes out together: one deliver() per destination.
  tasks_->add(kj::evalLater([this]() {
    flushScheduled_ = false;
    flushAll();
  }));
}

void Transport::flushAll() {
  for (auto it = out_.begin(); it != out_.end();) {
    Outbound& o = *it->second;
    if (!o.queue.empty()) flush(o);
    // A route to an id that is neither a member nor an attached client only ever drops
    // what is sent to it; keeping it would grow out_ with every id a sender claims.
    if (forgettable(o)) {
      metrics_.routesDropped++;
      it = out_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Transport::forgettable(const Outbound& o) const {
  return o.queue.empty() && !o.isSink && !o.conn && o.sink == nullptr && !o.connecting &&
         !o.inBackoff && o.inflight == 0 && opts_.peers.count(o.id) == 0;
}

void Transport::flush(Outbound& o) {
  if (o.queue.empty()) return;
  if (o.sinkStream != nullptr) {
    flushSinkStream(o);
    return;
  }
  wire::Peer::Client target = nullptr;
  if (o.conn && o.conn->isStream) {
    flushStream(o);
    return;
  }
  if (o.conn) {
    target = o.conn->node;
  } else if (o.sink != nullptr) {
    KJ_IF_MAYBE (s, o.sink) {
      target = *s;
    }
  } else {
    if (o.isSink || opts_.peers.count(o.id) == 0) {
      // No route (a client that went away, or an unknown node): drop.
      metrics_.droppedFailed += o.queue.size();
      o.clearQueue();
      return;
    }
    connect(o);
    return;
  }
  while (!o.queue.empty() && o.inflight < opts_.maxInflightCallsPerPeer) {
    const size_t n = nextBatch(o);
    auto req = target.deliverRequest();
    req.setFrom(opts_.self);
    auto callbacks = takeBatch(o, req.initMessages(static_cast<unsigned>(n)));
    if (o.inflight == 0) o.lastProgress = realNow();
    o.inflight++;
    uint64_t gen = o.generation;
    NodeId id = o.id;
    tasks_->add(req.send().then(
        [this, id, gen, callbacks = std::move(callbacks)](auto&&) {
          auto it = out_.find(id);
          if (it != out_.end() && it->second->generation == gen) {
            it->second->inflight--;
            it->second->lastProgress = realNow();
            if (!it->second->queue.empty()) flush(*it->second);
          }
          for (auto& cb : callbacks) cb();
        },
        [this, id, gen, n](kj::Exception&& e) {
          metrics_.droppedFailed += n;
          auto it = out_.find(id);
          if (it != out_.end() && it->second->generation == gen) onCallFailed(*it->second, e);
        }));
  }
}

size_t Transport::nextBatch(const Outbound& o) const {
  // At most maxBatch messages and maxBatchBytes (at least one message) per call or frame,
  // so a batch stays well below the receiver's traversal limit.
  size_t n = 0;
  size_t batchBytes = 0;
  while (n < o.queue.size() && n < opts_.limits.maxBatch) {
    const size_t b = o.queue[n].bytes;
    if (n > 0 && batchBytes + b > opts_.maxBatchBytes) break;
    batchBytes += b;
    ++n;
  }
  return n;
}

bool Transport::awaiting(const Outbound& o) const {
  // RPC: an answer to a call; a delivery stream: a write to finish, or the ack it asked
  // for (lastProgress is then when it was asked).
  return o.inflight > 0 || (o.conn && o.conn->isStream && o.conn->pendingAck != 0);
}

std::vector<std::function<void()>> Transport::takeBatch(Outbound& o,
                                                        capnp::List<wire::Message>::Builder list) {
  std::vector<std::function<void()>> callbacks;
  for (auto m : list) {
    auto& item = o.queue.front();
    toWire(item.msg, m);
    if (item.onDelivered) callbacks.push_back(std::move(item.onDelivered));
    o.popFront();
  }
  metrics_.rpcCallsSent++;
  return callbacks;
}

void Transport::onCallFailed(Outbound& o, const kj::Exception& e) {
  metrics_.disconnects++;
  if (o.conn && o.conn->isStream) metrics_.droppedFailed += o.conn->unconfirmed;
  lastFailure_ = e.getDescription().cStr();
  if (log_) log_("peer " + std::to_string(o.id) + " lost: " + e.getDescription().cStr());
  o.generation++;
  o.inflight = 0;
  o.introduced = false;
  if (o.isSink) {
    o.sink = nullptr;  // the client went away; it reattaches if it comes back
    o.sinkStream = nullptr;
    metrics_.droppedFailed += o.queue.size();
    o.clearQueue();
    return;
  }
  // Tear down the connection after this turn (we may be inside one of its callbacks).
  tasks_->add(kj::evalLater([c = kj::mv(o.conn)]() mutable { c = nullptr; }));
  o.conn = nullptr;
  if (o.wantsConnection()) connect(o);
}

kj::Promise<void> Transport::callWatchdog() {
  // One timer for all peers, not one per call: a call costs a timestamp. A peer whose
  // calls have seen no answer for callTimeoutMs (stopped, wedged, or a listener that never
  // reads) fails like a lost connection: its calls' messages are lost, and the connection
  // is made again while something waits to be sent.
  const uint32_t stepMs = std::max<uint32_t>(opts_.callTimeoutMs / 4, 10);
  return io_.provider->getTimer().afterDelay(stepMs * kj::MILLISECONDS).then([this]() {
    const auto now = realNow();
    const auto limit = opts_.callTimeoutMs * kj::MILLISECONDS;
    for (auto& [id, o] : out_) {
      if (o->isSink) continue;  // see the top of transport.h
      if (!awaiting(*o) || now - o->lastProgress < limit) {
        o->stallSeen = false;
      } else if (!o->stallSeen) {
        o->stallSeen = true;  // answers may be waiting unread after a pause of this loop
      } else {
        o->stallSeen = false;
        metrics_.callTimeouts++;
        onCallFailed(*o, KJ_EXCEPTION(DISCONNECTED, "no answer in time", opts_.callTimeoutMs));
      }
    }
    return callWatchdog();
  });
}

// attach on a connection we opened: our id and cluster, and (a client) our sink. E-order:
// the peer sees it before any deliver on the connection.
void Transport::introduce(wire::Node::Client& node, NodeId id, uint64_t gen) {
  auto req = node.attachRequest();
  req.setFrom(opts_.self);
  if (opts_.attachSinkOnConnect) req.setSink(kj::heap<SinkImpl>(*this));
  setClusterId(req);
  tasks_->add(req.send().then([this, id, gen](auto&&) { markIntroduced(id, gen); },
                              [this, id](kj::Exception&& e) {
                                if (!refusedAsForeign(id, e.getDescription().cStr()))
                                  taskFailed(kj::mv(e));
                              }));
}

void Transport::connect(Outbound& o) {
  if (o.connecting || o.conn) return;
  o.connecting = true;
  const PeerAddress& a = opts_.peers.at(o.id);
  NodeId id = o.id;
  uint64_t gen = ++o.generation;
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = opts_.traversalLimitWords;
  ro.nestingLimit = static_cast<int>(opts_.nestingLimit);
  kj::Promise<kj::Own<kj::AsyncIoStream>> connected =
      io_.provider->getNetwork()
          .parseAddress(a.host, a.port)
          .then([](kj::Own<kj::NetworkAddress> addr) {
            return addr->connect().attach(kj::mv(addr));
          });
  if (opts_.tls) {
    // The handshake is part of the connect: under the same deadline.
    connected = connected.then([this, id](kj::Own<kj::AsyncIoStream> stream) {
      return secureOutbound(kj::mv(stream), id, opts_.tls.get());
    });
  }
  if (opts_.callTimeoutMs > 0) {
    // A connect to an address that swallows SYNs would otherwise wait for the kernel's
    // timeout (minutes) with the queue held.
    connected = connected.exclusiveJoin(
        afterRealDelay(io_.provider->getTimer(), opts_.callTimeoutMs)
            .then([this]() -> kj::Promise<kj::Own<kj::AsyncIoStream>> {
              metrics_.callTimeouts++;
              return KJ_EXCEPTION(DISCONNECTED, "connect timed out", opts_.callTimeoutMs);
            }));
  }
  auto p = connected.then(
      [this, id, gen, ro](kj::Own<kj::AsyncIoStream> stream) {
        auto it = out_.find(id);
        if (it == out_.end() || it->second->generation != gen) return;
        Outbound& ob = *it->second;
        setKeepalive(*stream);
        ob.connecting = false;
        ob.backoffMs = opts_.reconnectBackoffMinMs;
        metrics_.connects++;
        if (log_) log_("peer " + std::to_string(id) + " connected");
        if (useStreams()) {
          streamConnected(ob, kj::mv(stream));
          return;
        }
        auto c = kj::heap<Connection>();
        c->stream = kj::mv(stream);
        c->network =
            kj::heap<capnp::TwoPartyVatNetwork>(*c->stream, capnp::rpc::twoparty::Side::CLIENT, ro);
        c->rpc = kj::heap(capnp::makeRpcClient(*c->network));
        capnp::MallocMessageBuilder vatMsg;
        auto vat = vatMsg.initRoot<capnp::rpc::twoparty::VatId>();
        vat.setSide(capnp::rpc::twoparty::Side::SERVER);
        c->node = c->rpc->bootstrap(vat).castAs<wire::Node>();
        // A peer that closes the connection (it stopped or restarted) is noticed now, not
        // at the next call: a client that only receives on it would never make one.
        c->tasks = kj::heap<kj::TaskSet>(static_cast<kj::TaskSet::ErrorHandler&>(*this));
        c->tasks->add(c->network->onDisconnect().then([this, id, gen]() {
          auto it2 = out_.find(id);
          if (it2 == out_.end() || it2->second->generation != gen || !it2->second->conn) return;
          onCallFailed(*it2->second, KJ_EXCEPTION(DISCONNECTED, "the peer closed the connection"));
        }));
        introduce(c->node, id, gen);
        ob.conn = kj::mv(c);
        flush(ob);
      },
      [this, id, gen](kj::Exception&& e) { connectFailed(id, gen, e); });
  tasks_->add(kj::mv(p));
}

// `id` answered our attach (or the first frame of our stream) on connection `gen`.
void Transport::markIntroduced(NodeId id, uint64_t gen) {
  auto it = out_.find(id);
  if (it == out_.end() || it->second->generation != gen) return;
  Outbound& o = *it->second;
  o.introduced = true;
  auto waiters = std::move(o.introWaiters);
  o.introWaiters.clear();
  for (auto& w : waiters) w->fulfill();
}

// A connect to `id` (attempt `gen`) failed: retry with backoff while something waits for
// the peer (queued messages, or an introduced() waiter).
void Transport::connectFailed(NodeId id, uint64_t gen, const kj::Exception& e) {
  metrics_.connectFailures++;
  auto it = out_.find(id);
  if (it == out_.end() || it->second->generation != gen) return;
  Outbound& ob = *it->second;
  uint32_t delay = ob.backoffMs;
  ob.backoffMs = std::min(ob.backoffMs * 2, opts_.reconnectBackoffMaxMs);
  ob.inBackoff = true;
  lastFailure_ = e.getDescription().cStr();
  tasks_->add(io_.provider->getTimer().afterDelay(delay * kj::MILLISECONDS).then([this, id, gen]() {
    auto it2 = out_.find(id);
    if (it2 == out_.end() || it2->second->generation != gen) return;
    Outbound& o = *it2->second;
    o.connecting = false;
    o.inBackoff = false;
    if (o.wantsConnection()) connect(o);
  }));
}

void Transport::connectNow(NodeId peer) {
  auto& o = outbound(peer);
  if (!o.conn && !o.isSink && opts_.peers.count(peer) != 0) connect(o);
}

void Transport::keepConnected(NodeId peer) {
  outbound(peer).keep = true;
  connectNow(peer);
}

kj::Promise<void> Transport::introduced(NodeId peer) {
  auto& o = outbound(peer);
  if (o.introduced) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  o.introWaiters.push_back(kj::mv(paf.fulfiller));
  connectNow(peer);  // no-op while connected, connecting or backing off
  return kj::mv(paf.promise);
}

}  // namespace pc::rpc
