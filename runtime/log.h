// The node log: one line per event on stderr, as `pcommit serve` and ParticipantNode write it.
#pragma once

#include <string>

namespace pc::runtime {

// The line format: wall-clock time (UTC, ms), node name, message.
void logLine(const std::string& node, const std::string& line);

}  // namespace pc::runtime
