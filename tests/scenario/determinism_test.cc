#include "tests/scenario/scenario_util.h"

namespace pc::sim::test {

// The same seed replays to the same trace, event for event. If this failed, a printed
// seed would not reproduce its failure (unordered containers, uninitialised state, ...).
TEST_CASE("a seed replays to the same trace hash") {
  for (Protocol p :
       {Protocol::TwoPC, Protocol::PaxosClassic, Protocol::Paxos, Protocol::PaxosDirect}) {
    CAPTURE(toString(p));
    for (uint64_t seed : {3u, 1234u, 98765u}) {
      SimConfig c = randomConfig(p, seed, Overrides{});
      Simulator a(c);
      Simulator b(c);
      a.runRandom();
      b.runRandom();
      CHECK(a.trace().lineCount() > 10);
      CHECK(a.trace().hash() == b.trace().hash());
      CHECK(a.trace().lineCount() == b.trace().lineCount());
    }
    Simulator x(randomConfig(p, 5, Overrides{}));
    Simulator y(randomConfig(p, 6, Overrides{}));
    x.runRandom();
    y.runRandom();
    CHECK(x.trace().hash() != y.trace().hash());
  }
}

// The checker bites: a hand-made violation (an outcome reported both ways) is reported.
// If this failed, the simulator could pass any core, however broken.
TEST_CASE("the checker reports an outcome that changes") {
  Simulator sim(quietConfig(Protocol::Paxos));
  TxnId t = sim.submit();
  CHECK(sim.runUntilDecided(t, 500));
  Checker& checker = sim.checkerForTest();
  SimNode fake;
  fake.name = "fake";
  Output out;
  checker.onLearned(fake, Learned{t, Outcome::Abort}, out, sim.now());
  CHECK(sim.violated());
  CHECK(sim.violation().find("outcome changed") != std::string::npos);
}

}  // namespace pc::sim::test
