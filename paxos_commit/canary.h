// Planted bugs for canary builds only (CMake builds a separate core per canary; the
// production library is always built with PC_CANARY=0). A canary build exists to prove
// that the simulator's checker catches a real safety bug: a checker that never fails
// proves nothing.
//   1: a recovery leader always proposes Aborted (ignores a reported Prepared vote);
//   2: an acceptor forgets mbal on restart (reloads mbal = bal);
//   3: the durable-before-send pipeline releases one send before its record is durable.
//   4: a vote tally counts 2b from any acceptor id, member of the cluster or not.
//   5: a 2pc-replicated coordinator sends Commit with its proposal, before F+1 2b.
//   6: an acceptor never announces its bundle cap's tick (Output::wakeAtTick), so a host
//      that ticks only on the wake-ups announced would never flush a waiting bundle.
#pragma once

#ifndef PC_CANARY
#define PC_CANARY 0
#endif

namespace pc {
inline constexpr int kCanary = PC_CANARY;
inline constexpr int kCanaryAlwaysAbort = 1;
inline constexpr int kCanaryForgetMbal = 2;
inline constexpr int kCanaryEarlySend = 3;
inline constexpr int kCanaryAnyAcceptor = 4;
inline constexpr int kCanaryEarlyOutcome = 5;
inline constexpr int kCanarySilentTimer = 6;
}  // namespace pc
