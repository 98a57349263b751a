/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourattendeesrc
 * @title: tourattendeesrc
 *
 * An attendee of one tour/language channel: joins through the signaller (by
 * default a tourredissignaller on redis-url), answers the guide's offer and
 * produces the decoded audio (Opus decoded to raw audio at 48 kHz). A
 * lost connection comes back by itself (auto-recovery, see tourrecoverybin:
 * ICE restart, signaling reset, full reconnect).
 *
 * Posts an element message `tourcast-first-audio` (fields `elapsed-ms`, gint64,
 * from start to the first decoded buffer, and `peer-id`) once, and forwards
 * its peer's `tourcast-state` and `tourcast-recovery` messages. A failed
 * connection is an element warning while auto-recovery works on it, an
 * error without auto-recovery; a recovery that gave up is an element error.
 *
 * The process's DTLS certificate is made on a background thread as soon as
 * the element is put in a bin, so a pipeline built before the listener joins
 * does not make the guide's offer wait for it.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 tourattendeesrc tour=demo language=en \
 *     redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1 ! audioconvert ! autoaudiosink
 * ]| Plays what the guide of channel demo/en says.
 */
#include "tourattendeesrc.h"

#include <gst/rtp/gstrtpbuffer.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "profiles.h"
#include "receive_latency.h"
#include "signaller-glue.h"
#include "tourcast-enums.h"
#include "tourcast-worker.h"
#include "tourrecoverybin.h"
#include "tourredissignaller.h"
#include "tourwebrtcbin.h"

GST_DEBUG_CATEGORY_STATIC(tour_attendee_src_debug);
#define GST_CAT_DEFAULT tour_attendee_src_debug

using namespace tourcast;

enum {
  PROP_STATE = CHANNEL_PROP_LAST,
  PROP_TIME_TO_FIRST_AUDIO,
  PROP_PROFILE,
  PROP_BATTERY_SAVING,
  PROP_AUTO_QUALITY,
  PROP_LEVEL,
  PROP_MIN_LATENCY,
  PROP_MAX_LATENCY,
  PROP_CURRENT_LATENCY,
};

#define DEFAULT_MIN_LATENCY_MS ((guint)kDefaultMinReceiveLatencyMs)
#define DEFAULT_MAX_LATENCY_MS ((guint)kDefaultMaxReceiveLatencyMs)
/* Opus's RTP clock is 48 kHz whatever the audio's rate (RFC 7587). */
#define OPUS_RTP_CLOCK_RATE 48000

struct TourAttendeeSrcPrivate {
  std::mutex lock;
  ChannelSettings channel;
  std::string profile = "desktop";
  bool battery_saving = false;
  bool auto_quality = true;
  TourQualityLevel level = TOUR_QUALITY_LEVEL_HIGH;
  ChannelSignaller signaller{TOUR_ROLE_ATTENDEE};
  ChannelSettings pending_channel; /* start() to join(), both on the state change */
  GstElement *peer = nullptr;
  GstElement *depayloader = nullptr;
  gint64 started_at_ms = 0;
  gint64 first_audio_ms = -1;
  guint min_latency_ms = DEFAULT_MIN_LATENCY_MS;
  guint max_latency_ms = DEFAULT_MAX_LATENCY_MS;
  /* The jitterbuffer latency in effect, -1 before the first start. */
  gint current_latency_ms = -1;
  /* The highest adaptive raise so far: a restart starts there. */
  gint raised_latency_ms = -1;
  /* Set while playing with the adaptive latency (latency -1). */
  std::optional<ReceiveLatencyController> adaptive;
  GMainContext *worker = nullptr;
  /* After a raise: kAwaitingLatencyEvent until the sink's new latency comes
   * up as a LATENCY event, then kMarkNextBuffer (see on_output). */
  std::atomic<int> resync{0};
  /* The last LATENCY event's latency (streaming threads only). */
  std::atomic<GstClockTime> sink_latency{0};
};

enum { kNoResync, kAwaitingLatencyEvent, kMarkNextBuffer };

struct _TourAttendeeSrc {
  GstBin parent;
  TourAttendeeSrcPrivate *priv;
};

