#include "storage/errors.h"

#include <lmdb.h>

#include <cstdio>
#include <cstdlib>

namespace pc::storage {

const char* toString(ErrorKind k) {
  switch (k) {
    case ErrorKind::DirMissing:
      return "dir-missing";
    case ErrorKind::NotWritable:
      return "not-writable";
    case ErrorKind::DiskFull:
      return "disk-full";
    case ErrorKind::InUse:
      return "in-use";
    case ErrorKind::NotPcommit:
      return "not-pcommit";
    case ErrorKind::UnknownFormat:
      return "unknown-format";
    case ErrorKind::Corrupted:
      return "corrupted";
    case ErrorKind::Io:
      return "io";
    case ErrorKind::IdentityMismatch:
      return "identity-mismatch";
    case ErrorKind::NotInitialised:
      return "not-initialised";
  }
  return "?";
}

StorageError::StorageError(ErrorKind kind, std::string path, const std::string& message)
    : std::runtime_error(message), kind_(kind), path_(std::move(path)) {}

void failStop(const std::string& message) {
  // One write, so the line is not interleaved with other threads' output.
  std::string line =
      "pcommit: fatal storage error: " + message + " (fail-stop: restart recovers from disk)\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

std::string describeError(int rc) {
  const char* name = nullptr;
  switch (rc) {
    case MDB_KEYEXIST:
      name = "MDB_KEYEXIST";
      break;
    case MDB_NOTFOUND:
      name = "MDB_NOTFOUND";
      break;
    case MDB_PAGE_NOTFOUND:
      name = "MDB_PAGE_NOTFOUND";
      break;
    case MDB_CORRUPTED:
      name = "MDB_CORRUPTED";
      break;
    case MDB_PANIC:
      name = "MDB_PANIC";
      break;
    case MDB_VERSION_MISMATCH:
      name = "MDB_VERSION_MISMATCH";
      break;
    case MDB_INVALID:
      name = "MDB_INVALID";
      break;
    case MDB_MAP_FULL:
      name = "MDB_MAP_FULL";
      break;
    case MDB_DBS_FULL:
      name = "MDB_DBS_FULL";
      break;
    case MDB_READERS_FULL:
      name = "MDB_READERS_FULL";
      break;
    case MDB_TXN_FULL:
      name = "MDB_TXN_FULL";
      break;
    case MDB_CURSOR_FULL:
      name = "MDB_CURSOR_FULL";
      break;
    case MDB_PAGE_FULL:
      name = "MDB_PAGE_FULL";
      break;
    case MDB_MAP_RESIZED:
      name = "MDB_MAP_RESIZED";
      break;
    case MDB_INCOMPATIBLE:
      name = "MDB_INCOMPATIBLE";
      break;
    case MDB_BAD_RSLOT:
      name = "MDB_BAD_RSLOT";
      break;
    case MDB_BAD_TXN:
      name = "MDB_BAD_TXN";
      break;
    case MDB_BAD_VALSIZE:
      name = "MDB_BAD_VALSIZE";
      break;
    case MDB_BAD_DBI:
      name = "MDB_BAD_DBI";
      break;
    default:
      break;
  }
  std::string text = mdb_strerror(rc);  // falls back to strerror() for errno values
  if (name != nullptr) return std::string(name) + ": " + text;
  return text;
}

}  // namespace pc::storage
