#include "profiles.h"

#include <algorithm>
#include <utility>

#include "text_util.h"

namespace tourcast {
namespace {

using L = QualityLevel;

constexpr const char *kDeviceNames[kDeviceProfileCount] = {"desktop", "mobile", "ios"};
constexpr const char *kNetworkNames[kNetworkProfileCount] = {"unknown", "wifi", "4g", "3g", "2g"};

constexpr const char *kExpectedForm =
    "expected <device> or <device>/<network> with device desktop, mobile or ios and network "
    "wifi, 4g, 3g, 2g, slow-2g or unknown";

template <typename Enum, int N>
bool from_names(const char *const (&names)[N], std::string_view text, Enum *out) {
  for (int i = 0; i < N; ++i) {
    if (text == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

void set_error(std::string *error, std::string message) {
  if (error)
    *error = std::move(message);
}

}  // namespace

const char *to_string(DeviceProfile device) {
  const int index = static_cast<int>(device);
  return index >= 0 && index < kDeviceProfileCount ? kDeviceNames[index] : "unknown";
}

bool device_profile_from_string(std::string_view text, DeviceProfile *out) {
  return from_names(kDeviceNames, text, out);
}

const char *to_string(NetworkProfile network) {
  const int index = static_cast<int>(network);
  return index >= 0 && index < kNetworkProfileCount ? kNetworkNames[index] : "unknown";
}

bool network_profile_from_string(std::string_view text, NetworkProfile *out) {
  if (text == "slow-2g") {
    *out = NetworkProfile::k2g;
    return true;
  }
  return from_names(kNetworkNames, text, out);
}

ProfileSettings settings_for(DeviceProfile device, NetworkProfile network) {
  ProfileSettings s;  // desktop
  int device_channels = 2;
  if (device == DeviceProfile::kMobile || device == DeviceProfile::kIos) {
    s.initial_level = L::kLow;
    s.ceiling = L::kMedium;
    s.heartbeat_interval_ms = 45000;
    s.battery_saving = true;
  }
  if (device == DeviceProfile::kIos)
    device_channels = 1;
  if (network == NetworkProfile::k3g || network == NetworkProfile::k2g) {
    s.initial_level = lower_of(s.initial_level, L::kMinimum);
    s.ceiling = lower_of(s.ceiling, L::kLow);
    s.connection_timeout_ms = std::max<int64_t>(s.connection_timeout_ms, 60000);
  }
  switch (network) {
    case NetworkProfile::kUnknown:
      s.jitter_latency_ms = device == DeviceProfile::kDesktop ? 60 : 120;
      break;
    case NetworkProfile::kWifi:
      s.jitter_latency_ms = 60;
      break;
    case NetworkProfile::k4g:
      s.jitter_latency_ms = 120;
      break;
    case NetworkProfile::k3g:
    case NetworkProfile::k2g:
      s.jitter_latency_ms = 200;
      break;
  }
  s.initial_level = lower_of(s.initial_level, s.ceiling);
  s.battery_level = lower_of(s.battery_level, s.ceiling);
  s.channels = std::min(device_channels, level_spec(s.ceiling).channels);
  return s;
}

bool parse_profile(std::string_view text, AttendeeProfile *out, std::string *error) {
  if (text.empty()) {
    set_error(error, std::string("empty profile; ") + kExpectedForm);
    return false;
  }
  const size_t slash = text.find('/');
  const std::string_view device_text = text.substr(0, slash);
  AttendeeProfile parsed;
  if (!device_profile_from_string(device_text, &parsed.device)) {
    set_error(error, "unknown device " + quote_for_message(device_text) + " in profile " +
                         quote_for_message(text) + "; " + kExpectedForm);
    return false;
  }
  if (slash != std::string_view::npos) {
    const std::string_view network_text = text.substr(slash + 1);
    if (!network_profile_from_string(network_text, &parsed.network)) {
      set_error(error, "unknown network " + quote_for_message(network_text) + " in profile " +
                           quote_for_message(text) + "; " + kExpectedForm);
      return false;
    }
  }
  *out = parsed;
  return true;
}

std::string profile_to_string(const AttendeeProfile &profile) {
  std::string text = to_string(profile.device);
  if (profile.network != NetworkProfile::kUnknown)
    text += std::string("/") + to_string(profile.network);
  return text;
}

}  // namespace tourcast
