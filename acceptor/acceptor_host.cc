#include "acceptor/acceptor_host.h"

#include "paxos_commit/acceptor.h"

namespace pc {

AcceptorHost::AcceptorHost() = default;
AcceptorHost::~AcceptorHost() = default;

Node& AcceptorHost::start(const runtime::RoleContext& ctx, const Recovered& rec) {
  fp_ = &ctx.failpoints;
  core_ = std::make_unique<Acceptor>(ctx.me.id, ctx.core, rec);
  return *core_;
}

void AcceptorHost::onPersist(const std::vector<Record>& records, Seq tag, Pipeline& pipeline) {
  for (const auto& r : records) {
    if (std::holds_alternative<AcceptorTxnRecord>(r)) fp_->hit("acceptor.before_persist");
  }
  for (const auto& r : records) {
    if (std::holds_alternative<AcceptorTxnRecord>(r)) {
      pipeline.atDurable(tag, [this] { fp_->hit("acceptor.after_persist_before_reply"); });
    }
  }
}

}  // namespace pc
