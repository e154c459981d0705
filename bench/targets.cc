// Issue 15's targets in the report of pcommit bench (bench.h printTargets): judged within
// each round of runs, and with --rounds R over the rounds' median.
#include "bench/targets.h"

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <tuple>

#include "bench/bench.h"
#include "bench/numbers.h"
#include "json/json.h"

namespace pc::bench {

namespace {

// One target judged on one round's runs.
struct TargetLine {
  int n = 0, c = 0;
  uint32_t d = 0;
  std::string what;
  bool ok = false;
  std::string detail;
  std::string busy;  // the disturbed runs it rests on: "paxos 7%, ..."
  // A ratio target: the ratio, and the bound it is held to (<= bound, or >= when !atMost).
  // An order target has none.
  std::optional<double> value;
  std::optional<double> paced;  // a floor target: p50 over the paced floor, where measured
  double bound = 0;
  bool atMost = true;
  bool passes(double v) const { return atMost ? v <= bound : v >= bound; }
};

// p50 over the floor with the commit paced as a one-client run makes it, if measured.
std::optional<double> overPacedFloor(const RunResult& r) {
  const double paced = r.floor.forModePaced(r.expected, r.netDelayUs);
  if (paced <= 0) return std::nullopt;
  return static_cast<double>(r.latencyUs.p50) / paced;
}

// A floor target's ratio, and beside it (not instead: the verdict is the floor's) the
// ratio to the paced floor.
std::string floorDetail(double overFloor, std::optional<double> overPaced) {
  std::string detail = fixed(overFloor, 2) + " x";
  if (overPaced) detail += " (" + fixed(*overPaced, 2) + " x the paced floor)";
  return detail;
}

// The runs of one (N, C, D) point by mode.
using Point = std::tuple<int, int, uint32_t>;
using ModeRuns = std::map<std::string, const RunResult*>;

class Judge {
 public:
  std::vector<TargetLine> lines;

  void point(const Point& p, const ModeRuns& modes) {
    std::tie(n_, c_, d_) = p;
    auto find = [&modes](const char* m) -> const RunResult* {
      auto it = modes.find(m);
      return it == modes.end() ? nullptr : it->second;
    };
    const RunResult* twoPc = find("2pc");
    const RunResult* paxos = find("paxos");
    const RunResult* direct = find("paxos-direct");
    if (c_ == 1) oneClient(modes, twoPc, paxos, direct);
    if (c_ >= 64 && twoPc && paxos) {
      ratio("paxos txn/s >= 0.85 x 2pc",
            paxos->throughputTps / std::max(twoPc->throughputTps, 1e-9), 0.85, false,
            {paxos, twoPc});
      if (twoPc->cpu.measured && paxos->cpu.measured && twoPc->cpu.nodesUsPerTxn > 0) {
        ratio("paxos node CPU per txn <= 1.4 x 2pc's",
              paxos->cpu.nodesUsPerTxn / twoPc->cpu.nodesUsPerTxn, 1.4, true, {paxos, twoPc});
      }
    }
  }

 private:
  void oneClient(const ModeRuns& modes, const RunResult* twoPc, const RunResult* paxos,
                 const RunResult* direct) {
    if (twoPc && direct) {
      order("paxos-direct p50 < 2pc p50", direct->latencyUs.p50 < twoPc->latencyUs.p50,
            std::to_string(direct->latencyUs.p50) + " vs " + std::to_string(twoPc->latencyUs.p50) +
                " us",
            {direct, twoPc});
    }
    if (twoPc && paxos) {
      ratio("paxos p50 <= 1.3 x 2pc p50",
            static_cast<double>(paxos->latencyUs.p50) /
                static_cast<double>(std::max<uint64_t>(twoPc->latencyUs.p50, 1)),
            1.3, true, {paxos, twoPc});
    }
    if (d_ > 0 && twoPc && paxos && direct) {
      // The paper's claim, where a message delay costs real time (issue 15).
      order("paxos-direct p50 < 2pc p50 < paxos p50",
            direct->latencyUs.p50 < twoPc->latencyUs.p50 &&
                twoPc->latencyUs.p50 < paxos->latencyUs.p50,
            std::to_string(direct->latencyUs.p50) + " < " + std::to_string(twoPc->latencyUs.p50) +
                " < " + std::to_string(paxos->latencyUs.p50) + " us",
            {direct, twoPc, paxos});
    }
    const double bound = d_ > 0 ? 1.3 : 1.5;
    for (const auto& [m, r] : modes) {
      if (r->floorUs <= 0) continue;
      const double x = static_cast<double>(r->latencyUs.p50) / r->floorUs;
      TargetLine& l = ratio(m + " p50 <= " + fixed(bound, 1) + " x floor", x, bound, true, {r});
      l.paced = overPacedFloor(*r);
      l.detail = floorDetail(x, l.paced);
    }
  }

  TargetLine& add(const std::string& what, bool ok, const std::string& detail,
                  std::initializer_list<const RunResult*> from) {
    TargetLine l;
    l.n = n_;
    l.c = c_;
    l.d = d_;
    l.what = what;
    l.ok = ok;
    l.detail = detail;
    for (const RunResult* r : from) {
      if (!disturbed(r->cpu)) continue;
      l.busy += (l.busy.empty() ? "" : ", ") + r->protocol + " " + fixed(r->cpu.stealPct, 0) + "%";
    }
    lines.push_back(std::move(l));
    return lines.back();
  }
  void order(const std::string& what, bool ok, const std::string& detail,
             std::initializer_list<const RunResult*> from) {
    add(what, ok, detail, from);
  }
  TargetLine& ratio(const std::string& what, double v, double bound, bool atMost,
                    std::initializer_list<const RunResult*> from) {
    TargetLine& l = add(what, atMost ? v <= bound : v >= bound, fixed(v, 2) + " x", from);
    l.value = v;
    l.bound = bound;
    l.atMost = atMost;
    return l;
  }

