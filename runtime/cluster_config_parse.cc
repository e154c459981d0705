// Reading a cluster file: our own scan for syntax and section names, Boost.Program_options
// for the values, then the meaning of every key, each error naming its line
// (runtime/cluster_config.h has the format).
#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "paxos_commit/assert.h"
#include "runtime/cluster_config.h"
#include "runtime/cluster_config_internal.h"

namespace po = boost::program_options;

namespace pc::runtime {

using namespace config_detail;

namespace {

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
                                             "call-timeout-ms",
                                             "net-delay-us",
                                             "cluster-id",
                                             "tls-ca",
                                             "tls-cert",
                                             "tls-key",
                                             "tls-admin-cert",
                                             "tls-admin-key"};
constexpr std::string_view kNodeKeys[] = {"role",   "address",  "data",   "metrics",
                                          "listen", "tls-cert", "tls-key"};

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

// `KEY = unix:PATH` (address or listen): a Unix domain socket. PATH is absolute or relative
// to the cluster file's folder (as data is); resolved, it must fit sun_path. host becomes
// "unix:" + the resolved path, port 0, written PATH as given. The value has no control
// character (readValues), so no NUL either.
void parseUnixEndpoint(const Reporter& rep, const std::string& sectionName, const char* key,
                       const Value& v, const ClusterConfig& config, std::string& host,
                       uint16_t& port, std::string& written) {
  const std::string path = v.text.substr(kUnixPrefix.size());
  // A leading space is a typo, not a file name (and render could not write it back).
  if (path.empty() || path.back() == '/' || path.front() == ' ' || path.front() == '\t') {
    rep.fail(v.line, sectionName,
             std::string("bad ") + key + " " + inQuotes(v.text) +
                 " (expected unix:PATH naming a socket file, e.g. unix:p1.sock)");
  }
  PC_ASSERT(path.find('\0') == std::string::npos, path.size());
  // Lexically normal, so two spellings of one socket are one address (for the clash check).
  const std::string resolved =
      std::filesystem::path(config.resolvePath(path)).lexically_normal().string();
  if (resolved.size() > kMaxUnixPathBytes) {
    rep.fail(
        v.line, sectionName,
        std::string(key) + " " + inQuotes(v.text) + ": the socket path " +
            (resolved == path
                 ? ""
                 : "(resolved against the cluster file's folder: " + inQuotes(resolved) + ") ") +
            "is " + std::to_string(resolved.size()) + " bytes, over the limit of " +
            std::to_string(kMaxUnixPathBytes) +
            " (sun_path; expected a shorter path, e.g. in a shorter folder)");
  }
  host = std::string(kUnixPrefix) + resolved;
  port = 0;
  written = path;
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
  if (const Value* v = clusterValue("net-delay-us")) {
    auto n = parseUnsigned<uint32_t>(v->text);
    if (!n || *n > kMaxNetDelayUs) {
      rep.fail(v->line, "cluster",
               "bad net-delay-us " + inQuotes(v->text) + " (expected microseconds in 0.." +
                   std::to_string(kMaxNetDelayUs) + ")");
    }
    config.netDelayUs = *n;
  }
  if (const Value* v = clusterValue("cluster-id")) {
    if (!isClusterId(v->text)) {
      rep.fail(v->line, "cluster",
               "bad cluster-id " + inQuotes(v->text) +
                   " (expected 32 lowercase hex digits, as `pcommit cluster start` writes)");
    }
    config.clusterId = v->text;
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
                   " (expected 2pc, paxos-classic, paxos, paxos-direct or 2pc-replicated)");
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
  if (address.text.rfind(kUnixPrefix, 0) == 0) {
    parseUnixEndpoint(rep, sectionName, "address", address, config, n.host, n.port, n.unixPath);
  } else if (!splitAddress(address.text, n.host, n.port)) {
    rep.fail(address.line, sectionName,
             "bad address " + inQuotes(address.text) +
                 " (expected HOST:PORT, PORT in 1..65535, or unix:PATH)");
  }
  std::string canonical = n.address();
  auto [owner, freshAddress] = addressOwner.try_emplace(canonical, n.name, address.line);
  if (!freshAddress) {
    rep.fail(address.line, sectionName,
             "address " + canonical + " is already used by node." + owner->second.first +
                 " (line " + std::to_string(owner->second.second) +
                 "; expected one address per node)");
  }
  if (auto it = sec.values.find("listen"); it != sec.values.end()) {
    if (it->second.text.rfind(kUnixPrefix, 0) == 0) {
      parseUnixEndpoint(rep, sectionName, "listen", it->second, config, n.listenHost, n.listenPort,
                        n.listenUnixPath);
    } else if (!splitAddress(it->second.text, n.listenHost, n.listenPort)) {
      rep.fail(it->second.line, sectionName,
               "bad listen address " + inQuotes(it->second.text) +
                   " (expected HOST:PORT, PORT in 1..65535, e.g. 0.0.0.0:7100, or unix:PATH)");
    }
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

// Pass 3c: the tls-* keys (runtime/cluster_config.h). Half a TLS configuration is refused
// here, naming the key: a node or client that silently fell back to plaintext (or to no
// client certificate) would be a hole, not a convenience.
void parseTlsKeys(const Reporter& rep, const Section* cluster,
                  const std::vector<std::pair<const std::string*, const Section*>>& nodeSections,
                  ClusterConfig& config) {
  auto text = [](const Section* sec, const char* key) -> std::string {
    if (!sec) return {};
    auto it = sec->values.find(key);
    return it == sec->values.end() ? std::string() : it->second.text;
  };
  auto lineOf = [](const Section* sec, const char* key) {
    auto it = sec->values.find(key);
    return it == sec->values.end() ? sec->line : it->second.line;
  };
  ClusterConfig::TlsPaths& t = config.tls;
  t = {text(cluster, "tls-ca"), text(cluster, "tls-cert"), text(cluster, "tls-key"),
       text(cluster, "tls-admin-cert"), text(cluster, "tls-admin-key")};
  // A key of a pair without the other one, in `sec` (named `name`).
  auto pair = [&](const Section* sec, const std::string& name, const char* a, const char* b) {
    const bool hasA = !text(sec, a).empty(), hasB = !text(sec, b).empty();
    if (hasA == hasB) return;
    const char* given = hasA ? a : b;
    rep.fail(lineOf(sec, given), name,
             std::string(given) + " without " + (hasA ? b : a) +
                 " (half a TLS configuration; expected both or neither)");
  };
  if (cluster) {
    pair(cluster, "cluster", "tls-cert", "tls-key");
    pair(cluster, "cluster", "tls-admin-cert", "tls-admin-key");
  }
  for (const auto& [name, sec] : nodeSections) pair(sec, *name, "tls-cert", "tls-key");
  if (t.ca.empty()) {
    // Any other tls-* key without the CA: the file asks for TLS but cannot verify anyone.
    for (const char* key : {"tls-cert", "tls-admin-cert"}) {
      if (!text(cluster, key).empty()) {
        rep.fail(lineOf(cluster, key), "cluster",
                 std::string(key) +
                     " without tls-ca (half a TLS configuration; expected "
                     "tls-ca = CA.pem as well, or no tls-* key)");
      }
    }
    for (const auto& [name, sec] : nodeSections) {
      if (!text(sec, "tls-cert").empty()) {
        rep.fail(lineOf(sec, "tls-cert"), *name,
                 "tls-cert without tls-ca in [cluster] (half a TLS configuration)");
      }
    }
    return;
  }
  if (t.cert.empty()) {
    rep.fail(lineOf(cluster, "tls-ca"), "cluster",
             "tls-ca without tls-cert and tls-key (half a TLS configuration; expected the "
             "clients' certificate, e.g. tls-cert = tls/client.pem, tls-key = tls/client.key)");
  }
  for (const auto& [name, sec] : nodeSections) {
    for (auto& n : config.nodes) {
      if ("node." + n.name != *name) continue;
      n.tlsCert = text(sec, "tls-cert");
      n.tlsKey = text(sec, "tls-key");
    }
  }
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
  parseTlsKeys(rep, cluster, nodeSections, config);
  std::sort(config.nodes.begin(), config.nodes.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  checkWholeCluster(rep, cluster, config);
  return config;
}

}  // namespace pc::runtime
