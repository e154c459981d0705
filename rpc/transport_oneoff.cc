// One-off requests on a connection of their own (`pcommit get`, `status`): the transport's
// peers are for protocol messages, and a reader or an operator must not wait behind them.
#include <capnp/rpc-twoparty.h>

// GCC 12 reports kj::ExceptionOr<kv::Versioned>'s std::optional<std::string> as maybe
// uninitialized once get's promise chain is inlined into the pooled-connection path: a
// false positive (ExceptionOr constructs it), so silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <utility>

#include "rpc/transport.h"

namespace pc::rpc {

// A connection for one-off requests: with TLS, kept in oneOffPool_ and shared by the
// calls made through it (each call holds a reference until it settles).
struct Transport::OneOff : public kj::Refcounted {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> client;
  wire::Node::Client cap = nullptr;
  kj::Promise<void> introduced = nullptr;  // the attach naming our cluster (identity)
};

kj::Promise<kj::Own<Transport::OneOff>> Transport::openOneOff(NodeId node, const Tls* tls) {
  auto it = opts_.peers.find(node);
  if (it == opts_.peers.end()) return KJ_EXCEPTION(FAILED, "no such node", node);
  return io_.provider->getNetwork()
      .parseAddress(it->second.host, it->second.port)
      .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect().attach(kj::mv(addr)); })
      .then([this, node,
             tls](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<kj::Own<kj::AsyncIoStream>> {
        if (!tls) return kj::mv(stream);
        return secureOutbound(kj::mv(stream), node, tls);
      })
      .then([this](kj::Own<kj::AsyncIoStream> stream) {
        setKeepalive(*stream);
        auto c = kj::refcounted<OneOff>();
        c->stream = kj::mv(stream);
        c->client = kj::heap<capnp::TwoPartyClient>(*c->stream);
        c->cap = c->client->bootstrap().castAs<wire::Node>();
        // Our cluster first (E-order: before any call on it); a node of another cluster
        // refuses the calls that follow, so their answers are never used. Not waited for:
        // the calls pipeline behind it.
        auto hello = c->cap.attachRequest();
        hello.setFrom(opts_.self);
        setClusterId(hello);
        c->introduced = hello.send().ignoreResult().eagerlyEvaluate([](kj::Exception&&) {});
        return c;
      });
}

// Calls `call(node capability)` on a connection of its own to `node` (one-off requests:
// get, status), kept until the call's promise settles. Fails with DISCONNECTED after
// oneOffTimeoutMs, connect included. Plaintext: a new connection per call, as cheap as a
// TCP connect. TLS (and poolOneOff): the connection is kept for the next call to `node`
// with the same certificate, so a reader does not pay a handshake per get; one that
// turns out dead (the node restarted) is dropped and the call tried once on a new one.
template <class Call>
auto Transport::withOwnConnection(NodeId node, const Tls* tls, Call call)
    -> decltype(call(std::declval<wire::Node::Client>())) {
  using Result = decltype(call(std::declval<wire::Node::Client>()));
  const bool pooled = tls != nullptr && opts_.poolOneOff;
  const auto key = std::make_pair(node, tls);
  kj::Promise<kj::Own<OneOff>> conn = nullptr;
  bool reused = false;
  if (auto p = oneOffPool_.find(key); pooled && p != oneOffPool_.end()) {
    conn = kj::addRef(*p->second.conn);
    reused = true;
  } else {
    conn = openOneOff(node, tls);
    if (pooled) {
      conn = conn.then([this, key](kj::Own<OneOff> c) {
        oneOffPool_[key] = PooledOneOff{kj::addRef(*c), c.get()};
        return c;
      });
    }
  }
  Result work = conn.then([call](kj::Own<OneOff> c) mutable {
    auto cap = c->cap;
    return call(kj::mv(cap)).attach(kj::mv(c));
  });
  if (opts_.oneOffTimeoutMs != 0) {
    const uint32_t ms = opts_.oneOffTimeoutMs;
    work = work.exclusiveJoin(
        afterRealDelay(io_.provider->getTimer(), ms).then([this, node, ms]() -> Result {
          metrics_.callTimeouts++;
          return KJ_EXCEPTION(DISCONNECTED, "no answer in time", node, ms);
        }));
  }
  if (!pooled) return work;
  return work.catch_([this, key, reused, node, tls, call](kj::Exception&& e) mutable -> Result {
    if (e.getType() != kj::Exception::Type::DISCONNECTED) return kj::mv(e);
    oneOffPool_.erase(key);
    if (!reused) return kj::mv(e);
    return withOwnConnection(node, tls, kj::mv(call));
  });
}

kj::Promise<kv::Versioned> Transport::get(NodeId participant, const std::string& key) {
  return withOwnConnection(participant, opts_.tls.get(), [key](wire::Node::Client node) {
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
  const Tls* tls = opts_.statusTls ? opts_.statusTls.get() : opts_.tls.get();
  return withOwnConnection(node, tls, [](wire::Node::Client n) {
    return n.statusRequest().send().then(
        [](capnp::Response<wire::Node::StatusResults>&& r) { return kj::mv(r); });
  });
}

kj::Promise<HeuristicAnswer> Transport::resolve(NodeId participant, const TxnId& txn,
                                                std::optional<Outcome> outcome) {
  return withOwnConnection(
      participant, opts_.statusTls ? opts_.statusTls.get() : opts_.tls.get(),
      [this, txn, outcome](wire::Node::Client n) {
        auto req = n.resolveRequest();
        req.setFrom(opts_.self);
        setTxn(req.initTxn(), txn);
        req.setOutcome(resolveOutcomeToWire(outcome));
        return req.send().then([this](capnp::Response<wire::Node::ResolveResults>&& r) {
          auto a = fromWire(r.getAnswer(), opts_.limits);
          if (const auto* bad = std::get_if<std::string>(&a)) {
            return kj::Promise<HeuristicAnswer>(
                KJ_EXCEPTION(FAILED, "invalid resolve answer", bad->c_str()));
          }
          return kj::Promise<HeuristicAnswer>(std::get<HeuristicAnswer>(kj::mv(a)));
        });
      });
}

}  // namespace pc::rpc
