/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "tourcast-enums.h"

#include "adaptation.h"
#include "state_machine.h"

static_assert(TOUR_CONNECTION_STATE_CLOSED + 1 == tourcast::kConnectionStateCount,
              "TourConnectionState must mirror tourcast::ConnectionState");
static_assert((int)TOUR_CONNECTION_STATE_CONNECTED == (int)tourcast::ConnectionState::kConnected,
              "TourConnectionState must mirror tourcast::ConnectionState");

GType tour_connection_state_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {TOUR_CONNECTION_STATE_INITIALIZING, "Setting up components", "initializing"},
      {TOUR_CONNECTION_STATE_SIGNALING, "Exchanging offer and answer", "signaling"},
      {TOUR_CONNECTION_STATE_ICE_GATHERING, "Collecting ICE candidates", "ice_gathering"},
      {TOUR_CONNECTION_STATE_ICE_EXCHANGE, "Exchanging ICE candidates", "ice_exchange"},
      {TOUR_CONNECTION_STATE_CONNECTING, "Establishing the connection", "connecting"},
      {TOUR_CONNECTION_STATE_CONNECTED, "Connected, media flowing", "connected"},
      {TOUR_CONNECTION_STATE_RECONNECTING, "Attempting recovery", "reconnecting"},
      {TOUR_CONNECTION_STATE_FAILED, "Connection failed", "failed"},
      {TOUR_CONNECTION_STATE_CLOSED, "Connection terminated", "closed"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("TourConnectionState", values);
    g_once_init_leave(&type, t);
  }
  return type;
}

GType tour_quality_level_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {TOUR_QUALITY_LEVEL_MAXIMUM, "128 kb/s, fullband, stereo", "maximum"},
      {TOUR_QUALITY_LEVEL_HIGH, "96 kb/s, fullband, mono", "high"},
      {TOUR_QUALITY_LEVEL_MEDIUM, "64 kb/s, superwideband (24 kHz), mono", "medium"},
      {TOUR_QUALITY_LEVEL_LOW, "32 kb/s, wideband (16 kHz), mono", "low"},
      {TOUR_QUALITY_LEVEL_MINIMUM, "16 kb/s, narrowband (8 kHz), mono", "minimum"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("TourQualityLevel", values);
    g_once_init_leave(&type, t);
  }
  return type;
}

static_assert((int)TOUR_QUALITY_LEVEL_MINIMUM == (int)tourcast::QualityLevel::kMinimum,
              "TourQualityLevel must mirror tourcast::QualityLevel");

GType tour_ice_nomination_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {TOUR_ICE_NOMINATION_REGULAR, "A second check, with USE-CANDIDATE, once a check succeeded",
       "regular"},
      {TOUR_ICE_NOMINATION_AGGRESSIVE, "USE-CANDIDATE on every check", "aggressive"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("TourIceNomination", values);
    g_once_init_leave(&type, t);
  }
  return type;
}
