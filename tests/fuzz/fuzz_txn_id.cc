// Fuzz target: TxnId::parse (paxos_commit/types.h), which reads ids typed by operators
// (`pcommit status`, `inspect`). Checks: nothing crashes; an accepted id is non-zero,
// prints as 32 lowercase hex digits that parse back to the same id, and equals the input
// up to letter case.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "paxos_commit/assert.h"
#include "paxos_commit/types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto id = pc::TxnId::parse(text);
  if (!id) return 0;
  PC_ASSERT(!id->isZero(), text);
  const std::string printed = id->toString();
  PC_ASSERT(printed.size() == 32, printed);
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  PC_ASSERT(printed == lower, printed, lower);
  auto again = pc::TxnId::parse(printed);
  PC_ASSERT(again && *again == *id, printed);
  return 0;
}
