#include "quality.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using C = QualityCategory;
using std::nullopt;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();

TEST(QualityCategoryNames, RoundTripAndReject) {
  const C all[] = {C::kExcellent, C::kGood, C::kFair, C::kPoor, C::kCritical};
  const char *const names[] = {"excellent", "good", "fair", "poor", "critical"};
  for (int i = 0; i < kQualityCategoryCount; ++i) {
    EXPECT_STREQ(to_string(all[i]), names[i]);
    C parsed = C::kCritical;
    ASSERT_TRUE(quality_category_from_string(names[i], &parsed)) << names[i];
    EXPECT_EQ(parsed, all[i]);
  }
  for (const char *text : {"", "Excellent", "good ", "bad"}) {
    C parsed = C::kFair;
    EXPECT_FALSE(quality_category_from_string(text, &parsed)) << text;
    EXPECT_EQ(parsed, C::kFair);
  }
}

TEST(CategoryForScore, Thresholds) {
  const struct {
    int score;
    C category;
  } cases[] = {
      {150, C::kExcellent}, {100, C::kExcellent}, {85, C::kExcellent}, {84, C::kGood},
      {70, C::kGood},       {69, C::kFair},       {50, C::kFair},      {49, C::kPoor},
      {30, C::kPoor},       {29, C::kCritical},   {0, C::kCritical},   {-20, C::kCritical},
  };
  for (const auto &c : cases)
    EXPECT_EQ(category_for_score(c.score), c.category) << c.score;
}

TEST(PacketLossRate, Table) {
  const struct {
    int64_t lost;
    int64_t received;
    double rate;
  } cases[] = {
      {0, 0, 0.0},
      {5, 0, 0.0},  // the seed: nothing received, no rate
      {0, 100, 0.0},
      {1, 99, 0.01},
      {5, 95, 0.05},
      {100, 100, 0.5},
      {-3, 100, 0.0},  // RTCP's negative cumulative loss (duplicates)
      {-1, -1, 0.0},
      {3, -10, 0.0},
      {kMin64, 5, 0.0},
      {kMax64, kMax64, 0.5},
      {kMax64, 1, 1.0},  // 2^63 / (2^63 + 1) rounds to 1 in double
      {1, kMax64, 1.0 / 9223372036854775808.0},
  };
  for (const auto &c : cases) {
    const double rate = packet_loss_rate(c.lost, c.received);
    EXPECT_DOUBLE_EQ(rate, c.rate) << c.lost << "/" << c.received;
    EXPECT_GE(rate, 0.0);
    EXPECT_LE(rate, 1.0);
  }
}

TEST(QualityScore, SeedStepsAtEveryBoundary) {
  const struct {
    std::optional<double> rtt;
    double loss;
    int score;
  } cases[] = {
      {nullopt, 0, 100},
      {0.0, 0, 100},
      {100.0, 0, 100},
      {100.5, 0, 85},
      {200.0, 0, 85},
      {200.5, 0, 70},
      {400.0, 0, 70},
      {400.5, 0, 50},
      {nullopt, 0.005, 100},
      {nullopt, 0.0051, 80},
      {nullopt, 0.01, 80},
      {nullopt, 0.0101, 60},
      {nullopt, 0.03, 60},
      {nullopt, 0.0301, 30},
      {nullopt, 1.0, 30},
      // The full grid corners: RTT > 400 with loss > 3% would be -20, floored at 0.
      {150.0, 0.008, 65},
      {300.0, 0.02, 30},
      {150.0, 0.05, 15},
      {500.0, 0.02, 10},
      {300.0, 0.05, 0},
      {500.0, 0.05, 0},
      {50.0, 0.008, 80},
      {500.0, 0.0, 50},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(quality_score(c.rtt, c.loss), c.score)
        << (c.rtt ? std::to_string(*c.rtt) : "unknown") << " ms, loss " << c.loss;
  }
}

