#include "backoff.h"

#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using R = RecoveryLevel;
using N = NetworkProfile;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();

TEST(BackoffDelay, TheSeedsFormula) {
  const BackoffStrategy s{1000, 30000, 2.0, 0.1};
  const struct {
    int attempt;
    double random;
    int64_t delay;
  } cases[] = {
      {1, 0.0, 1000},  {2, 0.0, 2000},  {3, 0.0, 4000},   {4, 0.0, 8000}, {5, 0.0, 16000},
      {6, 0.0, 30000}, {7, 0.0, 30000}, {1, 0.5, 1050},   {2, 0.5, 2100}, {3, 0.5, 4200},
      {5, 0.5, 16800}, {6, 0.5, 31500}, {1, 0.999, 1099},  // floor(1099.9)
      {3, 0.25, 4100},
  };
  for (const auto &c : cases)
    EXPECT_EQ(backoff_delay_ms(s, c.attempt, c.random), c.delay) << c.attempt << " " << c.random;
}

TEST(BackoffDelay, OutOfRangeArguments) {
  const BackoffStrategy s{1000, 30000, 2.0, 0.1};
  const struct {
    const char *name;
    BackoffStrategy strategy;
    int attempt;
    double random;
    int64_t delay;
  } cases[] = {
      {"attempt 0 is 1", s, 0, 0.0, 1000},
      {"negative attempt is 1", s, -5, 0.0, 1000},
      {"INT_MIN attempt is 1", s, INT_MIN, 0.0, 1000},
      {"huge attempt saturates", s, INT_MAX, 0.0, 30000},
      // Clamped to just below 1; 1000 + 99.99999999999999 then rounds to 1100 in double,
      // exactly as the seed's Math.random() at its largest would.
      {"random 1 is just below 1", s, 1, 1.0, 1100},
      {"random 5 is just below 1", s, 1, 5.0, 1100},
      {"random inf", s, 1, kInf, 1100},
      {"random well below 1", s, 1, 0.9999, 1099},
      {"negative random is 0", s, 1, -1.0, 1000},
      {"NaN random is 0", s, 1, kNaN, 1000},
      {"zero base", {0, 30000, 2.0, 0.1}, INT_MAX, 0.5, 0},
      {"zero base, huge factor", {0, 30000, 1e300, kInf}, 100, 0.5, 0},
      {"negative base", {-500, 30000, 2.0, 0.1}, 3, 0.5, 0},
      {"max below base", {1000, 300, 2.0, 0.1}, 1, 0.0, 300},
      {"negative max", {1000, -1, 2.0, 0.1}, 1, 0.5, 0},
      {"factor 1", {1000, 30000, 1.0, 0.0}, 50, 0.0, 1000},
      {"factor below 1 shrinks", {1000, 30000, 0.5, 0.0}, 3, 0.0, 250},
      {"factor 0", {1000, 30000, 0.0, 0.0}, 2, 0.0, 0},
      {"NaN factor is 1", {1000, 30000, kNaN, 0.0}, 9, 0.0, 1000},
      {"negative factor is 1", {1000, 30000, -2.0, 0.0}, 4, 0.0, 1000},
      {"huge factor", {1000, 30000, 1e300, 0.0}, 3, 0.0, 30000},
      {"infinite factor", {1000, 30000, kInf, 0.0}, 2, 0.0, 30000},
      {"NaN jitter is 0", {1000, 30000, 2.0, kNaN}, 1, 0.5, 1000},
      {"negative jitter is 0", {1000, 30000, 2.0, -1.0}, 1, 0.5, 1000},
      {"infinite jitter, random 0", {1000, 30000, 2.0, kInf}, 1, 0.0, 1000},
      {"infinite jitter saturates", {1000, 30000, 2.0, kInf}, 1, 0.5, kMax64},
      {"huge jitter saturates", {1000, 30000, 2.0, 1e300}, 1, 0.5, kMax64},
      {"max int64 max", {1000, kMax64, 2.0, 0.0}, 200, 0.0, kMax64},
      {"just below 2^63", {1000, kMax64, 2.0, 0.0}, 53, 0.0, 4503599627370496000},
  };
  for (const auto &c : cases)
    EXPECT_EQ(backoff_delay_ms(c.strategy, c.attempt, c.random), c.delay) << c.name;
}

