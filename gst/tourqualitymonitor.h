/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define TOUR_TYPE_QUALITY_MONITOR (tour_quality_monitor_get_type())
G_DECLARE_FINAL_TYPE(TourQualityMonitor, tour_quality_monitor, TOUR, QUALITY_MONITOR, GstElement)

GST_ELEMENT_REGISTER_DECLARE(tourqualitymonitor);

G_END_DECLS
