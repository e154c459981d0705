// The transport's trust boundary, with real sockets on 127.0.0.1 inside this process: who
// may attach a sink, what a flood of connections or a silent peer can do to a node. If
// these fail, a local user can divert a member's messages, stop a node by opening sockets,
// or hold its outbound queue forever by never answering.
#include "rpc/transport.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/runtime/loop_util.h"
#include "tests/runtime/raw_socket.h"
#include "tests/runtime/transport_util.h"
#include "tests/unit/local_util.h"

namespace pc::rpc {
namespace {

constexpr NodeId kCoordinator = 1;
constexpr NodeId kParticipant = 1001;

using pc::test::runFor;
using pc::test::runUntil;

using pc::test::outcomeFor;
using pc::test::Received;

using pc::test::closedByPeer;
using pc::test::rawConnect;

TEST_CASE("attach: a client claiming a member's id does not take over that member's route") {
  // Issue 12: attach(from=1001) at c1 turned p1's route into the client's sink.
  auto io = kj::setupAsyncIo();
  const uint16_t cPort = test::freePort();
  const uint16_t pPort = test::freePort();
  Received atC, atP, atFake;
  TransportOptions co;
  co.self = kCoordinator;
  co.peers[kParticipant] = PeerAddress{"127.0.0.1", pPort};
  Transport c(io, co, atC.handler(), nullptr);
  auto cListen = c.listen("127.0.0.1", cPort);
  TransportOptions po;
  po.self = kParticipant;
  po.peers[kCoordinator] = PeerAddress{"127.0.0.1", cPort};
  Transport p(io, po, atP.handler(), nullptr);
  auto pListen = p.listen("127.0.0.1", pPort);

  // The impostor: client mode (attaches its sink on connect) under p1's id.
  TransportOptions fo;
  fo.self = kParticipant;
  fo.attachSinkOnConnect = true;
  fo.peers[kCoordinator] = PeerAddress{"127.0.0.1", cPort};
  Transport fake(io, fo, atFake.handler(), nullptr);
  fake.connectNow(kCoordinator);
  runUntil(io, 2000, [&] { return fake.connected(kCoordinator); });
  runFor(io, 50);  // the attach call reaches c1

  c.send(kParticipant, outcomeFor(7));
  CHECK(runUntil(io, 3000, [&] { return !atP.msgs.empty(); }));
  CHECK(atFake.msgs.empty());
  REQUIRE(atP.msgs.size() == 1);
  CHECK(atP.msgs[0].first == kCoordinator);
  CHECK(messageTxn(atP.msgs[0].second) == TxnId{7, 1});
  CHECK(c.metrics().attachRefused == 1);

  // A client id (not a member) still attaches and gets what is sent to it.
  const NodeId client = 0x80000042u;
  TransportOptions clo;
  clo.self = client;
  clo.attachSinkOnConnect = true;
  clo.peers[kCoordinator] = PeerAddress{"127.0.0.1", cPort};
  Received atClient;
  Transport cl(io, clo, atClient.handler(), nullptr);
  cl.connectNow(kCoordinator);
  runUntil(io, 2000, [&] { return cl.connected(kCoordinator); });
  runFor(io, 50);
  c.send(client, outcomeFor(8));
  CHECK(runUntil(io, 3000, [&] { return !atClient.msgs.empty(); }));
  CHECK(c.metrics().attachRefused == 1);
}

TEST_CASE("cluster id: a caller of another cluster is refused; the same id, or none, is served") {
  // Issue 12: node ids are the same in every cluster, so a stale node or an old cluster
  // file on reused ports talked to another cluster. If this fails, it still does.
  auto io = kj::setupAsyncIo();
  const std::string ours = "0123456789abcdef0123456789abcdef";
  const std::string theirs = "fedcba9876543210fedcba9876543210";
  const uint16_t cPort = test::freePort();
  Received atC;
  TransportOptions co;
  co.self = kCoordinator;
  co.clusterId = ours;
  for (NodeId p : {1001u, 1002u, 1003u}) co.peers[p] = PeerAddress{"127.0.0.1", test::freePort()};
  std::vector<std::string> logged;
  Transport c(io, co, atC.handler(), [&](const std::string& l) { logged.push_back(l); });
  auto cListen = c.listen("127.0.0.1", cPort);
  // One sender per case: the same cluster, another cluster, and no cluster id (a file
  // from before the key: nothing to compare).
  auto sender = [&](NodeId self, const std::string& id) {
    TransportOptions o;
    o.self = self;
    o.clusterId = id;
    o.peers[kCoordinator] = PeerAddress{"127.0.0.1", cPort};
    return std::make_unique<Transport>(
        io, o, [](NodeId, Message&&) {}, nullptr);
  };
  auto same = sender(1001, ours);
  auto other = sender(1002, theirs);
  auto none = sender(1003, "");
  other->send(kCoordinator, outcomeFor(2));
  runUntil(io, 3000, [&] { return other->metrics().clusterMismatch > 0; });
  same->send(kCoordinator, outcomeFor(1));
  none->send(kCoordinator, outcomeFor(3));
  CHECK(runUntil(io, 3000, [&] { return atC.msgs.size() >= 2; }));
  runFor(io, 100);
  std::set<NodeId> from;
  for (const auto& [f, m] : atC.msgs) from.insert(f);
  CHECK(from == std::set<NodeId>{1001, 1003});
  CHECK(c.metrics().clusterMismatch == 1);
  CHECK(other->metrics().clusterMismatch == 1);  // the caller learns it was refused
  CHECK(same->metrics().clusterMismatch == 0);
  // Logged once, naming both ids; a second message on a new connection adds no line.
  size_t lines = 0;
  for (const auto& l : logged) {
    if (l.find(theirs) != std::string::npos && l.find(ours) != std::string::npos) ++lines;
  }
  CHECK(lines == 1);
  // A one-off call (get, status) of the foreign caller is refused too.
  std::string error;
  auto st = other->status(kCoordinator)
                .then([](auto&&) {}, [&](kj::Exception&& e) { error = e.getDescription().cStr(); });
  st.wait(io.waitScope);
  CHECK(error.find("another cluster") != std::string::npos);
  bool answered = false;
  same->status(kCoordinator).then([&](auto&&) { answered = true; }).wait(io.waitScope);
  CHECK(answered);
}

TEST_CASE("accept: running out of file descriptors pauses accepting, never stops serving") {
  // Issue 12: EMFILE rejected the accept loop and `serve` exited.
  auto io = kj::setupAsyncIo();
  const uint16_t port = test::freePort();
  Received got;
  TransportOptions o;
  o.self = kCoordinator;
  std::vector<std::string> logged;
  Transport t(io, o, got.handler(), [&](const std::string& l) { logged.push_back(l); });
  std::string stopped;
  auto listening = t.listen("127.0.0.1", port)
                       .catch_([&](kj::Exception&& e) { stopped = e.getDescription().cStr(); })
                       .eagerlyEvaluate(nullptr);

  // Connections queued in the backlog, then a descriptor limit just above what is open:
  // the loop accepts a few, then accept() fails with EMFILE.
  std::vector<int> fds;
  for (int i = 0; i < 32; ++i) fds.push_back(rawConnect(port));
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  int probe = ::dup(0);
  REQUIRE(probe >= 0);
  ::close(probe);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(probe) + 4;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  runFor(io, 300);
  const bool stoppedDuringLimit = listening.poll(io.waitScope);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK_FALSE(stoppedDuringLimit);
  CAPTURE(stopped);
  CHECK(stopped.empty());
  for (int fd : fds) ::close(fd);

  // The limit is gone: a peer connects and delivers as usual.
  TransportOptions so;
  so.self = kParticipant;
  so.peers[kCoordinator] = PeerAddress{"127.0.0.1", port};
  Transport sender(io, so, nullptr, nullptr);
  sender.send(kCoordinator, outcomeFor(9));
  CHECK(runUntil(io, 3000, [&] { return !got.msgs.empty(); }));
  CHECK_FALSE(listening.poll(io.waitScope));
  CHECK(t.metrics().acceptErrors >= 1);
  // Logged once per burst of errors, however many there were, and once when it ends.
  size_t errorLines = 0;
  size_t resumedLines = 0;
  for (const auto& l : logged) {
    errorLines += l.find("accept failed") != std::string::npos;
    resumedLines += l.find("accepting connections again") != std::string::npos;
  }
  CHECK(errorLines == 1);
  CHECK(resumedLines == 1);
}

TEST_CASE("max connections: one beyond the cap is closed at once; those within keep working") {
  // If this fails, a flood of connections takes every descriptor of the node.
  auto io = kj::setupAsyncIo();
  const uint16_t port = test::freePort();
  Received got;
  TransportOptions o;
  o.self = kCoordinator;
  o.maxInboundConnections = 3;
  Transport t(io, o, got.handler(), nullptr);
  auto listening = t.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(rawConnect(port));
  runFor(io, 200);
  int closed = 0;
  for (int fd : fds) closed += closedByPeer(fd);
  CHECK(closed == 5);
  CHECK(t.inboundConnections() == 3);
  CHECK(t.metrics().inboundRefused == 5);
  for (int fd : fds) ::close(fd);
  runFor(io, 100);
  CHECK(t.inboundConnections() == 0);

  // Below the cap again: a peer connects and delivers.
  Transport sender(io, test::optionsTo(kParticipant, kCoordinator, port), nullptr, nullptr);
  sender.send(kCoordinator, outcomeFor(3));
  CHECK(runUntil(io, 3000, [&] { return !got.msgs.empty(); }));
}

TEST_CASE("idle timeout: a connection that never calls is closed; one that called stays") {
  // If this fails, half-open connections hold a node's slots forever.
  auto io = kj::setupAsyncIo();
  const uint16_t port = test::freePort();
  Received got;
  TransportOptions o;
  o.self = kCoordinator;
  o.idleTimeoutMs = 150;
  Transport t(io, o, got.handler(), nullptr);
  auto listening = t.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  int silent = rawConnect(port);
  TransportOptions so;
  so.self = kParticipant;
  so.peers[kCoordinator] = PeerAddress{"127.0.0.1", port};
  Transport sender(io, so, nullptr, nullptr);
  sender.send(kCoordinator, outcomeFor(1));
  REQUIRE(runUntil(io, 2000, [&] { return got.msgs.size() == 1; }));
  runFor(io, 100);
  CHECK_FALSE(closedByPeer(silent));  // not yet: 150 ms have not passed since it connected
  CHECK(runUntil(io, 2000, [&] { return closedByPeer(silent); }));
  CHECK(t.metrics().inboundIdleClosed == 1);
  CHECK(t.inboundConnections() == 1);  // the sender's: it made a call
  runFor(io, 300);
  sender.send(kCoordinator, outcomeFor(2));
  CHECK(runUntil(io, 2000, [&] { return got.msgs.size() == 2; }));
  CHECK(sender.metrics().connects == 1);  // the same connection
  ::close(silent);
}

TEST_CASE("call deadline: a peer that accepts but never answers fails the call, then reconnects") {
  // If this fails, one wedged peer holds its queue (and its messages) forever.
  auto io = kj::setupAsyncIo();
  // A listening socket nobody accepts from: the kernel completes connections, and what is
  // sent to them is never read or answered (a delivery stream's ack never comes).
  test::RawListener wedged;
  TransportOptions o;
  o.self = kCoordinator;
  o.callTimeoutMs = 200;
  o.peers[kParticipant] = PeerAddress{"127.0.0.1", wedged.port()};
  Transport t(io, o, nullptr, nullptr);
  t.send(kParticipant, outcomeFor(1));
  REQUIRE(runUntil(io, 2000, [&] { return t.metrics().connects == 1; }));
  CHECK(t.metrics().droppedFailed == 0);
  CHECK(runUntil(io, 2000, [&] { return t.metrics().callTimeouts >= 1; }));
  CHECK(runUntil(io, 1000, [&] { return t.metrics().droppedFailed == 1; }));
  CHECK(t.metrics().disconnects >= 1);
  // Something new to send: the connection is made again, and times out again.
  t.send(kParticipant, outcomeFor(2));
  CHECK(runUntil(io, 2000, [&] { return t.metrics().connects == 2; }));
  CHECK(runUntil(io, 2000, [&] { return t.metrics().droppedFailed == 2; }));
}

TEST_CASE("deadlines count on the real clock: a loop that sat idle does not time out at once") {
  // If this fails, a blocking client that waited between calls longer than a deadline sees
  // its next `status`/`get` fail, or its connection dropped, before anything happened
  // (KJ's timer is as old as the loop's last poll).
  auto io = kj::setupAsyncIo();
  test::ListeningNode p1(io, kParticipant);
  const uint16_t port = p1.port;
  Received& got = p1.got;
  TransportOptions co;
  co.self = 0x80000001u;
  co.oneOffTimeoutMs = 500;
  co.callTimeoutMs = 300;
  co.peers[kParticipant] = PeerAddress{"127.0.0.1", port};
  Transport client(io, co, nullptr, nullptr);
  client.send(kParticipant, outcomeFor(1));
  REQUIRE(runUntil(io, 2000, [&] { return got.msgs.size() == 1; }));

  // A call leaves, then the loop is not run for longer than either deadline.
  client.send(kParticipant, outcomeFor(2));
  io.waitScope.poll();
  ::usleep(800 * 1000);
  auto status = client.status(kParticipant).wait(io.waitScope);
  CHECK(std::string(status.getStatus().getName().cStr()) == "p1");
  runFor(io, 300);
  CHECK(got.msgs.size() == 2);
  CHECK(client.metrics().callTimeouts == 0);
  CHECK(client.metrics().disconnects == 0);
}

TEST_CASE("client: a commit after the client sat idle longer than its timeout still commits") {
  // If this fails, an application's BlockingClient that waited between transactions longer
  // than timeoutMs gets Unknown for its next commit at once (the timeout counted from the
  // loop's stale timer), though the coordinator commits it.
  auto io = kj::setupAsyncIo();
  const uint16_t port = test::freePort();
  // A fake coordinator c1: commits whatever it is asked to, at once.
  Transport* coordinator = nullptr;
  TransportOptions co;
  co.self = kCoordinator;
  Transport fake(
      io, co,
      [&](NodeId from, Message&& m) {
        if (auto* r = std::get_if<CommitRequest>(&m)) {
          coordinator->send(from, CommitReply{r->txn, TxnStatus::Committed, ""});
        }
      },
      nullptr);
  coordinator = &fake;
  auto listening = fake.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  auto cluster = clusterFromAddresses(
      {"c1=127.0.0.1:" + std::to_string(port), "p1=127.0.0.1:2", "a1=127.0.0.1:3"});
  ClientOptions opts;
  opts.timeoutMs = 500;
  opts.commitFailover = false;
  Client client(io, cluster, opts);
  auto first = client.begin();
  first.put("k", "v1");
  CHECK(first.commit().wait(io.waitScope).committed());
  ::usleep(800 * 1000);  // the application does something else
  auto second = client.begin();
  second.put("k", "v2");
  auto result = second.commit().wait(io.waitScope);
  CAPTURE(result.reason);
  CHECK(result.committed());
}

// A paxos-direct cluster of one fake participant p1 and three fake acceptors a1..a3, on
// 127.0.0.1 in this process. The acceptors listen only once listenAcceptors() is called.
// p1 notes, when a prepare arrives, how many acceptors can reach its sender (the client)
// and when it came.
struct DirectCluster {
  explicit DirectCluster(kj::AsyncIoContext& ioc) : io(ioc), participantPort(test::freePort()) {
    nodes.push_back("p1=127.0.0.1:" + std::to_string(participantPort));
    for (NodeId a = 2001; a <= 2003; ++a) {
      acceptorPorts.push_back(test::freePort());
      nodes.push_back("a" + std::to_string(a - 2000) +
                      "=127.0.0.1:" + std::to_string(acceptorPorts.back()));
      TransportOptions ao;
      ao.self = a;
      acceptors.push_back(std::make_unique<Transport>(
          io, ao, [](NodeId, Message&&) {}, nullptr));
    }
    TransportOptions po;
    po.self = kParticipant;
    participant = std::make_unique<Transport>(
        io, po,
        [this](NodeId from, Message&& m) {
          if (!std::holds_alternative<Prepare>(m)) return;
          size_t routed = 0;
          for (auto& a : acceptors) routed += a->connected(from) ? 1 : 0;
          routedAtPrepare.push_back(routed);
          if (!firstPrepare) firstPrepare = std::chrono::steady_clock::now();
        },
        nullptr);
    listening.push_back(participant->listen("127.0.0.1", participantPort).eagerlyEvaluate(nullptr));
  }
  void listenAcceptors() {
    for (size_t i = 0; i < acceptors.size(); ++i) {
      listening.push_back(
          acceptors[i]->listen("127.0.0.1", acceptorPorts[i]).eagerlyEvaluate(nullptr));
    }
  }
  runtime::ClusterConfig cluster() const {
    return clusterFromAddresses(nodes, Protocol::PaxosDirect);
  }
  kj::AsyncIoContext& io;
  uint16_t participantPort;
  std::vector<std::string> nodes;
  std::vector<uint16_t> acceptorPorts;
  std::vector<std::unique_ptr<Transport>> acceptors;
  std::unique_ptr<Transport> participant;
  std::vector<kj::Promise<void>> listening;
  std::vector<size_t> routedAtPrepare;
  std::optional<std::chrono::steady_clock::time_point> firstPrepare;
};

TEST_CASE("direct mode: no prepare leaves before F+1 acceptors hold the client's route") {
  // If this fails, a paxos-direct client's transaction races its own attach: the votes
  // reach an acceptor before the client's sink does, the acceptor drops its 2b to the
  // client (no route), and the client learns the outcome only by recovery, which loses an
  // abort's reason ("decided earlier ..."). Here the acceptors start listening late, so the
  // race is lost every time unless the client waits.
  auto io = kj::setupAsyncIo();
  DirectCluster dc(io);
  ClientOptions opts;
  opts.timeoutMs = 3000;
  opts.attachWaitMs = 2500;
  Client client(io, dc.cluster(), opts);
  REQUIRE(client.mode() == ClientMode::Direct);
  auto txn = client.begin();
  txn.put("k", "v");
  auto result = txn.commit().eagerlyEvaluate(nullptr);
  runFor(io, 200);
  CHECK(dc.routedAtPrepare.empty());
  dc.listenAcceptors();
  CHECK(runUntil(io, 2000, [&] { return !dc.routedAtPrepare.empty(); }));
  for (size_t routed : dc.routedAtPrepare) CHECK(routed >= 2);  // F+1 with F = 1
}

TEST_CASE("direct mode: with the acceptors down, a commit goes out after attachWaitMs") {
  // If this fails, a direct-mode client started while F+1 acceptors are down never sends
  // its transaction, unlike one that attached before they went down: its behaviour would
  // depend on when it started. Sent, the transaction waits in doubt safely.
  auto io = kj::setupAsyncIo();
  DirectCluster dc(io);
  ClientOptions opts;
  opts.timeoutMs = 1500;
  opts.attachWaitMs = 300;
  Client client(io, dc.cluster(), opts);
  auto txn = client.begin();
  txn.put("k", "v");
  const auto start = std::chrono::steady_clock::now();
  auto result = txn.commit().wait(io.waitScope);
  CHECK(result.unknown());
  CHECK(result.reason.find("only 0 of 3 acceptors took this client's attach") != std::string::npos);
  REQUIRE(!dc.routedAtPrepare.empty());
  CHECK(dc.routedAtPrepare.front() == 0);
  CHECK(*dc.firstPrepare - start >= std::chrono::milliseconds(300));
}

TEST_CASE("direct mode: a client attaches again to an acceptor that came back") {
  // If this fails, a long-lived paxos-direct client whose acceptors restarted never sends
  // them its sink again (it sends them nothing, so nothing made it reconnect): their 2b to
  // it are dropped, and its every transaction ends by recovery, without an abort's reason.
  auto io = kj::setupAsyncIo();
  DirectCluster dc(io);
  dc.listenAcceptors();
  Client client(io, dc.cluster(), ClientOptions{});
  auto attachedTo = [&](Transport& a) { return a.connected(client.id()); };
  REQUIRE(runUntil(io, 2000, [&] {
    return attachedTo(*dc.acceptors[0]) && attachedTo(*dc.acceptors[1]) &&
           attachedTo(*dc.acceptors[2]);
  }));
  // a1 restarts: its process (here, its transport and listener) goes, a new one listens.
  dc.listening.erase(dc.listening.begin() + 1);  // [0] is p1's
  dc.acceptors[0] = nullptr;
  runFor(io, 50);
  TransportOptions ao;
  ao.self = 2001;
  dc.acceptors[0] = std::make_unique<Transport>(
      io, ao, [](NodeId, Message&&) {}, nullptr);
  auto relisten =
      dc.acceptors[0]->listen("127.0.0.1", dc.acceptorPorts[0]).eagerlyEvaluate(nullptr);
  CHECK(runUntil(io, 3000, [&] { return attachedTo(*dc.acceptors[0]); }));
}

TEST_CASE("bounds: claimed sender ids and unknown destinations do not grow memory") {
  // If this fails, a peer that makes up ids (or a node answering them) grows without bound.
  auto io = kj::setupAsyncIo();
  TransportOptions o;
  o.self = kCoordinator;
  o.peers[kParticipant] = PeerAddress{"127.0.0.1", 1};  // nothing listens on port 1
  Transport t(io, o, nullptr, nullptr);
  for (uint64_t i = 0; i < 5000; ++i) t.send(static_cast<NodeId>(0x80000000u + i), outcomeFor(i));
  runFor(io, 20);
  CHECK(t.routes() == 0);  // no route to any of them: dropped, and the routes forgotten
  CHECK(t.metrics().droppedFailed == 5000);
  CHECK(t.metrics().routesDropped == 5000);
}

TEST_CASE("bounds: rejection logs remember at most kMaxLoggedSenders sender ids") {
  // If this fails, a peer that claims a new sender id per bad message grows the node's
  // memory and writes a log line per message.
  auto io = kj::setupAsyncIo();
  const uint16_t port = test::freePort();
  TransportOptions o;
  o.self = kCoordinator;
  std::vector<std::string> logged;
  Transport t(io, o, nullptr, [&](const std::string& l) { logged.push_back(l); });
  auto listening = t.listen("127.0.0.1", port).eagerlyEvaluate(nullptr);
  // A raw Cap'n Proto peer: one deliver() per made-up sender, each with a message whose
  // union is unset (refused at the edge).
  auto addr = io.provider->getNetwork().parseAddress("127.0.0.1", port).wait(io.waitScope);
  auto stream = addr->connect().wait(io.waitScope);
  capnp::TwoPartyClient peer(*stream);
  auto node = peer.bootstrap().castAs<wire::Node>();
  const uint32_t senders = Transport::kMaxLoggedSenders + 500;
  for (uint32_t i = 0; i < senders; ++i) {
    auto req = node.deliverRequest();
    req.setFrom(0x80000000u + i);
    req.initMessages(1);
    req.send().wait(io.waitScope);
  }
  CHECK(t.metrics().rejected == senders);
  CHECK(t.metrics().sendersUnlogged == 500);
  size_t rejectionLines = 0;
  for (const auto& l : logged) rejectionLines += l.rfind("rejected input from", 0) == 0;
  CHECK(rejectionLines == Transport::kMaxLoggedSenders + 1);  // + the one saying "no more"
}

TEST_CASE("queue bound in bytes: the oldest messages are dropped beyond it") {
  // If this fails, large messages to a dead peer can eat the node's memory.
  auto io = kj::setupAsyncIo();
  TransportOptions o;
  o.self = kCoordinator;
  o.maxQueuedBytesPerPeer = 64 << 10;
  o.reconnectBackoffMinMs = 5000;  // stays unreachable for the whole test
  o.peers[kParticipant] = PeerAddress{"127.0.0.1", 1};
  Transport t(io, o, nullptr, nullptr);
  Prepare p;
  p.txn = TxnId{1, 1};
  p.payload = std::string(10000, 'x');
  p.participants = {kParticipant};
  p.leader = kCoordinator;
  for (int i = 0; i < 20; ++i) t.send(kParticipant, p);
  CHECK(t.metrics().droppedQueue == 14);    // 6 of about 10 KB fit in 64 KiB
  p.payload = std::string(100 << 10, 'x');  // larger than the whole bound
  t.send(kParticipant, p);
  CHECK(t.metrics().droppedQueue == 15);  // itself only: the queue keeps its 6
  CHECK(t.metrics().messagesSent == 21);
}

TEST_CASE("net delay: the messages of one turn leave together, one delay later") {
  // If this fails, `--net-delay-us` splits a turn's messages over several calls (each
  // message had its own due time, and the timer released what was due): the receivers
  // then handle and write them apart, and the benchmark (2pc, 16 clients, D = 100 us)
  // measured 9.0 calls and 3.5 synced commits per transaction and 400 txn/s, against 0.7,
  // 0.25 and 2,128 txn/s with one release per turn.
  auto io = kj::setupAsyncIo();
  const uint16_t cPort = test::freePort();
  const uint16_t pPort = test::freePort();
  Received atP;
  TransportOptions co;
  co.self = kCoordinator;
  co.netDelayUs = 3000;
  co.peers[kParticipant] = PeerAddress{"127.0.0.1", pPort};
  Transport c(io, co, nullptr, nullptr);
  auto cListen = c.listen("127.0.0.1", cPort);
  TransportOptions po;
  po.self = kParticipant;
  po.peers[kCoordinator] = PeerAddress{"127.0.0.1", cPort};
  Transport p(io, po, atP.handler(), nullptr);
  auto pListen = p.listen("127.0.0.1", pPort);
  c.connectNow(kParticipant);
  REQUIRE(runUntil(io, 2000, [&] { return c.connected(kParticipant); }));
  runFor(io, 50);  // the attach that introduces c1 is answered
  const uint64_t callsBefore = c.metrics().rpcCallsSent;

  // 200 messages in one turn, the second hundred 1 ms after the first, as when a node's
  // turn makes a synced write between two sends (inline writes block the loop).
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 1; i <= 100; ++i) c.send(kParticipant, outcomeFor(i));
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1)) {
  }
  for (uint64_t i = 101; i <= 200; ++i) c.send(kParticipant, outcomeFor(i));
  REQUIRE(runUntil(io, 3000, [&] { return atP.msgs.size() == 200; }));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= std::chrono::microseconds(3000));      // the delay was applied
  CHECK(c.metrics().rpcCallsSent - callsBefore == 1);  // in one deliver()
  for (uint64_t i = 1; i <= 200; ++i) CHECK(messageTxn(atP.msgs[i - 1].second) == TxnId{i, 1});
}

}  // namespace
}  // namespace pc::rpc
