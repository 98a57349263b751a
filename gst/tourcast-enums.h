/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Mirrors tourcast::ConnectionState (core/state_machine.h); the nicks are the
 * seed's state names. */
typedef enum {
  TOUR_CONNECTION_STATE_INITIALIZING,
  TOUR_CONNECTION_STATE_SIGNALING,
  TOUR_CONNECTION_STATE_ICE_GATHERING,
  TOUR_CONNECTION_STATE_ICE_EXCHANGE,
  TOUR_CONNECTION_STATE_CONNECTING,
  TOUR_CONNECTION_STATE_CONNECTED,
  TOUR_CONNECTION_STATE_RECONNECTING,
  TOUR_CONNECTION_STATE_FAILED,
  TOUR_CONNECTION_STATE_CLOSED,
} TourConnectionState;

#define TOUR_TYPE_CONNECTION_STATE (tour_connection_state_get_type())
GType tour_connection_state_get_type(void);

/* Mirrors tourcast::QualityLevel (core/adaptation.h). */
typedef enum {
  TOUR_QUALITY_LEVEL_MAXIMUM,
  TOUR_QUALITY_LEVEL_HIGH,
  TOUR_QUALITY_LEVEL_MEDIUM,
  TOUR_QUALITY_LEVEL_LOW,
  TOUR_QUALITY_LEVEL_MINIMUM,
} TourQualityLevel;

#define TOUR_TYPE_QUALITY_LEVEL (tour_quality_level_get_type())
GType tour_quality_level_get_type(void);

/* How the guide's shared ICE agents (ICE-controlling) nominate a candidate
 * pair: RFC 8445's regular nomination (a second check, with USE-CANDIDATE,
 * once a first check succeeded) or RFC 5245's aggressive nomination
 * (USE-CANDIDATE on every check). */
typedef enum {
  TOUR_ICE_NOMINATION_REGULAR,
  TOUR_ICE_NOMINATION_AGGRESSIVE,
} TourIceNomination;

#define TOUR_TYPE_ICE_NOMINATION (tour_ice_nomination_get_type())
GType tour_ice_nomination_get_type(void);

G_END_DECLS