#define tour_attendee_src_parent_class parent_class
G_DEFINE_TYPE(TourAttendeeSrc, tour_attendee_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(tourattendeesrc, "tourattendeesrc", GST_RANK_NONE,
                            TOUR_TYPE_ATTENDEE_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("audio/x-raw, rate = (int) 48000"));

static GParamSpec *state_pspec = nullptr;
static GParamSpec *first_audio_pspec = nullptr;
static GParamSpec *current_latency_pspec = nullptr;

static void on_peer_state(GObject *, GParamSpec *, TourAttendeeSrc *self) {
  g_object_notify_by_pspec(G_OBJECT(self), state_pspec);
}

static GstPadProbeReturn on_first_buffer(GstPad *, GstPadProbeInfo *, gpointer data) {
  auto *self = TOUR_ATTENDEE_SRC(data);
  gint64 elapsed;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    elapsed = tour_now_ms() - self->priv->started_at_ms;
    self->priv->first_audio_ms = elapsed;
  }
  gchar *peer_id = nullptr;
  GstElement *peer = tour_recovery_bin_get_peer(TOUR_RECOVERY_BIN(self->priv->peer));
  if (peer) {
    g_object_get(peer, "peer-id", &peer_id, nullptr);
    gst_object_unref(peer);
  }
  GST_INFO_OBJECT(self, "first audio after %" G_GINT64_FORMAT " ms", elapsed);
  gst_element_post_message(
      GST_ELEMENT(self),
      gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new("tourcast-first-audio", "elapsed-ms", G_TYPE_INT64, elapsed, "peer-id",
                            G_TYPE_STRING, peer_id ? peer_id : "", nullptr)));
  g_free(peer_id);
  g_object_notify_by_pspec(G_OBJECT(self), first_audio_pspec);
  return GST_PAD_PROBE_REMOVE;
}

struct LatencyRaise {
  TourAttendeeSrc *self;
  int old_ms;
  int new_ms;
  int64_t delay_us;
};

/* On the worker: a latency set from the streaming thread would take rtpbin's
 * locks under the packet being pushed. rtpbin passes it on to the running
 * jitterbuffer, which posts a LATENCY message: the application's
 * recalculation (gst-launch does it) moves the sink's latency too. */
static gboolean apply_latency_raise(gpointer data) {
  auto *raise = static_cast<LatencyRaise *>(data);
  TourAttendeeSrc *self = raise->self;
  /* Before the set: the jitterbuffer's LATENCY message may be answered at once. */
  self->priv->resync = kAwaitingLatencyEvent;
  GstElement *peer = tour_recovery_bin_get_peer(TOUR_RECOVERY_BIN(self->priv->peer));
  if (peer) {
    g_object_set(peer, "latency", (guint)raise->new_ms, nullptr);
    gst_object_unref(peer);
  }
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->current_latency_ms = raise->new_ms;
    self->priv->raised_latency_ms = MAX(self->priv->raised_latency_ms, raise->new_ms);
  }
  GST_INFO_OBJECT(self, "receive latency %d -> %d ms (packets up to %.1f ms late)", raise->old_ms,
                  raise->new_ms, raise->delay_us / 1000.0);
  gst_element_post_message(
      GST_ELEMENT(self),
      gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new("tourcast-latency-changed", "old-latency-ms", G_TYPE_INT, raise->old_ms,
                            "new-latency-ms", G_TYPE_INT, raise->new_ms, "delay-ms", G_TYPE_DOUBLE,
                            raise->delay_us / 1000.0, nullptr)));
  g_object_notify_by_pspec(G_OBJECT(self), current_latency_pspec);
  return G_SOURCE_REMOVE;
}

/* An audio sink (GstAudioBaseSink) keeps writing each buffer right after the
 * one before while their times move by less than its alignment-threshold
 * (40 ms), and resyncs a larger move only after discont-wait (1 s) with a
 * warning: a raised latency would not reach the listener's playout, or a
 * second late. Once the sink has the new latency (the application
 * recalculated it; the sink sends the LATENCY event upstream after taking it),
 * the next buffer is marked DISCONT, on which the sink resyncs at once: one
 * gap of the raise, then every packet in time. */
