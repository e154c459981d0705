// The inbound side of the transport: the `Node` bootstrap interface each accepted
// connection is served (deliver, attach, status, get, resolve), with the edge checks every
// call passes first (another cluster, TLS certificate rules), and serving a connection.
#include <utility>

#include "paxos_commit/assert.h"
#include "rpc/transport_internal.h"

namespace pc::rpc {

// The bootstrap object of one inbound connection. Every method first marks the connection
// as used (`called`, owned by the Connection, which outlives its RPC system and so this).
// With TLS, what the peer's certificate permits is checked first (transport_tls.cc).
class Transport::NodeImpl final : public wire::Node::Server {
 public:
  NodeImpl(Transport& t, uint64_t connection, Connection& c)
      : t_(t), connection_(connection), called_(c.called), auth_(c.auth) {}
  kj::Promise<void> deliver(DeliverContext context) override {
    refuseForeign();
    called_ = true;
    auto p = context.getParams();
    if (auth_.kind == PeerAuth::Kind::Open) {
      t_.receive(p.getFrom(), p.getMessages());
    } else {
      t_.receiveAuthenticated(auth_, p.getFrom(), p.getMessages());
    }
    return kj::READY_NOW;
  }
  kj::Promise<void> attach(AttachContext context) override {
    refuseForeign();
    auto p = context.getParams();
    if (t_.foreignCluster(p.getFrom(), p.getClusterId())) {
      // Every later call on this connection fails too; it counts as never used, so the
      // idle timeout closes it if the caller does not.
      foreign_ = true;
      throw KJ_EXCEPTION(FAILED, "attach refused: the caller is of another cluster", p.getFrom());
    }
    called_ = true;
    if (auth_.kind != PeerAuth::Kind::Open) t_.checkAttach(auth_, p.getFrom(), p.hasSink());
    // A node introduces itself without a sink: its route is the connection we open to it.
    if (p.hasSink()) t_.attachSink(p.getFrom(), p.getSink(), connection_);
    return kj::READY_NOW;
  }
  kj::Promise<void> status(StatusContext context) override {
    refuseForeign();
    called_ = true;
    if (auth_.kind != PeerAuth::Kind::Open) t_.checkStatus(auth_);
    if (t_.statusFn_) t_.statusFn_(context.getResults().initStatus());
    return kj::READY_NOW;
  }
  kj::Promise<void> get(GetContext context) override {
    refuseForeign();
    called_ = true;  // any certificate of the cluster may read
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
  kj::Promise<void> resolve(ResolveContext context) override {
    refuseForeign();
    called_ = true;
    // An operator's decision: a node or admin certificate, as for status (never a client's).
    if (auth_.kind != PeerAuth::Kind::Open) t_.checkStatus(auth_);
    auto p = context.getParams();
    auto outcome = resolveOutcomeFromWire(p.getOutcome());
    if (std::holds_alternative<std::string>(outcome)) {
      throw KJ_EXCEPTION(FAILED, "resolve: invalid outcome");
    }
    if (!t_.resolveFn_) {
      HeuristicAnswer a;
      a.reason = "this node holds no transactions (not a participant)";
      toWire(a, context.getResults().initAnswer());
      return kj::READY_NOW;
    }
    return t_.resolveFn_(p.getFrom(), getTxn(p.getTxn()), std::get<std::optional<Outcome>>(outcome))
        .then(
            [context](HeuristicAnswer a) mutable { toWire(a, context.getResults().initAnswer()); });
  }

 private:
  void refuseForeign() const {
    if (foreign_) throw KJ_EXCEPTION(FAILED, "refused: a connection of another cluster");
  }

  Transport& t_;
  uint64_t connection_;  // the inbound connection this bootstrap object serves
  bool& called_;
  bool foreign_ = false;  // its attach named another cluster
  PeerAuth& auth_;
};

void Transport::serveInbound(kj::Own<kj::AsyncIoStream> stream, PeerAuth auth) {
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = opts_.traversalLimitWords;
  ro.nestingLimit = static_cast<int>(opts_.nestingLimit);
  auto c = kj::heap<Connection>();
  c->stream = kj::mv(stream);
  c->auth = std::move(auth);
  c->network =
      kj::heap<capnp::TwoPartyVatNetwork>(*c->stream, capnp::rpc::twoparty::Side::SERVER, ro);
  uint64_t key = nextInbound_++;
  capnp::Capability::Client bootstrap = kj::heap<NodeImpl>(*this, key, *c);
  c->rpc = kj::heap(capnp::makeRpcServer(*c->network, kj::mv(bootstrap)));
  // The connection lives until the peer goes away (or sends garbage: Cap'n Proto then
  // fails this connection alone), or until the idle timeout if it never made a call (a
  // half-open or stalled connection must not hold a slot). It is dropped on a later turn,
  // not inside its callback, together with the sinks of the clients that attached through
  // it (a client that comes back attaches again), so client churn cannot grow memory.
  auto done = c->network->onDisconnect();
  inbound_.emplace(key, kj::mv(c));
  tasks_->add(done.exclusiveJoin(untilIdle(key)).then([this, key]() {
    return kj::evalLater([this, key]() { dropInbound(key); });
  }));
}

kj::Promise<void> Transport::untilIdle(uint64_t key) {
  if (opts_.idleTimeoutMs == 0) return kj::NEVER_DONE;
  return io_.provider->getTimer()
      .afterDelay(opts_.idleTimeoutMs * kj::MILLISECONDS)
      .then([this, key]() -> kj::Promise<void> {
        auto it = inbound_.find(key);
        if (it == inbound_.end() || it->second->called) return kj::NEVER_DONE;
        metrics_.inboundIdleClosed++;
        return kj::READY_NOW;
      });
}

}  // namespace pc::rpc
