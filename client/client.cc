#include "client/client.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <set>

#include "paxos_commit/assert.h"
#include "paxos_commit/hash.h"
#include "paxos_commit/leader.h"
#include "rpc/transport.h"
#include "runtime/tls_certs.h"

namespace pc {

namespace {

uint64_t randomU64() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

// "HOST:PORT" -> host, port; nullopt if malformed. The port is after the last ':'.
std::optional<std::pair<std::string, uint16_t>> splitAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return std::nullopt;
  std::string_view digits = std::string_view(address).substr(colon + 1);
  uint32_t port = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(port));
}

// The mode a client runs in, or ConfigError if the cluster cannot serve it.
ClientMode resolveMode(ClientMode wanted, const runtime::ClusterConfig& cluster) {
  ClientMode m = wanted;
  if (m == ClientMode::Auto) {
    m = cluster.protocol == Protocol::PaxosDirect ? ClientMode::Direct : ClientMode::Coordinator;
  }
  if (m == ClientMode::Direct &&
      (!isPaxos(cluster.protocol) || coordinatorCollectsVotes(cluster.protocol))) {
    throw runtime::ConfigError(
        "client mode direct needs a Paxos protocol (paxos-classic, paxos, paxos-direct); the "
        "cluster runs " +
        std::string(toString(cluster.protocol)) + " (expected mode coordinator)");
  }
  if (m == ClientMode::Coordinator && cluster.withRole(runtime::Role::Coordinator).empty()) {
    throw runtime::ConfigError(
        "client mode coordinator needs a coordinator, the cluster lists none (expected a "
        "c<N> node, or mode direct)");
  }
  return m;
}

}  // namespace

const char* toString(ClientMode m) {
  switch (m) {
    case ClientMode::Auto:
      return "auto";
    case ClientMode::Coordinator:
      return "coordinator";
    case ClientMode::Direct:
      return "direct";
  }
  return "?";
}

std::optional<ClientMode> parseClientMode(std::string_view s) {
  for (ClientMode m : {ClientMode::Auto, ClientMode::Coordinator, ClientMode::Direct}) {
    if (s == toString(m)) return m;
  }
  return std::nullopt;
}

runtime::ClusterConfig clusterFromFile(const std::string& path) {
  return runtime::loadClusterFile(path);
}

runtime::ClusterConfig clusterFromAddresses(const std::vector<std::string>& nodes,
                                            Protocol protocol) {
  runtime::ClusterConfig c;
  c.protocol = protocol;
  std::set<std::string> addresses;
  for (const auto& entry : nodes) {
    auto bad = [&](const std::string& what) {
      return runtime::ConfigError("node list: '" + entry + "': " + what);
    };
    size_t eq = entry.find('=');
    if (eq == std::string::npos) throw bad("expected NAME=HOST:PORT, e.g. p1=127.0.0.1:7200");
    runtime::NodeInfo n;
    n.name = entry.substr(0, eq);
    auto role = runtime::roleForName(n.name);
    auto id = runtime::idForName(n.name);
    if (!role || !id) {
      throw bad("bad node name '" + n.name + "' (expected c<N>, p<N> or a<N> with N in 1.." +
                std::to_string(runtime::kMaxNodeNumber) + ", no leading zero)");
    }
    const std::string address = entry.substr(eq + 1);
    if (address.rfind(runtime::kUnixPrefix, 0) == 0) {
      // unix:PATH, as in a cluster file, relative to the current directory.
      n.unixPath = address.substr(runtime::kUnixPrefix.size());
      if (n.unixPath.empty() || n.unixPath.size() > runtime::kMaxUnixPathBytes ||
          n.unixPath.find('\0') != std::string::npos) {
        throw bad("bad unix:PATH (expected a path of 1.." +
                  std::to_string(runtime::kMaxUnixPathBytes) + " bytes)");
      }
      n.host = address;
    } else {
      auto hostPort = splitAddress(address);
      if (!hostPort) throw bad("bad address (expected HOST:PORT with PORT in 1..65535)");
      n.host = hostPort->first;
      n.port = hostPort->second;
    }
    n.role = *role;
    n.id = *id;
    if (c.byId(n.id) != nullptr) throw bad("node " + n.name + " is listed twice");
    if (!addresses.insert(n.address()).second) {
      throw bad("address " + n.address() + " is already used by another node");
    }
    c.nodes.push_back(std::move(n));
  }
  std::sort(c.nodes.begin(), c.nodes.end(),
            [](const runtime::NodeInfo& a, const runtime::NodeInfo& b) { return a.id < b.id; });
  const size_t acceptors = c.withRole(runtime::Role::Acceptor).size();
  if (acceptors % 2 != 1 || acceptors > 2 * static_cast<size_t>(runtime::kMaxF) + 1) {
    throw runtime::ConfigError("node list: " + std::to_string(acceptors) +
                               " acceptors (expected 2F+1 a<N> nodes, F in 0.." +
                               std::to_string(runtime::kMaxF) + ")");
  }
  c.f = static_cast<int>(acceptors / 2);
  if (c.withRole(runtime::Role::Participant).empty()) {
    throw runtime::ConfigError("node list: no participant (expected at least one p<N> node)");
  }
  return c;
}

