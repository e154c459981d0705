// Hand-written SVG plots of `pcommit bench --svg DIR` (no dependencies): line charts with
// axes, ticks, axis labels, a title and a legend, linear or log-scaled axes.
//
// writePlots() writes, from the runs of one bench invocation:
//   latency-cdf-nN-cC.svg        one per (participants, clients) point: the latency CDF of
//                                each mode (x: latency, log scale; y: fraction of
//                                transactions at or below it)
//   throughput-vs-clients.svg    if some mode ran at 2+ client counts: committed txn/s per
//                                mode against closed-loop clients (log scale)
//   latency-vs-participants.svg  if some mode ran at 2+ participant counts: p50 (solid) and
//                                p99 (dashed) per mode against participants per transaction
//   latency-vs-delay-nN-cC.svg   if the runs had 2+ emulated delays (--net-delay-us): p50 per
//                                mode against the delay, beside its predicted floor (dashed);
//                                the plots above then show the smallest delay's runs only
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/bench.h"

namespace pc::bench {

struct PlotSeries {
  std::string label;
  std::string color;                              // CSS colour
  std::string dash;                               // SVG stroke-dasharray ("6 4"); empty: solid
  bool markers = true;                            // a dot at each point (off for dense curves)
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
};

struct Plot {
  std::string title;
  std::string subtitle;  // small text under the title, wrapped at "; " to fit
  std::string xLabel, yLabel;
  bool logX = false, logY = false;
  bool yFromZero = true;       // linear y: start at 0 (throughput, latency)
  std::vector<double> xTicks;  // if set: ticks exactly there (the swept values), range around them
  std::vector<PlotSeries> series;
};

// The SVG document of one plot.
std::string renderSvg(const Plot& plot);

// The colour each mode has in every plot.
std::string modeColor(const std::string& mode);

// Writes the plots above into `dir` (created if missing); returns the files written.
// Throws std::runtime_error naming a file it cannot write.
std::vector<std::string> writePlots(const std::string& dir, const std::vector<RunResult>& runs,
                                    const std::string& subtitle);

}  // namespace pc::bench
