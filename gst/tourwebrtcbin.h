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

/* Guide, offering, before the element starts: a spare peer. Once its sink
 * pad has caps it makes and sets its offer and gathers its candidates for
 * nobody yet; its state machine (no state messages, status reports or
 * timeouts) waits in initializing until tour_webrtc_bin_bind_spare(). */
void tour_webrtc_bin_hold_as_spare(TourWebRTCBin *self);

/* Names the attendee of a held spare: its timeouts start now, its states so
 * far are posted (signaling, ice_gathering, failed if its offer failed), and
 * its offer and candidates go out, at once or as soon as the offer is set.
 * FALSE when @self is not a held, started spare. */
gboolean tour_webrtc_bin_bind_spare(TourWebRTCBin *self, const gchar *peer_id,
                                    const gchar *session_id);

/* Whether @self is a held spare whose offer is set (ready for a join). */
gboolean tour_webrtc_bin_spare_ready(TourWebRTCBin *self);

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
