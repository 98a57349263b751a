// The seed's multi-level connection recovery: exponential backoff with jitter, three
// escalating recovery levels with network-adaptive timeouts, and a planner that says what to
// try next and keeps per-session statistics. Randomness and time are passed in.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "profiles.h"

namespace tourcast {

struct BackoffStrategy {
  int64_t base_delay_ms = 1000;
  int64_t max_delay_ms = 30000;
  double backoff_factor = 2.0;
  double jitter_factor = 0.1;
};

// The seed's calculateBackoff: exponential = min(base * factor^(attempt - 1), max), jitter =
// exponential * jitter_factor * random01, floor(exponential + jitter). So jitter only ever
// adds, up to jitter_factor of the delay. attempt < 1 counts as 1; random01 is clamped to
// [0, 1) (NaN: 0); negative delays count as 0, a NaN or negative factor as 1, a NaN or
// negative jitter factor as 0. Huge attempts or factors saturate at max_delay_ms, and the
// result saturates at INT64_MAX instead of overflowing.
int64_t backoff_delay_ms(const BackoffStrategy &strategy, int attempt, double random01);

enum class RecoveryLevel { kIceRestart, kSignalingReset, kFullReconnect };
constexpr int kRecoveryLevelCount = 3;
// "ice_restart", "signaling_reset", "full_reconnect".
const char *to_string(RecoveryLevel level);
bool recovery_level_from_string(std::string_view text, RecoveryLevel *out);

// How long one attempt at a level may take before it counts as failed: the seed's ~10 s,
// ~20 s and ~60 s.
int64_t default_recovery_timeout_ms(RecoveryLevel level);

// Slowdown applied to timeouts and backoff on slow links: 1 for unknown, wifi and 4g, 1.5
// for 3g, 2 for 2g. The seed's benchmark puts 3G connection setup at 5.1 +- 1.8 s, whose
// mean + 3 sigma (10.5 s) a 10 s ICE-restart budget would cut close; 15 s covers it. The
// seed has no 2G figure, so 2G gets a margin beyond 3G's. Unknown is not slowed down: most
// attendees do not say, and most of those are on good links.
double network_slowdown(NetworkProfile network);

// default_recovery_timeout_ms(level) * network_slowdown(network), rounded down.
int64_t recovery_timeout_ms(RecoveryLevel level, NetworkProfile network);

// ice_restart {1000, 8000, 2, 0.2}, signaling_reset {2000, 16000, 2, 0.5}, full_reconnect
// {5000, 30000, 2, 0.5}, delays times network_slowdown(network). A guide-side outage makes
// every attendee of the channel fail at the same moment; signaling resets and reconnects go
// through Redis and the guide's offer creation, so they are spread by up to +50%, while an
// ICE restart stays between the two peers and only needs a little jitter.
BackoffStrategy default_backoff_strategy(RecoveryLevel level,
                                         NetworkProfile network = NetworkProfile::kUnknown);

struct RecoveryPolicy {
  // Attempts at each level before escalating to the next; the seed's maxRecoveryAttempts
  // (3), per level. 0 skips a level.
  std::array<int, kRecoveryLevelCount> attempts_per_level = {3, 3, 3};
  // Bound on one session's attempts across levels, whatever is left of the per-level ones.
  int max_total_attempts = 9;
  NetworkProfile network = NetworkProfile::kUnknown;
};

struct RecoveryStep {
  bool give_up = false;
  RecoveryLevel level = RecoveryLevel::kIceRestart;
  int attempt = 0;         // 1-based, within the level
  int total_attempt = 0;   // 1-based, within the session
  int64_t delay_ms = 0;    // wait this long, then start the attempt
  int64_t timeout_ms = 0;  // and allow it this long to succeed
  std::string reason;      // why the planner gave up; empty otherwise
};

struct RecoveryStats {
  int64_t sessions = 0;   // started
  int64_t recovered = 0;  // ended by record_success()
  int64_t given_up = 0;
  std::array<int64_t, kRecoveryLevelCount> attempts{};   // planned
  std::array<int64_t, kRecoveryLevelCount> successes{};  // level of the last planned attempt
  std::array<int64_t, kRecoveryLevelCount> failures{};
  // Per level: time from planning an attempt to its verdict, backoff delay included.
  std::array<int64_t, kRecoveryLevelCount> attempt_ms{};
  int64_t total_session_ms = 0;  // of ended sessions, start to success or give-up
  int64_t longest_session_ms = 0;
  int64_t last_session_ms = 0;
};

// One peer's recovery sessions. A session starts at the first next() after the connection
// is lost and ends with record_success() or when next() gives up; the planner is then ready
// for a new one. Time is monotonic: an earlier now_ms than seen before counts as the latest
// seen.
class RecoveryPlanner {
 public:
  explicit RecoveryPlanner(RecoveryPolicy policy = {});

