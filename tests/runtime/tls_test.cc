// Mutual TLS (issue 12) inside this process: the cluster file's tls-* keys, the
// certificates cluster start makes and their checks at load, and the transport's rules for
// each kind of certificate, with real sockets on 127.0.0.1. If these fail, a half TLS
// setup starts as plaintext, a node can speak as another, or a client as a node.
#include <kj/async-io.h>

#include <filesystem>
#include <string>
#include <vector>

#include "rpc/transport.h"
#include "runtime/cluster_config.h"
#include "runtime/tls_certs.h"
#include "tests/runtime/loop_util.h"
#include "tests/runtime/transport_util.h"
#include "tests/unit/local_util.h"

namespace pc {
namespace {

using runtime::ClusterConfig;
using runtime::ConfigError;

const std::string kNodes =
    "[node.c1]\nrole = coordinator\naddress = 127.0.0.1:7100\n"
    "[node.p1]\nrole = participant\naddress = 127.0.0.1:7101\n"
    "[node.a1]\nrole = acceptor\naddress = 127.0.0.1:7201\n"
    "[node.a2]\nrole = acceptor\naddress = 127.0.0.1:7202\n"
    "[node.a3]\nrole = acceptor\naddress = 127.0.0.1:7203\n";

std::string errorOf(const std::string& text) {
  try {
    runtime::parseClusterText(text, "cluster.conf");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

using pc::test::runFor;
using pc::test::runUntil;

using pc::test::Received;

// The nodes above on free ports, with certificates under DIR/tls (as cluster start --tls).
ClusterConfig makeCluster(const std::string& dir) {
  ClusterConfig c =
      runtime::parseClusterText("[cluster]\nprotocol = paxos\n" + kNodes, dir + "/cluster.conf");
  for (auto& n : c.nodes) n.port = test::freePort();
  runtime::createClusterCerts(c, dir + "/tls");
  return c;
}

rpc::TransportOptions nodeOptions(const ClusterConfig& c, const std::string& name,
                                  const std::string& certOf) {
  rpc::TransportOptions o;
  const runtime::NodeInfo* me = c.byName(name);
  o.self = me->id;
  o.selfName = name;
  for (const auto& n : c.nodes) {
    if (n.id != me->id) o.peers[n.id] = rpc::PeerAddress{n.host, n.port};
    o.names[n.id] = n.name;
  }
  o.tls = runtime::loadNodeTls(c, *c.byName(certOf));
  return o;
}

using pc::test::outcomeFor;

}  // namespace

TEST_CASE("cluster file: half a TLS configuration is refused, naming the key") {
  const std::string tls = "tls-ca = ca.pem\ntls-cert = client.pem\ntls-key = client.key\n";
  CHECK(errorOf("[cluster]\n" + tls + kNodes) == "(no error)");
  CHECK(errorOf("[cluster]\ntls-cert = client.pem\ntls-key = k\n" + kNodes)
            .find("tls-cert without tls-ca") != std::string::npos);
  CHECK(errorOf("[cluster]\ntls-ca = ca.pem\n" + kNodes).find("tls-ca without tls-cert") !=
        std::string::npos);
  CHECK(errorOf("[cluster]\ntls-ca = ca.pem\ntls-cert = c.pem\n" + kNodes)
            .find("tls-cert without tls-key") != std::string::npos);
  CHECK(errorOf("[cluster]\n" + tls + "tls-admin-key = a.key\n" + kNodes)
            .find("tls-admin-key without tls-admin-cert") != std::string::npos);
  std::string nodeHalf = kNodes + "tls-cert = a3.pem\n";  // in [node.a3]
  CHECK(errorOf("[cluster]\n" + tls + nodeHalf).find("node.a3: tls-cert without tls-key") !=
        std::string::npos);
  CHECK(errorOf("[cluster]\n" + kNodes + "tls-cert = a3.pem\ntls-key = a3.key\n")
            .find("node.a3: tls-cert without tls-ca") != std::string::npos);
}

TEST_CASE("cluster start --tls: the files, their modes, and the file's keys read back") {
  test::ScratchDir dir("pc-tls-test");
  ClusterConfig c = makeCluster(dir.path);
  CHECK(c.tls.ca == "tls/ca.pem");
  CHECK(c.tls.cert == "tls/client.pem");
  CHECK(c.byName("p1")->tlsKey == "tls/p1.key");
  namespace fs = std::filesystem;
  for (const char* key : {"ca.key", "client.key", "admin.key", "c1.key", "a3.key"}) {
    CHECK(fs::status(dir.path + "/tls/" + key).permissions() ==
          (fs::perms::owner_read | fs::perms::owner_write));
  }
  ClusterConfig back = runtime::parseClusterText(c.render(), c.path);
  CHECK(back.tls.ca == c.tls.ca);
  CHECK(back.tls.adminKey == c.tls.adminKey);
  CHECK(back.byName("a2")->tlsCert == "tls/a2.pem");
  CHECK_NOTHROW(runtime::loadClientTls(back));
  CHECK_NOTHROW(runtime::loadNodeTls(back, *back.byName("c1")));
}

TEST_CASE("loading: a key of another certificate, another CA's certificate, a missing file") {
  test::ScratchDir dir("pc-tls-test");
  ClusterConfig c = makeCluster(dir.path);
  ClusterConfig wrongKey = c;
  wrongKey.tls.key = "tls/p1.key";
  CHECK_THROWS_WITH_AS(runtime::loadClientTls(wrongKey),
                       doctest::Contains("the key does not belong to the certificate"),
                       ConfigError);
  ClusterConfig other = c;
  other.path = dir.path + "/other/cluster.conf";
  runtime::createClusterCerts(other, dir.path + "/other/tls");
  ClusterConfig foreign = c;
  foreign.tls.cert = "other/tls/client.pem";
  foreign.tls.key = "other/tls/client.key";
  CHECK_THROWS_WITH_AS(runtime::loadClientTls(foreign), doctest::Contains("not signed by tls-ca"),
                       ConfigError);
  ClusterConfig missing = c;
  missing.nodes.front().tlsKey = "tls/nope.key";
  CHECK_THROWS_WITH_AS(runtime::loadNodeTls(missing, missing.nodes.front()),
                       doctest::Contains("tls-key = tls/nope.key: cannot read"), ConfigError);
}

TEST_CASE("transport: a node's certificate speaks only as that node") {
  test::ScratchDir dir("pc-tls-test");
  ClusterConfig c = makeCluster(dir.path);
  auto io = kj::setupAsyncIo();
  const NodeId c1 = c.byName("c1")->id, p1 = c.byName("p1")->id;
  Received atC, atP, atFake;
  rpc::Transport tc(io, nodeOptions(c, "c1", "c1"), atC.handler(), nullptr);
  rpc::Transport tp(io, nodeOptions(c, "p1", "p1"), atP.handler(), nullptr);
  auto lc = tc.listen("127.0.0.1", c.byName("c1")->port);
  auto lp = tp.listen("127.0.0.1", c.byName("p1")->port);
  tc.send(p1, outcomeFor(1));
  REQUIRE(runUntil(io, 3000, [&] { return atP.msgs.size() == 1; }));
  CHECK(atP.msgs[0].first == c1);

  // a1's certificate claiming to be c1: the handshake succeeds (a1 is of this cluster),
  // every deliver is refused, nothing reaches p1.
  rpc::Transport fake(io, nodeOptions(c, "c1", "a1"), atFake.handler(), nullptr);
  fake.send(p1, outcomeFor(2));
  CHECK(runUntil(io, 3000, [&] { return tp.metrics().tlsRefused >= 1; }));
  runFor(io, 50);
  CHECK(atP.msgs.size() == 1);

  // Plaintext to a TLS node: refused at the handshake.
  rpc::TransportOptions plain = nodeOptions(c, "c1", "c1");
  plain.tls = nullptr;
  rpc::Transport pt(io, plain, atFake.handler(), nullptr);
  const uint64_t before = tp.metrics().tlsRefused;
  pt.send(p1, outcomeFor(3));
  CHECK(runUntil(io, 3000, [&] { return tp.metrics().tlsRefused > before; }));
  runFor(io, 50);
  CHECK(atP.msgs.size() == 1);
  CHECK(atFake.msgs.empty());
}

TEST_CASE("transport: a client certificate may commit and ask, never send a node message") {
  test::ScratchDir dir("pc-tls-test");
  ClusterConfig c = makeCluster(dir.path);
  auto io = kj::setupAsyncIo();
  const NodeId a1 = c.byName("a1")->id;
  Received atA, atClient;
  rpc::Transport ta(io, nodeOptions(c, "a1", "a1"), atA.handler(), nullptr);
  auto la = ta.listen("127.0.0.1", c.byName("a1")->port);
  rpc::TransportOptions co;
  co.self = 0x80000007u;
  co.attachSinkOnConnect = true;
  for (const auto& n : c.nodes) {
    co.peers[n.id] = rpc::PeerAddress{n.host, n.port};
    co.names[n.id] = n.name;
  }
  co.tls = runtime::loadClientTls(c);
  rpc::Transport client(io, co, atClient.handler(), nullptr);
  client.send(a1, OutcomeQuery{TxnId{5, 1}, {}});
  REQUIRE(runUntil(io, 3000, [&] { return atA.msgs.size() == 1; }));
  CHECK(atA.msgs[0].first == co.self);

  Phase2b forged;
  forged.txn = TxnId{6, 1};
  forged.acceptor = a1;
  client.send(a1, forged);
  CHECK(runUntil(io, 3000, [&] { return ta.metrics().tlsRefused >= 1; }));
  runFor(io, 50);
  CHECK(atA.msgs.size() == 1);
}

}  // namespace pc

namespace pc {

TEST_CASE("transport: TLS status calls share one pooled connection, and survive a restart") {
  // Without the pool every get or status pays a TLS handshake; with a stale pooled
  // connection (the node restarted) the next call must still succeed.
  test::ScratchDir dir("pc-tls-test");
  ClusterConfig c = makeCluster(dir.path);
  auto io = kj::setupAsyncIo();
  const NodeId a1 = c.byName("a1")->id;
  const uint16_t port = c.byName("a1")->port;
  Received atA, atC;
  auto ta =
      std::make_unique<rpc::Transport>(io, nodeOptions(c, "a1", "a1"), atA.handler(), nullptr);
  auto la = ta->listen("127.0.0.1", port);
  rpc::Transport tc(io, nodeOptions(c, "c1", "c1"), atC.handler(), nullptr);
  for (int i = 0; i < 3; ++i) CHECK_NOTHROW(tc.status(a1).wait(io.waitScope));
  CHECK(ta->metrics().tlsHandshakes == 1);

  rpc::TransportOptions fresh = nodeOptions(c, "c1", "c1");
  fresh.poolOneOff = false;
  rpc::Transport unpooled(io, fresh, atC.handler(), nullptr);
  for (int i = 0; i < 3; ++i) CHECK_NOTHROW(unpooled.status(a1).wait(io.waitScope));
  CHECK(ta->metrics().tlsHandshakes == 4);

  la = nullptr;  // a1 "restarts": its connections close, a new transport listens
  ta = nullptr;
  ta = std::make_unique<rpc::Transport>(io, nodeOptions(c, "a1", "a1"), atA.handler(), nullptr);
  la = ta->listen("127.0.0.1", port);
  CHECK_NOTHROW(tc.status(a1).wait(io.waitScope));
  CHECK(ta->metrics().tlsHandshakes == 1);
}

}  // namespace pc
