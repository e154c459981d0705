// pc::ParticipantNode on its own thread, in this process: it starts, serves a client's
// `get` from the engine's read(), refuses a node that is not a participant, and stops. If
// this fails, the embedding API does not run (or stop) the participant it promises.
#include "participant/participant_node.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "client/client.h"
#include "tests/unit/local_util.h"  // freePort, ScratchDir
#include "tests/unit/test_util.h"   // also doctest, with a stringifier for pc enums

namespace pc {
namespace {

class ReadOnlyRm : public ResourceManager {
 public:
  PrepareResult prepare(const TxnId&, const Bytes&) override {
    return {Vote::Aborted, "read-only"};
  }
  void commit(const TxnId&) override {}
  void abort(const TxnId&) override {}
  std::vector<TxnId> prepared() override {
    ++preparedCalls;
    return {};
  }
  bool readable() const override { return true; }
  kv::Versioned read(const std::string& key) override { return {"value of " + key, 3}; }
  int preparedCalls = 0;
};

struct TempDir : test::ScratchDir {
  TempDir() : test::ScratchDir("pc-participant-node") {}
};

runtime::ClusterConfig cluster() {
  std::string text = "[cluster]\nprotocol = paxos\nf = 0\ntick-ms = 5\n";
  for (const char* n : {"c1", "p1", "a1"}) {
    std::string role = n[0] == 'c' ? "coordinator" : n[0] == 'p' ? "participant" : "acceptor";
    text += std::string("[node.") + n + "]\nrole = " + role +
            "\naddress = 127.0.0.1:" + std::to_string(test::freePort()) + "\ndata = " + n + "\n";
  }
  return runtime::parseClusterText(text, "test.conf");
}

// p1 of cluster(), its records in DIR/p1, its log lines dropped.
ParticipantNodeOptions p1Options(const TempDir& dir) {
  ParticipantNodeOptions o;
  o.cluster = cluster();
  o.node = "p1";
  o.dataDir = dir.path + "/p1";
  o.log = [](const std::string&) {};
  return o;
}

TEST_CASE("ParticipantNode: start on its own thread, serve a get from the engine, stop") {
  TempDir dir;
  ReadOnlyRm rm;
  ParticipantNodeOptions o = p1Options(dir);
  ParticipantNode node(rm, o);
  CHECK(node.name() == "p1");
  CHECK(!node.running());
  node.start();
  CHECK(node.running());
  CHECK(rm.preparedCalls == 1);  // reconciled at start
  {
    ClientOptions co;
    co.timeoutMs = 3000;
    co.queryTimeoutMs = 3000;
    BlockingClient client(*o.cluster, co);
    CHECK(client.get("k") == kv::Versioned{"value of k", 3});
  }
  node.stop();
  CHECK(!node.running());
  CHECK(node.failure().empty());
  node.stop();  // idempotent
}

TEST_CASE("ParticipantNode: its group commits go to the record log unless told otherwise") {
  // Default (PCOMMIT_RECORD_LOG unset): the log, as `pcommit serve`; recordLogBytes 0: the
  // tables alone, the log a previous run left emptied into them and removed.
  ::unsetenv("PCOMMIT_RECORD_LOG");
  TempDir dir;
  ReadOnlyRm rm;
  ParticipantNodeOptions o = p1Options(dir);
  const std::string logFile = o.dataDir + "/records.log";
  {
    ParticipantNode node(rm, o);
    CHECK(std::filesystem::exists(logFile));
  }
  o.recordLogBytes = 0;
  {
    ParticipantNode node(rm, o);
    CHECK(!std::filesystem::exists(logFile));
  }
  o.recordLogBytes = std::nullopt;
  ::setenv("PCOMMIT_RECORD_LOG", "lots", 1);
  std::string what;
  try {
    ParticipantNode node(rm, o);
  } catch (const ParticipantNodeError& e) {
    what = e.what();
  }
  ::unsetenv("PCOMMIT_RECORD_LOG");
  CHECK(what.find("PCOMMIT_RECORD_LOG=lots") != std::string::npos);

  // A size out of bounds is refused before anything is written.
  o.dataDir = dir.path + "/p1-bad";
  for (size_t bad : {size_t{100}, size_t{2} << 30}) {
    what.clear();
    o.recordLogBytes = bad;
    try {
      ParticipantNode node(rm, o);
    } catch (const ParticipantNodeError& e) {
      what = e.what();
    }
    CHECK(what.find("recordLogBytes " + std::to_string(bad) + ": expected 0") != std::string::npos);
    CHECK(!std::filesystem::exists(o.dataDir));
  }
}

TEST_CASE("ParticipantNode: a node that is not a participant is refused, naming it") {
  TempDir dir;
  ReadOnlyRm rm;
  ParticipantNodeOptions o;
  o.cluster = cluster();
  o.node = "a1";
  o.dataDir = dir.path + "/a1";
  std::string what;
  try {
    ParticipantNode node(rm, o);
  } catch (const ParticipantNodeError& e) {
    what = e.what();
  }
  CHECK(what.find("'a1' has role acceptor") != std::string::npos);
  CHECK(rm.preparedCalls == 0);
}

}  // namespace
}  // namespace pc
