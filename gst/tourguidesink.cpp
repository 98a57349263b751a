/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourguidesink
 * @title: tourguidesink
 *
 * The guide's side of one tour/language channel. Takes raw audio, encodes it
 * to Opus once, and fans the RTP out to one #tourwebrtcbin per attendee.
 * Attendees arrive and leave through the signaller (by default a
 * tourredissignaller on redis-url); a peer that leaves, expires or fails is
 * set to NULL and removed.
 *
 * Posts element messages `tourcast-attendee-joined` and `tourcast-attendee-left`
 * (fields `peer-id`, `attendee-count`, and `reason` for a departure),
 * `tourcast-offer-stored` (`peer-id`, `session-id`, `placeholder-replaced`),
 * and forwards each peer's `tourcast-state` messages.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 audiotestsrc is-live=true freq=440 ! tourguidesink tour=demo \
 *     language=en redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1
 * ]| Offers a 440 Hz tone to every attendee of channel demo/en.
 */
#include "tourguidesink.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "signaller-glue.h"
#include "tourcast-worker.h"
#include "tourredissignaller.h"
#include "tourwebrtcbin.h"

GST_DEBUG_CATEGORY_STATIC(tour_guide_sink_debug);
#define GST_CAT_DEFAULT tour_guide_sink_debug

using namespace tourcast;

#define DEFAULT_MAX_ATTENDEES 1000
#define DEFAULT_BITRATE 64000
#define PEER_QUEUE_MAX_TIME_NS (200 * GST_MSECOND)

enum {
  PROP_MAX_ATTENDEES = CHANNEL_PROP_LAST,
  PROP_ATTENDEE_COUNT,
  PROP_BITRATE,
};

namespace {

struct Peer {
  std::string id;
  std::string join_id;
  GstElement *queue = nullptr;
  GstElement *webrtc = nullptr;
  GstPad *tee_pad = nullptr;
};

}  // namespace

struct TourGuideSinkPrivate {
  std::mutex lock;
  ChannelSettings channel;
  guint max_attendees = DEFAULT_MAX_ATTENDEES;
  gint bitrate = DEFAULT_BITRATE;
  ChannelSignaller signaller{TOUR_ROLE_GUIDE};
  GMainContext *worker = nullptr;

  GstElement *encoder = nullptr;
  GstElement *tee = nullptr;
  std::map<std::string, std::unique_ptr<Peer>> peers;
};

struct _TourGuideSink {
  GstBin parent;
  TourGuideSinkPrivate *priv;
};

#define tour_guide_sink_parent_class parent_class
G_DEFINE_TYPE(TourGuideSink, tour_guide_sink, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(tourguidesink, "tourguidesink", GST_RANK_NONE, TOUR_TYPE_GUIDE_SINK);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("audio/x-raw"));

static GParamSpec *attendee_count_pspec = nullptr;

