// Deterministic pseudo-random generator (SplitMix64). The core never seeds itself: the
// caller passes the seed in, so the simulator replays a run exactly from its seed.
#pragma once

#include <cstdint>

namespace pc {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); bound == 0 yields 0.
  uint64_t below(uint64_t bound) { return bound == 0 ? 0 : next() % bound; }

  // True with probability num/den.
  bool chance(uint64_t num, uint64_t den) { return below(den) < num; }

 private:
  uint64_t state_;
};

}  // namespace pc
