/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "tourcast-enums.h"

G_BEGIN_DECLS

#define TOUR_TYPE_OPUS_ADAPTER (tour_opus_adapter_get_type())
G_DECLARE_FINAL_TYPE(TourOpusAdapter, tour_opus_adapter, TOUR, OPUS_ADAPTER, GstBin)

GST_ELEMENT_REGISTER_DECLARE(touropusadapter);

G_END_DECLS