static void post_attendee_message(TourGuideSink *self, const char *name, const std::string &id,
                                  guint count, const char *reason) {
  GstStructure *s = gst_structure_new(name, "peer-id", G_TYPE_STRING, id.c_str(), "attendee-count",
                                      G_TYPE_UINT, count, nullptr);
  if (reason)
    gst_structure_set(s, "reason", G_TYPE_STRING, reason, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

/* ---------- removing a peer ---------- */

struct Removal {
  TourGuideSink *self;
  std::unique_ptr<Peer> peer;
};

static gboolean finish_removal(gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  TourGuideSink *self = removal->self;
  Peer *peer = removal->peer.get();
  gst_element_release_request_pad(self->priv->tee, peer->tee_pad);
  gst_object_unref(peer->tee_pad);
  /* The guide itself may be changing state meanwhile: keep it from moving
   * the branch back up after we set it to NULL. */
  gst_element_set_locked_state(peer->webrtc, TRUE);
  gst_element_set_locked_state(peer->queue, TRUE);
  gst_element_set_state(peer->webrtc, GST_STATE_NULL);
  gst_element_set_state(peer->queue, GST_STATE_NULL);
  gst_bin_remove_many(GST_BIN(self), peer->webrtc, peer->queue, nullptr);
  gst_object_unref(peer->webrtc);
  gst_object_unref(peer->queue);
  return G_SOURCE_REMOVE;
}

static void free_removal(gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  gst_object_unref(removal->self);
  delete removal;
}

/* Unlinks the branch when no buffer is crossing the tee pad, then finishes
 * on the worker, where setting a peer to NULL cannot stall the stream. */
static GstPadProbeReturn on_tee_pad_idle(GstPad *pad, GstPadProbeInfo *, gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  GstPad *peer_pad = gst_pad_get_peer(pad);
  if (peer_pad) {
    gst_pad_unlink(pad, peer_pad);
    gst_object_unref(peer_pad);
  }
  GMainContext *worker = removal->self->priv->worker;
  if (worker)
    g_main_context_invoke_full(worker, G_PRIORITY_DEFAULT, finish_removal, removal, free_removal);
  else {
    finish_removal(removal);
    free_removal(removal);
  }
  return GST_PAD_PROBE_REMOVE;
}

static void remove_peer(TourGuideSink *self, const std::string &id, const char *reason) {
  TourGuideSinkPrivate *priv = self->priv;
  std::unique_ptr<Peer> peer;
  guint count;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = priv->peers.find(id);
    if (it == priv->peers.end())
      return;
    peer = std::move(it->second);
    priv->peers.erase(it);
    count = priv->peers.size();
  }
  GST_INFO_OBJECT(self, "removing attendee %s (%s)", id.c_str(), reason);
  GstPad *tee_pad = peer->tee_pad;
  auto *removal = new Removal{TOUR_GUIDE_SINK(gst_object_ref(self)), std::move(peer)};
  gst_pad_add_probe(tee_pad, GST_PAD_PROBE_TYPE_IDLE, on_tee_pad_idle, removal, nullptr);
  g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  post_attendee_message(self, "tourcast-attendee-left", id, count, reason);
}

/* ---------- adding a peer ---------- */

static void add_peer(TourGuideSink *self, const std::string &id, const std::string &join_id) {
  TourGuideSinkPrivate *priv = self->priv;
  std::string replaced;
  ChannelSettings channel;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = priv->peers.find(id);
    if (it != priv->peers.end()) {
      if (it->second->join_id == join_id)
        return; /* the same attendee announcing itself again */
      replaced = id;
    } else if (priv->max_attendees > 0 && priv->peers.size() >= priv->max_attendees) {
      GST_ELEMENT_WARNING(
          self, RESOURCE, BUSY,
          ("attendee %s refused: max-attendees (%u) reached", id.c_str(), priv->max_attendees),
          (nullptr));
      return;
    }
    channel = priv->channel;
  }
  if (!replaced.empty())
    remove_peer(self, replaced, "joined again");

  auto peer = std::make_unique<Peer>();
  peer->id = id;
  peer->join_id = join_id;
  gchar *session = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
  peer->queue = gst_element_factory_make("queue", nullptr);
  /* A peer whose DTLS handshake is still running blocks its branch; leaking
   * old buffers keeps the tee (and every other attendee) moving. */
  g_object_set(peer->queue, "leaky", 2, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
               (guint64)PEER_QUEUE_MAX_TIME_NS, nullptr);
  peer->webrtc = GST_ELEMENT(g_object_new(
      TOUR_TYPE_WEBRTC_BIN, "role", TOUR_ROLE_GUIDE, "peer-id", id.c_str(), "session-id", session,
      "latency", channel.latency_ms, "ice-addresses",
      channel.ice_addresses.empty() ? nullptr : channel.ice_addresses.c_str(), "quality-interval",
      channel.quality_interval_ms, "recoverable", channel.auto_recovery, "max-recovery-requests",
      2 * channel.max_recovery_attempts, nullptr));
  g_free(session);
  TourSignaller *signaller = priv->signaller.ref();
  tour_webrtc_bin_set_shared_signaller(TOUR_WEBRTC_BIN(peer->webrtc), signaller);
  g_object_unref(signaller);
  gst_object_ref_sink(peer->queue);
  gst_object_ref_sink(peer->webrtc);
  gst_bin_add_many(GST_BIN(self), peer->queue, peer->webrtc, nullptr);
  if (!gst_element_link_pads(peer->queue, "src", peer->webrtc, "sink")) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("could not link the peer for %s", id.c_str()),
                      (nullptr));
    gst_bin_remove_many(GST_BIN(self), peer->webrtc, peer->queue, nullptr);
    gst_object_unref(peer->webrtc);
    gst_object_unref(peer->queue);
    return;
  }
  gst_element_sync_state_with_parent(peer->webrtc);
  gst_element_sync_state_with_parent(peer->queue);
  peer->tee_pad = gst_element_request_pad_simple(priv->tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(peer->queue, "sink");
  gst_pad_link(peer->tee_pad, queue_sink);
  gst_object_unref(queue_sink);

  guint count;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->peers[id] = std::move(peer);
    count = priv->peers.size();
  }
  GST_INFO_OBJECT(self, "attendee %s joined (%u attending)", id.c_str(), count);
  g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  post_attendee_message(self, "tourcast-attendee-joined", id, count, nullptr);
}

