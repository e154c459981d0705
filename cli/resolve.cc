// pcommit resolve --cluster FILE TXID --commit|--abort --force [--json]
//   An operator's heuristic decision for a 2PC transaction in doubt (docs/PROTOCOL.md §9).
//   Exit codes in the help text below.
#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "cli/heuristic_query.h"
#include "json/json.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

constexpr int kExitRefused = 3;   // the protocol decides (Paxos Commit), or it would contradict
constexpr int kExitNoAnswer = 1;  // a participant did not answer (or refused)
constexpr uint32_t kAskTimeoutMs = 5000;

const char* kRisk =
    "A heuristic decision can break atomicity: if the coordinator decided the other outcome\n"
    "(or decides it when it comes back), some participants commit while others abort, and\n"
    "nothing repairs that. Use it only when the coordinator is lost for good; make sure it\n"
    "is, or stop it first. When it comes back, each participant asks it and reports\n"
    "\"heuristic decision agreed\" or \"heuristic mismatch\" (log, pcommit_heuristic_total,\n"
    "pcommit outcome TXID). Add --force to take that responsibility.";

std::string resultWord(const ParticipantAnswer& a) {
  return a.answer ? toString(a.answer->result) : "no-answer";
}

void printTable(const std::vector<ParticipantAnswer>& rows,
                const std::vector<ParticipantAnswer>& before) {
  std::cout << std::left << std::setw(13) << "PARTICIPANT" << std::setw(11) << "BEFORE"
            << std::setw(11) << "RESULT" << std::setw(11) << "OUTCOME" << std::setw(11)
            << "HEURISTIC" << std::setw(13) << "COORDINATOR"
            << "DETAIL\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const ParticipantAnswer& r = rows[i];
    const auto& a = r.answer;
    std::string detail = a ? a->reason : r.error;
    std::cout << std::setw(13) << r.name << std::setw(11) << resultWord(before[i]) << std::setw(11)
              << resultWord(r) << std::setw(11) << outcomeWord(a ? a->outcome : std::nullopt)
              << std::setw(11) << (a ? toString(a->heuristic) : "-") << std::setw(13)
              << (a && a->leader != kNoNode ? runtime::nameForId(a->leader) : "-") << detail
              << "\n";
  }
}

json::Value toJson(const TxnId& txn, Outcome want, const std::vector<ParticipantAnswer>& rows,
                   const std::vector<ParticipantAnswer>& before, const std::string& verdict) {
  json::Value list = json::Value::array();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& a = rows[i].answer;
    json::Value p{{"participant", rows[i].name},
                  {"before", resultWord(before[i])},
                  {"result", resultWord(rows[i])}};
    p["outcome"] = a && a->outcome ? json::Value(outcomeWord(a->outcome)) : json::Value(nullptr);
    p["heuristic"] = a ? json::Value(toString(a->heuristic)) : json::Value(nullptr);
    p["coordinator"] = a && a->leader != kNoNode ? json::Value(runtime::nameForId(a->leader))
                                                 : json::Value(nullptr);
    if (!rows[i].error.empty()) p["error"] = rows[i].error;
    if (a && !a->reason.empty()) p["reason"] = a->reason;
    list.push_back(std::move(p));
  }
  return {{"txid", txn.toString()},
          {"decision", want == Outcome::Commit ? "commit" : "abort"},
          {"verdict", verdict},
          {"participants", std::move(list)}};
}

int refusePaxos(const runtime::ClusterConfig& cluster, const std::string& path, const TxnId& txn) {
  const size_t acceptors = cluster.withRole(Role::Acceptor).size();
  std::cerr << "pcommit resolve: refused: this cluster runs " << toString(cluster.protocol)
            << " (Paxos Commit), where the acceptors decide, never an operator.\n"
               "A participant in doubt runs recovery itself and finishes the transaction as "
               "soon as F+1\n("
            << acceptors / 2 + 1 << " of " << acceptors
            << ") acceptors are reachable: bring acceptors back.\n`pcommit outcome --cluster "
            << path << " " << txn.toString() << "` shows the outcome.\n";
  return kExitRefused;
}

// The summary under the table.
void printSummary(const TxnId& txn, Outcome want, size_t resolved, size_t failed) {
  std::cout << "\n";
  if (resolved) {
    std::cout << (want == Outcome::Commit ? "committed" : "aborted") << " " << txn.toString()
              << " by operator at " << resolved
              << " participant(s); each asks the coordinator when it is back and logs "
                 "\"heuristic decision agreed\" or \"heuristic mismatch\".\n";
  } else if (!failed) {
    std::cout << txn.toString() << " is not in doubt at any participant: nothing to do.\n";
  }
  if (failed) {
    std::cout << failed
              << " participant(s) did not answer or refused: run again once they are "
                 "reachable (a participant still in doubt keeps its locks).\n";
  }
}

