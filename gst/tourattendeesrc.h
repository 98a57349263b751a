/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define TOUR_TYPE_ATTENDEE_SRC (tour_attendee_src_get_type())
G_DECLARE_FINAL_TYPE(TourAttendeeSrc, tour_attendee_src, TOUR, ATTENDEE_SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE(tourattendeesrc);

G_END_DECLS
