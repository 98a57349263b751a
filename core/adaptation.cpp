#include "adaptation.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace tourcast {
namespace {

using L = QualityLevel;

constexpr const char *kLevelNames[kQualityLevelCount] = {"maximum", "high", "medium", "low",
                                                         "minimum"};

constexpr LevelSpec kSpecs[kQualityLevelCount] = {
    {128000, 48000, 2, "fullband"},     {96000, 48000, 1, "fullband"},
    {64000, 24000, 1, "superwideband"}, {32000, 16000, 1, "wideband"},
    {16000, 8000, 1, "narrowband"},
};

int index_of(L level) {
  const int index = static_cast<int>(level);
  return index >= 0 && index < kQualityLevelCount ? index : kQualityLevelCount - 1;
}

// Fixed-point text without printf, whose decimal separator follows the process locale (an
// application may well have called setlocale) and whose output would then differ from logs
// to tests.
std::string decimal(double value, int digits) {
  if (!(std::fabs(value) < 1e12))
    return std::isnan(value) ? "nan" : (value > 0 ? "huge" : "-huge");
  int64_t scale = 1;
  for (int i = 0; i < digits; ++i)
    scale *= 10;
  const int64_t scaled = std::llround(value * static_cast<double>(scale));
  const int64_t magnitude = std::llabs(scaled);
  std::string text = (scaled < 0 ? "-" : "") + std::to_string(magnitude / scale);
  if (digits > 0) {
    std::string fraction = std::to_string(magnitude % scale);
    text += "." + std::string(static_cast<size_t>(digits) - fraction.size(), '0') + fraction;
  }
  return text;
}

// Drops fraction digits beyond `keep` that are zero: "300.0" -> "300" for keep 0.
std::string trim_zeros(std::string text, int keep) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos)
    return text;
  const size_t min_size = keep > 0 ? dot + 1 + static_cast<size_t>(keep) : dot;
  while (text.size() > min_size && (text.back() == '0' || text.back() == '.'))
    text.pop_back();
  return text;
}

// "<name> <value><unit> > <limit><unit>" with `digits` fraction digits, or up to 3 where it
// takes that for the two numbers to read differently ("loss 2.01% > 2.0%").
std::string exceeded(const char *name, double value, double limit, int digits, const char *unit) {
  int shown = digits;
  while (decimal(value, shown) == decimal(limit, shown) && shown < 3)
    ++shown;
  return std::string(name) + " " + trim_zeros(decimal(value, shown), digits) + unit + " > " +
         trim_zeros(decimal(limit, shown), digits) + unit;
}

}  // namespace

const char *to_string(QualityLevel level) {
  const int index = static_cast<int>(level);
  return index >= 0 && index < kQualityLevelCount ? kLevelNames[index] : "unknown";
}

bool quality_level_from_string(std::string_view text, QualityLevel *out) {
  for (int i = 0; i < kQualityLevelCount; ++i) {
    if (text == kLevelNames[i]) {
      *out = static_cast<L>(i);
      return true;
    }
  }
  return false;
}

QualityLevel lower_level(QualityLevel level) {
  return static_cast<L>(std::min(index_of(level) + 1, kQualityLevelCount - 1));
}

QualityLevel higher_level(QualityLevel level) {
  return static_cast<L>(std::max(index_of(level) - 1, 0));
}

QualityLevel lower_of(QualityLevel a, QualityLevel b) {
  return static_cast<L>(std::max(index_of(a), index_of(b)));
}

bool is_above(QualityLevel a, QualityLevel b) {
  return index_of(a) < index_of(b);
}

const LevelSpec &level_spec(QualityLevel level) {
  return kSpecs[index_of(level)];
}

int fec_packet_loss_percentage(double loss_rate) {
  if (std::isnan(loss_rate) || loss_rate <= 0)
    return 0;
  if (loss_rate >= 1)
    return 100;
  // 0.03 * 100 is 3.0000000000000004 in binary; without the slack ceil() would make it 4.
  const int percent = std::max(1, static_cast<int>(std::ceil(loss_rate * 100 - 1e-9)));
  return std::min(100, percent + 2);
}

LevelChooser::LevelChooser(QualityLevel initial, QualityLevel ceiling, AdaptationTriggers triggers)
    : triggers_(triggers),
      level_(lower_of(initial, ceiling)),
      ceiling_(static_cast<L>(index_of(ceiling))) {}

QualityLevel LevelChooser::cap() const {
  return battery_saving_ ? lower_of(ceiling_, battery_level_) : ceiling_;
}

int64_t LevelChooser::monotonic(int64_t now_ms) {
  if (!have_now_ || now_ms > latest_now_ms_)
    latest_now_ms_ = now_ms;
  have_now_ = true;
  return latest_now_ms_;
}