static GstPadProbeReturn on_output(GstPad *, GstPadProbeInfo *info, gpointer data) {
  TourAttendeeSrcPrivate *priv = TOUR_ATTENDEE_SRC(data)->priv;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) != GST_EVENT_LATENCY)
      return GST_PAD_PROBE_OK;
    /* Only a larger latency is the raise's: a recalculation for another
     * reason may come between the raise and the jitterbuffer's new value. */
    GstClockTime latency = 0;
    gst_event_parse_latency(event, &latency);
    const GstClockTime before = priv->sink_latency.exchange(latency);
    int expected = kAwaitingLatencyEvent;
    if (latency > before)
      priv->resync.compare_exchange_strong(expected, kMarkNextBuffer);
    return GST_PAD_PROBE_OK;
  }
  int expected = kMarkNextBuffer;
  if (priv->resync.load(std::memory_order_relaxed) == kMarkNextBuffer &&
      priv->resync.compare_exchange_strong(expected, kNoResync)) {
    GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
    GST_PAD_PROBE_INFO_DATA(info) = buffer;
    GST_DEBUG_OBJECT(data, "latency raised: output resyncs at %" GST_TIME_FORMAT,
                     GST_TIME_ARGS(GST_BUFFER_PTS(buffer)));
  }
  return GST_PAD_PROBE_OK;
}

static void on_rtp_packet(TourAttendeeSrc *self, GstBuffer *buffer) {
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp))
    return;
  const guint32 timestamp = gst_rtp_buffer_get_timestamp(&rtp);
  gst_rtp_buffer_unmap(&rtp);
  TourAttendeeSrcPrivate *priv = self->priv;
  LatencyRaise *raise = nullptr;
  GMainContext *worker = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!priv->adaptive || priv->worker == nullptr)
      return;
    const int old_ms = priv->adaptive->latency_ms();
    std::optional<int> raised = priv->adaptive->on_packet(g_get_monotonic_time(), timestamp);
    if (!raised)
      return;
    raise = new LatencyRaise{TOUR_ATTENDEE_SRC(gst_object_ref(self)), old_ms, *raised,
                             priv->adaptive->recent_max_delay_us()};
    worker = g_main_context_ref(priv->worker);
  }
  tour_worker_defer(worker, apply_latency_raise, raise, [](gpointer data) {
    auto *raise = static_cast<LatencyRaise *>(data);
    gst_object_unref(raise->self);
    delete raise;
  });
  g_main_context_unref(worker);
}

static GstPadProbeReturn on_jitterbuffer_input(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *self = TOUR_ATTENDEE_SRC(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    on_rtp_packet(self, GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info)) {
    for (guint i = 0; i < gst_buffer_list_length(list); ++i)
      on_rtp_packet(self, gst_buffer_list_get(list, i));
  }
  return GST_PAD_PROBE_OK;
}

/* rtpbin makes a jitterbuffer per received stream, in whichever peer the
 * recovery runs now: each new one is a new stream to measure. */
static void on_deep_element_added(GstBin *, GstBin *, GstElement *element, TourAttendeeSrc *self) {
  GstElementFactory *factory = gst_element_get_factory(element);
  if (factory == nullptr || g_strcmp0(GST_OBJECT_NAME(factory), "rtpjitterbuffer") != 0)
    return;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (!self->priv->adaptive)
      return;
    self->priv->adaptive->restart_stream();
  }
  GstPad *sink = gst_element_get_static_pad(element, "sink");
  if (sink == nullptr)
    return;
  gst_pad_add_probe(sink,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    on_jitterbuffer_input, self, nullptr);
  gst_object_unref(sink);
}

static void set_signaller_battery(TourSignaller *signaller, bool on) {
  if (signaller && g_object_class_find_property(G_OBJECT_GET_CLASS(signaller), "battery-saving"))
    g_object_set(signaller, "battery-saving", on ? TRUE : FALSE, nullptr);
}

