#include "bench/svg.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace pc::bench {

namespace {

constexpr double kWidth = 820, kHeight = 480;
constexpr double kLeft = 78, kRight = 215, kTop = 78, kBottom = 58;

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << v;
  return os.str();
}

// A tick label: no trailing zeros, thousands as "k".
std::string label(double v) {
  std::ostringstream os;
  double a = std::fabs(v);
  if (a >= 10000) {
    os << v / 1000 << "k";
  } else if (a >= 1 || a == 0) {
    os << std::setprecision(6) << v;
  } else {
    os << std::setprecision(3) << v;
  }
  return os.str();
}

struct Axis {
  bool log = false;
  double lo = 0, hi = 1;  // data range shown (log: > 0)
  std::vector<double> ticks;

  double frac(double v) const {
    if (log) {
      v = std::max(v, lo);
      return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    }
    return (v - lo) / (hi - lo);
  }
};

// Linear: about 5 ticks at 1, 2 or 5 x 10^k; the range widened to whole ticks.
Axis linearAxis(double lo, double hi, bool fromZero) {
  Axis a;
  if (fromZero) lo = std::min(0.0, lo);
  if (!(hi > lo)) hi = lo + 1;
  double raw = (hi - lo) / 5;
  double p = std::pow(10, std::floor(std::log10(raw)));
  double step = p;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  }
  a.lo = std::floor(lo / step) * step;
  a.hi = std::ceil(hi / step) * step;
  if (!(a.hi > a.lo)) a.hi = a.lo + step;
  for (double t = a.lo; t <= a.hi + step * 1e-9; t += step) a.ticks.push_back(t);
  return a;
}

// Log: whole decades, ticks at 1, 2, 5 x 10^k (only 1 x 10^k over many decades).
Axis logAxis(double lo, double hi) {
  Axis a;
  a.log = true;
  lo = std::max(lo, 1e-9);
  hi = std::max(hi, lo * 1.0001);
  a.lo = std::pow(10, std::floor(std::log10(lo)));
  a.hi = std::pow(10, std::ceil(std::log10(hi)));
  if (a.hi <= a.lo) a.hi = a.lo * 10;
  int decades = static_cast<int>(std::lround(std::log10(a.hi / a.lo)));
  for (double d = a.lo; d <= a.hi * 1.0001; d *= 10) {
    for (double m : decades > 4 ? std::vector<double>{1} : std::vector<double>{1, 2, 5}) {
      if (m * d <= a.hi * 1.0001) a.ticks.push_back(m * d);
    }
  }
  return a;
}

}  // namespace

std::string modeColor(const std::string& mode) {
  static const std::map<std::string, std::string> kColors = {
      {"2pc", "#d62728"},          {"paxos-classic", "#ff7f0e"},  {"paxos", "#1f77b4"},
      {"paxos-direct", "#2ca02c"}, {"2pc-replicated", "#9467bd"},
  };
  auto it = kColors.find(mode);
  return it == kColors.end() ? "#7f7f7f" : it->second;
}

