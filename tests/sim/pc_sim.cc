// pc_sim: the deterministic simulator's command line. Runs seeds of the random workload
// under faults in each mode and prints one summary line per mode; on a violation prints
// the seed, the violation, the trace tail and the replay command, and exits 1.
//
//   pc_sim --mode paxos --seeds 2000            2,000 seeds of faster Paxos Commit
//   pc_sim --mode all --seeds 500 --first-seed 9000
//   pc_sim --mode 2pc --seed 17 --trace         replay one seed, printing every event
//   pc_sim --demo                               the narrated demo
//   pc_sim_canary_abort --mode paxos --seeds 3000 --expect-violation
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "paxos_commit/canary.h"
#include "tests/sim/demo.h"
#include "tests/sim/sim.h"

namespace {

using pc::Protocol;
using pc::sim::Simulator;

struct Args {
  std::vector<Protocol> modes;
  uint64_t firstSeed = 1;
  uint64_t seeds = 100;
  bool trace = false;
  bool demo = false;
  bool expectViolation = false;
  bool determinism = false;
  bool keepGoing = false;
  pc::sim::Overrides overrides;
};

// For the SIGABRT handler: a PC_ASSERT inside the core aborts the process; say which seed.
const Simulator* gSim = nullptr;
std::string gReplay;
bool gExpectViolation = false;

extern "C" void onAbort(int) {
  if (gSim != nullptr) {
    std::string report = pc::sim::failureReport(*gSim, gReplay);
    std::fprintf(stderr, "PC_ASSERT fired inside the core during this run:\n%s", report.c_str());
    if (gExpectViolation) {
      std::fprintf(stderr, "canary caught (by an assertion) at seed %llu\n",
                   static_cast<unsigned long long>(gSim->config().seed));
    }
  }
  std::fflush(stderr);
  _exit(gExpectViolation ? 0 : 1);
}

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "pc_sim: " << problem << "\n"
            << "usage: pc_sim [--mode 2pc|paxos-classic|paxos|paxos-direct|2pc-replicated|all]\n"
            << "              [--seeds N]\n"
            << "              [--seed S | --first-seed S] [--trace] [--participants N]\n"
            << "              [--f F] [--fanout all|quorum] [--caps random|tiny|default]\n"
            << "              [--forged on|off|random]\n"
            << "              [--expect-violation] [--keep-going] [--determinism] | --demo\n";
  std::exit(64);
}

uint64_t number(const std::string& flag, const char* text, uint64_t min, uint64_t max) {
  if (text == nullptr) usage(flag + " needs a value");
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
    usage(flag + " wants a number in [" + std::to_string(min) + ", " + std::to_string(max) +
          "], got '" + text + "'");
  }
  return static_cast<uint64_t>(v);
}

Args parse(int argc, char** argv) {
  Args a;
  bool seedGiven = false;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (f == "--mode") {
      if (v == nullptr) usage("--mode needs a value");
      std::string m = v;
      ++i;
      if (m == "all") {
        a.modes = {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect,
                   Protocol::TwoPCReplicated};
      } else if (auto p = pc::parseProtocol(m)) {
        a.modes = {*p};
      } else {
        usage("unknown mode '" + m + "'");
      }
    } else if (f == "--seeds") {
      a.seeds = number(f, v, 1, 100000000);
      ++i;
    } else if (f == "--seed") {
      a.firstSeed = number(f, v, 0, UINT64_MAX);
      a.seeds = 1;
      seedGiven = true;
      ++i;
    } else if (f == "--first-seed") {
      a.firstSeed = number(f, v, 0, UINT64_MAX);
      ++i;
    } else if (f == "--participants") {
      a.overrides.participants = static_cast<int>(number(f, v, 1, 16));
      ++i;
    } else if (f == "--f") {
      a.overrides.f = static_cast<int>(number(f, v, 0, 2));
      ++i;
    } else if (f == "--fanout") {
      if (v == nullptr) usage("--fanout needs a value");
      auto fo = pc::parseFanOut(v);
      if (!fo) usage(std::string("unknown fan-out '") + v + "'");
      a.overrides.fanOut = static_cast<int>(*fo);
      ++i;
    } else if (f == "--caps") {
      if (v == nullptr) usage("--caps needs a value");
      std::string c = v;
      if (c == "tiny") {
        a.overrides.tinyCaps = 1;
      } else if (c == "default") {
        a.overrides.tinyCaps = 0;
      } else if (c != "random") {
        usage("--caps wants random, tiny or default, got '" + c + "'");
      }
      ++i;
    } else if (f == "--forged") {
      if (v == nullptr) usage("--forged needs a value");
      std::string c = v;
      if (c == "on") {
        a.overrides.forged = 1;
      } else if (c == "off") {
        a.overrides.forged = 0;
      } else if (c != "random") {
        usage("--forged wants on, off or random, got '" + c + "'");
      }
      ++i;
    } else if (f == "--trace") {
      a.trace = true;
    } else if (f == "--demo") {
      a.demo = true;
    } else if (f == "--expect-violation") {
      a.expectViolation = true;
    } else if (f == "--keep-going") {
      a.keepGoing = true;
    } else if (f == "--determinism") {
      a.determinism = true;
    } else if (f == "--help" || f == "-h") {
      usage("help");
    } else {
      usage("unknown flag '" + f + "'");
    }
  }
  if (seedGiven && a.seeds != 1) usage("--seed runs one seed; use --first-seed with --seeds");
  if (a.modes.empty()) a.modes = {Protocol::Paxos};
  return a;
}

