// CoordinatorHost: the coordinator role of a node (runtime/role_host.h): a Paxos Commit
// coordinator (its leader, paxos_commit/coordinator.h) or a 2PC coordinator, by the
// cluster's protocol.
//
// Failpoints (docs/DESIGN.md §4): coordinator.after_decision_persisted once a decision record
// (not yet done) is durable, before the reply it justifies leaves;
// coordinator.after_prepare_sent once every participant of a transaction has received its
// Prepare; coordinator.before_reply as a client's reply leaves.
#pragma once

#include <map>
#include <memory>

#include "runtime/role_host.h"

namespace pc {

class CoordinatorHost : public runtime::RoleHost {
 public:
  CoordinatorHost();
  ~CoordinatorHost() override;
  Node& start(const runtime::RoleContext& ctx, const Recovered& rec) override;
  void onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) override;
  std::function<void()> onSend(const Envelope& e) override;

 private:
  runtime::Failpoints* fp_ = nullptr;
  bool replicated_ = false;  // 2pc-replicated: coordinator.after_decision_chosen
  std::unique_ptr<Node> core_;
  std::map<TxnId, size_t> preparesInFlight_;  // coordinator.after_prepare_sent
};

}  // namespace pc
