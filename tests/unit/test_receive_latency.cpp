#include "receive_latency.h"

#include <cstdint>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

constexpr int kClockRate = 48000;
constexpr uint32_t kFrame = 960;           // 20 ms of Opus at 48 kHz
constexpr int64_t kFrameUs = 20'000;       // sent every 20 ms
constexpr int64_t kBaseTransitUs = 3'000;  // the fastest one-way time

/* Feeds @count packets, packet i sent at i x 20 ms and delayed by extra_delay_us(i) beyond the
 * fastest transit; returns every raise, in order. */
std::vector<int> feed(ReceiveLatencyController *c, int count,
                      const std::function<int64_t(int)> &extra_delay_us,
                      uint32_t first_timestamp = 1000, int first_packet = 0) {
  std::vector<int> raises;
  for (int i = first_packet; i < first_packet + count; ++i) {
    const int64_t arrival = 1'000'000 + i * kFrameUs + kBaseTransitUs + extra_delay_us(i);
    if (auto raised = c->on_packet(arrival, first_timestamp + static_cast<uint32_t>(i) * kFrame))
      raises.push_back(*raised);
  }
  return raises;
}

TEST(ReceiveLatency, StartsAtTheFloorOnFastNetworksAndAtTheProfileOnCellularOnes) {
  const struct {
    int profile_ms, min_ms, start_ms;
  } cases[] = {
      {60, 20, 20},    // wifi, desktop on an unknown network
      {60, 0, 0},      // a floor of 0 is the caller's choice
      {60, 80, 80},    // a floor above the profile's value
      {120, 20, 120},  // 4g, a phone on an unknown network
      {200, 20, 200},  // 3g, 2g
      {200, 250, 250},
  };
  for (const auto &c : cases)
    EXPECT_EQ(adaptive_start_latency_ms(c.profile_ms, c.min_ms), c.start_ms)
        << c.profile_ms << " " << c.min_ms;
}

