// FNV-1a 64 (Fowler-Noll-Vo), the one definition for the whole project: the storage
// codec's long-key suffix (an on-disk format), the client's key routing (which participant
// owns a key) and the simulator's trace hash all use it, so it must never change.
// Not a cryptographic hash: nothing may rely on it against an adversary.
#pragma once

#include <cstdint>
#include <string_view>

namespace pc {

inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ULL;
inline constexpr uint64_t kFnv1a64Prime = 1099511628211ULL;

// Continues hash `h` over `s` (start from kFnv1a64Offset).
constexpr uint64_t fnv1a64(uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= kFnv1a64Prime;
  }
  return h;
}
constexpr uint64_t fnv1a64(std::string_view s) { return fnv1a64(kFnv1a64Offset, s); }

// The published test vectors: a change to the function breaks the build, not the disk.
static_assert(fnv1a64("") == 0xcbf29ce484222325ULL);
static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
static_assert(fnv1a64("foobar") == 0x85944171f73967e8ULL);

}  // namespace pc
