// pcommit status [--cluster FILE | --endpoints LIST] [--json] [--timeout-ms MS]: every node
// of a cluster asked over the network -- no cluster directory, no pid files, so nodes on
// other hosts and external or embedded participants are seen the same way. Nodes are asked
// at once, each within --timeout-ms. Exit 0 if every node is healthy, 1 otherwise, 64 on a
// usage or cluster-file error. The cluster comes from --cluster, --endpoints or
// $PCOMMIT_CLUSTER (cli/client_options.h).
//
// --json prints one object of this shape (stable: fields are only ever added, never renamed
// or removed; byte strings follow json/json.h):
//   {
//     "cluster_file": "/abs/cluster.conf",  // null with --endpoints
//     "protocol": "paxos",                  // the file's; with --endpoints the first healthy
//                                           // node's answer (null if none answered)
//     "f": 1,
//     "healthy": true,                      // every node healthy (the exit code says the same)
//     "nodes": [                            // c*, p*, a* in id order; one a line
//       {
//         "name": "p1", "id": 1001, "role": "participant", "address": "10.0.0.2:7102",
//         "pid": 12345,                     // as the node reports it; null unless healthy
//         "healthy": true,                  // answered its status call as p1 in time
//         "error": null,                    // why not healthy (string), else null
//         "uptime_ms": 5120,                // null unless healthy
//         "version": "0.1.0",               // its build (pcommit --version); null unless healthy
//         "in_doubt": [                     // participants when healthy, else null
//           {"txn": "<32 hex digits>", "age_ms": 1520, "leader": "c1", // null if none
//            "recovering": false, "waiting_for": "..."}
//         ],
//         "counters": {"name": 0}           // the node's counters; null unless healthy
//       }
//     ]
//   }
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/client_options.h"
#include "cli/commands.h"
#include "cli/status_view.h"
#include "json/json.h"
#include "runtime/local_cluster/local_cluster.h"

namespace po = boost::program_options;

namespace pc::cli {

namespace {

using local_cluster::ClusterStatus;
using local_cluster::NodeStatusRow;

constexpr uint32_t kDefaultTimeoutMs = 2000;
// A status call is a one-off request, which the transport ends after its oneOffTimeoutMs
// (rpc/transport.h, 10 s) anyway: a longer wait could not be honoured.
constexpr uint32_t kMaxTimeoutMs = 10000;

// The protocol to show: the file's, or (--endpoints) what the first healthy node runs.
json::Value protocolJson(const ClusterStatus& s, bool fromFile) {
  if (fromFile) return toString(s.config.protocol);
  for (const auto& r : s.nodes) {
    if (r.healthy) return r.status->protocol;
  }
  return nullptr;
}

json::Value statusJson(const ClusterStatus& s, bool fromFile) {
  json::Value j;
  if (fromFile) {
    json::putBytes(j, "cluster_file", std::filesystem::absolute(s.config.path).string());
  } else {
    j["cluster_file"] = nullptr;
  }
  j["protocol"] = protocolJson(s, fromFile);
  j["f"] = s.config.f;
  j["healthy"] = s.healthy;
  json::Value nodes = json::Value::array();
  for (const auto& r : s.nodes) nodes.push_back(nodeStatusJson(r));
  j["nodes"] = std::move(nodes);
  return j;
}

std::string uptimeCell(const NodeStatusRow& r) {
  if (!r.healthy) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(r.status->uptimeMs) / 1000.0);
  return text;
}

void printTable(const ClusterStatus& s, bool fromFile, std::ostream& out) {
  size_t healthyCount = 0;
  for (const auto& r : s.nodes) healthyCount += r.healthy ? 1 : 0;
  const json::Value protocol = protocolJson(s, fromFile);
  out << "cluster " << (fromFile ? s.config.path : std::string("of --endpoints")) << " ("
      << (protocol.is_string() ? protocol.get<std::string>() : std::string("protocol unknown"))
      << ", f = " << s.config.f << "): " << healthyCount << " of " << s.nodes.size()
      << " nodes healthy\n";
  const char* format = "%-5s %-12s %-21s %-8s %-10s %-10s %s";
  char line[256];
  std::snprintf(line, sizeof line, format, "NODE", "ROLE", "ADDRESS", "HEALTHY", "UPTIME",
                "VERSION", "IN-DOUBT");
  out << line << "\n";
  for (const auto& r : s.nodes) {
    std::snprintf(line, sizeof line, format, r.node->name.c_str(), toString(r.node->role),
                  r.node->address().c_str(), r.healthy ? "yes" : "no", uptimeCell(r).c_str(),
                  r.healthy ? printable(r.status->version).c_str() : "-", inDoubtCell(r).c_str());
    out << line;
    printRowTail(r, out);
  }
}

}  // namespace

int runStatus(const Args& args) {
  po::options_description desc(
      "usage: pcommit status [--cluster FILE | --endpoints LIST] [--json] [--timeout-ms MS]\n\n"
      "Asks every node of the cluster over the network (no cluster directory needed: nodes\n"
      "on other hosts and external or embedded participants alike): role, address, healthy\n"
      "(answered its status call as itself within MS), uptime, version and, for\n"
      "participants, the in-doubt transactions with their age and what they wait for.\n"
      "Exit 0 if every node is healthy, 1 otherwise. --json: one object (shape in\n"
      "cli/status.cc). The cluster: --cluster FILE, else --endpoints c1=HOST:PORT,p1=...,\n"
      "else the file named by $PCOMMIT_CLUSTER. `pcommit cluster status --dir DIR` also\n"
      "shows the local processes of a cluster this host started.\n\n"
      "options");
  ClusterArgs where;
  uint32_t timeoutMs = kDefaultTimeoutMs;
  desc.add_options()("help,h", "print this help")("json", "print one JSON object")(
      "timeout-ms", po::value<uint32_t>(&timeoutMs)->value_name("MS"),
      "a node that has not answered by then is unhealthy (default 2000, at most 10000)");
  addClusterOptions(desc, where);
  po::positional_options_description pos;
  po::variables_map vm;
  if (int rc = parseClientArgs("status", args, desc, pos, vm); rc >= 0) return rc;
  if (timeoutMs == 0 || timeoutMs > kMaxTimeoutMs) {
    std::cerr << "pcommit status: --timeout-ms must be in 1.." << kMaxTimeoutMs << "\n";
    return kExitUsage;
  }
  runtime::ClusterConfig cluster;
  if (int rc = loadCluster("status", where, cluster, /*needProtocol=*/false); rc >= 0) return rc;
  const bool fromFile = where.endpoints.empty();
  ClusterStatus status;
  local_cluster::queryNodes(std::move(cluster), static_cast<int>(timeoutMs), status);
  if (vm.count("json")) {
    std::cout << json::render(statusJson(status, fromFile), {false, {"nodes"}}) << "\n";
  } else {
    printTable(status, fromFile, std::cout);
  }
  std::cout.flush();
  return status.healthy ? kExitOk : kExitFailure;
}

}  // namespace pc::cli
