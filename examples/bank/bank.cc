// bank: money transfers between accounts kept on different shards, with pcommit's client.
//
//   bank --cluster DIR/cluster.conf [--accounts 8] [--transfers 200] [--in-flight 4]
//        [--balance 100] [--mode auto|coordinator|direct] [--timeout-ms 10000] [--seed S]
//   bank --nodes c1=HOST:PORT,p1=HOST:PORT,...,a1=HOST:PORT [--protocol paxos] ...
//
// Account i lives on participant i mod P (named explicitly, so every shard holds some).
// One transaction opens all accounts at --balance. Then --in-flight transfers run at a time
// on one thread (the asynchronous client on a KJ event loop), each one:
//   read both balances with their versions; expect both versions; put both new balances.
// Concurrent transfers touching the same account conflict: one commits, the others abort
// (their expect failed or a lock was held) -- optimistic concurrency, no lost update.
// A transfer whose outcome is Unknown is committed again with the same id (idempotent).
//
// At the end it reads every account and checks two things, which hold only if every
// transaction was all-or-nothing and every result reported was true:
//   - the total equals accounts x balance (money is neither created nor lost);
//   - the sum of the versions equals accounts + 2 x committed (each committed transfer
//     wrote both of its accounts once, each aborted one wrote nothing).
// Exit 0 if both hold, 1 if one does not, 2 if the cluster did not answer, 64 on bad usage.
#include <inttypes.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <pcommit/client.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string clusterFile;
  std::vector<std::string> nodes;
  pc::Protocol protocol = pc::Protocol::Paxos;
  pc::ClientOptions client;
  int accounts = 8;
  int transfers = 200;
  int inFlight = 4;
  int64_t balance = 100;
  uint64_t seed = 0;  // 0: random
  int retries = 3;    // commits again after Unknown
};

[[noreturn]] void usage(const std::string& error) {
  std::cerr << "bank: " << error << "\n"
            << "usage: bank (--cluster FILE | --nodes NAME=HOST:PORT,... [--protocol P])\n"
            << "            [--accounts N] [--transfers N] [--in-flight N] [--balance B]\n"
            << "            [--mode auto|coordinator|direct] [--timeout-ms T] [--seed S]\n";
  std::exit(64);
}

int64_t parseInt(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
    usage(flag + " " + text + ": expected an integer in " + std::to_string(min) + ".." +
          std::to_string(max));
  }
  return v;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--cluster") {
      o.clusterFile = value();
    } else if (flag == "--nodes") {
      std::stringstream list(value());
      for (std::string node; std::getline(list, node, ',');) o.nodes.push_back(node);
    } else if (flag == "--protocol") {
      auto p = pc::parseProtocol(value());
      if (!p) usage("--protocol: expected 2pc, paxos-classic, paxos or paxos-direct");
      o.protocol = *p;
    } else if (flag == "--mode") {
      auto m = pc::parseClientMode(value());
      if (!m) usage("--mode: expected auto, coordinator or direct");
      o.client.mode = *m;
    } else if (flag == "--accounts") {
      o.accounts = static_cast<int>(parseInt(flag, value(), 2, 10000));
    } else if (flag == "--transfers") {
      o.transfers = static_cast<int>(parseInt(flag, value(), 0, 10000000));
    } else if (flag == "--in-flight") {
      o.inFlight = static_cast<int>(parseInt(flag, value(), 1, 1000));
    } else if (flag == "--balance") {
      o.balance = parseInt(flag, value(), 0, 1000000000);
    } else if (flag == "--timeout-ms") {
      o.client.timeoutMs = static_cast<uint32_t>(parseInt(flag, value(), 1, 3600000));
    } else if (flag == "--seed") {
      o.seed = static_cast<uint64_t>(parseInt(flag, value(), 1, INT64_MAX));
    } else {
      usage("unknown argument " + flag);
    }
  }
  if (o.clusterFile.empty() == o.nodes.empty()) usage("give --cluster or --nodes (one of them)");
  return o;
}

struct Account {
  std::string key;
  pc::NodeId participant;
};

struct Tally {
  int started = 0;
  int committed = 0;
  int aborted = 0;
  int unknown = 0;
  int retried = 0;
  std::string sampleAbort;  // one abort reason, to show what a conflict looks like
};

