/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define TOUR_TYPE_RECOVERY_BIN (tour_recovery_bin_get_type())
G_DECLARE_FINAL_TYPE(TourRecoveryBin, tour_recovery_bin, TOUR, RECOVERY_BIN, GstBin)

GST_ELEMENT_REGISTER_DECLARE(tourrecoverybin);

/* The tourwebrtcbin the recovery drives right now (a new reference); a full
 * reconnect replaces it with a new one of the same settings. Configure it
 * before the bin starts. */
GstElement *tour_recovery_bin_get_peer(TourRecoveryBin *self);

G_END_DECLS