struct Client::Impl {
  kj::AsyncIoContext& io;
  const runtime::ClusterConfig& cluster;
  ClientOptions opts;
  ClientMode mode;
  NodeId self;
  CoreConfig coreCfg;
  Rng rng;
  std::unique_ptr<Leader> leader;  // paxos-direct only
  // paxos-direct: acceptors that have taken our attach (our sink), and the commits that
  // wait for F+1 of them, each at most opts.attachWaitMs (ClientOptions::attachWaitMs).
  size_t acceptorsAttached = 0;
  std::map<TxnId, CommitRequest> waitingForAcceptors;
  uint64_t now = 0;
  std::unique_ptr<rpc::Transport> transport;
  std::vector<NodeId> coordinators;
  // Where new commits and queries go first: the preferred coordinator, then whichever
  // answered a commit last (a coordinator that is down costs one retryMs, not one per
  // transaction).
  size_t preferred = 0;
  struct Waiting {
    kj::Own<kj::PromiseFulfiller<CommitResult>> fulfiller;
  };
  std::map<TxnId, Waiting> commits;
  struct Query {
    std::vector<kj::Own<kj::PromiseFulfiller<TxnStatus>>> waiters;
    std::set<NodeId> unknownFrom;  // coordinators that answered "unknown"
  };
  std::map<TxnId, Query> queries;
  struct Errors : kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&&) override {}  // lost connections: retries handle them
  } errors;
  kj::TaskSet tasks;

  Impl(kj::AsyncIoContext& ioc, const runtime::ClusterConfig& c, ClientOptions o, NodeId id)
      : io(ioc),
        cluster(c),
        opts(std::move(o)),
        mode(resolveMode(opts.mode, c)),
        self(id),
        coreCfg(c.coreConfig()),
        rng(randomU64()),
        tasks(errors) {}

  void onMessage(NodeId from, Message&& m) {
    if (auto* r = std::get_if<CommitReply>(&m)) {
      for (size_t i = 0; i < coordinators.size(); ++i) {
        if (coordinators[i] == from) preferred = i;
      }
      finishCommit(r->txn, r->status, r->reason);
    } else if (auto* q = std::get_if<OutcomeReply>(&m)) {
      auto it = queries.find(q->txn);
      if (it == queries.end()) return;
      if (q->status == TxnStatus::Unknown) {
        // This coordinator does not know (in 2PC it may not be the transaction's own):
        // ask the next one now; "unknown" only once every coordinator said so.
        it->second.unknownFrom.insert(from);
        if (it->second.unknownFrom.size() < coordinators.size()) {
          for (NodeId c : coordinators) {
            if (it->second.unknownFrom.count(c) == 0) {
              transport->send(c, OutcomeQuery{q->txn, {}});
              break;
            }
          }
          return;
        }
      }
      for (auto& f : it->second.waiters) f->fulfill(TxnStatus(q->status));
      queries.erase(it);
    } else if (leader) {
      if (auto* b = std::get_if<Phase2b>(&m)) handle(leader->onPhase2b(from, *b, now));
      if (auto* b = std::get_if<Phase1b>(&m)) handle(leader->onPhase1b(from, *b, now));
    }
  }

  bool acceptorsReady() const { return acceptorsAttached >= static_cast<size_t>(coreCfg.f) + 1; }

  void acceptorAttached() {
    ++acceptorsAttached;
    if (!acceptorsReady()) return;
    auto waiting = std::move(waitingForAcceptors);
    waitingForAcceptors.clear();
    for (auto& [txn, req] : waiting) beginDirect(req);
  }

  // A commit that waited for the acceptors' attach its whole attachWaitMs goes anyway.
  void attachWaitOver(const TxnId& txn) {
    auto it = waitingForAcceptors.find(txn);
    if (it == waitingForAcceptors.end()) return;
    CommitRequest req = std::move(it->second);
    waitingForAcceptors.erase(it);
    beginDirect(req);
  }

  // The client's leader takes on `req` (paxos-direct), unless its commit already ended.
  void beginDirect(const CommitRequest& req) {
    if (commits.count(req.txn) == 0) return;
    if (leader->isActive(req.txn)) {
      leader->addWaiter(req.txn, self, true);
    } else {
      handle(leader->begin(req, self, now));
    }
  }

  void finishCommit(const TxnId& txn, TxnStatus status, const std::string& reason) {
    auto it = commits.find(txn);
    if (it == commits.end()) return;
    it->second.fulfiller->fulfill(CommitResult{txn, status, reason});
    commits.erase(it);
  }

  // Output of the client's own leader (paxos-direct). Its LeaderRoundRecords are not
  // persisted: this client's id is new per process, so its ballots are new anyway.
  void handle(Output&& out) {
    for (auto& e : out.send) {
      if (e.to == self) {
        Message m = std::move(e.msg);
        tasks.add(
            kj::evalLater([this, m = std::move(m)]() mutable { onMessage(self, std::move(m)); }));
      } else {
        transport->send(e.to, std::move(e.msg));
      }
    }
  }

  kj::Promise<void> tickLoop() {
    return io.provider->getTimer().afterDelay(cluster.tickMs * kj::MILLISECONDS).then([this]() {
      ++now;
      handle(leader->onTick(now));
      return tickLoop();
    });
  }

  // Attempt k of a commit first sent to coordinators[first].
  void sendRequest(const CommitRequest& req, size_t first, size_t attempt) {
    // 2PC: a transaction belongs to the coordinator that prepared it (participants refuse
    // another), so a retry goes to the same one. Paxos: any coordinator can finish it.
    if (cluster.protocol == Protocol::TwoPC) attempt = 0;
    NodeId c = coordinators[(first + attempt) % coordinators.size()];
    transport->send(c, req);
  }

  // Outcome queries move on to the next coordinator when one does not answer in time.
  kj::Promise<void> queryRetryLoop(TxnId txn, size_t attempt, uint32_t elapsedMs) {
    uint32_t stepMs = std::min<uint32_t>(opts.retryMs, 1000);
    return io.provider->getTimer()
        .afterDelay(stepMs * kj::MILLISECONDS)
        .then([this, txn, attempt, elapsedMs, stepMs]() -> kj::Promise<void> {
          if (queries.count(txn) == 0 || elapsedMs + stepMs >= opts.queryTimeoutMs)
            return kj::READY_NOW;
          NodeId c = coordinators[(preferred + attempt + 1) % coordinators.size()];
          transport->send(c, OutcomeQuery{txn, {}});
          return queryRetryLoop(txn, attempt + 1, elapsedMs + stepMs);
        });
  }

  kj::Promise<void> retryLoop(CommitRequest req, size_t first, size_t attempt, uint32_t elapsedMs) {
    return io.provider->getTimer()
        .afterDelay(opts.retryMs * kj::MILLISECONDS)
        .then(
            [this, req = std::move(req), first, attempt, elapsedMs]() mutable -> kj::Promise<void> {
              if (commits.count(req.txn) == 0) return kj::READY_NOW;
              uint32_t spent = elapsedMs + opts.retryMs;
              if (spent >= opts.timeoutMs) return kj::READY_NOW;
              // No answer: the same id at the next coordinator (safe: idempotent by id).
              sendRequest(req, first, attempt + 1);
              return retryLoop(std::move(req), first, attempt + 1, spent);
            });
  }
};

