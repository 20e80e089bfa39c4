// SPDX-License-Identifier: GPL-2.0
//
// The spin budget of a device poll thread in busy-poll mode (net/busy_poll.h): it follows the
// gap between going idle and the next frame, never exceeds the device's cap, and drops to zero
// when frames come further apart than the cap. Pure arithmetic on given times: no kernel.
#include <gtest/gtest.h>

#include <cstdint>

#include "net/busy_poll.h"

namespace {

using lkl::net::BusyPollBudget;

constexpr std::uint64_t kUs = 1000;

// Feeds @rounds of "idle at t, work at t + gap" and returns the time after the last one.
std::uint64_t Feed(BusyPollBudget *b, std::uint64_t t, std::uint64_t gap, int rounds) {
  for (int i = 0; i < rounds; i++) {
    b->idle(t);
    t += gap;
    b->work(t);
    t += 5 * kUs;  // the work itself
  }
  return t;
}

TEST(BusyPollBudgetTest, OffMeansNoSpinning) {
  BusyPollBudget b(0);
  EXPECT_EQ(b.budget_ns(), 0U);
  b.idle(100);
  EXPECT_EQ(b.remaining(100), 0U);
}

TEST(BusyPollBudgetTest, StartsAtTheCap) {
  BusyPollBudget b(50 * kUs);
  EXPECT_EQ(b.budget_ns(), 50 * kUs);
  b.idle(1000);
  EXPECT_EQ(b.remaining(1000), 50 * kUs);
  EXPECT_EQ(b.remaining(1000 + 20 * kUs), 30 * kUs);
  EXPECT_EQ(b.remaining(1000 + 60 * kUs), 0U);
}

TEST(BusyPollBudgetTest, ShortGapsShrinkTheBudgetToTwiceTheGap) {
  BusyPollBudget b(50 * kUs);
  Feed(&b, 0, 5 * kUs, 100);
  EXPECT_NEAR(static_cast<double>(b.average_gap_ns()), 5.0 * kUs, 0.5 * kUs);
  EXPECT_NEAR(static_cast<double>(b.budget_ns()), 10.0 * kUs, 1.0 * kUs);
}

TEST(BusyPollBudgetTest, SparseFramesStopTheSpinning) {
  BusyPollBudget b(50 * kUs);
  const std::uint64_t t = Feed(&b, 0, 10 * 1000 * kUs, 40);  // 10 ms apart
  EXPECT_EQ(b.budget_ns(), 0U);
  b.idle(t);
  EXPECT_EQ(b.remaining(t), 0U);
}

TEST(BusyPollBudgetTest, ComesBackWhenFramesComeCloserAgain) {
  BusyPollBudget b(50 * kUs);
  std::uint64_t t = Feed(&b, 0, 10 * 1000 * kUs, 40);
  ASSERT_EQ(b.budget_ns(), 0U);
  t = Feed(&b, t, 2 * kUs, 200);
  EXPECT_GT(b.budget_ns(), 0U);
  EXPECT_LE(b.budget_ns(), 50 * kUs);
}

TEST(BusyPollBudgetTest, NeverAboveTheCap) {
  BusyPollBudget b(50 * kUs);
  for (std::uint64_t gap : {1 * kUs, 20 * kUs, 24 * kUs, 25 * kUs, 40 * kUs, 49 * kUs}) {
    BusyPollBudget c(50 * kUs);
    Feed(&c, 0, gap, 200);
    EXPECT_LE(c.budget_ns(), 50 * kUs) << "gap " << gap;
  }
  // Idle for a long time: the budget counts down to zero and stays there.
  b.idle(0);
  EXPECT_EQ(b.remaining(1000 * 1000 * kUs), 0U);
}

TEST(BusyPollBudgetTest, ClockGoingBackIsHarmless) {
  BusyPollBudget b(50 * kUs);
  b.idle(1000 * kUs);
  b.work(10 * kUs);  // earlier than idle: no sample
  EXPECT_EQ(b.budget_ns(), 50 * kUs);
  b.idle(1000 * kUs);
  EXPECT_EQ(b.remaining(10 * kUs), 50 * kUs);
}

}  // namespace
