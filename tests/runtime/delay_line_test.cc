// The emulated network delay of `pcommit bench --net-delay-us` (rpc/delay_line.h): an item
// leaves no earlier than its delay, in push order, and -- the point of the spin before
// the due time -- not later either. If the hold overshoots, every hop of a delay run is
// longer than the link it claims to model, and the report's floor comparison (p50 against
// 2 synced writes + delays x D) charges the emulator's lateness to the protocol.
#include "rpc/delay_line.h"

#include <kj/async-io.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "doctest/doctest.h"

namespace pc::rpc {
namespace {

using Clock = std::chrono::steady_clock;

int64_t microsSince(Clock::time_point from) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - from).count();
}

// Pushes `count` items one after another (the next once the last left) and returns how
// long each was held, in microseconds.
std::vector<int64_t> holdTimes(uint32_t delayUs, int count) {
  auto io = kj::setupAsyncIo();
  DelayLine line(io.unixEventPort, delayUs);
  auto runner =
      line.run().eagerlyEvaluate([](kj::Exception&& e) { FAIL(e.getDescription().cStr()); });
  std::vector<int64_t> held;
  for (int i = 0; i < count; ++i) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    const auto pushed = Clock::now();
    line.push([&held, pushed, f = paf.fulfiller.get()]() {
      held.push_back(microsSince(pushed));
      f->fulfill();
    });
    paf.promise.wait(io.waitScope);
  }
  CHECK(line.pending() == 0);
  return held;
}

int64_t percentile(std::vector<int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

TEST_CASE("delay line: an item is held its delay, never less, and not tens of microseconds more") {
  for (uint32_t d : {500u, 2000u}) {
    CAPTURE(d);
    // A timer alone wakes a sleeping thread late: p50 36-53 us after 500-2,000 us on the
    // CI machine, in every run. With the spin the p50 is within a few microseconds; a
    // machine loaded by others (this test runs alone, RUN_SERIAL, but the host is shared)
    // can spoil one run, so the best of three is held to the bound.
    int64_t best = -1;
    for (int attempt = 0; attempt < 3 && (best < 0 || best > 20); ++attempt) {
      const auto held = holdTimes(d, d == 500 ? 300 : 100);
      for (int64_t h : held) REQUIRE(h >= d);
      const int64_t p50 = percentile(held, 0.5) - d;
      MESSAGE("delay " << d << " us: overshoot p50 " << p50 << " us, p90 "
                       << percentile(held, 0.9) - d << " us");
      if (best < 0 || p50 < best) best = p50;
    }
    CHECK(best <= 20);
  }
}

TEST_CASE("delay line: a short delay waits on the timer, still never early") {
  // 60 us: the spin lead is capped at half the delay (30 us).
  const auto held = holdTimes(60, 200);
  for (int64_t h : held) REQUIRE(h >= 60);
}

TEST_CASE("delay line: items pushed together leave together, in push order") {
  auto io = kj::setupAsyncIo();
  DelayLine line(io.unixEventPort, 500);
  auto runner =
      line.run().eagerlyEvaluate([](kj::Exception&& e) { FAIL(e.getDescription().cStr()); });
  std::vector<int> order;
  auto paf = kj::newPromiseAndFulfiller<void>();
  const auto pushed = Clock::now();
  for (int i = 0; i < 5; ++i) line.push([&order, i]() { order.push_back(i); });
  line.push([f = paf.fulfiller.get()]() { f->fulfill(); });
  CHECK(line.pending() == 6);
  paf.promise.wait(io.waitScope);
  CHECK(microsSince(pushed) >= 500);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(line.pending() == 0);
}

}  // namespace
}  // namespace pc::rpc
