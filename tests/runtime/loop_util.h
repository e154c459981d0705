// Driving a KJ event loop from a test: for a while, or until a condition holds.
#pragma once

#include <kj/async-io.h>

#include <cstdint>

namespace pc::test {

// Runs the event loop for `ms` milliseconds.
inline void runFor(kj::AsyncIoContext& io, uint32_t ms) {
  io.provider->getTimer().afterDelay(ms * kj::MILLISECONDS).wait(io.waitScope);
}

// Runs the event loop until `done()` or `ms` milliseconds, whichever first.
template <class Pred>
bool runUntil(kj::AsyncIoContext& io, uint32_t ms, Pred done) {
  for (uint32_t waited = 0; waited < ms && !done(); waited += 5) runFor(io, 5);
  return done();
}

}  // namespace pc::test
