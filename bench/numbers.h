// Small helpers the bench files share: counters, rounding, elapsed time.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>

#include "bench/bench.h"

namespace pc::bench {

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// count / txns, 0 when there were no transactions.
inline double perTxn(uint64_t count, uint64_t txns) {
  return txns == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(txns);
}

// A counter's value, 0 if absent.
inline uint64_t counterValue(const Counters& c, const std::string& name) {
  auto it = c.find(name);
  return it == c.end() ? 0 : it->second;
}

// `v` with `digits` decimals, for tables.
inline std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// `v` rounded to `digits` decimals, as a JSON number (the precision the report means).
inline double rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

}  // namespace pc::bench
