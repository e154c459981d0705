#include "storage/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "storage/errors.h"

namespace pc::storage {

namespace {

// The holder writes its pid right after taking the lock; give it a moment.
std::string readHolderPid(int fd) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::string s(buf, static_cast<size_t>(n));
      while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
      if (!s.empty()) return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return "";
}

}  // namespace

DirLock::DirLock(const std::string& dir) : path_(dir + "/" + kFileName) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    int e = errno;
    throw StorageError(ErrorKind::NotWritable, dir,
                       "data directory " + dir + " is not writable: cannot create " + path_ + ": " +
                           std::strerror(e));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    std::string pid = (e == EWOULDBLOCK) ? readHolderPid(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK) {
      throw StorageError(
          ErrorKind::InUse, dir,
          "data directory " + dir + " is in use by " +
              (pid.empty() ? std::string("another process (pid unknown)") : "pid " + pid) +
              " (lock held on " + path_ + ")");
    }
    throw StorageError(ErrorKind::Io, dir, "cannot lock " + path_ + ": " + std::strerror(e));
  }
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw StorageError(e == ENOSPC ? ErrorKind::DiskFull : ErrorKind::NotWritable, dir,
                       "data directory " + dir +
                           (e == ENOSPC ? " is on a full disk" : " is not writable") +
                           ": cannot write " + path_ + ": " + std::strerror(e));
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) {
    // Leave the file (unlinking a locked file races with a new opener); empty it so a
    // reader does not mistake an old pid for a live holder.
    if (::ftruncate(fd_, 0) != 0) {
      // Nothing to do: the lock, not the content, is the authority.
    }
    ::close(fd_);
  }
}

}  // namespace pc::storage
