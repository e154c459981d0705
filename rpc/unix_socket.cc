#include "rpc/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pc::rpc {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                      kj::str("cannot listen on unix:", path.c_str(), ": ", why.c_str()));
}

std::string errnoText(const char* call, int err) {
  return std::string(call) + ": " + std::strerror(err);
}

// Whether a process accepts connections on the socket file `path`: true if a connect
// succeeds, false if it is refused (nobody listens: a dead process's file). Throws on
// anything else (permission denied, ...): we do not know, so we touch nothing.
bool someoneListens(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(path, "path too long for sun_path");
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(path, errnoText("socket", errno));
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN) return true;  // EAGAIN: its backlog is full, so it is alive
  if (err == ECONNREFUSED) return false;
  fail(path, "cannot tell whether another process listens there (" + errnoText("connect", err) +
                 "); not removing it");
}

// A socket file left where we are to bind: removed if nobody listens on it.
void removeStale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail(path, errnoText("lstat", errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    fail(path, std::string("the path exists and is not a socket (") +
                   (S_ISREG(st.st_mode)   ? "a regular file"
                    : S_ISDIR(st.st_mode) ? "a directory"
                    : S_ISLNK(st.st_mode) ? "a symbolic link"
                                          : "not a socket") +
                   "); it is left alone: remove it or choose another address");
  }
  if (someoneListens(path)) {
    fail(path, "another process is listening there (a node still running?)");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail(path, errnoText("unlink", errno));
}

// Removes the socket file when the listener is dropped, if it is still ours: the same
// device, inode and change time (a file someone put there after us may reuse the inode
// number, not the nanosecond it was made).
class SocketFileOwner {
 public:
  SocketFileOwner(std::string path, const struct stat& st) : path_(std::move(path)), st_(st) {}
  SocketFileOwner(const SocketFileOwner&) = delete;
  SocketFileOwner& operator=(const SocketFileOwner&) = delete;
  ~SocketFileOwner() {
    struct stat now {};
    if (::lstat(path_.c_str(), &now) == 0 && S_ISSOCK(now.st_mode) && now.st_dev == st_.st_dev &&
        now.st_ino == st_.st_ino && now.st_ctim.tv_sec == st_.st_ctim.tv_sec &&
        now.st_ctim.tv_nsec == st_.st_ctim.tv_nsec) {
      ::unlink(path_.c_str());
    }
  }

 private:
  std::string path_;
  struct stat st_;
};

}  // namespace

std::optional<std::string> unixPathOf(const std::string& host) {
  static constexpr char kPrefix[] = "unix:";
  if (host.rfind(kPrefix, 0) != 0) return std::nullopt;
  return host.substr(sizeof kPrefix - 1);
}

kj::Own<kj::ConnectionReceiver> listenUnix(kj::Network& network, kj::WaitScope& waitScope,
                                           const std::string& path) {
  removeStale(path);
  auto addr = network.parseAddress(kj::str("unix:", path.c_str())).wait(waitScope);
  // bind(2) creates the file with 0777 & ~umask: this umask makes it 0600 from the start
  // (a chmod after bind would leave a window). The process is starting up; nothing else
  // here creates files meanwhile, and a stricter mask for that moment would only be safer.
  const mode_t old = ::umask(0177);
  kj::Own<kj::ConnectionReceiver> listener;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { listener = addr->listen(); })) {
    ::umask(old);
    fail(path, e->getDescription().cStr());
  }
  ::umask(old);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    fail(path, "the socket file is gone right after bind");
  }
  return listener.attach(kj::heap<SocketFileOwner>(path, st));
}

}  // namespace pc::rpc
