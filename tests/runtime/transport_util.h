// What the transport tests share (transport_test, stream_test, tls_test): a sample
// message, a handler that keeps what it receives, and a node listening on 127.0.0.1.
#pragma once

#include <kj/async-io.h>

#include <utility>
#include <vector>

#include "rpc/transport.h"
#include "tests/unit/local_util.h"

namespace pc::test {

inline Message outcomeFor(uint64_t n) { return OutcomeMsg{TxnId{n, 1}, Outcome::Commit}; }

struct Received {
  std::vector<std::pair<NodeId, Message>> msgs;
  rpc::Transport::Handler handler() {
    return [this](NodeId from, Message&& m) { msgs.emplace_back(from, std::move(m)); };
  }
};

// Options of a transport as `self` whose one peer `to` listens on 127.0.0.1:port.
inline rpc::TransportOptions optionsTo(NodeId self, NodeId to, uint16_t port) {
  rpc::TransportOptions o;
  o.self = self;
  o.peers[to] = rpc::PeerAddress{"127.0.0.1", port};
  return o;
}

// A transport as node `self` listening on a free port of 127.0.0.1, keeping what it
// receives; its `status` names it "p1".
struct ListeningNode {
  ListeningNode(kj::AsyncIoContext& io, NodeId self)
      : port(freePort()),
        transport(io, optionsFor(self), got.handler(), nullptr),
        listening(transport.listen("127.0.0.1", port).eagerlyEvaluate(nullptr)) {
    transport.setStatusFn([](wire::NodeStatus::Builder b) { b.setName("p1"); });
  }
  static rpc::TransportOptions optionsFor(NodeId self) {
    rpc::TransportOptions o;
    o.self = self;
    return o;
  }
  uint16_t port;
  Received got;
  rpc::Transport transport;
  kj::Promise<void> listening;
};

}  // namespace pc::test
