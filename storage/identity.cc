#include "storage/identity.h"

namespace pc::storage {

namespace {
std::string nodeText(const Identity& id) {
  return id.nodeName + " (id " + std::to_string(id.node) + ")";
}
std::string clusterText(const std::string& clusterId) {
  return clusterId.empty() ? std::string("(none)") : clusterId;
}
}  // namespace

std::optional<std::string> identityMismatch(const std::string& dir, const Identity& stored,
                                            const Identity& want) {
  std::string why;
  if (!stored.clusterId.empty() && stored.clusterId != want.clusterId) {
    why = "belongs to cluster " + stored.clusterId + ", not to cluster " +
          clusterText(want.clusterId) + " of the cluster file";
    if (want.clusterId.empty()) {
      why += " (a file without cluster-id; if it is that cluster, add 'cluster-id = " +
             stored.clusterId + "' to its [cluster] section)";
    }
  }
  if (stored.node != want.node) {
    why += std::string(why.empty() ? "belongs to " : ", and to ") + "node " + nodeText(stored) +
           ", not to node " + nodeText(want);
  }
  if (why.empty()) return std::nullopt;
  return "data directory " + dir + " " + why +
         ": refusing to start on another cluster's or node's data (a stale cluster file, or "
         "swapped data directories?)";
}

}  // namespace pc::storage