/* auto-quality off asks the guide to hold this attendee at `level`. */
static void set_signaller_level(TourSignaller *signaller, bool auto_quality,
                                TourQualityLevel level) {
  if (signaller == nullptr ||
      !g_object_class_find_property(G_OBJECT_GET_CLASS(signaller), "requested-level"))
    return;
  const char *request = auto_quality ? "auto" : to_string(static_cast<QualityLevel>(level));
  g_object_set(signaller, "requested-level", request, nullptr);
}

static bool start(TourAttendeeSrc *self) {
  TourAttendeeSrcPrivate *priv = self->priv;
  ChannelSettings channel;
  std::string profile_text;
  bool battery_saving, auto_quality;
  TourQualityLevel level;
  guint min_latency_ms, max_latency_ms;
  gint raised_latency_ms;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    channel = priv->channel;
    min_latency_ms = priv->min_latency_ms;
    max_latency_ms = priv->max_latency_ms;
    raised_latency_ms = priv->raised_latency_ms;
    profile_text = priv->profile;
    battery_saving = priv->battery_saving;
    auto_quality = priv->auto_quality;
    level = priv->level;
    priv->started_at_ms = tour_now_ms();
    priv->first_audio_ms = -1;
  }
  AttendeeProfile profile;
  std::string error;
  if (!parse_profile(profile_text, &profile, &error)) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", error.c_str()), (nullptr));
    return false;
  }
  /* The seed's device/network profiles: a phone beats its heart less often
   * (battery), a slow network gets longer to connect. An explicit
   * heartbeat-interval wins. */
  ProfileSettings settings = settings_for(profile.device, profile.network);
  if (channel.heartbeat_interval_ms == 0)
    channel.heartbeat_interval_ms = (guint)settings.heartbeat_interval_ms;
  /* Adaptive (latency -1): starts low where the profile allows and is only
   * ever raised; a restart keeps what this element learnt of the link. */
  const bool adaptive = channel.latency_ms < 0;
  guint latency_ms = (guint)channel.latency_ms;
  if (adaptive) {
    latency_ms = (guint)adaptive_start_latency_ms(settings.jitter_latency_ms, (int)min_latency_ms);
    if (raised_latency_ms > (gint)latency_ms)
      latency_ms = (guint)raised_latency_ms;
  }
  if (adaptive)
    GST_INFO_OBJECT(self, "jitterbuffer latency %u ms, adaptive up to %u ms", latency_ms,
                    MAX(latency_ms, max_latency_ms));
  else
    GST_INFO_OBJECT(self, "jitterbuffer latency %u ms (fixed)", latency_ms);
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->current_latency_ms = (gint)latency_ms;
    if (adaptive) {
      priv->adaptive.emplace((int)latency_ms, (int)max_latency_ms, OPUS_RTP_CLOCK_RATE);
      if (priv->worker == nullptr)
        priv->worker = tour_worker_acquire();
    } else {
      priv->adaptive.reset();
    }
  }
  GstElement *peer = tour_recovery_bin_get_peer(TOUR_RECOVERY_BIN(priv->peer));
  g_object_set(peer, "latency", latency_ms, "ice-addresses",
               channel.ice_addresses.empty() ? nullptr : channel.ice_addresses.c_str(),
               "quality-interval", channel.quality_interval_ms, "rtcp-interval",
               channel.rtcp_interval_ms, "connecting-timeout",
               (guint)settings.connection_timeout_ms, "ice-exchange-timeout",
               (guint)settings.connection_timeout_ms, nullptr);
  /* Recovery timeouts and backoff follow the network profile. */
  g_object_set(priv->peer, "auto-recovery", channel.auto_recovery, "max-recovery-attempts",
               channel.max_recovery_attempts, "network", to_string(profile.network), nullptr);
  TourSignaller *signaller = priv->signaller.ref();
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(signaller), "profile"))
    g_object_set(signaller, "profile", profile_to_string(profile).c_str(), nullptr);
  set_signaller_battery(signaller, battery_saving);
  set_signaller_level(signaller, auto_quality, level);
  tour_webrtc_bin_set_shared_signaller(TOUR_WEBRTC_BIN(peer), signaller);
  gst_object_unref(peer);
  g_object_unref(signaller);
  priv->pending_channel = channel;
  return true;
}

