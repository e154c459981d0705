// Helpers shared by the storage tests: temporary directories, child processes (for
// fail-stop and crash tests), random record sequences and the applyRecord reference.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "paxos_commit/kv.h"
#include "paxos_commit/records.h"

// Printers for doctest's failure messages (test code only).
namespace pc::kv {
inline std::ostream& operator<<(std::ostream& os, const Versioned& v) {
  return os << (v.value ? "\"" + *v.value + "\"" : std::string("(absent)")) << "@v" << v.version;
}
}  // namespace pc::kv

namespace pc::storage::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path()/name, created as a directory if mkdir is true.
  std::string sub(const std::string& name, bool mkdir = true) const;

 private:
  std::string path_;
};

void removeTree(const std::string& path);

struct ChildResult {
  bool exited = false;  // normal exit (then exitCode) or killed by a signal (then signal)
  int exitCode = -1;
  int signal = 0;
  std::string err;  // everything the child wrote to stderr (and stdout)
};
// Forks; the child runs body() with stderr captured, then _exit(0) (an exception in body
// exits 99 after printing it). The parent waits at most timeoutMs, then SIGKILLs.
ChildResult runInChild(const std::function<void()>& body, int timeoutMs = 30000);

inline TxnId txn(uint64_t hi, uint64_t lo) { return TxnId{hi, lo}; }

// Writes raw bytes under `key` of the named database of the environment in `dir` (which
// must exist), bypassing Env and its checks: how tests plant corrupted or meaningless
// records.
void rawPut(const std::string& dir, const char* db, const std::string& key,
            const std::string& value);

// Sorts every vector of a Recovered image by TxnId: load() returns sorted vectors, while
// applyRecord keeps first-insertion order; the content must be identical.
Recovered normalized(Recovered r);
std::string describe(const Recovered& r);
// Checks (doctest CHECK) that two normalized images hold the same records, field by field.
void checkSame(const Recovered& got, const Recovered& want);
// The signals each thread of this process other than the main one blocks (SigBlk of
// /proc/self/task/TID/status, bit sig-1), by thread id.
std::map<std::string, uint64_t> otherThreadsBlocked();

// The reference semantics: applyRecord on an image, plus the KV rule of env.h (a
// Committed record applies its payload once, unless the stored record was Committed).
struct Reference {
  Recovered image;
  std::map<std::string, kv::Versioned> kv;
  void apply(const Record& r);
};

// Random records over a small id space (so upserts, erasures and low-water marks collide),
// with decodable KV payloads over a few keys, two of them longer than LMDB's key limit
// and sharing a 600-byte prefix. Every record is valid by meaning (storage/validate.h),
// and so is every sequence (no acceptor record for a transaction already forgotten).
class RecordGen {
 public:
  explicit RecordGen(uint64_t seed) : rng_(seed) {}
  Record next();
  std::vector<std::string> keys() const;

 private:
  uint64_t pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  TxnId someTxn() { return TxnId{1 + pick(3), 1 + pick(8)}; }
  Ballot someBallot() { return Ballot{pick(4), static_cast<NodeId>(pick(3))}; }
  ParticipantList someParticipants(bool nonEmpty = false);
  Bytes somePayload();
  std::mt19937_64 rng_;
  std::set<TxnId> forgotten_;
};

}  // namespace pc::storage::test
