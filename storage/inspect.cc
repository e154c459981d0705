#include "storage/inspect.h"

#include <optional>
#include <sstream>

#include "paxos_commit/kv.h"
#include "storage/codec.h"

namespace pc::storage {

namespace {

std::string ballotText(const Ballot& b) {
  std::ostringstream os;
  os << b;
  return os.str();
}

std::string ballotJson(const std::optional<Ballot>& b) {
  if (!b) return "null";
  return "{\"round\": " + std::to_string(b->round) + ", \"leader\": " + std::to_string(b->leader) +
         "}";
}

std::string nodesText(const ParticipantList& l) {
  std::string s = "[";
  for (size_t i = 0; i < l.size(); ++i) s += (i ? "," : "") + std::to_string(l[i]);
  return s + "]";
}

std::string nodesJson(const ParticipantList& l) {
  std::string s = "[";
  for (size_t i = 0; i < l.size(); ++i) s += (i ? ", " : "") + std::to_string(l[i]);
  return s + "]";
}

std::string txnJson(const TxnId& t) { return "\"" + t.toString() + "\""; }

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

std::string opsJson(const Bytes& payload) {
  auto ops = kv::decodeOps(payload);
  if (!ops) return "null";
  std::string s = "[";
  for (size_t i = 0; i < ops->size(); ++i) {
    const auto& op = (*ops)[i];
    s += i ? ", " : "";
    switch (op.kind) {
      case kv::OpKind::Put:
        s += "{\"op\": \"put\", \"key\": " + jsonString(op.key) +
             ", \"value\": " + jsonString(op.value) + "}";
        break;
      case kv::OpKind::Del:
        s += "{\"op\": \"del\", \"key\": " + jsonString(op.key) + "}";
        break;
      case kv::OpKind::Expect:
        s += "{\"op\": \"expect\", \"key\": " + jsonString(op.key) +
             ", \"version\": " + std::to_string(op.version) + "}";
        break;
    }
  }
  return s + "]";
}

}  // namespace

std::string jsonString(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    if (b == '"' || b == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (b >= 0x20 && b < 0x80) {
      out.push_back(c);
    } else {
      out += "\\u00";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out + "\"";
}

void inspectText(const Env& env, std::ostream& out) {
  Recovered img = env.load();
  out << "pcommit data directory " << env.dir() << "\n";
  out << "format version " << env.formatVersion() << ", map size " << env.metrics().mapSizeBytes
      << " bytes, " << env.usedBytes() << " bytes used\n";
  out << "databases:";
  for (const auto& s : env.stats()) out << " " << s.name << "=" << s.entries;
  out << "\n";

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
  out << "{\n  \"dir\": " << jsonString(env.dir())
      << ",\n  \"format_version\": " << env.formatVersion()
      << ",\n  \"map_size_bytes\": " << env.metrics().mapSizeBytes
      << ",\n  \"used_bytes\": " << env.usedBytes() << ",\n  \"databases\": {";
  bool first = true;
  for (const auto& s : env.stats()) {
    out << (first ? "" : ", ") << "\"" << s.name << "\": " << s.entries;
    first = false;
  }
  out << "},\n  \"acceptor\": {\"low_water\": " << txnJson(img.acceptorLowWater)
      << ", \"tombstones\": [";
  for (size_t i = 0; i < img.acceptorTombstones.size(); ++i) {
    out << (i ? ", " : "") << "{\"txn\": " << txnJson(img.acceptorTombstones[i].txn)
        << ", \"outcome\": "
        << (img.acceptorTombstones[i].outcome
                ? "\"" + std::string(toString(*img.acceptorTombstones[i].outcome)) + "\""
                : std::string("null"))
        << "}";
  }
  out << "], \"transactions\": [";
  for (size_t k = 0; k < img.acceptorTxns.size(); ++k) {
    const auto& a = img.acceptorTxns[k];
    out << (k ? "," : "") << "\n    {\"txn\": " << txnJson(a.txn)
        << ", \"participants\": " << nodesJson(a.participants) << ", \"leader\": " << a.leader
        << ", \"instances\": [";
    for (size_t i = 0; i < a.instances.size(); ++i) {
      const auto& in = a.instances[i];
      out << (i ? ", " : "") << "{\"instance\": " << in.instance
          << ", \"mbal\": " << ballotJson(in.mbal) << ", \"bal\": " << ballotJson(in.bal)
          << ", \"val\": "
          << (in.val ? std::string("\"") + toString(*in.val) + "\"" : std::string("null")) << "}";
    }
    out << "]}";
  }
  out << "]},\n  \"participant\": {\"low_water\": " << txnJson(img.participantLowWater)
      << ", \"transactions\": [";
  for (size_t k = 0; k < img.participantTxns.size(); ++k) {
    const auto& p = img.participantTxns[k];
    out << (k ? "," : "") << "\n    {\"txn\": " << txnJson(p.txn) << ", \"state\": \""
        << toString(p.state) << "\", \"participants\": " << nodesJson(p.participants)
        << ", \"leader\": " << p.leader << ", \"reason\": " << jsonString(p.reason)
        << ", \"payload_bytes\": " << p.payload.size() << ", \"ops\": " << opsJson(p.payload)
        << "}";
  }
  out << "], \"locks\": [";
  first = true;
  env.forEachLock([&](const TxnId& txn, const std::string& key) {
    out << (first ? "" : ", ") << "{\"key\": " << jsonString(key) << ", \"txn\": " << txnJson(txn)
        << "}";
    first = false;
  });
  out << "]},\n  \"kv\": [";
  first = true;
  env.forEachKv([&](const std::string& key, const kv::Versioned& v) {
    out << (first ? "" : ",") << "\n    {\"key\": " << jsonString(key)
        << ", \"value\": " << (v.value ? jsonString(*v.value) : std::string("null"))
        << ", \"version\": " << v.version << "}";
    first = false;
  });
  out << "],\n  \"leader\": {\"round\": " << img.leaderRound << "},\n  \"decisions\": {"
      << "\"low_water\": " << txnJson(img.decisionLowWater) << ", \"transactions\": [";
  for (size_t k = 0; k < img.decisions.size(); ++k) {
    const auto& d = img.decisions[k];
    out << (k ? "," : "") << "\n    {\"txn\": " << txnJson(d.txn)
        << ", \"participants\": " << nodesJson(d.participants)
        << ", \"done\": " << (d.done ? "true" : "false") << "}";
  }
  out << "]}\n}\n";
}

}  // namespace pc::storage
