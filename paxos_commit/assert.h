// PC_ASSERT: always-on assertion for our own bugs (never for bad input from outside).
// On failure it prints the condition, the location and the values given, then aborts.
#pragma once

#include <sstream>
#include <string>

namespace pc::detail {

[[noreturn]] void assertFailed(const char* cond, const char* file, int line,
                               const std::string& values);

inline void appendValues(std::ostringstream&) {}
template <typename T, typename... Rest>
void appendValues(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << " [" << v << "]";
  appendValues(os, rest...);
}

template <typename... Ts>
std::string formatValues(const Ts&... vs) {
  std::ostringstream os;
  appendValues(os, vs...);
  return os.str();
}

}  // namespace pc::detail

#define PC_ASSERT(cond, ...)                                               \
  do {                                                                     \
    if (!(cond)) [[unlikely]] {                                            \
      ::pc::detail::assertFailed(#cond, __FILE__, __LINE__,                \
                                 ::pc::detail::formatValues(__VA_ARGS__)); \
    }                                                                      \
  } while (false)