TEST(ReceiveLatency, RaisesOnlyForDelaysTheLatencyDoesNotCover) {
  /* Each row: a periodic delay pattern (every packet whose index % period == 0 gets
   * spike_us more; the others none) over 10 s, from 20 ms, ceiling 400. */
  const struct {
    const char *what;
    int period;
    int64_t spike_us;
    std::vector<int> raises;
  } cases[] = {
      {"a clean LAN", 1, 0, {}},
      {"constant extra delay is no jitter", 1, 30'000, {}},
      {"spikes within the latency and margin", 5, 17'000, {}},
      /* 19 + 2 > 20: late; raised to 19 x 1.25 + 2 = 25.75 -> 30. */
      {"spikes just past it", 5, 19'000, {30}},
      /* 50 x 1.25 + 2 = 64.5 -> 70, once: 70 covers 50 with room. */
      {"50 ms spikes every 100 ms", 5, 50'000, {70}},
      /* One spike per 2.2 s never makes two within the 2 s window. */
      {"one spike per 2.2 s is a hiccup", 110, 80'000, {}},
      {"one spike per 1.8 s is not", 90, 80'000, {110}},
      /* 600 x 1.25 + 2 is past the ceiling. */
      {"past the ceiling", 5, 600'000, {400}},
  };
  for (const auto &c : cases) {
    ReceiveLatencyController controller(20, 400, kClockRate);
    std::vector<int> raises =
        feed(&controller, 500, [&](int i) { return i % c.period == 0 ? c.spike_us : 0; });
    EXPECT_EQ(raises, c.raises) << c.what;
    EXPECT_EQ(controller.latency_ms(), c.raises.empty() ? 20 : c.raises.back()) << c.what;
  }
}

TEST(ReceiveLatency, GrowingJitterRaisesInStepsAndNeverLowers) {
  ReceiveLatencyController controller(20, 400, kClockRate);
  /* 3 s of 30 ms spikes, 3 s of 80 ms, then 10 s clean. */
  std::vector<int> raises = feed(&controller, 800, [](int i) -> int64_t {
    if (i % 4 != 1)
      return 0;
    return i < 150 ? 30'000 : i < 300 ? 80'000 : 0;
  });
  /* 30 x 1.25 + 2 = 39.5 -> 40; 80 x 1.25 + 2 = 102 -> 110. */
  EXPECT_EQ(raises, (std::vector<int>{40, 110}));
  EXPECT_EQ(controller.latency_ms(), 110);
}

TEST(ReceiveLatency, TheCeilingStopsIt) {
  ReceiveLatencyController at_ceiling(60, 60, kClockRate);
  EXPECT_TRUE(feed(&at_ceiling, 200, [](int i) { return i % 3 ? 0 : 200'000; }).empty());
  EXPECT_EQ(at_ceiling.latency_ms(), 60);
  /* A ceiling below the start is the start. */
  ReceiveLatencyController low_ceiling(120, 50, kClockRate);
  EXPECT_TRUE(feed(&low_ceiling, 200, [](int i) { return i % 3 ? 0 : 200'000; }).empty());
  EXPECT_EQ(low_ceiling.latency_ms(), 120);
}

TEST(ReceiveLatency, UniformJitterIsCoveredAfterOneOrTwoRaises) {
  /* A link with +-25 ms uniform jitter in order (the emulator's default: a packet waits for
   * the one before): a deterministic stand-in, the delays cycle through 0..50 ms. */
  ReceiveLatencyController controller(20, 400, kClockRate);
  std::vector<int> raises = feed(&controller, 1500, [](int i) { return (i * 37 % 51) * 1000; });
  ASSERT_FALSE(raises.empty());
  EXPECT_LE(raises.size(), 2u);
  EXPECT_GE(controller.latency_ms(), 50);
  EXPECT_LE(controller.latency_ms(), 70);
}

TEST(ReceiveLatency, ClockDriftIsNoDelay) {
  /* The attendee's clock runs 100 ppm slow against the guide's for 60 s: transit falls by
   * 6 ms in all, never a delay. The other way (fast), transit rises 2 µs per packet and the
   * 10 s window keeps the fastest within 1 ms. */
  for (double ppm : {-100.0, 100.0}) {
    ReceiveLatencyController controller(20, 400, kClockRate);
    std::vector<int> raises = feed(
        &controller, 3000, [ppm](int i) { return static_cast<int64_t>(i * kFrameUs * ppm / 1e6); });
    EXPECT_TRUE(raises.empty()) << ppm;
    EXPECT_LT(controller.recent_max_delay_us(), 2'000) << ppm;
  }
}

TEST(ReceiveLatency, TimestampWrapAndNewStreamsKeepTheMeasurementRight) {
  /* Timestamps wrap through 2^32 in the middle: no delay appears. */
  ReceiveLatencyController wrapping(20, 400, kClockRate);
  EXPECT_TRUE(feed(
                  &wrapping, 300, [](int) { return 0; }, 0xFFFFFFFFu - 100 * kFrame)
                  .empty());
  EXPECT_EQ(wrapping.recent_max_delay_us(), 0);

  /* A new stream with unrelated timestamps (a reconnect) is not 10 s of delay. */
  ReceiveLatencyController controller(20, 400, kClockRate);
  feed(
      &controller, 100, [](int) { return 0; }, 1000);
  EXPECT_TRUE(feed(
                  &controller, 100, [](int) { return 0; }, 123'456'789, 100)
                  .empty());
  EXPECT_EQ(controller.recent_max_delay_us(), 0);
  controller.restart_stream();
  EXPECT_TRUE(feed(
                  &controller, 100, [](int) { return 0; }, 5, 200)
                  .empty());
  EXPECT_EQ(controller.latency_ms(), 20);
}

TEST(ReceiveLatency, FirstPacketsArrivingInABurstAreNoDelay) {
  /* The first five packets were held and arrive together with the sixth: each is faster than
   * the one before, so none is late against the fastest seen so far. */
  ReceiveLatencyController controller(20, 400, kClockRate);
  EXPECT_TRUE(feed(&controller, 300, [](int i) -> int64_t {
                return i < 5 ? (5 - i) * kFrameUs : 0;
              }).empty());
  EXPECT_EQ(controller.latency_ms(), 20);
}

}  // namespace
}  // namespace tourcast
