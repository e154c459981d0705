// Fuzz target: the built-in KV engine's payload decoder, kv::decodeOps (paxos_commit/kv.h),
// which every participant runs on a client's payload. Checks: nothing crashes or leaks;
// an accepted payload respects the documented limits; decode -> encode gives back the
// same bytes (one encoding per op list, so what a participant stores is what it checked).
#include <cstdint>
#include <string>

#include "paxos_commit/assert.h"
#include "paxos_commit/kv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const pc::Bytes payload(reinterpret_cast<const char*>(data), size);
  auto ops = pc::kv::decodeOps(payload);
  if (!ops) return 0;
  PC_ASSERT(ops->size() <= pc::kv::kMaxOps, ops->size());
  for (const auto& op : *ops) {
    PC_ASSERT(!op.key.empty() && op.key.size() <= pc::kv::kMaxKeyBytes, op.key.size());
    PC_ASSERT(op.value.size() <= pc::kv::kMaxValueBytes, op.value.size());
  }
  const pc::Bytes again = pc::kv::encodeOps(*ops);
  PC_ASSERT(again == payload, "decode -> encode changed the bytes", again.size(), payload.size());
  return 0;
}
