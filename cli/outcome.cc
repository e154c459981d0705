// pcommit outcome --cluster FILE [--json] TXID
//   prints `committed|aborted|unknown|forgotten TXID`; exit 0, 1, 2, 3 respectively.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "client/client.h"
#include "json/json.h"

namespace po = boost::program_options;

namespace pc::cli {

int runOutcome(const Args& args) {
  po::options_description desc(
      "usage: pcommit outcome [--cluster FILE | --endpoints LIST] [--json] TXID\n\n"
      "Asks a coordinator what became of TXID; in Paxos Commit an unknown transaction is\n"
      "recovered through the acceptors, never guessed. Prints `STATUS TXID`.\n"
      "Exit 0 committed, 1 aborted, 2 unknown, 3 forgotten (collected long ago).\n\noptions");
  ClusterArgs where;
  std::string txidText;
  desc.add_options()("help,h", "print this help")("json", "print one JSON object")(
      "txid", po::value<std::string>(&txidText), "the id");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  pos.add("txid", 1);
  po::variables_map vm;
  if (int rc = parseClientArgs("outcome", args, desc, pos, vm); rc >= 0) return rc;
  auto txn = TxnId::parse(txidText);
  if (!txn) {
    std::cerr << "pcommit outcome: TXID '" << txidText << "': expected 32 hex digits\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("outcome", where, cluster); rc >= 0) return rc;
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