// Asks every participant, then decides at those holding `txn` in doubt; prints the rows.
int decide(const runtime::ClusterConfig& cluster, const TxnId& txn, Outcome want, bool asJson) {
  // First only ask: a participant that already knows the other outcome makes this decision
  // a certain mismatch, so nothing is changed anywhere.
  const std::vector<NodeId> nodes = participantsOf(cluster);
  auto before = askParticipants(cluster, nodes, txn, std::nullopt, kAskTimeoutMs);
  for (const auto& b : before) {
    if (b.answer && b.answer->result == HeuristicResult::Decided && b.answer->outcome &&
        *b.answer->outcome != want) {
      std::cerr << "pcommit resolve: refused: participant " << b.name << " already "
                << outcomeWord(b.answer->outcome) << " " << txn.toString()
                << "; deciding the other outcome elsewhere would break atomicity for certain.\n"
                   "Resolve with --"
                << (want == Outcome::Commit ? "abort" : "commit") << " instead.\n";
      if (asJson) std::cout << json::render(toJson(txn, want, before, before, "refused")) << "\n";
      return kExitRefused;
    }
  }
  std::vector<NodeId> inDoubt;
  for (const auto& b : before) {
    if (b.answer && b.answer->result == HeuristicResult::InDoubt) inDoubt.push_back(b.node);
  }
  auto decided = askParticipants(cluster, inDoubt, txn, want, kAskTimeoutMs);
  // One row per participant: the decision's answer where it was in doubt, else the question's.
  std::vector<ParticipantAnswer> rows = before;
  for (auto& d : decided) {
    for (auto& r : rows) {
      if (r.node == d.node) r = d;
    }
  }
  size_t resolved = 0, failed = 0;
  for (const auto& r : rows) {
    if (r.answer && r.answer->result == HeuristicResult::Resolved) ++resolved;
    if (!r.answer || r.answer->result == HeuristicResult::Refused ||
        r.answer->result == HeuristicResult::InDoubt) {
      ++failed;
    }
  }
  const std::string verdict = failed ? "incomplete" : resolved ? "resolved" : "nothing-in-doubt";
  if (asJson) {
    std::cout << json::render(toJson(txn, want, rows, before, verdict)) << "\n";
  } else {
    printTable(rows, before);
    printSummary(txn, want, resolved, failed);
  }
  return failed ? kExitNoAnswer : kExitOk;
}

}  // namespace

int runResolve(const Args& args) {
  po::options_description desc(
      "usage: pcommit resolve --cluster FILE TXID --commit|--abort --force [--json]\n\n"
      "Settles a Two-Phase Commit transaction that is in doubt because its coordinator is\n"
      "lost for good (a heuristic decision, like XA's heuristic commit / rollback). Every\n"
      "participant of the cluster is asked; those holding TXID prepared make the outcome\n"
      "durable (marked heuristic), release its locks, and later ask the coordinator, when it\n"
      "is back, to report agreement or a mismatch. Prints one row per participant:\n"
      "resolved, decided (already; nothing changed), unknown (never prepared there),\n"
      "forgotten, refused or no-answer.\n"
      "Refused, changing nothing, when a participant already holds the other outcome, and\n"
      "for Paxos Commit (the acceptors decide: recovery finishes the transaction as soon as\n"
      "F+1 acceptors are reachable; `pcommit outcome TXID` shows it).\n"
      "Exit 0 done (or nothing was in doubt), 1 a participant did not answer or refused,\n"
      "3 refused (Paxos Commit, or the other outcome is already decided), 64 usage (also:\n"
      "no --force).\n\noptions");
  ClusterArgs where;
  std::string txidText;
  desc.add_options()("help,h", "print this help")("commit", "decide commit")("abort",
                                                                             "decide abort")(
      "force", "I know the coordinator is gone and accept that atomicity may break")(
      "json", "print one JSON object")("txid", po::value<std::string>(&txidText), "the id");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  pos.add("txid", 1);
  po::variables_map vm;
  if (int rc = parseClientArgs("resolve", args, desc, pos, vm); rc >= 0) return rc;
  auto txn = parseTxidArg("resolve", "TXID", txidText);
  if (!txn) return kExitUsage;
  if (vm.count("commit") == vm.count("abort")) {
    std::cerr << "pcommit resolve: give exactly one of --commit and --abort\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("resolve", where, cluster); rc >= 0) return rc;
  if (isPaxos(cluster.protocol)) return refusePaxos(cluster, cluster.path, *txn);
  if (!vm.count("force")) {
    std::cerr << "pcommit resolve: refused without --force.\n" << kRisk << "\n";
    return kExitUsage;
  }
  return decide(cluster, *txn, vm.count("commit") ? Outcome::Commit : Outcome::Abort,
                vm.count("json") != 0);
}

}  // namespace pc::cli
