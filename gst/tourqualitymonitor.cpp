/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourqualitymonitor
 * @title: tourqualitymonitor
 *
 * Measures one WebRTC connection: every #TourQualityMonitor:interval it asks
 * a `webrtcbin` for its statistics, computes the seed's ConnectionMetrics
 * (rtt, jitter, packets lost and received over the last interval, loss rate,
 * codec) and the 0-100 quality score with its category (excellent, good,
 * fair, poor, critical), posts them as an element message `tourcast-quality`
 * and keeps the last ones in #TourQualityMonitor:metrics.
 *
 * On the guide side the figures come from the attendee's RTCP receiver
 * reports; on the attendee side from what it receives (no RTT there: RTCP
 * gives the round trip to the sender only). A value webrtcbin cannot give
 * yet is left out of the message, never written as NaN.
 *
 * A webrtcbin that only sends (the guide's peer) is read straight from its
 * RTP session's source statistics, the figures `get-stats` reports for it,
 * on the monitor's thread (#TourQualityMonitor:read-rtp-session): a
 * `get-stats` reply also carries ICE, transport and codec entries, built on
 * webrtcbin's own thread, which the score does not use. So is one that
 * receives one stream (the attendee's peer), from its RTP session and that
 * stream's jitterbuffer, once media arrives.
 *
 * The element has no pads: put it in the same pipeline as the webrtcbin and
 * name that webrtcbin in #TourQualityMonitor:target (or set
 * #TourQualityMonitor:webrtcbin from code).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m tourattendeesrc name=a tour=demo language=en \
 *     redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1 ! fakesink \
 *     tourqualitymonitor target=webrtcbin interval=1000
 * ]| Prints a `tourcast-quality` message every second for the attendee.
 */
#include "tourqualitymonitor.h"

#include <mutex>
#include <string>

#include "quality-stats.h"
#include "signaller-glue.h"
#include "tourcast-worker.h"

GST_DEBUG_CATEGORY_STATIC(tour_quality_monitor_debug);
#define GST_CAT_DEFAULT tour_quality_monitor_debug

using namespace tourcast;

#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_READ_RTP_SESSION TRUE
#define QUALITY_MESSAGE "tourcast-quality"

enum {
  PROP_0,
  PROP_WEBRTCBIN,
  PROP_TARGET,
  PROP_INTERVAL,
  PROP_PEER_ID,
  PROP_READ_RTP_SESSION,
  PROP_STATS_REQUESTS,
  PROP_METRICS,
};

struct TourQualityMonitorPrivate {
  std::mutex lock;
  GstElement *webrtcbin = nullptr;
  /* webrtcbin's RTP session, kept once found: looking it up costs as much
   * as reading it. */
  GObject *rtp_session = nullptr;
  std::string target;
  guint interval_ms = DEFAULT_INTERVAL_MS;
  std::string peer_id;
  bool read_rtp_session = DEFAULT_READ_RTP_SESSION;
  guint64 stats_requests = 0;

  GMainContext *worker = nullptr;
  GSource *timer = nullptr;
  bool have_previous = false;
  RawStats previous;
  GstStructure *metrics = nullptr;
  bool poll_in_flight = false;
};

struct _TourQualityMonitor {
  GstElement parent;
  TourQualityMonitorPrivate *priv;
};

#define tour_quality_monitor_parent_class parent_class
G_DEFINE_TYPE(TourQualityMonitor, tour_quality_monitor, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(tourqualitymonitor, "tourqualitymonitor", GST_RANK_NONE,
                            TOUR_TYPE_QUALITY_MONITOR);

static GParamSpec *metrics_pspec = nullptr;

/* One measurement: scored against the previous one, posted and kept. */
static void measured(TourQualityMonitor *self, const RawStats &current) {
  TourQualityMonitorPrivate *priv = self->priv;
  ConnectionMetrics metrics;
  std::string peer;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    /* The loss of the last interval, not since the start: what adaptation
     * must react to. */
    metrics = compute_metrics(priv->have_previous ? stats_since(priv->previous, current) : current);
    priv->previous = current;
    priv->have_previous = true;
    priv->poll_in_flight = false;
    peer = priv->peer_id;
  }
  GstStructure *s = metrics_to_structure(QUALITY_MESSAGE, metrics);
  gst_structure_set(s, "peer-id", G_TYPE_STRING, peer.c_str(), "timestamp", G_TYPE_INT64,
                    (gint64)tour_epoch_ms(), nullptr);
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->metrics)
      gst_structure_free(priv->metrics);
    priv->metrics = gst_structure_copy(s);
  }
  GST_LOG_OBJECT(self, "%" GST_PTR_FORMAT, s);
  g_object_notify_by_pspec(G_OBJECT(self), metrics_pspec);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

