// The client API without a cluster: node lists, modes, transaction building, and the
// answers a client gives when nobody answers. If these fail, applications get a client that
// routes keys differently from the documented hash, accepts a mode the cluster cannot
// serve, or reports a commit nobody confirmed as anything but Unknown.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"

namespace pc {
namespace {

// Ports nothing listens on (1..3 need root to bind; connections are refused at once).
const std::vector<std::string> kNodes = {"a2=127.0.0.1:3", "p1=127.0.0.1:2", "c1=127.0.0.1:1",
                                         "a1=127.0.0.1:4", "p2=127.0.0.1:5", "a3=127.0.0.1:6"};

std::string configError(const std::vector<std::string>& nodes, Protocol p = Protocol::Paxos) {
  try {
    clusterFromAddresses(nodes, p);
  } catch (const runtime::ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string modeError(const runtime::ClusterConfig& cluster, ClientMode mode) {
  auto io = kj::setupAsyncIo();
  ClientOptions o;
  o.mode = mode;
  try {
    Client c(io, cluster, o);
  } catch (const runtime::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("clusterFromAddresses: roles and ids from the names, sorted by id, F from 2F+1") {
  auto c = clusterFromAddresses(kNodes, Protocol::TwoPC);
  CHECK((c.protocol == Protocol::TwoPC));
  CHECK(c.f == 1);
  REQUIRE(c.nodes.size() == 6);
  std::vector<std::string> names;
  for (const auto& n : c.nodes) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"c1", "p1", "p2", "a1", "a2", "a3"});
  CHECK(c.byName("p2")->id == 1002);
  CHECK((c.byName("p2")->role == runtime::Role::Participant));
  CHECK(c.byName("a2")->address() == "127.0.0.1:3");
  CHECK(clusterFromAddresses({"p1=h:1", "a1=h:2"}).f == 0);
  // IPv6-style hosts: the port is after the last colon.
  CHECK(clusterFromAddresses({"p1=::1:7000", "a1=::1:7001"}).byName("p1")->host == "::1");
}

TEST_CASE("clusterFromAddresses: every bad entry is refused, naming it") {
  CHECK(configError({"p1", "a1=h:2"}).find("'p1': expected NAME=HOST:PORT") != std::string::npos);
  CHECK(configError({"x1=h:1", "a1=h:2"}).find("bad node name 'x1'") != std::string::npos);
  CHECK(configError({"p01=h:1", "a1=h:2"}).find("bad node name 'p01'") != std::string::npos);
  CHECK(configError({"p1=h", "a1=h:2"}).find("'p1=h': bad address") != std::string::npos);
  CHECK(configError({"p1=h:0", "a1=h:2"}).find("bad address") != std::string::npos);
  CHECK(configError({"p1=h:65536", "a1=h:2"}).find("bad address") != std::string::npos);
  CHECK(configError({"p1=:5", "a1=h:2"}).find("bad address") != std::string::npos);
  CHECK(configError({"p1=h:1", "p1=h:2", "a1=h:3"}).find("p1 is listed twice") !=
        std::string::npos);
  CHECK(configError({"p1=h:1", "p2=h:1", "a1=h:3"}).find("h:1 is already used") !=
        std::string::npos);
  CHECK(configError({"p1=h:1", "a1=h:2", "a2=h:3"}).find("2 acceptors") != std::string::npos);
  CHECK(configError({"p1=h:1"}).find("0 acceptors") != std::string::npos);
  CHECK(configError({"c1=h:1", "a1=h:2"}).find("no participant") != std::string::npos);
}

TEST_CASE("client modes: names round-trip; a mode the cluster cannot serve is refused") {
  for (ClientMode m : {ClientMode::Auto, ClientMode::Coordinator, ClientMode::Direct}) {
    CHECK((parseClientMode(toString(m)) == m));
  }
  CHECK_FALSE(parseClientMode("paxos-direct").has_value());

  auto twoPc = clusterFromAddresses(kNodes, Protocol::TwoPC);
  CHECK(modeError(twoPc, ClientMode::Direct).find("direct needs a Paxos protocol") !=
        std::string::npos);
  CHECK(modeError(twoPc, ClientMode::Coordinator).empty());
  // 2pc-replicated: the coordinator alone proposes; a client cannot lead its ballot 0.
  auto repl = clusterFromAddresses(kNodes, Protocol::TwoPCReplicated);
  CHECK(modeError(repl, ClientMode::Direct).find("direct needs a Paxos protocol") !=
        std::string::npos);
  CHECK(modeError(repl, ClientMode::Coordinator).empty());
  auto noCoordinator =
      clusterFromAddresses({"p1=127.0.0.1:2", "a1=127.0.0.1:4"}, Protocol::PaxosDirect);
  CHECK(modeError(noCoordinator, ClientMode::Coordinator).find("needs a coordinator") !=
        std::string::npos);
  CHECK(modeError(noCoordinator, ClientMode::Direct).empty());

  auto io = kj::setupAsyncIo();
  CHECK((Client(io, noCoordinator).mode() == ClientMode::Direct));  // auto on paxos-direct
  CHECK((Client(io, clusterFromAddresses(kNodes, Protocol::Paxos)).mode() ==
         ClientMode::Coordinator));
  ClientOptions direct;
  direct.mode = ClientMode::Direct;
  CHECK((Client(io, clusterFromAddresses(kNodes, Protocol::PaxosClassic), direct).mode() ==
         ClientMode::Direct));
}

TEST_CASE("a transaction groups its ops by participant: the key's hash, or the one named") {
  auto io = kj::setupAsyncIo();
  Client client(io, clusterFromAddresses(kNodes));
  auto txn = client.begin();
  const TxnId id = txn.id();
  CHECK_FALSE(id.isZero());
  txn.put("k1", "v1").del("k2").expect("k3", 7).put("pinned", "x", 1002);
  std::map<NodeId, std::vector<kv::Op>> want;
  want[client.participantFor("k1")].push_back(kv::Op{kv::OpKind::Put, "k1", "v1", 0});
  want[client.participantFor("k2")].push_back(kv::Op{kv::OpKind::Del, "k2", "", 0});
  want[client.participantFor("k3")].push_back(kv::Op{kv::OpKind::Expect, "k3", "", 7});
  want[1002].push_back(kv::Op{kv::OpKind::Put, "pinned", "x", 0});
  CHECK(txn.ops() == want);
  CHECK(txn.id() == id);
  CHECK(client.begin().id() != id);
  // Both participants get keys from the hash (so routing does not collapse to one).
  std::set<NodeId> used;
  for (int i = 0; i < 32; ++i) used.insert(client.participantFor("key-" + std::to_string(i)));
  CHECK(used == std::set<NodeId>{1001, 1002});
}

TEST_CASE("nobody answers: a commit is Unknown with its id after timeoutMs, never aborted") {
  auto io = kj::setupAsyncIo();
  ClientOptions o;
  o.timeoutMs = 300;
  o.retryMs = 100;
  Client client(io, clusterFromAddresses(kNodes), o);
  auto txn = client.begin();
  txn.put("k", "v");
  auto r = txn.commit().wait(io.waitScope);
  CHECK(r.txn == txn.id());
  CHECK(r.unknown());
  CHECK_FALSE(r.committed());
  CHECK_FALSE(r.aborted());
  CHECK(r.reason.find("no outcome within 300 ms") != std::string::npos);
  // Retrying is committing the same transaction again: same id, same (honest) answer.
  auto again = txn.commit().wait(io.waitScope);
  CHECK(again.txn == txn.id());
  CHECK(again.unknown());
  // Nothing to commit is not a transaction.
  auto empty = client.begin().commit().wait(io.waitScope);
  CHECK(empty.aborted());
  CHECK(empty.reason == "empty transaction");
}

TEST_CASE("the blocking client builds transactions the same way") {
  BlockingClient client(clusterFromAddresses(kNodes));
  auto t = client.begin().put("a", "1").expect("b", 0);
  CHECK(t.ops().size() <= 2);
  size_t ops = 0;
  for (const auto& [p, list] : t.ops()) {
    CHECK((p == 1001 || p == 1002));
    ops += list.size();
  }
  CHECK(ops == 2);
  CHECK(client.cluster().nodes.size() == 6);
}

}  // namespace
}  // namespace pc
