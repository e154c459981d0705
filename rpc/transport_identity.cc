// Cluster identity on the wire (issue 12; README "Cluster identity"): what `attach`
// carries and how a node tells a caller of another cluster. The NodeImpl methods in
// transport.cc refuse every call on a connection whose attach named another cluster.
#include <algorithm>
#include <string>

#include "rpc/transport.h"

namespace pc::rpc {

namespace {
// The cluster file's 32 hex digits as the 16 bytes attach carries (empty stays empty).
std::string clusterIdBytes(const std::string& hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}
std::string hexOf(capnp::Data::Reader d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < d.size() && i < 64; ++i) {
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}
}  // namespace

void Transport::setClusterId(wire::Node::AttachParams::Builder req) const {
  std::string id = clusterIdBytes(opts_.clusterId);
  req.setClusterId(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(id.data()), id.size()));
}

void Transport::setClusterId(wire::StreamFrame::Builder frame) const {
  std::string id = clusterIdBytes(opts_.clusterId);
  frame.setClusterId(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(id.data()), id.size()));
}

bool Transport::refusedAsForeign(NodeId peer, const std::string& why) {
  if (why.find("another cluster") == std::string::npos) return false;
  metrics_.clusterMismatch++;
  if (log_ && mismatchLogged_.size() < kMaxLoggedSenders && mismatchLogged_.insert(peer).second) {
    log_("peer " + std::to_string(peer) + " is of another cluster (not " + opts_.clusterId +
         "): it refuses our messages (logged once per peer)");
  }
  return true;
}

bool Transport::foreignCluster(NodeId from, capnp::Data::Reader theirs) {
  // No id on either side: nothing to compare (a cluster file from before cluster-id).
  if (opts_.clusterId.empty() || theirs.size() == 0) return false;
  std::string ours = clusterIdBytes(opts_.clusterId);
  if (theirs.size() == ours.size() &&
      std::equal(theirs.begin(), theirs.end(), ours.begin(),
                 [](kj::byte a, char b) { return a == static_cast<kj::byte>(b); })) {
    return false;
  }
  metrics_.clusterMismatch++;
  if (log_ && mismatchLogged_.size() < kMaxLoggedSenders && mismatchLogged_.insert(from).second) {
    log_("refused a connection of another cluster: caller " + std::to_string(from) +
         " names cluster " + hexOf(theirs) + ", this is cluster " + opts_.clusterId +
         " (a stale node or cluster file?; counted in cluster_mismatch, logged once per caller)");
  }
  return true;
}

}  // namespace pc::rpc