TEST(QualityScore, NonFiniteInputsNeverPropagate) {
  const struct {
    std::optional<double> rtt;
    double loss;
    int score;
  } cases[] = {
      {kNaN, 0, 100},  // NaN RTT is unknown
      {kInf, 0, 50},   // infinite RTT is as bad as RTT gets
      {-kInf, 0, 100},       {-5.0, 0, 100},       {nullopt, kNaN, 100},  // NaN loss counts as none
      {nullopt, kInf, 30},                                                // clamped to 1
      {nullopt, -kInf, 100}, {nullopt, -0.5, 100}, {nullopt, 7.0, 30},
      {kInf, kInf, 0},       {kNaN, kNaN, 100},
  };
  for (const auto &c : cases)
    EXPECT_EQ(quality_score(c.rtt, c.loss), c.score);
}

RawStats full_stats() {
  RawStats s;
  s.rtt_ms = 150;
  s.jitter_ms = 12;
  s.packets_lost = 2;
  s.packets_received = 198;
  s.audio_level = 0.5;
  s.audio_energy = 3.25;
  s.audio_codec = "audio/opus";
  return s;
}

TEST(ComputeMetrics, NothingKnownYet) {
  const ConnectionMetrics m = compute_metrics(RawStats{});
  EXPECT_EQ(m.rtt_ms, nullopt);
  EXPECT_EQ(m.jitter_ms, nullopt);
  EXPECT_EQ(m.packets_lost, 0);
  EXPECT_EQ(m.packets_received, 0);
  EXPECT_EQ(m.audio_level, nullopt);
  EXPECT_EQ(m.audio_codec, "");
  EXPECT_EQ(m.audio_energy, nullopt);
  EXPECT_EQ(m.loss_rate, 0.0);
  EXPECT_EQ(m.score, 100);
  EXPECT_EQ(m.category, C::kExcellent);
}

TEST(ComputeMetrics, EveryFieldPresent) {
  const ConnectionMetrics m = compute_metrics(full_stats());
  EXPECT_EQ(m.rtt_ms, 150.0);
  EXPECT_EQ(m.jitter_ms, 12.0);
  EXPECT_EQ(m.packets_lost, 2);
  EXPECT_EQ(m.packets_received, 198);
  EXPECT_EQ(m.audio_level, 0.5);
  EXPECT_EQ(m.audio_codec, "audio/opus");
  EXPECT_EQ(m.audio_energy, 3.25);
  EXPECT_EQ(m.loss_rate, 0.01);  // 2 / 200: not above the 1% step
  EXPECT_EQ(m.score, 65);
  EXPECT_EQ(m.category, C::kFair);
}

TEST(ComputeMetrics, SanitisesEachField) {
  struct Case {
    const char *name;
    void (*edit)(RawStats *);
    void (*check)(const ConnectionMetrics &);
  };
  const Case cases[] = {
      {"rtt NaN", [](RawStats *s) { s->rtt_ms = kNaN; },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.rtt_ms, nullopt);
         EXPECT_EQ(m.score, 80);
       }},
      {"rtt negative", [](RawStats *s) { s->rtt_ms = -1; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.rtt_ms, nullopt); }},
      {"rtt huge", [](RawStats *s) { s->rtt_ms = 1e300; },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.rtt_ms, kMaxDelayMs);
         EXPECT_EQ(m.score, 30);
         EXPECT_EQ(m.category, C::kPoor);
       }},
      {"rtt inf", [](RawStats *s) { s->rtt_ms = kInf; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.rtt_ms, kMaxDelayMs); }},
      {"jitter inf", [](RawStats *s) { s->jitter_ms = kInf; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.jitter_ms, kMaxDelayMs); }},
      {"jitter -inf", [](RawStats *s) { s->jitter_ms = -kInf; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.jitter_ms, nullopt); }},
      {"jitter zero", [](RawStats *s) { s->jitter_ms = 0; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.jitter_ms, 0.0); }},
      {"negative loss", [](RawStats *s) { s->packets_lost = -5; },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.packets_lost, 0);
         EXPECT_EQ(m.loss_rate, 0.0);
         EXPECT_EQ(m.score, 85);
       }},
      {"zero received",
       [](RawStats *s) {
         s->packets_received = 0;
         s->packets_lost = 10;
       },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.packets_lost, 10);
         EXPECT_EQ(m.loss_rate, 0.0);
         EXPECT_EQ(m.score, 85);
       }},
      {"negative received", [](RawStats *s) { s->packets_received = -7; },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.packets_received, 0);
         EXPECT_EQ(m.loss_rate, 0.0);
       }},
      {"counters missing", [](RawStats *s) { s->packets_lost.reset(); },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.packets_lost, 0);
         EXPECT_EQ(m.packets_received, 198);
         EXPECT_EQ(m.loss_rate, 0.0);
       }},
      {"huge counters",
       [](RawStats *s) {
         s->packets_lost = kMax64;
         s->packets_received = kMax64;
       },
       [](const ConnectionMetrics &m) {
         EXPECT_EQ(m.loss_rate, 0.5);
         EXPECT_EQ(m.score, 15);
         EXPECT_EQ(m.category, C::kCritical);
       }},
      {"level above 1", [](RawStats *s) { s->audio_level = 1.5; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_level, 1.0); }},
      {"level below 0", [](RawStats *s) { s->audio_level = -0.5; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_level, 0.0); }},
      {"level inf", [](RawStats *s) { s->audio_level = kInf; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_level, 1.0); }},
      {"level NaN", [](RawStats *s) { s->audio_level = kNaN; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_level, nullopt); }},
      {"energy negative", [](RawStats *s) { s->audio_energy = -1; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_energy, nullopt); }},
      {"energy inf", [](RawStats *s) { s->audio_energy = kInf; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_energy, nullopt); }},
      {"energy zero", [](RawStats *s) { s->audio_energy = 0; },
       [](const ConnectionMetrics &m) { EXPECT_EQ(m.audio_energy, 0.0); }},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    RawStats s = full_stats();
    c.edit(&s);
    c.check(compute_metrics(s));
  }
}

