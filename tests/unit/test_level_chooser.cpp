#include "adaptation.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using L = QualityLevel;
using std::nullopt;

// A report as compute_metrics() would produce it; a known loss needs packets received.
ConnectionMetrics report(std::optional<double> rtt, std::optional<double> loss,
                         std::optional<double> jitter) {
  ConnectionMetrics m;
  m.rtt_ms = rtt;
  m.jitter_ms = jitter;
  if (loss) {
    m.packets_received = 1000;
    m.loss_rate = *loss;
  }
  return m;
}

const ConnectionMetrics kGood = report(40, 0.0, 5);
const ConnectionMetrics kBad = report(40, 0.06, 5);
// Below the 2% trigger but above the 1% "good" line.
const ConnectionMetrics kBorderline = report(40, 0.015, 5);
const ConnectionMetrics kUnknown = report(nullopt, nullopt, nullopt);

void expect_unchanged(const Decision &d, L level) {
  EXPECT_FALSE(d.changed);
  EXPECT_EQ(d.from, level);
  EXPECT_EQ(d.to, level);
  EXPECT_EQ(d.reason, "");
}

void expect_move(const Decision &d, L from, L to, const std::string &reason) {
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(d.from, from);
  EXPECT_EQ(d.to, to);
  EXPECT_EQ(d.reason, reason);
}

TEST(LevelChooser, InitialLevelIsCappedByCeiling) {
  EXPECT_EQ(LevelChooser(L::kMaximum, L::kMedium).level(), L::kMedium);
  EXPECT_EQ(LevelChooser(L::kLow, L::kHigh).level(), L::kLow);
  const LevelChooser chooser(L::kHigh, L::kMaximum);
  EXPECT_EQ(chooser.ceiling(), L::kMaximum);
  EXPECT_EQ(chooser.cap(), L::kMaximum);
  EXPECT_EQ(chooser.manual(), nullopt);
  EXPECT_FALSE(chooser.battery_saving());
}

TEST(LevelChooser, DegradeReasons) {
  const struct {
    ConnectionMetrics metrics;
    const char *reason;  // nullptr: no change
  } cases[] = {
      {report(450, nullopt, nullopt), "rtt 450 ms > 300 ms"},
      {report(nullopt, 0.06, nullopt), "loss 6.0% > 2.0%"},
      {report(nullopt, nullopt, 80), "jitter 80 ms > 50 ms"},
      {report(450, 0.06, 80), "rtt 450 ms > 300 ms, loss 6.0% > 2.0%, jitter 80 ms > 50 ms"},
      {report(300.4, 0.0, 0), "rtt 300.4 ms > 300 ms"},
      {report(10, 0.0201, 0), "loss 2.01% > 2.0%"},
      {report(10, 1.0, 600000), "loss 100.0% > 2.0%, jitter 600000 ms > 50 ms"},
      // Exactly at a trigger is not past it.
      {report(300, 0.02, 50), nullptr},
  };
  for (const auto &c : cases) {
    LevelChooser chooser(L::kHigh, L::kMaximum);
    const Decision d = chooser.on_report(c.metrics, 1000);
    if (c.reason) {
      expect_move(d, L::kHigh, L::kMedium, c.reason);
    } else {
      expect_unchanged(d, L::kHigh);
    }
  }
}

TEST(LevelChooser, UnknownMeasurementsNeverTrigger) {
  ConnectionMetrics nothing_received = report(nullopt, nullopt, nullopt);
  nothing_received.loss_rate = 0.5;  // meaningless without packets received
  for (const ConnectionMetrics &m : {kUnknown, nothing_received}) {
    LevelChooser chooser(L::kMedium, L::kMaximum);
    for (int64_t t = 0; t <= 200000; t += 1000)
      expect_unchanged(chooser.on_report(m, t), L::kMedium);
  }
}

