// The report of pcommit bench (bench.h): tables, the targets, the JSON file. Plots: svg.h.
#include <algorithm>
#include <iomanip>
#include <ostream>

#include "bench/bench.h"
#include "bench/numbers.h"
#include "bench/targets.h"
#include "json/json.h"

namespace pc::bench {

static void printFloors(std::ostream& out, const std::vector<RunResult>& runs, bool delays);
static void printFloorMismatch(std::ostream& out, const std::vector<RunResult>& runs);

void printTable(std::ostream& out, const std::vector<RunResult>& runs) {
  auto col = [&](const std::string& s, int w) { out << std::setw(w) << s; };
  // The delay column only when some run had one: the default table stays as it was.
  const bool delays =
      std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.netDelayUs > 0; });
  // Likewise the transport column only when some cluster ran on Unix sockets.
  const bool transports = std::any_of(runs.begin(), runs.end(),
                                      [](const RunResult& r) { return r.transport != "tcp"; });
  // And the round column only for --rounds.
  const bool rounds =
      std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.round > 0; });
  out << std::left << std::setw(14) << "mode" << std::right;
  if (rounds) col("rnd", 4);
  if (transports) col("net", 5);
  col("N", 3);
  col("C", 4);
  if (delays) col("Dus", 6);
  col("commit", 8);
  col("abort", 6);
  col("unkn", 5);
  col("txn/s", 9);
  col("p50us", 7);
  col("p90us", 7);
  col("p99us", 7);
  col("maxus", 7);
  col("floor", 6);
  col("xfloor", 7);
  col("msgs", 7);
  col("=", 4);
  col("synced", 7);
  col("=", 4);
  col("rpc", 6);
  col("cpu", 6);
  out << "\n";
  for (const auto& r : runs) {
    out << std::left << std::setw(14) << r.protocol << std::right;
    if (rounds) col(std::to_string(r.round), 4);
    if (transports) col(r.transport, 5);
    col(std::to_string(r.participants), 3);
    col(std::to_string(r.clients), 4);
    if (delays) col(std::to_string(r.netDelayUs), 6);
    col(std::to_string(r.committed), 8);
    col(std::to_string(r.aborted), 6);
    col(std::to_string(r.unknown), 5);
    col(fixed(r.throughputTps, 0), 9);
    col(std::to_string(r.latencyUs.p50), 7);
    col(std::to_string(r.latencyUs.p90), 7);
    col(std::to_string(r.latencyUs.p99), 7);
    col(std::to_string(r.latencyUs.max), 7);
    col(r.floorUs > 0 ? fixed(r.floorUs, 0) : "-", 6);
    col(r.floorUs > 0 ? fixed(static_cast<double>(r.latencyUs.p50) / r.floorUs, 2) : "-", 7);
    col(fixed(r.messagesPerTxn, 2), 7);
    col(fixed(r.expected.messagesPerTxn, 0), 4);
    col(fixed(r.syncedWritesPerTxn, 2), 7);
    col(fixed(r.expected.syncedWritesPerTxn, 0), 4);
    col(fixed(r.rpcCallsPerTxn, 2), 6);
    col(r.cpu.measured ? fixed(r.cpu.nodesUsPerTxn, 0) : "n/a", 6);
    out << (r.interrupted ? "  (interrupted)" : "") << "\n";
  }
  for (const auto& r : runs) {
    if (r.abortReasons.empty() && r.unknownReasons.empty()) continue;
    out << "  " << r.protocol << " N=" << r.participants << " C=" << r.clients << roundTag(r.round)
        << ":";
    for (const auto& [why, n] : r.abortReasons) out << "  aborted " << n << " (" << why << ")";
    for (const auto& [why, n] : r.unknownReasons) out << "  unknown " << n << " (" << why << ")";
    out << "\n";
  }
  printFloors(out, runs, delays);
}

