/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "tourlevelrouter.h"

#include <gst/rtp/rtp.h>

#include <map>
#include <mutex>
#include <vector>

#include "ladder_switch.h"

GST_DEBUG_CATEGORY_STATIC(tour_level_router_debug);
#define GST_CAT_DEFAULT tour_level_router_debug

using namespace tourcast;

namespace {

struct LevelInput {
  int level = 0;
  GstPad *pad = nullptr;
  int64_t latest_pts_ns = -1;
  bool eos = false;
  /* What an attendee needs before its first packet of this level. */
  GstEvent *stream_start = nullptr;
  GstEvent *caps = nullptr;
  GstEvent *segment = nullptr;

  void clear_events() {
    gst_clear_event(&stream_start);
    gst_clear_event(&caps);
    gst_clear_event(&segment);
  }
};

struct Output {
  explicit Output(int level) : ladder(level) {}
  LadderSwitch ladder;
  bool started = false;
};

struct Delivery {
  GstPad *pad = nullptr;
  SwitchVerdict verdict;
  std::vector<GstEvent *> preamble;
};

}  // namespace

struct TourLevelRouterPrivate {
  std::mutex lock;
  std::map<int, LevelInput> levels;
  std::map<GstPad *, Output> outputs;
  TourLevelSwitchedFunc on_switched = nullptr;
  gpointer user_data = nullptr;
  guint next_sink = 0;
  guint next_src = 0;
  bool warned_not_rtp = false;
};

struct _TourLevelRouter {
  GstElement parent;
  TourLevelRouterPrivate *priv;
};

#define tour_level_router_parent_class parent_class
G_DEFINE_TYPE(TourLevelRouter, tour_level_router, GST_TYPE_ELEMENT);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink_%u", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS("application/x-rtp"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src_%u", GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS("application/x-rtp"));

static int level_of_pad(GstPad *pad) {
  return GPOINTER_TO_INT(gst_pad_get_element_private(pad)) - 1;
}

static GstFlowReturn on_chain(GstPad *pad, GstObject *parent, GstBuffer *buffer) {
  auto *self = TOUR_LEVEL_ROUTER(parent);
  TourLevelRouterPrivate *priv = self->priv;
  LadderPacket packet;
  packet.level = level_of_pad(pad);
  packet.pts_ns = GST_BUFFER_PTS_IS_VALID(buffer) ? (int64_t)GST_BUFFER_PTS(buffer) : -1;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buffer, GST_MAP_READ, &rtp)) {
    bool warn;
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      warn = !priv->warned_not_rtp;
      priv->warned_not_rtp = true;
    }
    if (warn)
      GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("dropping a packet that is not RTP"), (nullptr));
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  packet.seq = gst_rtp_buffer_get_seq(&rtp);
  packet.rtp_ts = gst_rtp_buffer_get_timestamp(&rtp);
  gst_rtp_buffer_unmap(&rtp);

  std::vector<Delivery> deliveries;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    LevelInput &input = priv->levels[packet.level];
    if (packet.pts_ns >= 0)
      input.latest_pts_ns = packet.pts_ns;
    for (auto &[out_pad, output] : priv->outputs) {
      int64_t pending_latest = -1;
      auto pending = priv->levels.find(output.ladder.pending());
      if (pending != priv->levels.end())
        pending_latest = pending->second.latest_pts_ns;
      Delivery d;
      d.verdict = output.ladder.on_packet(packet, pending_latest);
      if (!d.verdict.forward && !d.verdict.switched)
        continue;
      d.pad = GST_PAD(gst_object_ref(out_pad));
      if (d.verdict.forward && !output.started) {
        output.started = true;
        for (GstEvent *e : {input.stream_start, input.caps, input.segment})
          if (e)
            d.preamble.push_back(gst_event_ref(e));
      }
      deliveries.push_back(std::move(d));
    }
  }

  for (Delivery &d : deliveries) {
    for (GstEvent *e : d.preamble)
      gst_pad_push_event(d.pad, e);
    if (d.verdict.forward) {
      GstBuffer *out = gst_buffer_ref(buffer);
      if (d.verdict.rewrite) {
        out = gst_buffer_make_writable(out);
        GstRTPBuffer w = GST_RTP_BUFFER_INIT;
        if (gst_rtp_buffer_map(out, GST_MAP_WRITE, &w)) {
          gst_rtp_buffer_set_seq(&w, d.verdict.seq);
          gst_rtp_buffer_set_timestamp(&w, d.verdict.rtp_ts);
          gst_rtp_buffer_unmap(&w);
        }
      }
      /* A peer that is gone or not linked yet costs nobody else anything. */
      gst_pad_push(d.pad, out);
    }
    if (d.verdict.switched) {
      GST_DEBUG_OBJECT(self, "%s: level %d -> %d", GST_PAD_NAME(d.pad), d.verdict.from,
                       d.verdict.to);
      if (priv->on_switched)
        priv->on_switched(self, d.pad, d.verdict.from, d.verdict.to, priv->user_data);
    }
    gst_object_unref(d.pad);
  }
  gst_buffer_unref(buffer);
  return GST_FLOW_OK;
}

