/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A thread-less nicesrc for the streams of a shared ICE agent (see
 * shared-ice-src.h). What it keeps from libnice's gst/gstnicesrc.c (0.1.21):
 * caps of the pad after it (transportreceivebin's capsfilter wants
 * application/x-rtp), a live TIME segment, buffers stamped with the running
 * time of their arrival (nicesrc's do-timestamp), attach at READY->PAUSED and
 * detach at PAUSED->READY.
 */
#include "shared-ice-src.h"

#include <mutex>

GST_DEBUG_CATEGORY_STATIC(tour_shared_ice_src_debug);
#define GST_CAT_DEFAULT tour_shared_ice_src_debug

/* transportreceivebin's queue holds up to 5 MiB and, once ICE is connected,
 * blocks when full (leaky=no): far above what DTLS and RTCP ever queue, so
 * past this the stream behind it is stuck and the agent's thread, which
 * serves every peer of the agent, must not wait on it. */
#define MAX_QUEUED_BYTES (1024u * 1024u)

namespace {

/* What libnice calls with. libnice reads its callback and data under its
 * lock but calls it after letting go of it (component.c,
 * nice_component_emit_io_callback), so a call may start after a detach has
 * returned: the receiver outlives the element and is freed on the agent's
 * thread, after any such call (see detach). */
struct Receiver {
  std::mutex lock;
  TourSharedIceSrc *src; /* NULL once detached; a push holds the lock */
};

}  // namespace

struct _TourSharedIceSrc {
  GstElement parent;
  GstPad *srcpad;
  NiceAgent *agent;
  guint stream_id;
  guint component_id;
  GMainContext *context;
  /* Guarded by the object lock. */
  Receiver *receiver;
  /* Used on the agent's thread with the receiver's lock held. */
  GstElement *downstream_queue;
  bool looked_for_queue;
  guint64 dropped;
};

G_DEFINE_TYPE(TourSharedIceSrc, tour_shared_ice_src, GST_TYPE_ELEMENT);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* transportreceivebin: src ! capsfilter ! queue. */
static GstElement *find_downstream_queue(TourSharedIceSrc *self) {
  GstElement *queue = nullptr;
  GstPad *filter_sink = gst_pad_get_peer(self->srcpad);
  GstElement *filter = filter_sink ? gst_pad_get_parent_element(filter_sink) : nullptr;
  GstPad *filter_src = filter ? gst_element_get_static_pad(filter, "src") : nullptr;
  GstPad *queue_sink = filter_src ? gst_pad_get_peer(filter_src) : nullptr;
  GstElement *candidate = queue_sink ? gst_pad_get_parent_element(queue_sink) : nullptr;
  if (candidate &&
      g_object_class_find_property(G_OBJECT_GET_CLASS(candidate), "current-level-bytes"))
    queue = GST_ELEMENT(gst_object_ref(candidate));
  for (GstObject *o :
       {GST_OBJECT_CAST(filter_sink), GST_OBJECT_CAST(filter), GST_OBJECT_CAST(filter_src),
        GST_OBJECT_CAST(queue_sink), GST_OBJECT_CAST(candidate)})
    if (o)
      gst_object_unref(o);
  return queue;
}

static bool downstream_full(TourSharedIceSrc *self) {
  if (!self->looked_for_queue) {
    self->downstream_queue = find_downstream_queue(self);
    self->looked_for_queue = self->downstream_queue != nullptr;
  }
  if (self->downstream_queue == nullptr)
    return false;
  guint bytes = 0;
  g_object_get(self->downstream_queue, "current-level-bytes", &bytes, nullptr);
  return bytes >= MAX_QUEUED_BYTES;
}

/* The agent's thread (libnice's lock not held): one datagram. */
static void on_datagram(NiceAgent *, guint, guint, guint len, gchar *data, gpointer user_data) {
  auto *receiver = static_cast<Receiver *>(user_data);
  std::lock_guard<std::mutex> guard(receiver->lock);
  TourSharedIceSrc *self = receiver->src;
  if (self == nullptr || len == 0)
    return;
  if (downstream_full(self)) {
    if (self->dropped++ == 0)
      GST_WARNING_OBJECT(self, "the receive queue is full: dropping datagrams");
    return;
  }
  GstBuffer *buffer = gst_buffer_new_memdup(data, len);
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
  if (clock) {
    const GstClockTime now = gst_clock_get_time(clock);
    const GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
    if (now >= base)
      GST_BUFFER_PTS(buffer) = now - base;
    gst_object_unref(clock);
  }
  const GstFlowReturn ret = gst_pad_push(self->srcpad, buffer);
  if (ret != GST_FLOW_OK)
    GST_LOG_OBJECT(self, "push: %s", gst_flow_get_name(ret));
}

static void attach(TourSharedIceSrc *self) {
  auto *receiver = new Receiver();
  receiver->src = self;
  GST_OBJECT_LOCK(self);
  g_assert(self->receiver == nullptr);
  self->receiver = receiver;
  GST_OBJECT_UNLOCK(self);
  nice_agent_attach_recv(self->agent, self->stream_id, self->component_id, self->context,
                         on_datagram, receiver);
}

static gboolean keep_until_now(gpointer) {
  return G_SOURCE_REMOVE;
}

static void free_receiver(gpointer data) {
  delete static_cast<Receiver *>(data);
}

/* After this, libnice does not call the element (a call that started before
 * has finished): the receiver is freed on the agent's thread, after any call
 * libnice was about to make with it, or with the agent's context. */
static void detach(TourSharedIceSrc *self) {
  GST_OBJECT_LOCK(self);
  Receiver *receiver = self->receiver;
  self->receiver = nullptr;
  GST_OBJECT_UNLOCK(self);
  if (receiver == nullptr)
    return;
  nice_agent_attach_recv(self->agent, self->stream_id, self->component_id, self->context, nullptr,
                         nullptr);
  {
    std::lock_guard<std::mutex> wait_for_push(receiver->lock);
    receiver->src = nullptr;
  }
  g_main_context_invoke_full(self->context, G_PRIORITY_DEFAULT, keep_until_now, receiver,
                             free_receiver);
}

static void push_sticky_events(TourSharedIceSrc *self) {
  gchar *stream_id = gst_pad_create_stream_id(self->srcpad, GST_ELEMENT(self), nullptr);
  gst_pad_push_event(self->srcpad, gst_event_new_stream_start(stream_id));
  g_free(stream_id);
  GstCaps *caps = gst_caps_new_empty_simple("application/x-rtp");
  gst_pad_push_event(self->srcpad, gst_event_new_caps(caps));
  gst_caps_unref(caps);
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_pad_push_event(self->srcpad, gst_event_new_segment(&segment));
}

static GstStateChangeReturn tour_shared_ice_src_change_state(GstElement *element,
                                                             GstStateChange transition) {
  auto *self = TOUR_SHARED_ICE_SRC(element);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    detach(self);
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(tour_shared_ice_src_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      /* Stored on the pad (downstream may not be running yet: the receive
       * bin starts this element first) and sent before the first buffer. */
      push_sticky_events(self);
      attach(self);
      return GST_STATE_CHANGE_NO_PREROLL; /* live */
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      return GST_STATE_CHANGE_NO_PREROLL;
    default:
      return ret;
  }
}

static gboolean src_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    gst_query_set_latency(query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return gst_pad_query_default(pad, parent, query);
}

static void tour_shared_ice_src_dispose(GObject *object) {
  auto *self = TOUR_SHARED_ICE_SRC(object);
  detach(self); /* set to NULL first, as every element; in case it was not */
  gst_clear_object(&self->downstream_queue);
  G_OBJECT_CLASS(tour_shared_ice_src_parent_class)->dispose(object);
}

static void tour_shared_ice_src_finalize(GObject *object) {
  auto *self = TOUR_SHARED_ICE_SRC(object);
  g_clear_object(&self->agent);
  g_clear_pointer(&self->context, g_main_context_unref);
  G_OBJECT_CLASS(tour_shared_ice_src_parent_class)->finalize(object);
}

static void tour_shared_ice_src_class_init(TourSharedIceSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->dispose = tour_shared_ice_src_dispose;
  gobject_class->finalize = tour_shared_ice_src_finalize;
  element_class->change_state = tour_shared_ice_src_change_state;
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Shared ICE agent source", "Source/Network",
      "Datagrams of one stream of a shared libnice agent, pushed from the agent's thread",
      "tourcast");
  GST_DEBUG_CATEGORY_INIT(tour_shared_ice_src_debug, "toursharedicesrc", 0,
                          "tourcast: thread-less receive source on a shared ICE agent");
}

static void tour_shared_ice_src_init(TourSharedIceSrc *self) {
  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, src_query);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
}

GstElement *tour_shared_ice_src_new(NiceAgent *agent, guint stream_id, guint component_id,
                                    GMainContext *context) {
  g_return_val_if_fail(NICE_IS_AGENT(agent) && context != nullptr, nullptr);
  auto *self = TOUR_SHARED_ICE_SRC(g_object_new(TOUR_TYPE_SHARED_ICE_SRC, nullptr));
  self->agent = NICE_AGENT(g_object_ref(agent));
  self->stream_id = stream_id;
  self->component_id = component_id;
  self->context = g_main_context_ref(context);
  return GST_ELEMENT(self);
}