/* ---------- signaller ---------- */

static void on_peer_joined(TourSignaller *, const gchar *peer_id, const gchar *join_id,
                           gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  add_peer(self, peer_id, join_id ? join_id : "");
  gst_object_unref(self);
}

static void on_peer_left(TourSignaller *, const gchar *peer_id, gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  remove_peer(self, peer_id, "left");
  gst_object_unref(self);
}

static void on_info(TourSignaller *, const gchar *, const GstStructure *details, gpointer data) {
  auto *self = static_cast<GstElement *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  GstStructure *s = gst_structure_copy(details);
  gst_structure_set_name(s, (std::string("tourcast-") + gst_structure_get_name(details)).c_str());
  gst_element_post_message(self, gst_message_new_element(GST_OBJECT(self), s));
  gst_object_unref(self);
}

static bool start(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  ChannelSettings channel;
  gint bitrate;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    channel = priv->channel;
    bitrate = priv->bitrate;
    priv->worker = tour_worker_acquire();
  }
  g_object_set(priv->encoder, "bitrate", bitrate, nullptr);
  return priv->signaller.start(GST_ELEMENT(self), channel,
                               {{"peer-joined", G_CALLBACK(on_peer_joined)},
                                {"peer-left", G_CALLBACK(on_peer_left)},
                                {"info", G_CALLBACK(on_info)}});
}

static void stop(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::map<std::string, std::unique_ptr<Peer>> peers;
  priv->signaller.stop();
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    peers.swap(priv->peers);
  }
  /* The stream is stopped: the branches can go without pad probes. */
  for (auto &entry : peers) {
    Removal removal{self, std::move(entry.second)};
    finish_removal(&removal);
  }
  if (!peers.empty())
    g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->worker) {
    priv->worker = nullptr;
    tour_worker_release();
  }
}

/* A peer that failed is of no use to anybody: drop it (its attendee may
 * join again). */
static void tour_guide_sink_handle_message(GstBin *bin, GstMessage *message) {
  auto *self = TOUR_GUIDE_SINK(bin);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
      TOUR_IS_WEBRTC_BIN(GST_MESSAGE_SRC(message))) {
    const GstStructure *s = gst_message_get_structure(message);
    if (gst_structure_has_name(s, "tourcast-state") &&
        g_strcmp0(gst_structure_get_string(s, "new-state"), "failed") == 0) {
      std::string id = gst_structure_get_string(s, "peer-id");
      GMainContext *worker;
      {
        std::lock_guard<std::mutex> guard(self->priv->lock);
        worker = self->priv->worker;
      }
      if (worker) {
        struct Failed {
          TourGuideSink *self;
          std::string id;
        };
        g_main_context_invoke_full(
            worker, G_PRIORITY_DEFAULT,
            [](gpointer data) -> gboolean {
              auto *f = static_cast<Failed *>(data);
              remove_peer(f->self, f->id, "connection failed");
              return G_SOURCE_REMOVE;
            },
            new Failed{TOUR_GUIDE_SINK(gst_object_ref(self)), id},
            [](gpointer data) {
              auto *f = static_cast<Failed *>(data);
              gst_object_unref(f->self);
              delete f;
            });
      }
    }
  }
  GST_BIN_CLASS(parent_class)->handle_message(bin, message);
}

static GstStateChangeReturn tour_guide_sink_change_state(GstElement *element,
                                                         GstStateChange transition) {
  auto *self = TOUR_GUIDE_SINK(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    tour_dtls_warm_up();
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start(self))
    return GST_STATE_CHANGE_FAILURE;
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop(self);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    tour_dtls_warm_up_finish();
  return ret;
}

