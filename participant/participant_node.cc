#include "participant/participant_node.h"

#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "participant/participant_host.h"
#include "participant/rm_engine.h"
#include "runtime/failpoints.h"
#include "runtime/node_host.h"
#include "storage/env.h"
#include "storage/record_log.h"

namespace pc {

namespace {

uint64_t randomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

struct ParticipantNode::Impl {
  Impl(ResourceManager& r, ParticipantNodeOptions&& o) : rm(r), options(std::move(o)) {}

  ResourceManager& rm;
  ParticipantNodeOptions options;
  runtime::ClusterConfig cluster;
  runtime::NodeInfo me;
  runtime::Failpoints failpoints;
  std::function<void(const std::string&)> log;
  std::unique_ptr<storage::Env> env;
  std::unique_ptr<RmEngine> engine;
  bool ran = false;

  // start()/stop(): the node's own thread.
  std::thread thread;
  std::atomic<bool> running{false};
  mutable std::mutex mu;
  kj::Own<const kj::Executor> executor;               // the node thread's loop (mu)
  kj::Own<kj::PromiseFulfiller<void>> stopFulfiller;  // node thread only
  std::string failure;                                // mu
};

ParticipantNode::ParticipantNode(ResourceManager& rm, ParticipantNodeOptions options)
    : impl_(std::make_unique<Impl>(rm, std::move(options))) {
  Impl& m = *impl_;
  try {
    m.cluster =
        m.options.cluster ? *m.options.cluster : runtime::loadClusterFile(m.options.clusterFile);
    m.failpoints = m.options.failpoints ? runtime::Failpoints(*m.options.failpoints)
                                        : runtime::Failpoints::fromEnvironment();
  } catch (const std::exception& e) {
    throw ParticipantNodeError(e.what());
  }
  const runtime::NodeInfo* me = m.cluster.byName(m.options.node);
  const std::string where = m.cluster.path.empty() ? "the cluster" : m.cluster.path;
  if (me == nullptr) {
    throw ParticipantNodeError("node '" + m.options.node + "': no such node in " + where);
  }
  if (me->role != runtime::Role::Participant) {
    throw ParticipantNodeError("node '" + m.options.node + "' has role " +
                               runtime::toString(me->role) + " in " + where +
                               ", not a participant");
  }
  m.me = *me;
  const std::string name = m.me.name;
  m.log = m.options.log ? m.options.log
                        : [name](const std::string& line) { runtime::logLine(name, line); };
  const std::string dir = m.options.dataDir.empty() ? m.cluster.dataDirOf(m.me) : m.options.dataDir;
  try {
    storage::Options so;
    so.createDir = true;
    so.kvData = false;  // the engine holds the data; LMDB only the protocol's records
    so.mapSizeMax = static_cast<size_t>(m.cluster.mapSizeMax);  // the cluster file's limit
    so.mapSizeStart = std::min(so.mapSizeStart, so.mapSizeMax);
    so.identity = storage::Identity{m.cluster.clusterId, m.me.id, m.me.name};
    // The engine's data is not in the tables, so nothing reads them while the node runs:
    // the log needs no overlay here (participant_host.h keeps the built-in engine's).
    so.recordLogBytes =
        m.options.recordLogBytes ? *m.options.recordLogBytes : runtime::recordLogBytes();
    if (so.recordLogBytes != 0 && !storage::recordLogSizeAccepted(so.recordLogBytes)) {
      throw ParticipantNodeError("recordLogBytes " + std::to_string(so.recordLogBytes) +
                                 ": expected 0 (no log) or 4096 (4 KiB) to 1073741824 (1 GiB)");
    }
    if (m.options.rejoinEmpty) {
      // Client transaction ids begin with the client's wall clock in µs (client/client.cc).
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      so.rejoinMark = TxnId{static_cast<uint64_t>(us.count()), ~uint64_t{0}};
    }
    m.env = std::make_unique<storage::Env>(dir, so);
  } catch (const std::exception& e) {
    throw ParticipantNodeError(e.what());
  }
  m.engine = std::make_unique<RmEngine>(m.rm, m.log);
}

ParticipantNode::~ParticipantNode() { stop(); }

kj::Promise<void> ParticipantNode::run(kj::AsyncIoContext& io) {
  Impl& m = *impl_;
  if (m.ran) throw ParticipantNodeError("ParticipantNode: run() or start() called twice");
  m.ran = true;
  try {
    auto host = std::make_unique<runtime::NodeHost>(
        io, m.cluster, m.me, *m.env, m.failpoints, randomSeed(), m.log,
        std::make_unique<ParticipantHost>(m.engine.get()));
    // The host lives as long as the promise: it is tied to the caller's event loop.
    auto serving = host->run();
    return serving.attach(std::move(host));
  } catch (const ParticipantNodeError&) {
    throw;
  } catch (const kj::Exception& e) {
    throw ParticipantNodeError(m.me.name + ": cannot start: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    throw ParticipantNodeError(m.me.name + ": cannot start: " + e.what());
  }
}

void ParticipantNode::start() {
  Impl& m = *impl_;
  if (m.ran) throw ParticipantNodeError("ParticipantNode: run() or start() called twice");
  std::promise<std::string> ready;
  auto started = ready.get_future();
  m.thread = std::thread([this, &ready]() {
    Impl& n = *impl_;
    bool told = false;
    std::string failure;
    try {
      auto io = kj::setupAsyncIo();
      auto stopper = kj::newPromiseAndFulfiller<void>();
      n.stopFulfiller = kj::mv(stopper.fulfiller);
      {
        std::lock_guard<std::mutex> g(n.mu);
        n.executor = kj::getCurrentThreadExecutor().addRef();
      }
      kj::Promise<void> serving = run(io);
      n.running = true;
      ready.set_value("");
      told = true;
      serving.exclusiveJoin(kj::mv(stopper.promise)).wait(io.waitScope);
    } catch (const kj::Exception& e) {
      failure = e.getDescription().cStr();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    n.running = false;
    if (!told) {
      ready.set_value(failure.empty() ? "the node thread ended" : failure);
    } else if (!failure.empty()) {
      n.log("stopped: " + failure);
    }
    std::lock_guard<std::mutex> g(n.mu);
    n.failure = failure;
  });
  std::string error = started.get();
  if (!error.empty()) {
    m.thread.join();
    throw ParticipantNodeError(error);
  }
}

void ParticipantNode::stop() {
  Impl& m = *impl_;
  if (!m.thread.joinable()) return;
  kj::Own<const kj::Executor> executor;
  {
    std::lock_guard<std::mutex> g(m.mu);
    if (m.executor.get() != nullptr) executor = m.executor->addRef();
  }
  if (executor.get() != nullptr && executor->isLive()) {
    try {
      executor->executeSync([&m]() {
        if (m.stopFulfiller.get() != nullptr) m.stopFulfiller->fulfill();
      });
    } catch (const kj::Exception&) {
      // The loop exited meanwhile (the node failed): nothing left to stop.
    }
  }
  m.thread.join();
  std::lock_guard<std::mutex> g(m.mu);
  m.executor = nullptr;
}

bool ParticipantNode::running() const { return impl_->running; }

std::string ParticipantNode::failure() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->failure;
}

std::string ParticipantNode::address() const { return impl_->me.address(); }
const std::string& ParticipantNode::name() const { return impl_->me.name; }

}  // namespace pc