static void on_stats(GstPromise *promise, gpointer data) {
  auto *self = static_cast<TourQualityMonitor *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  const GstStructure *reply = nullptr;
  if (gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply(promise);
  if (self == nullptr) {
    gst_promise_unref(promise);
    return;
  }
  RawStats current = extract_raw_stats(reply);
  gst_promise_unref(promise);
  measured(self, current);
  gst_object_unref(self);
}

static gboolean on_poll(gpointer data) {
  auto *self = static_cast<TourQualityMonitor *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  GstElement *webrtcbin = nullptr;
  GObject *session = nullptr;
  bool read_rtp_session = false;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    /* A webrtcbin slower than the interval gets one request at a time. */
    if (self->priv->webrtcbin && !self->priv->poll_in_flight) {
      webrtcbin = GST_ELEMENT(gst_object_ref(self->priv->webrtcbin));
      read_rtp_session = self->priv->read_rtp_session;
      if (self->priv->rtp_session)
        session = G_OBJECT(g_object_ref(self->priv->rtp_session));
    }
  }
  /* A webrtcbin is read here and now: get-stats would build ICE, transport
   * and codec entries nobody reads, on webrtcbin's thread, for the same
   * figures (about half of a guide's per-peer CPU outside the send path; on
   * an attendee, who also measures on every sender report, ~3 requests a
   * second). */
  RawStats current;
  if (webrtcbin && read_rtp_session &&
      (read_sender_stats(webrtcbin, &session, &current) ||
       read_receiver_stats(webrtcbin, &session, &current))) {
    measured(self, current);
    gst_clear_object(&webrtcbin);
  }
  if (session) {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->rtp_session == nullptr && self->priv->worker)
      self->priv->rtp_session = G_OBJECT(g_object_ref(session));
  }
  g_clear_object(&session);
  if (webrtcbin) {
    {
      std::lock_guard<std::mutex> guard(self->priv->lock);
      self->priv->poll_in_flight = true;
      self->priv->stats_requests++;
    }
    GstPromise *promise =
        gst_promise_new_with_change_func(on_stats, new_weak_ref(self), free_weak_ref);
    g_signal_emit_by_name(webrtcbin, "get-stats", nullptr, promise);
    gst_object_unref(webrtcbin);
  }
  gst_object_unref(self);
  return G_SOURCE_CONTINUE;
}

/* Finds the webrtcbin named @name anywhere in the pipeline this one is in,
 * also inside bins (tourcast's bins name theirs "webrtcbin"). */
static GstElement *find_in_pipeline(GstElement *element, const std::string &name) {
  GstObject *top = GST_OBJECT(gst_object_ref(element));
  while (GstObject *parent = gst_object_get_parent(top)) {
    gst_object_unref(top);
    top = parent;
  }
  GstElement *found = nullptr;
  if (GST_IS_BIN(top)) {
    GstIterator *it = gst_bin_iterate_recurse(GST_BIN(top));
    GValue item = G_VALUE_INIT;
    while (found == nullptr && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      GstElement *e = GST_ELEMENT(g_value_get_object(&item));
      if (g_strcmp0(GST_OBJECT_NAME(e), name.c_str()) == 0 &&
          g_signal_lookup("get-stats", G_OBJECT_TYPE(e)) != 0)
        found = GST_ELEMENT(gst_object_ref(e));
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
  }
  gst_object_unref(top);
  return found;
}

/* An extra measurement now, e.g. because an RTCP report just arrived: the
 * figures change only then, so measuring at once saves up to an interval. */
static void poll_now(TourQualityMonitor *self) {
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    worker = self->priv->worker;
    if (worker == nullptr)
      return;
    g_main_context_ref(worker);
  }
  g_main_context_invoke_full(
      worker, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        on_poll(data);
        return G_SOURCE_REMOVE;
      },
      new_weak_ref(self), free_weak_ref);
  g_main_context_unref(worker);
}

