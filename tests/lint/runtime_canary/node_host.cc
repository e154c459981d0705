// Planted violation for lint_runtime_roleless_canary: the lint must reject this file.
#include "paxos_commit/participant.h"
