#include "runtime/cluster_config.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "paxos_commit/assert.h"
#include "runtime/cluster_config_internal.h"

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

using namespace config_detail;

std::string newClusterId() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw std::runtime_error(std::string("cannot draw a cluster id: getrandom: ") +
                               std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool isClusterId(std::string_view text) {
  return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
         });
}

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
  return resolvePath(n.dataDir.empty() ? n.name : n.dataDir);
}

std::string ClusterConfig::resolvePath(const std::string& p) const {
  std::filesystem::path data(p);
  if (data.is_absolute()) return data.string();
  return (std::filesystem::path(dir()) / data).lexically_normal().string();
}

namespace {

// Values must survive Boost's reader unchanged: no comment sign, no line break, no
// surrounding whitespace. Every config we render was built by us or parsed by us.
const std::string& checkValue(const std::string& v) {
  PC_ASSERT(!v.empty() && v.find_first_of("#\r\n") == std::string::npos && trimWs(v) == v, v);
  return v;
}

std::string pad(std::string s) {
  if (s.size() < 30) s += std::string(30 - s.size(), ' ');
  return s;
}

// The [node.NAME] sections.
void renderNodes(std::ostream& out, const std::vector<NodeInfo>& nodes) {
  for (const auto& n : nodes) {
    out << "\n[node." << checkValue(n.name) << "]\n";
    out << "role = " << toString(n.role) << "\n";
    if (n.isUnix()) {
      out << pad("address = " + std::string(kUnixPrefix) + checkValue(n.unixPath) + " ")
          << "# a Unix domain socket: peers on this host only\n";
    } else {
      out << "address = " << checkValue(n.host) << ":" << n.port << "\n";
    }
    if (n.hasListen()) {
      const std::string listen = n.listenUnixPath.empty()
                                     ? checkValue(n.listenHost) + ":" + std::to_string(n.listenPort)
                                     : std::string(kUnixPrefix) + checkValue(n.listenUnixPath);
      out << pad("listen = " + listen + " ")
          << "# where serve binds; peers and clients use address\n";
    }
    out << pad("data = " + checkValue(n.dataDir.empty() ? n.name : n.dataDir))
        << "# relative to this file's folder\n";
    if (n.metricsPort != 0) {
      out << pad("metrics = " + checkValue(n.metricsHost) + ":" + std::to_string(n.metricsPort))
          << "# Prometheus: GET /metrics, /healthz\n";
    }
    if (!n.tlsCert.empty()) out << "tls-cert = " << checkValue(n.tlsCert) << "\n";
    if (!n.tlsKey.empty()) out << "tls-key = " << checkValue(n.tlsKey) << "\n";
  }
}

}  // namespace

std::string ClusterConfig::render() const {
  std::ostringstream out;
  out << "# pcommit cluster file (docs/DESIGN.md §4). Every node reads it at start\n"
         "# (`pcommit serve --config FILE --node ID`), and so do clients.\n"
         "# Node ids: c<N> coordinators, p<N> participants, a<N> acceptors.\n\n";
  out << "[cluster]\n";
  out << pad(std::string("protocol = ") + pc::toString(protocol))
      << "# 2pc | paxos-classic | paxos | paxos-direct | 2pc-replicated\n";
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
  if (netDelayUs != defaults.netDelayUs) {
    out << pad("net-delay-us = " + std::to_string(netDelayUs))
        << "# benchmarks: emulated one-way delay of every message sent\n";
  }
  if (!clusterId.empty()) {
    PC_ASSERT(isClusterId(clusterId), clusterId);
    out << "cluster-id = " << clusterId
        << "  # this cluster's identity: data directories and peers of another are refused\n";
  }
  if (tlsEnabled()) {
    out << pad("tls-ca = " + checkValue(tls.ca)) << "# mutual TLS: the cluster's CA\n";
    out << pad("tls-cert = " + checkValue(tls.cert)) << "# clients' certificate\n";
    out << pad("tls-key = " + checkValue(tls.key)) << "# clients' key\n";
    if (!tls.adminCert.empty()) {
      out << pad("tls-admin-cert = " + checkValue(tls.adminCert) + " ")
          << "# status: an admin (or node) certificate\n";
      out << pad("tls-admin-key = " + checkValue(tls.adminKey) + " ") << "# its key\n";
    }
  }
  renderNodes(out, nodes);
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

}  // namespace pc::runtime
