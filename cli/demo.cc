// pcommit demo [--protocol paxos|2pc|paxos-classic] [--keep]: a guided tour on a local
// cluster in a temporary directory. It commits cross-shard transfers, then crashes the
// coordinator (failpoint coordinator.after_prepare_sent) in the middle of one:
//   - Paxos Commit: the participants' recovery leaders finish it through the acceptors,
//     with the coordinator still dead;
//   - 2PC: the participants stay in doubt, locks held, until the coordinator restarts.
// Then it stops the cluster and removes the directory (unless --keep).
#include <stdlib.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/options.h"
#include "client/client.h"
#include "runtime/local_cluster/local_cluster.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

using Clock = std::chrono::steady_clock;

void say(const std::string& s) { std::cout << s << std::endl; }
void step(const std::string& s) { std::cout << "\n== " << s << std::endl; }

size_t inDoubtTotal(BlockingClient& client, const runtime::ClusterConfig& cluster,
                    std::string* detail) {
  size_t total = 0;
  std::ostringstream os;
  for (const auto* p : cluster.withRole(runtime::Role::Participant)) {
    try {
      auto st = client.status(p->id);
      total += st.inDoubt.size();
      for (const auto& d : st.inDoubt) {
        os << "     " << p->name << ": txn " << d.txn.toString().substr(0, 12) << "... in doubt "
           << d.ageMs << " ms, waiting for " << d.waitingFor << "\n";
      }
    } catch (const kj::Exception&) {
      os << "     " << p->name << ": not answering\n";
    }
  }
  if (detail) *detail = os.str();
  return total;
}

// Three account names that live on three different shards.
std::vector<std::string> pickAccounts(BlockingClient& client) {
  std::vector<std::string> out;
  std::set<NodeId> shards;
  for (const char* k : {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
                        "judy", "mallory", "niaj", "olivia", "peggy", "rupert"}) {
    if (shards.insert(client.async().participantFor(k)).second) out.push_back(k);
    if (out.size() == 3) break;
  }
  return out;
}

std::string balances(BlockingClient& client, const std::vector<std::string>& accounts) {
  std::ostringstream os;
  for (const auto& k : accounts) {
    auto v = client.get(k);
    os << k << "=" << (v.value ? *v.value : "-") << " (v" << v.version << ")  ";
  }
  return os.str();
}

// Steps 1-3: open three accounts on three shards, two transfers through c1. Returns the
// accounts.
std::vector<std::string> openAndTransfer(BlockingClient& client) {
  step("three cross-shard transactions through coordinator c1");
  auto acct = pickAccounts(client);
  if (acct.size() < 3) throw std::runtime_error("could not place three accounts on three shards");
  const std::string& x = acct[0];
  const std::string& y = acct[1];
  const std::string& z = acct[2];
  auto seed = client.begin().put(x, "100").put(y, "100").put(z, "100").commit();
  say("  open accounts " + x + ", " + y + ", " + z + ": " + std::string(toString(seed.status)) +
      " " + seed.txn.toString());
  for (const auto& k : acct) {
    say(std::string("    ") + k + " lives on shard " +
        runtime::nameForId(client.async().participantFor(k)));
  }
  for (int i = 0; i < 2; ++i) {
    auto a = client.get(x);
    auto b = client.get(y);
    int av = std::stoi(*a.value) - 10, bv = std::stoi(*b.value) + 10;
    auto t = client.begin()
                 .expect(x, a.version)
                 .expect(y, b.version)
                 .put(x, std::to_string(av))
                 .put(y, std::to_string(bv));
    auto r = t.commit();
    say("  transfer 10 " + x + " -> " + y + ": " + std::string(toString(r.status)) + " " +
        r.txn.toString());
  }
  say("  balances: " + balances(client, acct));
  return acct;
}