// The floors measured before each cluster's runs (one per mode, N and D), as ranges.
static void printFloors(std::ostream& out, const std::vector<RunResult>& runs, bool delays) {
  double wLo = 1e18, wHi = 0, rLo = 1e18, rHi = 0;
  std::string rttOver;  // the floors' round-trip transports: tcp, unix, or both
  std::map<int, std::pair<double, double>> concurrent;  // writers -> p50 range
  double pLo = 1e18, pHi = 0;                           // the paced write's p50 range
  std::string kind;  // what the synced write was (one kind per process: its environment)
  for (const auto& r : runs) {
    if (!r.floor.measured) continue;
    kind = r.floor.syncedWriteKind;
    if (r.floor.syncedWritePacedUs > 0) {
      pLo = std::min(pLo, r.floor.syncedWritePacedUs);
      pHi = std::max(pHi, r.floor.syncedWritePacedUs);
    }
    wLo = std::min(wLo, r.floor.syncedWriteUs);
    wHi = std::max(wHi, r.floor.syncedWriteUs);
    rLo = std::min(rLo, r.floor.rttUs);
    rHi = std::max(rHi, r.floor.rttUs);
    if (rttOver.find(r.floor.transport) == std::string::npos) {
      rttOver += (rttOver.empty() ? "" : "/") + r.floor.transport;
    }
    if (r.floor.concurrentWriters >= 2) {
      auto [it, fresh] = concurrent.try_emplace(r.floor.concurrentWriters, 1e18, 0);
      it->second.first = std::min(it->second.first, r.floor.syncedWriteConcurrentUs);
      it->second.second = std::max(it->second.second, r.floor.syncedWriteConcurrentUs);
    }
  }
  if (wHi > 0) {
    auto range = [&](double lo, double hi) {
      return fixed(lo, 0) + (hi - lo >= 1 ? ".." + fixed(hi, 0) : std::string()) + " us";
    };
    out << "floor (measured before each cluster's runs): synced " << kind << " p50 "
        << range(wLo, wHi);
    for (const auto& [k, lohi] : concurrent) {
      out << ", " << k << " at once p50 " << range(lohi.first, lohi.second);
    }
    out << ", Cap'n Proto " << (rttOver == "tcp" ? "loopback" : rttOver + " socket")
        << " round trip p50 " << range(rLo, rHi) << "; floor(mode) = 2 x synced + delays x "
        << (delays ? "(rtt/2 + D)" : "rtt/2")
        << " (delays: 2pc 4, paxos-classic 5, paxos 5, paxos-direct 3, 2pc-replicated 6)\n";
    if (pHi > 0) {
      out << "paced floor (D > 0): the synced write again with a sleep of the mode's floor "
             "before each, as a node syncs once per one-client round: p50 "
          << range(pLo, pHi) << "; the paced floor uses it in place of the bare write\n";
    }
  }
  printFloorMismatch(out, runs);
}

// The nodes' group commits, as their counters tell: appends to their record logs, or
// synced LMDB commits (PCOMMIT_RECORD_LOG=off); "" when they made none.
std::string nodesSyncedWriteKind(const RunResult& r) {
  if (counterValue(r.nodes, "record_log_appends") > 0) return kWriteLogAppend;
  if (counterValue(r.nodes, "synced_commits") > 0) return kWriteLmdbCommit;
  return "";
}

// A floor measured as one kind of write while the nodes made the other (a --cluster whose
// nodes run with another PCOMMIT_RECORD_LOG than the benchmark): say so, once per run.
static void printFloorMismatch(std::ostream& out, const std::vector<RunResult>& runs) {
  for (const auto& r : runs) {
    const std::string nodes = nodesSyncedWriteKind(r);
    if (!r.floor.measured || nodes.empty() || nodes == r.floor.syncedWriteKind) continue;
    out << "note: " << r.protocol << " N=" << r.participants << " C=" << r.clients
        << roundTag(r.round) << ": the floor measured a synced " << r.floor.syncedWriteKind
        << " but the nodes made " << nodes
        << "s (PCOMMIT_RECORD_LOG differs between the benchmark and the nodes): its floor "
           "and xfloor compare unlike writes\n";
  }
}

