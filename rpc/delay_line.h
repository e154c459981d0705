// DelayLine: an emulated network delay. Every item pushed is handed on `delayUs`
// microseconds later, in push order, on the event loop that owns the line. The transport
// puts one in front of its outbound queues when `net-delay-us` is set (a benchmark setting,
// `pcommit bench --net-delay-us`): each message a process sends over the network then
// arrives one such delay later, as over a link with that one-way latency. The transport
// pushes one item per event-loop turn (every message sent in it), so messages sent together
// are released together and still share a deliver() call per destination.
//
// Why in the process and not in the kernel: the network emulator qdisc (netem) is what a
// test bed would use, but kernels built without CONFIG_NET_SCH_NETEM (this project's CI
// machines) cannot; a timerfd gives microsecond deadlines here, where the event loop's own
// timer (epoll_wait's millisecond timeout) would round 100 us up to a millisecond. The timer
// is set up to 100 us (at most half the delay) before the due time and the rest is waited
// on the CPU: a timer wakes a sleeping thread tens of microseconds late on a VM, which a
// real link does not add to every hop (delay_line.cc). What this does not model: delay of
// TCP acks and the handshake, jitter, loss, bandwidth.
//
// Ownership: one per Transport, on its event-loop thread; not thread-safe. run() must be
// kept (a task of the owner) while items are pending; dropping it cancels the waiting.
#pragma once

#include <kj/async-unix.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>

namespace pc::rpc {

class DelayLine {
 public:
  // Throws kj::Exception if the timerfd cannot be made.
  DelayLine(kj::UnixEventPort& port, uint32_t delayUs);
  ~DelayLine();
  DelayLine(const DelayLine&) = delete;
  DelayLine& operator=(const DelayLine&) = delete;

  void push(std::function<void()> item);
  // Hands on the due items whenever the timer fires; never resolves.
  kj::Promise<void> run();
  size_t pending() const { return items_.size(); }
  uint32_t delayUs() const { return delayUs_; }

 private:
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the timerfd
  void arm(Clock::time_point due);
  void releaseDue();

  const uint32_t delayUs_;
  const Clock::duration lead_;  // the timer is set this much before the due time (spin)
  int fd_ = -1;
  kj::Own<kj::UnixEventPort::FdObserver> observer_;
  std::deque<std::pair<Clock::time_point, std::function<void()>>> items_;
  bool armed_ = false;
};

}  // namespace pc::rpc
