#include "check_timeout.h"

#include <algorithm>

namespace tourcast {

int64_t check_timeout_for_first_request_delay(int64_t first_request_delay_ms) {
  if (first_request_delay_ms < 0)
    return kLibniceCheckTimeoutMs;
  /* Clamped before doubling: no overflow for any int64_t. */
  const int64_t delay = std::min(first_request_delay_ms, kMaxCheckTimeoutMs);
  return std::clamp(2 * delay + kCheckTimeoutMarginMs, kLibniceCheckTimeoutMs, kMaxCheckTimeoutMs);
}

int64_t check_timeout_for_agent(int64_t first_request_delay_ms, CheckAgent agent) {
  if (agent == CheckAgent::kShared)
    return kLibniceCheckTimeoutMs;
  return check_timeout_for_first_request_delay(first_request_delay_ms);
}

int64_t idle_timeout_for_pacing(int64_t pacing_ms, int64_t tick_ms) {
  if (tick_ms <= 0 || pacing_ms <= tick_ms)
    return kLibniceIdleTimeoutMs;
  /* The cap first: no overflow for any int64_t. */
  if (pacing_ms >= kLibniceMaxIdleTimeoutMs)
    return kLibniceMaxIdleTimeoutMs;
  return std::min((kLibniceIdleTimeoutMs * pacing_ms + tick_ms - 1) / tick_ms,
                  kLibniceMaxIdleTimeoutMs);
}

}  // namespace tourcast
