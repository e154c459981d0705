#include "rpc/transport.h"

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>

#include <algorithm>

#include "paxos_commit/assert.h"

namespace pc::rpc {

namespace {
size_t kindIndex(const Message& m) { return m.index(); }
}  // namespace

// One established outbound connection: the stream, the two-party network, the RPC system
// and the peer's bootstrap capability. Destroyed as a whole when it fails.
struct Transport::Connection {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  wire::Node::Client node = nullptr;
};

struct Transport::Outbound {
  NodeId id = kNoNode;
  bool isSink = false;          // a client's attached sink (no reconnect)
  uint64_t sinkConnection = 0;  // the inbound connection it came through
  kj::Own<Connection> conn;
  kj::Maybe<wire::Peer::Client> sink;
  bool connecting = false;
  bool inBackoff = false;  // a failed connect waits for its retry timer
  uint32_t backoffMs = 0;
  uint32_t inflight = 0;
  uint64_t generation = 0;  // bumps on each (re)connection; stale callbacks check it
  struct Item {
    Message msg;
    std::function<void()> onDelivered;
  };
  std::deque<Item> queue;
};

// Receives messages (as a node's bootstrap interface, or as a client's attached sink).
class Transport::SinkImpl : public wire::Peer::Server {
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

class Transport::NodeImpl : public wire::Node::Server {
 public:
  NodeImpl(Transport& t, uint64_t connection) : t_(t), connection_(connection) {}
  kj::Promise<void> deliver(DeliverContext context) override {
    auto p = context.getParams();
    t_.receive(p.getFrom(), p.getMessages());
    return kj::READY_NOW;
  }
  kj::Promise<void> attach(AttachContext context) override {
    auto p = context.getParams();
    t_.attachSink(p.getFrom(), p.getSink(), connection_);
    return kj::READY_NOW;
  }
  kj::Promise<void> status(StatusContext context) override {
    if (t_.statusFn_) t_.statusFn_(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  kj::Promise<void> get(GetContext context) override {
    auto key = context.getParams().getKey();
    if (key.size() > 4096) throw KJ_EXCEPTION(FAILED, "key too long");
    if (!t_.getFn_) throw KJ_EXCEPTION(FAILED, "this node holds no data (not a participant)");
    return t_.getFn_(std::string(reinterpret_cast<const char*>(key.begin()), key.size()))
        .then([context](kv::Versioned v) mutable {
          auto result = context.getResults().initResult();
          result.setFound(v.value.has_value());
          result.setVersion(v.version);
          if (v.value) {
            result.setValue(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(v.value->data()),
                                                v.value->size()));
          }
        });
  }

 private:
  Transport& t_;
  uint64_t connection_;  // the inbound connection this bootstrap object serves
};

Transport::Transport(kj::AsyncIoContext& io, TransportOptions options, Handler handler, LogFn log)
    : io_(io),
      opts_(std::move(options)),
      handler_(std::move(handler)),
      log_(std::move(log)),
      tasks_(std::make_unique<kj::TaskSet>(static_cast<kj::TaskSet::ErrorHandler&>(*this))) {
  PC_ASSERT(opts_.self != kNoNode);
}

Transport::~Transport() {
  // Cancel every task first, then drop the connections (members below tasks_ in the
  // class would be destroyed before it; these are above it, so this order is explicit).
  tasks_.reset();
  inbound_.clear();
  out_.clear();
}

void Transport::taskFailed(kj::Exception&& e) {
  // A connection or call failed: peers come and go, the protocol retries. Never fatal.
  if (log_) log_(std::string("transport: ") + e.getDescription().cStr());
}

kj::Promise<void> Transport::listen(const std::string& host, uint16_t port) {
  auto addr = io_.provider->getNetwork().parseAddress(host, port).wait(io_.waitScope);
  auto listener = addr->listen();
  auto& ref = *listener;
  return acceptLoop(ref).attach(kj::mv(listener));
}

kj::Promise<void> Transport::acceptLoop(kj::ConnectionReceiver& listener) {
  return listener.accept().then([this, &listener](kj::Own<kj::AsyncIoStream> stream) {
    capnp::ReaderOptions ro;
    ro.traversalLimitInWords = opts_.traversalLimitWords;
    ro.nestingLimit = static_cast<int>(opts_.nestingLimit);
    auto c = kj::heap<Connection>();
    c->stream = kj::mv(stream);
    c->network =
        kj::heap<capnp::TwoPartyVatNetwork>(*c->stream, capnp::rpc::twoparty::Side::SERVER, ro);
    uint64_t key = nextInbound_++;
    capnp::Capability::Client bootstrap = kj::heap<NodeImpl>(*this, key);
    c->rpc = kj::heap(capnp::makeRpcServer(*c->network, kj::mv(bootstrap)));
    // The connection lives until the peer goes away (or sends garbage: Cap'n Proto then
    // fails this connection alone). It is dropped on a later turn, not inside its callback,
    // together with the sinks of the clients that attached through it (a client that comes
    // back attaches again), so client churn cannot grow memory.
    auto done = c->network->onDisconnect();
    inbound_.emplace(key, kj::mv(c));
    tasks_->add(done.then([this, key]() {
      return kj::evalLater([this, key]() {
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
      });
    }));
    return acceptLoop(listener);
  });
}

void Transport::attachSink(NodeId from, wire::Peer::Client sink, uint64_t connection) {
  if (from == kNoNode) return;
  auto& o = outbound(from);
  o.isSink = true;
  o.sinkConnection = connection;
  sinksByConnection_[connection].insert(from);
  o.sink = kj::mv(sink);
  o.generation++;
  o.inflight = 0;
  flush(o);
}

void Transport::logOnce(NodeId from, const std::string& what) {
  auto [it, inserted] = loggedBad_.emplace(from, what);
  if (inserted && log_) log_("rejected input from node " + std::to_string(from) + ": " + what);
}

void Transport::receive(NodeId from, capnp::List<wire::Message>::Reader msgs) {
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
    return;
  }
  for (auto r : msgs) {
    auto result = fromWire(r, opts_.limits);
    if (auto* why = std::get_if<std::string>(&result)) {
      metrics_.rejected++;
      logOnce(from, *why);
      continue;
    }
    auto& m = std::get<Message>(result);
    metrics_.messagesReceived++;
    metrics_.receivedByKind[kindIndex(m)]++;
    handler_(from, std::move(m));
  }
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
  return it != out_.end() && (it->second->conn.get() != nullptr || it->second->sink != nullptr);
}

void Transport::send(NodeId to, Message msg, std::function<void()> onDelivered) {
  auto& o = outbound(to);
  if (o.queue.size() >= opts_.maxQueuedPerPeer) {
    o.queue.pop_front();  // bounded: a dead peer must not eat our memory
    metrics_.droppedQueue++;
  }
  metrics_.messagesSent++;
  metrics_.sentByKind[kindIndex(msg)]++;
  o.queue.push_back(Outbound::Item{std::move(msg), std::move(onDelivered)});
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
  for (auto& [id, o] : out_) {
    if (!o->queue.empty()) flush(*o);
  }
}

void Transport::flush(Outbound& o) {
  if (o.queue.empty()) return;
  wire::Peer::Client target = nullptr;
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
      o.queue.clear();
      return;
    }
    connect(o);
    return;
  }
  while (!o.queue.empty() && o.inflight < opts_.maxInflightCallsPerPeer) {
    size_t n = std::min(o.queue.size(), opts_.limits.maxBatch);
    auto req = target.deliverRequest();
    req.setFrom(opts_.self);
    auto list = req.initMessages(static_cast<unsigned>(n));
    std::vector<std::function<void()>> callbacks;
    for (size_t i = 0; i < n; ++i) {
      auto& item = o.queue.front();
      toWire(item.msg, list[static_cast<unsigned>(i)]);
      if (item.onDelivered) callbacks.push_back(std::move(item.onDelivered));
      o.queue.pop_front();
    }
    metrics_.rpcCallsSent++;
    o.inflight++;
    uint64_t gen = o.generation;
    NodeId id = o.id;
    tasks_->add(req.send().then(
        [this, id, gen, callbacks = std::move(callbacks)](auto&&) {
          auto it = out_.find(id);
          if (it != out_.end() && it->second->generation == gen) {
            it->second->inflight--;
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

void Transport::onCallFailed(Outbound& o, const kj::Exception& e) {
  metrics_.disconnects++;
  if (log_) log_("peer " + std::to_string(o.id) + " lost: " + e.getDescription().cStr());
  o.generation++;
  o.inflight = 0;
  if (o.isSink) {
    o.sink = nullptr;  // the client went away; it reattaches if it comes back
    metrics_.droppedFailed += o.queue.size();
    o.queue.clear();
    return;
  }
  // Tear down the connection after this turn (we may be inside one of its callbacks).
  tasks_->add(kj::evalLater([c = kj::mv(o.conn)]() mutable { c = nullptr; }));
  o.conn = nullptr;
  if (!o.queue.empty()) connect(o);
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
  auto p = io_.provider->getNetwork()
               .parseAddress(a.host, a.port)
               .then([](kj::Own<kj::NetworkAddress> addr) {
                 return addr->connect().attach(kj::mv(addr));
               })
               .then(
                   [this, id, gen, ro](kj::Own<kj::AsyncIoStream> stream) {
                     auto it = out_.find(id);
                     if (it == out_.end() || it->second->generation != gen) return;
                     Outbound& ob = *it->second;
                     auto c = kj::heap<Connection>();
                     c->stream = kj::mv(stream);
                     c->network = kj::heap<capnp::TwoPartyVatNetwork>(
                         *c->stream, capnp::rpc::twoparty::Side::CLIENT, ro);
                     c->rpc = kj::heap(capnp::makeRpcClient(*c->network));
                     capnp::MallocMessageBuilder vatMsg;
                     auto vat = vatMsg.initRoot<capnp::rpc::twoparty::VatId>();
                     vat.setSide(capnp::rpc::twoparty::Side::SERVER);
                     c->node = c->rpc->bootstrap(vat).castAs<wire::Node>();
                     if (opts_.attachSinkOnConnect) {
                       auto req = c->node.attachRequest();
                       req.setFrom(opts_.self);
                       req.setSink(kj::heap<SinkImpl>(*this));
                       tasks_->add(req.send().ignoreResult());
                     }
                     ob.conn = kj::mv(c);
                     ob.connecting = false;
                     ob.backoffMs = opts_.reconnectBackoffMinMs;
                     metrics_.connects++;
                     if (log_) log_("peer " + std::to_string(id) + " connected");
                     flush(ob);
                   },
                   [this, id, gen](kj::Exception&& e) -> void {
                     metrics_.connectFailures++;
                     auto it = out_.find(id);
                     if (it == out_.end() || it->second->generation != gen) return;
                     Outbound& ob = *it->second;
                     uint32_t delay = ob.backoffMs;
                     ob.backoffMs = std::min(ob.backoffMs * 2, opts_.reconnectBackoffMaxMs);
                     ob.inBackoff = true;
                     (void)e;
                     // Retry with backoff while there is something to send.
                     tasks_->add(io_.provider->getTimer()
                                     .afterDelay(delay * kj::MILLISECONDS)
                                     .then([this, id, gen]() {
                                       auto it2 = out_.find(id);
                                       if (it2 == out_.end() || it2->second->generation != gen)
                                         return;
                                       it2->second->connecting = false;
                                       it2->second->inBackoff = false;
                                       if (!it2->second->queue.empty()) connect(*it2->second);
                                     }));
                   });
  tasks_->add(kj::mv(p));
}

void Transport::connectNow(NodeId peer) {
  auto& o = outbound(peer);
  if (!o.conn && !o.isSink && opts_.peers.count(peer) != 0) connect(o);
}

// Opens a connection of its own to `node`, calls `call(node capability)` and keeps the
// connection until the call's promise settles (one-off requests: get, status).
template <class Call>
auto Transport::withOwnConnection(NodeId node, Call call)
    -> decltype(call(std::declval<wire::Node::Client>())) {
  auto it = opts_.peers.find(node);
  if (it == opts_.peers.end()) return KJ_EXCEPTION(FAILED, "no such node", node);
  return io_.provider->getNetwork()
      .parseAddress(it->second.host, it->second.port)
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([call = kj::mv(call)](kj::Own<kj::AsyncIoStream> stream) mutable {
        auto client = kj::heap<capnp::TwoPartyClient>(*stream);
        auto cap = client->bootstrap().castAs<wire::Node>();
        return call(kj::mv(cap)).attach(kj::mv(client), kj::mv(stream));
      });
}

kj::Promise<kv::Versioned> Transport::get(NodeId participant, const std::string& key) {
  return withOwnConnection(participant, [key](wire::Node::Client node) {
    auto req = node.getRequest();
    req.setKey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(key.data()), key.size()));
    return req.send().then([](capnp::Response<wire::Node::GetResults>&& r) {
      auto v = r.getResult();
      kv::Versioned out;
      out.version = v.getVersion();
      if (v.getFound()) {
        auto d = v.getValue();
        out.value = std::string(reinterpret_cast<const char*>(d.begin()), d.size());
      }
      return out;
    });
  });
}

kj::Promise<capnp::Response<wire::Node::StatusResults>> Transport::status(NodeId node) {
  return withOwnConnection(node, [](wire::Node::Client n) {
    return n.statusRequest().send().then(
        [](capnp::Response<wire::Node::StatusResults>&& r) { return kj::mv(r); });
  });
}

}  // namespace pc::rpc