TEST(RecoveryLevelNames, RoundTripAndReject) {
  const R all[] = {R::kIceRestart, R::kSignalingReset, R::kFullReconnect};
  const char *const names[] = {"ice_restart", "signaling_reset", "full_reconnect"};
  for (int i = 0; i < kRecoveryLevelCount; ++i) {
    EXPECT_STREQ(to_string(all[i]), names[i]);
    R parsed = R::kFullReconnect;
    ASSERT_TRUE(recovery_level_from_string(names[i], &parsed));
    EXPECT_EQ(parsed, all[i]);
  }
  for (const char *text : {"", "ice-restart", "ICE_RESTART", "reconnect"}) {
    R parsed = R::kSignalingReset;
    EXPECT_FALSE(recovery_level_from_string(text, &parsed)) << text;
    EXPECT_EQ(parsed, R::kSignalingReset);
  }
}

TEST(RecoveryTimeout, PerLevelAndNetwork) {
  EXPECT_EQ(default_recovery_timeout_ms(R::kIceRestart), 10000);
  EXPECT_EQ(default_recovery_timeout_ms(R::kSignalingReset), 20000);
  EXPECT_EQ(default_recovery_timeout_ms(R::kFullReconnect), 60000);
  const struct {
    N network;
    double slowdown;
    int64_t ice;
    int64_t signaling;
    int64_t full;
  } cases[] = {
      {N::kUnknown, 1.0, 10000, 20000, 60000}, {N::kWifi, 1.0, 10000, 20000, 60000},
      {N::k4g, 1.0, 10000, 20000, 60000},      {N::k3g, 1.5, 15000, 30000, 90000},
      {N::k2g, 2.0, 20000, 40000, 120000},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(to_string(c.network));
    EXPECT_EQ(network_slowdown(c.network), c.slowdown);
    EXPECT_EQ(recovery_timeout_ms(R::kIceRestart, c.network), c.ice);
    EXPECT_EQ(recovery_timeout_ms(R::kSignalingReset, c.network), c.signaling);
    EXPECT_EQ(recovery_timeout_ms(R::kFullReconnect, c.network), c.full);
  }
}

TEST(DefaultBackoffStrategy, PerLevelAndNetwork) {
  const struct {
    R level;
    N network;
    int64_t base;
    int64_t max;
    double jitter;
  } cases[] = {
      {R::kIceRestart, N::kUnknown, 1000, 8000, 0.2},
      {R::kSignalingReset, N::kWifi, 2000, 16000, 0.5},
      {R::kFullReconnect, N::k4g, 5000, 30000, 0.5},
      {R::kIceRestart, N::k3g, 1500, 12000, 0.2},
      {R::kFullReconnect, N::k3g, 7500, 45000, 0.5},
      {R::kSignalingReset, N::k2g, 4000, 32000, 0.5},
  };
  for (const auto &c : cases) {
    const BackoffStrategy s = default_backoff_strategy(c.level, c.network);
    EXPECT_EQ(s.base_delay_ms, c.base);
    EXPECT_EQ(s.max_delay_ms, c.max);
    EXPECT_EQ(s.backoff_factor, 2.0);
    EXPECT_EQ(s.jitter_factor, c.jitter);
  }
  EXPECT_EQ(default_backoff_strategy(R::kIceRestart).base_delay_ms, 1000);
}

struct Expected {
  R level;
  int attempt;
  int total;
  int64_t delay;
  int64_t timeout;
};

void expect_step(const RecoveryStep &step, const Expected &e) {
  EXPECT_FALSE(step.give_up);
  EXPECT_EQ(step.level, e.level);
  EXPECT_EQ(step.attempt, e.attempt);
  EXPECT_EQ(step.total_attempt, e.total);
  EXPECT_EQ(step.delay_ms, e.delay);
  EXPECT_EQ(step.timeout_ms, e.timeout);
  EXPECT_EQ(step.reason, "");
}

