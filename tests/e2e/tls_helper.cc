// The e2e TLS test's tool (tests/e2e/tls.sh): does with the cluster file's own client
// certificate what a client must not do, and writes a cluster file of another CA.
//
//   tls_helper forbidden CLUSTER_FILE NODE
//       connects to NODE with the file's client certificate (tls-cert/tls-key), attaches
//       as a client, then tries, each on its own call: deliver a Phase2b (a node message)
//       from the attached id, deliver as acceptor a1's id, attach as another client id,
//       and status. Prints one line per attempt ("phase2b: refused: ..."). Exit 0 if every
//       one was refused (and the attach as ourselves was accepted), 1 otherwise.
//   tls_helper foreign CLUSTER_FILE OUT_DIR
//       writes OUT_DIR/cluster.conf: the same nodes, certificates of a new CA under
//       OUT_DIR/tls/ (a client of another cluster that knows the addresses).
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "rpc/convert.h"
#include "rpc/pcommit.capnp.h"
#include "runtime/cluster_config.h"
#include "runtime/tls_certs.h"

namespace {

using namespace pc;

struct NullSink : public wire::Peer::Server {
  kj::Promise<void> deliver(DeliverContext) override { return kj::READY_NOW; }
};

// Runs `call`; prints "NAME: refused: why" or "NAME: accepted". True if refused.
template <class P>
bool refused(kj::WaitScope& ws, const char* name, P&& promise) {
  try {
    promise.wait(ws);
    std::cout << name << ": accepted\n";
    return false;
  } catch (const kj::Exception& e) {
    std::cout << name << ": refused: " << e.getDescription().cStr() << "\n";
    return true;
  }
}

int forbidden(const std::string& file, const std::string& nodeName) {
  auto cluster = runtime::loadClusterFile(file);
  const runtime::NodeInfo* node = cluster.byName(nodeName);
  if (!node || !cluster.tlsEnabled()) {
    std::cerr << "tls_helper: no node " << nodeName << " or no TLS in " << file << "\n";
    return 2;
  }
  auto tls = runtime::loadClientTls(cluster);
  auto io = kj::setupAsyncIo();
  auto addr = io.provider->getNetwork().parseAddress(node->host, node->port).wait(io.waitScope);
  auto stream = tls->wrapClient(addr->connect().wait(io.waitScope), node->name).wait(io.waitScope);
  capnp::TwoPartyClient client(*stream);
  auto cap = client.bootstrap().castAs<wire::Node>();
  const NodeId me = 0x80000000u | 4242;
  bool ok = true;
  {
    auto req = cap.attachRequest();
    req.setFrom(me);
    req.setSink(kj::heap<NullSink>());
    if (refused(io.waitScope, "attach as ourselves", req.send())) ok = false;
  }
  auto deliver = [&](NodeId from) {
    auto req = cap.deliverRequest();
    req.setFrom(from);
    Phase2b m;
    m.txn = TxnId{1, 2};
    m.acceptor = 2001;
    m.participants = {1001};
    m.votes = {InstanceVote{1001, Ballot::zero(), Vote::Prepared}};
    rpc::toWire(Message{m}, req.initMessages(1)[0]);
    return req.send();
  };
  ok &= refused(io.waitScope, "phase2b", deliver(me));
  ok &= refused(io.waitScope, "deliver as a1", deliver(2001));
  {
    auto req = cap.attachRequest();
    req.setFrom(me + 1);
    req.setSink(kj::heap<NullSink>());
    ok &= refused(io.waitScope, "attach as another client", req.send());
  }
  ok &= refused(io.waitScope, "status", cap.statusRequest().send());
  return ok ? 0 : 1;
}

int foreign(const std::string& file, const std::string& outDir) {
  auto cluster = runtime::loadClusterFile(file);
  std::filesystem::create_directories(outDir);
  cluster.path = (std::filesystem::path(outDir) / "cluster.conf").string();
  runtime::createClusterCerts(cluster, (std::filesystem::path(outDir) / "tls").string());
  std::ofstream(cluster.path) << cluster.render();
  std::cout << cluster.path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "forbidden") return forbidden(argv[2], argv[3]);
    if (argc == 4 && std::string(argv[1]) == "foreign") return foreign(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "tls_helper: " << e.what() << "\n";
    return 2;
  } catch (const kj::Exception& e) {
    std::cerr << "tls_helper: " << e.getDescription().cStr() << "\n";
    return 2;
  }
  std::cerr << "usage: tls_helper forbidden CLUSTER_FILE NODE | foreign CLUSTER_FILE OUT_DIR\n";
  return 64;
}
