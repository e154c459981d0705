// pcommit cluster status [--json]: every node's process and health, as a table or as one
// JSON object of this shape (stable: fields are only ever added, never renamed or removed;
// byte strings follow json/json.h):
//   {
//     "dir": "/abs/DIR",
//     "cluster_file": "/abs/DIR/cluster.conf",
//     "protocol": "paxos",                 // 2pc | paxos-classic | paxos | paxos-direct
//     "f": 1,
//     "colocate": "none",                  // none | acceptors | all (cluster file)
//     "healthy": true,                     // every node healthy (the exit code says the same)
//     "nodes": [                           // in cluster-file order: c*, p*, a*; one a line
//       {
//         "name": "p1", "id": 1001, "role": "participant", "address": "127.0.0.1:7102",
//         "pid": 12345,                    // from DIR/p1.pid, or from its answer; null if none
//         "alive": true,                   // that pid exists and is this node's process
//         "healthy": true,                 // answered its status RPC as p1 within 1 s
//         "error": null,                   // why not healthy (string), else null
//         "uptime_ms": 5120,               // null unless healthy
//         "version": "0.1.0",              // its build (pcommit --version); null unless healthy
//         "in_doubt": [                    // participants when healthy, else null
//           {"txn": "<32 hex digits>", "age_ms": 1520, "leader": "c1", // null if none
//            "recovering": false, "waiting_for": "..."}
//         ],
//         "counters": {"name": 0},         // the node's metrics; null unless healthy
//         "external": false,               // left to the user (cluster start --external)
//         "colocated_with": ["a1", "c1"]   // the other nodes of its process ([] if alone)
//       }
//     ]
//   }
#include <cstdio>
#include <iostream>

#include "cli/cluster.h"
#include "cli/status_view.h"
#include "json/json.h"
#include "runtime/local_cluster/local_cluster.h"

namespace pc::cli {

namespace {

namespace po = boost::program_options;
using local_cluster::ClusterStatus;
using local_cluster::NodeStatusRow;

// The shared fields (cli/status_view.h) and what only the cluster's own host can see, in
// the order this command has always printed (scripts match `"pid": N, "alive": ...`).
json::Value nodeJson(const NodeStatusRow& r) {
  const json::Value shared = nodeStatusJson(r);
  json::Value n = json::Value::object();
  for (const auto& field : shared.items()) {
    n[field.key()] = field.value();
    if (field.key() == "pid") n["alive"] = r.alive;
  }
  n["external"] = r.external;
  n["colocated_with"] = r.colocatedWith;
  return n;
}

json::Value statusJson(const ClusterStatus& s) {
  json::Value j;
  json::putBytes(j, "dir", s.dir);
  json::putBytes(j, "cluster_file", s.clusterFile);
  j["protocol"] = toString(s.config.protocol);
  j["f"] = s.config.f;
  j["colocate"] = runtime::toString(s.config.colocate);
  j["healthy"] = s.healthy;
  json::Value nodes = json::Value::array();
  for (const auto& r : s.nodes) nodes.push_back(nodeJson(r));
  j["nodes"] = std::move(nodes);
  return j;
}

// One row of the table, then its in-doubt transactions.
void printRow(const NodeStatusRow& r, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%-5s %-12s %-21s %-8s %-6s %-8s %s", r.node->name.c_str(),
                toString(r.node->role), r.node->address().c_str(),
                r.pid ? std::to_string(*r.pid).c_str() : "-", r.alive ? "yes" : "no",
                r.healthy ? "yes" : "no", inDoubtCell(r).c_str());
  out << line;
  if (r.external) out << "   external";
  if (!r.colocatedWith.empty()) {
    out << "   one process with ";
    for (size_t j = 0; j < r.colocatedWith.size(); ++j) {
      out << (j ? ", " : "") << r.colocatedWith[j];
    }
  }
  printRowTail(r, out);
}

void printTable(const ClusterStatus& s, std::ostream& out) {
  size_t healthyCount = 0;
  for (const auto& r : s.nodes) healthyCount += r.healthy ? 1 : 0;
  out << "cluster " << s.dir << " (" << toString(s.config.protocol) << ", f = " << s.config.f;
  if (s.config.colocate != runtime::Colocate::None) {
    out << ", colocate " << runtime::toString(s.config.colocate)
        << ": co-located nodes share one process and pid";
  }
  out << "): " << healthyCount << " of " << s.nodes.size() << " nodes healthy\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-5s %-12s %-21s %-8s %-6s %-8s %s\n", "NODE", "ROLE",
                "ADDRESS", "PID", "ALIVE", "HEALTHY", "IN-DOUBT");
  out << line;
  for (const auto& r : s.nodes) printRow(r, out);
}

}  // namespace

int runClusterStatus(const Args& args) {
  po::options_description desc(
      "usage: pcommit cluster status --dir DIR [--json]\n\n"
      "For every node: role, address, pid, alive (its process exists), healthy (answers its\n"
      "status RPC within 1 s) and, for participants, the in-doubt transactions. Exit 0 if\n"
      "every node is healthy, 1 otherwise. --json: one object (shape in cli/cluster_status.cc).\n\n"
      "options");
  std::string dir;
  desc.add_options()("help,h", "print this help")(
      "dir", po::value<std::string>(&dir)->value_name("DIR"), "the cluster's directory")(
      "json", "print one JSON object instead of a table");
  po::variables_map vm;
  if (auto done = parseClusterOptions("status", desc, nullptr, args, vm)) return *done;
  if (!vm.count("dir")) return usageError(std::cerr, "status", "the option '--dir' is required");
  local_cluster::ClusterStatus status;
  if (int rc = local_cluster::queryCluster(dir, status, std::cerr); rc != kExitOk) return rc;
  if (vm.count("json")) {
    std::cout << json::render(statusJson(status), {false, {"nodes"}}) << "\n";
  } else {
    printTable(status, std::cout);
  }
  std::cout.flush();
  return status.healthy ? kExitOk : kExitFailure;
}

}  // namespace pc::cli
