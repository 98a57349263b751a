#include "adaptation.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using L = QualityLevel;

constexpr L kAllLevels[kQualityLevelCount] = {L::kMaximum, L::kHigh, L::kMedium, L::kLow,
                                              L::kMinimum};

TEST(QualityLevelNames, RoundTripAndReject) {
  const char *const names[] = {"maximum", "high", "medium", "low", "minimum"};
  for (int i = 0; i < kQualityLevelCount; ++i) {
    EXPECT_STREQ(to_string(kAllLevels[i]), names[i]);
    L parsed = L::kMedium;
    ASSERT_TRUE(quality_level_from_string(names[i], &parsed)) << names[i];
    EXPECT_EQ(parsed, kAllLevels[i]);
  }
  for (const char *text : {"", "MAXIMUM", "max", "low ", "lowest"}) {
    L parsed = L::kHigh;
    EXPECT_FALSE(quality_level_from_string(text, &parsed)) << text;
    EXPECT_EQ(parsed, L::kHigh);
  }
  EXPECT_STREQ(to_string(static_cast<L>(9)), "unknown");
}

TEST(QualityLevelOrder, StepsSaturate) {
  const struct {
    L level;
    L lower;
    L higher;
  } cases[] = {
      {L::kMaximum, L::kHigh, L::kMaximum}, {L::kHigh, L::kMedium, L::kMaximum},
      {L::kMedium, L::kLow, L::kHigh},      {L::kLow, L::kMinimum, L::kMedium},
      {L::kMinimum, L::kMinimum, L::kLow},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(lower_level(c.level), c.lower) << to_string(c.level);
    EXPECT_EQ(higher_level(c.level), c.higher) << to_string(c.level);
  }
}

TEST(QualityLevelOrder, LowerOfAndIsAbove) {
  for (int a = 0; a < kQualityLevelCount; ++a) {
    for (int b = 0; b < kQualityLevelCount; ++b) {
      EXPECT_EQ(lower_of(kAllLevels[a], kAllLevels[b]), kAllLevels[a > b ? a : b]);
      EXPECT_EQ(is_above(kAllLevels[a], kAllLevels[b]), a < b);
    }
  }
}

TEST(LevelSpec, TheSeedsFiveLevels) {
  const struct {
    L level;
    int bitrate;
    int hz;
    int channels;
    const char *bandwidth;
  } cases[] = {
      {L::kMaximum, 128000, 48000, 2, "fullband"},    {L::kHigh, 96000, 48000, 1, "fullband"},
      {L::kMedium, 64000, 24000, 1, "superwideband"}, {L::kLow, 32000, 16000, 1, "wideband"},
      {L::kMinimum, 16000, 8000, 1, "narrowband"},
  };
  for (const auto &c : cases) {
    const LevelSpec &spec = level_spec(c.level);
    EXPECT_EQ(spec.bitrate_bps, c.bitrate) << to_string(c.level);
    EXPECT_EQ(spec.audio_bandwidth_hz, c.hz) << to_string(c.level);
    EXPECT_EQ(spec.channels, c.channels) << to_string(c.level);
    EXPECT_STREQ(spec.opus_bandwidth, c.bandwidth) << to_string(c.level);
  }
  EXPECT_EQ(level_spec(static_cast<L>(-1)).bitrate_bps, 16000);
  EXPECT_EQ(level_spec(static_cast<L>(5)).bitrate_bps, 16000);
}

TEST(FecPacketLossPercentage, Table) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const struct {
    double loss;
    int percent;
  } cases[] = {
      {0.0, 0},    {1e-12, 3},  {-0.1, 0},  {nan, 0},    {-inf, 0},  {1e-6, 3}, {0.001, 3},
      {0.01, 3},   {0.0101, 4}, {0.03, 5},  {0.0301, 6}, {0.07, 9},  {0.5, 52}, {0.97, 99},
      {0.98, 100}, {0.99, 100}, {1.0, 100}, {2.0, 100},  {inf, 100},
  };
  for (const auto &c : cases)
    EXPECT_EQ(fec_packet_loss_percentage(c.loss), c.percent) << c.loss;
}

TEST(AdaptationTriggers, Defaults) {
  const AdaptationTriggers t;
  EXPECT_EQ(t.rtt_ms, 300.0);
  EXPECT_EQ(t.loss_rate, 0.02);
  EXPECT_EQ(t.jitter_ms, 50.0);
  EXPECT_EQ(t.good_fraction, 0.5);
  EXPECT_EQ(t.upgrade_hold_ms, 20000);
  EXPECT_EQ(t.min_degrade_interval_ms, 5000);
}

}  // namespace
}  // namespace tourcast
