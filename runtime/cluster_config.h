// The cluster file (docs/DESIGN.md §4): every node, its role and address, the protocol mode,
// F and timing. INI style, read with Boost.Program_options:
//
//   # written by `pcommit cluster start`
//   [cluster]
//   protocol = paxos            # 2pc | paxos-classic | paxos | paxos-direct
//   f = 1                       # acceptors must number 2f+1
//   fanout = all                # all | quorum
//   tick-ms = 5                 # one logical tick of the core
//   recovery-timeout-ms = 1000  # prepared with no outcome -> recovery (Paxos) / ask (2PC)
//   leader-timeout-ms = 1500
//   colocate = all              # none (default) | acceptors | all: roles sharing a process
//   map-size-max = 64GiB        # LMDB map limit per node (default 64GiB, at least 1MiB)
//   max-connections = 1024      # inbound connections per node; more are closed at once
//   idle-timeout-ms = 10000     # an inbound connection with no call by then is closed
//   call-timeout-ms = 5000      # an outbound call (or connect) unanswered by then fails
//   net-delay-us = 0            # benchmarks: emulated one-way delay of every message
//   cluster-id = 3f0c...        # 32 hex digits, random, written by `cluster start`
//   tls-ca = tls/ca.pem         # mutual TLS (rpc/tls.h): the cluster's CA; TLS on iff set
//   tls-cert = tls/client.pem   # the clients' certificate and key (txn, get, bench, library)
//   tls-key = tls/client.key
//   tls-admin-cert = tls/admin.pem  # optional: what `status` shows (else tls-cert)
//   tls-admin-key = tls/admin.key
//
//   [node.c1]
//   role = coordinator
//   address = 127.0.0.1:7100
//   data = c1                   # data directory, relative to the cluster file's folder
//   metrics = 127.0.0.1:9100    # optional: Prometheus GET /metrics and /healthz (HTTP)
//   listen = 0.0.0.0:7100       # optional: where `serve` binds when it differs from the
//                               # address peers and clients use (containers, NAT)
//   # address = unix:c1.sock    # or a Unix domain socket (same host only; listen too):
//                               # PATH absolute or relative to the cluster file's folder,
//                               # at most 107 bytes once resolved (docs/notes/unix.md)
//   tls-cert = tls/c1.pem       # with tls-ca: the node's certificate and key (serve needs
//   tls-key = tls/c1.key        # them; a client machine's copy of the file may lack them)
//
//   [node.p1]
//   role = participant
//   ...
//
// Node names are c<N> (coordinator), p<N> (participant), a<N> (acceptor), N >= 1. Their
// protocol ids: c<N> = N, p<N> = 1000 + N, a<N> = 2000 + N (stable, so logs and records
// read the same everywhere). Client ids have the high bit set.
//
// colocate says which nodes `pcommit cluster start` (and bench) run in one process
// (`pcommit serve --node p1 --node a1 ...`; processGroups() below): the deployment of Gray
// & Lamport's cost table, where a message between roles on one node costs no network hop.
// TLS paths may be relative to the cluster file's folder. Half a configuration is refused
// when the file is read: any tls-* key without tls-ca, tls-ca without tls-cert and
// tls-key, a cert without its key (or the reverse), in [cluster] and in every node. Whether
// the files can be read and used is checked when they are loaded (runtime/tls_certs.h).
//
// It changes nothing else: every node keeps its own address, data directory and records,
// and clients reach it the same way. Any `pcommit serve` may host any set of nodes; the
// key only tells the cluster commands how to group them.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "paxos_commit/config.h"
#include "paxos_commit/role.h"