void printResources(std::ostream& out, const std::vector<RunResult>& runs, bool perNode) {
  if (!perNode) {
    // One line per run: the largest RSS of any node, and data.mdb summed over the nodes.
    bool header = false;
    for (const auto& r : runs) {
      if (r.resources.size() < 2) continue;
      if (!header) {
        out << "resources (start -> middle -> end of each measured phase; --resources: per "
               "node):\n";
        header = true;
      }
      out << "  " << std::left << std::setw(14) << r.protocol << std::right
          << " N=" << r.participants << " C=" << r.clients << roundTag(r.round)
          << "  largest RSS MiB";
      for (const auto& s : r.resources) {
        uint64_t top = 0;
        for (const auto& n : s.nodes) top = std::max(top, n.rssKiB);
        out << (&s == &r.resources.front() ? " " : " -> ")
            << fixed(static_cast<double>(top) / 1024, 1);
      }
      out << "   data.mdb MiB (all nodes)";
      for (const auto& s : r.resources) {
        uint64_t sum = 0;
        for (const auto& n : s.nodes) sum += n.mdbBytes;
        out << (&s == &r.resources.front() ? " " : " -> ")
            << fixed(static_cast<double>(sum) / (1 << 20), 1);
      }
      out << "\n";
    }
    return;
  }
  for (const auto& r : runs) {
    if (r.resources.size() < 2) continue;
    out << "resources " << r.protocol << " N=" << r.participants << " C=" << r.clients
        << roundTag(r.round) << " at";
    for (const auto& s : r.resources)
      out << " " << s.when << " (" << fixed(s.atSeconds, 0) << " s)";
    out << ":\n  node   RSS MiB" << std::string(r.resources.size() * 7 - 4, ' ')
        << "data.mdb MiB\n";
    const auto& first = r.resources.front();
    for (size_t i = 0; i < first.nodes.size(); ++i) {
      out << "  " << std::left << std::setw(5) << first.nodes[i].name << std::right;
      for (const auto& s : r.resources) {
        const auto& n = s.nodes[i];
        out << std::setw(7) << (n.rssKiB ? fixed(static_cast<double>(n.rssKiB) / 1024, 1) : "-");
      }
      out << "   ";
      for (const auto& s : r.resources) {
        out << std::setw(7) << fixed(static_cast<double>(s.nodes[i].mdbBytes) / (1 << 20), 1);
      }
      out << "\n";
    }
  }
}

namespace {

// 12345 -> "12,345".
std::string withCommas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// 7,912 -> "7,900": two significant digits, thousands separated.
std::string roughly(double v) {
  double scale = 1;
  while (v / scale >= 100) scale *= 10;
  return withCommas(static_cast<uint64_t>(std::round(v / scale) * scale));
}

}  // namespace

void printCpu(std::ostream& out, const std::vector<RunResult>& runs) {
  for (const auto& r : runs) {
    out << "cpu " << r.protocol << " N=" << r.participants << " C=" << r.clients
        << roundTag(r.round) << ": ";
    const auto& u = r.cpu;
    if (!u.measured) {
      out << "n/a (" << (r.committed == 0 ? "nothing committed" : "no node on this machine")
          << ")\n";
      continue;
    }
    out << "nodes " << fixed(u.nodesUsPerTxn, 0) << " us/txn (";
    bool first = true;
    for (const char* role : kReportRoles) {
      auto it = u.byRoleUsPerTxn.find(role);
      if (it == u.byRoleUsPerTxn.end()) continue;
      out << (first ? "" : ", ") << role << "s " << fixed(it->second, 0);
      first = false;
    }
    if (u.nodesCounted < u.nodesTotal) {
      out << "; " << u.nodesCounted << " of " << u.nodesTotal << " nodes on this machine";
    }
    out << "), client " << fixed(u.clientUsPerTxn, 0) << " us/txn; " << u.cpus << " cpus -> ";
    if (u.ceilingTps > 0) {
      out << "ceiling ~" << roughly(u.ceilingTps) << " txn/s";
    } else {
      out << "ceiling n/a (not every node on this machine)";
    }
    if (u.stealMeasured) out << "; steal " << fixed(u.stealPct, 1) << "%";
    out << "\n";
  }
  printDisturbed(out, runs);
}

void printWrites(std::ostream& out, const std::vector<RunResult>& runs) {
  for (const auto& r : runs) {
    if (r.writesByRole.empty()) continue;
    const uint64_t txns = r.transactions();
    out << "writes " << r.protocol << " N=" << r.participants << " C=" << r.clients
        << roundTag(r.round) << ": synced commit mean (commits per txn):";
    bool first = true;
    for (const char* role : kReportRoles) {
      auto it = r.writesByRole.find(role);
      if (it == r.writesByRole.end()) continue;
      const RoleWrites& w = it->second;
      out << (first ? " " : ", ") << role << "s "
          << withCommas(static_cast<uint64_t>(std::round(w.meanUs()))) << " us ("
          << fixed(perTxn(w.commits, txns), 3) << ")";
      first = false;
    }
    out << "\n";
  }
}