static bool start(TourQualityMonitor *self) {
  TourQualityMonitorPrivate *priv = self->priv;
  std::string target;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    target = priv->webrtcbin ? "" : priv->target;
  }
  if (!target.empty()) {
    GstElement *found = find_in_pipeline(GST_ELEMENT(self), target);
    if (found == nullptr) {
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                        ("target \"%s\" is not a webrtcbin in this pipeline", target.c_str()),
                        (nullptr));
      return false;
    }
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->webrtcbin = found;
  }
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->webrtcbin == nullptr) {
    GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                      ("no webrtcbin to measure: set target or webrtcbin"), (nullptr));
    return false;
  }
  priv->worker = tour_worker_acquire();
  priv->have_previous = false;
  priv->poll_in_flight = false;
  priv->timer = tour_aligned_tick_source_new(priv->interval_ms);
  g_source_set_callback(priv->timer, on_poll, new_weak_ref(self), free_weak_ref);
  g_source_attach(priv->timer, priv->worker);
  return true;
}

static void stop(TourQualityMonitor *self) {
  TourQualityMonitorPrivate *priv = self->priv;
  bool release = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->timer) {
      g_source_destroy(priv->timer);
      g_source_unref(priv->timer);
      priv->timer = nullptr;
    }
    release = priv->worker != nullptr;
    priv->worker = nullptr;
    g_clear_object(&priv->rtp_session);
  }
  /* Not under the lock: the last release joins the worker, which may be in
   * a poll waiting for it. */
  if (release)
    tour_worker_release();
}

static GstStateChangeReturn tour_quality_monitor_change_state(GstElement *element,
                                                              GstStateChange transition) {
  auto *self = TOUR_QUALITY_MONITOR(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start(self))
    return GST_STATE_CHANGE_FAILURE;
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop(self);
  /* It produces no data: nothing to preroll. */
  if (ret == GST_STATE_CHANGE_SUCCESS && (transition == GST_STATE_CHANGE_READY_TO_PAUSED ||
                                          transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED))
    return GST_STATE_CHANGE_NO_PREROLL;
  return ret;
}

static void tour_quality_monitor_init(TourQualityMonitor *self) {
  self->priv = new TourQualityMonitorPrivate();
}

