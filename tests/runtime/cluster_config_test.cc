// The cluster file (runtime/cluster_config.h): good files parse to the expected config,
// every kind of bad file is refused with a message naming the line and the bad key, and
// render() parses back to the same config.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/cluster_config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace pc;
using namespace pc::runtime;

namespace {

// Line numbers matter to the tests below: keep this text's lines where they are.
const char* const kGood =
    "# a hand-written cluster file\n"         // 1
    "[cluster]\n"                             // 2
    "protocol = paxos-classic   # comment\n"  // 3
    "f = 1\n"                                 // 4
    "fanout = quorum\n"                       // 5
    "tick-ms = 10\n"                          // 6
    "recovery-timeout-ms = 1000\n"            // 7
    "leader-timeout-ms = 2000\n"              // 8
    "\n"                                      // 9
    "[node.p2]\n"                             // 10
    "role = participant\n"                    // 11
    "address = 127.0.0.1:7102\n"              // 12
    "[node.c1]\n"                             // 13
    "  role=coordinator  \n"                  // 14
    "address = 127.0.0.1:7100\n"              // 15
    "data = /var/lib/pc/c1\n"                 // 16
    "[node.p1]\n"                             // 17
    "role = participant\n"                    // 18
    "address = localhost:7101\n"              // 19
    "data = shards/p1\n"                      // 20
    "[node.a1]\n"                             // 21
    "role = acceptor\n"                       // 22
    "address = 127.0.0.1:7201\n"              // 23
    "[node.a2]\n"                             // 24
    "role = acceptor\n"                       // 25
    "address = 127.0.0.1:7202\n"              // 26
    "[node.a3]\n"                             // 27
    "role = acceptor\n"                       // 28
    "address = 127.0.0.1:7203\n";             // 29

// Replaces line `number` (1-based) of kGood; "" deletes its content (the line stays, so
// the other numbers hold).
std::string withLine(int number, const std::string& replacement) {
  std::string text = kGood;
  size_t start = 0;
  for (int i = 1; i < number; ++i) start = text.find('\n', start) + 1;
  size_t end = text.find('\n', start);
  return text.substr(0, start) + replacement + text.substr(end);
}

std::string errorOf(const std::string& text) {
  try {
    parseClusterText(text, "cluster.conf");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

bool sameConfig(const ClusterConfig& a, const ClusterConfig& b) {
  if (a.protocol != b.protocol || a.f != b.f || a.fanOut != b.fanOut || a.tickMs != b.tickMs ||
      a.colocate != b.colocate || a.recoveryTimeoutMs != b.recoveryTimeoutMs ||
      a.leaderTimeoutMs != b.leaderTimeoutMs || a.nodes.size() != b.nodes.size()) {
    return false;
  }
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const NodeInfo& x = a.nodes[i];
    const NodeInfo& y = b.nodes[i];
    if (x.name != y.name || x.id != y.id || x.role != y.role || x.host != y.host ||
        x.port != y.port || x.dataDir != y.dataDir || x.metricsHost != y.metricsHost ||
        x.metricsPort != y.metricsPort || x.listenHost != y.listenHost ||
        x.listenPort != y.listenPort || x.unixPath != y.unixPath ||
        x.listenUnixPath != y.listenUnixPath) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("a good file parses to the config it describes") {
  // If this fails, nodes would start with settings other than those their file names.
  ClusterConfig c = parseClusterText(kGood, "dir/cluster.conf");
  CHECK(c.path == "dir/cluster.conf");
  CHECK(c.protocol == Protocol::PaxosClassic);
  CHECK(c.f == 1);
  CHECK(c.fanOut == FanOut::Quorum);
  CHECK(c.tickMs == 10);
  CHECK(c.recoveryTimeoutMs == 1000);
  CHECK(c.leaderTimeoutMs == 2000);
  REQUIRE(c.nodes.size() == 6);
  // Sorted by id: coordinators, participants, acceptors.
  std::vector<std::string> names;
  for (const auto& n : c.nodes) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"c1", "p1", "p2", "a1", "a2", "a3"});
  const NodeInfo* p2 = c.byName("p2");
  REQUIRE(p2 != nullptr);
  CHECK(p2->id == 1002);
  CHECK(p2->role == Role::Participant);
  CHECK(p2->host == "127.0.0.1");
  CHECK(p2->port == 7102);
  CHECK(p2->address() == "127.0.0.1:7102");
  CHECK(p2->dataDir == "p2");  // default: the node's name
  CHECK(c.byName("p1")->host == "localhost");
  CHECK(c.byName("c1")->role == Role::Coordinator);
  CHECK(c.byId(2003)->name == "a3");
  CHECK(c.byId(77) == nullptr);
  CHECK(c.byName("p9") == nullptr);
  CHECK(c.withRole(Role::Acceptor).size() == 3);
  CHECK(c.withRole(Role::Coordinator).size() == 1);

  CHECK(c.dir() == "dir");
  CHECK(c.dataDirOf(*c.byName("p2")) == "dir/p2");
  CHECK(c.dataDirOf(*c.byName("p1")) == "dir/shards/p1");
  CHECK(c.dataDirOf(*c.byName("c1")) == "/var/lib/pc/c1");
}

TEST_CASE("defaults: a file with no [cluster] section and the fewest nodes") {
  // If this fails, minimal hand-written files stop working or defaults drift.
  ClusterConfig c = parseClusterText(
      "[node.c1]\nrole = coordinator\naddress = h:1\n"
      "[node.p1]\nrole = participant\naddress = h:2\n"
      "[node.a1]\nrole = acceptor\naddress = h:3\n"
      "[node.a2]\nrole = acceptor\naddress = h:4\n"
      "[node.a3]\nrole = acceptor\naddress = h:5\n",
      "");
  ClusterConfig defaults;
  CHECK(c.protocol == defaults.protocol);
  CHECK(c.f == 1);
  CHECK(c.tickMs == defaults.tickMs);
  CHECK(c.dir() == ".");
  CHECK(c.dataDirOf(*c.byName("p1")) == "p1");

  // paxos-direct needs no coordinator.
  CHECK_NOTHROW(parseClusterText(
      "[cluster]\nprotocol = paxos-direct\nf = 0\n"
      "[node.p1]\nrole = participant\naddress = h:2\n[node.a1]\nrole = acceptor\naddress = h:3\n",
      "x"));
}

TEST_CASE("node names and ids map both ways") {
  // If this fails, logs and records would name the wrong node.
  CHECK(idForName("c3") == NodeId{3});
  CHECK(idForName("p2") == NodeId{1002});
  CHECK(idForName("a1") == NodeId{2001});
  CHECK(idForName("a999") == NodeId{2999});
  for (const char* bad : {"", "c", "c0", "c01", "x1", "p1000", "p-1", "p1a", "P1", "a 1"}) {
    std::string badName = bad;
    CAPTURE(badName);
    CHECK_FALSE(idForName(bad).has_value());
    CHECK_FALSE(roleForName(bad).has_value());
  }
  CHECK(roleForName("p7") == Role::Participant);
  for (NodeId id : {NodeId{1}, NodeId{999}, NodeId{1001}, NodeId{1999}, NodeId{2001}}) {
    CHECK(idForName(nameForId(id)) == id);
  }
  CHECK(nameForId(0x80000005u) == "client-5");
  CHECK(isClientId(0x80000005u));
  CHECK_FALSE(isClientId(2001));
  CHECK(parseRole("acceptor") == Role::Acceptor);
  CHECK_FALSE(parseRole("Acceptor").has_value());
}

TEST_CASE("coreConfig maps milliseconds to ticks and lists acceptors and coordinators") {
  // If this fails, timeouts would run at the wrong speed for the tick length chosen.
  ClusterConfig c = parseClusterText(kGood, "cluster.conf");
  CoreConfig core = c.coreConfig();
  CHECK(core.protocol == Protocol::PaxosClassic);
  CHECK(core.fanOut == FanOut::Quorum);
  CHECK(core.f == 1);
  CHECK(core.acceptors == std::vector<NodeId>{2001, 2002, 2003});
  CHECK(core.coordinators == std::vector<NodeId>{1});
  CHECK(core.recoveryTimeoutTicks == 100);  // 1000 ms / 10 ms
  CHECK(core.leaderTimeoutTicks == 200);
  CHECK(core.recoveryJitterTicks == 10);  // a tenth of the recovery timeout
  CHECK(core.ballotRetryTicks == 33);
  CoreConfig defaults;
  CHECK(core.prepareRetryTicks == defaults.prepareRetryTicks);

  // Never zero ticks, even when a timeout is shorter than two ticks.
  c.tickMs = 1000;
  c.recoveryTimeoutMs = 1000;
  c.leaderTimeoutMs = 1999;
  core = c.coreConfig();
  CHECK(core.recoveryTimeoutTicks == 1);
  CHECK(core.leaderTimeoutTicks == 1);
  CHECK(core.recoveryJitterTicks == 1);
  CHECK(core.ballotRetryTicks == 1);
}

TEST_CASE("render parses back to the same config") {
  // If this fails, `cluster start` would write a file its nodes read differently.
  ClusterConfig c = parseClusterText(kGood, "a/cluster.conf");
  std::string text = c.render();
  CHECK(text.find("# ") != std::string::npos);  // commented
  ClusterConfig back = parseClusterText(text, "a/cluster.conf");
  CHECK(sameConfig(c, back));
  CHECK(back.render() == text);

  // A config built in memory, as `cluster start` builds it.
  ClusterConfig m;
  m.protocol = Protocol::TwoPC;
  m.f = 2;
  m.fanOut = FanOut::All;
  m.tickMs = 2;
  m.recoveryTimeoutMs = 300;
  m.leaderTimeoutMs = 450;
  uint16_t port = 9000;
  for (std::string name : {"c1", "c2", "p1", "a1", "a2", "a3", "a4", "a5"}) {
    NodeInfo n;
    n.name = name;
    n.id = *idForName(name);
    n.role = *roleForName(name);
    n.host = "127.0.0.1";
    n.port = port++;
    n.dataDir = name;
    m.nodes.push_back(n);
  }
  ClusterConfig mback = parseClusterText(m.render(), "cluster.conf");
  CHECK(sameConfig(m, mback));
}

TEST_CASE("metrics: an optional per-node HOST:PORT, rendered back only where given") {
  // If this fails, `pcommit serve` would expose metrics on the wrong port, or on none.
  ClusterConfig c = parseClusterText(
      withLine(12, "address = 127.0.0.1:7102\nmetrics = 0.0.0.0:9102"), "cluster.conf");
  const NodeInfo* p2 = c.byName("p2");
  REQUIRE(p2 != nullptr);
  CHECK(p2->metricsHost == "0.0.0.0");
  CHECK(p2->metricsPort == 9102);
  CHECK(p2->metricsAddress() == "0.0.0.0:9102");
  CHECK(c.byName("p1")->metricsPort == 0);  // absent: no metrics endpoint
  std::string text = c.render();
  CHECK(text.find("metrics = 0.0.0.0:9102") != std::string::npos);
  size_t count = 0;
  for (size_t at = text.find("metrics ="); at != std::string::npos;
       at = text.find("metrics =", at + 1)) {
    ++count;
  }
  CHECK(count == 1);
  CHECK(sameConfig(c, parseClusterText(text, "cluster.conf")));
}

TEST_CASE("listen: where serve binds, apart from the address peers and clients use") {
  // If this fails, a node behind NAT or in a container binds the advertised address (which
  // is not its own) and cannot start, or peers connect to the bind-all address.
  ClusterConfig c = parseClusterText(withLine(12, "address = 10.1.2.3:7102\nlisten = 0.0.0.0:7102"),
                                     "cluster.conf");
  const NodeInfo* p2 = c.byName("p2");
  REQUIRE(p2 != nullptr);
  CHECK(p2->address() == "10.1.2.3:7102");  // what peers and clients connect to
  CHECK(p2->listenHost == "0.0.0.0");
  CHECK(p2->listenPort == 7102);
  CHECK(p2->listenAddress() == "0.0.0.0:7102");
  CHECK(c.byName("p1")->listenPort == 0);  // absent: binds its address
  CHECK(c.byName("p1")->listenAddress() == "localhost:7101");
  std::string text = c.render();
  CHECK(text.find("listen = 0.0.0.0:7102") != std::string::npos);
  CHECK(text.find("listen =") == text.rfind("listen ="));  // only where given
  CHECK(sameConfig(c, parseClusterText(text, "cluster.conf")));
  // Nodes on different hosts may all bind the same listen address.
  ClusterConfig two = parseClusterText(
      withLine(12, "address = 10.1.2.3:7102\nlisten = 0.0.0.0:7102") + "listen = 0.0.0.0:7102\n",
      "cluster.conf");
  CHECK(two.byName("a3")->listenAddress() == "0.0.0.0:7102");
  for (const char* bad :
       {"listen = 0.0.0.0", "listen = 0.0.0.0:0", "listen = :7102", "listen = 0.0.0.0:70000"}) {
    CAPTURE(bad);
    std::string msg = errorOf(withLine(12, std::string("address = 127.0.0.1:7102\n") + bad));
    CHECK(msg.find("cluster.conf:13: node.p2: bad listen address") == 0);
    CHECK(msg.find("HOST:PORT") != std::string::npos);
  }
}

TEST_CASE("loadClusterFile reads a file and names a missing one") {
  // If this fails, a wrong --config path would give a vague error or none.
  auto dir = std::filesystem::temp_directory_path() /
             ("pc_cluster_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "cluster.conf").string();
  {
    std::ofstream out(path);
    out << kGood;
  }
  ClusterConfig c = loadClusterFile(path);
  CHECK(c.path == path);
  CHECK(c.nodes.size() == 6);
  std::string missing = (dir / "nope.conf").string();
  std::string msg;
  try {
    loadClusterFile(missing);
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  CHECK(msg.find(missing) != std::string::npos);
  CHECK(msg.find("no such file") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("every kind of bad file names the file, the line and the bad key or value") {
  // If this fails, an operator gets a typo silently ignored or an error they cannot place.
  struct Case {
    const char* what;
    std::string text;
    const char* linePrefix;             // "cluster.conf:N:"
    std::vector<const char*> mentions;  // substrings the message must contain
  };
  const std::vector<Case> cases = {
      {"unknown node key",
       withLine(12, "adress = 127.0.0.1:7102"),
       "cluster.conf:12:",
       {"node.p2", "unknown key 'adress'", "expected role, address, data"}},
      {"unknown cluster key",
       withLine(5, "fan-out = all"),
       "cluster.conf:5:",
       {"cluster", "'fan-out'", "expected protocol, f, fanout"}},
      {"unparsable line",
       withLine(9, "this is not ini"),
       "cluster.conf:9:",
       {"'this is not ini'", "expected"}},
      {"key outside a section",
       "f = 1\n" + std::string(kGood),
       "cluster.conf:1:",
       {"'f'", "outside any section"}},
      {"unknown section",
       withLine(21, "[nodes.a1]"),
       "cluster.conf:21:",
       {"[nodes.a1]", "expected [cluster] or [node.NAME]"}},
      {"empty section name", withLine(9, "[]"), "cluster.conf:9:", {"[]"}},
      {"bad node name", withLine(21, "[node.x1]"), "cluster.conf:21:", {"'x1'", "c<N>"}},
      {"node number zero", withLine(21, "[node.a0]"), "cluster.conf:21:", {"'a0'"}},
      {"node number leading zero", withLine(21, "[node.a01]"), "cluster.conf:21:", {"'a01'"}},
      {"section twice",
       withLine(24, "[node.a1]"),
       "cluster.conf:24:",
       {"[node.a1]", "twice", "line 21"}},
      {"key twice", withLine(9, "f = 1"), "cluster.conf:9:", {"'f'", "twice", "line 4"}},
      {"missing role", withLine(22, ""), "cluster.conf:21:", {"node.a1", "missing key 'role'"}},
      {"bad metrics address",
       withLine(23, "address = 127.0.0.1:7201\nmetrics = 127.0.0.1"),
       "cluster.conf:24:",
       {"node.a1", "bad metrics address '127.0.0.1'", "HOST:PORT"}},
      {"metrics port out of range",
       withLine(23, "address = 127.0.0.1:7201\nmetrics = 127.0.0.1:65536"),
       "cluster.conf:24:",
       {"node.a1", "'127.0.0.1:65536'"}},
      {"metrics address is another node's address",
       withLine(23, "address = 127.0.0.1:7201\nmetrics = 127.0.0.1:7100"),
       "cluster.conf:24:",
       {"node.a1", "metrics address 127.0.0.1:7100", "node.c1", "line 15"}},
      {"metrics address is the node's own address",
       withLine(23, "address = 127.0.0.1:7201\nmetrics = 127.0.0.1:7201"),
       "cluster.conf:24:",
       {"node.a1", "already used by node.a1", "line 23"}},
      {"a node address is an earlier node's metrics address",
       withLine(12, "address = 127.0.0.1:7102\nmetrics = 127.0.0.1:7202"),
       "cluster.conf:27:",  // a2's address line, one down from the inserted line
       {"node.a2", "address 127.0.0.1:7202", "node.p2", "line 13"}},
      {"metrics key twice",
       withLine(23, "metrics = 127.0.0.1:9001\nmetrics = 127.0.0.1:9002"),
       "cluster.conf:24:",
       {"'metrics'", "twice", "line 23"}},
      {"missing address",
       withLine(23, ""),
       "cluster.conf:21:",
       {"node.a1", "missing key 'address'"}},
      {"role does not match name",
       withLine(22, "role = participant"),
       "cluster.conf:22:",
       {"node.a1", "'participant'", "role = acceptor"}},
      {"bad role", withLine(22, "role = acceptr"), "cluster.conf:22:", {"node.a1", "'acceptr'"}},
      {"address without port",
       withLine(23, "address = 127.0.0.1"),
       "cluster.conf:23:",
       {"node.a1", "'127.0.0.1'", "HOST:PORT"}},
      {"port zero", withLine(23, "address = 127.0.0.1:0"), "cluster.conf:23:", {":0'", "1..65535"}},
      {"port too big", withLine(23, "address = 127.0.0.1:65536"), "cluster.conf:23:", {"65536"}},
      {"port not a number", withLine(23, "address = h:71x"), "cluster.conf:23:", {"'h:71x'"}},
      {"duplicate address",
       withLine(26, "address = 127.0.0.1:7201"),
       "cluster.conf:26:",
       {"node.a2", "127.0.0.1:7201", "node.a1", "line 23"}},
      {"duplicate data directory",
       withLine(20, "data = p2"),
       "cluster.conf:20:",
       {"node.p1", "data directory 'p2'", "node.p2", "line 10"}},
      {"empty value", withLine(20, "data ="), "cluster.conf:20:", {"node.p1", "'data'", "empty"}},
      {"carriage return inside a value",
       withLine(20, "data = p1\r  x"),
       "cluster.conf:20:",
       {"node.p1", "control character", "'data'"}},
      {"NUL in a value",
       withLine(12, std::string("address = 127.0.0.1:7102\0", 25)),
       "cluster.conf:12:",
       {"node.p2", "control character", "'address'"}},
      {"bad protocol",
       withLine(3, "protocol = paxo"),
       "cluster.conf:3:",
       {"'paxo'", "2pc, paxos-classic, paxos, paxos-direct or 2pc-replicated"}},
      {"negative f", withLine(4, "f = -1"), "cluster.conf:4:", {"bad f '-1'"}},
      {"f too big", withLine(4, "f = 16"), "cluster.conf:4:", {"bad f '16'", "0..15"}},
      {"bad fanout", withLine(5, "fanout = some"), "cluster.conf:5:", {"'some'", "all or quorum"}},
      {"bad colocate",
       withLine(9, "colocate = participants"),
       "cluster.conf:9:",
       {"cluster", "colocate 'participants'", "none, acceptors or all"}},
      {"zero tick", withLine(6, "tick-ms = 0"), "cluster.conf:6:", {"tick-ms '0'"}},
      {"tick with unit", withLine(6, "tick-ms = 5ms"), "cluster.conf:6:", {"tick-ms '5ms'"}},
      {"timeout shorter than a tick",
       withLine(7, "recovery-timeout-ms = 5"),
       "cluster.conf:7:",
       {"recovery-timeout-ms '5'", "10.."}},
      {"leader timeout not a number",
       withLine(8, "leader-timeout-ms = soon"),
       "cluster.conf:8:",
       {"leader-timeout-ms 'soon'"}},
      {"acceptors do not match f",
       withLine(4, "f = 2"),
       "cluster.conf:4:",
       {"f = 2", "2f+1 = 5", "found 3", "a1, a2, a3"}},
      {"missing key name", withLine(9, "= 5"), "cluster.conf:9:", {"missing key name"}},
      {"zero max-connections",
       withLine(9, "max-connections = 0"),
       "cluster.conf:9:",
       {"cluster", "bad max-connections '0'", "1..1000000"}},
      {"max-connections not a number",
       withLine(9, "max-connections = lots"),
       "cluster.conf:9:",
       {"max-connections 'lots'"}},
      {"idle timeout below the minimum",
       withLine(9, "idle-timeout-ms = 5"),
       "cluster.conf:9:",
       {"idle-timeout-ms '5'", "10..3600000"}},
      {"call timeout with a unit",
       withLine(9, "call-timeout-ms = 5s"),
       "cluster.conf:9:",
       {"call-timeout-ms '5s'", "milliseconds"}},
      {"edge key in a node section",
       withLine(23, "max-connections = 10"),
       "cluster.conf:23:",
       {"node.a1", "unknown key 'max-connections'"}},
  };
  for (const auto& c : cases) {
    std::string what = c.what;
    CAPTURE(what);
    std::string msg = errorOf(c.text);
    CAPTURE(msg);
    CHECK(msg.rfind(c.linePrefix, 0) == 0);
    for (std::string m : c.mentions) {
      CAPTURE(m);
      CHECK(msg.find(m) != std::string::npos);
    }
  }

  // Whole-cluster rules, on small files of their own.
  std::string noCoordinator =
      "[cluster]\n"                                     // 1
      "protocol = 2pc\n"                                // 2
      "f = 0\n"                                         // 3
      "[node.p1]\nrole = participant\naddress = h:2\n"  // 4-6
      "[node.a1]\nrole = acceptor\naddress = h:3\n";    // 7-9
  std::string msg = errorOf(noCoordinator);
  CHECK(msg.rfind("cluster.conf:2:", 0) == 0);
  CHECK(msg.find("needs a coordinator") != std::string::npos);

  std::string noParticipant =
      "[cluster]\nprotocol = 2pc\n[node.c1]\nrole = coordinator\naddress = h:2\n";
  msg = errorOf(noParticipant);
  CHECK(msg.rfind("cluster.conf:1:", 0) == 0);
  CHECK(msg.find("no participant") != std::string::npos);

  std::string twoAcceptorsNoF =
      "[cluster]\nprotocol = paxos\n"                   // 1-2
      "[node.c1]\nrole = coordinator\naddress = h:1\n"  // 3-5
      "[node.p1]\nrole = participant\naddress = h:2\n"  // 6-8
      "[node.a1]\nrole = acceptor\naddress = h:3\n"     // 9-11
      "[node.a2]\nrole = acceptor\naddress = h:4\n";    // 12-14
  msg = errorOf(twoAcceptorsNoF);
  CHECK(msg.rfind("cluster.conf:1:", 0) == 0);  // the [cluster] section: f is its default
  CHECK(msg.find("found 2 (a1, a2") != std::string::npos);

  msg = errorOf("");
  CHECK(msg.rfind("cluster.conf: ", 0) == 0);  // no line to name
  CHECK(msg.find("no participant") != std::string::npos);
}

namespace {

// processGroups() as names: {{"p1", "a1"}, {"c1"}, ...}.
std::vector<std::vector<std::string>> groupNames(const ClusterConfig& c) {
  std::vector<std::vector<std::string>> out;
  for (const auto& g : c.processGroups()) {
    out.emplace_back();
    for (const NodeInfo* n : g) out.back().push_back(n->name);
  }
  return out;
}

// c1, c2, c3, p1, p2, a1..a5 (F = 2): more acceptors than participants, and a coordinator
// without a participant of its number.
std::string colocateText(const std::string& colocate) {
  std::string text = "[cluster]\nf = 2\n";
  if (!colocate.empty()) text += "colocate = " + colocate + "\n";
  int port = 1;
  for (std::string n : {"c1", "c2", "c3", "p1", "p2", "a1", "a2", "a3", "a4", "a5"}) {
    text += "[node." + n + "]\nrole = " + toString(*roleForName(n)) +
            "\naddress = h:" + std::to_string(port++) + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("colocate: which nodes share a process") {
  // If this fails, `cluster start --colocate` runs roles apart that the cost table puts
  // together (or the reverse), or loses or doubles a node.
  using Groups = std::vector<std::vector<std::string>>;
  ClusterConfig none = parseClusterText(colocateText(""), "cluster.conf");
  CHECK(none.colocate == Colocate::None);  // absent: none, as files from before the key
  CHECK(groupNames(none) ==
        Groups{{"c1"}, {"c2"}, {"c3"}, {"p1"}, {"p2"}, {"a1"}, {"a2"}, {"a3"}, {"a4"}, {"a5"}});
  CHECK(groupNames(parseClusterText(colocateText("none"), "cluster.conf")) == groupNames(none));

  ClusterConfig acceptors = parseClusterText(colocateText("acceptors"), "cluster.conf");
  CHECK(acceptors.colocate == Colocate::Acceptors);
  CHECK(groupNames(acceptors) ==
        Groups{{"c1"}, {"c2"}, {"c3"}, {"p1", "a1"}, {"p2", "a2"}, {"a3"}, {"a4"}, {"a5"}});

  ClusterConfig all = parseClusterText(colocateText("all"), "cluster.conf");
  CHECK(all.colocate == Colocate::All);
  CHECK(groupNames(all) ==
        Groups{{"c3"}, {"p1", "a1", "c1"}, {"p2", "a2", "c2"}, {"a3"}, {"a4"}, {"a5"}});

  // Names are matched by number, not position: a2 has no p2 here and runs alone.
  ClusterConfig gaps = parseClusterText(
      "[cluster]\nf = 1\ncolocate = all\n"
      "[node.c2]\nrole = coordinator\naddress = h:1\n"
      "[node.p2]\nrole = participant\naddress = h:2\n"
      "[node.p5]\nrole = participant\naddress = h:3\n"
      "[node.a1]\nrole = acceptor\naddress = h:4\n"
      "[node.a3]\nrole = acceptor\naddress = h:5\n"
      "[node.a5]\nrole = acceptor\naddress = h:6\n",
      "cluster.conf");
  CHECK(groupNames(gaps) == Groups{{"p2", "c2"}, {"p5", "a5"}, {"a1"}, {"a3"}});

  // Rendered only when not none, and read back the same.
  CHECK(none.render().find("colocate") == std::string::npos);
  std::string text = all.render();
  CHECK(text.find("colocate = all") != std::string::npos);
  ClusterConfig back = parseClusterText(text, "cluster.conf");
  CHECK(sameConfig(all, back));
  CHECK(toString(Colocate::Acceptors) == std::string("acceptors"));
  CHECK(parseColocate("all") == Colocate::All);
  CHECK_FALSE(parseColocate("All").has_value());
}

TEST_CASE("map-size-max: the LMDB map limit per node, in bytes or binary units") {
  // If this fails, a node's storage limit is not what its file says (or a typo passes).
  CHECK(parseClusterText(kGood, "cluster.conf").mapSizeMax == kDefaultMapSizeMax);
  CHECK(kDefaultMapSizeMax == uint64_t{64} << 30);
  auto sized = [](const std::string& v) {
    return parseClusterText(withLine(9, "map-size-max = " + v), "cluster.conf").mapSizeMax;
  };
  CHECK(sized("1048576") == uint64_t{1} << 20);
  CHECK(sized("2MiB") == uint64_t{2} << 20);
  CHECK(sized("1536KiB") == uint64_t{1536} << 10);
  CHECK(sized("512GiB") == uint64_t{512} << 30);
  CHECK(sized("16TiB") == uint64_t{16} << 40);
  for (const char* bad : {"1048575", "0", "17TiB", "1.5GiB", "1 GiB", "1GB", "-1", "GiB",
                          "99999999999999999999999"}) {
    CAPTURE(bad);
    std::string e = errorOf(withLine(9, std::string("map-size-max = ") + bad));
    CHECK(e.find("cluster.conf:9:") == 0);
    CHECK(e.find("bad map-size-max '" + std::string(bad) + "'") != std::string::npos);
    CHECK(e.find("from 1MiB to 16TiB") != std::string::npos);
  }
  // Rendered only when not the default, in the largest exact unit, and read back the same.
  ClusterConfig c = parseClusterText(kGood, "cluster.conf");
  CHECK(c.render().find("map-size-max") == std::string::npos);
  c.mapSizeMax = uint64_t{3} << 20;
  std::string text = c.render();
  CHECK(text.find("map-size-max = 3MiB") != std::string::npos);
  CHECK(parseClusterText(text, "cluster.conf").mapSizeMax == c.mapSizeMax);
  CHECK(renderByteSize((uint64_t{1} << 20) + 1) == "1048577");
  CHECK(parseByteSize("18446744073709551615") == ~uint64_t{0});
  CHECK_FALSE(parseByteSize("16777216TiB").has_value());  // overflows
}

TEST_CASE("edge keys: max-connections, idle-timeout-ms, call-timeout-ms") {
  // If this fails, a node serves with other connection limits or deadlines than its file
  // names, or a file written by `cluster start` does not read back the same.
  ClusterConfig d = parseClusterText(kGood, "cluster.conf");
  CHECK(d.maxConnections == 1024);
  CHECK(d.idleTimeoutMs == 10000);
  CHECK(d.callTimeoutMs == 5000);
  CHECK(d.render().find("max-connections") == std::string::npos);  // defaults not written
  CHECK(d.render().find("timeout-ms = 5000") == std::string::npos);

  std::string text = withLine(9,
                              "max-connections = 200\n"
                              "idle-timeout-ms = 750\n"
                              "call-timeout-ms = 10");
  ClusterConfig c = parseClusterText(text, "cluster.conf");
  CHECK(c.maxConnections == 200);
  CHECK(c.idleTimeoutMs == 750);
  CHECK(c.callTimeoutMs == 10);
  ClusterConfig back = parseClusterText(c.render(), "cluster.conf");
  CHECK(sameConfig(c, back));
  CHECK(back.maxConnections == 200);
  CHECK(back.idleTimeoutMs == 750);
  CHECK(back.callTimeoutMs == 10);

  // The line of a key given twice is the second one.
  std::string msg = errorOf(withLine(9, "max-connections = 5\nmax-connections = 6"));
  CHECK(msg.rfind("cluster.conf:10:", 0) == 0);
  CHECK(msg.find("twice") != std::string::npos);
}

TEST_CASE("cluster-id: 32 lowercase hex digits, random per cluster, rendered back") {
  // If this fails, two clusters could share an identity, or a node could read another id
  // than the one its data directory was bound to (storage/identity.h).
  ClusterConfig none = parseClusterText(kGood, "cluster.conf");
  CHECK(none.clusterId.empty());
  CHECK(none.render().find("cluster-id") == std::string::npos);
  const std::string id = newClusterId();
  CHECK(isClusterId(id));
  CHECK(newClusterId() != id);
  ClusterConfig c = parseClusterText(withLine(9, "cluster-id = " + id), "cluster.conf");
  CHECK(c.clusterId == id);
  ClusterConfig back = parseClusterText(c.render(), "cluster.conf");
  CHECK(back.clusterId == id);
  const std::vector<std::string> bad = {"0123", "0123456789ABCDEF0123456789ABCDEF",
                                        "0123456789abcdef0123456789abcdeg", id + "0"};
  for (const std::string& b : bad) {
    std::string msg = errorOf(withLine(9, "cluster-id = " + b));
    CHECK(msg.rfind("cluster.conf:9:", 0) == 0);
    CHECK(msg.find("bad cluster-id") != std::string::npos);
  }
}
