// `unix:PATH` node addresses in the cluster file (runtime/cluster_config.h): where the
// path is resolved, the sun_path limit, what is refused and how the message reads, and
// render() writing back the path as written. If these fail, a node binds a socket other
// than the one its peers dial, or a long path fails late inside bind(2) with no key named.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include <doctest/doctest.h>

#include <string>

#include "runtime/cluster_config.h"

using namespace pc;
using namespace pc::runtime;

namespace {

// p1 and a1 with the given address lines (`extra` under p1, e.g. a listen key).
std::string fileWith(const std::string& p1Address, const std::string& extra = "") {
  return "[cluster]\nprotocol = paxos-direct\nf = 0\n"
         "[node.p1]\nrole = participant\naddress = " +
         p1Address + "\n" + extra +
         "[node.a1]\n"
         "role = acceptor\n"
         "address = unix:/run/pc/a1.sock\n";
}

std::string errorOf(const std::string& text, const std::string& path = "cluster.conf") {
  try {
    parseClusterText(text, path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("unix:PATH: relative paths resolve against the cluster file's folder") {
  ClusterConfig c = parseClusterText(fileWith("unix:p1.sock"), "/srv/pc/cluster.conf");
  const NodeInfo* p1 = c.byName("p1");
  REQUIRE(p1 != nullptr);
  CHECK(p1->isUnix());
  CHECK(p1->host == "unix:/srv/pc/p1.sock");  // what connect and bind get
  CHECK(p1->port == 0);
  CHECK(p1->unixPath == "p1.sock");  // as written
  CHECK(p1->address() == "unix:/srv/pc/p1.sock");
  CHECK(p1->listenAddress() == "unix:/srv/pc/p1.sock");
  CHECK_FALSE(p1->hasListen());
  // Absolute paths stay as they are; the file's folder does not matter.
  CHECK(c.byName("a1")->host == "unix:/run/pc/a1.sock");
  // A file without a folder: the path stays relative (to the current directory, which is
  // then the file's folder).
  CHECK(parseClusterText(fileWith("unix:./s/p1.sock"), "cluster.conf").byName("p1")->host ==
        "unix:s/p1.sock");
}

TEST_CASE("unix:PATH: render writes the path as written and parses back the same") {
  ClusterConfig c = parseClusterText(fileWith("unix:p1.sock", "listen = unix:sock/p1-bind\n"),
                                     "/srv/pc/cluster.conf");
  const NodeInfo* p1 = c.byName("p1");
  REQUIRE(p1 != nullptr);
  CHECK(p1->hasListen());
  CHECK(p1->listenHost == "unix:/srv/pc/sock/p1-bind");
  CHECK(p1->listenAddress() == "unix:/srv/pc/sock/p1-bind");
  const std::string text = c.render();
  CHECK(contains(text, "address = unix:p1.sock "));
  CHECK(contains(text, "listen = unix:sock/p1-bind "));
  CHECK(contains(text, "address = unix:/run/pc/a1.sock "));
  ClusterConfig back = parseClusterText(text, "/srv/pc/cluster.conf");
  CHECK(back.byName("p1")->host == p1->host);
  CHECK(back.byName("p1")->unixPath == "p1.sock");
  CHECK(back.byName("p1")->listenHost == p1->listenHost);
  CHECK(back.render() == text);
  // A TCP address with a unix listen, and the reverse, both parse.
  CHECK(parseClusterText(fileWith("127.0.0.1:7101", "listen = unix:/tmp/p1.sock\n"), "c.conf")
            .byName("p1")
            ->listenAddress() == "unix:/tmp/p1.sock");
  CHECK(parseClusterText(fileWith("unix:/tmp/p1.sock", "listen = 0.0.0.0:7101\n"), "c.conf")
            .byName("p1")
            ->listenAddress() == "0.0.0.0:7101");
}

TEST_CASE("unix:PATH: the resolved path must fit sun_path, and the message names the key") {
  const std::string folder = "/srv/" + std::string(90, 'd');  // 95 bytes
  // 95 + "/" + 11 = 107: the longest path that fits.
  const std::string fits = std::string(8, 's') + ".so";
  CHECK(parseClusterText(fileWith("unix:" + fits), folder + "/cluster.conf")
            .byName("p1")
            ->host.size() == 5 + kMaxUnixPathBytes);
  // One byte more, through the folder: refused, naming the line, the key and the limit.
  std::string msg = errorOf(fileWith("unix:" + fits + "x"), folder + "/cluster.conf");
  CAPTURE(msg);
  CHECK(msg.find(folder + "/cluster.conf:6: node.p1: address 'unix:" + fits + "x'") == 0);
  CHECK(contains(msg, "resolved against the cluster file's folder"));
  CHECK(contains(msg, "is 108 bytes, over the limit of 107 (sun_path"));
  // An absolute path over the limit, in listen.
  msg = errorOf(fileWith("unix:/a.sock", "listen = unix:/" + std::string(107, 'l') + "\n"));
  CAPTURE(msg);
  CHECK(msg.find("cluster.conf:7: node.p1: listen 'unix:/") == 0);
  CHECK(contains(msg, "is 108 bytes, over the limit of 107"));
  CHECK_FALSE(contains(msg, "resolved"));
}

TEST_CASE("unix:PATH: an empty path, a folder, a control character or a clash are refused") {
  for (const char* bad : {"unix:", "unix:/run/pc/", "unix:sock/", "unix: p1.sock"}) {
    CAPTURE(bad);
    std::string msg = errorOf(fileWith(bad));
    CHECK(msg.find("cluster.conf:6: node.p1: bad address '") == 0);
    CHECK(contains(msg, "expected unix:PATH naming a socket file"));
  }
  // A NUL (or any control character) would cut the path short in sun_path.
  std::string nul = fileWith(std::string("unix:p1") + '\0' + ".sock");
  CHECK(errorOf(nul) == "cluster.conf:6: node.p1: control character in the value of key 'address'");
  // Two spellings of one socket are one address.
  std::string msg = errorOf(fileWith("unix:/run/pc/./a1.sock"));
  CAPTURE(msg);
  CHECK(contains(msg, "address unix:/run/pc/a1.sock is already used by node.p1"));
  // Not a port: "unix" is no host name, and HOST:PORT messages mention unix:PATH.
  msg = errorOf(fileWith("p1.sock"));
  CHECK(
      contains(msg, "bad address 'p1.sock' (expected HOST:PORT, PORT in 1..65535, or unix:PATH)"));
}
