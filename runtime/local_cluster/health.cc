// The status RPC of every node, through pc::Client::status: the one decoder of a node's
// status answer (client/client.cc) serves `cluster status`, start's readiness wait, bench
// and the client API alike.
#include <kj/async-io.h>
#include <kj/timer.h>

#include "runtime/local_cluster/internal.h"

namespace pc::local_cluster::detail {

namespace {

std::string describe(const kj::Exception& e) {
  std::string text = e.getDescription().cStr();
  if (size_t nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text.empty() ? "RPC failed" : text;
}

// A client that only asks for status: led by a coordinator when the cluster has one, so it
// opens no connection but the status calls' own (a cluster without coordinators runs
// paxos-direct, where the client leads and connects to the acceptors up front).
ClientOptions statusClientOptions(const runtime::ClusterConfig& config) {
  ClientOptions o;
  o.mode = config.withRole(runtime::Role::Coordinator).empty() ? ClientMode::Direct
                                                               : ClientMode::Coordinator;
  return o;
}

}  // namespace

std::vector<NodeReport> queryStatus(const runtime::ClusterConfig& config, const Nodes& nodes,
                                    int timeoutMs) {
  std::vector<NodeReport> reports(nodes.size());
  if (nodes.empty()) return reports;
  auto failAll = [&](const std::string& why) {
    for (auto& r : reports) {
      if (!r.answered && r.error.empty()) r.error = why;
    }
  };
  try {
    auto io = kj::setupAsyncIo();
    Client client(io, config, statusClientOptions(config));
    auto calls = kj::heapArrayBuilder<kj::Promise<void>>(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      NodeReport& r = reports[i];
      auto call = client.status(nodes[i]->id)
                      .then(
                          [&r](Client::NodeStatus&& s) {
                            r.answered = true;
                            r.status = std::move(s);
                          },
                          [&r](kj::Exception&& e) { r.error = describe(e); });
      auto late =
          io.provider->getTimer().afterDelay(timeoutMs * kj::MILLISECONDS).then([&r, timeoutMs]() {
            r.error = "no answer within " + std::to_string(timeoutMs) + " ms";
          });
      calls.add(call.exclusiveJoin(kj::mv(late)));
    }
    kj::joinPromises(calls.finish()).wait(io.waitScope);
  } catch (const kj::Exception& e) {
    failAll(describe(e));
  } catch (const runtime::ConfigError& e) {
    failAll(e.what());
  }
  return reports;
}

bool healthy(const NodeReport& r, const runtime::NodeInfo& n, std::string& why) {
  if (!r.answered) {
    why = r.error;
    return false;
  }
  if (r.status.name != n.name) {
    why = "the process on " + n.address() + " answers as '" + r.status.name + "', not " + n.name;
    return false;
  }
  return true;
}

}  // namespace pc::local_cluster::detail
