// Every refusal and every fail-stop of storage/, with its message: a node must never start
// on a directory it cannot trust, never "repair" one silently, and never retry a failed
// sync. Fail-stops run in child processes (real aborts).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "storage/codec.h"
#include "storage/env.h"
#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;
using test::txn;

StorageError openError(const std::string& dir, Options o = {}) {
  try {
    Env env(dir, o);
  } catch (const StorageError& e) {
    return e;
  }
  FAIL("opening " << dir << " should have failed");
  return StorageError(ErrorKind::Io, "", "");
}

// doctest would find storage::toString(ErrorKind) by ADL and choke: compare names.
std::string kindName(ErrorKind k) { return toString(k); }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs fn on a raw LMDB environment in dir (no pcommit involved): to plant foreign,
// future or corrupted data.
void withRawLmdb(const std::string& dir, const std::function<void(MDB_env*, MDB_txn*)>& fn) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 16);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0644) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  fn(env, txn);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

void rawPut(MDB_txn* txn, const char* db, const std::string& key, const std::string& value) {
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, db, MDB_CREATE, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
}

// Child-side: report a StorageError's kind as the exit code (10 + kind) and its message.
void exitWithError(const std::function<void()>& body) {
  try {
    body();
  } catch (const StorageError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::fflush(stderr);
    ::_exit(10 + static_cast<int>(e.kind()));
  }
}

void noCoreDumps() {
  rlimit no{0, 0};
  ::setrlimit(RLIMIT_CORE, &no);
}

// Child-side: a private mount namespace with a small tmpfs at `where` (a user namespace
// too when not root). Exits 77 when the system does not allow it.
void privateTmpfs(const std::string& where, const std::string& size) {
  int flags = CLONE_NEWNS | (::geteuid() == 0 ? 0 : CLONE_NEWUSER);
  if (::unshare(flags) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", where.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
    std::fprintf(stderr, "cannot mount a private tmpfs: %s\n", std::strerror(errno));
    ::_exit(77);
  }
}

void fillDisk(const std::string& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT, 0644);
  std::string chunk(65536, 'f');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  ::close(fd);
}

TEST_CASE("a missing data directory is refused; --create makes only the leaf") {
  TempDir tmp;
  std::string dir = tmp.path() + "/nope";
  auto e = openError(dir);
  CHECK(kindName(e.kind()) == kindName(ErrorKind::DirMissing));
  CHECK(std::string(e.what()) == "data directory " + dir + " does not exist");
  CHECK(e.path() == dir);
  Options o;
  o.createDir = true;
  { Env env(dir, o); }
  auto deep = openError(tmp.path() + "/a/b", o);
  CHECK(kindName(deep.kind()) == kindName(ErrorKind::DirMissing));
  CHECK(has(deep.what(), "cannot create data directory " + tmp.path() + "/a/b"));
  // A file where the directory should be.
  std::ofstream(tmp.path() + "/file") << "x";
  auto f = openError(tmp.path() + "/file");
  CHECK(kindName(f.kind()) == kindName(ErrorKind::DirMissing));
  CHECK(has(f.what(), tmp.path() + "/file is not a directory"));
}

TEST_CASE("a data directory that is not writable is refused with the cause") {
  TempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);  // traversable by the unprivileged child
  std::string dir = tmp.sub("ro");
  ::chmod(dir.c_str(), 0555);
  auto r = test::runInChild([&] {
    if (::geteuid() == 0) {  // root writes anywhere: become nobody for the check
      REQUIRE(::setgid(65534) == 0);
      REQUIRE(::setuid(65534) == 0);
    }
    exitWithError([&] { Env env(dir); });
  });
  CHECK(r.exitCode == 10 + int(ErrorKind::NotWritable));
  CHECK(has(r.err, "data directory " + dir + " is not writable: Permission denied"));
}

TEST_CASE("a data directory on a full disk is refused at open") {
  TempDir tmp;
  std::string mnt = tmp.sub("mnt");
  auto r = test::runInChild([&] {
    privateTmpfs(mnt, "1m");
    ::mkdir((mnt + "/data").c_str(), 0755);
    fillDisk(mnt + "/filler");
    exitWithError([&] { Env env(mnt + "/data"); });
  });
  if (r.exitCode == 77) {
    MESSAGE("skipped: no private tmpfs here: " << r.err);
    return;
  }
  INFO(r.err);
  CHECK(r.exitCode == 10 + int(ErrorKind::DiskFull));
  CHECK(has(r.err, "data directory " + mnt + "/data is on a full disk: 0 bytes free"));
}

