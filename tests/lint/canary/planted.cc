// A planted violation: the purity lint must reject this file (lint_core_purity_canary).
#include <chrono>
#include <unordered_map>
