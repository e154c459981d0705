// verify(): every record of a data directory checked, every problem listed (`pcommit
// inspect --verify`). Where Env::load() stops at the first bad record (the node must not
// start on it), verify goes on and reports them all, so an operator sees the extent of the
// damage before deciding what to do. It reads only (open the Env read-only: safe while the
// node runs) and repairs nothing.
//
// Checked: every value of every database decodes (codec.h); every record passes the checks
// by meaning of validate.h (Prepared payloads decode as KV ops unless the Env was opened
// with kvData off, for an external engine); keys are well-formed for their database
// (16-byte transaction keys, the known low-water and leader keys, kv slot keys that match
// their value); the KV data's values are within kv::kMaxValueBytes; every lock belongs to a
// Prepared participant record whose payload names the locked key; and the cross-record
// checks of checkImage().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/env.h"

namespace pc::storage {

struct VerifyProblem {
  std::string database;
  std::string key;  // as error messages show keys (a txn as 32 hex digits)
  std::string reason;
};

struct VerifyReport {
  uint64_t entries = 0;  // entries checked, all databases together
  std::vector<VerifyProblem> problems;
  bool clean() const { return problems.empty(); }
};

// Throws StorageError only for what stops reading altogether (an LMDB error).
VerifyReport verify(const Env& env);

}  // namespace pc::storage