TEST_CASE("ENOSPC on a synced commit fail-stops with the path and cause, never retried") {
  TempDir tmp;
  std::string mnt = tmp.sub("mnt");
  auto r = test::runInChild([&] {
    noCoreDumps();
    privateTmpfs(mnt, "6m");
    Env env(mnt);
    for (uint64_t i = 1;; ++i) {
      env.writeBatch({ParticipantTxnRecord{
          txn(i, 1),
          ParticipantState::Committed,
          kv::encodeOps({{kv::OpKind::Put, std::to_string(i), std::string(512 << 10, 'x'), 0}}),
          {1},
          1,
          ""}});
    }
  });
  if (r.exitCode == 77) {
    MESSAGE("skipped: no private tmpfs here: " << r.err);
    return;
  }
  INFO(r.err);
  CHECK(r.signal == SIGABRT);
  // LMDB reports the short write as EIO (or ENOSPC); the message names the cause.
  CHECK(has(r.err, "pcommit: fatal storage error: data directory " + mnt + ": synced commit to " +
                       mnt + "/data.mdb failed: "));
  CHECK(has(r.err, "disk full: "));
}

TEST_CASE("a failed sync (EFBIG) fail-stops; the directory then recovers what was durable") {
  TempDir tmp;
  std::string dir = tmp.path();
  auto r = test::runInChild([&] {
    noCoreDumps();
    Env env(dir);
    env.writeBatch({LeaderRoundRecord{7}});
    struct stat st {};
    ::stat((dir + "/data.mdb").c_str(), &st);
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of a signal
    rlimit lim{rlim_t(st.st_size) + 65536, rlim_t(st.st_size) + 65536};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (uint64_t i = 1;; ++i) {
      env.writeBatch(
          {LeaderRoundRecord{7 + i},
           ParticipantTxnRecord{
               txn(i, 1), ParticipantState::VotedAborted, std::string(32 << 10, 'x'), {1}, 1, ""}});
    }
  });
  INFO(r.err);
  CHECK(r.signal == SIGABRT);
  CHECK(has(r.err, "synced commit to " + dir + "/data.mdb failed: "));
  CHECK(has(r.err, "(file size limit RLIMIT_FSIZE is "));
  CHECK(has(r.err, "(fail-stop: restart recovers from disk)"));
  // Recovery: the last durable group is there, nothing of the failed one.
  Env env(dir);
  Recovered img = env.load();
  CHECK(img.leaderRound >= 7);
  CHECK(img.participantTxns.size() == img.leaderRound - 7);
}

TEST_CASE("a map full at its configured maximum fail-stops with a clear message") {
  TempDir tmp;
  std::string dir = tmp.path();
  auto r = test::runInChild([&] {
    noCoreDumps();
    Options o;
    o.mapSizeStart = size_t{256} << 10;
    o.mapSizeMax = size_t{1} << 20;
    Env env(dir, o);
    for (uint64_t i = 1;; ++i) {
      env.writeBatch({ParticipantTxnRecord{
          txn(i, 1), ParticipantState::VotedAborted, std::string(8000, 'x'), {1}, 1, "too big"}});
    }
  });
  CHECK(r.signal == SIGABRT);
  CHECK(has(r.err, "data directory " + dir + ": " + dir + "/data.mdb is full at the configured " +
                       "maximum map size of 1048576 bytes (MDB_MAP_FULL)"));
}

TEST_CASE("a directory held by another live process is refused, naming its pid") {
  TempDir tmp;
  std::string dir = tmp.path();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(ready[0]);
    Env env(dir);
    char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  auto e = openError(dir);
  CHECK(kindName(e.kind()) == kindName(ErrorKind::InUse));
  CHECK(has(e.what(), "data directory " + dir + " is in use by pid " + std::to_string(pid)));
  // Read-only inspection is allowed while it runs.
  Options ro;
  ro.readOnly = true;
  CHECK_NOTHROW(Env(dir, ro).load());
  // SIGKILL releases the lock: a restart is not blocked by a stale pid file.
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK_NOTHROW(Env{dir});
}

TEST_CASE("opening a directory twice in one process is refused (LMDB forbids it)") {
  TempDir tmp;
  Env env(tmp.path());
  auto e = openError(tmp.path());
  CHECK(kindName(e.kind()) == kindName(ErrorKind::InUse));
  CHECK(has(e.what(), "is in use by pid " + std::to_string(::getpid())));
}

TEST_CASE("a directory that is not pcommit's is refused") {
  TempDir tmp;
  SUBCASE("a non-empty directory without data.mdb") {
    std::ofstream(tmp.path() + "/notes.txt") << "mine";
    auto e = openError(tmp.path());
    CHECK(kindName(e.kind()) == kindName(ErrorKind::NotPcommit));
    CHECK(std::string(e.what()) == tmp.path() +
                                       " is not a pcommit data directory: it is not empty (found "
                                       "'notes.txt') and has no data.mdb");
    CHECK(::access((tmp.path() + "/pcommit.pid").c_str(), F_OK) != 0);  // nothing littered
  }
  SUBCASE("an LMDB environment written by someone else") {
    withRawLmdb(tmp.path(), [](MDB_env*, MDB_txn* t) { rawPut(t, nullptr, "hello", "world"); });
    auto e = openError(tmp.path());
    CHECK(kindName(e.kind()) == kindName(ErrorKind::NotPcommit));
    CHECK(has(e.what(), tmp.path() + "/data.mdb is an LMDB file pcommit did not write"));
  }
  SUBCASE("an LMDB environment with a meta database but no pcommit format record") {
    withRawLmdb(tmp.path(), [](MDB_env*, MDB_txn* t) { rawPut(t, "meta", "x", "y"); });
    auto e = openError(tmp.path());
    CHECK(kindName(e.kind()) == kindName(ErrorKind::NotPcommit));
    CHECK(has(e.what(), "has no pcommit format record"));
  }
  SUBCASE("read-only: an empty directory") {
    Options ro;
    ro.readOnly = true;
    auto e = openError(tmp.path(), ro);
    CHECK(kindName(e.kind()) == kindName(ErrorKind::NotPcommit));
    CHECK(has(e.what(), "has no data.mdb"));
  }
}