Client::Client(kj::AsyncIoContext& io, runtime::ClusterConfig cluster, ClientOptions options)
    : cluster_(std::move(cluster)), self_(static_cast<NodeId>(randomU64() | 0x80000000u)) {
  impl_ = std::make_unique<Impl>(io, cluster_, std::move(options), self_);
  rpc::TransportOptions topts;
  topts.self = self_;
  topts.attachSinkOnConnect = true;
  topts.streams = rpc::deliveryStreamsFromEnvironment();  // PCOMMIT_DELIVERY=rpc: calls
  topts.callTimeoutMs = cluster_.callTimeoutMs;  // deadlines on calls, connects, get, status
  topts.netDelayUs = cluster_.netDelayUs;
  topts.clusterId = cluster_.clusterId;  // sent in attach: a foreign node refuses us
  for (const auto& n : cluster_.nodes) {
    topts.peers[n.id] = rpc::PeerAddress{n.host, n.port};
    topts.names[n.id] = n.name;
  }
  if (cluster_.tlsEnabled()) {
    // The cluster file's client certificate, and its admin one for status (rpc/tls.h).
    topts.tls = runtime::loadClientTls(cluster_);
    topts.statusTls = runtime::loadAdminTls(cluster_);
  }
  impl_->transport = std::make_unique<rpc::Transport>(
      io, topts, [this](NodeId from, Message&& m) { impl_->onMessage(from, std::move(m)); },
      nullptr);
  for (const auto* c : cluster_.withRole(runtime::Role::Coordinator)) {
    if (c->name == impl_->opts.coordinator) impl_->preferred = impl_->coordinators.size();
    impl_->coordinators.push_back(c->id);
  }
  if (impl_->mode == ClientMode::Direct) {
    impl_->leader = std::make_unique<Leader>(self_, impl_->coreCfg, impl_->rng, 0);
    // The acceptors send their 2b to us: commits wait until F+1 of them hold our sink.
    for (NodeId a : impl_->coreCfg.acceptors) {
      impl_->transport->keepConnected(a);  // and attach again after an acceptor's restart
      impl_->tasks.add(
          impl_->transport->introduced(a).then([this]() { impl_->acceptorAttached(); }));
    }
    impl_->tasks.add(impl_->tickLoop());
  }
}

