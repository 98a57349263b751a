/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "signaller-glue.h"

#include "tourredissignaller.h"

namespace tourcast {

namespace {

void free_weak_closure_data(gpointer data, GClosure *) {
  free_weak_ref(data);
}

void on_error(TourSignaller *, const gchar *message, gpointer data) {
  auto *element = static_cast<GstElement *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (element == nullptr)
    return;
  GST_ELEMENT_ERROR(element, RESOURCE, OPEN_READ_WRITE, ("%s", message), (nullptr));
  gst_object_unref(element);
}

void on_warning(TourSignaller *, const gchar *message, gpointer data) {
  auto *element = static_cast<GstElement *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (element == nullptr)
    return;
  GST_ELEMENT_WARNING(element, RESOURCE, READ, ("%s", message), (nullptr));
  gst_object_unref(element);
}

void set_string(GValue *value, const std::string &s) {
  g_value_set_string(value, s.empty() ? nullptr : s.c_str());
}

std::string get_string(const GValue *value) {
  const gchar *s = g_value_get_string(value);
  return s ? s : "";
}

}  // namespace

void install_channel_properties(GObjectClass *klass, const char *latency_blurb) {
  const auto flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      klass, CHANNEL_PROP_TOUR,
      g_param_spec_string("tour", "Tour", "Tour id (1-64 letters, digits, '-' or '_')", nullptr,
                          flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_LANGUAGE,
      g_param_spec_string("language", "Language",
                          "Language channel within the tour (1-64 letters, digits, '-' or '_')",
                          nullptr, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_REDIS_URL,
      g_param_spec_string("redis-url", "Redis URL",
                          "Redis server for signaling: redis://[[user][:password]@]host[:port][/db]"
                          " (NULL: the signaller's default, redis://127.0.0.1:6379)",
                          nullptr, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_PARTICIPANT_ID,
      g_param_spec_string("participant-id", "Participant id",
                          "This participant's id (1-64 letters, digits, '-', '_' or '.'); NULL "
                          "picks one",
                          nullptr, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_HEARTBEAT_INTERVAL,
      g_param_spec_uint("heartbeat-interval", "Heartbeat interval",
                        "Milliseconds between heartbeats in Redis; a participant that misses "
                        "three expires (0: the signaller's default, 5000)",
                        0, 600000, 0, flags));
  g_object_class_install_property(klass, CHANNEL_PROP_LATENCY,
                                  g_param_spec_int("latency", "Latency", latency_blurb, -1, 10000,
                                                   ChannelSettings().latency_ms, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_ICE_ADDRESSES,
      g_param_spec_string("ice-addresses", "ICE addresses",
                          "Comma-separated local IP addresses ICE may use (e.g. 127.0.0.1); "
                          "NULL lets libnice use every non-loopback interface",
                          nullptr, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_QUALITY_INTERVAL,
      g_param_spec_uint("quality-interval", "Quality interval",
                        "Milliseconds between quality measurements of each connection "
                        "(tourcast-quality messages); 0 turns quality monitoring off",
                        0, 60000, ChannelSettings().quality_interval_ms, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_RTCP_INTERVAL,
      g_param_spec_uint("rtcp-interval", "RTCP interval",
                        "Milliseconds between RTCP reports of each connection (randomised "
                        "0.5-1.5x): how soon the guide learns of an attendee's loss and RTT "
                        "(webrtcbin's own default is 5000)",
                        100, 60000, ChannelSettings().rtcp_interval_ms, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_SIGNALLER,
      g_param_spec_object("signaller", "Signaller",
                          "The TourSignaller to use (default: a tourredissignaller built from "
                          "tour, language and redis-url)",
                          TOUR_TYPE_SIGNALLER, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_AUTO_RECOVERY,
      g_param_spec_boolean(
          "auto-recovery", "Auto recovery",
          "Recover lost connections by themselves (the seed's enableAutoRecovery): an attendee "
          "escalates ICE restart, signaling reset, full reconnect (see tourrecoverybin); a guide "
          "keeps a failed peer for its attendee's recovery and serves its requests",
          ChannelSettings().auto_recovery, flags));
  g_object_class_install_property(
      klass, CHANNEL_PROP_MAX_RECOVERY_ATTEMPTS,
      g_param_spec_uint("max-recovery-attempts", "Max recovery attempts",
                        "Recovery attempts per level before the next level, and before giving "
                        "up with an error after the last (the seed's maxRecoveryAttempts; 0 "
                        "gives up at once). On a guide: recovery requests served per attendee "
                        "connection (3 levels x this)",
                        0, 100, ChannelSettings().max_recovery_attempts, flags));
}

bool set_channel_property(ChannelSettings *settings, ChannelSignaller *signaller, guint prop_id,
                          const GValue *value) {
  switch (prop_id) {
    case CHANNEL_PROP_TOUR:
      settings->tour = get_string(value);
      return true;
    case CHANNEL_PROP_LANGUAGE:
      settings->language = get_string(value);
      return true;
    case CHANNEL_PROP_REDIS_URL:
      settings->redis_url = get_string(value);
      return true;
    case CHANNEL_PROP_PARTICIPANT_ID:
      settings->participant_id = get_string(value);
      return true;
    case CHANNEL_PROP_HEARTBEAT_INTERVAL:
      settings->heartbeat_interval_ms = g_value_get_uint(value);
      return true;
    case CHANNEL_PROP_LATENCY:
      settings->latency_ms = g_value_get_int(value);
      return true;
    case CHANNEL_PROP_ICE_ADDRESSES:
      settings->ice_addresses = get_string(value);
      return true;
    case CHANNEL_PROP_QUALITY_INTERVAL:
      settings->quality_interval_ms = g_value_get_uint(value);
      return true;
    case CHANNEL_PROP_RTCP_INTERVAL:
      settings->rtcp_interval_ms = g_value_get_uint(value);
      return true;
    case CHANNEL_PROP_AUTO_RECOVERY:
      settings->auto_recovery = g_value_get_boolean(value);
      return true;
    case CHANNEL_PROP_MAX_RECOVERY_ATTEMPTS:
      settings->max_recovery_attempts = g_value_get_uint(value);
      return true;
    case CHANNEL_PROP_SIGNALLER:
      if (g_value_get_object(value))
        signaller->replace(TOUR_SIGNALLER(g_value_get_object(value)));
      return true;
    default:
      return false;
  }
}

bool get_channel_property(const ChannelSettings &settings, const ChannelSignaller &signaller,
                          guint prop_id, GValue *value) {
  switch (prop_id) {
    case CHANNEL_PROP_TOUR:
      set_string(value, settings.tour);
      return true;
    case CHANNEL_PROP_LANGUAGE:
      set_string(value, settings.language);
      return true;
    case CHANNEL_PROP_REDIS_URL:
      set_string(value, settings.redis_url);
      return true;
    case CHANNEL_PROP_PARTICIPANT_ID:
      set_string(value, settings.participant_id);
      return true;
    case CHANNEL_PROP_HEARTBEAT_INTERVAL:
      g_value_set_uint(value, settings.heartbeat_interval_ms);
      return true;
    case CHANNEL_PROP_LATENCY:
      g_value_set_int(value, settings.latency_ms);
      return true;
    case CHANNEL_PROP_ICE_ADDRESSES:
      set_string(value, settings.ice_addresses);
      return true;
    case CHANNEL_PROP_QUALITY_INTERVAL:
      g_value_set_uint(value, settings.quality_interval_ms);
      return true;
    case CHANNEL_PROP_RTCP_INTERVAL:
      g_value_set_uint(value, settings.rtcp_interval_ms);
      return true;
    case CHANNEL_PROP_AUTO_RECOVERY:
      g_value_set_boolean(value, settings.auto_recovery);
      return true;
    case CHANNEL_PROP_MAX_RECOVERY_ATTEMPTS:
      g_value_set_uint(value, settings.max_recovery_attempts);
      return true;
    case CHANNEL_PROP_SIGNALLER:
      g_value_take_object(value, signaller.ref());
      return true;
    default:
      return false;
  }
}

namespace {

void apply_channel_settings(TourSignaller *signaller, const ChannelSettings &settings,
                            TourRole role) {
  GObjectClass *klass = G_OBJECT_GET_CLASS(signaller);
  auto set_if = [&](const char *name, const std::string &v) {
    if (!v.empty() && g_object_class_find_property(klass, name))
      g_object_set(signaller, name, v.c_str(), nullptr);
  };
  set_if("tour", settings.tour);
  set_if("language", settings.language);
  set_if("redis-url", settings.redis_url);
  set_if("participant-id", settings.participant_id);
  if (settings.heartbeat_interval_ms && g_object_class_find_property(klass, "heartbeat-interval"))
    g_object_set(signaller, "heartbeat-interval", settings.heartbeat_interval_ms, nullptr);
  g_object_set(signaller, "role", role, nullptr);
}

}  // namespace

ChannelSignaller::ChannelSignaller(TourRole role)
    : role_(role),
      signaller_(TOUR_SIGNALLER(g_object_new(TOUR_TYPE_REDIS_SIGNALLER, "role", role, nullptr))) {}

ChannelSignaller::~ChannelSignaller() {
  stop();
  g_clear_object(&signaller_);
}

void ChannelSignaller::replace(TourSignaller *signaller) {
  TourSignaller *old;
  {
    std::lock_guard<std::mutex> guard(lock_);
    old = signaller_;
    signaller_ = TOUR_SIGNALLER(g_object_ref(signaller));
  }
  g_object_unref(old);
}

TourSignaller *ChannelSignaller::ref() const {
  std::lock_guard<std::mutex> guard(lock_);
  return TOUR_SIGNALLER(g_object_ref(signaller_));
}

bool ChannelSignaller::start(GstElement *element, const ChannelSettings &settings,
                             const Handlers &handlers) {
  TourSignaller *signaller = ref();
  apply_channel_settings(signaller, settings, role_);
  std::vector<gulong> ids = forward_signaller_problems(signaller, element);
  for (const auto &h : handlers)
    ids.push_back(connect_weak(signaller, h.first, h.second, element));
  GError *error = nullptr;
  bool ok = tour_signaller_start(signaller, &error);
  if (!ok) {
    GST_ELEMENT_ERROR(element, RESOURCE, SETTINGS, ("%s", error->message), (nullptr));
    g_clear_error(&error);
    disconnect_handlers(signaller, &ids);
  }
  {
    std::lock_guard<std::mutex> guard(lock_);
    handlers_ = ids;
    started_ = ok;
  }
  g_object_unref(signaller);
  return ok;
}

void ChannelSignaller::stop() {
  TourSignaller *signaller;
  std::vector<gulong> ids;
  bool started;
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (signaller_ == nullptr)
      return;
    signaller = TOUR_SIGNALLER(g_object_ref(signaller_));
    ids.swap(handlers_);
    started = started_;
    started_ = false;
  }
  disconnect_handlers(signaller, &ids);
  if (started)
    tour_signaller_stop(signaller);
  g_object_unref(signaller);
}

GWeakRef *new_weak_ref(gpointer object) {
  auto *weak = g_new0(GWeakRef, 1);
  g_weak_ref_init(weak, object);
  return weak;
}

void free_weak_ref(gpointer data) {
  auto *weak = static_cast<GWeakRef *>(data);
  g_weak_ref_clear(weak);
  g_free(weak);
}

gulong connect_weak(gpointer instance, const char *signal, GCallback callback, gpointer object) {
  return g_signal_connect_data(instance, signal, callback, new_weak_ref(object),
                               free_weak_closure_data, (GConnectFlags)0);
}

std::vector<gulong> forward_signaller_problems(TourSignaller *signaller, GstElement *element) {
  return {
      connect_weak(signaller, "error", G_CALLBACK(on_error), element),
      connect_weak(signaller, "warning", G_CALLBACK(on_warning), element),
  };
}

void disconnect_handlers(gpointer instance, std::vector<gulong> *handlers) {
  for (gulong id : *handlers)
    g_signal_handler_disconnect(instance, id);
  handlers->clear();
}

}  // namespace tourcast
