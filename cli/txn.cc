// pcommit txn --cluster FILE [--coordinator ID] [--timeout-ms T] [--txid TXID] [--json] OP...
//   OP is put:KEY=VALUE | del:KEY | expect:KEY=VERSION
//   prints `committed TXID` (exit 0), `aborted TXID: REASON` (exit 1) or
//   `unknown TXID: REASON` (exit 2). --txid retries a transaction with its id (safe).
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "client/client.h"
#include "json/json.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

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
      "usage: pcommit txn [--cluster FILE | --endpoints LIST] [options] OP...\n\n"
      "Commits OPs atomically across the participants owning their keys.\n"
      "OP is put:KEY=VALUE | del:KEY | expect:KEY=VERSION (VERSION 0 = never written).\n"
      "Prints `committed TXID` (exit 0), `aborted TXID: REASON` (exit 1) or\n"
      "`unknown TXID: REASON` (exit 2: the outcome was not learned in time; `pcommit\n"
      "outcome` finds it later, and `--txid TXID` retries the same transaction safely).\n\n"
      "options");
  ClusterArgs where;
  std::string coordinator, txidText;
  uint32_t timeoutMs = 10000;
  std::vector<std::string> ops;
  desc.add_options()("help,h", "print this help")(
      "coordinator", po::value<std::string>(&coordinator)->value_name("ID"),
      "send to this coordinator first (default: the first in the file)")(
      "timeout-ms", po::value<uint32_t>(&timeoutMs)->value_name("T"),
      "give up waiting after T ms (default 10000)")(
      "txid", po::value<std::string>(&txidText)->value_name("TXID"),
      "use this transaction id (retry after unknown)")("json", "print one JSON object")(
      "op", po::value<std::vector<std::string>>(&ops), "operations");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  pos.add("op", -1);
  po::variables_map vm;
  if (int rc = parseClientArgs("txn", args, desc, pos, vm); rc >= 0) return rc;
  if (ops.empty()) {
    std::cerr << "pcommit txn: no operation given (put:KEY=VALUE, del:KEY, expect:KEY=VERSION)\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("txn", where, cluster); rc >= 0) return rc;
  if (!coordinator.empty()) {
    const auto* n = cluster.byName(coordinator);
    if (n == nullptr || n->role != runtime::Role::Coordinator) {
      std::cerr << "pcommit txn: --coordinator " << coordinator
                << ": not a coordinator of the cluster\n";
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
    given = parseTxidArg("txn", "--txid", txidText);
    if (!given) return kExitUsage;
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

}  // namespace pc::cli
