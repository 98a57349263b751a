/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

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

#define TOUR_TYPE_OPUS_ADAPTER (tour_opus_adapter_get_type())
G_DECLARE_FINAL_TYPE(TourOpusAdapter, tour_opus_adapter, TOUR, OPUS_ADAPTER, GstBin)

GST_ELEMENT_REGISTER_DECLARE(touropusadapter);

G_END_DECLS