TEST(RecoveryPlanner, EscalatesLevelByLevelThenGivesUp) {
  RecoveryPlanner planner;
  const Expected expected[] = {
      {R::kIceRestart, 1, 1, 1000, 10000},     {R::kIceRestart, 2, 2, 2000, 10000},
      {R::kIceRestart, 3, 3, 4000, 10000},     {R::kSignalingReset, 1, 4, 2000, 20000},
      {R::kSignalingReset, 2, 5, 4000, 20000}, {R::kSignalingReset, 3, 6, 8000, 20000},
      {R::kFullReconnect, 1, 7, 5000, 60000},  {R::kFullReconnect, 2, 8, 10000, 60000},
      {R::kFullReconnect, 3, 9, 20000, 60000},
  };
  int64_t now = 0;
  for (const Expected &e : expected) {
    SCOPED_TRACE(e.total);
    expect_step(planner.next(true, now, 0.0), e);
    EXPECT_TRUE(planner.awaiting_verdict());
    now += 1000;
  }
  const RecoveryStep last = planner.next(true, now, 0.0);
  EXPECT_TRUE(last.give_up);
  EXPECT_EQ(last.level, R::kFullReconnect);
  EXPECT_EQ(last.total_attempt, 9);
  EXPECT_EQ(last.reason, "gave up after 9 attempts: every recovery level used");
  EXPECT_FALSE(planner.in_session());

  const RecoveryStats &s = planner.stats();
  EXPECT_EQ(s.sessions, 1);
  EXPECT_EQ(s.recovered, 0);
  EXPECT_EQ(s.given_up, 1);
  EXPECT_EQ(s.attempts, (std::array<int64_t, 3>{3, 3, 3}));
  EXPECT_EQ(s.failures, (std::array<int64_t, 3>{3, 3, 3}));
  EXPECT_EQ(s.successes, (std::array<int64_t, 3>{0, 0, 0}));
  EXPECT_EQ(s.attempt_ms, (std::array<int64_t, 3>{3000, 3000, 3000}));
  EXPECT_EQ(s.last_session_ms, 9000);
  EXPECT_EQ(s.total_session_ms, 9000);
  EXPECT_EQ(s.longest_session_ms, 9000);

  // The next outage starts over.
  expect_step(planner.next(false, now + 5000, 0.0), {R::kIceRestart, 1, 1, 1000, 10000});
  EXPECT_EQ(planner.stats().sessions, 2);
}

TEST(RecoveryPlanner, RepeatedTriggerWithoutVerdictSpendsNothing) {
  RecoveryPlanner planner;
  const RecoveryStep first = planner.next(false, 0, 0.5);
  expect_step(first, {R::kIceRestart, 1, 1, 1100, 10000});
  for (int i = 1; i <= 5; ++i)
    expect_step(planner.next(false, i * 100, 0.9), {R::kIceRestart, 1, 1, 1100, 10000});
  EXPECT_EQ(planner.stats().attempts[0], 1);
  EXPECT_EQ(planner.stats().sessions, 1);
}

TEST(RecoveryPlanner, RecordFailureThenNextPlansTheNextAttempt) {
  RecoveryPlanner planner;
  planner.next(false, 0, 0.0);
  EXPECT_TRUE(planner.record_failure(4000));
  EXPECT_FALSE(planner.awaiting_verdict());
  EXPECT_FALSE(planner.record_failure(4100));  // nothing awaiting a verdict
  expect_step(planner.next(false, 4200, 0.0), {R::kIceRestart, 2, 2, 2000, 10000});
  EXPECT_EQ(planner.stats().failures[0], 1);
  EXPECT_EQ(planner.stats().attempt_ms[0], 4000);
}

