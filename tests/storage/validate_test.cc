// Records validated by meaning at load (issue 12 item 7): a record that decodes but that
// no core could have written (a ballot without a value, instances that are not the
// participants, an unsorted list, an undecodable KV payload in a Prepared record...) is
// refused by Env::load() as corrupted, naming the database, the key and the reason. If
// this failed, a node would load the record and assert on it at every restart (a crash
// loop), or dereference an empty optional.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY  // enums and records without operator<<
#include "storage/validate.h"

#include <doctest/doctest.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include "paxos_commit/acceptor.h"
#include "paxos_commit/config.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/participant.h"
#include "storage/codec.h"
#include "storage/env.h"
#include "tests/storage/test_util.h"

#ifndef PC_PCOMMIT_PATH
#error "PC_PCOMMIT_PATH must name the pcommit binary"
#endif

namespace pc::storage {
namespace {

using test::rawPut;
using test::TempDir;
using test::txn;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A valid record of each kind, to be spoilt one field at a time by the cases below.
AcceptorTxnRecord goodAcceptor() {
  AcceptorTxnRecord a{txn(1, 7), {1001, 1002}, 1, {}};
  a.instances = {{1001, Ballot{3, 1}, Ballot{2, 1}, Vote::Prepared},
                 {1002, Ballot{0, 0}, std::nullopt, std::nullopt}};
  return a;
}
ParticipantTxnRecord goodParticipant() {
  return ParticipantTxnRecord{txn(1, 7),
                              ParticipantState::Prepared,
                              kv::encodeOps({{kv::OpKind::Put, "k", "v", 0}}),
                              {1001, 1002},
                              1,
                              ""};
}

// One bad value written under `key` of `db`, bypassing Env (whose writer asserts that
// records are valid), and the reason load() must give.
struct BadCase {
  const char* name;
  const char* db;
  std::string value;
  const char* reason;
};

std::vector<BadCase> badCases() {
  std::vector<BadCase> out;
  auto acc = [&](const char* name, auto spoil, const char* reason) {
    AcceptorTxnRecord a = goodAcceptor();
    spoil(a);
    out.push_back({name, "acceptor", codec::encode(a), reason});
  };
  acc(
      "ballot without value", [](auto& a) { a.instances[0].val.reset(); },
      "instance 1001 has a ballot but no value");
  acc(
      "value without ballot", [](auto& a) { a.instances[1].val = Vote::Aborted; },
      "instance 1002 has a value but no ballot");
  acc(
      "bal above mbal",
      [](auto& a) {
        a.instances[0].bal = Ballot{4, 1};
      },
      "instance 1001 voted at ballot 4.1 above its promise mbal 3.1");
  acc(
      "instances differ from participants", [](auto& a) { a.instances[1].instance = 1003; },
      "instance 1003 at position 1 differs from participant 1002");
  acc(
      "fewer instances than participants", [](auto& a) { a.instances.pop_back(); },
      "1 instances for 2 participants");
  acc(
      "decision instance beside a participant's",
      [](auto& a) { a.instances[1].instance = kDecisionInstance; },
      "instance 2147483647 at position 1 differs from participant 1002");
  acc(
      "decision instance voted above its promise",
      [](auto& a) {
        a.instances = {{kDecisionInstance, Ballot{1, 1}, Ballot{2, 1}, Vote::Prepared}};
      },
      "instance 2147483647 voted at ballot 2.1 above its promise mbal 1.1");
  acc(
      "unsorted participants",
      [](auto& a) {
        std::swap(a.participants[0], a.participants[1]);
        std::swap(a.instances[0], a.instances[1]);
      },
      "participants are not sorted and unique");
  acc(
      "duplicate participant",
      [](auto& a) {
        a.participants[1] = 1001;
        a.instances[1].instance = 1001;
      },
      "participants are not sorted and unique");
  acc(
      "no participants",
      [](auto& a) {
        a.participants.clear();
        a.instances.clear();
      },
      "no participants");
  acc(
      "participant 0",
      [](auto& a) {
        a.participants[0] = kNoNode;
        a.instances[0].instance = kNoNode;
      },
      "participant 0 (no node)");
  acc(
      "too many participants",
      [](auto& a) {
        a.participants.clear();
        a.instances.clear();
        for (NodeId n = 1; n <= 65; ++n) {
          a.participants.push_back(n);
          a.instances.push_back({n, Ballot{}, std::nullopt, std::nullopt});
        }
      },
      "65 participants (at most 64)");

  auto part = [&](const char* name, auto spoil, const char* reason) {
    ParticipantTxnRecord p = goodParticipant();
    spoil(p);
    out.push_back({name, "participant", codec::encode(p), reason});
  };
  part(
      "prepared without participants", [](auto& p) { p.participants.clear(); },
      "state prepared with no participants");
  part(
      "prepared without leader", [](auto& p) { p.leader = kNoNode; },
      "state prepared with no leader");
  part(
      "prepared with an undecodable payload", [](auto& p) { p.payload = "\x05junk"; },
      "state prepared with a payload the built-in KV engine cannot decode");
  part(
      "unsorted participants",
      [](auto& p) {
        p.participants = {1002, 1001};
      },
      "participants are not sorted and unique");
  part(
      "oversize payload", [](auto& p) { p.payload = std::string((1 << 20) + 1, 'x'); },
      "payload of 1048577 bytes (at most 1048576)");
  part(
      "oversize reason",
      [](auto& p) {
        p.state = ParticipantState::VotedAborted;
        p.reason = std::string((1 << 20) + 1, 'r');
      },
      "reason of 1048577 bytes (at most 1048576)");

  out.push_back({"pending decision without participants", "decision",
                 codec::encode(DecisionRecord{txn(1, 7), {}, false}),
                 "a pending decision with no participants"});
  out.push_back({"decision with unsorted participants", "decision",
                 codec::encode(DecisionRecord{txn(1, 7), {1002, 1001}, false}),
                 "participants are not sorted and unique"});
  return out;
}

// A fresh directory with one good record of each kind, plus one bad value.
void makeDirWith(const std::string& dir, const BadCase& c) {
  {
    Env env(dir);
    env.writeBatch(
        {goodAcceptor(), goodParticipant(), DecisionRecord{txn(1, 7), {1001, 1002}, false}});
    env.writeBatch({AcceptorTxnRecord{goodAcceptor()}});
  }
  rawPut(dir, c.db, codec::txnKey(txn(2, 0xbad)), c.value);
}

TEST_CASE("load() refuses a record no core could have written, naming database, key, reason") {
  for (const auto& c : badCases()) {
    CAPTURE(c.name);
    TempDir tmp;
    makeDirWith(tmp.path(), c);
    Env env(tmp.path());
    try {
      env.load();
      FAIL("load() accepted a bad record: " << c.name);
    } catch (const StorageError& e) {
      CHECK(std::string(toString(e.kind())) == toString(ErrorKind::Corrupted));
      CHECK(has(e.what(), tmp.path() + "/data.mdb is corrupted: database '" + c.db +
                              "' key 0000000000000002" + "0000000000000bad: " + c.reason));
    }
  }
}

TEST_CASE("the good records of those cases load (the cases spoil exactly one thing)") {
  TempDir tmp;
  {
    Env env(tmp.path());
    env.writeBatch({goodAcceptor(), goodParticipant(),
                    DecisionRecord{txn(1, 7), {1001, 1002}, false},
                    DecisionRecord{txn(1, 8), {}, true}});
  }
  Env env(tmp.path());
  Recovered r = env.load();
  CHECK(r.acceptorTxns.size() == 1);
  CHECK(r.participantTxns.size() == 1);
  CHECK(r.decisions.size() == 2);
}

TEST_CASE("2pc-replicated: an acceptor record of the one decision instance is valid") {
  AcceptorTxnRecord a{txn(1, 7), {1001, 1002}, 1, {}};
  a.instances = {{kDecisionInstance, Ballot{0, 0}, Ballot{0, 0}, Vote::Prepared}};
  CHECK_FALSE(checkRecord(a).has_value());
  a.instances[0].bal.reset();  // a value without a ballot is refused here too
  CHECK(checkRecord(a).has_value());
}

TEST_CASE("an acceptor record and a tombstone for one transaction are refused together") {
  // The acceptor asserts that no live transaction is also forgotten (checkInvariants).
  TempDir tmp;
  {
    Env env(tmp.path());
    env.writeBatch({AcceptorForgetRecord{txn(1, 7), Outcome::Commit}});
  }
  rawPut(tmp.path(), "acceptor", codec::txnKey(txn(1, 7)), codec::encode(goodAcceptor()));
  Env env(tmp.path());
  try {
    env.load();
    FAIL("load() accepted a live and forgotten transaction");
  } catch (const StorageError& e) {
    CHECK(has(e.what(),
              "is corrupted: database 'acceptor' key 0000000000000001"
              "0000000000000007: the transaction also has a tombstone"));
  }
}

TEST_CASE("an opaque payload loads when an external engine holds the data (kvData off)") {
  TempDir tmp;
  ParticipantTxnRecord p = goodParticipant();
  p.payload = "\x05 not a kv payload";
  Options o;
  o.kvData = false;
  {
    Env env(tmp.path(), o);
    env.writeBatch({p});
  }
  Env env(tmp.path(), o);
  CHECK(env.load().participantTxns == std::vector<ParticipantTxnRecord>{p});
}

TEST_CASE("why: the cores assert on such records (the crash loop load() now prevents)") {
  // An acceptor whose reloaded record has a ballot but no value fails its invariant check;
  // a participant restoring a Prepared record with an undecodable payload asserts at once.
  CoreConfig cfg;
  cfg.acceptors = {2001, 2002, 2003};
  Recovered img;
  AcceptorTxnRecord a = goodAcceptor();
  a.instances[0].val.reset();
  img.acceptorTxns.push_back(a);
  auto acceptor = test::runInChild([&] {
    Acceptor core(2001, cfg, img);
    core.checkInvariants();
  });
  CHECK(acceptor.signal == SIGABRT);

  Recovered img2;
  ParticipantTxnRecord p = goodParticipant();
  p.payload = "\x05junk";
  img2.participantTxns.push_back(p);
  auto participant = test::runInChild([&] {
    kv::KvEngine engine([](const std::string&) { return kv::Versioned{}; });
    Participant core(1001, cfg, engine, 1, img2);
  });
  CHECK(participant.signal == SIGABRT);
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_CASE("pcommit serve refuses a bad record at start: exit 1 and a clear error, no crash") {
  TempDir tmp;
  std::string cluster = tmp.path() + "/cluster.ini";
  {
    std::ofstream f(cluster);
    f << "[cluster]\nprotocol = paxos\nf = 0\n";
    f << "[node.c1]\nrole = coordinator\naddress = 127.0.0.1:" << freePort() << "\n";
    f << "[node.p1]\nrole = participant\naddress = 127.0.0.1:" << freePort() << "\ndata = p1\n";
    f << "[node.a1]\nrole = acceptor\naddress = 127.0.0.1:" << freePort() << "\n";
  }
  std::string data = tmp.sub("p1");
  { Env env(data); }
  ParticipantTxnRecord p = goodParticipant();
  p.participants = {1001};
  p.payload = "\x05junk";
  rawPut(data, "participant", codec::txnKey(p.txn), codec::encode(p));
  auto r = test::runInChild(
      [&] {
        // PC_TEST_PCOMMIT: run another build's binary (e.g. one without these checks).
        const char* other = std::getenv("PC_TEST_PCOMMIT");
        std::string bin = other != nullptr ? other : PC_PCOMMIT_PATH;
        std::vector<std::string> args = {bin, "serve", "--config", cluster, "--node", "p1"};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      },
      20000);
  INFO(r.err);
  CHECK(r.exited);
  CHECK(r.exitCode == 1);
  CHECK(has(r.err, "pcommit serve: " + data +
                       "/data.mdb is corrupted: database 'participant' "
                       "key 00000000000000010000000000000007: state prepared with a payload the "
                       "built-in KV engine cannot decode"));
}

TEST_CASE("pcommit serve --map-size-max: a bad size is a usage error naming it") {
  // If this failed, a typo in the map limit would start a node with the default (64 GiB).
  TempDir tmp;
  std::string cluster = tmp.path() + "/cluster.ini";
  {
    std::ofstream f(cluster);
    f << "[cluster]\nprotocol = paxos\nf = 0\nmap-size-max = 2MiB\n";
    f << "[node.c1]\nrole = coordinator\naddress = 127.0.0.1:" << freePort() << "\n";
    f << "[node.p1]\nrole = participant\naddress = 127.0.0.1:" << freePort() << "\n";
    f << "[node.a1]\nrole = acceptor\naddress = 127.0.0.1:" << freePort() << "\n";
  }
  auto r = test::runInChild(
      [&] {
        std::vector<std::string> args = {PC_PCOMMIT_PATH, "serve", "--config",       cluster,
                                         "--node",        "p1",    "--map-size-max", "1.5GiB"};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      },
      20000);
  INFO(r.err);
  CHECK(r.exited);
  CHECK(r.exitCode == 64);
  CHECK(has(r.err, "pcommit serve: bad --map-size-max '1.5GiB' (expected bytes or a size"));
}

}  // namespace
}  // namespace pc::storage
