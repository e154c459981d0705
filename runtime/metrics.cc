#include "runtime/metrics.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "paxos_commit/assert.h"

namespace pc::runtime {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), perBucket_(bounds.size() + 1, 0) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    PC_ASSERT(std::isfinite(bounds_[i]), i, bounds_[i]);
    PC_ASSERT(i == 0 || bounds_[i - 1] < bounds_[i], i, bounds_[i]);
  }
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // `le` is inclusive: an observation equal to a bound falls in that bound's bucket.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++perBucket_[i];
  ++count_;
  sum_ += v;
}

uint64_t Histogram::cumulative(size_t i) const {
  PC_ASSERT(i < perBucket_.size(), i, perBucket_.size());
  uint64_t total = 0;
  for (size_t k = 0; k <= i; ++k) total += perBucket_[k];
  return total;
}

namespace {

template <class M>
std::unique_ptr<M> makeSeries(const std::vector<double>& bounds) {
  if constexpr (std::is_same_v<M, Histogram>) {
    return std::make_unique<Histogram>(bounds);
  } else {
    return std::make_unique<M>();
  }
}

// `name{a="x",b="y"}` (or `name` alone), with an optional extra label appended (`le`).
void writeSeriesName(std::ostringstream& out, const std::string& name,
                     const std::vector<std::string>& labelNames,
                     const std::vector<std::string>& labelValues, const char* extraName = nullptr,
                     const std::string& extraValue = "") {
  out << name;
  if (labelNames.empty() && extraName == nullptr) return;
  out << '{';
  bool first = true;
  for (size_t i = 0; i < labelNames.size(); ++i) {
    if (!first) out << ',';
    first = false;
    out << labelNames[i] << "=\"" << escapeLabelValue(labelValues[i]) << '"';
  }
  if (extraName != nullptr) {
    if (!first) out << ',';
    out << extraName << "=\"" << extraValue << '"';
  }
  out << '}';
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

template <class M>
M& Family<M>::with(const std::vector<std::string>& labelValues) {
  PC_ASSERT(labelValues.size() == labelNames_.size(), name_, labelValues.size(),
            labelNames_.size());
  auto it = series_.find(labelValues);
  if (it != series_.end()) return *it->second;
  PC_ASSERT(series_.size() < kMaxSeriesPerFamily, name_, series_.size());
  auto [ins, fresh] = series_.emplace(labelValues, makeSeries<M>(bounds_));
  PC_ASSERT(fresh, name_);
  return *ins->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

MetricsRegistry::Entry& MetricsRegistry::add(const std::string& name, const std::string& help,
                                             MetricType type,
                                             const std::vector<std::string>& labelNames) {
  PC_ASSERT(isValidMetricName(name), name);
  // Prometheus conventions: a counter's samples end in _total; histogram series append
  // _bucket/_sum/_count to the family name, so the name itself must not end in them.
  if (type == MetricType::Counter) {
    PC_ASSERT(name.size() > 6 && name.ends_with("_total"), name);
  }
  for (size_t i = 0; i < labelNames.size(); ++i) {
    PC_ASSERT(isValidLabelName(labelNames[i]), name, labelNames[i]);
    PC_ASSERT(type != MetricType::Histogram || labelNames[i] != "le", name);
    for (size_t k = 0; k < i; ++k) PC_ASSERT(labelNames[k] != labelNames[i], name, labelNames[i]);
  }
  auto [it, fresh] = families_.try_emplace(name);
  PC_ASSERT(fresh, name);
  it->second.type = type;
  it->second.help = help;
  return it->second;
}

Family<Counter>& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                          std::vector<std::string> labelNames) {
  Entry& e = add(name, help, MetricType::Counter, labelNames);
  e.counter.reset(new Family<Counter>(name, std::move(labelNames), {}));
  if (e.counter->labelNames().empty()) e.counter->get();
  return *e.counter;
}

Family<Gauge>& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                      std::vector<std::string> labelNames) {
  Entry& e = add(name, help, MetricType::Gauge, labelNames);
  e.gauge.reset(new Family<Gauge>(name, std::move(labelNames), {}));
  if (e.gauge->labelNames().empty()) e.gauge->get();
  return *e.gauge;
}

Family<Histogram>& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                              std::vector<double> bounds,
                                              std::vector<std::string> labelNames) {
  Entry& e = add(name, help, MetricType::Histogram, labelNames);
  Histogram check(bounds);  // asserts the bounds once, at registration
  (void)check;
  e.histogram.reset(new Family<Histogram>(name, std::move(labelNames), std::move(bounds)));
  if (e.histogram->labelNames().empty()) e.histogram->get();
  return *e.histogram;
}

std::string MetricsRegistry::render() const {
  std::ostringstream out;
  for (const auto& [name, e] : families_) {
    size_t n = e.counter ? e.counter->series().size()
               : e.gauge ? e.gauge->series().size()
                         : e.histogram->series().size();
    if (n == 0) continue;
    out << "# HELP " << name << ' ' << escapeHelp(e.help) << '\n';
    out << "# TYPE " << name << ' ' << typeName(e.type) << '\n';
    if (e.counter) {
      for (const auto& [labels, c] : e.counter->series()) {
        writeSeriesName(out, name, e.counter->labelNames(), labels);
        out << ' ' << c->value() << '\n';
      }
    } else if (e.gauge) {
      for (const auto& [labels, g] : e.gauge->series()) {
        writeSeriesName(out, name, e.gauge->labelNames(), labels);
        out << ' ' << formatValue(g->value()) << '\n';
      }
    } else {
      const auto& labelNames = e.histogram->labelNames();
      for (const auto& [labels, h] : e.histogram->series()) {
        // Cumulative buckets, +Inf last and equal to _count (the format requires both).
        for (size_t i = 0; i <= h->bounds().size(); ++i) {
          std::string le = i < h->bounds().size() ? formatValue(h->bounds()[i]) : "+Inf";
          writeSeriesName(out, name + "_bucket", labelNames, labels, "le", le);
          out << ' ' << h->cumulative(i) << '\n';
        }
        writeSeriesName(out, name + "_sum", labelNames, labels);
        out << ' ' << formatValue(h->sum()) << '\n';
        writeSeriesName(out, name + "_count", labelNames, labels);
        out << ' ' << h->count() << '\n';
      }
    }
  }
  return out.str();
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  PC_ASSERT(ec == std::errc(), v);
  return std::string(buf, ptr);
}

bool isValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool isValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::vector<double> latencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace pc::runtime