TEST(RecoveryPlanner, SuccessEndsTheSession) {
  RecoveryPlanner planner;
  EXPECT_FALSE(planner.record_success(0));  // no session
  planner.next(false, 1000, 0.0);
  planner.next(true, 3000, 0.0);
  planner.next(true, 6000, 0.0);
  EXPECT_TRUE(planner.record_success(8500));
  EXPECT_FALSE(planner.in_session());
  EXPECT_FALSE(planner.record_success(9000));
  EXPECT_FALSE(planner.record_failure(9000));

  // Second outage: back on its own between a failure and the next attempt.
  planner.next(false, 20000, 0.0);
  planner.next(true, 25000, 0.0);
  planner.next(true, 30000, 0.0);
  planner.next(true, 35000, 0.0);  // signaling_reset 1
  EXPECT_TRUE(planner.record_failure(40000));
  EXPECT_TRUE(planner.record_success(41000));

  const RecoveryStats &s = planner.stats();
  EXPECT_EQ(s.sessions, 2);
  EXPECT_EQ(s.recovered, 2);
  EXPECT_EQ(s.given_up, 0);
  EXPECT_EQ(s.attempts, (std::array<int64_t, 3>{6, 1, 0}));
  EXPECT_EQ(s.failures, (std::array<int64_t, 3>{5, 1, 0}));
  EXPECT_EQ(s.successes, (std::array<int64_t, 3>{1, 1, 0}));
  EXPECT_EQ(s.attempt_ms, (std::array<int64_t, 3>{22500, 5000, 0}));
  EXPECT_EQ(s.last_session_ms, 21000);
  EXPECT_EQ(s.longest_session_ms, 21000);
  EXPECT_EQ(s.total_session_ms, 7500 + 21000);
}

TEST(RecoveryPlanner, EscalateSkipsCheaperLevels) {
  // No session yet: escalate opens one, and the first attempt is at the level asked for.
  RecoveryPlanner planner;
  planner.escalate(R::kFullReconnect, 1000);
  EXPECT_TRUE(planner.in_session());
  RecoveryStep step = planner.next(false, 1000, 0.0);
  EXPECT_EQ(step.level, R::kFullReconnect);
  EXPECT_EQ(step.attempt, 1);
  EXPECT_EQ(step.total_attempt, 1);
  EXPECT_EQ(step.delay_ms, 5000);
  EXPECT_TRUE(planner.record_success(9000));

  // Mid-session with an attempt awaiting its verdict: that attempt failed.
  planner.next(false, 20000, 0.0);  // ice_restart 1
  planner.escalate(R::kSignalingReset, 21000);
  EXPECT_FALSE(planner.awaiting_verdict());
  step = planner.next(false, 21000, 0.0);
  EXPECT_EQ(step.level, R::kSignalingReset);
  EXPECT_EQ(step.attempt, 1);
  EXPECT_EQ(step.total_attempt, 2);
  // Escalating to a cheaper level than the current one changes nothing.
  planner.escalate(R::kIceRestart, 22000);
  step = planner.next(false, 22000, 0.0);
  EXPECT_EQ(step.level, R::kSignalingReset);
  EXPECT_EQ(step.attempt, 2);

  const RecoveryStats &s = planner.stats();
  EXPECT_EQ(s.sessions, 2);
  EXPECT_EQ(s.attempts, (std::array<int64_t, 3>{1, 2, 1}));
  EXPECT_EQ(s.failures, (std::array<int64_t, 3>{1, 1, 0}));
  EXPECT_EQ(s.successes, (std::array<int64_t, 3>{0, 0, 1}));
}

TEST(RecoveryPlanner, TotalLimit) {
  RecoveryPolicy policy;
  policy.max_total_attempts = 4;
  RecoveryPlanner planner(policy);
  std::vector<R> levels;
  RecoveryStep step;
  for (int64_t t = 0; !(step = planner.next(true, t, 0.0)).give_up; t += 10)
    levels.push_back(step.level);
  EXPECT_EQ(levels,
            (std::vector<R>{R::kIceRestart, R::kIceRestart, R::kIceRestart, R::kSignalingReset}));
  EXPECT_EQ(step.reason, "gave up after 4 attempts: limit of 4 reached");
  EXPECT_EQ(step.level, R::kSignalingReset);
}

