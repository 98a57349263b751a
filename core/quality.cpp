#include "quality.h"

#include <algorithm>
#include <cmath>

namespace tourcast {
namespace {

constexpr const char *kCategoryNames[kQualityCategoryCount] = {"excellent", "good", "fair", "poor",
                                                               "critical"};

std::optional<double> sanitize_delay(std::optional<double> ms) {
  if (!ms || std::isnan(*ms) || *ms < 0)
    return std::nullopt;
  return std::min(*ms, kMaxDelayMs);
}

std::optional<double> sanitize_level(std::optional<double> level) {
  if (!level || std::isnan(*level))
    return std::nullopt;
  return std::clamp(*level, 0.0, 1.0);
}

std::optional<double> sanitize_energy(std::optional<double> energy) {
  if (!energy || !std::isfinite(*energy) || *energy < 0)
    return std::nullopt;
  /* A fresh optional from the value: returning the parameter trips GCC 12's
   * maybe-uninitialized warning under -fsanitize=address. */
  return *energy;
}

}  // namespace

const char *to_string(QualityCategory category) {
  const int index = static_cast<int>(category);
  return index >= 0 && index < kQualityCategoryCount ? kCategoryNames[index] : "unknown";
}

bool quality_category_from_string(std::string_view text, QualityCategory *out) {
  for (int i = 0; i < kQualityCategoryCount; ++i) {
    if (text == kCategoryNames[i]) {
      *out = static_cast<QualityCategory>(i);
      return true;
    }
  }
  return false;
}

QualityCategory category_for_score(int score) {
  if (score >= 85)
    return QualityCategory::kExcellent;
  if (score >= 70)
    return QualityCategory::kGood;
  if (score >= 50)
    return QualityCategory::kFair;
  if (score >= 30)
    return QualityCategory::kPoor;
  return QualityCategory::kCritical;
}

double packet_loss_rate(int64_t lost, int64_t received) {
  if (received <= 0 || lost <= 0)
    return 0;
  const double l = static_cast<double>(lost);
  return l / (static_cast<double>(received) + l);
}

int quality_score(std::optional<double> rtt_ms, double loss_rate) {
  int score = 100;
  // NaN compares false with everything, so an unknown or NaN RTT takes no penalty.
  if (rtt_ms) {
    const double rtt = *rtt_ms;
    if (rtt > 100)
      score -= 15;
    if (rtt > 200)
      score -= 15;
    if (rtt > 400)
      score -= 20;
  }
  const double loss = std::isnan(loss_rate) ? 0.0 : std::clamp(loss_rate, 0.0, 1.0);
  if (loss > 0.005)
    score -= 20;
  if (loss > 0.01)
    score -= 20;
  if (loss > 0.03)
    score -= 30;
  return std::max(0, score);
}

namespace {

// Both are RTCP's 24-bit signed cumulative loss in practice; the guard keeps hand-made extremes
// from overflowing (then the current count stands alone).
int64_t lost_since(int64_t previous, int64_t current) {
  if ((previous < 0 && current > INT64_MAX + previous) ||
      (previous > 0 && current < INT64_MIN + previous)) {
    return current;
  }
  return current - previous;
}

}  // namespace

RawStats stats_since(const RawStats &previous, const RawStats &current) {
  RawStats out = current;
  if (!previous.packets_lost || !current.packets_lost)
    return out;
  if (previous.report_highest_seq && current.report_highest_seq) {
    if (*previous.report_highest_seq < 0 ||
        *current.report_highest_seq < *previous.report_highest_seq) {
      return out;
    }
    const int64_t expected = *current.report_highest_seq - *previous.report_highest_seq;
    out.packets_lost = lost_since(*previous.packets_lost, *current.packets_lost);
    out.packets_received = std::max<int64_t>(0, expected - std::max<int64_t>(0, *out.packets_lost));
    return out;
  }
  if (!previous.packets_received || !current.packets_received ||
      *current.packets_received < *previous.packets_received) {
    return out;
  }
  out.packets_received = *current.packets_received - *previous.packets_received;
  out.packets_lost = lost_since(*previous.packets_lost, *current.packets_lost);
  return out;
}

ConnectionMetrics compute_metrics(const RawStats &in) {
  ConnectionMetrics m;
  m.rtt_ms = sanitize_delay(in.rtt_ms);
  m.jitter_ms = sanitize_delay(in.jitter_ms);
  m.packets_lost = std::max<int64_t>(0, in.packets_lost.value_or(0));
  m.packets_received = std::max<int64_t>(0, in.packets_received.value_or(0));
  m.audio_level = sanitize_level(in.audio_level);
  m.audio_codec = in.audio_codec;
  m.audio_energy = sanitize_energy(in.audio_energy);
  m.loss_rate = packet_loss_rate(m.packets_lost, m.packets_received);
  m.score = quality_score(m.rtt_ms, m.loss_rate);
  m.category = category_for_score(m.score);
  return m;
}

}  // namespace tourcast