namespace pc::runtime {

using pc::parseRole;
using pc::Role;  // paxos_commit/role.h
using pc::toString;

// Bounds the cluster file checks (bad values are refused, never clamped).
inline constexpr int kMaxF = 15;              // at most 31 acceptors
inline constexpr int kMaxNodeNumber = 999;    // c999, p999, a999
inline constexpr uint32_t kMaxTickMs = 1000;  // one tick at most a second
inline constexpr uint32_t kMaxTimeoutMs = 3600 * 1000;
inline constexpr uint32_t kMaxGcCap = 100000000;
// map-size-max: each node's LMDB map limit (storage::Options::mapSizeMax). Default 64 GiB
// (storage::kDefaultMapSizeMax); participants refuse new transactions once 90% is in use.
inline constexpr uint64_t kDefaultMapSizeMax = uint64_t{64} << 30;
inline constexpr uint64_t kMinMapSizeMax = uint64_t{1} << 20;
inline constexpr uint64_t kMaxMapSizeMax = uint64_t{16} << 40;
inline constexpr uint32_t kMaxConnections = 1000000;
inline constexpr uint32_t kMaxNetDelayUs = 1000000;  // net-delay-us: at most a second
inline constexpr uint32_t kMinEdgeTimeoutMs = 10;    // idle-timeout-ms, call-timeout-ms
// address or listen = unix:PATH: PATH, once resolved against the cluster file's folder,
// must fit sockaddr_un's sun_path (108 bytes with its terminating NUL).
inline constexpr size_t kMaxUnixPathBytes = 107;
inline constexpr std::string_view kUnixPrefix = "unix:";

// Which roles share a process (see colocate above).
enum class Colocate {
  None,       // one process per node
  Acceptors,  // a<i> in p<i>'s process
  All,        // a<i> and c<i> in p<i>'s process (c1 with p1 and a1: the paper's first
              // leader on an acceptor's node)
};
const char* toString(Colocate c);  // none | acceptors | all
std::optional<Colocate> parseColocate(std::string_view s);

struct NodeInfo {
  std::string name;  // c1, p2, a3
  NodeId id = kNoNode;
  Role role = Role::Acceptor;
  std::string host;  // 127.0.0.1
  uint16_t port = 0;
  std::string dataDir;  // absolute, or relative to the cluster file's folder as written
  // The node's metrics endpoint (`metrics = HOST:PORT`); metricsPort 0: none. No two
  // endpoints -- node addresses and metrics addresses -- of one file are the same.
  std::string metricsHost;
  uint16_t metricsPort = 0;
  // Where `pcommit serve` binds (`listen = HOST:PORT` or unix:PATH); listenHost empty: the
  // address itself.
  // `address` stays what every other node and client connects to (the advertised one); the
  // listen address is only this node's own business, so it need not be unique in the file
  // (nodes on different hosts may all bind 0.0.0.0:7100).
  std::string listenHost;
  uint16_t listenPort = 0;
  // With TLS (ClusterConfig::tlsEnabled): the node's certificate and key, as written; both
  // or neither.
  std::string tlsCert;
  std::string tlsKey;
  // `address = unix:PATH` (a Unix domain socket, peers on this host only): host is
  // "unix:" + PATH resolved against the cluster file's folder (what connect and bind get),
  // port is 0, and unixPath is PATH as written (what render writes back). Empty: TCP. The
  // `listen` key likewise (listenHost "unix:...", listenPort 0, listenUnixPath).
  std::string unixPath;
  std::string listenUnixPath;
  bool isUnix() const { return !unixPath.empty(); }
  bool hasListen() const { return !listenHost.empty(); }
  std::string address() const { return port == 0 ? host : host + ":" + std::to_string(port); }
  std::string listenAddress() const {
    if (!hasListen()) return address();
    return listenPort == 0 ? listenHost : listenHost + ":" + std::to_string(listenPort);
  }
  std::string metricsAddress() const { return metricsHost + ":" + std::to_string(metricsPort); }
};

struct ClusterConfig {
  std::string path;  // the file it was read from (empty if built in memory)
  Protocol protocol = Protocol::Paxos;
  int f = 1;
  FanOut fanOut = FanOut::All;
  uint32_t tickMs = 5;
  uint32_t recoveryTimeoutMs = 1000;
  uint32_t leaderTimeoutMs = 1500;
  // Collected transactions each node remembers (acceptor tombstones, finished participant
  // records, 2PC done decisions, coordinators' outcome caches) before a low-water mark of
  // transaction ids replaces the oldest: what bounds storage and memory under load.
  uint32_t gcCap = 100000;
  Colocate colocate = Colocate::None;
  uint64_t mapSizeMax = kDefaultMapSizeMax;  // map-size-max, bytes
  // The transport's edge (rpc/transport.h): a cap on inbound connections, the idle
  // timeout of inbound connections that never make a call, the deadline of outbound calls.
  uint32_t maxConnections = 1024;
  uint32_t idleTimeoutMs = 10000;
  uint32_t callTimeoutMs = 5000;
  // Benchmarks only (`pcommit bench --net-delay-us`): every node and client of this
  // cluster delays each message it sends over the network by this many microseconds
  // (rpc/delay_line.h), a link with that one-way latency. 0: none.
  uint32_t netDelayUs = 0;
  // cluster-id: 32 lowercase hex digits naming this cluster (`cluster start` draws it from
  // getrandom). Every node stores it in its data directory at first start and refuses a
  // directory of another cluster; peers and clients send it on connect (docs/DESIGN.md §4).
  // Empty: a file without the key (no identity check; `serve` warns).
  std::string clusterId;
  // Mutual TLS (the tls-* keys above), paths as written. Off (all empty) by default.
  struct TlsPaths {
    std::string ca, cert, key;        // CA; the clients' certificate and key
    std::string adminCert, adminKey;  // optional: status calls (else cert, key)
  };
  TlsPaths tls;
  bool tlsEnabled() const { return !tls.ca.empty(); }
  std::vector<NodeInfo> nodes;  // sorted by id

