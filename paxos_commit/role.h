// The roles a node of the cluster plays (docs/PROTOCOL.md §1): the one Role of the project.
// The cluster file names each node's role; the core's configuration (config.h) lists the
// members of each role, which is what membership checks use (membership.h).
#pragma once

#include <optional>
#include <string_view>

namespace pc {

enum class Role { Coordinator, Participant, Acceptor };
const char* toString(Role r);  // coordinator | participant | acceptor
std::optional<Role> parseRole(std::string_view s);

}  // namespace pc