void printDisturbed(std::ostream& out, const std::vector<RunResult>& runs) {
  std::vector<const RunResult*> hit;
  for (const auto& r : runs) {
    if (disturbed(r.cpu)) hit.push_back(&r);
  }
  if (hit.empty()) return;
  out << "DISTURBED: the hypervisor took more than " << fixed(kDisturbedStealPct, 0)
      << "% of this machine's CPU time (steal) during " << hit.size() << " of " << runs.size()
      << " measured phases:";
  for (size_t i = 0; i < hit.size(); ++i) {
    const RunResult& r = *hit[i];
    out << (i ? "," : "") << " " << r.protocol << " N=" << r.participants << " C=" << r.clients
        << (r.netDelayUs ? " D=" + std::to_string(r.netDelayUs) + "us" : "") << roundTag(r.round)
        << " (" << fixed(r.cpu.stealPct, 0) << "%"
        << (r.disturbedRetries
                ? ", the least of " + std::to_string(r.disturbedRetries + 1) + " measurements"
                : "")
        << ")";
  }
  out << "; their throughput and latency say as much about the host as about pcommit: run "
         "them again (--retry-disturbed N) before comparing\n";
}

void printRecovery(std::ostream& out, const std::vector<RecoveryResult>& results) {
  if (results.empty()) return;
  out << "recovery: the leader crashed while transactions were in flight\n";
  for (const auto& r : results) {
    out << "  " << std::left << std::setw(14) << r.protocol << std::right << " crashed "
        << r.crashed << " at " << fixed(r.crashAtSeconds, 2) << " s; in doubt: " << r.inDoubtSeen
        << " txn(s); ";
    if (!r.resolved) {
      out << "NOT resolved";
    } else {
      out << "all resolved " << fixed(r.resolvedAfterMs, 0) << " ms after the crash";
    }
    if (r.restartAfterMs > 0) {
      out << " (coordinator restarted after " << fixed(r.restartAfterMs, 0) << " ms, resolved "
          << fixed(r.blockedAfterRestartMs, 0) << " ms after that)";
    } else if (r.resolved) {
      // A participant starts recovery recoveryTimeout + [0, jitter) after it prepared (before
      // the crash), then needs a phase 1 and a phase 2 round (more if leaders duel).
      double target = r.recoveryTimeoutMs + 200;
      out << " (recovery timeout " << fixed(r.recoveryTimeoutMs, 0) << " ms, jitter up to "
          << fixed(r.recoveryJitterMs, 0) << " ms; target timeout + 200 ms "
          << (r.resolvedAfterMs <= target
                  ? std::string("met")
                  : "MISSED by " + fixed(r.resolvedAfterMs - target, 0) + " ms")
          << ")";
    }
    out << "; outcomes " << r.committedAfter << " committed, " << r.abortedAfter << " aborted";
    if (r.unknownAfter) out << ", " << r.unknownAfter << " unknown";
    if (!r.note.empty()) out << "; " << r.note;
    out << "\n";
  }
}

