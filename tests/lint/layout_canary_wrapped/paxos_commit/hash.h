// Planted for lint_layout_canary_wrapped: the one FNV-1a, as in the real tree.
#pragma once
inline constexpr unsigned long long kFnvPrime = 1099511628211ULL;
