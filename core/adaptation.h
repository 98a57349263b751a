// The seed's five Opus quality levels and the per-attendee choice among them. The guide runs
// one encoder per level in use and moves an attendee between them; RTP stays Opus/48000
// whatever the level, only the encoder's bitrate, bandwidth and channels differ.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "quality.h"

namespace tourcast {

// Best first: a smaller enumerator is a higher quality.
enum class QualityLevel { kMaximum, kHigh, kMedium, kLow, kMinimum };
constexpr int kQualityLevelCount = 5;

// "maximum", "high", "medium", "low", "minimum".
const char *to_string(QualityLevel level);
bool quality_level_from_string(std::string_view text, QualityLevel *out);

// One step towards kMinimum / kMaximum, saturating.
QualityLevel lower_level(QualityLevel level);
QualityLevel higher_level(QualityLevel level);
// The lower-quality (more conservative) of the two.
QualityLevel lower_of(QualityLevel a, QualityLevel b);
bool is_above(QualityLevel a, QualityLevel b);  // a is a higher quality than b

struct LevelSpec {
  int bitrate_bps;
  // The seed's sample rate for the level: the rate the Opus band corresponds to (the audio
  // passband is about half of it). Informational; the encoder takes opus_bandwidth.
  int audio_bandwidth_hz;
  int channels;
  const char *opus_bandwidth;  // nick of opusenc's "bandwidth" enum
};

// maximum 128 kb/s 48000 stereo fullband, high 96 kb/s 48000 mono fullband, medium 64 kb/s
// 24000 mono superwideband, low 32 kb/s 16000 mono wideband, minimum 16 kb/s 8000 mono
// narrowband. An out-of-range level gets the minimum's spec.
const LevelSpec &level_spec(QualityLevel level);

// opusenc's packet-loss-percentage for a measured loss rate: 0 without loss (in-band FEC then
// costs nothing), otherwise the loss in whole percent rounded up, plus 2 points, at most 100.
// A report gives the average over its interval and losses come in bursts, so the encoder is
// told slightly more than was measured; LBRR that is not needed costs some bitrate, LBRR
// that is missing costs audible gaps. NaN counts as no loss.
int fec_packet_loss_percentage(double loss_rate);

// When an attendee's link is too poor for its level. webrtcbin's RTP sessions send a
// receiver report about every 5 s (rtpsession's rtcp-min-interval) and the remote RTT,
// loss and jitter only change when one arrives, which drives the timings below.
struct AdaptationTriggers {
  // Audio here is one-way, so RTT does not hurt the listener by itself; a rising RTT is
  // queueing, i.e. congestion the lower bitrate relieves. 300 ms sits between the score's
  // 200 and 400 ms steps.
  double rtt_ms = 300;
  // Opus in-band FEC hides isolated losses up to a couple of percent; beyond that a lower
  // bitrate is worth more than the fidelity it costs.
  double loss_rate = 0.02;
  // RFC 3550 jitter is a smoothed mean deviation; peaks run several times higher, so 50 ms
  // already eats most of the attendee's default 200 ms jitterbuffer.
  double jitter_ms = 50;
  // A report counts towards an upgrade only when every known measurement is at most this
  // fraction of its trigger. One level up roughly doubles the bitrate, so the link has to
  // show that margin; a value between the two thresholds neither degrades nor upgrades,
  // which is what stops borderline links from flapping.
  double good_fraction = 0.5;
  // Four receiver reports' worth of good news per step up. Upgrading is the risky move
  // (a failed upgrade costs a loss burst and a degrade), so it is several times slower
  // than the first degrade, which is immediate.
  int64_t upgrade_hold_ms = 20000;
  // One receiver report: a single bad report, read again by every stats poll until the
  // next one arrives, costs one level, while trouble that persists across reports still
  // walks down one level per report.
  int64_t min_degrade_interval_ms = 5000;
};

struct Decision {
  bool changed = false;
  QualityLevel from = QualityLevel::kMedium;
  QualityLevel to = QualityLevel::kMedium;
  std::string reason;  // empty when nothing changed
};

// The level of one attendee. Automatic moves are one step at a time: down when the RTT, loss
// or jitter passes its trigger (strictly greater), up after upgrade_hold_ms of good reports.
// Nothing ever goes above the cap, the lower of the ceiling and, while battery saving is on,
// the battery level. Time is monotonic: an earlier now_ms than seen before counts as the
// latest seen.
class LevelChooser {
 public:
  // initial is lowered to the ceiling if needed.
  LevelChooser(QualityLevel initial, QualityLevel ceiling, AdaptationTriggers triggers = {});

  QualityLevel level() const { return level_; }
  QualityLevel ceiling() const { return ceiling_; }
  QualityLevel cap() const;
  std::optional<QualityLevel> manual() const { return manual_; }
  bool battery_saving() const { return battery_saving_; }
  const AdaptationTriggers &triggers() const { return triggers_; }

  // Unknown measurements are ignored; a report with none known (no RTCP yet, nothing
  // received) changes nothing and, like a report between good and bad, restarts the upgrade
  // hold. Reasons: "rtt 450 ms > 300 ms, loss 6.0% > 2.0%", "good for 20000 ms". Ignored
  // entirely while a manual level is set.
  Decision on_report(const ConnectionMetrics &metrics, int64_t now_ms);

  // A manual level replaces the automatic choice, still within the cap ("manual high", or
  // "manual maximum capped at medium"). Clearing it keeps the current level and restarts
  // the upgrade hold, so automatic adaptation resumes from where the operator left it.
  Decision set_manual(std::optional<QualityLevel> level);

  // The seed's "battery low": on, moves down to battery_level at once (reason "battery
  // saving: low") and caps upgrades there. Off lifts the cap without moving: the next step up
  // still needs upgrade_hold_ms of good reports (counted across the capped time), except that
  // a manual level held down by the cap returns to what was asked for at once.
  Decision set_battery_saving(bool on, QualityLevel battery_level, int64_t now_ms);

  // New profile or network: moves down at once when above it ("ceiling: low").
  Decision set_ceiling(QualityLevel ceiling, int64_t now_ms);

 private:
  enum class Verdict { kUnknown, kGood, kBorderline, kBad };
  Verdict judge(const ConnectionMetrics &m, std::string *why_bad) const;
  Decision move_to(QualityLevel to, std::string reason, int64_t now_ms);
  int64_t monotonic(int64_t now_ms);
  // Re-applies the cap to the current (or manual) level after a cap change.
  Decision apply_cap(const std::string &why, int64_t now_ms);

  AdaptationTriggers triggers_;
  QualityLevel level_;
  QualityLevel ceiling_;
  std::optional<QualityLevel> manual_;
  bool battery_saving_ = false;
  QualityLevel battery_level_ = QualityLevel::kMinimum;
  bool have_now_ = false;
  int64_t latest_now_ms_ = 0;
  bool degraded_before_ = false;
  int64_t last_degrade_ms_ = 0;
  bool good_streak_ = false;
  int64_t good_since_ms_ = 0;
};

}  // namespace tourcast