static void tour_quality_monitor_finalize(GObject *object) {
  auto *self = TOUR_QUALITY_MONITOR(object);
  if (self->priv->webrtcbin)
    gst_object_unref(self->priv->webrtcbin);
  g_clear_object(&self->priv->rtp_session);
  if (self->priv->metrics)
    gst_structure_free(self->priv->metrics);
  delete self->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_quality_monitor_set_property(GObject *object, guint prop_id, const GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_QUALITY_MONITOR(object);
  TourQualityMonitorPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_WEBRTCBIN: {
      GstElement *webrtcbin = GST_ELEMENT(g_value_dup_object(value));
      if (webrtcbin && g_signal_lookup("get-stats", G_OBJECT_TYPE(webrtcbin)) == 0) {
        g_warning("tourqualitymonitor: %s has no get-stats action: not a webrtcbin",
                  GST_OBJECT_NAME(webrtcbin));
        gst_object_unref(webrtcbin);
        break;
      }
      if (priv->webrtcbin)
        gst_object_unref(priv->webrtcbin);
      priv->webrtcbin = webrtcbin;
      g_clear_object(&priv->rtp_session);
      break;
    }
    case PROP_TARGET:
      priv->target = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_INTERVAL:
      priv->interval_ms = g_value_get_uint(value);
      break;
    case PROP_PEER_ID:
      priv->peer_id = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_READ_RTP_SESSION:
      priv->read_rtp_session = g_value_get_boolean(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_quality_monitor_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_QUALITY_MONITOR(object);
  TourQualityMonitorPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_WEBRTCBIN:
      g_value_set_object(value, priv->webrtcbin);
      break;
    case PROP_TARGET:
      g_value_set_string(value, priv->target.empty() ? nullptr : priv->target.c_str());
      break;
    case PROP_INTERVAL:
      g_value_set_uint(value, priv->interval_ms);
      break;
    case PROP_PEER_ID:
      g_value_set_string(value, priv->peer_id.empty() ? nullptr : priv->peer_id.c_str());
      break;
    case PROP_READ_RTP_SESSION:
      g_value_set_boolean(value, priv->read_rtp_session);
      break;
    case PROP_STATS_REQUESTS:
      g_value_set_uint64(value, priv->stats_requests);
      break;
    case PROP_METRICS:
      gst_value_set_structure(value, priv->metrics);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_quality_monitor_class_init(TourQualityMonitorClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_quality_monitor_debug, "tourqualitymonitor", 0,
                          "tourcast connection quality monitor");

  gobject_class->finalize = tour_quality_monitor_finalize;
  gobject_class->set_property = tour_quality_monitor_set_property;
  gobject_class->get_property = tour_quality_monitor_get_property;
  element_class->change_state = tour_quality_monitor_change_state;

  const auto flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_WEBRTCBIN,
      g_param_spec_object("webrtcbin", "webrtcbin", "The webrtcbin to measure", GST_TYPE_ELEMENT,
                          flags));
  g_object_class_install_property(
      gobject_class, PROP_TARGET,
      g_param_spec_string("target", "Target",
                          "Name of the webrtcbin to measure, looked up in this pipeline at start "
                          "(when webrtcbin is not set)",
                          nullptr, flags));
  g_object_class_install_property(
      gobject_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval", "Milliseconds between measurements", 100, 60000,
                        DEFAULT_INTERVAL_MS, flags));
  g_object_class_install_property(
      gobject_class, PROP_PEER_ID,
      g_param_spec_string("peer-id", "Peer id",
                          "Who is measured, copied into each tourcast-quality message", nullptr,
                          flags));
  g_object_class_install_property(
      gobject_class, PROP_READ_RTP_SESSION,
      g_param_spec_boolean(
          "read-rtp-session", "Read RTP session",
          "Measure a webrtcbin that only sends (the guide's peer) from its RTP session's "
          "source statistics, and one that receives one stream (the attendee's peer) from "
          "its RTP session and jitterbuffer: the figures get-stats reports for them, "
          "without a get-stats request",
          DEFAULT_READ_RTP_SESSION, flags));
  g_object_class_install_property(
      gobject_class, PROP_STATS_REQUESTS,
      g_param_spec_uint64("stats-requests", "Stats requests",
                          "get-stats requests made to the webrtcbin since it was created "
                          "(measurements read from the RTP session need none)",
                          0, G_MAXUINT64, 0,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  metrics_pspec = g_param_spec_boxed(
      "metrics", "Metrics",
      "The last measurement (tourcast-quality: rtt-ms, jitter-ms, packets-lost, "
      "packets-received, loss-rate, score 0-100, category, audio-codec); NULL before the first",
      GST_TYPE_STRUCTURE, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_METRICS, metrics_pspec);

  /**
   * TourQualityMonitor::poll:
   *
   * Measures now, besides the interval's measurements (tourwebrtcbin asks
   * for one whenever an RTCP report arrives). Ignored unless playing; at
   * most one request is in flight at a time.
   */
  g_signal_new_class_handler("poll", G_TYPE_FROM_CLASS(klass),
                             (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                             G_CALLBACK(poll_now), nullptr, nullptr, nullptr, G_TYPE_NONE, 0);

  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 -m tourattendeesrc tour=demo language=en redis-url=redis://127.0.0.1:6379 "
      "ice-addresses=127.0.0.1 ! fakesink tourqualitymonitor target=webrtcbin interval=1000");
  gst_element_class_set_static_metadata(
      element_class, "tourcast quality monitor", "Network/WebRTC/Monitor",
      "Measures a webrtcbin connection (RTT, jitter, loss) and scores it 0-100",
      "tourcast developers");
}
