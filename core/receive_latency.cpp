#include "receive_latency.h"

#include <algorithm>
#include <cstdlib>

namespace tourcast {

int adaptive_start_latency_ms(int profile_latency_ms, int min_latency_ms) {
  constexpr int kFastNetworkLatencyMs = 60;
  if (profile_latency_ms <= kFastNetworkLatencyMs)
    return min_latency_ms;
  return std::max(profile_latency_ms, min_latency_ms);
}

ReceiveLatencyController::ReceiveLatencyController(int start_ms, int max_ms, int clock_rate)
    : latency_ms_(start_ms), max_ms_(std::max(start_ms, max_ms)), clock_rate_(clock_rate) {}

void ReceiveLatencyController::restart_stream() {
  have_timestamp_ = false;
  fastest_.clear();
  slowest_.clear();
  late_.clear();
}

int64_t ReceiveLatencyController::recent_max_delay_us() const {
  return slowest_.empty() ? 0 : slowest_.front().value_us;
}

std::optional<int> ReceiveLatencyController::on_packet(int64_t arrival_us, uint32_t rtp_timestamp) {
  if (clock_rate_ <= 0)
    return std::nullopt;
  if (!have_timestamp_) {
    extended_timestamp_ = rtp_timestamp;
  } else {
    /* Wraps every 24.8 hours at 48 kHz; a signed difference follows it either way. */
    extended_timestamp_ += static_cast<int32_t>(rtp_timestamp - last_timestamp_);
  }
  last_timestamp_ = rtp_timestamp;
  const int64_t media_us = extended_timestamp_ * 1'000'000 / clock_rate_;
  const int64_t transit_us = arrival_us - media_us;
  if (have_timestamp_ && std::abs(transit_us - last_transit_us_) > kStreamJumpUs) {
    restart_stream();
    return on_packet(arrival_us, rtp_timestamp);
  }
  have_timestamp_ = true;
  last_transit_us_ = transit_us;

  while (!fastest_.empty() && fastest_.back().value_us >= transit_us)
    fastest_.pop_back();
  fastest_.push_back({arrival_us, transit_us});
  while (fastest_.front().arrival_us < arrival_us - kBaseWindowUs)
    fastest_.pop_front();
  const int64_t delay_us = transit_us - fastest_.front().value_us;

  while (!slowest_.empty() && slowest_.back().value_us <= delay_us)
    slowest_.pop_back();
  slowest_.push_back({arrival_us, delay_us});
  while (slowest_.front().arrival_us < arrival_us - kLateWindowUs)
    slowest_.pop_front();

  if (delay_us + kLatenessMarginUs > int64_t{latency_ms_} * 1000)
    late_.push_back(arrival_us);
  while (!late_.empty() && late_.front() < arrival_us - kLateWindowUs)
    late_.pop_front();
  if (static_cast<int>(late_.size()) < kLatePacketsToRaise || latency_ms_ >= max_ms_)
    return std::nullopt;

  const int64_t wanted_us = recent_max_delay_us() * 5 / 4 + kLatenessMarginUs;
  const int64_t step_us = int64_t{kLatencyStepMs} * 1000;
  const int64_t rounded_ms = (wanted_us + step_us - 1) / step_us * kLatencyStepMs;
  const int raised = static_cast<int>(
      std::min<int64_t>(max_ms_, std::max<int64_t>(rounded_ms, latency_ms_ + kLatencyStepMs)));
  late_.clear();
  latency_ms_ = raised;
  return raised;
}

}  // namespace tourcast