bool has_nan(const std::optional<double> &value) {
  return value && std::isnan(*value);
}

TEST(ComputeMetrics, NeverNaNWhateverGoesIn) {
  const std::optional<double> specials[] = {nullopt, kNaN, kInf, -kInf, -1.0, 0.0, 1e308};
  const std::optional<int64_t> counters[] = {nullopt, kMin64, -1, 0, 1, kMax64};
  for (const auto &a : specials) {
    for (const auto &b : specials) {
      for (const auto &lost : counters) {
        for (const auto &received : counters) {
          RawStats s;
          s.rtt_ms = a;
          s.jitter_ms = b;
          s.audio_level = a;
          s.audio_energy = b;
          s.packets_lost = lost;
          s.packets_received = received;
          const ConnectionMetrics m = compute_metrics(s);
          ASSERT_FALSE(has_nan(m.rtt_ms) || has_nan(m.jitter_ms) || has_nan(m.audio_level) ||
                       has_nan(m.audio_energy) || std::isnan(m.loss_rate));
          ASSERT_GE(m.loss_rate, 0.0);
          ASSERT_LE(m.loss_rate, 1.0);
          ASSERT_GE(m.score, 0);
          ASSERT_LE(m.score, 100);
          ASSERT_EQ(m.category, category_for_score(m.score));
        }
      }
    }
  }
}

RawStats counters(std::optional<int64_t> lost, std::optional<int64_t> received) {
  RawStats s;
  s.packets_lost = lost;
  s.packets_received = received;
  return s;
}

struct SinceCase {
  const char *name;
  RawStats previous;
  RawStats current;
  std::optional<int64_t> lost;
  std::optional<int64_t> received;
};

template <size_t N>
void expect_counters_since(const SinceCase (&cases)[N]) {
  for (const auto &c : cases) {
    SCOPED_TRACE(c.name);
    const RawStats out = stats_since(c.previous, c.current);
    EXPECT_EQ(out.packets_lost, c.lost);
    EXPECT_EQ(out.packets_received, c.received);
  }
}

TEST(StatsSince, CountersOfTheInterval) {
  const SinceCase cases[] = {
      {"delta", counters(10, 1000), counters(70, 2000), 60, 1000},
      {"no change", counters(10, 1000), counters(10, 1000), 0, 0},
      {"duplicates", counters(10, 1000), counters(8, 1100), -2, 100},
      {"first report", RawStats{}, counters(5, 500), 5, 500},
      {"previous lacks lost", counters(nullopt, 400), counters(5, 500), 5, 500},
      {"current lacks received", counters(1, 400), counters(5, nullopt), 5, nullopt},
      {"counter reset", counters(50, 9000), counters(2, 100), 2, 100},
      {"overflow guarded", counters(kMin64, 0), counters(kMax64, 10), kMax64, 10},
      {"overflow guarded low", counters(kMax64, 0), counters(kMin64, 10), kMin64, 10},
  };
  expect_counters_since(cases);
}

