// pcommit txn / get / outcome: the client side of the command contract (DESIGN.md §4).
//
//   pcommit txn --cluster FILE [--coordinator ID] [--timeout-ms T] [--txid TXID] [--json] OP...
//     OP is put:KEY=VALUE | del:KEY | expect:KEY=VERSION
//     prints `committed TXID` (exit 0), `aborted TXID: REASON` (exit 1) or
//     `unknown TXID: REASON` (exit 2). --txid retries a transaction with its id (safe).
//   pcommit get --cluster FILE [--json] KEY
//     prints `VALUE VERSION` (exit 0) or `not found` (exit 1)
//   pcommit outcome --cluster FILE [--json] TXID
//     prints `committed|aborted|unknown|forgotten TXID`; exit 0, 1, 2, 3 respectively
// Usage and configuration errors exit 64 with a message naming the bad option or line.
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "client/client.h"
#include "json/json.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

// Parses the common options; returns an exit code to stop with, or -1 to go on.
int parseArgs(const char* cmd, const Args& args, po::options_description& desc,
              po::positional_options_description& pos, po::variables_map& vm) {
  if (auto done = parseCommand(cmd, args, desc, &pos, vm)) return *done;
  if (!vm.count("cluster")) {
    std::cerr << "pcommit " << cmd << ": the option '--cluster' is required\ntry 'pcommit " << cmd
              << " --help'\n";
    return kExitUsage;
  }
  return -1;
}

std::optional<kv::Op> parseOp(const std::string& s, std::string& err) {
  auto colon = s.find(':');
  if (colon == std::string::npos) {
    err = "'" + s + "': expected put:KEY=VALUE, del:KEY or expect:KEY=VERSION";
    return std::nullopt;
  }
  std::string kind = s.substr(0, colon);
  std::string rest = s.substr(colon + 1);
  kv::Op op;
  if (kind == "del") {
    op.kind = kv::OpKind::Del;
    op.key = rest;
  } else if (kind == "put" || kind == "expect") {
    auto eq = rest.find('=');
    if (eq == std::string::npos) {
      err = "'" + s + "': missing '=' (" + kind + ":KEY=" + (kind == "put" ? "VALUE" : "VERSION") +
            ")";
      return std::nullopt;
    }
    op.key = rest.substr(0, eq);
    std::string v = rest.substr(eq + 1);
    if (kind == "put") {
      op.kind = kv::OpKind::Put;
      op.value = v;
    } else {
      op.kind = kv::OpKind::Expect;
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 19) {
        err = "'" + s + "': VERSION must be a whole number";
        return std::nullopt;
      }
      op.version = std::stoull(v);
    }
  } else {
    err = "'" + s + "': unknown operation '" + kind + "' (put, del, expect)";
    return std::nullopt;
  }
  if (op.key.empty()) {
    err = "'" + s + "': empty key";
    return std::nullopt;
  }
  if (op.key.size() > kv::kMaxKeyBytes || op.value.size() > kv::kMaxValueBytes) {
    err = "'" + s + "': key or value too large";
    return std::nullopt;
  }
  return op;
}

int loadCluster(const char* cmd, const std::string& path, runtime::ClusterConfig& out) {
  try {
    out = runtime::loadClusterFile(path);
    return -1;
  } catch (const std::exception& e) {
    std::cerr << "pcommit " << cmd << ": " << e.what() << "\n";
    return kExitUsage;
  }
}

