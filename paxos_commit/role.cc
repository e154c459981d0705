#include "paxos_commit/role.h"

namespace pc {

const char* toString(Role r) {
  switch (r) {
    case Role::Coordinator:
      return "coordinator";
    case Role::Participant:
      return "participant";
    case Role::Acceptor:
      return "acceptor";
  }
  return "?";
}

std::optional<Role> parseRole(std::string_view s) {
  for (Role r : {Role::Coordinator, Role::Participant, Role::Acceptor}) {
    if (s == toString(r)) return r;
  }
  return std::nullopt;
}

}  // namespace pc