Client::~Client() = default;

ClientMode Client::mode() const { return impl_->mode; }

AsyncTransaction Client::begin() { return AsyncTransaction(*this, newTxnId()); }

kj::Promise<CommitResult> AsyncTransaction::commit() { return client_->commit(txn_, ops_); }

TxnId Client::newTxnId() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return TxnId{static_cast<uint64_t>(us), randomU64() | 1};
}

NodeId Client::participantFor(const std::string& key) const {
  auto ps = cluster_.withRole(runtime::Role::Participant);
  PC_ASSERT(!ps.empty());
  return ps[fnv1a64(key) % ps.size()]->id;
}

kj::Promise<CommitResult> Client::commit(TxnId txn,
                                         const std::map<NodeId, std::vector<kv::Op>>& ops) {
  CommitRequest req;
  req.txn = txn;
  for (const auto& [p, list] : ops)
    req.payloads.push_back(ParticipantPayload{p, kv::encodeOps(list)});
  if (req.payloads.empty()) {
    return CommitResult{txn, TxnStatus::Aborted, "empty transaction"};
  }
  auto& impl = *impl_;
  if (impl.commits.count(txn) != 0) {
    return CommitResult{txn, TxnStatus::Unknown, "a commit of this id is already in flight here"};
  }
  auto paf = kj::newPromiseAndFulfiller<CommitResult>();
  impl.commits[txn] = Impl::Waiting{kj::mv(paf.fulfiller)};
  if (impl.leader) {
    if (impl.acceptorsReady()) {
      impl.beginDirect(req);
    } else {
      impl.waitingForAcceptors[txn] = req;
      impl.tasks.add(rpc::afterRealDelay(impl.io.provider->getTimer(), impl.opts.attachWaitMs)
                         .then([&impl, txn]() { impl.attachWaitOver(txn); }));
    }
  } else {
    if (impl.coordinators.empty()) {
      impl.commits.erase(txn);
      return CommitResult{txn, TxnStatus::Unknown, "the cluster file lists no coordinator"};
    }
    const size_t first = impl.preferred;
    impl.sendRequest(req, first, 0);
    if (impl.opts.commitFailover) impl.tasks.add(impl.retryLoop(req, first, 0, 0));
  }
  // On the real clock: after a BlockingClient sat idle, the loop's timer is stale and a
  // delay counted from it could end before the request left (rpc::afterRealDelay).
  auto timeout =
      rpc::afterRealDelay(impl.io.provider->getTimer(), impl.opts.timeoutMs).then([this, txn]() {
        impl_->commits.erase(txn);
        std::string why = "no outcome within " + std::to_string(impl_->opts.timeoutMs) + " ms";
        impl_->waitingForAcceptors.erase(txn);
        if (impl_->leader && !impl_->acceptorsReady()) {
          // Fewer than F+1 acceptors can answer this client: say so.
          why += ": only " + std::to_string(impl_->acceptorsAttached) + " of " +
                 std::to_string(impl_->coreCfg.acceptors.size()) +
                 " acceptors took this client's attach (a decision needs " +
                 std::to_string(impl_->coreCfg.f + 1) + ")";
        }
        if (impl_->transport->metrics().clusterMismatch > 0) {
          // Say why rather than only "retry": the cluster file is not this cluster's.
          why +=
              ": nodes refused this client as one of another cluster (the cluster file's "
              "cluster-id is not theirs; a stale cluster file?)";
        } else {
          why += " (retry with the same id, or ask `outcome`)";
        }
        const std::string& last = impl_->transport->lastFailure();
        if (!last.empty()) why += "; last connection error: " + last;
        return CommitResult{txn, TxnStatus::Unknown, why};
      });
  return paf.promise.exclusiveJoin(kj::mv(timeout));
}

