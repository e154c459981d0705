// What the transport's source files share (rpc/transport.cc, rpc/transport_node.cc,
// rpc/transport_stream.cc): the connection record and the stream frame reader. Internal to
// rpc/.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "rpc/transport.h"

namespace pc::rpc {

// Reads whole Cap'n Proto frames (standard framing) from a stream through one buffer: one
// read(2) usually brings several frames, where Cap'n Proto's own reader makes two or three
// reads per message. A frame larger than maxFrameWords throws before anything is allocated
// for it. The reader next() returns points into the buffer: it must be dropped before
// next() is called again.
class StreamReader {
 public:
  StreamReader(kj::AsyncInputStream& in, capnp::ReaderOptions options, size_t maxFrameWords);
  // The next whole frame; null at the end of the stream (a partial frame at the end is
  // dropped). Throws (kj::Exception) on an oversize or malformed frame header.
  kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> next();

 private:
  kj::Promise<kj::Maybe<kj::Own<capnp::MessageReader>>> fill(size_t needBytes);

  kj::AsyncInputStream& in_;
  capnp::ReaderOptions options_;
  size_t maxFrameWords_;
  kj::Array<capnp::word> buf_;
  size_t begin_ = 0;  // bytes: the unread data is [begin_, end_); begin_ is word-aligned
  size_t end_ = 0;
};

// One established connection: the stream, and either the two-party network, the RPC system
// and the peer's bootstrap capability, or (a delivery stream) its reader and writes.
// Destroyed as a whole when it fails.
struct Transport::Connection {
  bool called = false;  // inbound: the peer has made a call (else the idle timeout closes it)
  PeerAuth auth;        // inbound: who the peer's certificate names (Open without TLS)
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  wire::Node::Client node = nullptr;
  // Delivery stream (transport_stream.cc).
  bool isStream = false;
  kj::Own<StreamReader> reader;
  kj::Own<kj::TaskSet> tasks;  // this connection's writes and reads: cancelled with it
  kj::Promise<void> writeTail = kj::READY_NOW;  // inbound: acks, in order
  uint32_t writesPending = 0;                   // inbound: acks not yet written whole
  bool helloSent = false;                       // outbound: the first frame has left
  uint64_t lastAckId = 0;                       // outbound: the last ackId asked for
  // Outbound liveness (the call deadline's counterpart): every frame written while no ack
  // is awaited asks for one, at most once per ackIntervalMs; the watchdog fails the stream
  // if it does not come in callTimeoutMs. Messages written since that frame are
  // `unconfirmed`: counted lost (droppedFailed) if the stream fails before the ack.
  uint64_t pendingAck = 0;
  kj::TimePoint askedAt = kj::origin<kj::TimePoint>();
  uint64_t unconfirmed = 0;
  std::map<uint64_t, std::vector<std::function<void()>>> awaitingAck;  // outbound, bounded
  NodeId from = kNoNode;    // inbound: the id the first frame named
  uint64_t inboundKey = 0;  // inbound stream: its key in inbound_
  uint64_t helloAckId = 0;  // outbound stream: the first frame's ackId (introduced on its ack)
};

// The route to one destination: a member's connection (RPC or delivery stream) or a
// client's attached sink, and what waits to be sent there.
struct Transport::Outbound {
  NodeId id = kNoNode;
  bool isSink = false;          // a client's attached sink (no reconnect)
  uint64_t sinkConnection = 0;  // the inbound connection it came through
  kj::Own<Connection> conn;
  kj::Maybe<wire::Peer::Client> sink;
  // A client's stream sink: frames to it go on its inbound stream connection (owned by
  // inbound_; the route is removed before the connection is, in dropInbound).
  Connection* sinkStream = nullptr;
  bool connecting = false;
  bool inBackoff = false;  // a failed connect waits for its retry timer
  uint32_t backoffMs = 0;
  uint32_t inflight = 0;
  // While calls are in flight: when the oldest unanswered one was made, or the last
  // answer came (real clock). The call watchdog fails the connection when this is
  // callTimeoutMs old at two ticks in a row (`stallSeen` after the first).
  kj::TimePoint lastProgress = kj::origin<kj::TimePoint>();
  bool stallSeen = false;
  uint64_t generation = 0;  // bumps on each (re)connection; stale callbacks check it
  // The peer answered our attach on the current connection; who waits for that
  // (Transport::introduced). Waiters keep a failed connect retrying with an empty queue.
  bool introduced = false;
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> introWaiters;
  // Transport::keepConnected: reconnect when the connection is lost, even with nothing to
  // send (a client's sink at an acceptor that restarted).
  bool keep = false;
  // Something is owed this peer a connection: queued messages, a waiter, or `keep`.
  bool wantsConnection() const { return !queue.empty() || !introWaiters.empty() || keep; }
  struct Item {
    Message msg;
    std::function<void()> onDelivered;
    size_t bytes = 0;  // approxBytes(msg)
  };
  std::deque<Item> queue;
  size_t queuedBytes = 0;  // sum of the queue's Item::bytes
  void popFront() {
    queuedBytes -= queue.front().bytes;
    queue.pop_front();
  }
  void clearQueue() {
    queue.clear();
    queuedBytes = 0;
  }
};

}  // namespace pc::rpc
