// pcommit outcome --cluster FILE [--json] TXID
//   prints `committed|aborted|unknown|forgotten TXID`; exit 0, 1, 2, 3 respectively; under
//   2PC also the participants where an operator decided it (heuristic), exit 4 on a mismatch.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "cli/heuristic_query.h"
#include "client/client.h"
#include "json/json.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

constexpr int kExitMismatch = 4;

// 2PC: the participants where an operator decided `txn` (`pcommit resolve`), as one
// sentence ("" if none), and whether any of them disagrees with the coordinator.
std::string heuristicReason(const runtime::ClusterConfig& cluster, const TxnId& txn,
                            json::Value& list, bool& mismatch) {
  std::string mismatches, others;
  for (const auto& p : askParticipants(cluster, participantsOf(cluster), txn, std::nullopt, 2000)) {
    if (!p.answer || p.answer->heuristic == Heuristic::None) continue;
    const HeuristicAnswer& a = *p.answer;
    std::string one = "participant " + p.name + " " + outcomeWord(a.outcome) + " by operator";
    list.push_back({{"participant", p.name},
                    {"outcome", outcomeWord(a.outcome)},
                    {"heuristic", toString(a.heuristic)}});
    if (a.heuristic == Heuristic::Mismatch) {
      mismatch = true;
      mismatches += (mismatches.empty() ? "" : ", ") + one;
    } else {
      others += (others.empty() ? "" : ", ") + one +
                (a.heuristic == Heuristic::Agreed ? " (agreed)" : " (coordinator not heard yet)");
    }
  }
  std::string reason;
  if (!mismatches.empty()) reason = "heuristic mismatch: " + mismatches;
  if (!others.empty()) reason += (reason.empty() ? "heuristic: " : "; ") + others;
  return reason;
}

}  // namespace

int runOutcome(const Args& args) {
  po::options_description desc(
      "usage: pcommit outcome [--cluster FILE | --endpoints LIST] [--json] TXID\n\n"
      "Asks a coordinator what became of TXID; in Paxos Commit an unknown transaction is\n"
      "recovered through the acceptors, never guessed. Prints `STATUS TXID`.\n"
      "Exit 0 committed, 1 aborted, 2 unknown, 3 forgotten (collected long ago).\n"
      "Under 2PC the participants are asked too: where an operator decided TXID by hand\n"
      "(pcommit resolve) a reason follows in parentheses, and a participant whose outcome\n"
      "differs from the coordinator's (heuristic mismatch) makes the exit code 4.\n\noptions");
  ClusterArgs where;
  std::string txidText;
  desc.add_options()("help,h", "print this help")("json", "print one JSON object")(
      "txid", po::value<std::string>(&txidText), "the id");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  pos.add("txid", 1);
  po::variables_map vm;
  if (int rc = parseClientArgs("outcome", args, desc, pos, vm); rc >= 0) return rc;
  auto txn = parseTxidArg("outcome", "TXID", txidText);
  if (!txn) return kExitUsage;
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("outcome", where, cluster); rc >= 0) return rc;
  TxnStatus s;
  {
    // Its event loop ends here: askParticipants runs one of its own (one per thread).
    BlockingClient client(cluster);
    s = client.outcome(*txn);
  }
  json::Value heuristics = json::Value::array();
  bool mismatch = false;
  std::string reason;
  if (cluster.protocol == Protocol::TwoPC)
    reason = heuristicReason(cluster, *txn, heuristics, mismatch);
  if (vm.count("json")) {
    json::Value j{{"txid", txn->toString()}, {"status", toString(s)}};
    if (!reason.empty()) {
      j["reason"] = reason;
      j["heuristic"] = std::move(heuristics);
    }
    std::cout << json::render(j) << "\n";
  } else {
    std::cout << toString(s) << " " << txn->toString();
    if (!reason.empty()) std::cout << " (" << reason << ")";
    std::cout << "\n";
  }
  if (mismatch) return kExitMismatch;
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
