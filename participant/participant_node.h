// pc::ParticipantNode: runs the participant role of a pcommit cluster for any storage
// engine that implements pc::ResourceManager (resource_manager.h states its contract).
//
// The node is one participant of a cluster file (runtime/cluster_config.h): it listens on
// that node's address, speaks the cluster's protocol (2PC or Paxos Commit) with the
// coordinators and acceptors, and keeps the protocol's own records (votes, outcomes; LMDB,
// synced) in its data directory. The engine keeps the data. The node calls the engine on
// its event-loop thread only.
//
//   MyEngine engine(...);                         // a pc::ResourceManager
//   pc::ParticipantNodeOptions o;
//   o.clusterFile = "/tmp/pc1/cluster.conf";
//   o.node = "p3";
//   pc::ParticipantNode node(engine, o);         // opens the data directory
//   node.start();                                 // own thread (or run(io) on your KJ loop)
//   ...
//   node.stop();
//
// Errors: the constructor and start()/run() throw ParticipantNodeError with a message that
// names the file, option, directory or transaction at fault (bad cluster file, a node that
// is not a participant, a data directory in use or corrupted, an engine that lost prepared
// state). Failures of the protocol's own storage (fsync, disk full) stop the process, as in
// `pcommit serve`; the records on disk make the next start continue where it stopped.
// Failpoints (PCOMMIT_FAILPOINTS, see README) work as in `pcommit serve`.
#pragma once

#include <kj/async-io.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "participant/resource_manager.h"
#include "runtime/cluster_config.h"

namespace pc {

class ParticipantNodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ParticipantNodeOptions {
  // The cluster: read from clusterFile, unless `cluster` is given.
  std::string clusterFile;
  std::optional<runtime::ClusterConfig> cluster;
  // This node's name in the cluster (p1, p2, ...); its role must be participant.
  std::string node;
  // Where the protocol's records live (created if missing; must hold nothing but them).
  // Empty: the node's `data` directory from the cluster file. The engine's own files may
  // go in a subdirectory of it once the node is constructed, or anywhere else.
  std::string dataDir;
  // The protocol's records were lost (as `pcommit serve --rejoin-empty`, README "Cluster
  // identity"): a fresh data directory records a rejoin mark, the current wall-clock
  // transaction id, and answers "forgotten" for every transaction at or below it. Ignored
  // when the directory holds data. The directory is bound to the cluster file's cluster-id
  // and this node at its first open; another cluster's or node's directory is refused.
  // Unlike `serve`, an empty directory is initialised without being told (the engine's
  // own reconciliation at start is this API's guard; see resource_manager.h).
  bool rejoinEmpty = false;
  // Failpoint spec "name=action;..." (runtime/failpoints.h); nullopt: PCOMMIT_FAILPOINTS.
  std::optional<std::string> failpoints;
  // Where the node's group commits go (README "Storage", "The record log"): one synced
  // append to a record log of this many bytes in dataDir (4 KiB to 1 GiB), its records
  // going into the LMDB tables at checkpoints and at the next open after a crash; 0: one
  // synced LMDB commit each. nullopt: PCOMMIT_RECORD_LOG (on, 256 KiB, unless set to off
  // or a size), as `pcommit serve` does. A bad PCOMMIT_RECORD_LOG is refused here.
  std::optional<size_t> recordLogBytes;
  // One line per event (start, ready, reconcile, recovery, peer lost...); called on the
  // node's thread. Empty: lines go to stderr, prefixed with the UTC time and node name.
  std::function<void(const std::string&)> log;
};

class ParticipantNode {
 public:
  // Reads the cluster, checks the node, opens the data directory (LMDB and the record log,
  // replayed if a crash left records in it; a pid lock: one process at a time). `rm` must outlive
  // the node; it is first called by start()/run().
  ParticipantNode(ResourceManager& rm, ParticipantNodeOptions options);
  // Stops the node's thread if start() ran.
  ~ParticipantNode();
  ParticipantNode(const ParticipantNode&) = delete;
  ParticipantNode& operator=(const ParticipantNode&) = delete;

  // On the caller's KJ event loop: reconciles the engine with the node's records (may
  // throw ParticipantNodeError), listens, and serves until the promise is dropped (drop it
  // before the node and before `io`). The promise fails if the engine's commit()/abort()
  // throws. Call at most once. The node's own records are written on this loop, one synced
  // write (a record-log append, or an LMDB commit: recordLogBytes) at the end of a turn
  // that produced any (the loop waits for the disk then); set
  // PCOMMIT_STORAGE_WRITES=thread in the environment to write them on a thread instead.
  kj::Promise<void> run(kj::AsyncIoContext& io);

  // On a thread of its own: returns once the node serves (or throws ParticipantNodeError
  // if it cannot start). stop() ends it (idempotent; not from the node's own thread).
  void start();
  void stop();
  // Whether the thread still serves; false after stop() or when the node failed.
  bool running() const;
  // Why the node's thread ended on its own ("" while running or after a clean stop).
  std::string failure() const;

  // The node's address (host:port) and name, from the cluster file.
  std::string address() const;
  const std::string& name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pc