// Waits up to 15 s from `since` until no participant holds a transaction in doubt;
// returns how many are left and the milliseconds since `start`.
std::pair<size_t, int64_t> waitNoInDoubt(BlockingClient& client,
                                         const runtime::ClusterConfig& cluster,
                                         Clock::time_point since, Clock::time_point start) {
  while (inDoubtTotal(client, cluster, nullptr) > 0 &&
         Clock::now() - since < std::chrono::seconds(15)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return {inDoubtTotal(client, cluster, nullptr), ms};
}

// After c1's crash: Paxos Commit finishes without it; 2PC waits for its restart. kExitOk if
// nothing is left in doubt.
int afterCrash(bool paxos, size_t inDoubt, BlockingClient& client,
               const runtime::ClusterConfig& cluster, const std::string& dir) {
  auto start = Clock::now();
  if (paxos) {
    if (inDoubt == 0) {
      say("  none: in the faster variant the acceptors' phase 2b reached the participants\n"
          "  directly, so they decided without c1 -- the client alone is left wondering.");
    } else {
      step(
          "Paxos Commit: no coordinator needed -- after their recovery timeout (1 s) the "
          "participants run phase 1/2 with the acceptors themselves");
    }
    auto [left, ms] = waitNoInDoubt(client, cluster, start, start);
    say("  in doubt now: " + std::to_string(left) + " (after " + std::to_string(ms) +
        " ms; c1 is still dead)");
    return left == 0 ? kExitOk : kExitFailure;
  }
  step("2PC: the participants may not decide alone; they wait for c1 (3 s here)");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::string detail;
  inDoubtTotal(client, cluster, &detail);
  std::cout << detail;
  step("restarting coordinator c1");
  local_cluster::onOwnThread(
      [&] { return local_cluster::restartNode(dir, "c1", std::cout, std::cerr); });
  auto [left, ms] = waitNoInDoubt(client, cluster, Clock::now(), start);
  say("  in doubt now: " + std::to_string(left) + " (blocked for " + std::to_string(ms) +
      " ms in all; presumed abort: c1 had no decision)");
  return left == 0 ? kExitOk : kExitFailure;
}

// The tour on the running cluster in `dir`: transfers, transaction 4 with c1's crash, what
// happens next. kExitOk, or kExitFailure if something stayed in doubt.
int tour(const std::string& dir, bool paxos) {
  auto cluster = runtime::loadClusterFile(dir + "/cluster.conf");
  ClientOptions co;
  co.coordinator = "c1";
  co.timeoutMs = 600;
  co.commitFailover = false;  // no failover to c2: the point is to watch c1's crash
  BlockingClient client(cluster, co);
  auto acct = openAndTransfer(client);
  const std::string& x = acct[0];
  const std::string& z = acct[2];

  step("transaction 4: coordinator c1 crashes right after its prepares went out");
  auto a = client.get(x);
  auto c = client.get(z);
  auto t = client.begin()
               .expect(x, a.version)
               .expect(z, c.version)
               .put(x, std::to_string(std::stoi(*a.value) - 25))
               .put(z, std::to_string(std::stoi(*c.value) + 25));
  say("  transfer 25 " + x + " -> " + z);
  auto r = t.commit();
  say("  client sees: " + std::string(toString(r.status)) + " " + r.txn.toString() +
      (r.reason.empty() ? "" : " (" + r.reason + ")"));
  std::string detail;
  size_t n = inDoubtTotal(client, cluster, &detail);
  say("  participants holding it prepared (locks held): " + std::to_string(n));
  std::cout << detail;
  int result = afterCrash(paxos, n, client, cluster, dir);
  auto final = client.outcome(t.id());
  say("  the client asks again (`pcommit outcome`, answered by " +
      std::string(paxos ? "any live coordinator, c2 here" : "c1") + "): transaction 4 " +
      std::string(toString(final)));
  say("  balances: " + balances(client, acct));
  return result;
}

}  // namespace

int runDemo(const Args& args) {
  po::options_description desc(
      "usage: pcommit demo [--protocol paxos|paxos-classic|2pc] [--keep]\n\n"
      "Starts a local cluster (3 participants, 3 acceptors, 2 coordinators) in a temporary\n"
      "directory, commits cross-shard transfers, crashes the coordinator in the middle of\n"
      "one and shows what happens next: Paxos Commit finishes it without the coordinator;\n"
      "2PC blocks until the coordinator is back. Then stops and cleans up.\n\noptions");
  std::string protocolText = "paxos";
  desc.add_options()("help,h", "print this help")(
      "protocol", po::value<std::string>(&protocolText)->value_name("P"),
      "paxos (default), paxos-classic or 2pc")("keep", "keep the cluster directory afterwards");
  po::variables_map vm;
  if (auto done = parseCommand("demo", args, desc, nullptr, vm)) return *done;
  auto protocol = parseProtocol(protocolText);
  if (!protocol || *protocol == Protocol::PaxosDirect) {
    std::cerr << "pcommit demo: --protocol '" << protocolText
              << "': expected paxos, paxos-classic or 2pc\n";
    return kExitUsage;
  }
  bool paxos = *protocol != Protocol::TwoPC;

  char tmpl[] = "/tmp/pcommit-demo-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::cerr << "pcommit demo: cannot create a temporary directory\n";
    return kExitFailure;
  }
  std::string dir = tmpl;
  local_cluster::ClusterStartOptions so;
  so.dir = dir;
  so.protocol = *protocol;
  so.recoveryTimeoutMs = 1000;
  step(std::string("starting a local ") + toString(*protocol) +
       " cluster: 2 coordinators, 3 participants (shards), 3 acceptors (F=1) in " + dir);
  // Arm the failpoint for every node; only coordinators pass the step it names. The 4th
  // transaction's prepares are its 4th hit.
  ::setenv("PCOMMIT_FAILPOINTS", "coordinator.after_prepare_sent=crash@4", 1);
  int rc = local_cluster::onOwnThread(
      [&] { return local_cluster::startCluster(so, std::cout, std::cerr); });
  ::unsetenv("PCOMMIT_FAILPOINTS");
  if (rc != 0) return rc;

  int result = kExitOk;
  try {
    result = tour(dir, paxos);
  } catch (const std::exception& e) {
    std::cerr << "pcommit demo: " << e.what() << "\n";
    result = kExitFailure;
  } catch (const kj::Exception& e) {
    std::cerr << "pcommit demo: " << e.getDescription().cStr() << "\n";
    result = kExitFailure;
  }

  step("stopping the cluster");
  local_cluster::onOwnThread([&] { return local_cluster::stopCluster(dir, std::cout, std::cerr); });
  if (vm.count("keep")) {
    say("kept " + dir + " (logs: " + dir + "/*.log)");
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return result;
}

}  // namespace pc::cli
