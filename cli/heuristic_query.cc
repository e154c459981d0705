#include "cli/heuristic_query.h"

#include <kj/async-io.h>

#include <random>

#include "rpc/transport.h"
#include "runtime/tls_certs.h"

namespace pc::cli {

std::vector<NodeId> participantsOf(const runtime::ClusterConfig& cluster) {
  std::vector<NodeId> out;
  for (const runtime::NodeInfo* n : cluster.withRole(Role::Participant)) out.push_back(n->id);
  return out;
}

std::vector<ParticipantAnswer> askParticipants(const runtime::ClusterConfig& cluster,
                                               const std::vector<NodeId>& nodes, const TxnId& txn,
                                               std::optional<Outcome> outcome, uint32_t timeoutMs) {
  std::vector<ParticipantAnswer> out;
  if (nodes.empty()) return out;
  auto io = kj::setupAsyncIo();
  rpc::TransportOptions opts;
  // A client id (high bit): participants accept a resolve from a client only.
  opts.self = static_cast<NodeId>(std::random_device{}() | 0x80000000u);
  opts.oneOffTimeoutMs = timeoutMs;
  opts.clusterId = cluster.clusterId;  // a node of another cluster refuses us
  for (NodeId id : nodes) {
    const runtime::NodeInfo* n = cluster.byId(id);
    if (n == nullptr) continue;
    opts.peers[id] = rpc::PeerAddress{n->host, n->port};
    opts.names[id] = n->name;  // TLS: the name the node's certificate must carry
  }
  if (cluster.tlsEnabled()) {
    // As the client library: resolve and its questions go with the admin certificate.
    opts.tls = runtime::loadClientTls(cluster);
    opts.statusTls = runtime::loadAdminTls(cluster);
  }
  rpc::Transport transport(
      io, opts, [](NodeId, Message&&) {}, [](const std::string&) {});
  out.resize(nodes.size());
  auto calls = kj::heapArrayBuilder<kj::Promise<void>>(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    out[i].node = nodes[i];
    out[i].name = runtime::nameForId(nodes[i]);
    ParticipantAnswer* slot = &out[i];
    calls.add(transport.resolve(nodes[i], txn, outcome)
                  .then([slot](HeuristicAnswer a) { slot->answer = std::move(a); },
                        [slot](kj::Exception&& e) { slot->error = e.getDescription().cStr(); }));
  }
  kj::joinPromises(calls.finish()).wait(io.waitScope);
  return out;
}

const char* outcomeWord(std::optional<Outcome> o) {
  if (!o) return "-";
  return *o == Outcome::Commit ? "committed" : "aborted";
}

}  // namespace pc::cli
