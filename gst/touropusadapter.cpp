/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-touropusadapter
 * @title: touropusadapter
 *
 * An Opus encoder that follows the connection it feeds. It has the seed's
 * five quality levels (maximum 128 kb/s fullband stereo, high 96 kb/s
 * fullband, medium 64 kb/s superwideband, low 32 kb/s wideband, minimum
 * 16 kb/s narrowband; the last four mono) and moves between them from the
 * quality reports it is given with the #TourOpusAdapter::report action
 * signal (a `tourcast-quality` structure, as tourqualitymonitor posts):
 * one level down when RTT, loss or jitter passes its threshold, one level up
 * only after #TourOpusAdapter:upgrade-hold of good reports, so it never
 * flaps. In-band FEC follows the measured loss (opusenc's
 * packet-loss-percentage); DTX is a switch.
 *
 * Setting #TourOpusAdapter:level while playing fixes the level by hand and
 * overrides the automatic choice until #TourOpusAdapter:auto-quality is set
 * again. Every change posts `tourcast-level-changed` (`old-level`,
 * `new-level`, `reason`, `changes`).
 *
 * The output stays Opus at 48 kHz whatever the level, so an RTP session
 * needs no renegotiation. The channel count is chosen once, from the level
 * at start (stereo only at maximum): switching it mid-stream would change the
 * caps downstream; later levels change bitrate and audio bandwidth.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 audiotestsrc is-live=true ! touropusadapter level=medium ! opusdec ! autoaudiosink
 * ]|
 */
#include "touropusadapter.h"

#include "adaptation-props.h"
#include "quality-stats.h"

#include <mutex>
#include <optional>
#include <string>

#include "adaptation.h"
#include "quality.h"
#include "tourcast-worker.h"

GST_DEBUG_CATEGORY_STATIC(tour_opus_adapter_debug);
#define GST_CAT_DEFAULT tour_opus_adapter_debug

using namespace tourcast;

#define DEFAULT_LEVEL TOUR_QUALITY_LEVEL_HIGH
#define DEFAULT_AUTO_QUALITY TRUE
#define DEFAULT_FEC TRUE
#define DEFAULT_DTX FALSE

enum {
  PROP_0,
  PROP_LEVEL,
  PROP_AUTO_QUALITY,
  PROP_FEC,
  PROP_DTX,
  PROP_LEVEL_CHANGES,
  PROP_TRIGGERS_FIRST, /* rtt-, loss-, jitter-threshold, upgrade-hold */
};

enum { SIGNAL_REPORT, N_SIGNALS };
static guint signals[N_SIGNALS];

struct TourOpusAdapterPrivate {
  std::mutex lock;
  AdaptationTriggers triggers;
  QualityLevel initial = static_cast<QualityLevel>(DEFAULT_LEVEL);
  bool auto_quality = DEFAULT_AUTO_QUALITY;
  bool fec = DEFAULT_FEC;
  bool dtx = DEFAULT_DTX;
  std::optional<LevelChooser> chooser;
  guint changes = 0;
  int loss_percentage = 0;

  GstElement *channels_filter = nullptr;
  GstElement *encoder = nullptr;
};

struct _TourOpusAdapter {
  GstBin parent;
  TourOpusAdapterPrivate *priv;
};

#define tour_opus_adapter_parent_class parent_class
G_DEFINE_TYPE(TourOpusAdapter, tour_opus_adapter, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(touropusadapter, "touropusadapter", GST_RANK_NONE,
                            TOUR_TYPE_OPUS_ADAPTER);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("audio/x-raw"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("audio/x-opus, rate = (int) 48000"));

static GParamSpec *level_pspec = nullptr;

/* Pushes the level and FEC settings into opusenc (its properties are
 * mutable while playing). */
static void apply_to_encoder(TourOpusAdapter *self, QualityLevel level, bool fec, bool dtx,
                             int loss_percentage) {
  const LevelSpec &spec = level_spec(level);
  gst_util_set_object_arg(G_OBJECT(self->priv->encoder), "bandwidth", spec.opus_bandwidth);
  g_object_set(self->priv->encoder, "bitrate", spec.bitrate_bps, "inband-fec", fec ? TRUE : FALSE,
               "packet-loss-percentage", fec ? loss_percentage : 0, "dtx", dtx ? TRUE : FALSE,
               nullptr);
}

static void announce(TourOpusAdapter *self, const Decision &d, guint changes) {
  GST_INFO_OBJECT(self, "level %s -> %s (%s)", to_string(d.from), to_string(d.to),
                  d.reason.c_str());
  gst_element_post_message(
      GST_ELEMENT(self),
      gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new("tourcast-level-changed", "old-level", G_TYPE_STRING, to_string(d.from),
                            "new-level", G_TYPE_STRING, to_string(d.to), "reason", G_TYPE_STRING,
                            d.reason.c_str(), "changes", G_TYPE_UINT, changes, nullptr)));
  g_object_notify_by_pspec(G_OBJECT(self), level_pspec);
}

