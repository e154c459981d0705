// A small metrics registry: counters, gauges and histograms with labels and fixed buckets,
// rendered in the Prometheus text exposition format, version 0.0.4 (what `GET /metrics`
// serves; runtime/metrics_http.h).
//
// Contract:
//   - A family is registered once, by name, with its help text, its label names (in the
//     order they are rendered) and, for histograms, its bucket upper bounds. A name that is
//     not a valid Prometheus name, a counter not ending in `_total`, a reserved label
//     (`le`, `__*`), a second family of the same name or unsorted buckets are our bug:
//     PC_ASSERT. So is asking a family for a series with the wrong number of label values.
//   - Label VALUES may be anything (they can come from outside: a node name, a reason);
//     render() escapes backslash, double quote and line feed as the format requires.
//   - A family holds at most kMaxSeriesPerFamily series (asserted): labels here come from
//     small fixed sets (outcomes, message kinds, reasons), never from request data.
//   - render() is deterministic: families sorted by name, series by label values, so two
//     scrapes of the same state are byte-identical (and tests can compare text).
//   - References returned by the registry and by Family::with() stay valid as long as the
//     registry lives (families and series are never removed).
//   - Not thread-safe: one owner thread (a node's event loop) updates and renders.
//   - Counters and histogram counts are uint64; a counter never goes down (set() of a
//     mirror of a count kept elsewhere ignores a smaller value).
// Links only the standard library and pc_core's PC_ASSERT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pc::runtime {

inline constexpr size_t kMaxSeriesPerFamily = 4096;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_ += n; }
  // For a count maintained elsewhere (the transport's, storage's): mirrors it, never down.
  void set(uint64_t total) {
    if (total > value_) value_ = total;
  }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

class Gauge {
 public:
  void set(double v) { value_ = v; }
  void add(double v) { value_ += v; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class Histogram {
 public:
  // `bounds`: finite upper bounds, strictly increasing; +Inf is implicit.
  explicit Histogram(const std::vector<double>& bounds);
  // A NaN observation is dropped (it would poison _sum forever).
  void observe(double v);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Cumulative count of observations <= bounds()[i]; i == bounds().size() is +Inf.
  uint64_t cumulative(size_t i) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> perBucket_;  // not cumulative; last one is (last bound, +Inf)
  uint64_t count_ = 0;
  double sum_ = 0;
};

enum class MetricType { Counter, Gauge, Histogram };

// One metric name with its series (one per combination of label values).
template <class M>
class Family {
 public:
  // The series with these label values (one per label name, in order); created at first use.
  M& with(const std::vector<std::string>& labelValues);
  // The series without labels (a family registered with no label names).
  M& get() { return with({}); }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& labelNames() const { return labelNames_; }
  const std::map<std::vector<std::string>, std::unique_ptr<M>>& series() const { return series_; }

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::vector<std::string> labelNames, std::vector<double> bounds)
      : name_(std::move(name)), labelNames_(std::move(labelNames)), bounds_(std::move(bounds)) {}
  std::string name_;
  std::vector<std::string> labelNames_;
  std::vector<double> bounds_;  // histograms only
  std::map<std::vector<std::string>, std::unique_ptr<M>> series_;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> labelNames = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> labelNames = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds,
                               std::vector<std::string> labelNames = {});

  // The whole registry in the text format 0.0.4. A family with no series yet renders
  // nothing (not even HELP/TYPE): a family without labels has its one series from the start.
  std::string render() const;

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  Entry& add(const std::string& name, const std::string& help, MetricType type,
             const std::vector<std::string>& labelNames);
  std::map<std::string, Entry> families_;
};

// The text format's pieces, exposed for tests.
std::string escapeLabelValue(std::string_view v);  // \ -> \\, " -> \", LF -> \n
std::string escapeHelp(std::string_view v);        // \ -> \\, LF -> \n
std::string formatValue(double v);                 // shortest round-trip; +Inf, -Inf, NaN
bool isValidMetricName(std::string_view name);     // [a-zA-Z_:][a-zA-Z0-9_:]*
bool isValidLabelName(std::string_view name);      // [a-zA-Z_][a-zA-Z0-9_]*, not __*

// Bucket bounds, in seconds: 100 us .. 10 s, about x2.5 per step (commit latency on one
// machine is ~1 ms, a synced write 0.1..10 ms; recovery takes a timeout, ~1 s).
std::vector<double> latencyBucketsSeconds();

}  // namespace pc::runtime
