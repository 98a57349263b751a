/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

/* Rewrites the RTP payload type of everything crossing `pad` (the caps
 * event's payload field and every RTP buffer) to `pt`. The guide's one
 * payloader uses 96; a browser that offers Opus as 111 expects 111 from the
 * peer that answers it. */
void tour_rewrite_payload_type(GstPad *pad, guint pt);