static void tour_guide_sink_init(TourGuideSink *self) {
  self->priv = new TourGuideSinkPrivate();
  TourGuideSinkPrivate *priv = self->priv;
  GstElement *convert = gst_element_factory_make("audioconvert", "convert");
  /* audioresample builds integer filter taps at caps time even when it only
   * passes 48 kHz through, and warns about them: resample in float. */
  GstElement *to_float = gst_element_factory_make("capsfilter", "float");
  GstCaps *float_caps = gst_caps_from_string("audio/x-raw,format=F32LE");
  g_object_set(to_float, "caps", float_caps, nullptr);
  gst_caps_unref(float_caps);
  GstElement *resample = gst_element_factory_make("audioresample", "resample");
  GstElement *to_encoder = gst_element_factory_make("audioconvert", "to-encoder");
  priv->encoder = gst_element_factory_make("opusenc", "encoder");
  GstElement *payloader = gst_element_factory_make("rtpopuspay", "payloader");
  priv->tee = gst_element_factory_make("tee", "fanout");
  g_assert(convert && to_float && resample && to_encoder && priv->encoder && payloader &&
           priv->tee);
  g_object_set(priv->encoder, "bitrate", DEFAULT_BITRATE, nullptr);
  g_object_set(payloader, "pt", 96, nullptr);
  g_object_set(priv->tee, "allow-not-linked", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(self), convert, to_float, resample, to_encoder, priv->encoder, payloader,
                   priv->tee, nullptr);
  gst_element_link_many(convert, to_float, resample, to_encoder, priv->encoder, payloader,
                        priv->tee, nullptr);
  GstPad *target = gst_element_get_static_pad(convert, "sink");
  GstPad *ghost =
      gst_ghost_pad_new_from_template("sink", target, gst_static_pad_template_get(&sink_template));
  gst_object_unref(target);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}

static void tour_guide_sink_finalize(GObject *object) {
  auto *self = TOUR_GUIDE_SINK(object);
  delete self->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_guide_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_GUIDE_SINK(object);
  TourGuideSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (set_channel_property(&priv->channel, &priv->signaller, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_MAX_ATTENDEES:
      priv->max_attendees = g_value_get_uint(value);
      break;
    case PROP_BITRATE:
      priv->bitrate = g_value_get_int(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_guide_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_GUIDE_SINK(object);
  TourGuideSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (get_channel_property(priv->channel, priv->signaller, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_MAX_ATTENDEES:
      g_value_set_uint(value, priv->max_attendees);
      break;
    case PROP_ATTENDEE_COUNT:
      g_value_set_uint(value, priv->peers.size());
      break;
    case PROP_BITRATE:
      g_value_set_int(value, priv->bitrate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_guide_sink_class_init(TourGuideSinkClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBinClass *bin_class = GST_BIN_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_guide_sink_debug, "tourguidesink", 0, "tourcast guide sink");

  gobject_class->finalize = tour_guide_sink_finalize;
  gobject_class->set_property = tour_guide_sink_set_property;
  gobject_class->get_property = tour_guide_sink_get_property;
  element_class->change_state = tour_guide_sink_change_state;
  bin_class->handle_message = tour_guide_sink_handle_message;

  install_channel_properties(gobject_class,
                             "Jitterbuffer latency in milliseconds of each peer's webrtcbin (it "
                             "only receives RTCP on the guide side)");
  const auto flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_MAX_ATTENDEES,
      g_param_spec_uint(
          "max-attendees", "Max attendees",
          "Attendees served at once; more are refused with a warning (0 = no "
          "limit)",
          0, G_MAXUINT, DEFAULT_MAX_ATTENDEES,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  attendee_count_pspec = g_param_spec_uint(
      "attendee-count", "Attendee count", "Attendees with a peer connection right now", 0,
      G_MAXUINT, 0, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_ATTENDEE_COUNT, attendee_count_pspec);
  g_object_class_install_property(
      gobject_class, PROP_BITRATE,
      g_param_spec_int("bitrate", "Bitrate", "Opus bitrate in bits per second", 4000, 650000,
                       DEFAULT_BITRATE, flags));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 audiotestsrc is-live=true freq=440 ! tourguidesink tour=demo language=en "
      "redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1");
  gst_element_class_set_static_metadata(
      element_class, "tourcast guide sink", "Sink/Network/WebRTC",
      "Encodes a guide's audio to Opus once and sends it over WebRTC to every attendee of a "
      "tour/language channel, signaled through Redis",
      "tourcast developers");
}
