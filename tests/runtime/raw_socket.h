// Plain sockets beside a KJ event loop, for tests that play a peer byte by byte: a blocking
// connect to 127.0.0.1, a listener nobody's event loop accepts from, non-blocking reads.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "tests/unit/test_util.h"  // doctest, with the project's stringification

namespace pc::test {

// A plain TCP connection to 127.0.0.1:port (blocking connect; the kernel completes it
// from the listen backlog whether or not the event loop accepts).
inline int rawConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Whether the other side closed `fd` (end of stream or a reset), without blocking and
// without consuming what is still to be read.
inline bool closedByPeer(int fd) {
  char b = 0;
  ssize_t n = ::recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Appends to `out` whatever `fd` has to read now.
inline void readAvailable(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    out.append(buf, static_cast<size_t>(n));
  }
}

// A listening socket on 127.0.0.1 that the test accepts from by hand (or never: the kernel
// still completes connections, and what is sent to them is never read).
class RawListener {
 public:
  RawListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
  }
  ~RawListener() { ::close(fd_); }
  RawListener(const RawListener&) = delete;
  RawListener& operator=(const RawListener&) = delete;
  uint16_t port() const { return port_; }
  // The next completed connection (blocks until there is one).
  int accept() {
    int c = ::accept(fd_, nullptr, nullptr);
    REQUIRE(c >= 0);
    return c;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace pc::test
