#include "runtime/cluster_config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "paxos_commit/assert.h"

namespace po = boost::program_options;

namespace pc::runtime {

const char* toString(Colocate c) {
  switch (c) {
    case Colocate::None:
      return "none";
    case Colocate::Acceptors:
      return "acceptors";
    case Colocate::All:
      return "all";
  }
  return "?";
}

std::optional<Colocate> parseColocate(std::string_view s) {
  for (Colocate c : {Colocate::None, Colocate::Acceptors, Colocate::All}) {
    if (s == toString(c)) return c;
  }
  return std::nullopt;
}

namespace {

constexpr NodeId kParticipantIdBase = 1000;
constexpr NodeId kAcceptorIdBase = 2000;

constexpr std::string_view kClusterKeys[] = {"protocol",
                                             "f",
                                             "fanout",
                                             "tick-ms",
                                             "recovery-timeout-ms",
                                             "leader-timeout-ms",
                                             "gc-cap",
                                             "colocate",
                                             "map-size-max",
                                             "max-connections",
                                             "idle-timeout-ms",
                                             "call-timeout-ms"};
constexpr std::string_view kNodeKeys[] = {"role", "address", "data", "metrics"};

template <size_t N>
std::string joinKeys(const std::string_view (&keys)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += ", ";
    out += keys[i];
  }
  return out;
}

template <size_t N>
bool isOneOf(const std::string_view (&keys)[N], std::string_view key) {
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

// Boost's config file parser trims exactly these characters.
std::string trimWs(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// Strict unsigned decimal: digits only, no sign, no spaces, no trailing text.
template <typename T>
std::optional<T> parseUnsigned(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// One line of the file as Boost's parser sees it ('#' comments and whitespace stripped).
// Boost's parsed options carry no line numbers, so we scan the same text with the same
// rules to name the line of every error.
struct ScannedLine {
  enum class Kind { Section, Option, Bad };
  Kind kind = Kind::Bad;
  int number = 0;
  std::string section;  // Section: its name; Option: the section it is in ("" before any)
  std::string key;      // Option only
  std::string text;     // the stripped line (for messages)
};

std::vector<ScannedLine> scanLines(const std::string& text) {
  std::vector<ScannedLine> out;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    size_t hash = raw.find('#');
    std::string s = trimWs(hash == std::string::npos ? std::string_view(raw)
                                                     : std::string_view(raw).substr(0, hash));
    if (s.empty()) continue;
    ScannedLine line;
    line.number = number;
    line.text = s;
    if (s.front() == '[' && s.back() == ']') {
      line.kind = ScannedLine::Kind::Section;
      section = s.size() >= 2 ? s.substr(1, s.size() - 2) : std::string();
      line.section = section;
    } else if (size_t eq = s.find('='); eq != std::string::npos) {
      line.kind = ScannedLine::Kind::Option;
      line.section = section;
      line.key = trimWs(std::string_view(s).substr(0, eq));
    } else {
      line.kind = ScannedLine::Kind::Bad;
    }
    out.push_back(std::move(line));
  }
  return out;
}

// Builds messages of the shape `FILE:LINE: SECTION: what (expected ...)`.
class Reporter {
 public:
  explicit Reporter(std::string path) : path_(path.empty() ? "<cluster file>" : std::move(path)) {}

  [[noreturn]] void fail(int line, const std::string& section, const std::string& what) const {
    std::string msg = path_;
    if (line > 0) msg += ":" + std::to_string(line);
    msg += ": ";
    if (!section.empty()) msg += section + ": ";
    msg += what;
    throw ConfigError(msg);
  }

 private:
  std::string path_;
};

struct Value {
  std::string text;
  int line = 0;
};

struct Section {
  int line = 0;
  std::map<std::string, Value> values;  // key -> value
};

std::string inQuotes(const std::string& s) { return "'" + s + "'"; }

// "map-size-max = 512MiB": a size in bytes, or with a binary unit (KiB, MiB, GiB, TiB).
uint64_t parseMapSize(const Reporter& rep, const Value& v) {
  auto bytes = parseByteSize(v.text);
  if (!bytes || *bytes < kMinMapSizeMax || *bytes > kMaxMapSizeMax) {
    rep.fail(v.line, "cluster",
             "bad map-size-max " + inQuotes(v.text) +
                 " (expected bytes or a size with KiB, MiB, GiB or TiB, from 1MiB to 16TiB)");
  }
  return *bytes;
}

uint32_t parseMs(const Reporter& rep, const std::string& key, const Value& v, uint32_t min,
                 uint32_t max) {
  auto n = parseUnsigned<uint32_t>(v.text);
  if (!n || *n < min || *n > max) {
    rep.fail(v.line, "cluster",
             "bad " + key + " " + inQuotes(v.text) + " (expected milliseconds, an integer in " +
                 std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  return *n;
}

// Splits host:port; the port must be 1..65535.
bool splitAddress(const std::string& text, std::string& host, uint16_t& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.find_first_of(" \t:") != std::string::npos) return false;
  auto p = parseUnsigned<uint32_t>(std::string_view(text).substr(colon + 1));
  if (!p || *p == 0 || *p > 65535) return false;
  port = static_cast<uint16_t>(*p);
  return true;
}

std::string nodeNames(const std::vector<const NodeInfo*>& nodes) {
  std::string out;
  for (const NodeInfo* n : nodes) {
    if (!out.empty()) out += ", ";
    out += n->name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::optional<NodeId> idForName(const std::string& name) {
  auto role = roleForName(name);
  if (!role) return std::nullopt;
  // roleForName checked the number: 1..kMaxNodeNumber, no leading zero.
  NodeId n = *parseUnsigned<NodeId>(std::string_view(name).substr(1));
  switch (*role) {
    case Role::Coordinator:
      return n;
    case Role::Participant:
      return kParticipantIdBase + n;
    case Role::Acceptor:
      return kAcceptorIdBase + n;
  }
  return std::nullopt;
}

std::optional<Role> roleForName(const std::string& name) {
  if (name.size() < 2) return std::nullopt;
  std::string_view digits = std::string_view(name).substr(1);
  if (digits.front() == '0') return std::nullopt;  // one spelling per id
  auto n = parseUnsigned<uint32_t>(digits);
  if (!n || *n < 1 || *n > static_cast<uint32_t>(kMaxNodeNumber)) return std::nullopt;
  switch (name.front()) {
    case 'c':
      return Role::Coordinator;
    case 'p':
      return Role::Participant;
    case 'a':
      return Role::Acceptor;
    default:
      return std::nullopt;
  }
}

std::string nameForId(NodeId id) {
  const auto max = static_cast<NodeId>(kMaxNodeNumber);
  if (isClientId(id)) return "client-" + std::to_string(id & 0x7fffffffu);
  if (id >= 1 && id <= max) return "c" + std::to_string(id);
  if (id > kParticipantIdBase && id <= kParticipantIdBase + max) {
    return "p" + std::to_string(id - kParticipantIdBase);
  }
  if (id > kAcceptorIdBase && id <= kAcceptorIdBase + max) {
    return "a" + std::to_string(id - kAcceptorIdBase);
  }
  return "node-" + std::to_string(id);
}

const NodeInfo* ClusterConfig::byName(const std::string& name) const {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const NodeInfo* ClusterConfig::byId(NodeId id) const {
  for (const auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::vector<const NodeInfo*> ClusterConfig::withRole(Role r) const {
  std::vector<const NodeInfo*> out;
  for (const auto& n : nodes) {
    if (n.role == r) out.push_back(&n);
  }
  return out;
}

std::vector<std::vector<const NodeInfo*>> ClusterConfig::processGroups() const {
  // By number: a<i> and c<i> join p<i> if it exists (names are unique, so at most one each).
  auto numberOf = [](const NodeInfo& n) { return n.name.substr(1); };
  std::map<std::string, const NodeInfo*> participantByNumber;
  for (const auto& n : nodes) {
    if (n.role == Role::Participant) participantByNumber.emplace(numberOf(n), &n);
  }
  auto hostOf = [&](const NodeInfo& n) -> const NodeInfo* {
    const bool joins = (n.role == Role::Acceptor && colocate != Colocate::None) ||
                       (n.role == Role::Coordinator && colocate == Colocate::All);
    if (!joins) return nullptr;
    auto it = participantByNumber.find(numberOf(n));
    return it == participantByNumber.end() ? nullptr : it->second;
  };
  std::vector<std::vector<const NodeInfo*>> groups;
  std::map<const NodeInfo*, size_t> groupOfParticipant;
  for (const auto& n : nodes) {  // by id: c*, p*, a*
    if (hostOf(n) != nullptr) continue;
    if (n.role == Role::Participant) groupOfParticipant.emplace(&n, groups.size());
    groups.push_back({&n});
  }
  // Within a group: the participant, then its acceptor, then its coordinator.
  for (Role r : {Role::Acceptor, Role::Coordinator}) {
    for (const auto& n : nodes) {
      if (n.role != r) continue;
      if (const NodeInfo* host = hostOf(n)) groups[groupOfParticipant.at(host)].push_back(&n);
    }
  }
  return groups;
}

CoreConfig ClusterConfig::coreConfig() const {
  PC_ASSERT(tickMs > 0, tickMs);
  auto ticks = [this](uint32_t ms) -> uint64_t { return std::max<uint64_t>(1, ms / tickMs); };
  CoreConfig c;
  c.protocol = protocol;
  c.fanOut = fanOut;
  c.f = f;
  for (const NodeInfo* n : withRole(Role::Acceptor)) c.acceptors.push_back(n->id);
  for (const NodeInfo* n : withRole(Role::Coordinator)) c.coordinators.push_back(n->id);
  for (const NodeInfo* n : withRole(Role::Participant)) c.participants.push_back(n->id);
  std::sort(c.participants.begin(), c.participants.end());
  std::sort(c.acceptors.begin(), c.acceptors.end());
  std::sort(c.coordinators.begin(), c.coordinators.end());
  c.recoveryTimeoutTicks = ticks(recoveryTimeoutMs);
  c.leaderTimeoutTicks = ticks(leaderTimeoutMs);
  c.tombstoneCap = gcCap;
  c.finishedCap = gcCap;
  c.outcomeCacheCap = gcCap;
  // Jitter spreads recovering participants apart (a tenth of the timeout: enough to let
  // the first recovery leader finish, ~2 round trips, before the next one starts, and a
  // bound on how late recovery can start); retries back off by a fraction of the timeout,
  // so both scale with it rather than staying at the core's tick defaults.
  c.recoveryJitterTicks = std::max<uint64_t>(1, c.recoveryTimeoutTicks / 10);
  c.ballotRetryTicks = std::max<uint64_t>(1, c.recoveryTimeoutTicks / 3);
  PC_ASSERT(c.recoveryTimeoutTicks >= 1 && c.leaderTimeoutTicks >= 1, c.recoveryTimeoutTicks,
            c.leaderTimeoutTicks);
  return c;
}

std::string ClusterConfig::dir() const {
  if (path.empty()) return ".";
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string ClusterConfig::dataDirOf(const NodeInfo& n) const {
  std::filesystem::path data(n.dataDir.empty() ? n.name : n.dataDir);
  if (data.is_absolute()) return data.string();
  return (std::filesystem::path(dir()) / data).lexically_normal().string();
}

std::string ClusterConfig::render() const {
  // Values must survive Boost's reader unchanged: no comment sign, no line break, no
  // surrounding whitespace. Every config we render was built by us or parsed by us.
  auto checkValue = [](const std::string& v) {
    PC_ASSERT(!v.empty() && v.find_first_of("#\r\n") == std::string::npos && trimWs(v) == v, v);
    return v;
  };
  auto pad = [](std::string s) {
    if (s.size() < 30) s += std::string(30 - s.size(), ' ');
    return s;
  };
  std::ostringstream out;
  out << "# pcommit cluster file (docs/DESIGN.md §4). Every node reads it at start\n"
         "# (`pcommit serve --config FILE --node ID`), and so do clients.\n"
         "# Node ids: c<N> coordinators, p<N> participants, a<N> acceptors.\n\n";
  out << "[cluster]\n";
  out << pad(std::string("protocol = ") + pc::toString(protocol))
      << "# 2pc | paxos-classic | paxos | paxos-direct\n";
  out << pad("f = " + std::to_string(f)) << "# tolerated acceptor failures; 2f+1 acceptors\n";
  out << pad(std::string("fanout = ") + pc::toString(fanOut))
      << "# all | quorum: a vote goes to every acceptor, or f+1 first\n";
  out << pad("tick-ms = " + std::to_string(tickMs)) << "# one logical tick of the core\n";
  out << pad("recovery-timeout-ms = " + std::to_string(recoveryTimeoutMs))
      << "# prepared, no outcome -> recovery (Paxos) / ask (2PC)\n";
  out << pad("leader-timeout-ms = " + std::to_string(leaderTimeoutMs))
      << "# leader with no decision -> recovery\n";
  out << pad("gc-cap = " + std::to_string(gcCap))
      << "# collected transactions remembered per node before a low-water mark\n";
  if (mapSizeMax != kDefaultMapSizeMax) {  // absent means the default, as for colocate
    out << pad("map-size-max = " + renderByteSize(mapSizeMax))
        << "# LMDB map limit per node; participants refuse new txns at 90%\n";
  }
  if (colocate != Colocate::None) {  // absent means none: files from before the key read the same
    out << pad(std::string("colocate = ") + toString(colocate))
        << "# none | acceptors | all: a<i> (and c<i>) run in p<i>'s process\n";
  }
  // The edge keys, only when not the default (files without them read the same).
  const ClusterConfig defaults;
  if (maxConnections != defaults.maxConnections) {
    out << pad("max-connections = " + std::to_string(maxConnections))
        << "# inbound connections per node; more are closed at once\n";
  }
  if (idleTimeoutMs != defaults.idleTimeoutMs) {
    out << pad("idle-timeout-ms = " + std::to_string(idleTimeoutMs))
        << "# inbound connection with no call by then: closed\n";
  }
  if (callTimeoutMs != defaults.callTimeoutMs) {
    out << pad("call-timeout-ms = " + std::to_string(callTimeoutMs))
        << "# outbound call or connect unanswered by then: failed\n";
  }
  for (const auto& n : nodes) {
    out << "\n[node." << checkValue(n.name) << "]\n";
    out << "role = " << toString(n.role) << "\n";
    out << "address = " << checkValue(n.host) << ":" << n.port << "\n";
    out << pad("data = " + checkValue(n.dataDir.empty() ? n.name : n.dataDir))
        << "# relative to this file's folder\n";
    if (n.metricsPort != 0) {
      out << pad("metrics = " + checkValue(n.metricsHost) + ":" + std::to_string(n.metricsPort))
          << "# Prometheus: GET /metrics, /healthz\n";
    }
  }
  return out.str();
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  int shift = 0;
  for (const auto& [unit, bits] : kUnits) {
    if (text.size() > unit.size() && text.substr(text.size() - unit.size()) == unit) {
      text.remove_suffix(unit.size());
      shift = bits;
      break;
    }
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (n > (~uint64_t{0} >> shift)) return std::nullopt;
  return n << shift;
}

std::string renderByteSize(uint64_t bytes) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  for (const auto& [unit, bits] : kUnits) {
    const uint64_t one = uint64_t{1} << bits;
    if (bytes >= one && bytes % one == 0) return std::to_string(bytes >> bits) + std::string(unit);
  }
  return std::to_string(bytes);
}

ClusterConfig loadClusterFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(
        path + ": cannot read the cluster file (" +
        (std::filesystem::exists(path) ? "permission denied or not a file" : "no such file") + ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": read error");
  return parseClusterText(text.str(), path);
}

namespace {

// Pass 1 (our scan): syntax and section names, before Boost sees the text.
void scanSections(const Reporter& rep, const std::vector<ScannedLine>& lines,
                  std::map<std::string, Section>& sections,
                  std::vector<const ScannedLine*>& optionLines) {
  for (const auto& line : lines) {
    switch (line.kind) {
      case ScannedLine::Kind::Bad:
        rep.fail(line.number, "",
                 "cannot parse " + inQuotes(line.text) +
                     " (expected '[section]', 'key = value' or a # comment)");
      case ScannedLine::Kind::Section: {
        const std::string& name = line.section;
        if (name.rfind("node.", 0) == 0) {
          std::string node = name.substr(5);
          if (!roleForName(node)) {
            rep.fail(line.number, "",
                     "bad node name " + inQuotes(node) + " in [" + name +
                         "] (expected c<N>, p<N> or a<N> with N in 1.." +
                         std::to_string(kMaxNodeNumber) + ", no leading zero)");
          }
        } else if (name != "cluster") {
          rep.fail(line.number, "",
                   "unknown section [" + name + "] (expected [cluster] or [node.NAME])");
        }
        auto [it, inserted] = sections.try_emplace(name);
        if (!inserted) {
          rep.fail(line.number, "",
                   "section [" + name + "] appears twice (first at line " +
                       std::to_string(it->second.line) + ")");
        }
        it->second.line = line.number;
        break;
      }
      case ScannedLine::Kind::Option:
        if (line.section.empty()) {
          rep.fail(line.number, "",
                   "key " + inQuotes(line.key) +
                       " is outside any section (expected it under [cluster] or [node.NAME])");
        }
        if (line.key.empty()) {
          rep.fail(line.number, line.section,
                   "missing key name before '=' in " + inQuotes(line.text));
        }
        optionLines.push_back(&line);
        break;
    }
  }
}

// Pass 2 (Boost): the values. Every key is unregistered here, and checked by us below.
void readValues(const Reporter& rep, const std::string& text,
                const std::vector<const ScannedLine*>& optionLines,
                std::map<std::string, Section>& sections) {
  po::parsed_options parsed(nullptr);
  try {
    std::istringstream in(text);
    parsed = po::parse_config_file(in, po::options_description(), /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    rep.fail(0, "", e.what());
  }
  if (parsed.options.size() != optionLines.size()) {
    rep.fail(0, "",
             "internal: read " + std::to_string(parsed.options.size()) + " keys, expected " +
                 std::to_string(optionLines.size()));
  }
  for (size_t i = 0; i < parsed.options.size(); ++i) {
    const po::option& opt = parsed.options[i];
    const ScannedLine& line = *optionLines[i];
    if (opt.string_key != line.section + "." + line.key || opt.value.size() != 1) {
      rep.fail(line.number, line.section, "internal: cannot read key " + inQuotes(line.key));
    }
    Section& sec = sections[line.section];
    const bool isCluster = line.section == "cluster";
    if (isCluster ? !isOneOf(kClusterKeys, line.key) : !isOneOf(kNodeKeys, line.key)) {
      rep.fail(line.number, line.section,
               "unknown key " + inQuotes(line.key) + " (expected " +
                   (isCluster ? joinKeys(kClusterKeys) : joinKeys(kNodeKeys)) + ")");
    }
    auto [it, inserted] = sec.values.try_emplace(line.key, Value{opt.value[0], line.number});
    if (!inserted) {
      rep.fail(line.number, line.section,
               "key " + inQuotes(line.key) + " given twice (first at line " +
                   std::to_string(it->second.line) + ")");
    }
    if (opt.value[0].empty()) {
      rep.fail(line.number, line.section, "empty value for key " + inQuotes(line.key));
    }
    // A NUL or a stray carriage return would end up in a path or a host name, and render()
    // could not write the value back (found by tests/fuzz/fuzz_cluster_config).
    for (char c : opt.value[0]) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        rep.fail(line.number, line.section,
                 "control character in the value of key " + inQuotes(line.key));
      }
    }
  }
}

// The value of `key` in [cluster], or null (no such key, or no [cluster] section).
const Value* valueOf(const Section* cluster, const char* key) {
  if (!cluster) return nullptr;
  auto it = cluster->values.find(key);
  return it == cluster->values.end() ? nullptr : &it->second;
}

// The transport's edge: connection cap, idle timeout, call deadline.
void parseEdgeKeys(const Reporter& rep, const Section* cluster, ClusterConfig& config) {
  auto clusterValue = [cluster](const char* key) { return valueOf(cluster, key); };
  if (const Value* v = clusterValue("max-connections")) {
    auto n = parseUnsigned<uint32_t>(v->text);
    if (!n || *n < 1 || *n > kMaxConnections) {
      rep.fail(v->line, "cluster",
               "bad max-connections " + inQuotes(v->text) + " (expected an integer in 1.." +
                   std::to_string(kMaxConnections) + ")");
    }
    config.maxConnections = *n;
  }
  if (const Value* v = clusterValue("idle-timeout-ms")) {
    config.idleTimeoutMs = parseMs(rep, "idle-timeout-ms", *v, kMinEdgeTimeoutMs, kMaxTimeoutMs);
  }
  if (const Value* v = clusterValue("call-timeout-ms")) {
    config.callTimeoutMs = parseMs(rep, "call-timeout-ms", *v, kMinEdgeTimeoutMs, kMaxTimeoutMs);
  }
}

// Pass 3a: the [cluster] keys.
void parseClusterKeys(const Reporter& rep, const Section* cluster, ClusterConfig& config) {
  auto clusterValue = [cluster](const char* key) { return valueOf(cluster, key); };
  if (const Value* v = clusterValue("protocol")) {
    auto p = parseProtocol(v->text);
    if (!p) {
      rep.fail(v->line, "cluster",
               "bad protocol " + inQuotes(v->text) +
                   " (expected 2pc, paxos-classic, paxos or paxos-direct)");
    }
    config.protocol = *p;
  }
  if (const Value* v = clusterValue("f")) {
    auto n = parseUnsigned<uint32_t>(v->text);
    if (!n || *n > static_cast<uint32_t>(kMaxF)) {
      rep.fail(v->line, "cluster",
               "bad f " + inQuotes(v->text) + " (expected an integer in 0.." +
                   std::to_string(kMaxF) + ")");
    }
    config.f = static_cast<int>(*n);
  }
  if (const Value* v = clusterValue("fanout")) {
    auto fo = parseFanOut(v->text);
    if (!fo)
      rep.fail(v->line, "cluster", "bad fanout " + inQuotes(v->text) + " (expected all or quorum)");
    config.fanOut = *fo;
  }
  if (const Value* v = clusterValue("tick-ms")) {
    config.tickMs = parseMs(rep, "tick-ms", *v, 1, kMaxTickMs);
  }
  if (const Value* v = clusterValue("recovery-timeout-ms")) {
    config.recoveryTimeoutMs =
        parseMs(rep, "recovery-timeout-ms", *v, config.tickMs, kMaxTimeoutMs);
  } else if (config.recoveryTimeoutMs < config.tickMs) {
    rep.fail(cluster ? cluster->line : 0, "cluster",
             "recovery-timeout-ms (default " + std::to_string(config.recoveryTimeoutMs) +
                 ") is shorter than tick-ms (expected recovery-timeout-ms >= tick-ms)");
  }
  if (const Value* v = clusterValue("leader-timeout-ms")) {
    config.leaderTimeoutMs = parseMs(rep, "leader-timeout-ms", *v, config.tickMs, kMaxTimeoutMs);
  } else if (config.leaderTimeoutMs < config.tickMs) {
    rep.fail(cluster ? cluster->line : 0, "cluster",
             "leader-timeout-ms (default " + std::to_string(config.leaderTimeoutMs) +
                 ") is shorter than tick-ms (expected leader-timeout-ms >= tick-ms)");
  }

  if (const Value* v = clusterValue("gc-cap")) {
    auto n = parseUnsigned<uint32_t>(v->text);
    if (!n || *n < 1 || *n > kMaxGcCap) {
      rep.fail(v->line, "cluster",
               "bad gc-cap " + inQuotes(v->text) + " (expected an integer in 1.." +
                   std::to_string(kMaxGcCap) + ")");
    }
    config.gcCap = *n;
  }

  if (const Value* v = clusterValue("map-size-max")) config.mapSizeMax = parseMapSize(rep, *v);

  if (const Value* v = clusterValue("colocate")) {
    auto c = parseColocate(v->text);
    if (!c) {
      rep.fail(v->line, "cluster",
               "bad colocate " + inQuotes(v->text) + " (expected none, acceptors or all)");
    }
    config.colocate = *c;
  }

  parseEdgeKeys(rep, cluster, config);
}

using Owners = std::map<std::string, std::pair<std::string, int>>;  // -> node, line

// A node's optional metrics address: well formed, and no other endpoint's.
void parseMetricsAddress(const Reporter& rep, const std::string& sectionName, const Section& sec,
                         NodeInfo& n, Owners& addressOwner) {
  if (auto it = sec.values.find("metrics"); it != sec.values.end()) {
    const Value& metrics = it->second;
    if (!splitAddress(metrics.text, n.metricsHost, n.metricsPort)) {
      rep.fail(metrics.line, sectionName,
               "bad metrics address " + inQuotes(metrics.text) +
                   " (expected HOST:PORT, PORT in 1..65535)");
    }
    auto [used, fresh] = addressOwner.try_emplace(n.metricsAddress(), n.name, metrics.line);
    if (!fresh) {
      rep.fail(metrics.line, sectionName,
               "metrics address " + n.metricsAddress() + " is already used by node." +
                   used->second.first + " (line " + std::to_string(used->second.second) +
                   "; expected one address per endpoint)");
    }
  }
}

// Pass 3b: one [node.NAME] section. Addresses and data directories must be unique.
NodeInfo parseNode(const Reporter& rep, const std::string& sectionName, const Section& sec,
                   const ClusterConfig& config, Owners& addressOwner, Owners& dataOwner) {
  NodeInfo n;
  n.name = sectionName.substr(5);
  n.id = *idForName(n.name);
  const Role nameRole = *roleForName(n.name);
  auto need = [&](const char* key, const char* example) -> const Value& {
    auto it = sec.values.find(key);
    if (it == sec.values.end()) {
      rep.fail(
          sec.line, sectionName,
          std::string("missing key '") + key + "' (expected e.g. " + key + " = " + example + ")");
    }
    return it->second;
  };
  const Value& role = need("role", toString(nameRole));
  auto r = parseRole(role.text);
  if (!r) {
    rep.fail(
        role.line, sectionName,
        "bad role " + inQuotes(role.text) + " (expected coordinator, participant or acceptor)");
  }
  if (*r != nameRole) {
    rep.fail(role.line, sectionName,
             "role " + inQuotes(role.text) + " does not match the name (expected role = " +
                 toString(nameRole) + " for " + n.name + ")");
  }
  n.role = *r;
  const Value& address = need("address", "127.0.0.1:7100");
  if (!splitAddress(address.text, n.host, n.port)) {
    rep.fail(address.line, sectionName,
             "bad address " + inQuotes(address.text) + " (expected HOST:PORT, PORT in 1..65535)");
  }
  std::string canonical = n.address();
  auto [owner, freshAddress] = addressOwner.try_emplace(canonical, n.name, address.line);
  if (!freshAddress) {
    rep.fail(address.line, sectionName,
             "address " + canonical + " is already used by node." + owner->second.first +
                 " (line " + std::to_string(owner->second.second) +
                 "; expected one address per node)");
  }
  parseMetricsAddress(rep, sectionName, sec, n, addressOwner);
  n.dataDir = n.name;
  int dataLine = sec.line;
  if (auto it = sec.values.find("data"); it != sec.values.end()) {
    n.dataDir = it->second.text;
    dataLine = it->second.line;
  }
  std::string resolved = config.dataDirOf(n);
  auto [dataIt, freshData] = dataOwner.try_emplace(resolved, n.name, dataLine);
  if (!freshData) {
    rep.fail(dataLine, sectionName,
             "data directory " + inQuotes(n.dataDir) + " is already used by node." +
                 dataIt->second.first + " (line " + std::to_string(dataIt->second.second) +
                 "; expected one data directory per node)");
  }
  return n;
}

// Pass 4: whole-cluster rules. Their line is the key that sets the rule, where there is one.
void checkWholeCluster(const Reporter& rep, const Section* cluster, const ClusterConfig& config) {
  auto clusterValue = [cluster](const char* key) { return valueOf(cluster, key); };
  const int clusterLine = cluster ? cluster->line : 0;
  const auto participants = config.withRole(Role::Participant);
  const auto acceptors = config.withRole(Role::Acceptor);
  const auto coordinators = config.withRole(Role::Coordinator);
  if (participants.empty()) {
    rep.fail(clusterLine, "", "no participant (expected at least one [node.p<N>] section)");
  }
  const size_t wantAcceptors = 2 * static_cast<size_t>(config.f) + 1;
  // Every protocol has them: the core's participants and recovery leaders expect 2f+1
  // even under 2PC, and one cluster file then serves both sides of a benchmark.
  if (acceptors.size() != wantAcceptors) {
    const Value* fv = clusterValue("f");
    rep.fail(fv ? fv->line : clusterLine, fv ? "cluster" : "",
             "f = " + std::to_string(config.f) + " needs 2f+1 = " + std::to_string(wantAcceptors) +
                 " acceptors, found " + std::to_string(acceptors.size()) + " (" +
                 nodeNames(acceptors) + "; expected [node.a1] .. [node.a" +
                 std::to_string(wantAcceptors) + "])");
  }
  if (coordinators.empty() && config.protocol != Protocol::PaxosDirect) {
    const Value* pv = clusterValue("protocol");
    rep.fail(pv ? pv->line : clusterLine, pv ? "cluster" : "",
             std::string("protocol ") + pc::toString(config.protocol) +
                 " needs a coordinator (expected at least one [node.c<N>] section)");
  }
}

}  // namespace

ClusterConfig parseClusterText(const std::string& text, const std::string& pathForMessages) {
  const Reporter rep(pathForMessages);
  const std::vector<ScannedLine> lines = scanLines(text);
  std::map<std::string, Section> sections;  // "cluster", "node.p1", ...
  std::vector<const ScannedLine*> optionLines;
  scanSections(rep, lines, sections, optionLines);
  readValues(rep, text, optionLines, sections);

  // Pass 3: meanings.
  ClusterConfig config;
  config.path = pathForMessages;
  const Section* cluster = nullptr;
  if (auto it = sections.find("cluster"); it != sections.end()) cluster = &it->second;
  parseClusterKeys(rep, cluster, config);
  Owners addressOwner;  // address -> node, line
  Owners dataOwner;     // data dir -> node, line
  // Nodes in file order, so a clash is reported at the later of its two lines.
  std::vector<std::pair<const std::string*, const Section*>> nodeSections;
  for (const auto& [name, sec] : sections) {
    if (name != "cluster") nodeSections.emplace_back(&name, &sec);
  }
  std::sort(nodeSections.begin(), nodeSections.end(),
            [](const auto& a, const auto& b) { return a.second->line < b.second->line; });
  for (const auto& [namePtr, secPtr] : nodeSections) {
    config.nodes.push_back(parseNode(rep, *namePtr, *secPtr, config, addressOwner, dataOwner));
  }
  std::sort(config.nodes.begin(), config.nodes.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  checkWholeCluster(rep, cluster, config);
  return config;
}

}  // namespace pc::runtime
