// Shared set-up for the named scenario tests: a quiet cluster (no random faults, one-tick
// messages) on the deterministic simulator, and small scripting helpers.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tests/sim/sim.h"

namespace pc::sim::test {

inline SimConfig quietConfig(Protocol p, int participants = 3, int f = 1) {
  SimConfig c;
  c.seed = 42;
  c.core.protocol = p;
  c.core.fanOut = FanOut::All;
  c.core.f = f;
  c.participants = participants;
  c.coordinators = 2;
  c.clients = 1;
  c.faults = FaultRates{};
  c.faults.delayTicksMax = 1;
  c.faults.diskTicksMax = 0;
  c.core.recoveryTimeoutTicks = 30;
  c.core.recoveryJitterTicks = 10;
  c.core.prepareRetryTicks = 20;
  c.core.leaderTimeoutTicks = 60;
  c.core.ballotRetryTicks = 15;
  c.core.bundleCapTicks = 2;
  c.core.ackRequestTicks = 200;
  c.clientRetryTicks = 100;
  return c;
}

// Every participant of `txn` has durably reached `state`.
inline bool allIn(const Simulator& sim, const TxnId& txn, ParticipantState state) {
  for (NodeId p : sim.participantIds()) {
    auto s = sim.durableState(p, txn);
    if (!s || *s != state) return false;
  }
  return true;
}

// Submits a put on every participant through coordinator c1 and crashes c1 the moment all
// its Prepare messages have left (no vote has reached it yet).
inline TxnId submitAndCrashCoordinatorAfterPrepares(Simulator& sim) {
  size_t prepares = 0;
  TxnId txn = sim.submit({}, 0, 0);
  sim.setFilter([&](const Envelope& e) {
    if (std::holds_alternative<Prepare>(e.msg) && messageTxn(e.msg) == txn) ++prepares;
    return Fate::Random;
  });
  sim.runUntil([&] { return prepares >= sim.participantIds().size(); }, 100);
  sim.setFilter(nullptr);
  REQUIRE(prepares == sim.participantIds().size());
  sim.crash(sim.coordinatorIds()[0], "after its prepares left");
  return txn;
}

#define PC_CHECK_SAFE(sim) CHECK_MESSAGE(!(sim).violated(), (sim).violation())

}  // namespace pc::sim::test
