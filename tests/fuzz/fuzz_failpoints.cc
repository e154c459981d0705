// Fuzz target: the failpoint spec parser (runtime/failpoints.h), which reads
// PCOMMIT_FAILPOINTS at every node's start. Checks: nothing crashes; a bad spec throws
// FailpointError and nothing else; an accepted spec's describe() is itself a valid spec
// that arms the same points (describe -> parse -> describe is stable). Never hit()s a
// point: the actions crash, hang or sleep by design.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "paxos_commit/assert.h"
#include "runtime/failpoints.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  std::optional<pc::runtime::Failpoints> fp;
  try {
    fp.emplace(spec);
  } catch (const pc::runtime::FailpointError&) {
    return 0;
  }
  const std::string described = fp->describe();
  pc::runtime::Failpoints again(described);  // must not throw: we wrote it
  PC_ASSERT(again.describe() == described, again.describe(), described);
  for (auto name : pc::runtime::Failpoints::knownNames()) {
    PC_ASSERT(fp->hits(name) == 0, name);
    PC_ASSERT(again.armed(name) == fp->armed(name), name, described);
  }
  return 0;
}
