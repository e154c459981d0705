#include "storage/data_dir.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/codec.h"
#include "storage/errors.h"

namespace pc::storage {

namespace {

std::string errnoText(int e) { return std::strerror(e); }

// Stats `d`, creating it first if missing and allowed.
struct stat statOrCreate(const std::string& d, const DataDirChecks& c) {
  struct stat st {};
  if (::stat(d.c_str(), &st) == 0) return st;
  int e = errno;
  if (e == ENOENT && c.createDir && !c.readOnly) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      int e2 = errno;
      throw StorageError(e2 == ENOENT ? ErrorKind::DirMissing : ErrorKind::NotWritable, d,
                         "cannot create data directory " + d + ": " + errnoText(e2));
    }
    if (::stat(d.c_str(), &st) != 0) {
      throw StorageError(ErrorKind::Io, d, "data directory " + d + ": " + errnoText(errno));
    }
    return st;
  }
  if (e == ENOENT) {
    throw StorageError(ErrorKind::DirMissing, d, "data directory " + d + " does not exist");
  }
  throw StorageError(e == EACCES ? ErrorKind::NotWritable : ErrorKind::Io, d,
                     "data directory " + d + " cannot be accessed: " + errnoText(e));
}

// A directory without data.mdb is ours only if it holds nothing but LMDB's lock file and
// our pid file (read-only: never, there is nothing to read).
void checkNotSomeoneElses(const std::string& d, bool readOnly) {
  if (::access((d + "/data.mdb").c_str(), F_OK) == 0) return;
  if (readOnly) {
    throw StorageError(ErrorKind::NotPcommit, d,
                       d + " is not a pcommit data directory: it has no data.mdb");
  }
  DIR* dh = ::opendir(d.c_str());
  if (dh == nullptr) {
    throw StorageError(ErrorKind::Io, d,
                       "cannot list data directory " + d + ": " + errnoText(errno));
  }
  std::string stranger;
  while (dirent* ent = ::readdir(dh)) {
    std::string name = ent->d_name;
    if (name == "." || name == ".." || name == "lock.mdb" || name == DirLock::kFileName) {
      continue;
    }
    stranger = name;
    break;
  }
  ::closedir(dh);
  if (!stranger.empty()) {
    throw StorageError(ErrorKind::NotPcommit, d,
                       d + " is not a pcommit data directory: it is not empty (found '" + stranger +
                           "') and has no data.mdb");
  }
}

}  // namespace

std::optional<uint64_t> freeBytesOf(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return std::nullopt;
  return uint64_t{vfs.f_bavail} * uint64_t{vfs.f_frsize};
}

std::string diagnoseWriteFailure(const std::string& dir) {
  std::optional<uint64_t> freeBytes = freeBytesOf(dir);
  if (freeBytes && *freeBytes < (uint64_t{1} << 20)) {
    return " (disk full: " + std::to_string(*freeBytes) + " bytes free on its file system)";
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    return " (file size limit RLIMIT_FSIZE is " + std::to_string(lim.rlim_cur) + " bytes)";
  }
  return "";
}

std::unique_ptr<DirLock> prepareDataDir(const std::string& d, const DataDirChecks& c) {
  struct stat st = statOrCreate(d, c);
  if (!S_ISDIR(st.st_mode)) {
    throw StorageError(ErrorKind::DirMissing, d, "data directory " + d + " is not a directory");
  }
  if (::access(d.c_str(), c.readOnly ? (R_OK | X_OK) : (R_OK | W_OK | X_OK)) != 0) {
    int e = errno;
    throw StorageError(ErrorKind::NotWritable, d,
                       "data directory " + d + " is not " + (c.readOnly ? "readable" : "writable") +
                           ": " + errnoText(e));
  }
  checkNotSomeoneElses(d, c.readOnly);
  if (c.readOnly) return nullptr;
  // Before the pid file: on a full disk even that cannot be written.
  std::optional<uint64_t> freeBytes = freeBytesOf(d);
  if (c.minFreeBytes > 0 && freeBytes && *freeBytes < c.minFreeBytes) {
    throw StorageError(ErrorKind::DiskFull, d,
                       "data directory " + d + " is on a full disk: " + std::to_string(*freeBytes) +
                           " bytes free, at least " + std::to_string(c.minFreeBytes) + " needed");
  }
  return std::make_unique<DirLock>(d);
}

uint32_t checkFormatRecord(const std::string& dir, const std::string& dataPath,
                           std::optional<std::string_view> record, uint32_t newest) {
  std::optional<uint32_t> version;
  if (record) version = codec::decodeFormat(*record);
  if (!version) {
    throw StorageError(
        ErrorKind::NotPcommit, dir,
        dir + " is not a pcommit data directory: " + dataPath + " has no pcommit format record");
  }
  if (*version < 1 || *version > newest) {
    throw StorageError(ErrorKind::UnknownFormat, dir,
                       dir + " was written by unknown storage format version " +
                           std::to_string(*version) + " (this build reads versions 1 to " +
                           std::to_string(newest) + "); refusing to open it");
  }
  return *version;
}

}  // namespace pc::storage