// The bank: accounts, and the transfer loops sharing one client on one event loop.
class Bank {
 public:
  Bank(pc::Client& client, const Options& o) : client_(client), opts_(o), rng_(seed(o)) {
    auto participants = client.cluster().withRole(pc::runtime::Role::Participant);
    // A per-run prefix: the accounts are new, so their versions start at 0.
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "bank-%08" PRIx64 "-", rng_() & 0xffffffffu);
    for (int i = 0; i < o.accounts; ++i) {
      const auto* p = participants[static_cast<size_t>(i) % participants.size()];
      accounts_.push_back(Account{prefix + std::to_string(i), p->id});
      perShard_[p->name] += 1;
    }
  }

  const std::map<std::string, int>& perShard() const { return perShard_; }
  const Tally& tally() const { return tally_; }

  // One transaction opens every account; expect version 0 so it never overwrites.
  kj::Promise<pc::CommitResult> open() {
    auto txn = client_.begin();
    for (const auto& a : accounts_) {
      txn.expect(a.key, 0, a.participant).put(a.key, std::to_string(opts_.balance), a.participant);
    }
    return txn.commit();
  }

  // `inFlight` loops, each running transfers one after another until all have started.
  kj::Promise<void> transferAll() {
    auto loops = kj::heapArrayBuilder<kj::Promise<void>>(static_cast<size_t>(opts_.inFlight));
    for (int i = 0; i < opts_.inFlight; ++i) loops.add(transferLoop());
    return kj::joinPromises(loops.finish());
  }

  // Every account's committed balance and version.
  kj::Promise<std::vector<pc::kv::Versioned>> readAll() { return readFrom(0, {}); }
  const std::vector<Account>& accounts() const { return accounts_; }

 private:
  static uint64_t seed(const Options& o) { return o.seed != 0 ? o.seed : std::random_device{}(); }

  kj::Promise<void> transferLoop() {
    if (tally_.started >= opts_.transfers) return kj::READY_NOW;
    ++tally_.started;
    size_t from = rng_() % accounts_.size();
    size_t to = (from + 1 + rng_() % (accounts_.size() - 1)) % accounts_.size();
    uint64_t amountSeed = rng_();
    return transfer(accounts_[from], accounts_[to], amountSeed).then([this]() {
      return transferLoop();
    });
  }

  // Reads both balances with their versions, then commits the move of money only if
  // neither account changed since (expect) -- the optimistic-concurrency pattern.
  kj::Promise<void> transfer(const Account& from, const Account& to, uint64_t amountSeed) {
    return client_.get(from.key, from.participant)
        .then([this, &from, &to, amountSeed](pc::kv::Versioned a) {
          return client_.get(to.key, to.participant)
              .then([this, &from, &to, amountSeed, a](pc::kv::Versioned b) {
                int64_t balanceA = balanceOf(from, a);
                int64_t balanceB = balanceOf(to, b);
                // Move 1..min(balance, 20); from an empty account nothing moves, the
                // transaction still checks both versions and writes both balances.
                int64_t amount =
                    balanceA == 0 ? 0 : 1 + static_cast<int64_t>(amountSeed % 20) % balanceA;
                auto txn = client_.begin();
                txn.expect(from.key, a.version, from.participant)
                    .expect(to.key, b.version, to.participant)
                    .put(from.key, std::to_string(balanceA - amount), from.participant)
                    .put(to.key, std::to_string(balanceB + amount), to.participant);
                return commitWithRetry(txn, opts_.retries);
              });
        });
  }

  // Unknown is not a failure: commit the same transaction (same id) again.
  kj::Promise<void> commitWithRetry(pc::AsyncTransaction txn, int retriesLeft) {
    auto done = txn.commit();
    return done.then([this, txn, retriesLeft](pc::CommitResult r) -> kj::Promise<void> {
      if (r.committed()) {
        ++tally_.committed;
      } else if (r.aborted()) {
        ++tally_.aborted;
        if (tally_.sampleAbort.empty()) tally_.sampleAbort = r.reason;
      } else if (retriesLeft > 0) {
        ++tally_.retried;
        return commitWithRetry(txn, retriesLeft - 1);
      } else {
        ++tally_.unknown;
        std::cerr << "bank: transfer " << r.txn.toString() << " unknown: " << r.reason << "\n";
      }
      return kj::READY_NOW;
    });
  }

  static int64_t balanceOf(const Account& a, const pc::kv::Versioned& v) {
    KJ_REQUIRE(v.value.has_value(), "account has no balance", a.key);
    return std::stoll(*v.value);
  }

  kj::Promise<std::vector<pc::kv::Versioned>> readFrom(size_t i,
                                                       std::vector<pc::kv::Versioned> got) {
    if (i == accounts_.size()) return kj::mv(got);
    return client_.get(accounts_[i].key, accounts_[i].participant)
        .then([this, i, got = std::move(got)](pc::kv::Versioned v) mutable {
          got.push_back(std::move(v));
          return readFrom(i + 1, std::move(got));
        });
  }

  pc::Client& client_;
  const Options& opts_;
  std::mt19937_64 rng_;
  std::vector<Account> accounts_;
  std::map<std::string, int> perShard_;
  Tally tally_;
};

