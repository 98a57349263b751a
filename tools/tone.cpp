#include "tone.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tourcast_tools {

namespace {

constexpr double kMinSeconds = 0.25;
// A clean sine through Opus scores about 0.99; a different pitch or noise stays far below.
constexpr double kToneRatioThreshold = 0.5;
// A 0.5 s window resolves about 2 Hz, so a tone a few Hz off (clock drift between sender and
// receiver) would be missed at the exact frequency; search up to this far either side, in
// steps fine enough (1 Hz) not to fall between the peaks.
constexpr double kFrequencyToleranceHz = 5.0;
constexpr double kFrequencyToleranceFraction = 0.01;

// Goertzel at an arbitrary (not bin-aligned) frequency: |sum x[n] e^{-i w n}|^2.
double goertzel_power(const float *samples, size_t count, double sample_rate, double frequency) {
  const double omega = 2.0 * M_PI * frequency / sample_rate;
  const double coefficient = 2.0 * std::cos(omega);
  double s1 = 0, s2 = 0;
  for (size_t n = 0; n < count; n++) {
    double s0 = samples[n] + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}

double zero_crossing_hz(const float *samples, size_t count, double sample_rate) {
  // Positions (in fractional samples) of upward crossings; interpolating between the two
  // samples around each crossing makes the estimate far finer than one sample.
  double first = -1, last = -1;
  size_t crossings = 0;
  for (size_t n = 1; n < count; n++) {
    if (samples[n - 1] < 0 && samples[n] >= 0) {
      double at = (n - 1) + samples[n - 1] / (samples[n - 1] - samples[n]);
      if (first < 0)
        first = at;
      last = at;
      crossings++;
    }
  }
  if (crossings < 3 || last <= first)
    return 0;
  return (crossings - 1) * sample_rate / (last - first);
}

}  // namespace

ToneAnalysis analyse_tone(const float *samples, size_t count, double sample_rate,
                          double frequency) {
  ToneAnalysis result;
  result.samples = count;
  result.rms_dbfs = -std::numeric_limits<double>::infinity();
  if (count == 0)
    return result;
  double energy = 0;
  for (size_t n = 0; n < count; n++)
    energy += static_cast<double>(samples[n]) * samples[n];
  if (energy > 0)
    result.rms_dbfs = 10.0 * std::log10(energy / count);
  if (count < kMinSeconds * sample_rate || energy <= 0)
    return result;
  // A sine of amplitude A has energy N*A^2/2 and Goertzel power (N*A/2)^2, so this ratio is
  // 1 for a pure tone at `frequency`.
  double best = 0;
  const double tolerance = std::min(kFrequencyToleranceHz, frequency * kFrequencyToleranceFraction);
  const int steps = static_cast<int>(std::ceil(tolerance));
  for (int k = -steps; k <= steps; k++)
    best = std::max(best, goertzel_power(samples, count, sample_rate,
                                         frequency + (steps ? k * tolerance / steps : 0)));
  result.tone_ratio = best / (energy * count / 2);
  result.dominant_hz = zero_crossing_hz(samples, count, sample_rate);
  result.tone_detected = result.tone_ratio >= kToneRatioThreshold;
  return result;
}

void SampleWindow::push(const float *samples, size_t count, int64_t now_us) {
  std::lock_guard<std::mutex> guard(lock_);
  for (size_t i = 0; i < count; i++) {
    ring_[next_] = samples[i];
    next_ = (next_ + 1) % ring_.size();
  }
  filled_ = std::min(ring_.size(), filled_ + count);
  last_push_us_ = now_us;
}

int64_t SampleWindow::snapshot(std::vector<float> *out) const {
  std::lock_guard<std::mutex> guard(lock_);
  out->resize(filled_);
  size_t start = (next_ + ring_.size() - filled_) % ring_.size();
  for (size_t i = 0; i < filled_; i++)
    (*out)[i] = ring_[(start + i) % ring_.size()];
  return last_push_us_;
}

}  // namespace tourcast_tools