/* Applies what a decision of the chooser asks for; call without the lock. */
static void follow(TourOpusAdapter *self, const Decision &d) {
  TourOpusAdapterPrivate *priv = self->priv;
  bool fec, dtx;
  int loss;
  guint changes;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (d.changed)
      priv->changes++;
    changes = priv->changes;
    fec = priv->fec;
    dtx = priv->dtx;
    loss = priv->loss_percentage;
  }
  apply_to_encoder(self, d.to, fec, dtx, loss);
  if (d.changed)
    announce(self, d, changes);
}

static void on_report(TourOpusAdapter *self, const GstStructure *report) {
  TourOpusAdapterPrivate *priv = self->priv;
  if (report == nullptr)
    return;
  ConnectionMetrics m = metrics_from_structure(report);
  Decision decision;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!priv->chooser)
      return;
    priv->loss_percentage = fec_packet_loss_percentage(m.loss_rate);
    if (priv->auto_quality)
      decision = priv->chooser->on_report(m, tour_now_ms());
    decision.to = priv->chooser->level();
  }
  follow(self, decision);
}

static void start(TourOpusAdapter *self) {
  TourOpusAdapterPrivate *priv = self->priv;
  QualityLevel level;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->chooser.emplace(priv->initial, QualityLevel::kMaximum, priv->triggers);
    if (!priv->auto_quality)
      priv->chooser->set_manual(priv->initial);
    level = priv->chooser->level();
    priv->loss_percentage = 0;
  }
  GstCaps *caps =
      gst_caps_new_simple("audio/x-raw", "channels", G_TYPE_INT, level_spec(level).channels, "rate",
                          G_TYPE_INT, 48000, nullptr);
  g_object_set(priv->channels_filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  Decision none;
  none.to = level;
  follow(self, none);
}

static GstStateChangeReturn tour_opus_adapter_change_state(GstElement *element,
                                                           GstStateChange transition) {
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    start(TOUR_OPUS_ADAPTER(element));
  return GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
}

static void tour_opus_adapter_init(TourOpusAdapter *self) {
  self->priv = new TourOpusAdapterPrivate();
  TourOpusAdapterPrivate *priv = self->priv;
  GstElement *convert = gst_element_factory_make("audioconvert", "convert");
  GstElement *resample = gst_element_factory_make("audioresample", "resample");
  priv->channels_filter = gst_element_factory_make("capsfilter", "channels");
  GstElement *to_encoder = gst_element_factory_make("audioconvert", "to-encoder");
  priv->encoder = gst_element_factory_make("opusenc", "encoder");
  g_assert(convert && resample && priv->channels_filter && to_encoder && priv->encoder);
  /* Resampling in float: audioresample warns about integer filter taps. */
  GstElement *to_float = gst_element_factory_make("capsfilter", "float");
  GstCaps *float_caps = gst_caps_from_string("audio/x-raw,format=F32LE");
  g_object_set(to_float, "caps", float_caps, nullptr);
  gst_caps_unref(float_caps);
  gst_bin_add_many(GST_BIN(self), convert, to_float, resample, priv->channels_filter, to_encoder,
                   priv->encoder, nullptr);
  gst_element_link_many(convert, to_float, resample, priv->channels_filter, to_encoder,
                        priv->encoder, nullptr);
  GstPad *sink = gst_element_get_static_pad(convert, "sink");
  gst_element_add_pad(
      GST_ELEMENT(self),
      gst_ghost_pad_new_from_template("sink", sink, gst_static_pad_template_get(&sink_template)));
  gst_object_unref(sink);
  GstPad *src = gst_element_get_static_pad(priv->encoder, "src");
  gst_element_add_pad(
      GST_ELEMENT(self),
      gst_ghost_pad_new_from_template("src", src, gst_static_pad_template_get(&src_template)));
  gst_object_unref(src);
}