LevelChooser::Verdict LevelChooser::judge(const ConnectionMetrics &m, std::string *why_bad) const {
  bool known = false;
  bool borderline = false;
  const auto check = [&](bool present, double value, double trigger, const char *name, int digits,
                         const char *unit, double shown_scale) {
    if (!present || std::isnan(value))
      return;
    known = true;
    if (value > trigger) {
      *why_bad += why_bad->empty() ? "" : ", ";
      *why_bad += exceeded(name, value * shown_scale, trigger * shown_scale, digits, unit);
    } else if (!(value <= trigger * triggers_.good_fraction)) {
      borderline = true;
    }
  };
  check(m.rtt_ms.has_value(), m.rtt_ms.value_or(0), triggers_.rtt_ms, "rtt", 0, " ms", 1);
  // The seed's loss rate is 0 when nothing was received, which is no measurement at all.
  check(m.packets_received > 0, m.loss_rate, triggers_.loss_rate, "loss", 1, "%", 100);
  check(m.jitter_ms.has_value(), m.jitter_ms.value_or(0), triggers_.jitter_ms, "jitter", 0, " ms",
        1);
  if (!why_bad->empty())
    return Verdict::kBad;
  if (!known)
    return Verdict::kUnknown;
  return borderline ? Verdict::kBorderline : Verdict::kGood;
}

Decision LevelChooser::move_to(QualityLevel to, std::string reason, int64_t now_ms) {
  Decision d;
  d.from = level_;
  d.to = to;
  if (to == level_)
    return d;
  d.changed = true;
  d.reason = std::move(reason);
  if (is_above(level_, to)) {
    degraded_before_ = true;
    last_degrade_ms_ = now_ms;
  }
  level_ = to;
  // Whatever moved us, the new level has to prove itself before the next step up.
  good_streak_ = false;
  return d;
}

Decision LevelChooser::on_report(const ConnectionMetrics &metrics, int64_t now_ms) {
  const int64_t now = monotonic(now_ms);
  if (manual_)
    return move_to(level_, "", now);
  std::string why_bad;
  const Verdict verdict = judge(metrics, &why_bad);
  if (verdict != Verdict::kGood)
    good_streak_ = false;
  if (verdict == Verdict::kBad) {
    const bool too_soon =
        degraded_before_ && now - last_degrade_ms_ < triggers_.min_degrade_interval_ms;
    if (too_soon)
      return move_to(level_, "", now);
    return move_to(lower_level(level_), why_bad, now);
  }
  if (verdict != Verdict::kGood)
    return move_to(level_, "", now);
  if (!good_streak_) {
    good_streak_ = true;
    good_since_ms_ = now;
  }
  const int64_t held = now - good_since_ms_;
  if (held < triggers_.upgrade_hold_ms || !is_above(cap(), level_))
    return move_to(level_, "", now);
  Decision d = move_to(higher_level(level_), "good for " + std::to_string(held) + " ms", now);
  // The new level's hold starts now, not at its first report.
  good_streak_ = true;
  good_since_ms_ = now;
  return d;
}

Decision LevelChooser::set_manual(std::optional<QualityLevel> level) {
  manual_ = level;
  good_streak_ = false;
  if (!level)
    return move_to(level_, "", latest_now_ms_);
  const QualityLevel to = lower_of(*level, cap());
  std::string reason = std::string("manual ") + to_string(*level);
  if (to != *level)
    reason += std::string(" capped at ") + to_string(to);
  // A manual move is not a degrade: it must not delay automatic ones after clearing.
  const bool degraded_before = degraded_before_;
  const int64_t last_degrade_ms = last_degrade_ms_;
  Decision d = move_to(to, std::move(reason), latest_now_ms_);
  degraded_before_ = degraded_before;
  last_degrade_ms_ = last_degrade_ms;
  return d;
}

Decision LevelChooser::apply_cap(const std::string &why, int64_t now_ms) {
  const int64_t now = monotonic(now_ms);
  if (manual_) {
    const QualityLevel to = lower_of(*manual_, cap());
    std::string reason = why + ": manual " + to_string(*manual_);
    if (to != *manual_)
      reason += std::string(" capped at ") + to_string(to);
    return move_to(to, std::move(reason), now);
  }
  return move_to(lower_of(level_, cap()), why + ": " + to_string(cap()), now);
}

Decision LevelChooser::set_battery_saving(bool on, QualityLevel battery_level, int64_t now_ms) {
  battery_saving_ = on;
  if (on)
    battery_level_ = static_cast<L>(index_of(battery_level));
  return apply_cap(on ? "battery saving" : "battery saving off", now_ms);
}

Decision LevelChooser::set_ceiling(QualityLevel ceiling, int64_t now_ms) {
  ceiling_ = static_cast<L>(index_of(ceiling));
  return apply_cap("ceiling", now_ms);
}

}  // namespace tourcast
