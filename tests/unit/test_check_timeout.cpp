#include "check_timeout.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

TEST(CheckTimeout, TwiceTheFirstRequestDelayPlusMarginWithinLibnicesFloorAndTheCap) {
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  const struct {
    int64_t delay_ms;
    int64_t timeout_ms;
  } cases[] = {
      {kMin64, 500},                // no measurement: libnice's own
      {-1, 500},     {0, 500},      // loopback: libnice's floor
      {20, 500},                    // LAN
      {149, 500},                   // 2 x 149 + 200 = 498
      {150, 500},                   // exactly the floor
      {151, 502},                   // just above it
      {330, 860},                   // attendee on a satellite hop: 300 ms one way + scheduling
      {650, 1500},                  // guide on the same hop: the whole round trip
      {1399, 2998},  {1400, 3000},  // the cap
      {1401, 3000},  {60000, 3000}, {kMax64, 3000},  // no overflow
  };
  for (const auto &c : cases)
    EXPECT_EQ(check_timeout_for_first_request_delay(c.delay_ms), c.timeout_ms) << c.delay_ms;
}

TEST(CheckTimeout, CoversTheRoundTripWhenTheDelayIsHalfOfIt) {
  /* The attendee's measurement: one one-way trip (signaling instant). The RTO must
   * exceed the round trip with room for the jitter, or libnice forgets replaced checks
   * before their responses arrive. */
  for (int64_t one_way = 0; one_way <= 1400; one_way += 10)
    EXPECT_GT(check_timeout_for_first_request_delay(one_way),
              std::min<int64_t>(2 * one_way + 100, kMaxCheckTimeoutMs - 1))
        << one_way;
}

}  // namespace
}  // namespace tourcast
