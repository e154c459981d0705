// AcceptorHost: the acceptor role of a node (runtime/role_host.h; paxos_commit/acceptor.h).
//
// Failpoints (docs/DESIGN.md §4): acceptor.before_persist before a write that holds an acceptor
// record; acceptor.after_persist_before_reply once it is durable, before the 1b/2b it
// justifies leaves.
#pragma once

#include <memory>

#include "runtime/role_host.h"

namespace pc {

class AcceptorHost : public runtime::RoleHost {
 public:
  AcceptorHost();
  ~AcceptorHost() override;
  Node& start(const runtime::RoleContext& ctx, const Recovered& rec) override;
  void onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) override;

 private:
  runtime::Failpoints* fp_ = nullptr;
  std::unique_ptr<Node> core_;
};

}  // namespace pc