static void tour_opus_adapter_finalize(GObject *object) {
  delete TOUR_OPUS_ADAPTER(object)->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_opus_adapter_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_OPUS_ADAPTER(object);
  TourOpusAdapterPrivate *priv = self->priv;
  Decision decision;
  bool apply = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    switch (prop_id) {
      case PROP_LEVEL: {
        auto level = static_cast<QualityLevel>(g_value_get_enum(value));
        priv->initial = level;
        if (priv->chooser) {
          /* By hand: the operator's level holds until auto-quality returns. */
          priv->auto_quality = false;
          decision = priv->chooser->set_manual(level);
          decision.to = priv->chooser->level();
          apply = true;
        }
        break;
      }
      case PROP_AUTO_QUALITY:
        priv->auto_quality = g_value_get_boolean(value);
        if (priv->chooser && priv->auto_quality) {
          decision = priv->chooser->set_manual(std::nullopt);
          decision.to = priv->chooser->level();
          apply = true;
        }
        break;
      case PROP_FEC:
        priv->fec = g_value_get_boolean(value);
        apply = priv->chooser.has_value();
        if (apply)
          decision.to = priv->chooser->level();
        break;
      case PROP_DTX:
        priv->dtx = g_value_get_boolean(value);
        apply = priv->chooser.has_value();
        if (apply)
          decision.to = priv->chooser->level();
        break;
      default:
        if (!set_trigger_property(&priv->triggers, PROP_TRIGGERS_FIRST, prop_id, value))
          G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
  }
  if (apply)
    follow(self, decision);
}

static void tour_opus_adapter_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_OPUS_ADAPTER(object);
  TourOpusAdapterPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_LEVEL:
      g_value_set_enum(value, (gint)(priv->chooser ? priv->chooser->level() : priv->initial));
      break;
    case PROP_AUTO_QUALITY:
      g_value_set_boolean(value, priv->auto_quality);
      break;
    case PROP_FEC:
      g_value_set_boolean(value, priv->fec);
      break;
    case PROP_DTX:
      g_value_set_boolean(value, priv->dtx);
      break;
    case PROP_LEVEL_CHANGES:
      g_value_set_uint(value, priv->changes);
      break;
    default:
      if (!get_trigger_property(priv->triggers, PROP_TRIGGERS_FIRST, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_opus_adapter_class_init(TourOpusAdapterClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_opus_adapter_debug, "touropusadapter", 0,
                          "tourcast adaptive Opus encoder");

  gobject_class->finalize = tour_opus_adapter_finalize;
  gobject_class->set_property = tour_opus_adapter_set_property;
  gobject_class->get_property = tour_opus_adapter_get_property;
  element_class->change_state = tour_opus_adapter_change_state;

  const auto playing =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  level_pspec = g_param_spec_enum(
      "level", "Level",
      "Quality level: the initial one, or, set while playing, a manual level that overrides "
      "the automatic choice (auto-quality goes off)",
      TOUR_TYPE_QUALITY_LEVEL, DEFAULT_LEVEL, playing);
  g_object_class_install_property(gobject_class, PROP_LEVEL, level_pspec);
  g_object_class_install_property(
      gobject_class, PROP_AUTO_QUALITY,
      g_param_spec_boolean("auto-quality", "Auto quality",
                           "Follow the quality reports; set again to leave a manual level",
                           DEFAULT_AUTO_QUALITY, playing));
  g_object_class_install_property(
      gobject_class, PROP_FEC,
      g_param_spec_boolean("fec", "FEC",
                           "In-band forward error correction, tuned to the reported loss",
                           DEFAULT_FEC, playing));
  g_object_class_install_property(
      gobject_class, PROP_DTX,
      g_param_spec_boolean("dtx", "DTX", "Discontinuous transmission: almost nothing in silences",
                           DEFAULT_DTX, playing));
  install_trigger_properties(gobject_class, PROP_TRIGGERS_FIRST);
  g_object_class_install_property(
      gobject_class, PROP_LEVEL_CHANGES,
      g_param_spec_uint("level-changes", "Level changes", "Level changes since start", 0, G_MAXUINT,
                        0, (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  /**
   * TourOpusAdapter::report:
   * @report: a `tourcast-quality` structure (rtt-ms, jitter-ms, packets-lost,
   *   packets-received over the last interval)
   *
   * Feeds one quality report to the level choice.
   */
  signals[SIGNAL_REPORT] = g_signal_new_class_handler(
      "report", G_TYPE_FROM_CLASS(klass), (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(on_report), nullptr, nullptr, nullptr, G_TYPE_NONE, 1, GST_TYPE_STRUCTURE);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 audiotestsrc is-live=true ! touropusadapter level=medium ! opusdec ! "
      "autoaudiosink");
  gst_element_class_set_static_metadata(
      element_class, "tourcast adaptive Opus encoder", "Codec/Encoder/Audio",
      "Opus encoder with the seed's five quality levels, FEC and DTX, driven by quality reports",
      "tourcast developers");
  gst_type_mark_as_plugin_api(TOUR_TYPE_QUALITY_LEVEL, (GstPluginAPIFlags)0);
}
