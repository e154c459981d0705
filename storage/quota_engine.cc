#include "storage/quota_engine.h"

#include <string>

namespace pc::storage {

namespace {
std::string mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + "." +
         std::to_string(((bytes & ((1u << 20) - 1)) * 10) >> 20) + " MiB";
}
}  // namespace

PrepareResult QuotaEngine::prepare(const TxnId& txn, const Bytes& payload) {
  if (!env_.nearlyFull()) return inner_.prepare(txn, payload);
  ++refused_;
  StorageQuota q = env_.quota();
  return {Vote::Aborted, "storage quota: " + mib(q.liveBytes) + " of the " + mib(q.limitBytes) +
                             " map limit in use (refusing new transactions above " +
                             mib(q.quotaBytes) + "); collect garbage or raise map-size-max"};
}

}  // namespace pc::storage
