// The identity record of a data directory (storage/identity.h): written at the first open
// with the format record, checked at every later one. A directory of another cluster or of
// another node must be refused naming both ids; an empty directory is refused when the
// caller may not initialise it; a rejoin mark is written atomically with the identity.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "storage/codec.h"
#include "storage/env.h"
#include "storage/verify.h"
#include "tests/storage/test_util.h"

namespace pc::storage {
namespace {

using test::TempDir;

const std::string kClusterA = "0123456789abcdef0123456789abcdef";
const std::string kClusterB = "fedcba9876543210fedcba9876543210";

Options as(const std::string& cluster, NodeId node, const std::string& name) {
  Options o;
  o.createDir = true;
  o.identity = Identity{cluster, node, name};
  return o;
}

std::string kindName(ErrorKind k) { return toString(k); }
bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The refusal of opening `dir` with `o` (fails the test if it opens).
StorageError refusal(const std::string& dir, const Options& o) {
  try {
    Env env(dir, o);
  } catch (const StorageError& e) {
    return e;
  }
  FAIL("opening " << dir << " should have been refused");
  return StorageError(ErrorKind::Io, "", "");
}

TEST_CASE("the first open writes the identity; the same cluster and node open it again") {
  // Without the record a later open could not tell its own directory from another's.
  TempDir tmp;
  const std::string dir = tmp.sub("p1", false);
  {
    Env env(dir, as(kClusterA, 1001, "p1"));
    CHECK(env.created());
    CHECK(env.identityEvent() == IdentityEvent::Written);
    REQUIRE(env.identity());
    CHECK(env.identity()->clusterId == kClusterA);
  }
  {
    Env again(dir, as(kClusterA, 1001, "p1"));
    CHECK_FALSE(again.created());
    CHECK(again.identityEvent() == IdentityEvent::None);
  }
  Options ro;
  ro.readOnly = true;
  Env view(dir, ro);  // read-only: shows the identity, checks nothing
  REQUIRE(view.identity());
  CHECK(view.identity()->nodeName == "p1");
  CHECK(verify(view).clean());
}

TEST_CASE("a directory of another cluster is refused naming both cluster ids and the path") {
  // A stale cluster file (or a node of another cluster on reused paths) must not start.
  TempDir tmp;
  const std::string dir = tmp.sub("p1", false);
  { Env env(dir, as(kClusterA, 1001, "p1")); }
  StorageError e = refusal(dir, as(kClusterB, 1001, "p1"));
  CHECK(kindName(e.kind()) == kindName(ErrorKind::IdentityMismatch));
  const std::string what = e.what();
  CHECK(has(what, kClusterA));
  CHECK(has(what, kClusterB));
  CHECK(has(what, dir));
  // A cluster file without cluster-id cannot prove it is that cluster either.
  StorageError none = refusal(dir, as("", 1001, "p1"));
  CHECK(has(none.what(), "cluster-id = " + kClusterA));
}

TEST_CASE("a directory of another node is refused naming both node ids") {
  // Swapped data directories (p1's under p2) would answer for the wrong participant.
  TempDir tmp;
  const std::string dir = tmp.sub("p1", false);
  { Env env(dir, as(kClusterA, 1001, "p1")); }
  StorageError e = refusal(dir, as(kClusterA, 1002, "p2"));
  CHECK(kindName(e.kind()) == kindName(ErrorKind::IdentityMismatch));
  const std::string what = e.what();
  CHECK(has(what, "p1 (id 1001)"));
  CHECK(has(what, "p2 (id 1002)"));
  CHECK_FALSE(has(what, "cluster " + kClusterA + ","));  // the clusters agree: not blamed
}

TEST_CASE("an older directory without the record adopts it; a cluster id is added once") {
  // Upgrades: directories of builds before cluster identity, and cluster files that gain a
  // cluster-id, keep working; from then on the directory is bound.
  TempDir tmp;
  const std::string dir = tmp.sub("a1", false);
  {
    Options older;  // no identity: what an older build wrote
    older.createDir = true;
    Env env(dir, older);
  }
  {
    Env env(dir, as("", 2001, "a1"));
    CHECK(env.identityEvent() == IdentityEvent::Adopted);
  }
  {
    Env env(dir, as(kClusterA, 2001, "a1"));
    CHECK(env.identityEvent() == IdentityEvent::ClusterIdAdded);
  }
  CHECK(kindName(refusal(dir, as(kClusterB, 2001, "a1")).kind()) ==
        kindName(ErrorKind::IdentityMismatch));
}

TEST_CASE("mayInit off: an empty directory is refused before anything is created in it") {
  // A participant whose data was lost must not start as a fresh one by accident.
  TempDir tmp;
  const std::string dir = tmp.sub("p2", true);
  Options o = as(kClusterA, 1002, "p2");
  o.mayInit = false;
  StorageError e = refusal(dir, o);
  CHECK(kindName(e.kind()) == kindName(ErrorKind::NotInitialised));
  CHECK(has(e.what(), dir));
  CHECK(::access((dir + "/data.mdb").c_str(), F_OK) != 0);
  const std::string missing = tmp.sub("p3", false);
  CHECK(kindName(refusal(missing, o).kind()) == kindName(ErrorKind::NotInitialised));
  CHECK(::access(missing.c_str(), F_OK) != 0);
}

TEST_CASE("a rejoin mark is written with the identity as the participant low-water mark") {
  // The mark and the identity go in one synced transaction: a crash cannot leave a
  // directory that has an identity but lacks the mark (it would start as a fresh one).
  TempDir tmp;
  const std::string dir = tmp.sub("p2", false);
  const TxnId mark{1234567, ~uint64_t{0}};
  Options o = as(kClusterA, 1002, "p2");
  o.rejoinMark = mark;
  {
    Env env(dir, o);
    REQUIRE(env.rejoinedAt());
    CHECK(*env.rejoinedAt() == mark);
    CHECK(env.load().participantLowWater == mark);
  }
  Options later = as(kClusterA, 1002, "p2");
  later.rejoinMark = TxnId{9999999, 1};  // ignored: the directory holds data now
  Env env(dir, later);
  CHECK(*env.rejoinedAt() == mark);
  CHECK(env.load().participantLowWater == mark);
}

TEST_CASE("a corrupted identity record is reported, not trusted") {
  // Every byte read from a file is hostile (docs/STYLE.md).
  TempDir tmp;
  const std::string dir = tmp.sub("p1", false);
  { Env env(dir, as(kClusterA, 1001, "p1")); }
  Identity bad{"not-hex-not-hex-not-hex-not-hex!", 1001, "p1"};
  test::rawPut(dir, "meta", "identity", codec::encodeIdentity(bad));
  StorageError e = refusal(dir, as(kClusterA, 1001, "p1"));
  CHECK(kindName(e.kind()) == kindName(ErrorKind::Corrupted));
  CHECK(has(e.what(), "identity"));
}

TEST_CASE("the identity codec round-trips and refuses garbage") {
  Identity id{kClusterA, 1001, "p1"};
  CHECK(codec::decodeIdentity(codec::encodeIdentity(id)) == id);
  Identity noCluster{"", 2003, "a3"};
  CHECK(codec::decodeIdentity(codec::encodeIdentity(noCluster)) == noCluster);
  std::string enc = codec::encodeIdentity(id);
  CHECK_THROWS_AS(codec::decodeIdentity(enc.substr(0, enc.size() - 1)), codec::DecodeError);
  CHECK_THROWS_AS(codec::decodeIdentity(enc + "x"), codec::DecodeError);
  CHECK_THROWS_AS(codec::decodeIdentity(codec::encodeIdentity({kClusterA, 0, "p1"})),
                  codec::DecodeError);
  CHECK_THROWS_AS(codec::decodeIdentity(codec::encodeIdentity({kClusterA, 1, "P/1"})),
                  codec::DecodeError);
}

}  // namespace
}  // namespace pc::storage
