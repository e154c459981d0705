#include "storage/inspect.h"

#include <optional>
#include <sstream>

#include "json/json.h"
#include "paxos_commit/kv.h"
#include "storage/codec.h"

namespace pc::storage {

namespace {

std::string ballotText(const Ballot& b) {
  std::ostringstream os;
  os << b;
  return os.str();
}

json::Value ballotJson(const std::optional<Ballot>& b) {
  if (!b) return nullptr;
  return json::Value{{"round", b->round}, {"leader", b->leader}};
}

std::string nodesText(const ParticipantList& l) {
  std::string s = "[";
  for (size_t i = 0; i < l.size(); ++i) s += (i ? "," : "") + std::to_string(l[i]);
  return s + "]";
}

json::Value nodesJson(const ParticipantList& l) {
  json::Value out = json::Value::array();
  for (NodeId n : l) out.push_back(n);
  return out;
}

std::string txnJson(const TxnId& t) { return t.toString(); }

std::string opsText(const Bytes& payload) {
  auto ops = kv::decodeOps(payload);
  if (!ops) return "(not a kv payload)";
  std::string s;
  for (const auto& op : *ops) {
    if (!s.empty()) s += " ";
    switch (op.kind) {
      case kv::OpKind::Put:
        s += "put:" + codec::printable(op.key) + "=" + codec::printable(op.value);
        break;
      case kv::OpKind::Del:
        s += "del:" + codec::printable(op.key);
        break;
      case kv::OpKind::Expect:
        s += "expect:" + codec::printable(op.key) + "=" + std::to_string(op.version);
        break;
    }
  }
  return s;
}

json::Value opsJson(const Bytes& payload) {
  auto ops = kv::decodeOps(payload);
  if (!ops) return nullptr;
  json::Value out = json::Value::array();
  for (const auto& op : *ops) {
    json::Value o;
    switch (op.kind) {
      case kv::OpKind::Put:
        o["op"] = "put";
        json::putBytes(o, "key", op.key);
        json::putBytes(o, "value", op.value);
        break;
      case kv::OpKind::Del:
        o["op"] = "del";
        json::putBytes(o, "key", op.key);
        break;
      case kv::OpKind::Expect:
        o["op"] = "expect";
        json::putBytes(o, "key", op.key);
        o["version"] = op.version;
        break;
    }
    out.push_back(std::move(o));
  }
  return out;
}

json::Value acceptorJson(const Recovered& img) {
  json::Value tombstones = json::Value::array();
  for (const auto& t : img.acceptorTombstones) {
    tombstones.push_back(
        {{"txn", txnJson(t.txn)},
         {"outcome", t.outcome ? json::Value(toString(*t.outcome)) : json::Value(nullptr)}});
  }
  json::Value txns = json::Value::array();
  for (const auto& a : img.acceptorTxns) {
    json::Value instances = json::Value::array();
    for (const auto& in : a.instances) {
      instances.push_back(
          {{"instance", in.instance},
           {"mbal", ballotJson(in.mbal)},
           {"bal", ballotJson(in.bal)},
           {"val", in.val ? json::Value(toString(*in.val)) : json::Value(nullptr)}});
    }
    txns.push_back({{"txn", txnJson(a.txn)},
                    {"participants", nodesJson(a.participants)},
                    {"leader", a.leader},
                    {"instances", std::move(instances)}});
  }
  return {{"low_water", txnJson(img.acceptorLowWater)},
          {"tombstones", std::move(tombstones)},
          {"transactions", std::move(txns)}};
}

json::Value participantJson(const Env& env, const Recovered& img) {
  json::Value txns = json::Value::array();
  for (const auto& p : img.participantTxns) {
    json::Value t{{"txn", txnJson(p.txn)},
                  {"state", toString(p.state)},
                  {"participants", nodesJson(p.participants)},
                  {"leader", p.leader}};
    json::putBytes(t, "reason", p.reason);
    // Decided by an operator (`pcommit resolve`; docs/PROTOCOL.md §9).
    if (p.heuristic != Heuristic::None) t["heuristic"] = toString(p.heuristic);
    t["payload_bytes"] = p.payload.size();
    t["ops"] = opsJson(p.payload);
    txns.push_back(std::move(t));
  }
  json::Value locks = json::Value::array();
  env.forEachLock([&](const TxnId& txn, const std::string& key) {
    json::Value l;
    json::putBytes(l, "key", key);
    l["txn"] = txnJson(txn);
    locks.push_back(std::move(l));
  });
  return {{"low_water", txnJson(img.participantLowWater)},
          {"transactions", std::move(txns)},
          {"locks", std::move(locks)}};
}

}  // namespace

void inspectText(const Env& env, std::ostream& out) {
  Recovered img = env.load();
  out << "pcommit data directory " << env.dir() << "\n";
  out << "format version " << env.formatVersion() << ", map size " << env.metrics().mapSizeBytes
      << " bytes, " << env.usedBytes() << " bytes used\n";
  out << "databases:";
  for (const auto& s : env.stats()) out << " " << s.name << "=" << s.entries;
  out << "\n";
  if (env.formatVersion() == kFormatVersionLog) {
    // The counts above are the tables'; the records below include the log's.
    out << "record log: " << env.recordLogPending()
        << " records not yet in the tables (included below)\n";
  }
  if (const auto& id = env.identity()) {
    out << "identity: cluster " << (id->clusterId.empty() ? "(none)" : id->clusterId) << ", node "
        << id->nodeName << " (id " << id->node << ")";
    if (env.rejoinedAt()) out << ", rejoined empty at " << *env.rejoinedAt();
    out << "\n";
  } else {
    out << "identity: none (written by a build before cluster identity, or never served)\n";
  }

  out << "acceptor: " << img.acceptorTxns.size() << " transactions, "
      << img.acceptorTombstones.size() << " tombstones, low-water " << img.acceptorLowWater << "\n";
  for (const auto& a : img.acceptorTxns) {
    out << "  txn " << a.txn << " participants " << nodesText(a.participants) << " leader "
        << a.leader << "\n";
    for (const auto& i : a.instances) {
      out << "    instance " << i.instance << ": mbal " << ballotText(i.mbal) << " bal "
          << (i.bal ? ballotText(*i.bal) : std::string("-")) << " val "
          << (i.val ? toString(*i.val) : "-") << "\n";
    }
  }
  for (const auto& t : img.acceptorTombstones) {
    out << "  tombstone " << t.txn << " " << (t.outcome ? toString(*t.outcome) : "outcome-unknown")
        << "\n";
  }

  out << "participant: " << img.participantTxns.size() << " transactions, low-water "
      << img.participantLowWater << "\n";
  for (const auto& p : img.participantTxns) {
    out << "  txn " << p.txn << " " << toString(p.state) << " participants "
        << nodesText(p.participants) << " leader " << p.leader << " payload " << p.payload.size()
        << " bytes";
    if (!p.reason.empty()) out << " reason \"" << codec::printable(p.reason) << "\"";
    if (p.heuristic != Heuristic::None) out << " heuristic " << toString(p.heuristic);
    out << "\n    " << opsText(p.payload) << "\n";
  }
  out << "locks:\n";
  env.forEachLock([&](const TxnId& txn, const std::string& key) {
    out << "  " << codec::printable(key) << " held by " << txn << "\n";
  });
  out << "kv:\n";
  env.forEachKv([&](const std::string& key, const kv::Versioned& v) {
    out << "  " << codec::printable(key) << " = "
        << (v.value ? codec::printable(*v.value) : std::string("(deleted)")) << " version "
        << v.version << "\n";
  });
  out << "leader: round " << img.leaderRound << "\n";
  out << "decisions: " << img.decisions.size() << ", low-water " << img.decisionLowWater << "\n";
  for (const auto& d : img.decisions) {
    out << "  txn " << d.txn << " commit participants " << nodesText(d.participants)
        << (d.done ? " done" : " pending acks") << "\n";
  }
}

void inspectJson(const Env& env, std::ostream& out) {
  Recovered img = env.load();
  json::Value j;
  json::putBytes(j, "dir", env.dir());
  j["format_version"] = env.formatVersion();
  j["map_size_bytes"] = env.metrics().mapSizeBytes;
  j["used_bytes"] = env.usedBytes();
  json::Value databases = json::Value::object();
  for (const auto& s : env.stats()) databases[s.name] = s.entries;
  j["databases"] = std::move(databases);
  j["record_log_pending"] = env.recordLogPending();
  if (const auto& id = env.identity()) {
    j["identity"] = {
        {"cluster_id", id->clusterId.empty() ? json::Value(nullptr) : json::Value(id->clusterId)},
        {"node", id->nodeName},
        {"node_id", id->node},
        {"rejoined_at",
         env.rejoinedAt() ? json::Value(txnJson(*env.rejoinedAt())) : json::Value(nullptr)}};
  } else {
    j["identity"] = nullptr;
  }
  j["acceptor"] = acceptorJson(img);
  j["participant"] = participantJson(env, img);
  json::Value kvs = json::Value::array();
  env.forEachKv([&](const std::string& key, const kv::Versioned& v) {
    json::Value e;
    json::putBytes(e, "key", key);
    if (v.value) {
      json::putBytes(e, "value", *v.value);
    } else {
      e["value"] = nullptr;
    }
    e["version"] = v.version;
    kvs.push_back(std::move(e));
  });
  j["kv"] = std::move(kvs);
  j["leader"] = {{"round", img.leaderRound}};
  json::Value decisions = json::Value::array();
  for (const auto& d : img.decisions) {
    decisions.push_back(
        {{"txn", txnJson(d.txn)}, {"participants", nodesJson(d.participants)}, {"done", d.done}});
  }
  j["decisions"] = {{"low_water", txnJson(img.decisionLowWater)},
                    {"transactions", std::move(decisions)}};
  out << json::render(j, {true, {"transactions", "kv"}}) << "\n";
}

}  // namespace pc::storage