TEST(LevelChooser, SustainedTroubleWalksDownOneLevelPerInterval) {
  LevelChooser chooser(L::kMaximum, L::kMaximum);
  const struct {
    int64_t t;
    L level;
  } steps[] = {
      {0, L::kHigh},        {1000, L::kHigh},     {4999, L::kHigh},
      {5000, L::kMedium},   {9000, L::kMedium},   {10000, L::kLow},
      {15000, L::kMinimum}, {20000, L::kMinimum}, {60000, L::kMinimum},
  };
  for (const auto &s : steps) {
    chooser.on_report(kBad, s.t);
    EXPECT_EQ(chooser.level(), s.level) << s.t;
  }
}

TEST(LevelChooser, BurstOfBadReportsCostsOneLevel) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  for (int64_t t = 0; t < 5000; t += 100)
    chooser.on_report(kBad, t);
  EXPECT_EQ(chooser.level(), L::kMedium);
}

TEST(LevelChooser, UpgradesOneLevelPerHold) {
  LevelChooser chooser(L::kLow, L::kMaximum);
  std::vector<std::pair<int64_t, L>> moves;
  for (int64_t t = 0; t <= 100000; t += 5000) {
    const Decision d = chooser.on_report(kGood, t);
    if (d.changed) {
      EXPECT_EQ(d.reason, "good for 20000 ms");
      moves.emplace_back(t, d.to);
    }
  }
  const std::vector<std::pair<int64_t, L>> expected = {
      {20000, L::kMedium}, {40000, L::kHigh}, {60000, L::kMaximum}};
  EXPECT_EQ(moves, expected);
}

TEST(LevelChooser, BadOrBorderlineOrUnknownReportRestartsTheHold) {
  const struct {
    const ConnectionMetrics *interruption;
    L after;
  } cases[] = {{&kBad, L::kLow}, {&kBorderline, L::kMedium}, {&kUnknown, L::kMedium}};
  for (const auto &c : cases) {
    LevelChooser chooser(L::kMedium, L::kMaximum);
    for (int64_t t = 0; t <= 15000; t += 5000)
      chooser.on_report(kGood, t);
    chooser.on_report(*c.interruption, 16000);
    const L after = chooser.level();
    EXPECT_EQ(after, c.after);
    expect_unchanged(chooser.on_report(kGood, 17000), after);
    expect_unchanged(chooser.on_report(kGood, 36999), after);
    expect_move(chooser.on_report(kGood, 37000), after, higher_level(after), "good for 20000 ms");
  }
}

TEST(LevelChooser, BorderlineNeverMovesEitherWay) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  for (int64_t t = 0; t <= 600000; t += 1000)
    expect_unchanged(chooser.on_report(kBorderline, t), L::kHigh);
}

TEST(LevelChooser, AlternatingBorderlineReportsDoNotOscillate) {
  // Either side of each threshold, alternately, every second for ten minutes.
  const std::vector<std::pair<ConnectionMetrics, ConnectionMetrics>> pairs = {
      {report(40, 0.021, 5), report(40, 0.019, 5)},  // around the loss trigger
      {report(40, 0.011, 5), report(40, 0.009, 5)},  // around the "good" line
      {report(301, 0.0, 5), report(299, 0.0, 5)},    // around the RTT trigger
      {report(40, 0.0, 51), report(40, 0.0, 24)},    // jitter: bad, good
      {kBad, kGood},
  };
  for (const auto &pair : pairs) {
    LevelChooser chooser(L::kHigh, L::kMaximum);
    int ups = 0;
    for (int64_t t = 0; t <= 600000; t += 1000) {
      const Decision d = chooser.on_report((t / 1000) % 2 ? pair.second : pair.first, t);
      if (d.changed && is_above(d.to, d.from))
        ++ups;
    }
    EXPECT_EQ(ups, 0);
  }
}

