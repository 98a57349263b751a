/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "adaptation.h"

namespace tourcast {

/* The level choice's triggers as properties, the same on every element that
 * adapts (touropusadapter, tourguidesink): rtt-threshold (ms),
 * loss-threshold (percent), jitter-threshold (ms), upgrade-hold (ms), with
 * ids first_id .. first_id + 3. Changeable up to READY: a level choice copies
 * them when it starts. */
constexpr guint kTriggerPropertyCount = 4;
void install_trigger_properties(GObjectClass *klass, guint first_id);
/* Both return false for a property that is not one of them. */
bool set_trigger_property(AdaptationTriggers *triggers, guint first_id, guint prop_id,
                          const GValue *value);
bool get_trigger_property(const AdaptationTriggers &triggers, guint first_id, guint prop_id,
                          GValue *value);

}  // namespace tourcast
