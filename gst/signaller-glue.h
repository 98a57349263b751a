/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gst/gst.h>

#include "toursignaller.h"

namespace tourcast {

/* What the composed bins (tourguidesink, tourattendeesrc) share: the same
 * channel properties on both, so two shells can name one channel. */
struct ChannelSettings {
  std::string tour;
  std::string language;
  std::string redis_url;
  std::string participant_id;
  guint heartbeat_interval_ms = 0; /* 0: the signaller's default */
  gint latency_ms = -1;            /* -1: the element's default (see its blurb) */
  std::string ice_addresses;
  guint quality_interval_ms = 1000; /* 0: no quality monitoring */
  guint rtcp_interval_ms = 500;     /* tourwebrtcbin's rtcp-interval */
  bool auto_recovery = true;        /* the seed's enableAutoRecovery */
  guint max_recovery_attempts = 3;  /* the seed's maxRecoveryAttempts, per level */
};

enum ChannelProperty {
  CHANNEL_PROP_TOUR = 1,
  CHANNEL_PROP_LANGUAGE,
  CHANNEL_PROP_REDIS_URL,
  CHANNEL_PROP_PARTICIPANT_ID,
  CHANNEL_PROP_HEARTBEAT_INTERVAL,
  CHANNEL_PROP_LATENCY,
  CHANNEL_PROP_ICE_ADDRESSES,
  CHANNEL_PROP_QUALITY_INTERVAL,
  CHANNEL_PROP_RTCP_INTERVAL,
  CHANNEL_PROP_SIGNALLER,
  CHANNEL_PROP_AUTO_RECOVERY,
  CHANNEL_PROP_MAX_RECOVERY_ATTEMPTS,
  CHANNEL_PROP_LAST,
};

/* The signaller a composed bin owns (a tourredissignaller unless the
 * application sets another) and its handlers. Thread-safe; it never calls
 * the signaller while holding its lock. */
class ChannelSignaller {
 public:
  using Handlers = std::vector<std::pair<const char *, GCallback>>;

  explicit ChannelSignaller(TourRole role);
  ~ChannelSignaller();
  ChannelSignaller(const ChannelSignaller &) = delete;
  ChannelSignaller &operator=(const ChannelSignaller &) = delete;

  void replace(TourSignaller *signaller);
  /* A new reference. */
  TourSignaller *ref() const;

  /* Copies @settings onto the signaller, forwards its error and warning
   * signals as element errors and warnings of @element, connects @handlers
   * (their user data is a GWeakRef to @element) and starts it. On failure
   * posts an element error and returns false. */
  bool start(GstElement *element, const ChannelSettings &settings, const Handlers &handlers);
  void stop();

 private:
  mutable std::mutex lock_;
  TourRole role_;
  TourSignaller *signaller_ = nullptr;
  std::vector<gulong> handlers_;
  bool started_ = false;
};

void install_channel_properties(GObjectClass *klass, const char *latency_blurb);
/* Both return false for a property that is not a channel property. */
bool set_channel_property(ChannelSettings *settings, ChannelSignaller *signaller, guint prop_id,
                          const GValue *value);
bool get_channel_property(const ChannelSettings &settings, const ChannelSignaller &signaller,
                          guint prop_id, GValue *value);

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
