#include "backoff.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tourcast {
namespace {

using R = RecoveryLevel;

constexpr const char *kLevelNames[kRecoveryLevelCount] = {"ice_restart", "signaling_reset",
                                                          "full_reconnect"};
constexpr int64_t kTimeoutsMs[kRecoveryLevelCount] = {10000, 20000, 60000};
constexpr BackoffStrategy kStrategies[kRecoveryLevelCount] = {
    {1000, 8000, 2.0, 0.2},
    {2000, 16000, 2.0, 0.5},
    {5000, 30000, 2.0, 0.5},
};
constexpr BackoffStrategy kFirstConnectionRejoin = {500, 2000, 2.0, 0.5};

// 2^63, the first double that no longer fits in int64_t.
constexpr double kInt64Limit = 9223372036854775808.0;

int index_of(R level) {
  const int index = static_cast<int>(level);
  return index >= 0 && index < kRecoveryLevelCount ? index : 0;
}

int64_t to_ms(double ms) {
  if (std::isnan(ms) || ms <= 0)
    return 0;
  if (ms >= kInt64Limit)
    return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::floor(ms));
}

}  // namespace

int64_t backoff_delay_ms(const BackoffStrategy &strategy, int attempt, double random01) {
  const int n = std::max(attempt, 1);
  double random = std::isnan(random01) ? 0.0 : random01;
  random = std::clamp(random, 0.0, std::nextafter(1.0, 0.0));
  const double base = static_cast<double>(std::max<int64_t>(strategy.base_delay_ms, 0));
  const double max = static_cast<double>(std::max<int64_t>(strategy.max_delay_ms, 0));
  const double factor = std::isnan(strategy.backoff_factor) || strategy.backoff_factor < 0
                            ? 1.0
                            : strategy.backoff_factor;
  const double jitter_factor = std::isnan(strategy.jitter_factor) || strategy.jitter_factor < 0
                                   ? 0.0
                                   : strategy.jitter_factor;
  // base 0 stays 0 even when factor^(n-1) overflows to infinity (0 * inf would be NaN).
  double exponential = base == 0 ? 0.0 : base * std::pow(factor, n - 1);
  exponential = std::min(exponential, max);
  const double jitter = exponential * jitter_factor * random;
  const double total = std::isnan(jitter) ? exponential : exponential + jitter;
  return to_ms(total);
}

const char *to_string(RecoveryLevel level) {
  const int index = static_cast<int>(level);
  return index >= 0 && index < kRecoveryLevelCount ? kLevelNames[index] : "unknown";
}

bool recovery_level_from_string(std::string_view text, RecoveryLevel *out) {
  for (int i = 0; i < kRecoveryLevelCount; ++i) {
    if (text == kLevelNames[i]) {
      *out = static_cast<R>(i);
      return true;
    }
  }
  return false;
}

int64_t default_recovery_timeout_ms(RecoveryLevel level) {
  return kTimeoutsMs[index_of(level)];
}

double network_slowdown(NetworkProfile network) {
  switch (network) {
    case NetworkProfile::k3g:
      return 1.5;
    case NetworkProfile::k2g:
      return 2.0;
    default:
      return 1.0;
  }
}

int64_t recovery_timeout_ms(RecoveryLevel level, NetworkProfile network) {
  return to_ms(static_cast<double>(default_recovery_timeout_ms(level)) * network_slowdown(network));
}

BackoffStrategy default_backoff_strategy(RecoveryLevel level, NetworkProfile network) {
  BackoffStrategy s = kStrategies[index_of(level)];
  const double slowdown = network_slowdown(network);
  s.base_delay_ms = to_ms(static_cast<double>(s.base_delay_ms) * slowdown);
  s.max_delay_ms = to_ms(static_cast<double>(s.max_delay_ms) * slowdown);
  return s;
}

RecoveryPlanner::RecoveryPlanner(RecoveryPolicy policy) : policy_(policy) {
  for (int i = 0; i < kRecoveryLevelCount; ++i)
    strategies_[i] = default_backoff_strategy(static_cast<R>(i), policy_.network);
}

void RecoveryPlanner::set_strategy(RecoveryLevel level, const BackoffStrategy &strategy) {
  strategies_[index_of(level)] = strategy;
}

const BackoffStrategy &RecoveryPlanner::strategy(RecoveryLevel level) const {
  return strategies_[index_of(level)];
}

int64_t RecoveryPlanner::monotonic(int64_t now_ms) {
  if (!have_now_ || now_ms > latest_now_ms_)
    latest_now_ms_ = now_ms;
  have_now_ = true;
  return latest_now_ms_;
}

void RecoveryPlanner::close_attempt(int64_t now) {
  stats_.attempt_ms[index_of(last_step_.level)] += now - attempt_planned_ms_;
  awaiting_ = false;
}

void RecoveryPlanner::end_session(int64_t now) {
  const int64_t duration = now - session_start_ms_;
  stats_.total_session_ms += duration;
  stats_.longest_session_ms = std::max(stats_.longest_session_ms, duration);
  stats_.last_session_ms = duration;
  in_session_ = false;
  awaiting_ = false;
}

