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

G_END_DECLS
