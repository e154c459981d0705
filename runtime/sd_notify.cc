#include "runtime/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace pc::runtime {

bool notifySystemd(const std::string& state, std::string& error) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return true;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
    error = std::string("NOTIFY_SOCKET=") + path + ": expected an absolute path or @name";
    return false;
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto addrLen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), addrLen);
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(state.size())) {
    error = std::string("sendto ") + path + ": " + (n < 0 ? std::strerror(err) : "short write");
    return false;
  }
  return true;
}

}  // namespace pc::runtime
