// Storage errors, by kind (docs/STYLE.md "Errors: name the kind first").
//
// - StorageError: an environment problem found while opening or reading a data directory
//   (missing, not writable, full disk, in use, not ours, unknown format, corrupted). Thrown
//   before the node starts serving; the process prints what() and exits non-zero. Never
//   "repaired" silently.
// - failStop(): an environment failure while the node runs (a failed synced commit, EIO,
//   ENOSPC, the map at its configured maximum, a corrupted page found by the writer). It
//   prints one line naming the path and the cause and aborts the process: a failed sync is
//   never retried, recovery from disk at the next start does the rest.
#pragma once

#include <stdexcept>
#include <string>

namespace pc::storage {

enum class ErrorKind {
  DirMissing,        // the data directory does not exist (or is not a directory)
  NotWritable,       // the data directory (or a file in it) cannot be written
  DiskFull,          // too little free space to open, or ENOSPC while initialising
  InUse,             // another live process (or this one) holds the directory
  NotPcommit,        // the directory holds something that is not a pcommit data directory
  UnknownFormat,     // a pcommit directory written by an unknown format version
  Corrupted,         // MDB_CORRUPTED, MDB_INVALID, MDB_PAGE_NOTFOUND, or an undecodable value
  Io,                // any other system or LMDB error
  IdentityMismatch,  // the directory belongs to another cluster or node (identity.h)
  NotInitialised,    // no environment and the caller may not create one (Options::mayInit)
};
const char* toString(ErrorKind k);

class StorageError : public std::runtime_error {
 public:
  // what() is "<message>"; message already names the path.
  StorageError(ErrorKind kind, std::string path, const std::string& message);
  ErrorKind kind() const { return kind_; }
  const std::string& path() const { return path_; }

 private:
  ErrorKind kind_;
  std::string path_;
};

// Prints "pcommit: fatal storage error: <message> (fail-stop: restart recovers from disk)"
// to stderr and aborts. `message` must name the path and the cause.
[[noreturn]] void failStop(const std::string& message);

// strerror() of an errno value or mdb_strerror() of an LMDB code, with the code's name for
// LMDB codes, e.g. "MDB_CORRUPTED: Located page was wrong type".
std::string describeError(int rc);

}  // namespace pc::storage