  const NodeInfo* byName(const std::string& name) const;
  const NodeInfo* byId(NodeId id) const;
  std::vector<const NodeInfo*> withRole(Role r) const;
  // The nodes that run in one process each, by `colocate`: a group is a participant p<i>
  // followed by a<i> (acceptors, all) and c<i> (all) where those nodes exist, matched by
  // number; every other node is a group of its own. Every node is in exactly one group.
  // Groups are in the order of their first node's id (coordinators alone first, then the
  // participants' groups, then acceptors alone), so the first node of a group names the
  // process (its log, in `cluster start`).
  std::vector<std::vector<const NodeInfo*>> processGroups() const;
  // The core's configuration (ticks derived from the millisecond settings).
  CoreConfig coreConfig() const;
  // The data directory of a node, resolved against the cluster file's folder.
  std::string dataDirOf(const NodeInfo& n) const;
  // The folder of the cluster file ("." when path has none or is empty).
  std::string dir() const;
  // A path of the file (tls-*), resolved against that folder as dataDirOf does.
  std::string resolvePath(const std::string& p) const;
  // Renders the file (cluster start writes it; reading it back gives the same config).
  std::string render() const;
};

// A bad cluster file or option: what() names the file, the line or option, and the fix.
// The CLI prints it and exits 64.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses and validates: known keys only, every node has role and address, names match
// roles, unique names and addresses, ports in range, 2f+1 acceptors, at least one
// participant, a coordinator unless protocol is paxos-direct (and for 2pc). Throws
// ConfigError.
ClusterConfig loadClusterFile(const std::string& path);
ClusterConfig parseClusterText(const std::string& text, const std::string& pathForMessages);

// "1048576", "512MiB", "64GiB" (units KiB, MiB, GiB, TiB; no spaces) -> bytes; nullopt if
// malformed or overflowing. renderByteSize writes the largest exact unit.
std::optional<uint64_t> parseByteSize(std::string_view text);
std::string renderByteSize(uint64_t bytes);

// A fresh cluster id: 16 bytes from getrandom(2) as 32 lowercase hex digits. Throws
// std::runtime_error if the kernel's CSPRNG fails.
std::string newClusterId();
// Whether `text` is a cluster id as the cluster file holds it (32 lowercase hex digits).
bool isClusterId(std::string_view text);

// Node name <-> id (c3 <-> 3, p2 <-> 1002, a1 <-> 2001); nullopt if malformed.
std::optional<NodeId> idForName(const std::string& name);
std::optional<Role> roleForName(const std::string& name);
std::string nameForId(NodeId id);
using pc::isClientId;  // paxos_commit/types.h

}  // namespace pc::runtime