TEST(RecoveryPlanner, PerLevelAttempts) {
  const struct {
    std::array<int, 3> per_level;
    std::vector<R> levels;
  } cases[] = {
      {{1, 1, 1}, {R::kIceRestart, R::kSignalingReset, R::kFullReconnect}},
      {{0, 2, 0}, {R::kSignalingReset, R::kSignalingReset}},
      {{0, 0, 1}, {R::kFullReconnect}},
      {{0, 0, 0}, {}},
      {{-3, 1, 0}, {R::kSignalingReset}},
  };
  for (const auto &c : cases) {
    RecoveryPolicy policy;
    policy.attempts_per_level = c.per_level;
    RecoveryPlanner planner(policy);
    std::vector<R> levels;
    RecoveryStep step;
    for (int64_t t = 0; !(step = planner.next(true, t, 0.0)).give_up; t += 10)
      levels.push_back(step.level);
    EXPECT_EQ(levels, c.levels);
    EXPECT_EQ(step.reason, "gave up after " + std::to_string(c.levels.size()) +
                               " attempts: every recovery level used");
  }
}

TEST(RecoveryPlanner, NetworkSlowsTimeoutsAndDelays) {
  RecoveryPolicy policy;
  policy.network = N::k2g;
  RecoveryPlanner planner(policy);
  expect_step(planner.next(false, 0, 0.0), {R::kIceRestart, 1, 1, 2000, 20000});
  expect_step(planner.next(true, 1, 0.0), {R::kIceRestart, 2, 2, 4000, 20000});
  expect_step(planner.next(true, 2, 0.0), {R::kIceRestart, 3, 3, 8000, 20000});
  expect_step(planner.next(true, 3, 0.0), {R::kSignalingReset, 1, 4, 4000, 40000});
}

TEST(RecoveryPlanner, StrategyOverride) {
  RecoveryPlanner planner;
  planner.set_strategy(R::kIceRestart, {250, 400, 3.0, 0.0});
  EXPECT_EQ(planner.strategy(R::kIceRestart).base_delay_ms, 250);
  EXPECT_EQ(planner.strategy(R::kSignalingReset).base_delay_ms, 2000);
  expect_step(planner.next(false, 0, 0.0), {R::kIceRestart, 1, 1, 250, 10000});
  expect_step(planner.next(true, 0, 0.0), {R::kIceRestart, 2, 2, 400, 10000});
}

TEST(RecoveryPlanner, TimeNeverRunsBackwards) {
  RecoveryPlanner planner;
  planner.next(false, 10000, 0.0);
  planner.next(true, 2000, 0.0);  // counts as 10000
  EXPECT_TRUE(planner.record_success(5000));
  EXPECT_EQ(planner.stats().last_session_ms, 0);
  EXPECT_EQ(planner.stats().attempt_ms, (std::array<int64_t, 3>{0, 0, 0}));
}