/* Joins once the peer runs: a guide that answers the join within a
 * millisecond (a spare peer) would otherwise send its offer to a peer that
 * is not started yet, which drops it, and the attendee would wait in
 * initializing until it times out. */
static bool join(TourAttendeeSrc *self) {
  TourAttendeeSrcPrivate *priv = self->priv;
  return priv->signaller.start(GST_ELEMENT(self), priv->pending_channel, {});
}

static void stop(TourAttendeeSrc *self) {
  self->priv->signaller.stop();
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->adaptive.reset();
    self->priv->resync = kNoResync;
    self->priv->sink_latency = 0;
    worker = self->priv->worker;
    self->priv->worker = nullptr;
  }
  if (worker)
    tour_worker_release();
}

static void tour_attendee_src_handle_message(GstBin *bin, GstMessage *message) {
  auto *self = TOUR_ATTENDEE_SRC(bin);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
      TOUR_IS_WEBRTC_BIN(GST_MESSAGE_SRC(message))) {
    const GstStructure *s = gst_message_get_structure(message);
    if (gst_structure_has_name(s, "tourcast-state") &&
        g_strcmp0(gst_structure_get_string(s, "new-state"), "failed") == 0) {
      GST_BIN_CLASS(parent_class)->handle_message(bin, message);
      bool recovering;
      {
        std::lock_guard<std::mutex> guard(self->priv->lock);
        recovering = self->priv->channel.auto_recovery;
      }
      /* An error stops the pipeline (a bin that saw one never completes an
       * asynchronous state change again), so while the recovery bin tries
       * to get the connection back it is a warning; the recovery bin posts
       * the error if it gives up. */
      if (recovering)
        GST_ELEMENT_WARNING(self, RESOURCE, FAILED,
                            ("connection to the guide failed: %s; recovering",
                             gst_structure_get_string(s, "reason")),
                            (nullptr));
      else
        GST_ELEMENT_ERROR(
            self, RESOURCE, FAILED,
            ("connection to the guide failed: %s", gst_structure_get_string(s, "reason")),
            (nullptr));
      return;
    }
  }
  GST_BIN_CLASS(parent_class)->handle_message(bin, message);
}

static GstStateChangeReturn tour_attendee_src_change_state(GstElement *element,
                                                           GstStateChange transition) {
  auto *self = TOUR_ATTENDEE_SRC(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    tour_dtls_warm_up();
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start(self))
    return GST_STATE_CHANGE_FAILURE;
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret != GST_STATE_CHANGE_FAILURE &&
      !join(self))
    ret = GST_STATE_CHANGE_FAILURE;
  /* A start that failed after start() leaves no PAUSED -> READY to undo it
   * (the worker taken for the adaptive latency). */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE)
    stop(self);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop(self);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    tour_dtls_warm_up_finish();
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  /* Live source: nothing arrives before PLAYING and the guide answers. */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED ||
      transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED)
    return GST_STATE_CHANGE_NO_PREROLL;
  return ret;
}

/* Making the process's DTLS certificate (RSA-2048: 50-900 ms, random) is
 * what an attendee's first answer otherwise waits for. An app builds its
 * pipeline before the listener asks to join, so start it then: when the
 * element is put in a bin (gst-inspect, which never does, pays nothing).
 * GstObject 1.22 does not notify a new parent; a bin gives its children its
 * bus when it adds them. */
static void tour_attendee_src_set_bus(GstElement *element, GstBus *bus) {
  GST_ELEMENT_CLASS(parent_class)->set_bus(element, bus);
  if (bus != nullptr)
    tour_dtls_warm_up();
}

