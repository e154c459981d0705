// Fuzz target: the cluster file parser (runtime/cluster_config.h), which every node and
// CLI command runs on a file an operator wrote. Checks: nothing crashes; a bad file throws
// ConfigError and nothing else; an accepted file renders (render()) to a file that parses
// to the same configuration (render -> parse -> render is stable), and the accessors
// agree with the node list.
#include <cstdint>
#include <string>

#include "paxos_commit/assert.h"
#include "runtime/cluster_config.h"

using pc::runtime::ClusterConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ClusterConfig c;
  try {
    c = pc::runtime::parseClusterText(text, "fuzz.cluster");
  } catch (const pc::runtime::ConfigError&) {
    return 0;
  }
  for (const auto& n : c.nodes) {
    PC_ASSERT(c.byName(n.name) != nullptr && c.byName(n.name)->id == n.id, n.name);
    PC_ASSERT(c.byId(n.id) != nullptr && c.byId(n.id)->name == n.name, n.name);
    PC_ASSERT(pc::runtime::nameForId(n.id) == n.name, n.name);
  }
  size_t grouped = 0;
  for (const auto& g : c.processGroups()) grouped += g.size();
  PC_ASSERT(grouped == c.nodes.size(), grouped, c.nodes.size());
  (void)c.coreConfig();

  const std::string rendered = c.render();
  ClusterConfig again;
  try {
    again = pc::runtime::parseClusterText(rendered, "fuzz.cluster");
  } catch (const pc::runtime::ConfigError& e) {
    PC_ASSERT(false, "rendered file refused", e.what(), rendered);
  }
  PC_ASSERT(again.render() == rendered, again.render(), rendered);
  return 0;
}
