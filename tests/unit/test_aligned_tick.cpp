#include "aligned_tick.h"

#include <gtest/gtest.h>

namespace tourcast {
namespace {

TEST(AlignedTick, NextMultipleStrictlyAfterNow) {
  struct Case {
    int64_t now_us, period_us, next_us;
  } cases[] = {
      {0, 100000, 100000},       // at a multiple: one period later
      {1, 100000, 100000},       //
      {99999, 100000, 100000},   //
      {100000, 100000, 200000},  // fired at a multiple: not again at once
      {123456789, 100000, 123500000},
      {123456789, 1000000, 124000000},
      {5, 1, 6},
  };
  for (const Case &c : cases)
    EXPECT_EQ(next_aligned_tick_us(c.now_us, c.period_us), c.next_us)
        << c.now_us << " / " << c.period_us;
}

TEST(AlignedTick, TimersStartedAtDifferentTimesShareTheirTicks) {
  /* Two 100 ms timers started 37 ms apart fire together from then on. */
  int64_t a = next_aligned_tick_us(1000000 + 12000, 100000);
  int64_t b = next_aligned_tick_us(1000000 + 49000, 100000);
  EXPECT_EQ(a, b);
  for (int i = 0; i < 5; i++) {
    a = next_aligned_tick_us(a, 100000);
    b = next_aligned_tick_us(b, 100000);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a % 100000, 0);
  }
}

}  // namespace
}  // namespace tourcast
