// Delivery streams (rpc/transport_stream.cc) with real sockets in this process: what a
// member writes on the wire, and what a node does with a stream that is not what it should
// be. If these fail, a delivery costs an RPC round trip again, a peer's bytes can stop or
// bloat a node, or a failpoint waiting for a receipt fires before the receipt.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/async-io.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "rpc/transport.h"
#include "tests/runtime/loop_util.h"
#include "tests/runtime/raw_socket.h"
#include "tests/runtime/transport_util.h"
#include "tests/unit/local_util.h"

namespace pc::rpc {
namespace {

using pc::test::runFor;
using pc::test::runUntil;

constexpr NodeId kCoordinator = 1;
constexpr NodeId kParticipant = 1001;
const std::string kPreamble = "pcstrm01";

using pc::test::outcomeFor;
using pc::test::Received;

// The frames in `bytes` (after the preamble, if `preamble`), decoded one by one.
struct Frames {
  std::string bytes;
  std::vector<kj::Array<capnp::word>> copies;  // aligned copies the readers point into
  std::vector<kj::Own<capnp::FlatArrayMessageReader>> readers;
  std::vector<wire::StreamFrame::Reader> frames;
  Frames(std::string b, bool preamble) : bytes(std::move(b)) {
    size_t at = 0;
    if (preamble) {
      REQUIRE(bytes.size() >= kPreamble.size());
      CHECK(bytes.substr(0, kPreamble.size()) == kPreamble);
      at = kPreamble.size();
    }
    while (bytes.size() - at >= sizeof(capnp::word)) {
      auto words = kj::heapArray<capnp::word>((bytes.size() - at) / sizeof(capnp::word));
      std::memcpy(words.begin(), bytes.data() + at, words.size() * sizeof(capnp::word));
      const size_t need = capnp::expectedSizeInWordsFromPrefix(words);
      if (need > words.size()) break;  // a partial frame: not here yet
      readers.push_back(kj::heap<capnp::FlatArrayMessageReader>(words.slice(0, need)));
      frames.push_back(readers.back()->getRoot<wire::StreamFrame>());
      copies.push_back(kj::mv(words));
      at += need * sizeof(capnp::word);
    }
  }
};

std::string frameBytes(capnp::MallocMessageBuilder& b) {
  auto flat = capnp::messageToFlatArray(b);
  auto bytes = flat.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string helloWith(NodeId from, std::vector<uint64_t> txns, uint64_t ackId = 0) {
  capnp::MallocMessageBuilder b;
  auto f = b.initRoot<wire::StreamFrame>();
  f.setFrom(from);
  f.setAckId(ackId);
  auto list = f.initMessages(static_cast<unsigned>(txns.size()));
  for (size_t i = 0; i < txns.size(); ++i)
    toWire(outcomeFor(txns[i]), list[static_cast<unsigned>(i)]);
  return frameBytes(b);
}

// Accepts `t`'s connection at `peer` and reads until its first frame is whole (into
// `got`); returns the socket.
int firstFrame(kj::AsyncIoContext& io, Transport& t, test::RawListener& peer, std::string& got) {
  REQUIRE(runUntil(io, 2000, [&] { return t.metrics().connects == 1; }));
  const int fd = peer.accept();
  REQUIRE(runUntil(io, 2000, [&] {
    test::readAvailable(fd, got);
    return Frames(got, true).frames.size() == 1;
  }));
  return fd;
}

// Writes the preamble and `bytes` on a new connection to `port`, reads until the node
// closes it, and returns what came back (a refusal frame, if the node is right).
std::string untilClosed(kj::AsyncIoContext& io, uint16_t port, const std::string& bytes) {
  const int fd = test::rawConnect(port);
  const std::string out = kPreamble + bytes;
  REQUIRE(::send(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  std::string back;
  CHECK(runUntil(io, 2000, [&] {
    test::readAvailable(fd, back);
    return test::closedByPeer(fd);
  }));
  ::close(fd);
  return back;
}

TEST_CASE("delivery stream: a member's messages leave as one-way frames after the preamble") {
  // If this fails, node-to-node deliveries are RPC calls again (a Call, a Return and a
  // Finish each), or the wire format changed without this file.
  auto io = kj::setupAsyncIo();
  test::RawListener peer;
  TransportOptions o;
  o.self = kCoordinator;
  o.clusterId = "0123456789abcdef0123456789abcdef";
  o.peers[kParticipant] = PeerAddress{"127.0.0.1", peer.port()};
  Transport t(io, o, nullptr, nullptr);
  for (uint64_t i = 1; i <= 3; ++i) t.send(kParticipant, outcomeFor(i));  // one turn
  std::string got;
  const int fd = firstFrame(io, t, peer, got);
  runFor(io, 50);  // nothing more comes: no second frame, nothing to answer
  test::readAvailable(fd, got);
  Frames f(got, true);
  REQUIRE(f.frames.size() == 1);
  CHECK(f.frames[0].getFrom() == kCoordinator);
  CHECK(f.frames[0].getClusterId().size() == 16);  // the first frame introduces the sender
  REQUIRE(f.frames[0].getMessages().size() == 3);
  CHECK(f.frames[0].getAckId() != 0);  // the liveness check's ack, asked once
  CHECK(t.metrics().rpcCallsSent == 1);
  CHECK(t.metrics().messagesSent == 3);

  // Later sends: frames without the introduction, and no new ack asked while one is owed.
  t.send(kParticipant, outcomeFor(4));
  REQUIRE(runUntil(io, 2000, [&] {
    test::readAvailable(fd, got);
    return Frames(got, true).frames.size() == 2;
  }));
  Frames g(got, true);
  CHECK(g.frames[1].getClusterId().size() == 0);
  CHECK(g.frames[1].getAckId() == 0);
  CHECK(g.frames[1].getMessages().size() == 1);
  ::close(fd);
}

TEST_CASE("delivery stream: bad bytes close that stream alone, with a refusal; the node goes on") {
  // If this fails, a peer can make a node allocate what a frame header claims, or keep a
  // stream open while lying about its sender, or stop the node with garbage.
  auto io = kj::setupAsyncIo();
  test::ListeningNode p1(io, kParticipant);
  const uint16_t port = p1.port;
  Received& got = p1.got;
  Transport& node = p1.transport;

  struct Case {
    const char* what;
    std::string bytes;
    const char* refusal;  // in the refusal frame
    size_t delivered;     // messages that reached the node before the stream closed
  };
  // A header claiming one segment of 2^31 - 1 words (16 GiB).
  std::string oversize("\0\0\0\0\xff\xff\xff\x7f", 8);
  // One segment of one word whose root pointer is a far pointer into segment 9.
  std::string farPointer("\0\0\0\0\1\0\0\0\x02\0\0\0\x09\0\0\0", 16);
  std::vector<Case> cases = {
      {"oversize frame", oversize, "larger than the limit", 0},
      {"broken pointer", farPointer, "", 0},
      {"sender id changed", helloWith(kCoordinator, {1}) + helloWith(2, {2}), "another id", 1},
  };
  size_t delivered = 0;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Frames f(untilClosed(io, port, c.bytes), false);
    REQUIRE(f.frames.size() == 1);
    CHECK(std::string(f.frames[0].getRefused().cStr()).find(c.refusal) != std::string::npos);
    delivered += c.delivered;
    CHECK(got.msgs.size() == delivered);
  }
  runFor(io, 50);
  CHECK(node.inboundConnections() == 0);

  // A member still gets through, on a stream of its own.
  Transport sender(io, test::optionsTo(kCoordinator, kParticipant, port), nullptr, nullptr);
  sender.send(kParticipant, outcomeFor(9));
  CHECK(runUntil(io, 2000, [&] { return got.msgs.size() == delivered + 1; }));
  CHECK(messageTxn(got.msgs.back().second) == TxnId{9, 1});
}

TEST_CASE("delivery stream: onDelivered runs once the receiver has read the frame, not before") {
  // If this fails, coordinator.after_prepare_sent (and participant.after_vote_sent) fire
  // when the bytes left, so a chaos test's crash there no longer means "they arrived".
  // (The receiver acks a frame it has read and accepted, just before it hands the frame's
  // messages to its handler in the same turn.)
  auto io = kj::setupAsyncIo();
  test::RawListener peer;
  TransportOptions o;
  o.self = kCoordinator;
  o.peers[kParticipant] = PeerAddress{"127.0.0.1", peer.port()};
  Transport t(io, o, nullptr, nullptr);
  int delivered = 0;
  t.send(kParticipant, outcomeFor(1), [&] { ++delivered; });
  std::string got;
  const int fd = firstFrame(io, t, peer, got);
  runFor(io, 100);
  CHECK(delivered == 0);  // written, read by nobody yet: not delivered
  capnp::MallocMessageBuilder b;
  b.initRoot<wire::StreamFrame>().setAck(Frames(got, true).frames[0].getAckId());
  const std::string ack = frameBytes(b);
  REQUIRE(::send(fd, ack.data(), ack.size(), 0) == static_cast<ssize_t>(ack.size()));
  CHECK(runUntil(io, 2000, [&] { return delivered == 1; }));
  ::close(fd);

  // Against a real node: by the time the ack is read, the node's handler had the message.
  test::ListeningNode p1(io, kParticipant);
  Received& atP = p1.got;
  TransportOptions co = o;
  co.peers[kParticipant] = PeerAddress{"127.0.0.1", p1.port};
  Transport c(io, co, nullptr, nullptr);
  size_t seenAtCallback = 0;
  c.send(kParticipant, outcomeFor(2), [&] { seenAtCallback = atP.msgs.size(); });
  CHECK(runUntil(io, 2000, [&] { return seenAtCallback == 1; }));
}

TEST_CASE("delivery stream: the ack leaves before the frame's messages are handled") {
  // If this fails, a receipt waits behind the handler's synced write, so it reaches the
  // sender together with the answer the handler sends on its own stream: a coordinator
  // armed with coordinator.after_prepare_sent can then see the votes, decide and log
  // commit before the receipts crash it (the e2e resolve test's presumed abort, flaky).
  auto io = kj::setupAsyncIo();
  int fd = -1;
  std::string back;
  bool ackSeenInHandler = false;
  size_t handled = 0;
  Transport node(
      io, test::ListeningNode::optionsFor(kParticipant),
      [&](NodeId, Message&&) {
        ++handled;
        test::readAvailable(fd, back);
        ackSeenInHandler = Frames(back, false).frames.size() == 1;
      },
      nullptr);
  const uint16_t port = test::freePort();
  auto listening = node.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  fd = test::rawConnect(port);
  const std::string out = kPreamble + helloWith(kCoordinator, {1}, 77);
  REQUIRE(::send(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  REQUIRE(runUntil(io, 2000, [&] { return handled == 1; }));
  CHECK(ackSeenInHandler);
  runFor(io, 20);
  test::readAvailable(fd, back);
  Frames f(back, false);
  REQUIRE(f.frames.size() == 1);  // one ack, not two
  CHECK(f.frames[0].getAck() == 77);
  ::close(fd);
}

TEST_CASE("client stream: the first frame asks for a sink; the node's answers come back on it") {
  // If this fails, a client's deliveries are RPC calls again (a Call, a Return and a Finish
  // each way; measured: paxos-direct at one client 20% slower), or a client takes what any
  // peer writes on its connection as its node's messages.
  auto io = kj::setupAsyncIo();
  test::RawListener node;
  const NodeId client = 0x80000042u;
  TransportOptions o = test::optionsTo(client, kCoordinator, node.port());
  o.attachSinkOnConnect = true;
  Received atClient;
  Transport t(io, o, atClient.handler(), nullptr);
  t.send(kCoordinator, outcomeFor(1));
  std::string got;
  const int fd = firstFrame(io, t, node, got);
  Frames f(got, true);
  REQUIRE(f.frames.size() == 1);
  CHECK(f.frames[0].getFrom() == client);
  CHECK(f.frames[0].getSink());
  CHECK(f.frames[0].getMessages().size() == 1);
  CHECK(f.frames[0].getAckId() != 0);  // its ack says the node took the sink (introduced)
  bool introduced = false;
  auto intro = t.introduced(kCoordinator).then([&] { introduced = true; }).eagerlyEvaluate(nullptr);
  runFor(io, 20);
  CHECK(!introduced);
  capnp::MallocMessageBuilder ack;
  ack.initRoot<wire::StreamFrame>().setAck(f.frames[0].getAckId());
  std::string out = frameBytes(ack) + helloWith(kCoordinator, {2, 3});
  REQUIRE(::send(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  CHECK(runUntil(io, 2000, [&] { return atClient.msgs.size() == 2; }));
  CHECK(introduced);
  CHECK(atClient.msgs[0].first == kCoordinator);
  CHECK(messageTxn(atClient.msgs[1].second) == TxnId{3, 1});
  // Messages claiming another sender on this connection: refused, and the connection ends.
  out = helloWith(kParticipant, {4});
  REQUIRE(::send(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  CHECK(runUntil(io, 2000, [&] { return t.metrics().disconnects == 1; }));
  runFor(io, 20);
  CHECK(atClient.msgs.size() == 2);
  ::close(fd);
}

TEST_CASE("client stream: a sink under a member's id is refused and takes no route") {
  // If this fails, anyone who can reach a node's port can divert a member's messages by
  // opening a stream that claims the member's id as a client sink (issue 12 for streams).
  auto io = kj::setupAsyncIo();
  test::RawListener p1;  // p1's address in c1's cluster
  Transport c1(io, test::optionsTo(kCoordinator, kParticipant, p1.port()), nullptr, nullptr);
  const uint16_t port = test::freePort();
  auto listening = c1.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  // The impostor opens a stream to c1 as a client sink under p1's id.
  capnp::MallocMessageBuilder b;
  auto hello = b.initRoot<wire::StreamFrame>();
  hello.setFrom(kParticipant);
  hello.setSink(true);
  Frames f(untilClosed(io, port, frameBytes(b)), false);
  REQUIRE(f.frames.size() == 1);
  CHECK(std::string(f.frames[0].getRefused().cStr()).find("member") != std::string::npos);
  CHECK(c1.metrics().attachRefused == 1);
  // What c1 sends p1 still goes to p1's address, not to the impostor.
  c1.send(kParticipant, outcomeFor(5));
  CHECK(runUntil(io, 2000, [&] { return c1.metrics().connects == 1; }));
}

TEST_CASE("delivery stream: a member takes no messages back on its own outbound stream") {
  // If this fails, whoever answers at a member's address can inject messages as that member
  // by writing them back on the stream (only a client's stream is its sink).
  auto io = kj::setupAsyncIo();
  test::RawListener peer;
  Received atC;
  Transport t(io, test::optionsTo(kCoordinator, kParticipant, peer.port()), atC.handler(), nullptr);
  t.send(kParticipant, outcomeFor(1));
  std::string got;
  const int fd = firstFrame(io, t, peer, got);
  CHECK(!Frames(got, true).frames[0].getSink());
  const std::string out = helloWith(kParticipant, {2});
  REQUIRE(::send(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  CHECK(runUntil(io, 2000, [&] { return t.metrics().disconnects == 1; }));
  CHECK(atC.msgs.empty());
  ::close(fd);
}

TEST_CASE("delivery stream: RPC delivery (streams off) and RPC clients share the node's port") {
  // If this fails, PCOMMIT_DELIVERY=rpc (the comparison) or a client stops working against
  // a node that tells streams from RPC by their first bytes.
  auto io = kj::setupAsyncIo();
  test::ListeningNode p1(io, kParticipant);
  Received& got = p1.got;
  TransportOptions so;
  so.self = kCoordinator;
  so.streams = false;
  so.peers[kParticipant] = PeerAddress{"127.0.0.1", p1.port};
  Transport sender(io, so, nullptr, nullptr);
  int delivered = 0;
  sender.send(kParticipant, outcomeFor(1), [&] { ++delivered; });
  CHECK(runUntil(io, 2000, [&] { return got.msgs.size() == 1 && delivered == 1; }));
  auto status = sender.status(kParticipant).wait(io.waitScope);
  CHECK(std::string(status.getStatus().getName().cStr()) == "p1");
}

TEST_CASE("PCOMMIT_DELIVERY: stream (the default) or rpc; anything else is refused by name") {
  unsetenv("PCOMMIT_DELIVERY");
  CHECK(deliveryStreamsFromEnvironment());
  setenv("PCOMMIT_DELIVERY", "stream", 1);
  CHECK(deliveryStreamsFromEnvironment());
  setenv("PCOMMIT_DELIVERY", "rpc", 1);
  CHECK_FALSE(deliveryStreamsFromEnvironment());
  setenv("PCOMMIT_DELIVERY", "grpc", 1);
  CHECK_THROWS_WITH_AS(deliveryStreamsFromEnvironment(),
                       "PCOMMIT_DELIVERY=grpc: expected stream or rpc", std::runtime_error);
  unsetenv("PCOMMIT_DELIVERY");
}

}  // namespace
}  // namespace pc::rpc
