// Co-located roles (runtime::NodeHost::setLocalPeers): a coordinator, a participant and an
// acceptor on one event loop in this process, as `pcommit serve --node c1 --node p1 --node a1`
// runs them. Messages between them are handed over in-process, counted like network sends
// but with no RPC call, fire the delivery failpoints, and -- docs/PROTOCOL.md §6 pitfall 9 --
// reach the receiver only once the sender's records are durable. If this fails, co-location
// either breaks durable-before-send or skews the message counts the benchmark checks.
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include "acceptor/acceptor_host.h"
#include "client/client.h"
#include "coordinator/coordinator_host.h"
#include "participant/participant_host.h"
#include "runtime/node_host.h"
#include "tests/unit/local_util.h"  // freePort, ScratchDir
#include "tests/unit/test_util.h"   // also doctest, with a stringifier for pc enums

namespace pc {
namespace {

struct TempDir : test::ScratchDir {
  TempDir() : test::ScratchDir("pc-colocated") {}
};

// F = 0: one acceptor, so the participant's single vote is the whole acceptor write. A long
// recovery timeout: nothing but the normal case runs.
runtime::ClusterConfig cluster(const std::string& dir) {
  std::string text =
      "[cluster]\nprotocol = paxos\nf = 0\ntick-ms = 5\nrecovery-timeout-ms = 20000\n"
      "leader-timeout-ms = 30000\ncolocate = all\n";
  for (const char* n : {"c1", "p1", "a1"}) {
    std::string role = n[0] == 'c' ? "coordinator" : n[0] == 'p' ? "participant" : "acceptor";
    text += std::string("[node.") + n + "]\nrole = " + role +
            "\naddress = 127.0.0.1:" + std::to_string(test::freePort()) + "\ndata = " + n + "\n";
  }
  return runtime::parseClusterText(text, dir + "/cluster.conf");
}

// The nodes of one process on their own event-loop thread, as `pcommit serve` runs them.
// Environments and failpoints are made here, so the test can read both from its thread.
class Process {
 public:
  Process(const runtime::ClusterConfig& c, const std::map<std::string, std::string>& failpoints)
      : cluster_(c) {
    for (const auto& n : cluster_.nodes) {
      storage::Options so;
      so.createDir = true;
      envs_[n.name] = std::make_unique<storage::Env>(cluster_.dataDirOf(n), so);
      auto fp = failpoints.find(n.name);
      fps_[n.name] =
          std::make_unique<runtime::Failpoints>(fp == failpoints.end() ? "" : fp->second);
    }
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] {
      bool told = false;
      try {
        auto io = kj::setupAsyncIo();
        auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
        stop_ = kj::mv(stop.fulfiller);
        std::vector<std::unique_ptr<runtime::NodeHost>> hosts;
        std::vector<runtime::NodeHost*> peers;
        for (const auto& n : cluster_.nodes) {
          std::unique_ptr<runtime::RoleHost> role;
          if (n.role == runtime::Role::Coordinator) role = std::make_unique<CoordinatorHost>();
          if (n.role == runtime::Role::Participant) role = std::make_unique<ParticipantHost>();
          if (n.role == runtime::Role::Acceptor) role = std::make_unique<AcceptorHost>();
          hosts.push_back(std::make_unique<runtime::NodeHost>(
              io, cluster_, n, *envs_[n.name], *fps_[n.name], 7,
              [name = n.name](const std::string& line) { runtime::logLine(name, line); },
              std::move(role)));
          peers.push_back(hosts.back().get());
        }
        for (auto& h : hosts) h->setLocalPeers(peers);
        kj::Promise<void> serving = kj::mv(stop.promise);
        for (auto& h : hosts) serving = serving.exclusiveJoin(h->run());
        ready.set_value();
        told = true;
        serving.wait(io.waitScope);
      } catch (...) {
        if (!told) ready.set_exception(std::current_exception());
      }
    });
    try {
      started.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~Process() {
    stop_->fulfill();
    thread_.join();
  }
  storage::Env& env(const std::string& n) { return *envs_.at(n); }
  runtime::Failpoints& failpoints(const std::string& n) { return *fps_.at(n); }

 private:
  runtime::ClusterConfig cluster_;
  std::map<std::string, std::unique_ptr<storage::Env>> envs_;
  std::map<std::string, std::unique_ptr<runtime::Failpoints>> fps_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  std::thread thread_;
};

TEST_CASE("co-located nodes: a vote reaches the acceptor in-process only once it is durable") {
  TempDir dir;
  runtime::ClusterConfig c = cluster(dir.path);
  // a1 sleeps on the event loop -- the one loop of all three nodes -- when it is about to
  // persist p1's vote: everything is frozen at the moment the vote arrived. delay(0) on
  // the delivery failpoints only counts their hits.
  Process process(c, {{"a1", "acceptor.before_persist=delay(500)@1"},
                      {"p1", "participant.after_vote_sent=delay(0)"},
                      {"c1", "coordinator.after_prepare_sent=delay(0)"}});

  const NodeId p1 = c.byName("p1")->id;
  auto commit = std::async(std::launch::async, [&c, p1] {
    BlockingClient client(c);
    return client.begin().put("k", "v", p1).commit();
  });

  auto& a1fp = process.failpoints("a1");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (a1fp.hits("acceptor.before_persist") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(a1fp.hits("acceptor.before_persist") == 1);
  // p1's prepared record was durable before its vote left (and arrived, here, in-process).
  Recovered p1state = process.env("p1").load();
  REQUIRE(p1state.participantTxns.size() == 1);
  CHECK(p1state.participantTxns.front().state == ParticipantState::Prepared);
  // ... while a1 has not written the vote yet.
  CHECK(process.env("a1").load().acceptorTxns.empty());

  CommitResult r = commit.get();
  CHECK(r.committed());
  // The delivery hooks fire for in-process deliveries too.
  CHECK(process.failpoints("c1").hits("coordinator.after_prepare_sent") == 1);
  CHECK(process.failpoints("p1").hits("participant.after_vote_sent") == 1);

  // Counted as sends, and as local ones: p1 and a1 talk only to co-hosted nodes (no RPC
  // call at all); c1 answers the client over TCP.
  BlockingClient client(c);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the acks of the outcome
  auto p1s = client.status(p1).counters;
  auto a1s = client.status(c.byName("a1")->id).counters;
  auto c1s = client.status(c.byName("c1")->id).counters;
  CHECK(p1s["messages_sent"] > 0);
  CHECK(p1s["messages_local"] == p1s["messages_sent"]);
  CHECK(p1s["rpc_calls_sent"] == 0);
  CHECK(p1s["sent_Phase2a"] == 1);
  CHECK(p1s["messages_received"] >= 2);  // the prepare and the 2b, both in-process
  CHECK(a1s["messages_sent"] > 0);
  CHECK(a1s["messages_local"] == a1s["messages_sent"]);
  CHECK(a1s["rpc_calls_sent"] == 0);
  CHECK(c1s["sent_Prepare"] == 1);
  CHECK(c1s["messages_local"] >= 1);
  CHECK(c1s["messages_local"] < c1s["messages_sent"]);  // the client's answer went by TCP
  CHECK(c1s["rpc_calls_sent"] >= 1);
}

}  // namespace
}  // namespace pc