static gboolean on_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  auto *self = TOUR_LEVEL_ROUTER(parent);
  TourLevelRouterPrivate *priv = self->priv;
  int level = level_of_pad(pad);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_STREAM_START:
    case GST_EVENT_CAPS:
    case GST_EVENT_SEGMENT: {
      std::lock_guard<std::mutex> guard(priv->lock);
      LevelInput &input = priv->levels[level];
      GstEvent **slot = GST_EVENT_TYPE(event) == GST_EVENT_STREAM_START ? &input.stream_start
                        : GST_EVENT_TYPE(event) == GST_EVENT_CAPS       ? &input.caps
                                                                        : &input.segment;
      gst_event_replace(slot, event);
      gst_event_unref(event);
      return TRUE;
    }
    case GST_EVENT_EOS: {
      bool all_done = true;
      {
        std::lock_guard<std::mutex> guard(priv->lock);
        priv->levels[level].eos = true;
        for (auto &entry : priv->levels)
          all_done = all_done && entry.second.eos;
      }
      if (all_done)
        return gst_pad_event_default(pad, parent, event);
      gst_event_unref(event);
      return TRUE;
    }
    case GST_EVENT_FLUSH_START:
    case GST_EVENT_FLUSH_STOP:
      return gst_pad_event_default(pad, parent, event);
    default:
      /* Tags and the like describe one encoder, not what an attendee hears. */
      gst_event_unref(event);
      return TRUE;
  }
}

static gboolean on_sink_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter = nullptr;
      gst_query_parse_caps(query, &filter);
      GstCaps *caps = gst_pad_get_pad_template_caps(pad);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_ALLOCATION:
      return FALSE;
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

static gboolean on_src_event(GstPad *, GstObject *, GstEvent *event) {
  /* Upstream events of one attendee (reconfigure, QoS) must not disturb the
   * encoders everybody shares. */
  gst_event_unref(event);
  return TRUE;
}

static gboolean on_src_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  auto *self = TOUR_LEVEL_ROUTER(parent);
  TourLevelRouterPrivate *priv = self->priv;
  GstPad *level_pad = nullptr;
  GstCaps *caps = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto out = priv->outputs.find(pad);
    if (out != priv->outputs.end()) {
      auto input = priv->levels.find(out->second.ladder.level());
      if (input != priv->levels.end()) {
        if (input->second.pad)
          level_pad = GST_PAD(gst_object_ref(input->second.pad));
        if (input->second.caps) {
          gst_event_parse_caps(input->second.caps, &caps);
          gst_caps_ref(caps);
        }
      }
    }
  }
  gboolean ret;
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter = nullptr;
      gst_query_parse_caps(query, &filter);
      GstCaps *result = caps ? gst_caps_ref(caps) : gst_pad_get_pad_template_caps(pad);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full(filter, result, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(result);
        result = both;
      }
      gst_query_set_caps_result(query, result);
      gst_caps_unref(result);
      ret = TRUE;
      break;
    }
    case GST_QUERY_LATENCY:
      if (level_pad) {
        ret = gst_pad_peer_query(level_pad, query);
      } else {
        gst_query_set_latency(query, TRUE, 0, GST_CLOCK_TIME_NONE);
        ret = TRUE;
      }
      break;
    default:
      ret = gst_pad_query_default(pad, parent, query);
  }
  if (caps)
    gst_caps_unref(caps);
  if (level_pad)
    gst_object_unref(level_pad);
  return ret;
}

TourLevelRouter *tour_level_router_new(TourLevelSwitchedFunc on_switched, gpointer user_data) {
  auto *self = TOUR_LEVEL_ROUTER(g_object_new(TOUR_TYPE_LEVEL_ROUTER, nullptr));
  self->priv->on_switched = on_switched;
  self->priv->user_data = user_data;
  return self;
}

