/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string>
#include <vector>

#include <gst/gst.h>

#include "toursignaller.h"

namespace tourcast {

/* What the composed bins (tourguidesink, tourattendeesrc) forward to their
 * signaller: the same properties on both, so two shells can name one channel. */
struct ChannelSettings {
  std::string tour;
  std::string language;
  std::string redis_url;
  std::string participant_id;
  guint heartbeat_interval_ms = 0; /* 0: the signaller's default */
};

enum ChannelProperty {
  CHANNEL_PROP_TOUR = 1,
  CHANNEL_PROP_LANGUAGE,
  CHANNEL_PROP_REDIS_URL,
  CHANNEL_PROP_PARTICIPANT_ID,
  CHANNEL_PROP_HEARTBEAT_INTERVAL,
  CHANNEL_PROP_SIGNALLER,
  CHANNEL_PROP_LAST,
};

void install_channel_properties(GObjectClass *klass);
bool set_channel_property(ChannelSettings *settings, guint prop_id, const GValue *value);
bool get_channel_property(const ChannelSettings &settings, guint prop_id, GValue *value);

/* Copies @settings onto @signaller (those of its properties that exist) and
 * sets its role. */
void apply_channel_settings(TourSignaller *signaller, const ChannelSettings &settings,
                            TourRole role);

/* Turns the signaller's error and warning signals into element errors and
 * warnings of @element; returns the handler ids to disconnect. */
std::vector<gulong> forward_signaller_problems(TourSignaller *signaller, GstElement *element);
void disconnect_handlers(gpointer instance, std::vector<gulong> *handlers);

/* Signals of a signaller arrive on the worker thread, possibly while the
 * element that listens is being disposed elsewhere: handlers hold only a weak
 * reference and take a strong one with g_weak_ref_get() for the call. */
GWeakRef *new_weak_ref(gpointer object);
void free_weak_ref(gpointer weak);
gulong connect_weak(gpointer instance, const char *signal, GCallback callback, gpointer object);

}  // namespace tourcast