namespace {

json::Value countsJson(const std::map<std::string, uint64_t>& m) {
  json::Value out = json::Value::object();
  for (const auto& [k, v] : m) out[k] = v;  // reasons: the protocol's own ASCII text
  return out;
}

// {"nodes": .., "client": .., "by_role": {..}, "ceiling_tps": .., "cpus": ..}; null where
// not measured.
json::Value cpuJson(const CpuUse& u) {
  auto num = [&](bool known, double v) {
    return known ? json::Value(rounded(v, 1)) : json::Value(nullptr);
  };
  json::Value byRole = nullptr;
  if (u.measured) {
    byRole = json::Value::object();
    for (const char* role : kReportRoles) {
      auto it = u.byRoleUsPerTxn.find(role);
      byRole[role] =
          num(it != u.byRoleUsPerTxn.end(), it == u.byRoleUsPerTxn.end() ? 0 : it->second);
    }
  }
  return {{"nodes", num(u.measured, u.nodesUsPerTxn)},
          {"client", num(u.measured, u.clientUsPerTxn)},
          {"by_role", std::move(byRole)},
          {"ceiling_tps", num(u.ceilingTps > 0, u.ceilingTps)},
          {"cpus", u.cpus},
          {"nodes_counted", u.nodesCounted},
          {"nodes_total", u.nodesTotal},
          {"steal_pct", num(u.stealMeasured, u.stealPct)}};
}

// {"participant": {"mean_us": M, "per_txn": K}, ...}; null for a role that wrote nothing.
json::Value writesJson(const RunResult& r) {
  const uint64_t txns = r.transactions();
  json::Value out = json::Value::object();
  for (const char* role : kReportRoles) {
    auto it = r.writesByRole.find(role);
    if (it == r.writesByRole.end()) {
      out[role] = nullptr;
      continue;
    }
    const RoleWrites& w = it->second;
    out[role] = {{"mean_us", rounded(w.meanUs(), 1)},
                 {"per_txn", rounded(perTxn(w.commits, txns), 4)}};
  }
  return out;
}

// The CDF at fixed quantiles (enough to redraw the plot).
json::Value cdfJson(const std::vector<uint64_t>& sorted) {
  static const double kQ[] = {0.0, 0.01, 0.05, 0.1,  0.2,   0.3,  0.4,   0.5,   0.6,
                              0.7, 0.8,  0.9,  0.95, 0.975, 0.99, 0.995, 0.999, 1.0};
  json::Value out = json::Value::array();
  for (double q : kQ) out.push_back({q, quantile(sorted, q)});
  return out;
}

json::Value resourcesJson(const RunResult& r) {
  json::Value out = json::Value::array();
  for (const auto& rs : r.resources) {
    json::Value nodes = json::Value::array();
    for (const auto& n : rs.nodes) {
      nodes.push_back(
          {{"name", n.name}, {"pid", n.pid}, {"rss_kib", n.rssKiB}, {"mdb_bytes", n.mdbBytes}});
    }
    out.push_back(
        {{"when", rs.when}, {"at_seconds", rounded(rs.atSeconds, 2)}, {"nodes", std::move(nodes)}});
  }
  return out;
}

// The floor fields and the per-transaction costs of one run, appended to `j`.
void addCosts(json::Value& j, const RunResult& r) {
  j["floor_us"] = rounded(r.floorUs, 1);
  j["floor_synced_write_kind"] = r.floor.syncedWriteKind;
  j["nodes_synced_write_kind"] = nodesSyncedWriteKind(r);
  j["floor_synced_write_us"] = rounded(r.floor.syncedWriteUs, 1);
  j["floor_synced_write_us_p90"] = rounded(r.floor.syncedWriteP90Us, 1);
  j["floor_rtt_us"] = rounded(r.floor.rttUs, 1);
  j["floor_rtt_us_p90"] = rounded(r.floor.rttP90Us, 1);
  j["floor_rtt_transport"] = r.floor.transport;
  j["floor_synced_write_concurrent_us"] = rounded(r.floor.syncedWriteConcurrentUs, 1);
  j["floor_synced_write_concurrent_us_p90"] = rounded(r.floor.syncedWriteConcurrentP90Us, 1);
  j["floor_concurrent_writers"] = r.floor.concurrentWriters;
  j["p50_over_floor"] =
      rounded(r.floorUs > 0 ? static_cast<double>(r.latencyUs.p50) / r.floorUs : 0, 3);
  // --net-delay-us: the commit paced one per predicted round, and the floor with it.
  const double paced = r.floor.forModePaced(r.expected, r.netDelayUs);
  j["floor_paced_gap_us"] = rounded(r.floor.pacedGapUs, 1);
  j["floor_synced_write_paced_us"] = rounded(r.floor.syncedWritePacedUs, 1);
  j["floor_synced_write_paced_us_p90"] = rounded(r.floor.syncedWritePacedP90Us, 1);
  j["floor_paced_us"] = rounded(paced, 1);
  j["p50_over_paced_floor"] =
      rounded(paced > 0 ? static_cast<double>(r.latencyUs.p50) / paced : 0, 3);
  j["message_delays"] = r.expected.messageDelays;
  j["messages_per_txn"] = rounded(r.messagesPerTxn, 4);
  j["client_messages_per_txn"] = rounded(r.clientMessagesPerTxn, 4);
  j["rpc_calls_per_txn"] = rounded(r.rpcCallsPerTxn, 4);
  j["synced_writes_per_txn"] = rounded(r.syncedWritesPerTxn, 4);
  j["synced_commits_per_txn"] = rounded(r.syncedCommitsPerTxn, 4);
  j["expected_messages_per_txn"] = rounded(r.expected.messagesPerTxn, 1);
  j["expected_synced_writes_per_txn"] = rounded(r.expected.syncedWritesPerTxn, 1);
}

json::Value runJson(const RunResult& r) {
  json::Value j{{"protocol", r.protocol},
                {"participants", r.participants},
                {"f", r.f},
                {"fanout", r.fanOut},
                {"colocate", r.colocate},
                {"clients", r.clients},
                {"net_delay_us", r.netDelayUs},
                {"transport", r.transport},
                {"payload_bytes", r.payloadBytes},
                {"keys", r.keysPerParticipant},
                {"conflict_rate", rounded(r.conflictRate, 3)},
                {"seconds", rounded(r.seconds, 3)},
                {"committed", r.committed},
                {"aborted", r.aborted},
                {"unknown", r.unknown},
                {"throughput_tps", rounded(r.throughputTps, 1)},
                {"latency_us",
                 {{"p50", r.latencyUs.p50},
                  {"p90", r.latencyUs.p90},
                  {"p99", r.latencyUs.p99},
                  {"max", r.latencyUs.max}}}};
  addCosts(j, r);
  j["interrupted"] = r.interrupted;
  j["disturbed_retries"] = r.disturbedRetries;
  j["round"] = r.round;
  j["tls"] = r.tls;
  if (r.newConnectionCallUs > 0) {
    j["status_new_connection_us"] = rounded(r.newConnectionCallUs, 1);
    j["status_pooled_us"] = rounded(r.pooledCallUs, 1);
  }
  j["abort_reasons"] = countsJson(r.abortReasons);
  j["unknown_reasons"] = countsJson(r.unknownReasons);
  j["cpu_us_per_txn"] = cpuJson(r.cpu);
  j["synced_commits_by_role"] = writesJson(r);
  json::Value sent = json::Value::object();
  for (const auto& [k, v] : r.nodes) {
    if (k.rfind("sent_", 0) == 0) sent[k.substr(5)] = v + counterValue(r.client, k);
  }
  j["sent_by_kind"] = std::move(sent);
  j["latency_cdf_us"] = cdfJson(r.sortedLatenciesUs);
  j["resources"] = resourcesJson(r);
  return j;
}

json::Value recoveryJson(const RecoveryResult& r) {
  return {{"protocol", r.protocol},
          {"crashed", r.crashed},
          {"crash_at_seconds", rounded(r.crashAtSeconds, 3)},
          {"in_doubt_seen", r.inDoubtSeen},
          {"in_doubt_at_crash", r.inDoubtAtCrash},
          {"resolved", r.resolved},
          {"resolved_after_ms", rounded(r.resolvedAfterMs, 1)},
          {"recovery_timeout_ms", rounded(r.recoveryTimeoutMs, 0)},
          {"recovery_jitter_ms", rounded(r.recoveryJitterMs, 0)},
          {"restart_after_ms", rounded(r.restartAfterMs, 0)},
          {"resolved_after_restart_ms", rounded(r.blockedAfterRestartMs, 1)},
          {"committed", r.committedAfter},
          {"aborted", r.abortedAfter},
          {"unknown", r.unknownAfter},
          {"note", r.note}};
}

}  // namespace

void writeJson(std::ostream& out, const std::string& machine, const std::string& command,
               const std::vector<RunResult>& runs, const std::vector<RecoveryResult>& recoveries) {
  json::Value j;
  json::putBytes(j, "machine", machine);
  json::putBytes(j, "command", command);
  json::Value runsJson = json::Value::array();
  for (const auto& r : runs) runsJson.push_back(runJson(r));
  j["runs"] = std::move(runsJson);
  json::Value recoveryRows = json::Value::array();
  for (const auto& r : recoveries) recoveryRows.push_back(recoveryJson(r));
  j["recovery"] = std::move(recoveryRows);
  j["targets"] = targetsJson(runs);
  // One run per line: scripts (tests/e2e/bench_smoke.sh, bench/peers) grep them.
  out << json::render(j, {false, {"runs", "recovery", "targets"}}) << "\n";
}

}  // namespace pc::bench
