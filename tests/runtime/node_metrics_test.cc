// NodeMetrics (runtime/node_metrics.h): each role shows its metrics from the start, events
// and scrape-time samples land in the right series, and the whole output passes promtool.
// Dashboards and the e2e checks read exactly these names; a rename or a missing series
// would leave an operator with empty panels.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/node_metrics.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include "paxos_commit/messages.h"
#include "tests/runtime/promtool_util.h"

using namespace pc;
using namespace pc::runtime;

namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("a coordinator shows transactions and latency per outcome, at zero from the start") {
  NodeMetrics m("c1", "coordinator", Protocol::Paxos);
  std::string t = m.scrape();
  CHECK(has(t, "pcommit_node_info{node=\"c1\",role=\"coordinator\",protocol=\"paxos\"} 1"));
  CHECK(has(t, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"committed\"} 0"));
  CHECK(has(t, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"aborted\"} 0"));
  CHECK(has(t, "pcommit_commit_latency_seconds_count{protocol=\"paxos\",outcome=\"committed\"} 0"));
  CHECK(t.find("pcommit_in_doubt_transactions") == std::string::npos);  // participants only
  CHECK(t.find("pcommit_prepares_total") == std::string::npos);

  m.onLearned(Outcome::Commit, 0.002);
  m.onLearned(Outcome::Commit, std::nullopt);  // decided here without its CommitRequest
  m.onLearned(Outcome::Abort, 0.3);
  t = m.scrape();
  CHECK(has(t, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"committed\"} 2"));
  CHECK(has(t, "pcommit_transactions_total{protocol=\"paxos\",outcome=\"aborted\"} 1"));
  CHECK(has(t, "pcommit_commit_latency_seconds_count{protocol=\"paxos\",outcome=\"committed\"} 1"));
  CHECK(has(t,
            "pcommit_commit_latency_seconds_bucket{protocol=\"paxos\",outcome=\"committed\","
            "le=\"0.0025\"} 1"));
  CHECK(has(t,
            "pcommit_commit_latency_seconds_bucket{protocol=\"paxos\",outcome=\"aborted\","
            "le=\"0.25\"} 0"));
  CHECK(has(t, "pcommit_commit_latency_seconds_sum{protocol=\"paxos\",outcome=\"aborted\"} 0.3"));
}

TEST_CASE("a participant shows prepares and its in-doubt gauges; outcomes are not its to count") {
  NodeMetrics m("p2", "participant", Protocol::TwoPC);
  m.setCollect([](NodeSample& s) {
    s.inDoubt = 3;
    s.oldestInDoubtAgeSeconds = 1.25;
  });
  m.onPrepared();
  m.onPrepared();
  m.onLearned(Outcome::Commit, 0.001);  // a participant's recovery leader: not counted
  std::string t = m.scrape();
  CHECK(has(t, "pcommit_prepares_total 2"));
  CHECK(has(t, "pcommit_in_doubt_transactions 3"));
  CHECK(has(t, "pcommit_in_doubt_oldest_age_seconds 1.25"));
  CHECK(t.find("pcommit_transactions_total") == std::string::npos);
}

