#include "check_timeout.h"

#include <algorithm>
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

TEST(CheckTimeout, OnlyAPeersOwnAgentTakesTheLongerTimeout) {
  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  const struct {
    int64_t delay_ms;
    CheckAgent agent;
    int64_t timeout_ms;
  } cases[] = {
      {20, CheckAgent::kOwn, 500},         // LAN
      {330, CheckAgent::kOwn, 860},        // satellite attendee
      {1400, CheckAgent::kOwn, 3000},      // the cap
      {-1, CheckAgent::kOwn, 500},         // no measurement
      {20, CheckAgent::kShared, 500},      // LAN: the same
      {650, CheckAgent::kShared, 500},     // the guide on a satellite hop: not raised
      {1400, CheckAgent::kShared, 500},    // a storm's late check: not raised
      {kMin64, CheckAgent::kShared, 500},  // no measurement
      {kMax64, CheckAgent::kShared, 500},  // no overflow
  };
  for (const auto &c : cases)
    EXPECT_EQ(check_timeout_for_agent(c.delay_ms, c.agent), c.timeout_ms)
        << c.delay_ms << " / " << static_cast<int>(c.agent);
}

TEST(CheckTimeout, IdleTimeoutKeepsLibnicesGraceWhenTaIsRaisedUnderARunningTick) {
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  const struct {
    int64_t pacing_ms, tick_ms, idle_ms;
  } cases[] = {
      {5, 5, 5000},        // Ta not raised: libnice's own
      {3, 5, 5000},        // below the tick: libnice's own
      {500, 0, 5000},      // no tick known
      {500, -5, 5000},     // nonsense tick
      {-1, 5, 5000},       // nonsense Ta
      {6, 5, 6000},        // just above the tick
      {7, 3, 11667},       // rounded up
      {59, 5, 59000},      // below libnice's cap
      {60, 5, 60000},      // libnice's cap
      {61, 5, 60000},      // past it
      {812, 5, 60000},     // the satellite attendee: 74 ticks, 370 ms
      {3000, 1, 60000},    // the largest check timeout
      {kMax64, 1, 60000},  // no overflow
  };
  for (const auto &c : cases)
    EXPECT_EQ(idle_timeout_for_pacing(c.pacing_ms, c.tick_ms), c.idle_ms)
        << c.pacing_ms << " / " << c.tick_ms;
}

TEST(CheckTimeout, TicksOfTheRaisedTaLastLibnicesGraceUpToItsCap) {
  /* libnice adds Ta per idle tick and gives up once the sum reaches idle-timeout. */
  for (int64_t tick = 1; tick <= 50; tick += 7)
    for (int64_t pacing = tick; pacing <= kMaxCheckTimeoutMs; pacing += 37) {
      const int64_t idle = idle_timeout_for_pacing(pacing, tick);
      EXPECT_LE(idle, kLibniceMaxIdleTimeoutMs);
      const int64_t ticks = (idle + pacing - 1) / pacing;
      const int64_t uncapped_ticks = (kLibniceIdleTimeoutMs + tick - 1) / tick;
      EXPECT_GE(ticks, std::min(uncapped_ticks, kLibniceMaxIdleTimeoutMs / pacing))
          << pacing << " / " << tick;
    }
}

}  // namespace
}  // namespace tourcast
