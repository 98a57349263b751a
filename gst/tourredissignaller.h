/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "toursignaller.h"

G_BEGIN_DECLS

#define TOUR_TYPE_REDIS_SIGNALLER (tour_redis_signaller_get_type())
G_DECLARE_FINAL_TYPE(TourRedisSignaller, tour_redis_signaller, TOUR, REDIS_SIGNALLER, GObject)

G_END_DECLS
