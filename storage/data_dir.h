// The data directory's checks, before and around LMDB: it exists (or is created), is a
// directory we may use, is pcommit's (or empty), has room, is not held by another live
// process (pid lock), and was written by a storage format this build reads. Internal to
// storage/; Env's constructor runs them in this order. Every refusal throws StorageError
// with a message naming the path and the cause (errors.h): DirMissing, NotWritable,
// DiskFull, InUse, NotPcommit, UnknownFormat, Io.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/dir_lock.h"

namespace pc::storage {

struct DataDirChecks {
  bool readOnly = false;      // read and list only; no pid lock
  bool createDir = false;     // create the leaf directory if missing (not when readOnly)
  uint64_t minFreeBytes = 0;  // refuse to open for writing with less free space; 0: no check
};

// Existence, type, access, "not ours" (a directory without data.mdb must hold nothing but
// LMDB's lock file and our pid file: pointing --data at a home directory must not litter
// it), free space, then the pid lock. Returns the lock (null when readOnly).
std::unique_ptr<DirLock> prepareDataDir(const std::string& dir, const DataDirChecks& checks);

// The format record of the meta database (nullopt: absent). Throws NotPcommit if it is
// missing or not pcommit's, UnknownFormat if its version is not in [1, newest]. Returns it.
uint32_t checkFormatRecord(const std::string& dir, const std::string& dataPath,
                           std::optional<std::string_view> record, uint32_t newest);

// Free bytes on the file system of `dir`, if statvfs works.
std::optional<uint64_t> freeBytesOf(const std::string& dir);

// LMDB reports a short write as EIO, whatever stopped it: " (disk full: ...)" or
// " (file size limit ...)" naming the likely cause, or "".
std::string diagnoseWriteFailure(const std::string& dir);

}  // namespace pc::storage
