// Private to runtime/cluster_config*.cc: what the cluster file's reader and its writer
// share. Not installed.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "paxos_commit/types.h"

namespace pc::runtime::config_detail {

inline constexpr NodeId kParticipantIdBase = 1000;
inline constexpr NodeId kAcceptorIdBase = 2000;

// Boost's config file parser trims exactly these characters.
inline std::string trimWs(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

// Strict unsigned decimal: digits only, no sign, no spaces, no trailing text.
template <typename T>
inline std::optional<T> parseUnsigned(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace pc::runtime::config_detail
