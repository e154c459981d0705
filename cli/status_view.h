// What `pcommit status` (cli/status.cc) and `pcommit cluster status`
// (cli/cluster_status.cc) both show of a node: the JSON fields of its answer and the lines
// of its in-doubt transactions. Each command adds its own columns and fields.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

#include "json/json.h"
#include "runtime/local_cluster/local_cluster.h"

namespace pc::cli {

// The fields both commands print, in this order (null where not healthy):
//   "name", "id", "role", "address", "pid" (what it answered, or the pid file's),
//   "healthy", "error" (why not healthy), "uptime_ms", "version",
//   "in_doubt" (participants: [{"txn", "age_ms", "leader", "recovering", "waiting_for"}]),
//   "counters" ({"name": value}).
json::Value nodeStatusJson(const local_cluster::NodeStatusRow& r);

// A node's text for the terminal: control characters (a hostile or broken node's bytes
// could move the cursor or clear the screen) become '?'.
std::string printable(std::string_view text);

// The IN-DOUBT cell of the table: the count for a healthy participant, else "-".
std::string inDoubtCell(const local_cluster::NodeStatusRow& r);

// The end of a node's table row -- "   (why not healthy)" -- and one indented line per
// in-doubt transaction: its id, age, leader, whether recovering, what it waits for.
void printRowTail(const local_cluster::NodeStatusRow& r, std::ostream& out);

}  // namespace pc::cli
