// Connection quality of one peer from webrtcbin's statistics: the seed's packet-loss rate,
// 0-100 score and category. A measurement webrtcbin has not produced yet (no RTCP received,
// no audio-level extension) stays unknown instead of becoming 0 or NaN, so an attendee that
// just joined never looks perfect or broken because of missing data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tourcast {

enum class QualityCategory { kExcellent, kGood, kFair, kPoor, kCritical };
constexpr int kQualityCategoryCount = 5;

// "excellent", "good", "fair", "poor", "critical".
const char *to_string(QualityCategory category);
bool quality_category_from_string(std::string_view text, QualityCategory *out);

// The seed names the categories but gives no thresholds: score >= 85 is excellent, >= 70
// good, >= 50 fair, >= 30 poor, below critical. Every score the seed's steps can produce:
//
//                  RTT <= 100   <= 200   <= 400   > 400 ms
//   loss <= 0.5%     100 E       85 E     70 G     50 F
//   loss <= 1%        80 G       65 F     50 F     30 P
//   loss <= 3%        60 F       45 P     30 P     10 C
//   loss > 3%         30 P       15 C      0 C      0 C
//
// so excellent is "nothing a listener would notice", good "one mild problem", and any loss
// above 3% (Opus FEC no longer hides it) is poor at best.
QualityCategory category_for_score(int score);

// The seed's lost / (received + lost), in [0, 1]. 0 when received <= 0, as in the seed: with
// nothing received there is no rate to speak of (a dead link is the recovery code's business,
// not the quality score's). RTCP reports a negative cumulative loss when duplicates outnumber
// losses; that counts as no loss. Computed in double, so huge counters cannot overflow.
double packet_loss_rate(int64_t lost, int64_t received);

// The seed's score: 100, minus 15 for RTT > 100 ms, 15 more for > 200 ms, 20 more for
// > 400 ms; minus 20 for loss > 0.5%, 20 more for > 1%, 30 more for > 3%; never below 0.
// Unknown or NaN RTT costs nothing; NaN loss counts as 0, loss is clamped to [0, 1], and an
// infinite RTT takes the full RTT penalty.
int quality_score(std::optional<double> rtt_ms, double loss_rate);

// What the glue copies out of webrtcbin's "get-stats" structure, in these units. webrtcbin
// reports round-trip-time and jitter in seconds: multiply by 1000. Leave a field empty when
// the structure lacks it. For adaptation pass counters of the last interval (stats_since()),
// not lifetime totals: one minute of trouble barely moves an hour-long cumulative rate.
struct RawStats {
  std::optional<double> rtt_ms;             // remote-inbound-rtp round-trip-time
  std::optional<double> jitter_ms;          // inbound-rtp or remote-inbound-rtp jitter
  std::optional<int64_t> packets_lost;      // may be negative (RFC 3550 duplicates)
  std::optional<int64_t> packets_received;  // sending side: packets the report covers
  // Sending side: the receiver report's extended highest sequence number received (RFC 3550
  // 6.4.1), cumulative. The sender's packets_received (packets sent by the time of the poll,
  // minus the report's loss) runs ahead of the report between two reports; two reports'
  // sequence numbers bound exactly the packets the loss between them belongs to.
  std::optional<int64_t> report_highest_seq;
  std::optional<double> audio_level;   // 0..1 (RFC 6464 level, linear)
  std::optional<double> audio_energy;  // totalAudioEnergy, >= 0
  std::string audio_codec;             // e.g. "audio/opus"; empty when unknown
};

// Counters of `current` minus those of `previous`; every other field is `current`'s. When
// either side lacks a counter, or packets_received went backwards (new SSRC, restarted
// session), the counters of `current` are returned unchanged.
//
// When both carry report_highest_seq (the guide reading receiver reports) the interval is the
// one between the two reports: packets_received is the packets the receiver expected in it
// (highest sequence numbers' difference) minus those it lost, never negative. A poll between
// two reports then measures nothing (0 received: loss unknown) and the next report's loss is
// divided by all the packets it covers, not by those sent since that poll. A sequence number
// that went backwards (new SSRC) again returns `current` unchanged.
RawStats stats_since(const RawStats &previous, const RawStats &current);

struct ConnectionMetrics {
  std::optional<double> rtt_ms;       // >= 0, at most kMaxDelayMs
  std::optional<double> jitter_ms;    // >= 0, at most kMaxDelayMs
  int64_t packets_lost = 0;           // >= 0
  int64_t packets_received = 0;       // >= 0; 0 means the loss rate is unknown
  std::optional<double> audio_level;  // in [0, 1]
  std::string audio_codec;
  std::optional<double> audio_energy;  // finite, >= 0
  double loss_rate = 0;                // packet_loss_rate(packets_lost, packets_received)
  int score = 100;
  QualityCategory category = QualityCategory::kExcellent;
};

// Ten minutes: anything longer is as bad as it gets and only risks overflow further on.
constexpr double kMaxDelayMs = 600000;

// Sanitises and scores one report: NaN or negative RTT/jitter become unknown and larger than
// kMaxDelayMs (or infinite) becomes kMaxDelayMs; audio_level is clamped to [0, 1] (NaN:
// unknown); audio_energy that is NaN, infinite or negative becomes unknown; missing or
// negative counters become 0. Never produces NaN.
ConnectionMetrics compute_metrics(const RawStats &in);

}  // namespace tourcast
