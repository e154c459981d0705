// What the transport's source files share (rpc/transport.cc, rpc/transport_node.cc): the
// connection record. Internal to rpc/.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>

#include "rpc/transport.h"

namespace pc::rpc {

// One established outbound connection: the stream, the two-party network, the RPC system
// and the peer's bootstrap capability. Destroyed as a whole when it fails.
struct Transport::Connection {
  bool called = false;  // inbound: the peer has made a call (else the idle timeout closes it)
  PeerAuth auth;        // inbound: who the peer's certificate names (Open without TLS)
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  wire::Node::Client node = nullptr;
};

}  // namespace pc::rpc
