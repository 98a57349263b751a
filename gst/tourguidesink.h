/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define TOUR_TYPE_GUIDE_SINK (tour_guide_sink_get_type())
G_DECLARE_FINAL_TYPE(TourGuideSink, tour_guide_sink, TOUR, GUIDE_SINK, GstBin)

GST_ELEMENT_REGISTER_DECLARE(tourguidesink);

G_END_DECLS