void RecoveryPlanner::open_session(int64_t now) {
  in_session_ = true;
  session_start_ms_ = now;
  level_index_ = 0;
  attempts_at_level_ = 0;
  total_attempts_ = 0;
  awaiting_ = false;
  ++stats_.sessions;
}

void RecoveryPlanner::escalate(RecoveryLevel level, int64_t now_ms) {
  const int64_t now = monotonic(now_ms);
  if (!in_session_)
    open_session(now);
  else if (awaiting_)
    record_failure(now);
  const int target = index_of(level);
  if (target > level_index_) {
    level_index_ = target;
    attempts_at_level_ = 0;
  }
}

RecoveryStep RecoveryPlanner::next(bool last_attempt_failed, int64_t now_ms, double random01) {
  const int64_t now = monotonic(now_ms);
  if (!in_session_) {
    open_session(now);
  } else if (awaiting_) {
    if (!last_attempt_failed)
      return last_step_;
    record_failure(now);
  }

  while (level_index_ < kRecoveryLevelCount &&
         attempts_at_level_ >= policy_.attempts_per_level[level_index_]) {
    ++level_index_;
    attempts_at_level_ = 0;
  }
  if (level_index_ >= kRecoveryLevelCount || total_attempts_ >= policy_.max_total_attempts) {
    RecoveryStep step;
    step.give_up = true;
    step.level = total_attempts_ > 0 ? last_step_.level : R::kIceRestart;
    step.total_attempt = total_attempts_;
    step.reason = "gave up after " + std::to_string(total_attempts_) + " attempts: " +
                  (level_index_ >= kRecoveryLevelCount
                       ? std::string("every recovery level used")
                       : "limit of " + std::to_string(policy_.max_total_attempts) + " reached");
    ++stats_.given_up;
    end_session(now);
    last_step_ = step;
    return step;
  }

  const R level = static_cast<R>(level_index_);
  ++attempts_at_level_;
  ++total_attempts_;
  ++stats_.attempts[level_index_];
  RecoveryStep step;
  step.level = level;
  step.attempt = attempts_at_level_;
  step.total_attempt = total_attempts_;
  step.delay_ms = backoff_delay_ms(strategies_[level_index_], attempts_at_level_, random01);
  step.timeout_ms = recovery_timeout_ms(level, policy_.network);
  awaiting_ = true;
  attempt_planned_ms_ = now;
  last_step_ = step;
  return step;
}

bool RecoveryPlanner::record_failure(int64_t now_ms) {
  const int64_t now = monotonic(now_ms);
  if (!awaiting_)
    return false;
  ++stats_.failures[index_of(last_step_.level)];
  close_attempt(now);
  return true;
}

bool RecoveryPlanner::record_success(int64_t now_ms) {
  const int64_t now = monotonic(now_ms);
  if (!in_session_)
    return false;
  // Also when the link came back on its own between a failure and the next attempt: the
  // credit goes to the last level tried.
  ++stats_.successes[index_of(last_step_.level)];
  if (awaiting_)
    close_attempt(now);
  ++stats_.recovered;
  end_session(now);
  return true;
}

namespace {

bool lasting_failure(LinkCondition condition, int64_t ms_in_condition) {
  return (condition == LinkCondition::kReconnecting || condition == LinkCondition::kFailed) &&
         ms_in_condition >= kFirstConnectionFailureGraceMs;
}

}  // namespace

RecoveryTrigger recovery_trigger(LinkCondition condition, int64_t ms_in_condition, bool established,
                                 bool ever_had_media, bool guide_restarted, int64_t ms_since_media,
                                 int64_t media_timeout_ms) {
  RecoveryTrigger trigger;
  if (!established) {
    if (!ever_had_media && lasting_failure(condition, ms_in_condition)) {
      trigger.reason = "the first connection failed before any media";
      trigger.first_connection = true;
    }
    return trigger;
  }
  if (guide_restarted)
    trigger.reason = "the guide offers a new session: it restarted";
  else if (condition == LinkCondition::kReconnecting)
    trigger.reason = "the connection reports a failure";
  else if (condition == LinkCondition::kFailed)
    trigger.reason = "the connection failed";
  else if (condition == LinkCondition::kConnected && media_timeout_ms > 0 &&
           ms_since_media > media_timeout_ms)
    trigger.reason = "no media for " + std::to_string(ms_since_media) + " ms";
  return trigger;
}

int64_t first_connection_rejoin_delay_ms(int attempt, double random01) {
  return backoff_delay_ms(kFirstConnectionRejoin, attempt, random01);
}

bool rebuilt_peer_failed(RecoveryLevel level, LinkCondition condition, int64_t ms_in_condition,
                         bool media_since_attempt) {
  return level == RecoveryLevel::kFullReconnect && !media_since_attempt &&
         lasting_failure(condition, ms_in_condition);
}

}  // namespace tourcast
