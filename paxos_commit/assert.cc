#include "paxos_commit/assert.h"

#include <cstdio>
#include <cstdlib>

namespace pc::detail {

void assertFailed(const char* cond, const char* file, int line, const std::string& values) {
  std::fprintf(stderr, "PC_ASSERT failed: %s at %s:%d%s\n", cond, file, line, values.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace pc::detail