RawStats report(std::optional<int64_t> lost, std::optional<int64_t> sent_minus_lost,
                std::optional<int64_t> highest_seq) {
  RawStats s = counters(lost, sent_minus_lost);
  s.report_highest_seq = highest_seq;
  return s;
}

// The guide's view: receiver reports' cumulative loss and extended highest sequence number,
// and packets_received as the guide computes it (packets sent by the poll minus the loss).
TEST(StatsSince, ReportWindow) {
  const SinceCase cases[] = {
      {"between two reports", report(10, 990, 1000), report(15, 1040, 1050), 5, 45},
      // Sent by the poll: 1200, but the report covers up to 1050 only.
      {"sent ran ahead", report(10, 990, 1000), report(15, 1185, 1050), 5, 45},
      {"no new report", report(10, 1000, 1000), report(10, 1030, 1000), 0, 0},
      {"duplicates", report(10, 990, 1000), report(8, 1092, 1100), -2, 100},
      {"all of it lost", report(10, 990, 1000), report(30, 1020, 1010), 20, 0},
      {"new SSRC", report(10, 990, 70000), report(1, 99, 100), 1, 99},
      {"negative sequence", report(10, 990, -5), report(11, 999, 10), 11, 999},
      {"previous without sequence", counters(10, 990), report(15, 1185, 1050), 5, 195},
      {"current without sequence", report(10, 990, 1000), counters(15, 1185), 5, 195},
      {"current without loss", report(10, 990, 1000), report(nullopt, 1185, 1050), nullopt, 1185},
      {"overflow guarded", report(kMin64, 0, 0), report(kMax64, 10, 10), kMax64, 0},
      {"largest sequences", report(0, 0, 0), report(0, 10, kMax64), 0, kMax64},
  };
  expect_counters_since(cases);
}

/* The monitor keeps the last poll as `previous`. A poll between two reports must neither make
 * up a loss rate nor shorten the window the next report's loss is divided by: 10 % loss over
 * 50 packets reads 10 % however many polls fall in between. */
TEST(StatsSince, PollsBetweenReportsKeepTheReportsWindow) {
  const RawStats first_report = report(0, 1000, 1000);
  const RawStats poll_between = report(0, 1040, 1000);   // 40 more sent, no new report
  const RawStats second_report = report(5, 1055, 1050);  // 60 more sent, 5 of 50 lost
  const ConnectionMetrics between = compute_metrics(stats_since(first_report, poll_between));
  EXPECT_EQ(between.packets_received, 0);
  EXPECT_EQ(between.loss_rate, 0.0);
  const ConnectionMetrics after = compute_metrics(stats_since(poll_between, second_report));
  EXPECT_EQ(after.packets_lost, 5);
  EXPECT_EQ(after.packets_received, 45);
  EXPECT_DOUBLE_EQ(after.loss_rate, 0.1);
  EXPECT_DOUBLE_EQ(compute_metrics(stats_since(first_report, second_report)).loss_rate, 0.1);
}

TEST(StatsSince, OtherFieldsComeFromCurrent) {
  RawStats previous = full_stats();
  RawStats current = full_stats();
  current.rtt_ms = 80;
  current.jitter_ms.reset();
  current.audio_codec = "audio/OPUS";
  current.packets_lost = 12;
  current.packets_received = 698;
  const RawStats out = stats_since(previous, current);
  EXPECT_EQ(out.rtt_ms, 80.0);
  EXPECT_EQ(out.jitter_ms, nullopt);
  EXPECT_EQ(out.audio_level, 0.5);
  EXPECT_EQ(out.audio_codec, "audio/OPUS");
  EXPECT_EQ(out.packets_lost, 10);
  EXPECT_EQ(out.packets_received, 500);
  // A recent burst shows in the interval even when the lifetime rate looks fine.
  EXPECT_DOUBLE_EQ(compute_metrics(out).loss_rate, 10.0 / 510.0);
  EXPECT_DOUBLE_EQ(compute_metrics(current).loss_rate, 12.0 / 710.0);
}

}  // namespace
}  // namespace tourcast
