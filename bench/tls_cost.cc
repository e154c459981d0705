// bench --tls (bench.h): what a connection costs, and the TLS runs beside their plaintext
// twins.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <ostream>
#include <random>

#include "bench/bench.h"
#include "rpc/transport.h"
#include "runtime/tls_certs.h"

namespace pc::bench {

namespace {

double p50(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// `calls` status calls to `node` through a client transport (pool on or off), timed.
double timeStatusCalls(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster, NodeId node,
                       bool pool, int calls) {
  rpc::TransportOptions o;
  o.self = static_cast<NodeId>(std::random_device{}() | 0x80000000u);
  o.callTimeoutMs = cluster.callTimeoutMs;
  for (const auto& n : cluster.nodes) {
    o.peers[n.id] = rpc::PeerAddress{n.host, n.port};
    o.names[n.id] = n.name;
  }
  if (cluster.tlsEnabled()) o.tls = runtime::loadAdminTls(cluster);  // status: admin
  o.poolOneOff = pool;
  rpc::Transport t(
      io, o, [](NodeId, Message&&) {}, nullptr);
  t.status(node).wait(io.waitScope);  // warm: the pool's connection, OpenSSL's tables
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    auto start = std::chrono::steady_clock::now();
    t.status(node).wait(io.waitScope);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  return p50(std::move(us));
}

}  // namespace

ConnectCost measureConnectCost(kj::AsyncIoContext& io, const runtime::ClusterConfig& cluster,
                               int calls) {
  ConnectCost c;
  auto ps = cluster.withRole(runtime::Role::Participant);
  if (ps.empty()) return c;
  c.newConnectionUs = timeStatusCalls(io, cluster, ps.front()->id, false, calls);
  c.pooledUs = timeStatusCalls(io, cluster, ps.front()->id, true, calls);
  return c;
}

void printTlsCost(std::ostream& out, const std::vector<RunResult>& runs) {
  out << "\nTLS cost (each TLS run beside the same run in plaintext; status p50 over 50 calls "
         "to p1: on a new connection = connect + handshake + call, pooled = the kept TLS "
         "connection get and status use):\n";
  for (const auto& r : runs) {
    if (!r.tls) continue;
    const std::string plain = r.protocol.substr(0, r.protocol.size() - 4);  // minus "+tls"
    auto twin = std::find_if(runs.begin(), runs.end(), [&](const RunResult& p) {
      return !p.tls && p.protocol == plain && p.participants == r.participants &&
             p.clients == r.clients && p.round == r.round;
    });
    out << "  " << plain << " N=" << r.participants << " C=" << r.clients << roundTag(r.round)
        << ": ";
    if (twin == runs.end()) {
      out << "no plaintext run to compare\n";
      continue;
    }
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    out << std::fixed << std::setprecision(2) << "throughput "
        << ratio(r.throughputTps, twin->throughputTps) << "x (" << static_cast<int>(r.throughputTps)
        << " vs " << static_cast<int>(twin->throughputTps) << " txn/s), p50 " << r.latencyUs.p50
        << " vs " << twin->latencyUs.p50 << " us";
    if (r.cpu.measured && twin->cpu.measured) {
      out << ", node cpu/txn " << ratio(r.cpu.nodesUsPerTxn, twin->cpu.nodesUsPerTxn)
          << "x, client cpu/txn " << ratio(r.cpu.clientUsPerTxn, twin->cpu.clientUsPerTxn) << "x";
    }
    out << std::setprecision(0) << "; status on a new connection " << r.newConnectionCallUs
        << " us (plaintext " << twin->newConnectionCallUs << " us), pooled " << r.pooledCallUs
        << " us\n"
        << std::defaultfloat;
  }
}

}  // namespace pc::bench
