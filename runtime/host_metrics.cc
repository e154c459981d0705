#include "runtime/host_metrics.h"

#include <chrono>

namespace pc::runtime {

namespace {

double steadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Inserts into a bounded ordered container: past `cap`, the smallest (oldest) id goes.
template <class C, class V>
void insertBounded(C& c, V&& v, size_t cap) {
  c.insert(std::forward<V>(v));
  while (c.size() > cap) c.erase(c.begin());
}

}  // namespace

HostMetrics::HostMetrics(const std::string& node, const std::string& role, Protocol protocol,
                         ClockFn clock)
    : metrics_(node, role, protocol),
      clock_(clock ? std::move(clock) : ClockFn(steadySeconds)),
      coordinator_(role == "coordinator") {}

HostMetrics::~HostMetrics() = default;

void HostMetrics::onInbound(const Message& msg) {
  if (!coordinator_) return;
  // Latency runs from the first request: a client's retry of the same id does not restart it.
  if (const auto* r = std::get_if<CommitRequest>(&msg); r && !firstRequest_.count(r->txn)) {
    insertBounded(firstRequest_, std::make_pair(r->txn, now()), kMaxTracked);
  }
}

void HostMetrics::onOutput(const Output& out) {
  for (const auto& r : out.persist) {
    const auto* p = std::get_if<ParticipantTxnRecord>(&r);
    if (p != nullptr && p->state == ParticipantState::Prepared) metrics_.onPrepared();
  }
  for (const auto& ev : out.recoveriesStarted) {
    metrics_.onRecoveryStarted();
    insertBounded(recovering_, ev.txn, kMaxTracked);
  }
  for (const auto& l : out.learned) {
    if (recovering_.erase(l.txn) != 0) metrics_.onRecoveryFinished();
    if (!coordinator_) continue;
    std::optional<double> latency;
    if (auto it = firstRequest_.find(l.txn); it != firstRequest_.end()) {
      latency = std::max(0.0, now() - it->second);
      firstRequest_.erase(it);
    }
    metrics_.onLearned(l.outcome, latency);
  }
}

void HostMetrics::setCollect(NodeMetrics::CollectFn fn) {
  metrics_.setCollect([this, fn = std::move(fn)](NodeSample& s) {
    if (fn) fn(s);
    if (server_) s.rejectedHttp = server_->rejectedConnections() + server_->oversizedRequests();
  });
}

kj::Promise<void> HostMetrics::serve(kj::AsyncIoContext& io, const std::string& host, uint16_t port,
                                     MetricsServer::LogFn log) {
  server_ = std::make_unique<MetricsServer>(
      io, [this]() { return metrics_.scrape(); }, std::move(log));
  return server_->listen(host, port);
}

}  // namespace pc::runtime