int run(const Options& o) {
  auto cluster = o.clusterFile.empty() ? pc::clusterFromAddresses(o.nodes, o.protocol)
                                       : pc::clusterFromFile(o.clusterFile);
  auto io = kj::setupAsyncIo();
  pc::Client client(io, std::move(cluster), o.client);
  Bank bank(client, o);

  std::cout << "bank: pcommit " << pc::libraryVersion() << ", mode " << pc::toString(client.mode())
            << std::endl;
  std::cout << "bank: accounts " << bank.accounts().front().key << ".."
            << bank.accounts().size() - 1 << ", " << o.balance << " each, over "
            << bank.perShard().size() << " participants (";
  const char* sep = "";
  for (const auto& [name, n] : bank.perShard()) {
    std::cout << sep << name << ": " << n;
    sep = ", ";
  }
  std::cout << ")" << std::endl;

  auto opened = bank.open().wait(io.waitScope);
  if (!opened.committed()) {
    std::cout << "bank: opening the accounts did not commit: " << pc::toString(opened.status) << " "
              << opened.reason << std::endl;
    return 2;
  }

  bank.transferAll().wait(io.waitScope);
  const Tally& t = bank.tally();
  std::cout << "bank: " << t.started << " transfers, " << o.inFlight
            << " in flight: " << t.committed << " committed, " << t.aborted << " aborted, "
            << t.unknown << " unknown (" << t.retried << " retried after unknown)" << std::endl;
  if (!t.sampleAbort.empty()) std::cout << "bank: e.g. aborted: " << t.sampleAbort << std::endl;

  auto all = bank.readAll().wait(io.waitScope);
  int64_t total = 0;
  uint64_t versions = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].value) {
      std::cout << "bank: account " << bank.accounts()[i].key << " is missing" << std::endl;
      return 1;
    }
    total += std::stoll(*all[i].value);
    versions += all[i].version;
  }
  const int64_t wantTotal = o.balance * o.accounts;
  bool ok = total == wantTotal;
  std::cout << "bank: total " << total << " (expected " << wantTotal
            << "): " << (total == wantTotal ? "ok" : "WRONG") << std::endl;
  if (t.unknown == 0) {
    const uint64_t wantVersions =
        static_cast<uint64_t>(o.accounts) + 2 * static_cast<uint64_t>(t.committed);
    ok = ok && versions == wantVersions;
    std::cout << "bank: versions " << versions << " (expected " << o.accounts << " + 2 x "
              << t.committed << " = " << wantVersions
              << "): " << (versions == wantVersions ? "ok" : "WRONG") << std::endl;
  } else {
    std::cout << "bank: versions " << versions << " (not checked: " << t.unknown
              << " outcomes unknown)" << std::endl;
  }
  if (!ok) return 1;
  return t.unknown == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  try {
    return run(o);
  } catch (const pc::runtime::ConfigError& e) {
    std::cerr << "bank: " << e.what() << "\n";
    return 64;
  } catch (const kj::Exception& e) {
    std::cerr << "bank: the cluster did not answer: " << e.getDescription().cStr() << "\n";
    return 2;
  }
}
