// The e2e flood's socket holder (tests/e2e/flood.sh): opens many TCP connections to
// 127.0.0.1 and holds them, sending nothing, as any local user could. Bounded in time.
//
//   flood_helper hold SECONDS PER_PORT PORT...
//       opens PER_PORT connections to each PORT (its own descriptor limit raised to the
//       hard limit first), holds them SECONDS, then closes them. Prints one line:
//       "opened N of M; closed by the node: K" (K: connections the nodes closed meanwhile).
//       Exit 0; 1 if fewer than half could be opened (the test would not test anything).
//   flood_helper idle SECONDS PORT
//       one connection that sends nothing; waits at most SECONDS for the node to close it.
//       Prints "closed after MS ms" (exit 0) or "still open after SECONDS s" (exit 1).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

long msSince(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// A non-blocking connect to 127.0.0.1:port; -1 if no socket could be made.
int startConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the node closed fd (EOF or reset). Never blocks; discards what the node sent.
bool closedByNode(int fd) {
  char buf[256];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: flood_helper hold SECONDS PER_PORT PORT... | flood_helper idle SECONDS "
               "PORT\n");
  return 2;
}

int hold(int seconds, int perPort, const std::vector<uint16_t>& ports) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  const size_t want = static_cast<size_t>(perPort) * ports.size();
  std::vector<pollfd> fds;
  fds.reserve(want);
  for (int i = 0; i < perPort; ++i) {
    for (uint16_t port : ports) {
      int fd = startConnect(port);
      if (fd >= 0) fds.push_back(pollfd{fd, POLLOUT, 0});
    }
  }
  // Connections complete from the nodes' listen backlogs whether or not they accept.
  const auto start = Clock::now();
  std::vector<bool> open(fds.size(), false);
  size_t pending = fds.size();
  while (pending > 0 && msSince(start) < 5000) {
    ::poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].events == 0 || fds[i].revents == 0) continue;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      open[i] = err == 0;
      fds[i].events = 0;
      --pending;
    }
  }
  size_t opened = 0;
  for (bool o : open) opened += o;
  std::fflush(stdout);
  // Hold, noticing the ones the nodes close (idle timeout, connection cap).
  std::vector<bool> closed(fds.size(), false);
  while (msSince(start) < seconds * 1000L) {
    ::usleep(200 * 1000);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (open[i] && !closed[i] && closedByNode(fds[i].fd)) closed[i] = true;
    }
  }
  size_t closedCount = 0;
  for (bool c : closed) closedCount += c;
  for (const pollfd& p : fds) ::close(p.fd);
  std::printf("opened %zu of %zu; closed by the node: %zu\n", opened, want, closedCount);
  return opened * 2 >= want ? 0 : 1;
}

int idle(int seconds, uint16_t port) {
  int fd = startConnect(port);
  if (fd < 0) {
    std::printf("cannot connect to port %u\n", port);
    return 1;
  }
  const auto start = Clock::now();
  pollfd p{fd, POLLIN, 0};
  while (msSince(start) < seconds * 1000L) {
    ::poll(&p, 1, 50);
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && closedByNode(fd)) {
      std::printf("closed after %ld ms\n", msSince(start));
      ::close(fd);
      return 0;
    }
  }
  std::printf("still open after %d s\n", seconds);
  ::close(fd);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  const std::string mode = argv[1];
  const int seconds = std::atoi(argv[2]);
  if (seconds <= 0 || seconds > 120) return usage();
  if (mode == "hold") {
    const int perPort = std::atoi(argv[3]);
    if (perPort <= 0 || perPort > 100000 || argc < 5) return usage();
    std::vector<uint16_t> ports;
    for (int i = 4; i < argc; ++i) ports.push_back(static_cast<uint16_t>(std::atoi(argv[i])));
    return hold(seconds, perPort, ports);
  }
  if (mode == "idle" && argc == 4) return idle(seconds, static_cast<uint16_t>(std::atoi(argv[3])));
  return usage();
}