namespace {

// The x and y axes of `plot`: its data's range (positive values only on a log axis), or
// the swept x values themselves when the plot names them.
std::pair<Axis, Axis> axesOf(const Plot& plot) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : plot.series) {
    for (auto [x, y] : s.points) {
      if (plot.logX && x <= 0) continue;
      if (plot.logY && y <= 0) continue;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  if (!(xmax >= xmin)) xmin = 0, xmax = 1;
  if (!(ymax >= ymin)) ymin = 0, ymax = 1;
  Axis ax = plot.logX ? logAxis(xmin, xmax) : linearAxis(xmin, xmax, false);
  if (!plot.xTicks.empty()) {
    // The swept values themselves, with a margin so no point sits on the frame.
    ax.ticks = plot.xTicks;
    double lo = *std::min_element(ax.ticks.begin(), ax.ticks.end());
    double hi = *std::max_element(ax.ticks.begin(), ax.ticks.end());
    if (plot.logX) {
      double pad = std::pow(std::max(hi / std::max(lo, 1e-9), 2.0), 0.06);
      ax.lo = lo / pad;
      ax.hi = hi * pad;
    } else {
      double pad = std::max(hi - lo, 1.0) * 0.06;
      ax.lo = lo - pad;
      ax.hi = hi + pad;
    }
  }
  Axis ay = plot.logY ? logAxis(ymin, ymax) : linearAxis(ymin, ymax, plot.yFromZero);
  return {ax, ay};
}

// The subtitle's lines, wrapped at "; " (and at ", " inside a part still too long) to fit.
std::vector<std::string> subtitleLines(const std::string& subtitle) {
  const size_t maxChars = 125;
  std::vector<std::string> pieces;
  std::string rest = subtitle;
  while (!rest.empty()) {
    size_t cut = rest.find("; ");
    std::string part = rest.substr(0, cut);
    rest = cut == std::string::npos ? "" : rest.substr(cut + 2);
    while (part.size() > maxChars) {
      size_t at = part.rfind(", ", maxChars);
      if (at == std::string::npos) at = maxChars - 2;
      pieces.push_back(part.substr(0, at + 1));
      part = part.substr(at + 2);
    }
    if (!part.empty()) pieces.push_back(part);
  }
  std::vector<std::string> lines;
  for (const auto& piece : pieces) {
    if (!lines.empty() && lines.back().size() + 2 + piece.size() <= maxChars) {
      lines.back() += "; " + piece;
    } else {
      lines.push_back(piece);
    }
  }
  return lines;
}

// Where data lands on the canvas.
struct Frame {
  Axis ax, ay;
  double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  double px(double x) const { return kLeft + ax.frac(x) * pw; }
  double py(double y) const { return kTop + (1 - ay.frac(y)) * ph; }
};

// Grid lines, tick labels, the frame and the axis labels.
void drawAxes(const Plot& plot, const Frame& f, std::ostream& o) {
  o << "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (double t : f.ax.ticks) {
    o << "<line x1=\"" << num(f.px(t)) << "\" y1=\"" << kTop << "\" x2=\"" << num(f.px(t))
      << "\" y2=\"" << kTop + f.ph << "\"/>\n";
  }
  for (double t : f.ay.ticks) {
    o << "<line x1=\"" << kLeft << "\" y1=\"" << num(f.py(t)) << "\" x2=\"" << kLeft + f.pw
      << "\" y2=\"" << num(f.py(t)) << "\"/>\n";
  }
  o << "</g>\n<g fill=\"#333\">\n";
  for (double t : f.ax.ticks) {
    o << "<text x=\"" << num(f.px(t)) << "\" y=\"" << kTop + f.ph + 17
      << "\" text-anchor=\"middle\">" << esc(label(t)) << "</text>\n";
  }
  for (double t : f.ay.ticks) {
    o << "<text x=\"" << kLeft - 7 << "\" y=\"" << num(f.py(t) + 4) << "\" text-anchor=\"end\">"
      << esc(label(t)) << "</text>\n";
  }
  o << "</g>\n"
    << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << f.pw << "\" height=\"" << f.ph
    << "\" fill=\"none\" stroke=\"#333\"/>\n"
    << "<text x=\"" << kLeft + f.pw / 2 << "\" y=\"" << kHeight - 16
    << "\" text-anchor=\"middle\" font-size=\"13\">" << esc(plot.xLabel) << "</text>\n"
    << "<text transform=\"translate(20," << kTop + f.ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">" << esc(plot.yLabel)
    << "</text>\n";
}

