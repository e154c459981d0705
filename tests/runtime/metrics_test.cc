// The metrics registry (runtime/metrics.h) renders the Prometheus text format 0.0.4
// exactly: HELP/TYPE lines, counters, gauges, cumulative histogram buckets with +Inf equal
// to _count, escaped label values and help, deterministic order. A scraper (or promtool)
// would reject or misread the output if any of this broke.
#define DOCTEST_CONFIG_DOUBLE_STRINGIFY
#include "runtime/metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace pc::runtime;

TEST_CASE("a counter and a gauge without labels render HELP, TYPE and one sample") {
  MetricsRegistry r;
  auto& c = r.counter("pcommit_things_total", "Things done.");
  auto& g = r.gauge("pcommit_level", "Current level.");
  c.get().inc();
  c.get().inc(41);
  g.get().set(2.5);
  CHECK(r.render() ==
        "# HELP pcommit_level Current level.\n"
        "# TYPE pcommit_level gauge\n"
        "pcommit_level 2.5\n"
        "# HELP pcommit_things_total Things done.\n"
        "# TYPE pcommit_things_total counter\n"
        "pcommit_things_total 42\n");
}

TEST_CASE("a family without labels shows its zero from the start; a labelled one once used") {
  MetricsRegistry r;
  r.counter("a_total", "A.");
  auto& b = r.counter("b_total", "B.", {"kind"});
  CHECK(r.render() == "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n");
  b.with({"x"});
  CHECK(r.render().find("b_total{kind=\"x\"} 0\n") != std::string::npos);
}

TEST_CASE("series render sorted by label values, labels in registration order") {
  MetricsRegistry r;
  auto& f = r.counter("pcommit_transactions_total", "Txns.", {"protocol", "outcome"});
  f.with({"paxos", "committed"}).inc(3);
  f.with({"2pc", "aborted"}).inc(1);
  f.with({"paxos", "aborted"}).inc(2);
  CHECK(r.render() ==
        "# HELP pcommit_transactions_total Txns.\n"
        "# TYPE pcommit_transactions_total counter\n"
        "pcommit_transactions_total{protocol=\"2pc\",outcome=\"aborted\"} 1\n"
        "pcommit_transactions_total{protocol=\"paxos\",outcome=\"aborted\"} 2\n"
        "pcommit_transactions_total{protocol=\"paxos\",outcome=\"committed\"} 3\n");
  // The same series again is the same object, not a second line.
  CHECK(&f.with({"paxos", "committed"}) == &f.with({"paxos", "committed"}));
}

TEST_CASE("label values escape backslash, quote and newline; help escapes backslash, newline") {
  MetricsRegistry r;
  auto& f = r.gauge("g", "Line one\nback\\slash \"quotes stay\"", {"v"});
  f.with({"a\\b\"c\nd"}).set(1);
  CHECK(r.render() ==
        "# HELP g Line one\\nback\\\\slash \"quotes stay\"\n"
        "# TYPE g gauge\n"
        "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
  CHECK(escapeLabelValue("plain") == "plain");
  CHECK(escapeLabelValue("") == "");
  CHECK(escapeLabelValue("\\\\") == "\\\\\\\\");
}

TEST_CASE("a histogram renders cumulative buckets, +Inf equal to _count, _sum and _count") {
  MetricsRegistry r;
  auto& h = r.histogram("pcommit_commit_latency_seconds", "Latency.", {0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 0.05, 3.0}) h.get().observe(v);
  CHECK(r.render() ==
        "# HELP pcommit_commit_latency_seconds Latency.\n"
        "# TYPE pcommit_commit_latency_seconds histogram\n"
        "pcommit_commit_latency_seconds_bucket{le=\"0.001\"} 2\n"  // le is inclusive
        "pcommit_commit_latency_seconds_bucket{le=\"0.01\"} 3\n"
        "pcommit_commit_latency_seconds_bucket{le=\"0.1\"} 5\n"
        "pcommit_commit_latency_seconds_bucket{le=\"+Inf\"} 6\n"
        "pcommit_commit_latency_seconds_sum 3.1035\n"
        "pcommit_commit_latency_seconds_count 6\n");
}

TEST_CASE("a labelled histogram puts le after its own labels; NaN observations are dropped") {
  MetricsRegistry r;
  auto& h = r.histogram("x_seconds", "X.", {1}, {"role"});
  h.with({"p\"1"}).observe(0.5);
  h.with({"p\"1"}).observe(std::numeric_limits<double>::quiet_NaN());
  CHECK(r.render() ==
        "# HELP x_seconds X.\n"
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{role=\"p\\\"1\",le=\"1\"} 1\n"
        "x_seconds_bucket{role=\"p\\\"1\",le=\"+Inf\"} 1\n"
        "x_seconds_sum{role=\"p\\\"1\"} 0.5\n"
        "x_seconds_count{role=\"p\\\"1\"} 1\n");
}

TEST_CASE("values: shortest round-trip decimals, integers plain, infinities and NaN spelled") {
  CHECK(formatValue(0) == "0");
  CHECK(formatValue(3) == "3");
  CHECK(formatValue(0.1) == "0.1");
  CHECK(formatValue(-2.25) == "-2.25");
  CHECK(formatValue(1e21) == "1e+21");
  CHECK(formatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(formatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(formatValue(std::nan("")) == "NaN");
  // Counters are integers and stay exact past 2^53 (a double would round them).
  MetricsRegistry r;
  r.counter("big_total", "Big.").get().inc(9007199254740993ull);
  CHECK(r.render().find("big_total 9007199254740993\n") != std::string::npos);
}

TEST_CASE("a mirrored counter never goes down; a gauge does") {
  Counter c;
  c.set(10);
  c.set(7);  // a smaller mirror value (never expected) does not make a counter reset
  CHECK(c.value() == 10);
  c.inc();
  CHECK(c.value() == 11);
  Gauge g;
  g.set(5);
  g.add(-7);
  CHECK(g.value() == -2);
}

TEST_CASE("names: the Prometheus grammar for metric and label names") {
  CHECK(isValidMetricName("pcommit_x_total"));
  CHECK(isValidMetricName("a:b_c9"));
  CHECK_FALSE(isValidMetricName(""));
  CHECK_FALSE(isValidMetricName("9lives"));
  CHECK_FALSE(isValidMetricName("has-dash"));
  CHECK_FALSE(isValidMetricName("sp ace"));
  CHECK(isValidLabelName("outcome"));
  CHECK(isValidLabelName("_x1"));
  CHECK_FALSE(isValidLabelName("__reserved"));
  CHECK_FALSE(isValidLabelName("a:b"));
  CHECK_FALSE(isValidLabelName("1a"));
}

TEST_CASE("the latency buckets are increasing and span 100 us to 10 s") {
  auto b = latencyBucketsSeconds();
  REQUIRE(b.size() >= 10);
  CHECK(b.front() == doctest::Approx(0.0001));
  CHECK(b.back() == doctest::Approx(10));
  for (size_t i = 1; i < b.size(); ++i) CHECK(b[i - 1] < b[i]);
}