  int n_ = 0, c_ = 0;
  uint32_t d_ = 0;
};

std::vector<TargetLine> judge(const std::vector<const RunResult*>& runs) {
  std::map<Point, ModeRuns> points;
  for (const RunResult* r : runs)
    points[{r->participants, r->clients, r->netDelayUs}][r->protocol] = r;
  Judge j;
  for (const auto& [p, modes] : points) j.point(p, modes);
  return std::move(j.lines);
}

void printLine(std::ostream& out, const TargetLine& l) {
  out << "  N=" << l.n << " C=" << l.c << (l.d ? " D=" + std::to_string(l.d) + "us" : "") << "  "
      << (l.ok ? "met   " : "MISSED") << "  " << l.what << ": " << l.detail;
  if (!l.busy.empty()) out << "  [DISTURBED, steal: " << l.busy << "]";
  out << "\n";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// The rounds' lines of one target as one: a ratio judged on its median, an order on
// the majority of rounds; each round's figure after it.
TargetLine combine(const std::vector<std::pair<int, TargetLine>>& rounds) {
  TargetLine out = rounds.front().second;
  const size_t met = static_cast<size_t>(
      std::count_if(rounds.begin(), rounds.end(), [](const auto& rl) { return rl.second.ok; }));
  std::string each, busy;
  std::vector<double> values, paced;
  for (const auto& [round, l] : rounds) {
    if (l.paced) paced.push_back(*l.paced);
    each += (each.empty() ? "" : "; ") + ("round " + std::to_string(round) + " ") +
            (l.value ? fixed(*l.value, 2) : l.detail);
    if (l.value) values.push_back(*l.value);
    if (!l.busy.empty())
      busy += (busy.empty() ? "" : "; ") + ("round " + std::to_string(round) + " ") + l.busy;
  }
  const std::string tally =
      "met in " + std::to_string(met) + " of " + std::to_string(rounds.size()) + " rounds";
  if (values.size() == rounds.size()) {
    const double m = median(values);
    out.value = m;
    out.ok = out.passes(m);
    out.detail = "median " + fixed(m, 2) + " x (" + each + "; " + tally + ")";
    if (paced.size() == rounds.size()) {
      out.detail += "; median " + fixed(median(paced), 2) + " x the paced floor";
    }
  } else {
    out.ok = 2 * met > rounds.size();
    out.detail = tally + " (" + each + ")";
  }
  out.busy = busy;
  return out;
}

// A target's verdict: over one round, or combined over several with each round's line.
struct Verdict {
  TargetLine line;
  std::vector<std::pair<int, TargetLine>> rounds;  // empty for a plan of one round
};

// Every target the runs can judge, in the order of first sight; `roundCount` is set to
// the number of rounds (1 without --rounds).
std::vector<Verdict> verdicts(const std::vector<RunResult>& runs, size_t& roundCount) {
  std::map<int, std::vector<const RunResult*>> byRound;
  for (const auto& r : runs) byRound[r.round].push_back(&r);
  roundCount = std::max<size_t>(byRound.size(), 1);
  std::vector<Verdict> out;
  if (byRound.size() <= 1) {
    if (byRound.empty()) return out;
    for (auto& l : judge(byRound.begin()->second)) out.push_back(Verdict{std::move(l), {}});
    return out;
  }
  // Each target's line in every round that could judge it.
  std::map<std::tuple<int, int, uint32_t, std::string>, size_t> index;
  for (const auto& [round, rs] : byRound) {
    for (auto& l : judge(rs)) {
      auto [it, fresh] = index.try_emplace(std::make_tuple(l.n, l.c, l.d, l.what), out.size());
      if (fresh) out.emplace_back();
      out[it->second].rounds.emplace_back(round, std::move(l));
    }
  }
  for (auto& v : out) v.line = combine(v.rounds);
  return out;
}

// A ratio to three decimals, or null.
json::Value ratioJson(std::optional<double> v) {
  return v ? json::Value(rounded(*v, 3)) : json::Value(nullptr);
}

json::Value lineJson(const TargetLine& l) {
  json::Value j{{"participants", l.n},
                {"clients", l.c},
                {"net_delay_us", l.d},
                {"target", l.what},
                {"met", l.ok}};
  j["ratio"] = ratioJson(l.value);
  j["paced_floor_ratio"] = ratioJson(l.paced);
  return j;
}

}  // namespace

void printTargets(std::ostream& out, const std::vector<RunResult>& runs) {
  size_t rounds = 1;
  const auto all = verdicts(runs, rounds);
  if (all.empty()) return;
  if (rounds == 1) {
    out << "targets (issue 15; the floor at D = 0 is issue 6's; ratios within this run):\n";
  } else {
    out << "targets (issue 15; the floor at D = 0 is issue 6's): judged within each of the "
        << rounds
        << " rounds; the verdict on the rounds' median ratio (an order: on most rounds)\n";
  }
  for (const auto& v : all) printLine(out, v.line);
}

json::Value targetsJson(const std::vector<RunResult>& runs) {
  size_t rounds = 1;
  json::Value out = json::Value::array();
  for (const auto& v : verdicts(runs, rounds)) {
    json::Value j = lineJson(v.line);
    if (!v.rounds.empty()) {
      // The verdict's ratio is the rounds' median; each round's own line beside it.
      json::Value each = json::Value::array();
      for (const auto& [round, l] : v.rounds) {
        json::Value r{{"round", round}, {"met", l.ok}};
        r["ratio"] = ratioJson(l.value);
        each.push_back(std::move(r));
      }
      j["rounds"] = std::move(each);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace pc::bench