kj::Promise<kv::Versioned> Client::get(const std::string& key, NodeId participant) {
  if (participant == kNoNode) participant = participantFor(key);
  return impl_->transport->get(participant, key);
}

kj::Promise<TxnStatus> Client::outcome(TxnId txn) {
  auto& impl = *impl_;
  if (impl.coordinators.empty()) return TxnStatus::Unknown;
  auto paf = kj::newPromiseAndFulfiller<TxnStatus>();
  impl.queries[txn].waiters.push_back(kj::mv(paf.fulfiller));
  impl.transport->send(impl.coordinators[impl.preferred], OutcomeQuery{txn, {}});
  impl.tasks.add(impl.queryRetryLoop(txn, 0, 0));
  auto timeout = rpc::afterRealDelay(impl.io.provider->getTimer(), impl.opts.queryTimeoutMs)
                     .then([this, txn]() {
                       impl_->queries.erase(txn);
                       return TxnStatus::Unknown;
                     });
  return paf.promise.exclusiveJoin(kj::mv(timeout));
}

kj::Promise<Client::NodeStatus> Client::status(NodeId node) {
  return impl_->transport->status(node).then([](capnp::Response<wire::Node::StatusResults>&& r) {
    auto st = r.getStatus();
    NodeStatus out;
    out.name = st.getName();
    out.role = st.getRole();
    out.pid = st.getPid();
    out.nodeId = st.getNodeId();
    out.protocol = st.getProtocol();
    out.uptimeMs = st.getUptimeMs();
    out.version = st.getVersion();
    for (auto d : st.getInDoubt()) {
      out.inDoubt.push_back(InDoubtTxn{rpc::getTxn(d.getTxn()), d.getAgeMs(), d.getWaitingFor(),
                                       d.getLeader(), d.getRecovering()});
    }
    for (auto c : st.getCounters()) out.counters[c.getName()] = c.getValue();
    return out;
  });
}

std::map<std::string, uint64_t> Client::transportCounters() const {
  const auto& tm = impl_->transport->metrics();
  std::map<std::string, uint64_t> out = {
      {"messages_sent", tm.messagesSent},
      {"messages_received", tm.messagesReceived},
      {"rpc_calls_sent", tm.rpcCallsSent},
      {"rpc_calls_received", tm.rpcCallsReceived},
  };
  // Named as runtime/node_host.cc names them.
  for (size_t k = 0; k < tm.sentByKind.size(); ++k) {
    out[std::string("sent_") + messageKindName(k)] = tm.sentByKind[k];
  }
  return out;
}

// ---- blocking flavour ----

Transaction::Transaction(BlockingClient& c, TxnId txn)
    : TransactionOps(c.async(), txn), client_(&c) {}

CommitResult Transaction::commit() { return client_->commit(txn_, ops_); }

BlockingClient::BlockingClient(const std::string& clusterFile, ClientOptions options)
    : BlockingClient(runtime::loadClusterFile(clusterFile), std::move(options)) {}

BlockingClient::BlockingClient(runtime::ClusterConfig cluster, ClientOptions options)
    : io_(kj::setupAsyncIo()),
      client_(std::make_unique<Client>(io_, std::move(cluster), std::move(options))) {}

BlockingClient::~BlockingClient() { client_.reset(); }

Transaction BlockingClient::begin() { return Transaction(*this, client_->newTxnId()); }

CommitResult BlockingClient::commit(TxnId txn, const std::map<NodeId, std::vector<kv::Op>>& ops) {
  return client_->commit(txn, ops).wait(io_.waitScope);
}

kv::Versioned BlockingClient::get(const std::string& key, NodeId participant) {
  return client_->get(key, participant).wait(io_.waitScope);
}

TxnStatus BlockingClient::outcome(TxnId txn) { return client_->outcome(txn).wait(io_.waitScope); }

Client::NodeStatus BlockingClient::status(NodeId node) {
  return client_->status(node).wait(io_.waitScope);
}

}  // namespace pc
