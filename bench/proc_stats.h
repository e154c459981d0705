// Process statistics of a local cluster's nodes for pcommit bench, from /proc: CPU time
// (utime + stime), RSS, and the size of each node's data.mdb. A node counts as local only
// if /proc/PID/cmdline shows its `pcommit serve`: a remote cluster, or a reused pid, is
// left out rather than measured wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "runtime/cluster_config.h"

namespace pc::bench {

// One node's pid and data file, for resource samples.
struct NodeHandle {
  std::string name;
  runtime::Role role = runtime::Role::Acceptor;
  uint32_t pid = 0;
  std::string dataFile;  // DATA/data.mdb
};

struct MachineTicks {
  uint64_t total = 0;
  uint64_t steal = 0;
};
// Parses the aggregate `cpu ` line of /proc/stat text (user nice system idle iowait irq
// softirq steal ...; guest time is inside user already, so it is not added). nullopt if
// the line is missing or has fewer than eight numbers.
std::optional<MachineTicks> parseProcStat(const std::string& text);

// CPU readings at one end of a measured phase.
struct CpuReading {
  std::vector<std::optional<uint64_t>> nodeTicks;  // per handle
  double clientUs = 0;
  // The machine's `cpu` line of /proc/stat: every state's ticks summed, and steal's (time
  // the hypervisor ran something else while a vCPU wanted to run). nullopt: not readable.
  std::optional<MachineTicks> machine;
};

CpuReading readCpu(const std::vector<NodeHandle>& nodes);
// CPU per committed transaction between two readings (CpuUse in bench.h).
CpuUse cpuUse(const std::vector<NodeHandle>& nodes, const CpuReading& start, const CpuReading& end,
              uint64_t committed);
// Every node's RSS and data.mdb size now.
ResourceSample sampleOf(const std::vector<NodeHandle>& nodes, const std::string& when,
                        double atSeconds);

}  // namespace pc::bench
