// Spin budget of a device poll thread in busy-poll mode.
//
// After each burst of work the thread may spin for a while before it sleeps in poll(): worth it
// only if the next frame usually comes sooner than a sleep and a wake-up would take. The budget
// follows the observed gap between going idle and the next work (an exponentially weighted
// average, weight 1/8): twice that gap, capped by the device's busy_poll_us. When frames come
// further apart than the cap, the thread sleeps at once; an idle device never spins longer than
// the cap after its last frame, and not at all once the gaps have grown.
#ifndef LKL_LIB_NET_BUSY_POLL_H
#define LKL_LIB_NET_BUSY_POLL_H

#include <algorithm>
#include <cstdint>

namespace lkl::net {

class BusyPollBudget {
 public:
  // cap_ns 0: busy polling off (the budget is always 0).
  explicit BusyPollBudget(std::uint64_t cap_ns) noexcept : cap_ns_(cap_ns), gap_ns_(cap_ns / 2) {}

  // The thread found no work at now_ns and is going idle.
  void idle(std::uint64_t now_ns) noexcept {
    if (!idle_) idle_since_ = now_ns;
    idle_ = true;
  }

  // The thread found work at now_ns: the gap since it went idle, if it was, is a sample.
  void work(std::uint64_t now_ns) noexcept {
    if (idle_ && now_ns >= idle_since_) {
      const std::uint64_t gap = std::min(now_ns - idle_since_, 16 * cap_ns_);
      gap_ns_ = gap_ns_ - gap_ns_ / 8 + gap / 8;
    }
    idle_ = false;
  }

  // How long the thread may still spin at now_ns before it sleeps (0: sleep now).
  std::uint64_t remaining(std::uint64_t now_ns) const noexcept {
    const std::uint64_t budget = budget_ns();
    if (!idle_ || budget == 0) return budget;
    const std::uint64_t spent = now_ns >= idle_since_ ? now_ns - idle_since_ : 0;
    return spent < budget ? budget - spent : 0;
  }

  // The spin budget after going idle: twice the average gap, 0 if that exceeds the cap.
  std::uint64_t budget_ns() const noexcept {
    if (cap_ns_ == 0 || gap_ns_ > cap_ns_) return 0;
    return std::min(2 * gap_ns_, cap_ns_);
  }

  std::uint64_t average_gap_ns() const noexcept { return gap_ns_; }

 private:
  std::uint64_t cap_ns_;
  std::uint64_t gap_ns_;
  std::uint64_t idle_since_ = 0;
  bool idle_ = false;
};

}  // namespace lkl::net

#endif  // LKL_LIB_NET_BUSY_POLL_H