static void tour_attendee_src_init(TourAttendeeSrc *self) {
  self->priv = new TourAttendeeSrcPrivate();
  TourAttendeeSrcPrivate *priv = self->priv;
  /* The peer connection inside a recovery, which replaces it on a full
   * reconnect; its src pad stays. */
  priv->peer = GST_ELEMENT(g_object_new(TOUR_TYPE_RECOVERY_BIN, "name", "peer", nullptr));
  priv->depayloader = gst_element_factory_make("rtpopusdepay", "depayloader");
  GstElement *decoder = gst_element_factory_make("opusdec", "decoder");
  g_assert(priv->peer && priv->depayloader && decoder);
  gst_bin_add_many(GST_BIN(self), priv->peer, priv->depayloader, decoder, nullptr);
  gst_element_link_many(priv->peer, priv->depayloader, decoder, nullptr);
  g_signal_connect(priv->peer, "notify::state", G_CALLBACK(on_peer_state), self);
  g_signal_connect(self, "deep-element-added", G_CALLBACK(on_deep_element_added), self);
  GstPad *target = gst_element_get_static_pad(decoder, "src");
  gst_pad_add_probe(target, GST_PAD_PROBE_TYPE_BUFFER, on_first_buffer, self, nullptr);
  gst_pad_add_probe(
      target, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_UPSTREAM),
      on_output, self, nullptr);
  GstPad *ghost =
      gst_ghost_pad_new_from_template("src", target, gst_static_pad_template_get(&src_template));
  gst_object_unref(target);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
}

