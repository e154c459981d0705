// Protocol-core benchmarks (Google Benchmark; not tests): the CPU a role's pure core spends
// per transaction, without I/O, storage or sockets. Run:
//   build/release/bench/pc_core_bench [--benchmark_filter=...]
//
//   BM_ParticipantPaxosTxn/R   one Paxos Commit transaction at a participant: its
//                              Prepare, the 2b of three acceptors (it learns Commit from
//                              two) and the tick its GC acks leave on, while R finished
//                              records are kept (finishedCap = R; a node keeps 100,000)
//   BM_Participant2pcTxn/R     the same under 2PC: Prepare, the coordinator's Commit, a tick
//   BM_AcceptorPaxosTxn        one Paxos Commit transaction at an acceptor: the three
//                              participants' ballot-0 votes (2a), their GC acks (one
//                              AckBatch each) and a tick
//
// What these measured is in README "Performance" (the cores' share of a node's CPU).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "paxos_commit/acceptor.h"
#include "paxos_commit/kv.h"
#include "paxos_commit/participant.h"

namespace {

using namespace pc;

constexpr NodeId kSelf = 1, kOther1 = 2, kOther2 = 3, kCoordinator = 50;
const std::vector<NodeId> kAcceptors = {101, 102, 103};

CoreConfig paxosConfig() {
  CoreConfig cfg;
  cfg.protocol = Protocol::Paxos;
  cfg.fanOut = FanOut::All;
  cfg.f = 1;
  cfg.acceptors = {kAcceptors.begin(), kAcceptors.end()};
  cfg.coordinators = {kCoordinator};
  cfg.participants = {kSelf, kOther1, kOther2};
  return cfg;
}

// One transaction at participant kSelf: its Prepare, then what decides it -- the 2b of
// the three acceptors (Paxos Commit) or the coordinator's Commit (2PC) -- and a tick.
void participantTxns(benchmark::State& state, Protocol protocol) {
  CoreConfig cfg = paxosConfig();
  cfg.protocol = protocol;
  cfg.finishedCap = static_cast<size_t>(state.range(0));
  kv::KvEngine engine([](const std::string&) { return kv::Versioned{}; });
  Participant p(kSelf, cfg, engine, 7, Recovered{});
  const ParticipantList members = {kSelf, kOther1, kOther2};
  std::vector<Bytes> payloads;
  for (int k = 0; k < 1000; ++k) {
    payloads.push_back(kv::encodeOps({kv::Op{kv::OpKind::Put, "key" + std::to_string(k), "v"}}));
  }
  uint64_t n = 0;
  auto one = [&] {
    const TxnId txn{0x1000, ++n};
    Output o = p.onMessage(
        Envelope{kCoordinator, kSelf, Prepare{txn, payloads[n % 1000], members, kCoordinator}});
    if (protocol == Protocol::TwoPC) {
      o.append(p.onMessage(Envelope{kCoordinator, kSelf, OutcomeMsg{txn, Outcome::Commit}}));
    } else {
      for (NodeId a : kAcceptors) {
        Phase2b b;
        b.txn = txn;
        b.acceptor = a;
        b.participants = members;
        for (NodeId i : members) {
          b.votes.push_back(InstanceVote{i, Ballot::zero(), Vote::Prepared});
        }
        o.append(p.onMessage(Envelope{a, kSelf, std::move(b)}));
      }
    }
    o.append(p.onTick());
    return o;
  };
  // Fill to the cap first: the lookups then run against a full table, as on a busy node.
  for (int64_t i = 0; i < state.range(0); ++i) one();
  for (auto _ : state) benchmark::DoNotOptimize(one());
  if (p.stateOf(TxnId{0x1000, n}) != ParticipantState::Committed) {
    state.SkipWithError("the last transaction did not commit");
  }
  state.counters["records"] = static_cast<double>(p.recordCount());
}
void BM_ParticipantPaxosTxn(benchmark::State& state) { participantTxns(state, Protocol::Paxos); }
void BM_Participant2pcTxn(benchmark::State& state) { participantTxns(state, Protocol::TwoPC); }
BENCHMARK(BM_ParticipantPaxosTxn)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Participant2pcTxn)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_AcceptorPaxosTxn(benchmark::State& state) {
  const CoreConfig cfg = paxosConfig();
  Acceptor a(kAcceptors[0], cfg, Recovered{});
  const ParticipantList members = {kSelf, kOther1, kOther2};
  uint64_t n = 0;
  for (auto _ : state) {
    const TxnId txn{0x1000, ++n};
    Output o;
    for (NodeId p : members) {
      Phase2a v;
      v.txn = txn;
      v.participants = members;
      v.leader = kCoordinator;
      v.votes = {InstanceVote{p, Ballot::zero(), Vote::Prepared}};
      o.append(a.onMessage(Envelope{p, kAcceptors[0], std::move(v)}));
    }
    for (NodeId p : members) {
      AckBatch b;
      b.acks = {Ack{txn, p, Outcome::Commit}};
      o.append(a.onMessage(Envelope{p, kAcceptors[0], std::move(b)}));
    }
    o.append(a.onTick());
    benchmark::DoNotOptimize(o);
  }
  state.counters["live"] = static_cast<double>(a.liveCount());
}
BENCHMARK(BM_AcceptorPaxosTxn)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