TEST(LevelChooser, NeverAboveCeiling) {
  LevelChooser chooser(L::kLow, L::kMedium);
  for (int64_t t = 0; t <= 200000; t += 5000)
    chooser.on_report(kGood, t);
  EXPECT_EQ(chooser.level(), L::kMedium);
}

TEST(LevelChooser, SetCeilingMovesDownAtOnceButNeverUp) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  expect_move(chooser.set_ceiling(L::kLow, 1000), L::kHigh, L::kLow, "ceiling: low");
  expect_unchanged(chooser.set_ceiling(L::kMaximum, 2000), L::kLow);
  EXPECT_EQ(chooser.ceiling(), L::kMaximum);
  // The ceiling move counts as a degrade for the rate limit.
  expect_unchanged(chooser.on_report(kBad, 5999), L::kLow);
  expect_move(chooser.on_report(kBad, 6000), L::kLow, L::kMinimum, "loss 6.0% > 2.0%");
}

TEST(LevelChooser, ManualOverridesReportsUntilCleared) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  expect_move(chooser.set_manual(L::kMinimum), L::kHigh, L::kMinimum, "manual minimum");
  EXPECT_EQ(chooser.manual(), L::kMinimum);
  for (int64_t t = 0; t <= 100000; t += 5000)
    expect_unchanged(chooser.on_report(t % 10000 ? kGood : kBad, t), L::kMinimum);
  expect_unchanged(chooser.set_manual(L::kMinimum), L::kMinimum);
  // Clearing keeps the level; the good reports seen under manual control do not count.
  expect_unchanged(chooser.set_manual(nullopt), L::kMinimum);
  EXPECT_EQ(chooser.manual(), nullopt);
  expect_unchanged(chooser.on_report(kGood, 105000), L::kMinimum);
  expect_move(chooser.on_report(kGood, 125000), L::kMinimum, L::kLow, "good for 20000 ms");
}

TEST(LevelChooser, ManualUpIsAllowedButCapped) {
  LevelChooser chooser(L::kLow, L::kMedium);
  expect_move(chooser.set_manual(L::kMaximum), L::kLow, L::kMedium,
              "manual maximum capped at medium");
  expect_move(chooser.set_manual(L::kMinimum), L::kMedium, L::kMinimum, "manual minimum");
}

TEST(LevelChooser, ManualMoveIsNotADegradeForTheRateLimit) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  chooser.on_report(kGood, 0);
  chooser.set_manual(L::kMedium);
  chooser.set_manual(nullopt);
  expect_move(chooser.on_report(kBad, 100), L::kMedium, L::kLow, "loss 6.0% > 2.0%");
}

TEST(LevelChooser, BatterySavingMovesAtOnceAndCapsUpgrades) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  expect_move(chooser.set_battery_saving(true, L::kLow, 1000), L::kHigh, L::kLow,
              "battery saving: low");
  EXPECT_TRUE(chooser.battery_saving());
  EXPECT_EQ(chooser.cap(), L::kLow);
  for (int64_t t = 2000; t <= 100000; t += 5000)
    expect_unchanged(chooser.on_report(kGood, t), L::kLow);
  expect_unchanged(chooser.set_battery_saving(false, L::kLow, 100000), L::kLow);
  EXPECT_EQ(chooser.cap(), L::kMaximum);
  // The good streak ran on under the cap.
  expect_move(chooser.on_report(kGood, 102000), L::kLow, L::kMedium, "good for 100000 ms");
  expect_unchanged(chooser.on_report(kGood, 121999), L::kMedium);
  expect_move(chooser.on_report(kGood, 122000), L::kMedium, L::kHigh, "good for 20000 ms");
}

TEST(LevelChooser, BatterySavingBelowCurrentLevelOnlyCaps) {
  LevelChooser chooser(L::kMinimum, L::kMaximum);
  expect_unchanged(chooser.set_battery_saving(true, L::kLow, 0), L::kMinimum);
  for (int64_t t = 0; t <= 100000; t += 5000)
    chooser.on_report(kGood, t);
  EXPECT_EQ(chooser.level(), L::kLow);
}

