// Planted for lint_layout_canary_initlist: the one Role enum is here, as in the real tree.
#pragma once
enum class Role { Coordinator, Participant, Acceptor };
