/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "adaptation-props.h"

namespace tourcast {

enum { RTT, LOSS, JITTER, HOLD };

void install_trigger_properties(GObjectClass *klass, guint first_id) {
  const AdaptationTriggers defaults;
  const auto ready =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      klass, first_id + RTT,
      g_param_spec_double("rtt-threshold", "RTT threshold",
                          "Round-trip time in ms above which the level goes down one step", 1,
                          10000, defaults.rtt_ms, ready));
  g_object_class_install_property(
      klass, first_id + LOSS,
      g_param_spec_double("loss-threshold", "Loss threshold",
                          "Packet loss in percent above which the level goes down one step", 0.01,
                          100, defaults.loss_rate * 100.0, ready));
  g_object_class_install_property(
      klass, first_id + JITTER,
      g_param_spec_double("jitter-threshold", "Jitter threshold",
                          "Jitter in ms above which the level goes down one step", 1, 10000,
                          defaults.jitter_ms, ready));
  g_object_class_install_property(
      klass, first_id + HOLD,
      g_param_spec_uint("upgrade-hold", "Upgrade hold",
                        "Milliseconds of good reports before the level goes up one step", 0,
                        3600000, (guint)defaults.upgrade_hold_ms, ready));
}

bool set_trigger_property(AdaptationTriggers *triggers, guint first_id, guint prop_id,
                          const GValue *value) {
  if (prop_id < first_id || prop_id >= first_id + kTriggerPropertyCount)
    return false;
  switch (prop_id - first_id) {
    case RTT:
      triggers->rtt_ms = g_value_get_double(value);
      break;
    case LOSS:
      triggers->loss_rate = g_value_get_double(value) / 100.0;
      break;
    case JITTER:
      triggers->jitter_ms = g_value_get_double(value);
      break;
    case HOLD:
      triggers->upgrade_hold_ms = g_value_get_uint(value);
      break;
  }
  return true;
}

bool get_trigger_property(const AdaptationTriggers &triggers, guint first_id, guint prop_id,
                          GValue *value) {
  if (prop_id < first_id || prop_id >= first_id + kTriggerPropertyCount)
    return false;
  switch (prop_id - first_id) {
    case RTT:
      g_value_set_double(value, triggers.rtt_ms);
      break;
    case LOSS:
      g_value_set_double(value, triggers.loss_rate * 100.0);
      break;
    case JITTER:
      g_value_set_double(value, triggers.jitter_ms);
      break;
    case HOLD:
      g_value_set_uint(value, (guint)triggers.upgrade_hold_ms);
      break;
  }
  return true;
}

}  // namespace tourcast