  // Replaces the default strategy of a level (default_backoff_strategy(level, network)).
  void set_strategy(RecoveryLevel level, const BackoffStrategy &strategy);
  const BackoffStrategy &strategy(RecoveryLevel level) const;

  // The attempt to make next. With an attempt still awaiting its verdict, last_attempt_failed
  // = true records that attempt as failed first, while false returns the same step again
  // unchanged, so repeated "failed"/"disconnected" signals for one outage spend no attempts.
  // Escalates to the next level when a level's attempts are used, and gives up (closing the
  // session) when every level's are, or max_total_attempts is reached.
  RecoveryStep next(bool last_attempt_failed, int64_t now_ms, double random01);

  // Verdicts. record_failure() is false (no effect) when no attempt awaits one;
  // record_success() when no session is open. A success closes the session, also when the
  // link came back on its own between a failure and the next attempt.
  bool record_failure(int64_t now_ms);
  bool record_success(int64_t now_ms);

  // Skips the cheaper levels: the next attempt is at `level` (attempt 1 there) when that is
  // further up the ladder than the session's current level. Opens a session when none is
  // open; an attempt awaiting its verdict counts as failed. For when the cheaper levels cannot
  // work, e.g. the peer lost the session they would resume.
  void escalate(RecoveryLevel level, int64_t now_ms);

  bool in_session() const { return in_session_; }
  bool awaiting_verdict() const { return awaiting_; }
  const RecoveryStats &stats() const { return stats_; }

 private:
  int64_t monotonic(int64_t now_ms);
  void open_session(int64_t now);
  void end_session(int64_t now);
  void close_attempt(int64_t now);

  RecoveryPolicy policy_;
  std::array<BackoffStrategy, kRecoveryLevelCount> strategies_;
  RecoveryStats stats_;
  bool have_now_ = false;
  int64_t latest_now_ms_ = 0;
  bool in_session_ = false;
  int64_t session_start_ms_ = 0;
  int level_index_ = 0;
  int attempts_at_level_ = 0;
  int total_attempts_ = 0;
  bool awaiting_ = false;
  int64_t attempt_planned_ms_ = 0;
  RecoveryStep last_step_;
};

// What a recovery watches of one peer connection.
enum class LinkCondition { kOther, kConnected, kReconnecting, kFailed };

struct RecoveryTrigger {
  std::string reason;  // why a recovery starts now; empty: none
  // The connection never carried media: its first connection failed. Only a new peer (level
  // 3, full_reconnect) is tried, after first_connection_rejoin_delay_ms() rather than the
  // level's backoff: there is nothing to resume, and a join that failed on a loss burst
  // should get its second chance within seconds, not after level 3's 5-7.5 s.
  bool first_connection = false;
};

// libnice reports a first connection's ICE as failed for a moment and then completes it
// (success-rate on the lossy link: 13 of 400 joins, back within 0.17-1.21 s), so a failure
// before any media must last this long before it counts.
constexpr int64_t kFirstConnectionFailureGraceMs = 1500;

// Why a recovery should start now. `established`: the connection was connected and carried
// media (the seed's triggers then: the guide offers a new session, i.e. it restarted; the
// connection reports a failure (reconnecting) or failed; it is connected but no media came for
// more than media_timeout_ms, 0 turning that off). Before that, only a first connection that
// never carried media (`ever_had_media` false) and has reported a failure or failed for
// ms_in_condition >= kFirstConnectionFailureGraceMs starts one (first_connection): it would
// otherwise wait in reconnecting for ever. A connection that
// carried media without ever being connected (ICE still settling while DTLS and RTP already
// pass) is left alone: restarting it broke working audio.
RecoveryTrigger recovery_trigger(LinkCondition condition, int64_t ms_in_condition, bool established,
                                 bool ever_had_media, bool guide_restarted, int64_t ms_since_media,
                                 int64_t media_timeout_ms);

// The wait before the attempt-th rejoin of a failed first connection: 500 ms doubling up to
// 2 s, plus up to 50 % jitter (a guide that fails everyone's first connection at once gets
// the rejoins spread), random01 as for backoff_delay_ms.
int64_t first_connection_rejoin_delay_ms(int attempt, double random01);

// A level 3 attempt's new peer failed (condition reconnecting or failed, for ms_in_condition
// >= kFirstConnectionFailureGraceMs) before any media came since the attempt: the attempt has
// failed, as nothing would restart that peer before
// the attempt's timeout (60 s). Lower levels keep their timeout: their renegotiation may
// still be under way on the old peer.
bool rebuilt_peer_failed(RecoveryLevel level, LinkCondition condition, int64_t ms_in_condition,
                         bool media_since_attempt);

}  // namespace tourcast