GstPad *tour_level_router_add_level(TourLevelRouter *self, int level) {
  TourLevelRouterPrivate *priv = self->priv;
  gchar *name;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto existing = priv->levels.find(level);
    if (existing != priv->levels.end() && existing->second.pad) {
      g_critical("level %d already has a sink pad", level);
      return nullptr;
    }
    name = g_strdup_printf("sink_%u", priv->next_sink++);
  }
  GstPad *pad = gst_pad_new_from_static_template(&sink_template, name);
  g_free(name);
  gst_pad_set_element_private(pad, GINT_TO_POINTER(level + 1));
  gst_pad_set_chain_function(pad, on_chain);
  gst_pad_set_event_function(pad, on_sink_event);
  gst_pad_set_query_function(pad, on_sink_query);
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    LevelInput &input = priv->levels[level];
    input.clear_events();
    input = LevelInput();
    input.level = level;
    input.pad = pad;
  }
  gst_object_ref(pad);
  gst_element_add_pad(GST_ELEMENT(self), pad);
  return pad;
}

GstPad *tour_level_router_add_output(TourLevelRouter *self, int level) {
  TourLevelRouterPrivate *priv = self->priv;
  gchar *name;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    name = g_strdup_printf("src_%u", priv->next_src++);
  }
  GstPad *pad = gst_pad_new_from_static_template(&src_template, name);
  g_free(name);
  gst_pad_set_event_function(pad, on_src_event);
  gst_pad_set_query_function(pad, on_src_query);
  gst_pad_use_fixed_caps(pad);
  gst_object_ref(pad);
  /* Added (and so activated) before the streaming thread can see it: the
   * first packet for it is preceded by its stream-start, caps and segment,
   * which an inactive pad would drop, and then the peer would get audio
   * without caps and never make its offer. */
  gst_element_add_pad(GST_ELEMENT(self), pad);
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->outputs.emplace(pad, Output(level));
  }
  return pad;
}

void tour_level_router_request_level(TourLevelRouter *self, GstPad *output, int level) {
  std::lock_guard<std::mutex> guard(self->priv->lock);
  auto out = self->priv->outputs.find(output);
  if (out != self->priv->outputs.end())
    out->second.ladder.request(level);
}

guint tour_level_router_levels_in_use(TourLevelRouter *self) {
  std::lock_guard<std::mutex> guard(self->priv->lock);
  guint bits = 0;
  for (auto &entry : self->priv->outputs) {
    bits |= 1u << entry.second.ladder.level();
    if (entry.second.ladder.pending() >= 0)
      bits |= 1u << entry.second.ladder.pending();
  }
  return bits;
}

guint tour_level_router_levels_present(TourLevelRouter *self) {
  std::lock_guard<std::mutex> guard(self->priv->lock);
  guint bits = 0;
  for (auto &entry : self->priv->levels)
    if (entry.second.pad)
      bits |= 1u << entry.first;
  return bits;
}

static void tour_level_router_release_pad(GstElement *element, GstPad *pad) {
  auto *self = TOUR_LEVEL_ROUTER(element);
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (GST_PAD_IS_SINK(pad)) {
      auto input = self->priv->levels.find(level_of_pad(pad));
      if (input != self->priv->levels.end() && input->second.pad == pad) {
        input->second.clear_events();
        self->priv->levels.erase(input);
      }
    } else {
      self->priv->outputs.erase(pad);
    }
  }
  gst_pad_set_active(pad, FALSE);
  gst_element_remove_pad(element, pad);
}

static void tour_level_router_init(TourLevelRouter *self) {
  self->priv = new TourLevelRouterPrivate();
}

static void tour_level_router_finalize(GObject *object) {
  auto *self = TOUR_LEVEL_ROUTER(object);
  for (auto &entry : self->priv->levels)
    entry.second.clear_events();
  delete self->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_level_router_class_init(TourLevelRouterClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GST_DEBUG_CATEGORY_INIT(tour_level_router_debug, "tourlevelrouter", 0,
                          "tourcast encoder ladder router");
  gobject_class->finalize = tour_level_router_finalize;
  element_class->release_pad = tour_level_router_release_pad;
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "tourcast level router", "Generic/Network/RTP",
      "Sends each attendee the RTP of the encoder level chosen for it, renumbered into one "
      "continuous stream",
      "tourcast developers");
}
