#include "rpc/delay_line.h"

#include <kj/debug.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace pc::rpc {

namespace {
// How far before an item's due time the timer is set; the rest is waited on the CPU.
// A sleeping thread's timer wakes it late on a VM -- on the CI machine 46 us (p50) to 150
// us (p99) after a 500 us timer, 71-770 us after 2,000 us: every hop of the emulated link
// would be that much longer than the delay asked for. Waking this much early and spinning
// to the due time makes the hold exact (p50 0.1 us, p99 70 us; 20 us with a 200 us lead,
// which burns more CPU that the other processes of a one-host benchmark need). Capped at
// half the delay, so a short delay is never mostly a busy wait.
constexpr uint32_t kSpinLeadUs = 100;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

DelayLine::DelayLine(kj::UnixEventPort& port, uint32_t delayUs)
    : delayUs_(delayUs), lead_(std::chrono::microseconds(std::min(kSpinLeadUs, delayUs / 2))) {
  fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd_ < 0) KJ_FAIL_SYSCALL("timerfd_create", errno);
  // The kernel may defer a sleeping thread's wake-up by its timer slack (50 us by default)
  // to batch wake-ups: too coarse for a delay of 100 us. Only processes with a delay set
  // come here (a benchmark setting).
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  observer_ = kj::heap<kj::UnixEventPort::FdObserver>(port, fd_,
                                                      kj::UnixEventPort::FdObserver::OBSERVE_READ);
}

DelayLine::~DelayLine() {
  observer_ = nullptr;  // before its descriptor goes
  if (fd_ >= 0) close(fd_);
}

void DelayLine::push(std::function<void()> item) {
  const auto due = Clock::now() + std::chrono::microseconds(delayUs_);
  items_.emplace_back(due, std::move(item));
  if (!armed_) arm(due);  // else the earlier item's expiry re-arms for this one
}

void DelayLine::arm(Clock::time_point due) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>((due - lead_).time_since_epoch())
          .count();
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  if (timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    KJ_FAIL_SYSCALL("timerfd_settime", errno);
  }
  armed_ = true;
}

void DelayLine::releaseDue() {
  uint64_t expirations = 0;
  while (read(fd_, &expirations, sizeof expirations) < 0 && errno == EINTR) {
  }
  armed_ = false;
  // The timer fired up to lead_ before the first item is due: wait out the rest here.
  auto now = Clock::now();
  if (!items_.empty() && items_.front().first > now && items_.front().first - now <= lead_) {
    const auto due = items_.front().first;
    while ((now = Clock::now()) < due) cpuRelax();
  }
  // Items pushed by the ones handed on now wait their own full delay (they are due later).
  size_t due = 0;
  while (due < items_.size() && items_[due].first <= now) ++due;
  for (size_t i = 0; i < due; ++i) {
    auto item = std::move(items_.front().second);
    items_.pop_front();
    item();
  }
  if (!items_.empty() && !armed_) arm(items_.front().first);
}

kj::Promise<void> DelayLine::run() {
  return observer_->whenBecomesReadable().then([this]() {
    releaseDue();
    return run();
  });
}

}  // namespace pc::rpc
