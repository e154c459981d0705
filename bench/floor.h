// The physical floor of a commit on this machine, measured in the same run as the load
// (docs/DESIGN.md §6): what a protocol cannot go below, whatever its code does.
//
//   synced write   the write a node makes for a group commit, in `dir` (the disk the nodes'
//                  data is on): by default one synced append of one participant record
//                  (payloadBytes) to a fresh record log of the nodes' capacity
//                  (storage/record_log.h: one pwrite and one fdatasync into a file written
//                  ahead); with recordLogBytes 0 (the nodes run with PCOMMIT_RECORD_LOG=off)
//                  one put and a synced mdb_txn_commit on a fresh LMDB environment, the
//                  flags pcommit uses (sync on; no MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC);
//   round trip     one Cap'n Proto call and its return between two threads, each on its own
//                  KJ event loop, over a real TCP connection on 127.0.0.1 (the request
//                  carries payloadBytes, as a prepare does) -- or, with unixSocket, over
//                  a Unix domain socket, the transport of a `--transport unix` cluster.
//
//   concurrent     the synced write again, with K stores (K = the participants per
//                  transaction; separate directories in `dir`, one thread each, started
//                  together) committing at once, as N participants prepare at once on a
//                  shared disk: the p50 over all their commits. Not part of the floor.
//   paced          the synced write again, one every G microseconds (a sleep between
//                  commits), G = the mode's predicted one-client round: a node of a
//                  one-client run syncs about that often, and a disk that idled between
//                  syncs may answer more slowly than one kept busy. Not part of the floor;
//                  measured by measurePacedSyncedWrite, for --net-delay-us runs.
//
// Each is reported as the median (and p90) of many back-to-back samples. A mode's floor
// is then 2 synced writes (every mode has two synced-write delays: participant prepare,
// then the decision -- coordinator Commit or acceptor votes) plus its message delays x
// one-way delay (half the round trip): 2pc 4, paxos-classic 5, paxos 5 (the client hears
// at 5; participants learn at 4), paxos-direct 3 (docs/PROTOCOL.md §7). What this leaves out:
// the cores' CPU per message, batching waits, and queueing under load -- the latency above
// the floor is exactly that overhead.
#pragma once

#include <kj/async-io.h>

#include <string>

#include "bench/bench.h"

namespace pc::bench {

struct FloorOptions {
  std::string dir;            // a directory on the nodes' disk; a temp dir is made inside
  size_t payloadBytes = 100;  // carried by each ping
  double secondsEach =
      0.5;  // time spent on each of the two measurements (at least 20 and 200 samples)
  int samplesMax = 5000;  // and at most this many samples each
  // The concurrent synced write: this many writers (< 2: not measured, the single figure
  // stands for it), about concurrentSamples commits in all (at least 20 per writer).
  int concurrentWriters = 1;
  int concurrentSamples = 300;
  bool unixSocket = false;  // the round trip over a Unix socket in `dir`, not TCP
  // The synced write: an append to a record log of this capacity (the nodes' own,
  // runtime::recordLogBytes()); 0: an LMDB commit, as nodes with PCOMMIT_RECORD_LOG=off.
  size_t recordLogBytes = 0;
};

// Throws std::runtime_error naming the step that failed (log, LMDB, socket).
FloorSummary measureFloor(kj::AsyncIoContext& io, const FloorOptions& options);

// The paced synced write into `floor` (pacedGapUs, syncedWritePacedUs and its p90): a
// commit every gapUs (clamped to 1..100,000), `samples` of them (at least 20) after the
// warm-up, or fewer if options.secondsEach runs out first. Throws like measureFloor.
void measurePacedSyncedWrite(const FloorOptions& options, double gapUs, int samples,
                             FloorSummary& floor);

}  // namespace pc::bench
