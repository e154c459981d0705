// The node view `pcommit status` and `pcommit cluster status` share (status_view.h).
#include "cli/status_view.h"

#include <ostream>

namespace pc::cli {

namespace {

using local_cluster::NodeStatusRow;

json::Value inDoubtJson(const NodeStatusRow& r) {
  if (!r.healthy || r.node->role != runtime::Role::Participant) return nullptr;
  json::Value out = json::Value::array();
  for (const auto& d : r.status->inDoubt) {
    json::Value t{{"txn", d.txn.toString()},
                  {"age_ms", d.ageMs},
                  {"leader", d.leader == kNoNode ? json::Value(nullptr)
                                                 : json::Value(runtime::nameForId(d.leader))},
                  {"recovering", d.recovering}};
    json::putBytes(t, "waiting_for", d.waitingFor);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out;
}

json::Value nodeStatusJson(const NodeStatusRow& r) {
  json::Value n{{"name", r.node->name},
                {"id", r.node->id},
                {"role", toString(r.node->role)},
                {"address", r.node->address()},
                {"pid", r.pid ? json::Value(*r.pid) : json::Value(nullptr)},
                {"healthy", r.healthy}};
  if (r.healthy) {
    n["error"] = nullptr;
  } else {
    json::putBytes(n, "error", r.error);
  }
  n["uptime_ms"] = r.healthy ? json::Value(r.status->uptimeMs) : json::Value(nullptr);
  if (r.healthy) {
    json::putBytes(n, "version", r.status->version);
  } else {
    n["version"] = nullptr;
  }
  n["in_doubt"] = inDoubtJson(r);
  json::Value counters = nullptr;
  if (r.healthy) {
    counters = json::Value::object();
    for (const auto& [name, value] : r.status->counters) counters[name] = value;
  }
  n["counters"] = std::move(counters);
  return n;
}

std::string inDoubtCell(const NodeStatusRow& r) {
  if (!r.healthy || r.node->role != runtime::Role::Participant) return "-";
  return std::to_string(r.status->inDoubt.size());
}

void printRowTail(const NodeStatusRow& r, std::ostream& out) {
  if (!r.healthy) out << "   (" << r.error << ")";
  out << "\n";
  if (!r.healthy) return;
  for (const auto& d : r.status->inDoubt) {
    out << "      txn " << d.txn.toString() << "  age " << d.ageMs << " ms  leader "
        << (d.leader == kNoNode ? std::string("-") : runtime::nameForId(d.leader))
        << (d.recovering ? "  recovering" : "") << "  waiting for " << printable(d.waitingFor)
        << "\n";
  }
}

}  // namespace pc::cli
