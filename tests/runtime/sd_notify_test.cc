// systemd readiness: `pcommit serve` under Type=notify must send READY=1 to $NOTIFY_SOCKET;
// if this fails, systemd would wait for a notification that never comes (or get garbage).
#include "runtime/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "doctest/doctest.h"

namespace {

// A datagram socket bound to `path` (a leading '@' = abstract), as systemd binds one.
int bindDatagram(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  return fd;
}

std::string receive(int fd) {
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("notifySystemd: no NOTIFY_SOCKET is not an error and sends nothing") {
  ::unsetenv("NOTIFY_SOCKET");
  std::string error;
  CHECK(pc::runtime::notifySystemd("READY=1", error));
  CHECK(error.empty());
}

TEST_CASE("notifySystemd: READY=1 reaches a socket bound at a path and an abstract one") {
  for (std::string path : {std::string("/tmp/pc-sdnotify-") + std::to_string(::getpid()),
                           std::string("@pc-sdnotify-") + std::to_string(::getpid())}) {
    CAPTURE(path);
    if (path[0] == '/') ::unlink(path.c_str());
    int fd = bindDatagram(path);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    std::string error;
    CHECK(pc::runtime::notifySystemd("READY=1", error));
    CHECK(error.empty());
    CHECK(receive(fd) == "READY=1");
    ::close(fd);
    if (path[0] == '/') ::unlink(path.c_str());
  }
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("notifySystemd: a bad NOTIFY_SOCKET is reported, not thrown") {
  std::string error;
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK_FALSE(pc::runtime::notifySystemd("READY=1", error));
  CHECK(error.find("NOTIFY_SOCKET=relative/path") != std::string::npos);
  error.clear();
  ::setenv("NOTIFY_SOCKET", "/nonexistent-dir/for/sure/sock", 1);
  CHECK_FALSE(pc::runtime::notifySystemd("READY=1", error));
  CHECK(error.find("sendto /nonexistent-dir/for/sure/sock") != std::string::npos);
  ::unsetenv("NOTIFY_SOCKET");
}
