// HostMetrics (runtime/host_metrics.h) reads the node's events off what the host already
// handles: a coordinator's decisions with the latency from the first CommitRequest (a retry
// does not restart it), participants' Prepared records, recoveries started and finished,
// with bounded memory. Wrong here means wrong throughput and latency panels.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/host_metrics.h"

#include <doctest/doctest.h>

#include <string>

using namespace pc;
using namespace pc::runtime;

namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TxnId txn(uint64_t n) { return TxnId{n, 7}; }

}  // namespace

TEST_CASE("a coordinator's decision counts once, with latency from the first CommitRequest") {
  double t = 10.0;
  HostMetrics hm("c1", "coordinator", Protocol::Paxos, [&t] { return t; });
  hm.onInbound(CommitRequest{txn(1), {}});
  t = 10.003;
  hm.onInbound(CommitRequest{txn(1), {}});  // the client's retry: latency still from 10.0
  t = 10.004;
  Output out;
  out.learned.push_back(Learned{txn(1), Outcome::Commit});
  out.learned.push_back(Learned{txn(2), Outcome::Abort});  // taken over: no request seen
  hm.onOutput(out);
  std::string m = hm.metrics().scrape();
  CHECK(has(m, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"committed\"} 1"));
  CHECK(has(m, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"aborted\"} 1"));
  CHECK(has(m, "pcommit_commit_latency_seconds_count{protocol=\"paxos\",outcome=\"committed\"} 1"));
  CHECK(has(m,
            "pcommit_commit_latency_seconds_bucket{protocol=\"paxos\",outcome=\"committed\","
            "le=\"0.0025\"} 0"));
  CHECK(has(m,
            "pcommit_commit_latency_seconds_bucket{protocol=\"paxos\",outcome=\"committed\","
            "le=\"0.005\"} 1"));
  CHECK(has(m, "pcommit_commit_latency_seconds_count{protocol=\"paxos\",outcome=\"aborted\"} 0"));
}

TEST_CASE("a participant counts Prepared records, and recoveries it led until they finish") {
  HostMetrics hm("p1", "participant", Protocol::Paxos);
  Output out;
  out.persist.push_back(ParticipantTxnRecord{txn(1), ParticipantState::Prepared, {}, {}, 1, ""});
  out.persist.push_back(ParticipantTxnRecord{txn(2), ParticipantState::Committed, {}, {}, 1, ""});
  out.recoveriesStarted.push_back(RecoveryEvent{txn(3), Ballot{}});
  out.learned.push_back(Learned{txn(4), Outcome::Commit});  // not a recovery of ours
  hm.onOutput(out);
  std::string m = hm.metrics().scrape();
  CHECK(has(m, "pcommit_prepares_total 1"));
  CHECK(has(m, "pcommit_recoveries_started_total 1"));
  CHECK(has(m, "pcommit_recoveries_finished_total 0"));
  Output later;
  later.learned.push_back(Learned{txn(3), Outcome::Abort});
  hm.onOutput(later);
  hm.onOutput(later);  // learned twice: finished once
  m = hm.metrics().scrape();
  CHECK(has(m, "pcommit_recoveries_finished_total 1"));
  CHECK(m.find("pcommit_transactions_total") == std::string::npos);  // not a coordinator
}

TEST_CASE("first-request times are bounded: the oldest are forgotten, still counted") {
  double t = 0;
  HostMetrics hm("c2", "coordinator", Protocol::TwoPC, [&t] { return t; });
  for (uint64_t i = 1; i <= HostMetrics::kMaxTracked + 10; ++i) {
    hm.onInbound(CommitRequest{txn(i), {}});
  }
  t = 1;
  Output out;
  out.learned.push_back(Learned{txn(1), Outcome::Commit});  // forgotten: no latency
  out.learned.push_back(Learned{txn(HostMetrics::kMaxTracked + 10), Outcome::Commit});
  hm.onOutput(out);
  std::string m = hm.metrics().scrape();
  CHECK(has(m, "pcommit_transactions_total{protocol=\"2pc\",outcome=\"committed\"} 2"));
  CHECK(has(m, "pcommit_commit_latency_seconds_count{protocol=\"2pc\",outcome=\"committed\"} 1"));
}

TEST_CASE("the host's collect callback feeds the scrape; no server means no http refusals") {
  HostMetrics hm("a1", "acceptor", Protocol::Paxos);
  hm.setCollect([](NodeSample& s) { s.mapUsedBytes = 8192; });
  std::string m = hm.metrics().scrape();
  CHECK(has(m, "pcommit_lmdb_map_used_bytes 8192"));
  CHECK(has(m, "pcommit_rejected_input_total{reason=\"metrics_http\"} 0"));
  CHECK(hm.server() == nullptr);
}
