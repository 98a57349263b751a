// When a periodic timer aligned to its period fires next.
//
// A worker thread serving many attendees wakes once per timer expiry, and each wake-up
// walks all its sources and sockets; timers that fire on the same multiples of their period
// share one wake-up. Pure: times are microseconds of a monotonic clock, passed in.
#pragma once

#include <cstdint>

namespace tourcast {

// The first multiple of @period_us strictly after @now_us (@now_us >= 0, @period_us > 0):
// a timer that fired at a multiple is due one period later, never again at once.
constexpr int64_t next_aligned_tick_us(int64_t now_us, int64_t period_us) {
  return (now_us / period_us + 1) * period_us;
}

}  // namespace tourcast
