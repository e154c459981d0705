// One-off requests on a connection of their own (`pcommit get`, `status`): the transport's
// peers are for protocol messages, and a reader or an operator must not wait behind them.
#include <capnp/rpc-twoparty.h>

#include <utility>

#include "rpc/transport.h"

namespace pc::rpc {

// Opens a connection of its own to `node`, calls `call(node capability)` and keeps the
// connection until the call's promise settles (one-off requests: get, status). Fails with
// DISCONNECTED after oneOffTimeoutMs, connect included (the connection is then dropped).
template <class Call>
auto Transport::withOwnConnection(NodeId node, Call call)
    -> decltype(call(std::declval<wire::Node::Client>())) {
  using Result = decltype(call(std::declval<wire::Node::Client>()));
  auto it = opts_.peers.find(node);
  if (it == opts_.peers.end()) return KJ_EXCEPTION(FAILED, "no such node", node);
  Result work = io_.provider->getNetwork()
                    .parseAddress(it->second.host, it->second.port)
                    .then([](kj::Own<kj::NetworkAddress> addr) {
                      return addr->connect().attach(kj::mv(addr));
                    })
                    .then([this, call = kj::mv(call)](kj::Own<kj::AsyncIoStream> stream) mutable {
                      setKeepalive(*stream);
                      auto client = kj::heap<capnp::TwoPartyClient>(*stream);
                      auto cap = client->bootstrap().castAs<wire::Node>();
                      return call(kj::mv(cap)).attach(kj::mv(client), kj::mv(stream));
                    });
  if (opts_.oneOffTimeoutMs == 0) return work;
  const uint32_t ms = opts_.oneOffTimeoutMs;
  return work.exclusiveJoin(
      afterRealDelay(io_.provider->getTimer(), ms).then([this, node, ms]() -> Result {
        metrics_.callTimeouts++;
        return KJ_EXCEPTION(DISCONNECTED, "no answer in time", node, ms);
      }));
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

kj::Promise<HeuristicAnswer> Transport::resolve(NodeId participant, const TxnId& txn,
                                                std::optional<Outcome> outcome) {
  return withOwnConnection(participant, [this, txn, outcome](wire::Node::Client n) {
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
