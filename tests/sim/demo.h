// The narrated demo (`pc_sim --demo`, `./pc demo`): a coordinator dies after its prepares
// went out; Paxos Commit finishes without it, 2PC blocks until it returns.
#pragma once

#include <ostream>

namespace pc::sim {

int runDemo(std::ostream& os);

}  // namespace pc::sim
