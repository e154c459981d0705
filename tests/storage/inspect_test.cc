// `pcommit inspect`: dumps every kind of durable state as text and JSON, refuses bad
// usage with exit 64 naming the option, reports storage errors with exit 1, and is safe
// while the node runs. Runs the real binary: operators and scripts depend on this contract.
#include "storage/inspect.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "json/json.h"
#include "storage/codec.h"
#include "storage/storage_thread.h"
#include "tests/storage/test_util.h"

#ifndef PC_PCOMMIT_PATH
#error "PC_PCOMMIT_PATH must name the pcommit binary"
#endif

namespace pc::storage {
namespace {

using test::TempDir;
using test::txn;

struct Run {
  int exitCode = -1;
  std::string out, err;
};

Run pcommit(std::vector<std::string> args) {
  args.insert(args.begin(), PC_PCOMMIT_PATH);
  int outPipe[2], errPipe[2];
  REQUIRE(::pipe(outPipe) == 0);
  REQUIRE(::pipe(errPipe) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(outPipe[1], 1);
    ::dup2(errPipe[1], 2);
    ::close(outPipe[0]);
    ::close(errPipe[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(outPipe[1]);
  ::close(errPipe[1]);
  Run r;
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  int open = 2;
  char buf[8192];
  while (open > 0 && ::poll(fds, 2, 20000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? r.out : r.err).append(buf, size_t(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Brackets balance outside strings and strings close: enough to catch a broken writer.
bool looksLikeJson(const std::string& s) {
  std::string stack;
  bool inString = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      else if (static_cast<unsigned char>(c) < 0x20)
        return false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == '{' || c == '[')
      stack.push_back(c);
    else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != (c == '}' ? '{' : '[')) return false;
      stack.pop_back();
    }
  }
  return !inString && stack.empty() && !s.empty() && s[0] == '{';
}

void populate(const std::string& dir) {
  Env env(dir);
  AcceptorTxnRecord a{txn(1, 2), {3, 4}, 5, {}};
  a.instances = {{3, Ballot{2, 5}, Ballot{2, 5}, Vote::Prepared},
                 {4, Ballot{}, std::nullopt, std::nullopt}};
  env.writeBatch({
      a,
      AcceptorForgetRecord{txn(1, 9), Outcome::Commit},
      ParticipantTxnRecord{txn(2, 1),
                           ParticipantState::Prepared,
                           kv::encodeOps({{kv::OpKind::Put, "lockme", "x", 0}}),
                           {3, 4},
                           5,
                           ""},
      ParticipantTxnRecord{
          txn(2, 2),
          ParticipantState::Committed,
          kv::encodeOps({{kv::OpKind::Put, "color", std::string("bl\"ue\n\xff", 7), 0},
                         {kv::OpKind::Put, "menu", "caf\xc3\xa9", 0},
                         {kv::OpKind::Del, "gone", "", 0}}),
          {3},
          5,
          ""},
      ParticipantTxnRecord{txn(2, 3), ParticipantState::VotedAborted, "", {3}, 5, "expect failed"},
      LeaderRoundRecord{9},
      DecisionRecord{txn(3, 1), {3, 4}, false},
  });
}

TEST_CASE("inspect --json dumps every kind of durable state") {
  TempDir tmp;
  populate(tmp.path());
  Run r = pcommit({"inspect", "--data", tmp.path(), "--json"});
  CHECK(r.exitCode == 0);
  CHECK(r.err.empty());
  CHECK(looksLikeJson(r.out));
  CHECK(has(r.out, "\"format_version\": 1"));
  CHECK(has(r.out,
            "\"txn\": \"" + txn(1, 2).toString() + "\", \"participants\": [3, 4], \"leader\": 5"));
  CHECK(has(r.out,
            "{\"instance\": 3, \"mbal\": {\"round\": 2, \"leader\": 5}, \"bal\": {\"round\": 2, "
            "\"leader\": 5}, \"val\": \"prepared\"}"));
  CHECK(has(r.out, "\"bal\": null, \"val\": null"));
  CHECK(has(r.out, "\"tombstones\": [{\"txn\": \"" + txn(1, 9).toString() +
                       "\", \"outcome\": \"commit\"}]"));
  CHECK(has(r.out, "\"state\": \"prepared\""));
  CHECK(has(r.out, "\"state\": \"voted-aborted\""));
  CHECK(has(r.out, "\"reason\": \"expect failed\""));
  CHECK(has(r.out, "{\"key\": \"lockme\", \"txn\": \"" + txn(2, 1).toString() + "\"}"));
  // Not UTF-8 (0xff): null, and the bytes in base64 beside it (json/json.h).
  CHECK(has(r.out,
            "{\"key\": \"color\", \"value\": null, \"value_base64\": \"YmwidWUK/w==\", "
            "\"version\": 1}"));
  // UTF-8 is kept as it is, not escaped byte by byte.
  CHECK(has(r.out, "{\"key\": \"menu\", \"value\": \"caf\xc3\xa9\", \"version\": 1}"));
  CHECK(has(r.out, "{\"key\": \"gone\", \"value\": null, \"version\": 1}"));
  CHECK(has(r.out, "\"leader\": {\"round\": 9}"));
  CHECK(has(r.out, "\"participants\": [3, 4], \"done\": false"));
}

TEST_CASE("inspect --json parses, and byte strings read back exactly (UTF-8 or base64)") {
  // A JSON parser must read the output, and each value come back byte for byte; the old
  // writer turned "caf\xc3\xa9" into "caf\xc3\x83\xc2\xa9" for any reader.
  TempDir tmp;
  populate(tmp.path());
  Run r = pcommit({"inspect", "--data", tmp.path(), "--json"});
  REQUIRE(r.exitCode == 0);
  const json::Value j = json::Value::parse(r.out);
  std::map<std::string, std::optional<std::string>> kvs;
  for (const auto& e : j.at("kv")) kvs[*json::getBytes(e, "key")] = json::getBytes(e, "value");
  CHECK(kvs.at("menu") == std::optional<std::string>("caf\xc3\xa9"));
  CHECK(kvs.at("color") == std::optional<std::string>(std::string("bl\"ue\n\xff", 7)));
  CHECK(kvs.at("gone") == std::nullopt);
  const auto& ops = j.at("participant").at("transactions").at(1).at("ops");
  CHECK(json::getBytes(ops.at(0), "value") ==
        std::optional<std::string>(std::string("bl\"ue\n\xff", 7)));
  CHECK(ops.at(1).at("value") == "caf\xc3\xa9");
}

TEST_CASE("inspect prints readable text by default") {
  TempDir tmp;
  populate(tmp.path());
  Run r = pcommit({"inspect", "--data", tmp.path()});
  CHECK(r.exitCode == 0);
  CHECK(has(r.out, "pcommit data directory " + tmp.path()));
  CHECK(has(r.out, "instance 3: mbal b2.5 bal b2.5 val prepared"));
  CHECK(has(r.out, "lockme held by " + txn(2, 1).toString()));
  CHECK(has(r.out, "color = bl\"ue\\x0a\\xff version 1"));
  CHECK(has(r.out, "leader: round 9"));
}

TEST_CASE("usage errors exit 64 naming the bad option or command; --help exits 0") {
  Run bad = pcommit({"inspect", "--data", "/x", "--bogus"});
  CHECK(bad.exitCode == 64);
  CHECK(has(bad.err, "pcommit inspect: unrecognised option '--bogus'"));
  Run missing = pcommit({"inspect", "--json"});
  CHECK(missing.exitCode == 64);
  CHECK(has(missing.err, "the option '--data' is required"));
  Run noValue = pcommit({"inspect", "--data"});
  CHECK(noValue.exitCode == 64);
  CHECK(has(noValue.err, "--data"));
  Run unknown = pcommit({"frobnicate"});
  CHECK(unknown.exitCode == 64);
  CHECK(has(unknown.err, "pcommit: unknown command 'frobnicate'"));
  Run none = pcommit({});
  CHECK(none.exitCode == 64);
  Run help = pcommit({"inspect", "--help"});
  CHECK(help.exitCode == 0);
  CHECK(has(help.out, "--data DIR"));
  CHECK(has(help.out, "--json"));
  Run top = pcommit({"--help"});
  CHECK(top.exitCode == 0);
  CHECK(has(top.out, "inspect"));
}

TEST_CASE("storage errors exit 1 with the path and the cause") {
  TempDir tmp;
  Run missing = pcommit({"inspect", "--data", tmp.path() + "/none"});
  CHECK(missing.exitCode == 1);
  CHECK(has(missing.err, "pcommit inspect: data directory " + tmp.path() + "/none does not exist"));
  Run empty = pcommit({"inspect", "--data", tmp.path()});
  CHECK(empty.exitCode == 1);
  CHECK(has(empty.err, tmp.path() + " is not a pcommit data directory: it has no data.mdb"));
  populate(tmp.path());
  {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 16);
    REQUIRE(mdb_env_open(env, tmp.path().c_str(), 0, 0644) == 0);
    MDB_txn* t = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &t) == 0);
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(t, "decision", 0, &dbi) == 0);
    std::string k = codec::txnKey(txn(3, 1)), v = "\x01";
    MDB_val kv{k.size(), k.data()}, vv{v.size(), v.data()};
    REQUIRE(mdb_put(t, dbi, &kv, &vv, 0) == 0);
    REQUIRE(mdb_txn_commit(t) == 0);
    mdb_env_close(env);
  }
  Run corrupt = pcommit({"inspect", "--data", tmp.path(), "--json"});
  CHECK(corrupt.exitCode == 1);
  CHECK(has(corrupt.err, tmp.path() + "/data.mdb is corrupted: database 'decision' key "));
}

TEST_CASE("inspect --verify: a clean directory exits 0 with a summary") {
  // If this fails, operators get false alarms on healthy nodes (or no summary to read).
  TempDir tmp;
  populate(tmp.path());
  Run r = pcommit({"inspect", "--verify", "--data", tmp.path()});
  CHECK(r.exitCode == 0);
  CHECK(r.err == "");
  CHECK(r.out.find("problem:") == std::string::npos);  // none listed
  CHECK(has(r.out, tmp.path() + ": "));
  CHECK(has(r.out, " entries checked, 0 problems\n"));
}

TEST_CASE("inspect --verify lists every problem (database, key, reason) and exits 1") {
  // If this fails, a damaged directory looks clean, or only its first problem is shown.
  TempDir tmp;
  populate(tmp.path());
  AcceptorTxnRecord a{txn(7, 1), {3, 4}, 5, {}};
  a.instances = {{3, Ballot{1, 5}, Ballot{2, 5}, Vote::Prepared},  // bal above mbal
                 {4, Ballot{}, std::nullopt, std::nullopt}};
  test::rawPut(tmp.path(), "acceptor", codec::txnKey(a.txn), codec::encode(a));
  test::rawPut(tmp.path(), "decision", codec::txnKey(txn(7, 2)), "\x01");  // undecodable
  test::rawPut(tmp.path(), "kv_locks", codec::lockKey(txn(7, 3), 0), codec::encodeLock("zz"));
  test::rawPut(tmp.path(), "acceptor", codec::txnKey(txn(1, 9)),  // also a tombstone
               codec::encode(AcceptorTxnRecord{txn(1, 9), {3}, 5, {{3, Ballot{}, {}, {}}}}));
  Run r = pcommit({"inspect", "--verify", "--data", tmp.path()});
  CHECK(r.exitCode == 1);
  const std::string data = tmp.path() + "/data.mdb";
  CHECK(has(r.out, "problem: " + data + ": database 'acceptor' key " + txn(7, 1).toString() +
                       ": instance 3 voted at ballot 2.5 above its promise mbal 1.5\n"));
  CHECK(has(r.out, "problem: " + data + ": database 'decision' key " + txn(7, 2).toString() +
                       ": decision value: truncated"));
  CHECK(has(r.out, "problem: " + data + ": database 'kv_locks' key "));
  CHECK(has(r.out, ": lock of " + txn(7, 3).toString() + " with no prepared record\n"));
  CHECK(has(r.out, "problem: " + data + ": database 'acceptor' key " + txn(1, 9).toString() +
                       ": the transaction also has a tombstone"));
  CHECK(has(r.out, " entries checked, 4 problems\n"));
  // The node itself refuses the directory at the first of them.
  Run dump = pcommit({"inspect", "--data", tmp.path()});
  CHECK(dump.exitCode == 1);
  CHECK(has(dump.err, data + " is corrupted: database 'acceptor' key " + txn(7, 1).toString() +
                          ": instance 3 voted at ballot 2.5 above its promise mbal 1.5"));
}

TEST_CASE("inspect --verify: external-engine payloads are opaque; usage errors exit 64") {
  // If this fails, an embedded participant's healthy directory is reported as damaged.
  TempDir tmp;
  {
    Options o;
    o.kvData = false;
    Env env(tmp.path(), o);
    env.writeBatch({ParticipantTxnRecord{
        txn(5, 1), ParticipantState::Prepared, "opaque engine bytes", {3}, 5, ""}});
  }
  Run ext = pcommit({"inspect", "--verify", "--external-engine", "--data", tmp.path()});
  CHECK(ext.exitCode == 0);
  CHECK(has(ext.out, " 0 problems\n"));
  Run kv = pcommit({"inspect", "--verify", "--data", tmp.path()});
  CHECK(kv.exitCode == 1);
  CHECK(has(kv.out, "state prepared with a payload the built-in KV engine cannot decode"));
  Run both = pcommit({"inspect", "--verify", "--json", "--data", tmp.path()});
  CHECK(both.exitCode == 64);
  CHECK(has(both.err, "--verify and --json cannot be combined"));
  Run stray = pcommit({"inspect", "--external-engine", "--data", tmp.path()});
  CHECK(stray.exitCode == 64);
}

TEST_CASE("inspect is safe while the node runs and writes (read-only, no pid lock)") {
  TempDir tmp;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the "node": writes through its storage thread until killed
    ::close(ready[0]);
    Options o;
    o.mapSizeStart = size_t{128} << 10;  // grows while inspect reads
    // Bounded: unthrottled and over ever new transactions, this writer once filled 64 GiB
    // of /tmp while a loaded machine ran the five inspects (each slower as the file grew).
    // Now ~1,000 records a second over 4,000 transactions, in a map of at most 1 GiB.
    o.mapSizeMax = size_t{1} << 30;
    Env env(tmp.path(), o);
    StorageThread st(env);
    for (uint64_t i = 1;; ++i) {
      if (i > 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      st.submit(
          {ParticipantTxnRecord{txn(i % 4000 + 1, 1),
                                ParticipantState::Committed,
                                kv::encodeOps({{kv::OpKind::Put, "k" + std::to_string(i % 100),
                                                std::string(2000, 'v'), 0}}),
                                {1},
                                1,
                                ""}});
      if (i == 50) {
        char c = 'r';
        if (::write(ready[1], &c, 1) != 1) ::_exit(1);
      }
    }
  }
  ::close(ready[1]);
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  for (int i = 0; i < 5; ++i) {
    Run r = pcommit({"inspect", "--data", tmp.path(), "--json"});
    CHECK(r.exitCode == 0);
    CHECK(r.err == "");
    CHECK(looksLikeJson(r.out));
  }
  CHECK(::kill(pid, 0) == 0);  // the node is still alive and was not disturbed
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace pc::storage