// The answer of `pcommit txn` on stdout, and its exit code (0 committed, 1 aborted, 2
// unknown).
int printTxn(const TxnId& txn, const CommitResult& r, size_t participants, int64_t us,
             bool asJson) {
  if (asJson) {
    json::Value j{{"txid", txn.toString()}, {"status", toString(r.status)}};
    json::putBytes(j, "reason", r.reason);
    j["participants"] = participants;
    j["latency_us"] = us;
    std::cout << json::render(j) << "\n";
  } else if (r.status == TxnStatus::Committed) {
    std::cout << "committed " << txn.toString() << "\n";
  } else {
    std::cout << toString(r.status) << " " << txn.toString() << ": " << r.reason << "\n";
  }
  switch (r.status) {
    case TxnStatus::Committed:
      return 0;
    case TxnStatus::Aborted:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

int runTxn(const Args& args) {
  po::options_description desc(
      "usage: pcommit txn --cluster FILE [options] OP...\n\n"
      "Commits OPs atomically across the participants owning their keys.\n"
      "OP is put:KEY=VALUE | del:KEY | expect:KEY=VERSION (VERSION 0 = never written).\n"
      "Prints `committed TXID` (exit 0), `aborted TXID: REASON` (exit 1) or\n"
      "`unknown TXID: REASON` (exit 2: the outcome was not learned in time; `pcommit\n"
      "outcome` finds it later, and `--txid TXID` retries the same transaction safely).\n\n"
      "options");
  std::string clusterPath, coordinator, txidText;
  uint32_t timeoutMs = 10000;
  std::vector<std::string> ops;
  desc.add_options()("help,h", "print this help")(
      "cluster", po::value<std::string>(&clusterPath)->value_name("FILE"), "the cluster file")(
      "coordinator", po::value<std::string>(&coordinator)->value_name("ID"),
      "send to this coordinator first (default: the first in the file)")(
      "timeout-ms", po::value<uint32_t>(&timeoutMs)->value_name("T"),
      "give up waiting after T ms (default 10000)")(
      "txid", po::value<std::string>(&txidText)->value_name("TXID"),
      "use this transaction id (retry after unknown)")("json", "print one JSON object")(
      "op", po::value<std::vector<std::string>>(&ops), "operations");
  po::positional_options_description pos;
  pos.add("op", -1);
  po::variables_map vm;
  if (int rc = parseArgs("txn", args, desc, pos, vm); rc >= 0) return rc;
  if (ops.empty()) {
    std::cerr << "pcommit txn: no operation given (put:KEY=VALUE, del:KEY, expect:KEY=VERSION)\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("txn", clusterPath, cluster); rc >= 0) return rc;
  if (!coordinator.empty()) {
    const auto* n = cluster.byName(coordinator);
    if (n == nullptr || n->role != runtime::Role::Coordinator) {
      std::cerr << "pcommit txn: --coordinator " << coordinator << ": not a coordinator of "
                << clusterPath << "\n";
      return kExitUsage;
    }
  }
  if (timeoutMs == 0) {
    std::cerr << "pcommit txn: --timeout-ms must be positive\n";
    return kExitUsage;
  }
  std::vector<kv::Op> parsed;
  for (const auto& s : ops) {
    std::string err;
    auto op = parseOp(s, err);
    if (!op) {
      std::cerr << "pcommit txn: " << err << "\n";
      return kExitUsage;
    }
    parsed.push_back(*op);
  }
  std::optional<TxnId> given;
  if (vm.count("txid")) {
    given = TxnId::parse(txidText);
    if (!given) {
      std::cerr << "pcommit txn: --txid '" << txidText << "': expected 32 hex digits\n";
      return kExitUsage;
    }
  }
  ClientOptions co;
  co.coordinator = coordinator;
  co.timeoutMs = timeoutMs;
  co.retryMs = std::max<uint32_t>(timeoutMs / 4, 200);
  BlockingClient client(cluster, co);
  TxnId txn = given ? *given : client.async().newTxnId();
  std::map<NodeId, std::vector<kv::Op>> byParticipant;
  for (auto& op : parsed) byParticipant[client.async().participantFor(op.key)].push_back(op);
  auto start = std::chrono::steady_clock::now();
  CommitResult r = client.commit(txn, byParticipant);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  return printTxn(txn, r, byParticipant.size(), us, vm.count("json") > 0);
}

int runGet(const Args& args) {
  po::options_description desc(
      "usage: pcommit get --cluster FILE [--json] KEY\n\n"
      "Reads KEY's committed value at the participant that owns it.\n"
      "Prints `VALUE VERSION` (exit 0) or `not found` (exit 1).\n\noptions");
  std::string clusterPath, key;
  desc.add_options()("help,h", "print this help")(
      "cluster", po::value<std::string>(&clusterPath)->value_name("FILE"), "the cluster file")(
      "json", "print one JSON object")("key", po::value<std::string>(&key), "the key");
  po::positional_options_description pos;
  pos.add("key", 1);
  po::variables_map vm;
  if (int rc = parseArgs("get", args, desc, pos, vm); rc >= 0) return rc;
  if (key.empty()) {
    std::cerr << "pcommit get: no KEY given\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("get", clusterPath, cluster); rc >= 0) return rc;
  BlockingClient client(cluster);
  kv::Versioned v;
  try {
    v = client.get(key);
  } catch (const kj::Exception& e) {
    std::cerr << "pcommit get: participant "
              << runtime::nameForId(client.async().participantFor(key))
              << " did not answer: " << e.getDescription().cStr() << "\n";
    return 2;
  }
  if (vm.count("json")) {
    // Byte strings: UTF-8 as is, other bytes as "<field>_base64" (json/json.h).
    json::Value j;
    json::putBytes(j, "key", key);
    j["found"] = v.value.has_value();
    if (v.value) {
      json::putBytes(j, "value", *v.value);
    } else {
      j["value"] = nullptr;
    }
    j["version"] = v.version;
    std::cout << json::render(j) << "\n";
  } else if (v.value) {
    std::cout << *v.value << " " << v.version << "\n";
  } else {
    std::cout << "not found\n";
  }
  return v.value ? 0 : 1;
}

int runOutcome(const Args& args) {
  po::options_description desc(
      "usage: pcommit outcome --cluster FILE [--json] TXID\n\n"
      "Asks a coordinator what became of TXID; in Paxos Commit an unknown transaction is\n"
      "recovered through the acceptors, never guessed. Prints `STATUS TXID`.\n"
      "Exit 0 committed, 1 aborted, 2 unknown, 3 forgotten (collected long ago).\n\noptions");
  std::string clusterPath, txidText;
  desc.add_options()("help,h", "print this help")(
      "cluster", po::value<std::string>(&clusterPath)->value_name("FILE"), "the cluster file")(
      "json", "print one JSON object")("txid", po::value<std::string>(&txidText), "the id");
  po::positional_options_description pos;
  pos.add("txid", 1);
  po::variables_map vm;
  if (int rc = parseArgs("outcome", args, desc, pos, vm); rc >= 0) return rc;
  auto txn = TxnId::parse(txidText);
  if (!txn) {
    std::cerr << "pcommit outcome: TXID '" << txidText << "': expected 32 hex digits\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("outcome", clusterPath, cluster); rc >= 0) return rc;
  BlockingClient client(cluster);
  TxnStatus s = client.outcome(*txn);
  if (vm.count("json")) {
    std::cout << json::render({{"txid", txn->toString()}, {"status", toString(s)}}) << "\n";
  } else {
    std::cout << toString(s) << " " << txn->toString() << "\n";
  }
  switch (s) {
    case TxnStatus::Committed:
      return 0;
    case TxnStatus::Aborted:
      return 1;
    case TxnStatus::Unknown:
      return 2;
    case TxnStatus::Forgotten:
      return 3;
  }
  return 2;
}

}  // namespace pc::cli