// A node killed during its very first start, after LMDB made data.mdb but before the
// first commit wrote the format record, leaves an empty LMDB file. Nothing in it can have
// been acknowledged: read-only inspection says so, and the next start initialises it
// (storage_crash_test kills a writer at such a moment now and then).
TEST_CASE("a crash before the first commit leaves a file the next start initialises") {
  TempDir tmp;
  withRawLmdb(tmp.path(), [](MDB_env*, MDB_txn*) {});  // data.mdb, no commit of ours
  REQUIRE(::access((tmp.path() + "/data.mdb").c_str(), F_OK) == 0);
  Options ro;
  ro.readOnly = true;
  auto e = openError(tmp.path(), ro);
  CHECK(kindName(e.kind()) == kindName(ErrorKind::NotPcommit));
  CHECK(has(e.what(), tmp.path() + "/data.mdb was never initialised (no format record)"));
  {
    Env env(tmp.path());
    CHECK(env.formatVersion() == kFormatVersion);
    CHECK(env.load().leaderRound == 0);
  }
  CHECK_NOTHROW(Env(tmp.path(), ro).load());  // initialised: inspection reads it now
}

TEST_CASE("a directory written by an unknown format version is refused") {
  TempDir tmp;
  { Env env(tmp.path()); }
  withRawLmdb(tmp.path(),
              [](MDB_env*, MDB_txn* t) { rawPut(t, "meta", "format", codec::encodeFormat(99)); });
  auto e = openError(tmp.path());
  CHECK(kindName(e.kind()) == kindName(ErrorKind::UnknownFormat));
  CHECK(std::string(e.what()) == tmp.path() +
                                     " was written by unknown storage format version 99 (this "
                                     "build reads versions 1 to 2); refusing to open it");
}

TEST_CASE("corrupted files are refused, never repaired") {
  TempDir tmp;
  {
    Env env(tmp.path());
    for (uint64_t i = 1; i <= 50; ++i) env.writeBatch({DecisionRecord{txn(i, 1), {1, 2}, false}});
  }
  std::string data = tmp.path() + "/data.mdb";
  auto bytesOf = [&] {
    std::ifstream in(data, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto writeBack = [&](const std::string& bytes) {
    std::ofstream out(data, std::ios::binary | std::ios::trunc);
    out << bytes;
  };
  std::string good = bytesOf();
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  REQUIRE(good.size() >= 4 * page);

  SUBCASE("MDB_INVALID: both meta pages overwritten") {
    std::string bad = good;
    std::fill(bad.begin(), bad.begin() + long(2 * page), '\xab');
    writeBack(bad);
    auto e = openError(tmp.path());
    CHECK(kindName(e.kind()) == kindName(ErrorKind::Corrupted));
    CHECK(has(e.what(), data + " is corrupted or not an LMDB file (MDB_INVALID: "));
    CHECK(bytesOf() == bad);  // untouched: not "repaired"
    Options ro;
    ro.readOnly = true;
    CHECK(kindName(openError(tmp.path(), ro).kind()) == kindName(ErrorKind::Corrupted));
  }
  SUBCASE("MDB_CORRUPTED: every data page has a wrong page type") {
    std::string bad = good;
    for (size_t p = 2; p * page + 12 <= bad.size(); ++p) {
      bad[p * page + 10] = 0;  // mp_flags
      bad[p * page + 11] = 0;
    }
    writeBack(bad);
    auto e = openError(tmp.path());
    CHECK(kindName(e.kind()) == kindName(ErrorKind::Corrupted));
    CHECK(has(e.what(), data + " is corrupted or not an LMDB file (MDB_CORRUPTED: "));
    CHECK(bytesOf() == bad);
  }
}

TEST_CASE("an undecodable value is reported with its database and key") {
  TempDir tmp;
  {
    Env env(tmp.path());
    env.writeBatch({DecisionRecord{txn(1, 1), {1}, false}});
  }
  withRawLmdb(tmp.path(), [](MDB_env*, MDB_txn* t) {
    rawPut(t, "acceptor", codec::txnKey(txn(0xab, 0xcd)), "\x07garbage");
  });
  Env env(tmp.path());
  try {
    env.load();
    FAIL("load() should refuse the corrupted value");
  } catch (const StorageError& e) {
    CHECK(kindName(e.kind()) == kindName(ErrorKind::Corrupted));
    CHECK(has(e.what(), tmp.path() + "/data.mdb is corrupted: database 'acceptor' key "));
    CHECK(has(e.what(), "unknown value version 7"));
  }
}

}  // namespace
}  // namespace pc::storage
