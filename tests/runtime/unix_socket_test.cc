// Listening on a Unix domain socket (rpc/unix_socket.h) with real sockets and files: a
// dead node's socket file is replaced, a live node's is not, a path that is not a socket
// is never removed, the file is the owner's only, and it goes when the listener does. And
// two transports exchange messages over unix:PATH addresses. If these fail, a node killed
// with -9 cannot start again, a second node steals a running node's address, or a typo
// in the cluster file deletes a user's file.
#include "rpc/unix_socket.h"

#include <kj/async-io.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rpc/transport.h"
#include "tests/runtime/loop_util.h"
#include "tests/unit/local_util.h"

namespace pc::rpc {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = fs::temp_directory_path().string() + "/pc-unix-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A socket file nobody listens on, as a process killed with -9 leaves it.
void leaveStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof a.sun_path);
  path.copy(a.sun_path, path.size());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  ::close(fd);  // the file stays; connects to it are refused
}

std::string failureOf(kj::AsyncIoContext& io, const std::string& path) {
  try {
    auto l = listenUnix(io.provider->getNetwork(), io.waitScope, path);
  } catch (const kj::Exception& e) {
    return e.getDescription().cStr();
  }
  return "(listened)";
}

TEST_CASE("unixPathOf: unix:PATH only") {
  CHECK(unixPathOf("unix:/run/p1.sock") == std::optional<std::string>("/run/p1.sock"));
  CHECK(unixPathOf("127.0.0.1") == std::nullopt);
  CHECK(unixPathOf("unixhost") == std::nullopt);
}

TEST_CASE("listenUnix: mode 0600, a stale file replaced, a live one kept, removed when dropped") {
  auto io = kj::setupAsyncIo();
  TempDir dir;
  const std::string path = dir.path + "/p1.sock";
  leaveStaleSocket(path);
  REQUIRE(fs::is_socket(path));
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  REQUIRE((before.st_mode & 0777) != 0600);  // made under the test's umask
  {
    auto listener = listenUnix(io.provider->getNetwork(), io.waitScope, path);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);  // so also a new socket, not the stale one
    // A second listener on the same path: refused while this one lives; its file stays.
    std::string msg = failureOf(io, path);
    CAPTURE(msg);
    CHECK(msg.find("cannot listen on unix:" + path + ": another process is listening there") == 0);
    struct stat still {};
    REQUIRE(::stat(path.c_str(), &still) == 0);
    CHECK(still.st_ino == st.st_ino);
    CHECK(still.st_ctim.tv_nsec == st.st_ctim.tv_nsec);
  }
  CHECK_FALSE(fs::exists(path));  // dropped: removed
}

TEST_CASE("listenUnix: a path that is not a socket is refused and left alone") {
  auto io = kj::setupAsyncIo();
  TempDir dir;
  const std::string file = dir.path + "/notes.txt";
  std::ofstream(file) << "keep me\n";
  std::string msg = failureOf(io, file);
  CAPTURE(msg);
  CHECK(msg.find("cannot listen on unix:" + file +
                 ": the path exists and is not a socket (a regular file)") == 0);
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  CHECK(line == "keep me");
  msg = failureOf(io, dir.path);
  CHECK(msg.find("is not a socket (a directory)") != std::string::npos);
  CHECK(fs::is_directory(dir.path));
  // A missing folder: bind's own error, naming the path.
  msg = failureOf(io, dir.path + "/no/such/dir.sock");
  CHECK(msg.find("cannot listen on unix:" + dir.path + "/no/such/dir.sock") == 0);
}

TEST_CASE("listenUnix: a socket file replaced by someone else after bind is not removed") {
  auto io = kj::setupAsyncIo();
  TempDir dir;
  const std::string path = dir.path + "/p1.sock";
  {
    auto listener = listenUnix(io.provider->getNetwork(), io.waitScope, path);
    REQUIRE(::unlink(path.c_str()) == 0);
    leaveStaleSocket(path);  // another inode at our path
  }
  CHECK(fs::is_socket(path));
}

TEST_CASE("two transports exchange messages over unix:PATH addresses") {
  auto io = kj::setupAsyncIo();
  TempDir dir;
  const std::string cPath = "unix:" + dir.path + "/c1.sock";
  const std::string pPath = "unix:" + dir.path + "/p1.sock";
  std::vector<std::pair<NodeId, Message>> atC, atP;
  TransportOptions co;
  co.self = 1;
  co.peers[1001] = PeerAddress{pPath, 0};
  Transport c(
      io, co, [&](NodeId f, Message&& m) { atC.emplace_back(f, std::move(m)); }, nullptr);
  TransportOptions po;
  po.self = 1001;
  po.peers[1] = PeerAddress{cPath, 0};
  Transport p(
      io, po, [&](NodeId f, Message&& m) { atP.emplace_back(f, std::move(m)); }, nullptr);
  auto cListen = c.listen(cPath, 0).eagerlyEvaluate(nullptr);
  auto pListen = p.listen(pPath, 0).eagerlyEvaluate(nullptr);
  c.send(1001, OutcomeMsg{TxnId{7, 1}, Outcome::Commit});
  p.send(1, OutcomeMsg{TxnId{8, 1}, Outcome::Abort});
  CHECK(test::runUntil(io, 3000, [&] { return !atC.empty() && !atP.empty(); }));
  REQUIRE(atP.size() == 1);
  CHECK(atP[0].first == 1);
  CHECK(messageTxn(atP[0].second) == TxnId{7, 1});
  REQUIRE(atC.size() == 1);
  CHECK(atC[0].first == 1001);
  CHECK(messageTxn(atC[0].second) == TxnId{8, 1});
}

}  // namespace
}  // namespace pc::rpc
