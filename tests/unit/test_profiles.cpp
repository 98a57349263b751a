#include "profiles.h"

#include <string>

#include <gtest/gtest.h>

namespace tourcast {
namespace {

using D = DeviceProfile;
using N = NetworkProfile;
using L = QualityLevel;

constexpr D kAllDevices[kDeviceProfileCount] = {D::kDesktop, D::kMobile, D::kIos};
constexpr N kAllNetworks[kNetworkProfileCount] = {N::kUnknown, N::kWifi, N::k4g, N::k3g, N::k2g};

TEST(ProfileNames, RoundTripAndReject) {
  const char *const devices[] = {"desktop", "mobile", "ios"};
  for (int i = 0; i < kDeviceProfileCount; ++i) {
    EXPECT_STREQ(to_string(kAllDevices[i]), devices[i]);
    D parsed = D::kIos;
    ASSERT_TRUE(device_profile_from_string(devices[i], &parsed));
    EXPECT_EQ(parsed, kAllDevices[i]);
  }
  const char *const networks[] = {"unknown", "wifi", "4g", "3g", "2g"};
  for (int i = 0; i < kNetworkProfileCount; ++i) {
    EXPECT_STREQ(to_string(kAllNetworks[i]), networks[i]);
    N parsed = N::kWifi;
    ASSERT_TRUE(network_profile_from_string(networks[i], &parsed));
    EXPECT_EQ(parsed, kAllNetworks[i]);
  }
  N parsed = N::kWifi;
  ASSERT_TRUE(network_profile_from_string("slow-2g", &parsed));
  EXPECT_EQ(parsed, N::k2g);
  for (const char *text : {"", "Desktop", "iOS", "tablet", "mobile "}) {
    D device = D::kMobile;
    EXPECT_FALSE(device_profile_from_string(text, &device)) << text;
    EXPECT_EQ(device, D::kMobile);
  }
  for (const char *text : {"", "WiFi", "5g", "wi-fi", "ethernet", "3G"}) {
    N network = N::k4g;
    EXPECT_FALSE(network_profile_from_string(text, &network)) << text;
    EXPECT_EQ(network, N::k4g);
  }
}

// Written out for every combination rather than derived, so that a change to the mapping
// shows up here as a deliberate edit.
TEST(SettingsFor, EveryCombination) {
  const struct {
    D device;
    N network;
    L initial;
    L ceiling;
    int channels;
    int64_t heartbeat;
    int64_t timeout;
    bool battery;
    L battery_level;
    int jitter_latency;
  } cases[] = {
      {D::kDesktop, N::kUnknown, L::kHigh, L::kMaximum, 2, 5000, 15000, false, L::kLow, 60},
      {D::kDesktop, N::kWifi, L::kHigh, L::kMaximum, 2, 5000, 15000, false, L::kLow, 60},
      {D::kDesktop, N::k4g, L::kHigh, L::kMaximum, 2, 5000, 15000, false, L::kLow, 120},
      {D::kDesktop, N::k3g, L::kMinimum, L::kLow, 1, 5000, 60000, false, L::kLow, 200},
      {D::kDesktop, N::k2g, L::kMinimum, L::kLow, 1, 5000, 60000, false, L::kLow, 200},
      {D::kMobile, N::kUnknown, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 120},
      {D::kMobile, N::kWifi, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 60},
      {D::kMobile, N::k4g, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 120},
      {D::kMobile, N::k3g, L::kMinimum, L::kLow, 1, 45000, 60000, true, L::kLow, 200},
      {D::kMobile, N::k2g, L::kMinimum, L::kLow, 1, 45000, 60000, true, L::kLow, 200},
      {D::kIos, N::kUnknown, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 120},
      {D::kIos, N::kWifi, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 60},
      {D::kIos, N::k4g, L::kLow, L::kMedium, 1, 45000, 15000, true, L::kLow, 120},
      {D::kIos, N::k3g, L::kMinimum, L::kLow, 1, 45000, 60000, true, L::kLow, 200},
      {D::kIos, N::k2g, L::kMinimum, L::kLow, 1, 45000, 60000, true, L::kLow, 200},
  };
  ASSERT_EQ(sizeof(cases) / sizeof(cases[0]),
            static_cast<size_t>(kDeviceProfileCount * kNetworkProfileCount));
  for (const auto &c : cases) {
    SCOPED_TRACE(std::string(to_string(c.device)) + "/" + to_string(c.network));
    const ProfileSettings s = settings_for(c.device, c.network);
    EXPECT_EQ(s.initial_level, c.initial);
    EXPECT_EQ(s.ceiling, c.ceiling);
    EXPECT_EQ(s.channels, c.channels);
    EXPECT_EQ(s.heartbeat_interval_ms, c.heartbeat);
    EXPECT_EQ(s.connection_timeout_ms, c.timeout);
    EXPECT_EQ(s.battery_saving, c.battery);
    EXPECT_EQ(s.battery_level, c.battery_level);
    EXPECT_EQ(s.jitter_latency_ms, c.jitter_latency);
  }
}

TEST(SettingsFor, InvariantsHoldForEveryCombination) {
  for (D device : kAllDevices) {
    for (N network : kAllNetworks) {
      const ProfileSettings s = settings_for(device, network);
      EXPECT_FALSE(is_above(s.initial_level, s.ceiling));
      EXPECT_FALSE(is_above(s.battery_level, s.ceiling));
      EXPECT_LE(s.channels, level_spec(s.ceiling).channels);
      if (device == D::kIos) {
        EXPECT_EQ(s.channels, 1);
      }
      // Network constraints only ever make the device's settings more conservative.
      const ProfileSettings alone = settings_for(device, N::kUnknown);
      EXPECT_FALSE(is_above(s.initial_level, alone.initial_level));
      EXPECT_FALSE(is_above(s.ceiling, alone.ceiling));
      EXPECT_GE(s.connection_timeout_ms, alone.connection_timeout_ms);
      EXPECT_GE(s.heartbeat_interval_ms, alone.heartbeat_interval_ms);
    }
  }
}

TEST(ParseProfile, Accepted) {
  const struct {
    const char *text;
    D device;
    N network;
    const char *canonical;
  } cases[] = {
      {"desktop", D::kDesktop, N::kUnknown, "desktop"},
      {"mobile", D::kMobile, N::kUnknown, "mobile"},
      {"ios", D::kIos, N::kUnknown, "ios"},
      {"ios/4g", D::kIos, N::k4g, "ios/4g"},
      {"mobile/3g", D::kMobile, N::k3g, "mobile/3g"},
      {"mobile/2g", D::kMobile, N::k2g, "mobile/2g"},
      {"mobile/slow-2g", D::kMobile, N::k2g, "mobile/2g"},
      {"desktop/wifi", D::kDesktop, N::kWifi, "desktop/wifi"},
      {"desktop/unknown", D::kDesktop, N::kUnknown, "desktop"},
  };
  for (const auto &c : cases) {
    AttendeeProfile profile;
    profile.device = D::kIos;
    profile.network = N::kWifi;
    std::string error = "untouched";
    ASSERT_TRUE(parse_profile(c.text, &profile, &error)) << c.text << ": " << error;
    EXPECT_EQ(error, "untouched");
    EXPECT_EQ(profile.device, c.device) << c.text;
    EXPECT_EQ(profile.network, c.network) << c.text;
    EXPECT_EQ(profile_to_string(profile), c.canonical);
    AttendeeProfile again;
    ASSERT_TRUE(parse_profile(profile_to_string(profile), &again, nullptr));
    EXPECT_EQ(profile_to_string(again), c.canonical);
  }
}

TEST(ParseProfile, RejectedWithAClearError) {
  const std::string expected =
      "; expected <device> or <device>/<network> with device desktop, mobile or ios and "
      "network wifi, 4g, 3g, 2g, slow-2g or unknown";
  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "empty profile"},
      {"tablet", "unknown device \"tablet\" in profile \"tablet\""},
      {"Desktop", "unknown device \"Desktop\" in profile \"Desktop\""},
      {"/4g", "unknown device \"\" in profile \"/4g\""},
      {" mobile", "unknown device \" mobile\" in profile \" mobile\""},
      {"mobile/", "unknown network \"\" in profile \"mobile/\""},
      {"mobile/5g", "unknown network \"5g\" in profile \"mobile/5g\""},
      {"mobile/4g/x", "unknown network \"4g/x\" in profile \"mobile/4g/x\""},
      {"ios/4g ", "unknown network \"4g \" in profile \"ios/4g \""},
      {std::string("ios\n/4g"), "unknown device \"ios\\x0A\" in profile \"ios\\x0A/4g\""},
      {std::string("ios/\0", 5), "unknown network \"\\x00\" in profile \"ios/\\x00\""},
  };
  for (const auto &c : cases) {
    AttendeeProfile profile;
    profile.device = D::kIos;
    profile.network = N::k3g;
    std::string error;
    EXPECT_FALSE(parse_profile(c.text, &profile, &error)) << c.text;
    EXPECT_EQ(error, c.error + expected);
    EXPECT_EQ(profile.device, D::kIos);
    EXPECT_EQ(profile.network, N::k3g);
    EXPECT_FALSE(parse_profile(c.text, &profile, nullptr));
  }
}

TEST(ParseProfile, LongInputIsQuotedShort) {
  const std::string text = "mobile/" + std::string(5000, 'g');
  AttendeeProfile profile;
  std::string error;
  ASSERT_FALSE(parse_profile(text, &profile, &error));
  EXPECT_LT(error.size(), 400u);
  EXPECT_EQ(error.rfind("unknown network \"ggg", 0), 0u) << error;
}

}  // namespace
}  // namespace tourcast
