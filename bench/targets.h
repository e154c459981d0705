// Issue 15's targets as JSON (bench/targets.cc; printTargets in bench.h prints them).
#pragma once

#include <vector>

#include "bench/bench.h"
#include "json/json.h"

namespace pc::bench {

// The verdicts printTargets prints, one object each: {"participants", "clients",
// "net_delay_us", "target", "met", "ratio" (null for an order target),
// "paced_floor_ratio" (null where not measured)}; over rounds the ratios are the medians
// and "rounds" lists each round's {"round", "met", "ratio"}.
json::Value targetsJson(const std::vector<RunResult>& runs);

}  // namespace pc::bench