// Each series as a line (and its markers), then the legend beside the plot.
void drawSeries(const Plot& plot, const Frame& f, std::ostream& o) {
  for (const auto& s : plot.series) {
    std::ostringstream pts;
    for (auto [x, y] : s.points) {
      if ((plot.logX && x <= 0) || (plot.logY && y <= 0)) continue;
      pts << num(f.px(x)) << "," << num(f.py(y)) << " ";
    }
    o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\""
      << (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") << " points=\"" << pts.str()
      << "\"/>\n";
    if (!s.markers) continue;
    for (auto [x, y] : s.points) {
      if ((plot.logX && x <= 0) || (plot.logY && y <= 0)) continue;
      o << "<circle cx=\"" << num(f.px(x)) << "\" cy=\"" << num(f.py(y)) << "\" r=\"3\" fill=\""
        << s.color << "\"><title>" << esc(s.label) << ": " << label(x) << ", " << label(y)
        << "</title></circle>\n";
    }
  }
  double ly = kTop + 8;
  for (const auto& s : plot.series) {
    double lx = kLeft + f.pw + 14;
    o << "<line x1=\"" << lx << "\" y1=\"" << ly << "\" x2=\"" << lx + 24 << "\" y2=\"" << ly
      << "\" stroke=\"" << s.color << "\" stroke-width=\"2\""
      << (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") << "/>\n"
      << "<text x=\"" << lx + 30 << "\" y=\"" << ly + 4 << "\">" << esc(s.label) << "</text>\n";
    ly += 18;
  }
}

}  // namespace

std::string renderSvg(const Plot& plot) {
  auto [ax, ay] = axesOf(plot);
  Frame f{ax, ay};
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
    << "\" viewBox=\"0 0 " << kWidth << " " << kHeight
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << kLeft << "\" y=\"24\" font-size=\"16\" font-weight=\"bold\">"
    << esc(plot.title) << "</text>\n";
  double y = 42;
  for (const auto& l : subtitleLines(plot.subtitle)) {
    o << "<text x=\"" << kLeft << "\" y=\"" << y << "\" font-size=\"11\" fill=\"#555\">" << esc(l)
      << "</text>\n";
    y += 14;
  }
  drawAxes(plot, f, o);
  drawSeries(plot, f, o);
  o << "</svg>\n";
  return o.str();
}

namespace {

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

// The CDF of sorted latencies, in ms, as at most ~400 points (every point of a short run).
std::vector<std::pair<double, double>> cdfPoints(const std::vector<uint64_t>& sorted) {
  std::vector<std::pair<double, double>> pts;
  size_t n = sorted.size();
  if (n == 0) return pts;
  size_t step = std::max<size_t>(1, n / 400);
  for (size_t i = 0; i < n; i += step) {
    pts.emplace_back(static_cast<double>(sorted[i]) / 1000.0,
                     static_cast<double>(i + 1) / static_cast<double>(n));
  }
  // The tail matters: the last points exactly.
  for (size_t i = n > 5 ? n - 5 : 0; i < n; ++i) {
    if (pts.back().second < static_cast<double>(i + 1) / static_cast<double>(n)) {
      pts.emplace_back(static_cast<double>(sorted[i]) / 1000.0,
                       static_cast<double>(i + 1) / static_cast<double>(n));
    }
  }
  return pts;
}

}  // namespace

// latency-vs-delay[-cC].svg: p50 per mode (solid) against the emulated one-way delay, beside
// the floor predicted for it, 2 synced writes + delays x (rtt/2 + D) (dashed; needs the floor).
static void writeDelayPlots(const std::string& dir, const std::vector<RunResult>& runs,
                            const std::string& subtitle, std::vector<std::string>& written) {
  std::set<std::pair<int, int>> points;  // (N, C)
  std::set<uint32_t> ds;
  std::vector<std::string> modes;
  for (const auto& r : runs) {
    points.emplace(r.participants, r.clients);
    ds.insert(r.netDelayUs);
    if (std::find(modes.begin(), modes.end(), r.protocol) == modes.end())
      modes.push_back(r.protocol);
  }
  for (auto [n, c] : points) {
    Plot p;
    p.title = "Latency against one-way network delay, " + std::to_string(n) + " participant" +
              (n == 1 ? "" : "s") + ", " + std::to_string(c) + " client" + (c == 1 ? "" : "s");
    p.subtitle = subtitle + "; dashed: predicted floor 2 x synced + delays x (rtt/2 + D)";
    p.xLabel = "emulated one-way delay D (us)";
    p.yLabel = "commit latency p50 (ms)";
    p.xTicks.assign(ds.begin(), ds.end());
    for (const auto& m : modes) {
      PlotSeries got{m + " p50", modeColor(m), "", true, {}};
      PlotSeries floor{m + " predicted", modeColor(m), "7 4", false, {}};
      for (const auto& r : runs) {
        if (r.protocol != m || r.participants != n || r.clients != c) continue;
        got.points.emplace_back(r.netDelayUs, static_cast<double>(r.latencyUs.p50) / 1000);
        if (r.floorUs > 0) floor.points.emplace_back(r.netDelayUs, r.floorUs / 1000);
      }
      std::sort(got.points.begin(), got.points.end());
      std::sort(floor.points.begin(), floor.points.end());
      if (got.points.size() >= 2) p.series.push_back(std::move(got));
      if (floor.points.size() >= 2) p.series.push_back(std::move(floor));
    }
    if (p.series.empty()) continue;
    std::string f =
        dir + "/latency-vs-delay-n" + std::to_string(n) + "-c" + std::to_string(c) + ".svg";
    writeFile(f, renderSvg(p));
    written.push_back(f);
  }
}

namespace {

// What the runs of one invocation vary: the modes (in the order they ran), participants
// per transaction (N), clients (C) and emulated one-way delays (D).
struct RunShape {
  std::vector<std::string> modes;
  std::set<int> ns, cs;
  std::set<uint32_t> ds;
};

RunShape shapeOf(const std::vector<RunResult>& runs) {
  RunShape shape;
  for (const auto& r : runs) {
    if (std::find(shape.modes.begin(), shape.modes.end(), r.protocol) == shape.modes.end())
      shape.modes.push_back(r.protocol);
    shape.ns.insert(r.participants);
    shape.cs.insert(r.clients);
    shape.ds.insert(r.netDelayUs);
  }
  return shape;
}

// latency-cdf-nN-cC.svg: the latency CDF of every mode, per (N, C).
void writeCdfPlots(const std::string& dir, const std::vector<RunResult>& runs,
                   const RunShape& shape, const std::string& subtitle,
                   std::vector<std::string>& written) {
  for (int n : shape.ns) {
    for (int c : shape.cs) {
      Plot p;
      p.title = "Latency CDF, " + std::to_string(n) + " participant" + (n == 1 ? "" : "s") + ", " +
                std::to_string(c) + " client" + (c == 1 ? "" : "s");
      p.subtitle = subtitle;
      p.xLabel = "commit latency (ms, log scale)";
      p.yLabel = "fraction of transactions at or below";
      p.logX = true;
      for (const auto& r : runs) {
        if (r.participants != n || r.clients != c || r.sortedLatenciesUs.empty()) continue;
        std::ostringstream p50;
        p50 << std::setprecision(3) << static_cast<double>(r.latencyUs.p50) / 1000;
        PlotSeries s{r.protocol + "  p50 " + p50.str() + " ms", modeColor(r.protocol), "", false,
                     cdfPoints(r.sortedLatenciesUs)};
        p.series.push_back(std::move(s));
      }
      if (p.series.empty()) continue;
      std::string f =
          dir + "/latency-cdf-n" + std::to_string(n) + "-c" + std::to_string(c) + ".svg";
      writeFile(f, renderSvg(p));
      written.push_back(f);
    }
  }
}

// throughput-vs-clients.svg: throughput against clients, one line per mode (and N, if
// several: one dash pattern per N). Needs two client counts or more.
void writeThroughputPlot(const std::string& dir, const std::vector<RunResult>& runs,
                         const RunShape& shape, const std::string& subtitle,
                         std::vector<std::string>& written) {
  static const char* const kDashes[] = {"", "7 4", "2 3", "10 3 2 3"};
  Plot p;
  p.title = "Throughput against closed-loop clients";
  p.subtitle = subtitle;
  p.xLabel = "clients (log scale)";
  p.yLabel = "committed transactions per second";
  p.logX = true;
  p.xTicks.assign(shape.cs.begin(), shape.cs.end());
  int dash = 0;
  for (int n : shape.ns) {
    for (const auto& m : shape.modes) {
      PlotSeries s;
      s.label = m + (shape.ns.size() > 1 ? " N=" + std::to_string(n) : "");
      s.color = modeColor(m);
      s.dash = kDashes[dash % 4];
      for (const auto& r : runs) {
        if (r.protocol == m && r.participants == n)
          s.points.emplace_back(r.clients, r.throughputTps);
      }
      std::sort(s.points.begin(), s.points.end());
      if (s.points.size() >= 2) p.series.push_back(std::move(s));
    }
    ++dash;
  }
  if (p.series.empty()) return;
  std::string f = dir + "/throughput-vs-clients.svg";
  writeFile(f, renderSvg(p));
  written.push_back(f);
}

// latency-vs-participants[-cC].svg: latency against participants, p50 solid and p99
// dashed, per C (the suffix only if several). Needs two participant counts or more.
void writeParticipantPlots(const std::string& dir, const std::vector<RunResult>& runs,
                           const RunShape& shape, const std::string& subtitle,
                           std::vector<std::string>& written) {
  for (int c : shape.cs) {
    Plot p;
    p.title = "Latency against participants per transaction, " + std::to_string(c) + " client" +
              (c == 1 ? "" : "s");
    p.subtitle = subtitle;
    p.xLabel = "participants (N)";
    p.yLabel = "commit latency (ms)";
    p.xTicks.assign(shape.ns.begin(), shape.ns.end());
    for (const auto& m : shape.modes) {
      PlotSeries p50{m + " p50", modeColor(m), "", true, {}};
      PlotSeries p99{m + " p99", modeColor(m), "7 4", true, {}};
      for (const auto& r : runs) {
        if (r.protocol != m || r.clients != c) continue;
        p50.points.emplace_back(r.participants, static_cast<double>(r.latencyUs.p50) / 1000);
        p99.points.emplace_back(r.participants, static_cast<double>(r.latencyUs.p99) / 1000);
      }
      std::sort(p50.points.begin(), p50.points.end());
      std::sort(p99.points.begin(), p99.points.end());
      if (p50.points.size() >= 2) {
        p.series.push_back(std::move(p50));
        p.series.push_back(std::move(p99));
      }
    }
    if (p.series.empty()) continue;
    std::string f = dir + "/latency-vs-participants" +
                    (shape.cs.size() > 1 ? "-c" + std::to_string(c) : std::string()) + ".svg";
    writeFile(f, renderSvg(p));
    written.push_back(f);
  }
}

}  // namespace

std::vector<std::string> writePlots(const std::string& dir, const std::vector<RunResult>& runs,
                                    const std::string& subtitle) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  std::vector<std::string> written;
  RunShape shape = shapeOf(runs);
  if (shape.ds.size() >= 2) {
    // Several emulated delays: the delay plot, and the others for the runs without one (or
    // the smallest delay), so no line mixes delays.
    writeDelayPlots(dir, runs, subtitle, written);
    const uint32_t d0 = *shape.ds.begin();
    std::vector<RunResult> same;
    for (const auto& r : runs) {
      if (r.netDelayUs == d0) same.push_back(r);
    }
    auto more = writePlots(dir, same,
                           subtitle + "; runs with net delay " + std::to_string(d0) + " us only");
    written.insert(written.end(), more.begin(), more.end());
    return written;
  }
  writeCdfPlots(dir, runs, shape, subtitle, written);
  if (shape.cs.size() >= 2) writeThroughputPlot(dir, runs, shape, subtitle, written);
  if (shape.ns.size() >= 2) writeParticipantPlots(dir, runs, shape, subtitle, written);
  return written;
}

}  // namespace pc::bench