TEST(RecoveryTrigger, SeedTriggersOnceEstablishedFirstConnectionBeforeMedia) {
  using L = LinkCondition;
  const int64_t kGrace = kFirstConnectionFailureGraceMs;
  const struct {
    L condition;
    int64_t ms_in_condition;
    bool established;
    bool ever_had_media;
    bool guide_restarted;
    int64_t ms_since_media;
    int64_t media_timeout_ms;
    const char *reason;
    bool first_connection;
  } cases[] = {
      /* Established (connected, media came): the seed's triggers. */
      {L::kConnected, kGrace, true, true, false, 100, 3000, "", false},
      {L::kConnected, kGrace, true, true, false, 3000, 3000, "", false},
      {L::kConnected, kGrace, true, true, false, 3001, 3000, "no media for 3001 ms", false},
      {L::kConnected, kGrace, true, true, false, 60000, 0, "", false},  // watchdog off
      {L::kReconnecting, kGrace, true, true, false, 0, 3000, "the connection reports a failure",
       false},
      {L::kFailed, kGrace, true, true, false, 0, 3000, "the connection failed", false},
      {L::kOther, kGrace, true, true, false, 60000, 3000, "", false},
      {L::kConnected, kGrace, true, true, true, 0, 3000,
       "the guide offers a new session: it restarted", false},
      {L::kReconnecting, kGrace, true, true, true, 0, 3000,
       "the guide offers a new session: it restarted", false},
      /* First connection, no media ever: its ICE failed or stalled past the connecting
       * timeout: a rejoin. */
      {L::kReconnecting, kGrace, false, false, false, 0, 3000,
       "the first connection failed before any media", true},
      {L::kFailed, kGrace, false, false, false, 0, 3000,
       "the first connection failed before any media", true},
      /* ...once the failure has lasted the grace period: libnice reports passing ones. */
      {L::kReconnecting, kGrace - 1, false, false, false, 0, 3000, "", false},
      {L::kFailed, 0, false, false, false, 0, 3000, "", false},
      /* An established connection's failure counts at once. */
      {L::kReconnecting, 0, true, true, false, 0, 3000, "the connection reports a failure", false},
      /* ...not while it is being set up, no media watchdog, no restarted guide. */
      {L::kOther, kGrace, false, false, false, 60000, 3000, "", false},
      {L::kConnected, kGrace, false, false, false, 60000, 3000, "", false},
      {L::kOther, kGrace, false, false, true, 60000, 3000, "", false},
      /* Media came without the connection being connected: never touched (a restart there
       * broke working audio). */
      {L::kReconnecting, kGrace, false, true, false, 0, 3000, "", false},
      {L::kFailed, kGrace, false, true, false, 0, 3000, "", false},
      {L::kConnected, kGrace, false, true, false, 60000, 3000, "", false},
  };
  for (const auto &c : cases) {
    RecoveryTrigger t =
        recovery_trigger(c.condition, c.ms_in_condition, c.established, c.ever_had_media,
                         c.guide_restarted, c.ms_since_media, c.media_timeout_ms);
    EXPECT_EQ(t.reason, c.reason) << static_cast<int>(c.condition) << " " << c.established << " "
                                  << c.ever_had_media << " " << c.guide_restarted;
    EXPECT_EQ(t.first_connection, c.first_connection) << t.reason;
  }
}

TEST(FirstConnectionRejoin, ShortDoublingDelaysWithJitter) {
  const struct {
    int attempt;
    double random01;
    int64_t delay_ms;
  } cases[] = {
      {1, 0.0, 500},  {1, 0.5, 625},  {1, 0.999, 749},  {2, 0.0, 1000},
      {3, 0.0, 2000}, {4, 0.0, 2000}, {4, 0.999, 2999}, {0, 0.0, 500},
  };
  for (const auto &c : cases)
    EXPECT_EQ(first_connection_rejoin_delay_ms(c.attempt, c.random01), c.delay_ms)
        << c.attempt << " " << c.random01;
  // Far below level 3's own first delay: the point of the rejoin is its second chance.
  EXPECT_LT(first_connection_rejoin_delay_ms(1, 0.999),
            default_backoff_strategy(R::kFullReconnect).base_delay_ms);
}

TEST(RebuiltPeerFailed, OnlyANewPeerThatFailedBeforeMedia) {
  using L = LinkCondition;
  const struct {
    R level;
    L condition;
    int64_t ms_in_condition;
    bool media_since_attempt;
    bool failed;
  } cases[] = {
      {R::kFullReconnect, L::kReconnecting, kFirstConnectionFailureGraceMs, false, true},
      {R::kFullReconnect, L::kFailed, kFirstConnectionFailureGraceMs, false, true},
      {R::kFullReconnect, L::kReconnecting, kFirstConnectionFailureGraceMs, true, false},
      {R::kFullReconnect, L::kOther, kFirstConnectionFailureGraceMs, false,
       false},  // still connecting
      {R::kFullReconnect, L::kConnected, kFirstConnectionFailureGraceMs, false, false},
      {R::kFullReconnect, L::kReconnecting, kFirstConnectionFailureGraceMs - 1, false,
       false},  // a passing failure
      {R::kIceRestart, L::kReconnecting, kFirstConnectionFailureGraceMs, false,
       false},  // its renegotiation is under way
      {R::kSignalingReset, L::kFailed, kFirstConnectionFailureGraceMs, false, false},
  };
  for (const auto &c : cases)
    EXPECT_EQ(rebuilt_peer_failed(c.level, c.condition, c.ms_in_condition, c.media_since_attempt),
              c.failed)
        << to_string(c.level) << " " << static_cast<int>(c.condition) << " "
        << c.media_since_attempt;
}

}  // namespace
}  // namespace tourcast
