// DirLock: one live process per data directory.
//
// LMDB's own lock file lets many processes share an environment, so it cannot say "this
// directory is in use". DirLock creates DIR/pcommit.pid, takes an exclusive flock() on it
// for as long as the object lives, and writes the holder's pid into it. A second opener
// (another process, or this one a second time: LMDB forbids opening one environment twice
// in a process) fails with ErrorKind::InUse naming the holder's pid. The lock dies with the
// process (SIGKILL included), so a stale pid file never blocks a restart.
#pragma once

#include <string>

namespace pc::storage {

class DirLock {
 public:
  // Throws StorageError: NotWritable if the pid file cannot be created or written, InUse
  // ("data directory DIR is in use by pid N") if another open file holds the lock.
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  static constexpr const char* kFileName = "pcommit.pid";

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace pc::storage