static void tour_attendee_src_finalize(GObject *object) {
  auto *self = TOUR_ATTENDEE_SRC(object);
  /* Put in a bin but never started: the certificate thread may still run. */
  tour_dtls_warm_up_finish();
  delete self->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_attendee_src_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_ATTENDEE_SRC(object);
  TourAttendeeSrcPrivate *priv = self->priv;
  if (prop_id == PROP_BATTERY_SAVING || prop_id == PROP_AUTO_QUALITY || prop_id == PROP_LEVEL) {
    bool battery, auto_quality;
    TourQualityLevel level;
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      if (prop_id == PROP_BATTERY_SAVING)
        priv->battery_saving = g_value_get_boolean(value);
      else if (prop_id == PROP_AUTO_QUALITY)
        priv->auto_quality = g_value_get_boolean(value);
      else
        priv->level = static_cast<TourQualityLevel>(g_value_get_enum(value));
      battery = priv->battery_saving;
      auto_quality = priv->auto_quality;
      level = priv->level;
    }
    /* Tells the guide at once when playing. */
    TourSignaller *signaller = priv->signaller.ref();
    if (prop_id == PROP_BATTERY_SAVING)
      set_signaller_battery(signaller, battery);
    else
      set_signaller_level(signaller, auto_quality, level);
    if (signaller)
      g_object_unref(signaller);
    return;
  }
  std::lock_guard<std::mutex> guard(priv->lock);
  if (prop_id == PROP_PROFILE)
    priv->profile = g_value_get_string(value) ? g_value_get_string(value) : "desktop";
  else if (prop_id == PROP_MIN_LATENCY)
    priv->min_latency_ms = g_value_get_uint(value);
  else if (prop_id == PROP_MAX_LATENCY)
    priv->max_latency_ms = g_value_get_uint(value);
  else if (!set_channel_property(&priv->channel, &priv->signaller, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void tour_attendee_src_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_ATTENDEE_SRC(object);
  TourAttendeeSrcPrivate *priv = self->priv;
  if (prop_id == PROP_STATE) {
    TourConnectionState state;
    g_object_get(priv->peer, "state", &state, nullptr);
    g_value_set_enum(value, state);
    return;
  }
  std::lock_guard<std::mutex> guard(priv->lock);
  if (get_channel_property(priv->channel, priv->signaller, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_TIME_TO_FIRST_AUDIO:
      g_value_set_int64(value, priv->first_audio_ms);
      break;
    case PROP_PROFILE:
      g_value_set_string(value, priv->profile.c_str());
      break;
    case PROP_BATTERY_SAVING:
      g_value_set_boolean(value, priv->battery_saving);
      break;
    case PROP_AUTO_QUALITY:
      g_value_set_boolean(value, priv->auto_quality);
      break;
    case PROP_LEVEL:
      g_value_set_enum(value, priv->level);
      break;
    case PROP_MIN_LATENCY:
      g_value_set_uint(value, priv->min_latency_ms);
      break;
    case PROP_MAX_LATENCY:
      g_value_set_uint(value, priv->max_latency_ms);
      break;
    case PROP_CURRENT_LATENCY:
      g_value_set_int(value, priv->current_latency_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_attendee_src_class_init(TourAttendeeSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBinClass *bin_class = GST_BIN_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_attendee_src_debug, "tourattendeesrc", 0,
                          "tourcast attendee source");

  gobject_class->finalize = tour_attendee_src_finalize;
  gobject_class->set_property = tour_attendee_src_set_property;
  gobject_class->get_property = tour_attendee_src_get_property;
  element_class->change_state = tour_attendee_src_change_state;
  element_class->set_bus = tour_attendee_src_set_bus;
  bin_class->handle_message = tour_attendee_src_handle_message;

  install_channel_properties(
      gobject_class,
      "Receive jitterbuffer latency in milliseconds, the floor of the listening delay (-1: "
      "adaptive: starts at min-latency on wifi or a desktop, at the profile's 120 on 4g or a "
      "phone on an unknown network, 200 on 3g/2g, and is raised up to max-latency when packets "
      "arrive later than it covers; >= 0: fixed)");
  state_pspec =
      g_param_spec_enum("state", "State", "Connection state of the peer connection to the guide",
                        TOUR_TYPE_CONNECTION_STATE, TOUR_CONNECTION_STATE_INITIALIZING,
                        (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_STATE, state_pspec);
  first_audio_pspec = g_param_spec_int64(
      "time-to-first-audio", "Time to first audio",
      "Milliseconds from start to the first decoded buffer (-1 until it arrived)", -1, G_MAXINT64,
      -1, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_TIME_TO_FIRST_AUDIO, first_audio_pspec);
  g_object_class_install_property(
      gobject_class, PROP_PROFILE,
      g_param_spec_string(
          "profile", "Profile",
          "This attendee's device and network: desktop, mobile or ios, "
          "optionally /wifi, /4g, /3g or /2g (e.g. mobile/3g). Sets the "
          "heartbeat (unless heartbeat-interval is set) and the connection "
          "timeouts, and is published in the participant record",
          "desktop",
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_BATTERY_SAVING,
      g_param_spec_boolean(
          "battery-saving", "Battery saving",
          "The device saves battery: the guide moves this attendee to its profile's battery "
          "level (low) within a second and keeps it there until this is off again",
          FALSE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_AUTO_QUALITY,
      g_param_spec_boolean(
          "auto-quality", "Auto quality",
          "The guide picks this attendee's level from its connection's reports; off asks it to "
          "hold the attendee at level (within the profile's ceiling)",
          TRUE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_LEVEL,
      g_param_spec_enum(
          "level", "Level", "The level to be held at while auto-quality is off",
          TOUR_TYPE_QUALITY_LEVEL, TOUR_QUALITY_LEVEL_HIGH,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));

  g_object_class_install_property(
      gobject_class, PROP_MIN_LATENCY,
      g_param_spec_uint(
          "min-latency", "Minimum latency",
          "Adaptive latency (latency -1): where it starts on wifi or a desktop, in milliseconds "
          "(cellular profiles start at their own 120/200 if higher)",
          0, 10000, DEFAULT_MIN_LATENCY_MS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_MAX_LATENCY,
      g_param_spec_uint(
          "max-latency", "Maximum latency",
          "Adaptive latency (latency -1): the most it is raised to, in milliseconds (never below "
          "where it starts)",
          0, 10000, DEFAULT_MAX_LATENCY_MS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  current_latency_pspec = g_param_spec_int(
      "current-latency", "Current latency",
      "The receive jitterbuffer latency in effect, in milliseconds (-1 before the first start); "
      "each raise also posts an element message tourcast-latency-changed (old-latency-ms, "
      "new-latency-ms, delay-ms)",
      -1, 10000, -1, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_CURRENT_LATENCY, current_latency_pspec);

  gst_element_class_add_static_pad_template(element_class, &src_template);
  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 tourattendeesrc tour=demo language=en redis-url=redis://127.0.0.1:6379 "
      "ice-addresses=127.0.0.1 ! audioconvert ! autoaudiosink");
  gst_element_class_set_static_metadata(
      element_class, "tourcast attendee source", "Source/Network/WebRTC",
      "Listens to the guide of a tour/language channel over WebRTC, signaled through Redis, "
      "and outputs the decoded audio",
      "tourcast developers");
}