std::string replayCommand(const char* argv0, Protocol p, uint64_t seed, const Args& a) {
  std::string s =
      std::string(argv0) + " --mode " + pc::toString(p) + " --seed " + std::to_string(seed);
  if (a.overrides.participants > 0)
    s += " --participants " + std::to_string(a.overrides.participants);
  if (a.overrides.f >= 0) s += " --f " + std::to_string(a.overrides.f);
  if (a.overrides.fanOut > 0) {
    s += std::string(" --fanout ") + pc::toString(static_cast<pc::FanOut>(a.overrides.fanOut));
  }
  if (a.overrides.tinyCaps >= 0)
    s += a.overrides.tinyCaps == 1 ? " --caps tiny" : " --caps default";
  if (a.overrides.forged >= 0) s += a.overrides.forged == 1 ? " --forged on" : " --forged off";
  return s + " --trace";
}

std::string summary(Protocol p, uint64_t seeds, uint64_t first, const pc::sim::Stats& s,
                    uint64_t violations, double seconds) {
  using pc::sim::Role;
  auto crashes = [&](Role r) {
    auto it = s.crashes.find(r);
    return std::to_string(it == s.crashes.end() ? 0 : it->second);
  };
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1fs", seconds);
  return std::string("mode=") + pc::toString(p) + " seeds=" + std::to_string(seeds) + " (" +
         std::to_string(first) + ".." + std::to_string(first + seeds - 1) + ")" +
         " txns=" + std::to_string(s.txns) + " committed=" + std::to_string(s.committed) +
         " aborted=" + std::to_string(s.aborted) + " forgotten=" + std::to_string(s.forgotten) +
         " undecided=" + std::to_string(s.undecided) + " | msgs=" + std::to_string(s.messagesSent) +
         " dropped=" + std::to_string(s.dropped) + " duplicated=" + std::to_string(s.duplicated) +
         " late=" + std::to_string(s.late) + " partitions=" + std::to_string(s.partitions) +
         " crashes: coord=" + crashes(Role::Coordinator) + " part=" + crashes(Role::Participant) +
         " acc=" + crashes(Role::Acceptor) + " client=" + crashes(Role::Client) +
         " (after-persist=" + std::to_string(s.crashesAfterPersist) +
         " mid-send=" + std::to_string(s.crashesMidSend) +
         ") recoveries=" + std::to_string(s.recoveries) + " forged=" + std::to_string(s.forged) +
         " | max ticks to decide=" + std::to_string(s.maxDecideTicks) + " (after heal " +
         std::to_string(s.maxDecideAfterHeal) + ", seed " + std::to_string(s.maxDecideSeed) + ")" +
         " checks=" + std::to_string(s.checks) + " violations=" + std::to_string(violations) +
         " | " + secs;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  if (a.demo) return pc::sim::runDemo(std::cout);
  gExpectViolation = a.expectViolation;
  std::signal(SIGABRT, onAbort);
  if (pc::kCanary != 0) std::cout << "canary build: PC_CANARY=" << pc::kCanary << "\n";

  int exitCode = 0;
  for (Protocol p : a.modes) {
    auto start = std::chrono::steady_clock::now();
    pc::sim::Stats total;
    uint64_t violations = 0;
    uint64_t ran = 0;
    bool nondeterministic = false;
    for (uint64_t k = 0; k < a.seeds; ++k) {
      uint64_t seed = a.firstSeed + k;
      pc::sim::SimConfig cfg = pc::sim::randomConfig(p, seed, a.overrides);
      gReplay = replayCommand(argv[0], p, seed, a);
      Simulator sim(cfg);
      if (a.trace) sim.trace().setEcho(&std::cout);
      gSim = &sim;
      bool ok = sim.runRandom();
      gSim = nullptr;
      ++ran;
      total.add(sim.stats());
      if (a.determinism) {
        // A failing seed must replay exactly too: that is what makes it debuggable.
        Simulator again(cfg);
        again.runRandom();
        if (again.trace().hash() != sim.trace().hash() ||
            again.trace().lineCount() != sim.trace().lineCount()) {
          std::cout << "NONDETERMINISM seed=" << seed << " mode=" << pc::toString(p)
                    << ": trace hash " << sim.trace().hash() << " then " << again.trace().hash()
                    << "\n";
          exitCode = 1;
          nondeterministic = true;
          break;
        }
      }
      if (!ok) {
        ++violations;
        if (a.keepGoing || a.determinism) {
          // One line per failing seed; replay one to see its trace.
          std::cout << "VIOLATION seed=" << seed << " mode=" << pc::toString(p) << ": "
                    << sim.violation() << "\n";
          continue;
        }
        std::cout << pc::sim::failureReport(sim, gReplay);
        if (a.expectViolation) {
          std::cout << "canary caught at seed " << seed << " (mode " << pc::toString(p)
                    << ", after " << ran << " seeds)\n";
        }
        break;
      }
    }
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << summary(p, ran, a.firstSeed, total, violations, seconds) << "\n";
    if (a.determinism && !nondeterministic) {
      std::cout << "determinism: " << ran << " seeds each ran twice with identical trace hashes\n";
    }
    if (a.determinism) {
      // Only a replay that differs fails a determinism run.
    } else if (a.expectViolation) {
      if (violations == 0) {
        std::cout << "expected a violation in mode " << pc::toString(p) << " within " << ran
                  << " seeds, found none: the checker does not bite\n";
        exitCode = 1;
      }
    } else if (violations > 0) {
      exitCode = 1;
    }
    std::cout.flush();
  }
  return exitCode;
}
