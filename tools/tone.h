// Measures what an attendee hears: how loud it is and whether it is the guide's test tone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tourcast_tools {

struct ToneAnalysis {
  size_t samples = 0;
  // RMS level relative to full scale; -infinity for digital silence or no samples.
  double rms_dbfs = 0;
  // Power at the expected frequency (within 5 Hz or 1%) as a fraction of the total power: about 1
  // for a clean sine at that frequency, near 0 for silence, noise or another pitch.
  double tone_ratio = 0;
  // Pitch estimated from the zero crossings; 0 when there are too few.
  double dominant_hz = 0;
  bool tone_detected = false;
};

// The block must hold at least a quarter of a second for a verdict, so that a stray few
// milliseconds of a decoder's concealment cannot count as the tone.
ToneAnalysis analyse_tone(const float *samples, size_t count, double sample_rate, double frequency);

// The last `capacity` mono samples of a stream, written by the streaming thread and read by
// the main loop.
class SampleWindow {
 public:
  explicit SampleWindow(size_t capacity) : ring_(capacity) {}

  void push(const float *samples, size_t count, int64_t now_us);
  // Oldest first. Returns the monotonic time of the last push (0: never).
  int64_t snapshot(std::vector<float> *out) const;

 private:
  mutable std::mutex lock_;
  std::vector<float> ring_;
  size_t next_ = 0;
  size_t filled_ = 0;
  int64_t last_push_us_ = 0;
};

}  // namespace tourcast_tools