TEST_CASE("an acceptor has neither coordinator nor participant metrics, but all the common ones") {
  NodeMetrics m("a1", "acceptor", Protocol::Paxos);
  std::string t = m.scrape();
  CHECK(t.find("pcommit_transactions_total") == std::string::npos);
  CHECK(t.find("pcommit_in_doubt") == std::string::npos);
  for (const char* name : {"pcommit_messages_sent_total", "pcommit_messages_received_total",
                           "pcommit_rejected_input_total", "pcommit_synced_commits_total",
                           "pcommit_synced_commit_duration_seconds", "pcommit_lmdb_map_used_bytes",
                           "pcommit_lmdb_map_size_bytes", "pcommit_storage_queue_bytes",
                           "pcommit_recoveries_started_total", "pcommit_recoveries_finished_total",
                           "pcommit_peers_connected", "pcommit_connection_events_total",
                           "pcommit_record_log_events_total",
                           "pcommit_process_resident_memory_bytes", "pcommit_process_open_fds"}) {
    CAPTURE(name);
    CHECK(t.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
}

TEST_CASE("the scrape-time sample lands in its series; mirrored counters never go down") {
  NodeMetrics m("p1", "participant", Protocol::Paxos);
  NodeSample sample;
  sample.sentByKind.assign(std::variant_size_v<Message>, 0);
  sample.receivedByKind.assign(std::variant_size_v<Message>, 0);
  sample.sentByKind[std::variant_size_v<Message> - 1] = 5;
  sample.receivedByKind[0] = 9;
  sample.rejectedAtEdge = 4;
  sample.rejectedByCore = 2;
  sample.rejectedHttp = 1;
  sample.droppedQueueFull = 6;
  sample.connects = 3;
  sample.peersConnected = 2;
  sample.syncedCommits = 10;
  sample.recordLogAppends = 8;
  sample.recordLogCheckpoints = 2;
  sample.recordLogCheckpointWaits = 1;
  sample.storageQueueBytes = 512;
  sample.outboxMessages = 7;
  sample.mapUsedBytes = 40960;
  sample.mapSizeBytes = 16777216;
  m.setCollect([&](NodeSample& s) { s = sample; });
  std::string t = m.scrape();
  const std::string last = messageKindName(std::variant_size_v<Message> - 1);
  CHECK(has(t, "pcommit_messages_sent_total{kind=\"" + last + "\"} 5"));
  CHECK(has(t,
            "pcommit_messages_received_total{kind=\"" + std::string(messageKindName(0)) + "\"} 9"));
  CHECK(has(t, "pcommit_rejected_input_total{reason=\"invalid_message\"} 4"));
  CHECK(has(t, "pcommit_rejected_input_total{reason=\"protocol\"} 2"));
  CHECK(has(t, "pcommit_rejected_input_total{reason=\"metrics_http\"} 1"));
  CHECK(has(t, "pcommit_messages_dropped_total{reason=\"queue_full\"} 6"));
  CHECK(has(t, "pcommit_connection_events_total{event=\"opened\"} 3"));
  CHECK(has(t, "pcommit_peers_connected 2"));
  CHECK(has(t, "pcommit_synced_commits_total 10"));
  CHECK(has(t, "pcommit_record_log_events_total{event=\"append\"} 8"));
  CHECK(has(t, "pcommit_record_log_events_total{event=\"checkpoint\"} 2"));
  CHECK(has(t, "pcommit_record_log_events_total{event=\"checkpoint_wait\"} 1"));
  CHECK(has(t, "pcommit_storage_queue_bytes 512"));
  CHECK(has(t, "pcommit_outbox_messages 7"));
  CHECK(has(t, "pcommit_lmdb_map_used_bytes 40960"));
  CHECK(has(t, "pcommit_lmdb_map_size_bytes 16777216"));
  CHECK(has(t, "pcommit_in_doubt_transactions 0"));
  sample.syncedCommits = 3;  // never expected; a counter must not reset on it
  sample.storageQueueBytes = 0;
  t = m.scrape();
  CHECK(has(t, "pcommit_synced_commits_total 10"));
  CHECK(has(t, "pcommit_storage_queue_bytes 0"));
}

TEST_CASE("events: synced commits, recoveries; the process's RSS and fds are read") {
  NodeMetrics m("a2", "acceptor", Protocol::Paxos);
  m.onSyncedCommit(0.004);
  m.onRecoveryStarted();
  m.onRecoveryStarted();
  m.onRecoveryFinished();
  std::string t = m.scrape();
  CHECK(has(t, "pcommit_synced_commit_duration_seconds_bucket{le=\"0.005\"} 1"));
  CHECK(has(t, "pcommit_synced_commit_duration_seconds_bucket{le=\"0.0025\"} 0"));
  CHECK(has(t, "pcommit_recoveries_started_total 2"));
  CHECK(has(t, "pcommit_recoveries_finished_total 1"));
  auto rss = processResidentBytes();
  auto fds = processOpenFds();
  REQUIRE(rss.has_value());
  REQUIRE(fds.has_value());
  CHECK(*rss > 1024 * 1024);  // a test binary holds more than a MiB
  CHECK(*fds >= 3);           // stdin, stdout, stderr at least
  CHECK(t.find("pcommit_process_resident_memory_bytes 0\n") == std::string::npos);
}

TEST_CASE("promtool accepts every role's output (skipped when promtool is not installed)") {
  for (const char* role : {"coordinator", "participant", "acceptor"}) {
    CAPTURE(role);
    NodeMetrics m("x1", role, Protocol::PaxosClassic);
    m.onLearned(Outcome::Commit, 0.01);
    m.onPrepared();
    m.onSyncedCommit(0.001);
    auto checked = pc::test::promtoolCheck(m.scrape());
    if (!checked) {
      MESSAGE("promtool not installed (Debian package prometheus): skipped");
      return;
    }
    INFO("promtool said: " << checked->output);
    CHECK(checked->exitCode == 0);
    CHECK(checked->output.empty());
  }
}

namespace {

std::string readSourceFile(const std::string& relative) {
  std::ifstream in(std::string(PC_SOURCE_DIR) + "/" + relative);
  REQUIRE_MESSAGE(in.good(), relative);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every family name any role exports (from the # TYPE lines).
std::set<std::string> allFamilies() {
  std::set<std::string> names;
  for (const char* role : {"coordinator", "participant", "acceptor"}) {
    NodeMetrics m("x1", role, Protocol::Paxos);
    std::istringstream in(m.scrape());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# TYPE ", 0) == 0) names.insert(line.substr(7, line.find(' ', 7) - 7));
    }
  }
  return names;
}

}  // namespace

TEST_CASE("the README lists every metric, and the dashboard queries only metrics that exist") {
  // If this fails, the docs or the dashboard drifted from runtime/node_metrics.cc.
  const std::set<std::string> families = allFamilies();
  REQUIRE(families.size() >= 20);
  const std::string readme = readSourceFile("README.md");
  for (const auto& name : families) {
    CAPTURE(name);
    CHECK(readme.find("| `" + name + "` |") != std::string::npos);
  }
  const std::string dashboard = readSourceFile("docs/grafana-dashboard.json");
  std::regex metric("pcommit_[a-z_]+");
  size_t used = 0;
  for (auto it = std::sregex_iterator(dashboard.begin(), dashboard.end(), metric);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix) && !families.count(name)) {
        name.resize(name.size() - std::string(suffix).size());
      }
    }
    CAPTURE(name);
    CHECK(families.count(name) == 1);
    ++used;
  }
  CHECK(used >= 10);
}