TEST(LevelChooser, BatteryMoveCountsAsADegrade) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  chooser.set_battery_saving(true, L::kMedium, 1000);
  expect_unchanged(chooser.on_report(kBad, 2000), L::kMedium);
  expect_move(chooser.on_report(kBad, 6000), L::kMedium, L::kLow, "loss 6.0% > 2.0%");
}

TEST(LevelChooser, BatteryAndManual) {
  LevelChooser chooser(L::kMedium, L::kMaximum);
  chooser.set_manual(L::kHigh);
  expect_move(chooser.set_battery_saving(true, L::kLow, 0), L::kHigh, L::kLow,
              "battery saving: manual high capped at low");
  expect_unchanged(chooser.set_manual(L::kMaximum), L::kLow);
  expect_move(chooser.set_battery_saving(false, L::kLow, 10), L::kLow, L::kMaximum,
              "battery saving off: manual maximum");
}

TEST(LevelChooser, TimeNeverRunsBackwards) {
  LevelChooser chooser(L::kHigh, L::kMaximum);
  chooser.on_report(kBad, 10000);
  // 4000 counts as 10000: still within the interval of the degrade at 10000.
  expect_unchanged(chooser.on_report(kBad, 4000), L::kMedium);
  expect_move(chooser.on_report(kBad, 15000), L::kMedium, L::kLow, "loss 6.0% > 2.0%");
}

// Random but reproducible: std::mt19937's output is fixed by the standard (distributions are
// not, so none is used).
TEST(LevelChooser, RandomSequenceMovesOneStepAtATime) {
  std::mt19937 rng(20240601);
  const ConnectionMetrics kinds[] = {kGood,
                                     kGood,
                                     kGood,
                                     kBorderline,
                                     kBad,
                                     kUnknown,
                                     report(350, nullopt, nullopt),
                                     report(nullopt, 0.0, 70)};
  LevelChooser chooser(L::kMedium, L::kMaximum);
  const AdaptationTriggers &tr = chooser.triggers();
  int64_t now = 0;
  int64_t last_down = -1000000;
  int64_t last_change = 0;
  int ups = 0;
  int downs = 0;
  for (int i = 0; i < 20000; ++i) {
    now += 200 + static_cast<int64_t>(rng() % 4000);
    const uint32_t event = rng() % 1000;
    if (event < 3) {
      const L cap_level = static_cast<L>(rng() % kQualityLevelCount);
      const Decision d = event == 0 ? chooser.set_battery_saving(rng() % 2 == 1, cap_level, now)
                                    : chooser.set_ceiling(cap_level, now);
      if (d.changed) {
        ASSERT_TRUE(is_above(d.from, d.to));
        last_down = last_change = now;
      }
    } else {
      // Long good runs too, so that upgrades happen.
      const bool calm = (now / 120000) % 2 == 0;
      const ConnectionMetrics &m = calm ? kGood : kinds[rng() % 8];
      const L before = chooser.level();
      const Decision d = chooser.on_report(m, now);
      ASSERT_EQ(d.from, before);
      if (d.changed) {
        const int step = static_cast<int>(d.to) - static_cast<int>(d.from);
        ASSERT_TRUE(step == 1 || step == -1) << i;
        if (step == 1) {
          ASSERT_GE(now - last_down, tr.min_degrade_interval_ms) << i;
          last_down = now;
          ++downs;
        } else {
          ASSERT_GE(now - last_change, tr.upgrade_hold_ms) << i;
          ++ups;
        }
        last_change = now;
      }
    }
    ASSERT_FALSE(is_above(chooser.level(), chooser.cap())) << i;
  }
  EXPECT_GT(ups, 50);
  EXPECT_GT(downs, 50);
}

}  // namespace
}  // namespace tourcast
