/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "toursignaller.h"

G_BEGIN_DECLS

#define TOUR_TYPE_WEBRTC_BIN (tour_webrtc_bin_get_type())
G_DECLARE_FINAL_TYPE(TourWebRTCBin, tour_webrtc_bin, TOUR, WEBRTC_BIN, GstBin)

GST_ELEMENT_REGISTER_DECLARE(tourwebrtcbin);

/* For the composed bins: use @signaller without starting or stopping it (its
 * owner does), and do not turn a failed connection into an element error
 * (the owner removes the peer instead). */
void tour_webrtc_bin_set_shared_signaller(TourWebRTCBin *self, TourSignaller *signaller);

/* Attendee, recoverable: the next offer of the same guide may carry a new
 * session id (a signaling reset a recovery asked for); it renegotiates this
 * connection instead of being ignored. */
void tour_webrtc_bin_expect_new_session(TourWebRTCBin *self);

/* A new, floating tourwebrtcbin with the settings of @self (role, latency,
 * ICE settings, quality interval, timeouts, recoverable) and its signaller,
 * shared or owned as @self has it; without the peer and session, which the
 * new connection finds again. For a full reconnect. */
GstElement *tour_webrtc_bin_new_like(TourWebRTCBin *self);

/* Whether @self's signaller is shared (started and stopped by its owner). */
gboolean tour_webrtc_bin_has_shared_signaller(TourWebRTCBin *self);

G_END_DECLS
