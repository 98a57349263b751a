/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "direct-send.h"

#include <agent.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "srtp-protector.h"

GST_DEBUG_CATEGORY_STATIC(tour_direct_send_debug);
#define GST_CAT_DEFAULT tour_direct_send_debug

using tourcast::SrtpProfile;
using tourcast::SrtpProtector;

namespace {

/* An Ethernet MTU's worth: a larger packet (never an Opus frame) goes
 * through webrtcbin's chain, which can carry it. */
constexpr gsize kMaxDirectPacket = 1500;

struct Route {
  std::unique_ptr<SrtpProtector> protector;
  NiceAgent *agent = nullptr;
  guint stream_id = 0;
  guint component_id = 0;

  void clear() {
    protector.reset();
    g_clear_object(&agent);
  }
};

struct State {
  GstObject *owner = nullptr; /* not referenced: only named, under the lock */
  std::string name;           /* the owner's, for logs: callbacks may outlive it */
  std::atomic<bool> enabled{true};
  std::atomic<bool> ready{false};
  std::atomic<guint64> packets{0};
  std::atomic<guint64> dropped{0};
  std::mutex lock; /* route and name: set on DTLS's thread, used on the streaming one */
  Route route;
  bool warned_protect = false;

  ~State() { route.clear(); }
};

using StatePtr = std::shared_ptr<State>;

gpointer hold(const StatePtr &state) {
  return new StatePtr(state);
}

void release(gpointer data, GClosure * = nullptr) {
  delete static_cast<StatePtr *>(data);
}

State &state_of(gpointer data) {
  return **static_cast<StatePtr *>(data);
}

bool has_factory(GstElement *element, const char *name) {
  GstElementFactory *factory = gst_element_get_factory(element);
  return factory != nullptr && g_strcmp0(GST_OBJECT_NAME(factory), name) == 0;
}

/* The first element made by @factory among @bin's children (a new reference). */
GstElement *child_by_factory(GstBin *bin, const char *factory) {
  GstElement *found = nullptr;
  GstIterator *it = gst_bin_iterate_elements(bin);
  GValue item = G_VALUE_INIT;
  while (found == nullptr && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto *element = GST_ELEMENT(g_value_get_object(&item));
    if (has_factory(element, factory))
      found = GST_ELEMENT(gst_object_ref(element));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

std::string enum_nick(GObject *object, const char *property) {
  GValue value = G_VALUE_INIT;
  GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(object), property);
  if (pspec == nullptr || !G_IS_PARAM_SPEC_ENUM(pspec))
    return "";
  g_value_init(&value, pspec->value_type);
  g_object_get_property(object, property, &value);
  GEnumValue *v = g_enum_get_value(G_PARAM_SPEC_ENUM(pspec)->enum_class, g_value_get_enum(&value));
  g_value_unset(&value);
  return v ? v->value_nick : "";
}

/* Builds the route from what dtlssrtpenc just gave its srtpenc and from the
 * transport's nicesink (dtlssrtpenc's sibling in webrtcbin's transport
 * send bin); false with @why when something is missing. */
bool make_route(GstElement *dtlssrtpenc, Route *route, std::string *why) {
  GstElement *srtpenc = child_by_factory(GST_BIN(dtlssrtpenc), "srtpenc");
  GstObject *parent = gst_object_get_parent(GST_OBJECT(dtlssrtpenc));
  GstElement *nicesink =
      parent && GST_IS_BIN(parent) ? child_by_factory(GST_BIN(parent), "nicesink") : nullptr;
  if (parent)
    gst_object_unref(parent);
  bool ok = false;
  if (srtpenc == nullptr || nicesink == nullptr) {
    *why = srtpenc ? "no nicesink beside dtlssrtpenc" : "no srtpenc in dtlssrtpenc";
  } else {
    std::string cipher = enum_nick(G_OBJECT(srtpenc), "rtp-cipher");
    std::string auth = enum_nick(G_OBJECT(srtpenc), "rtp-auth");
    SrtpProfile profile;
    GstBuffer *key = nullptr;
    g_object_get(srtpenc, "key", &key, nullptr);
    GstMapInfo map;
    if (!tourcast::srtp_profile_from_nicks(cipher, auth, &profile)) {
      *why = "SRTP profile " + cipher + "/" + auth + " is not one this sender implements";
    } else if (key == nullptr || !gst_buffer_map(key, &map, GST_MAP_READ)) {
      *why = "srtpenc has no key";
    } else {
      route->protector = std::make_unique<SrtpProtector>();
      ok = route->protector->start(profile, map.data, map.size, why);
      gst_buffer_unmap(key, &map);
    }
    if (key)
      gst_buffer_unref(key);
    if (ok) {
      g_object_get(nicesink, "agent", &route->agent, "stream", &route->stream_id, "component",
                   &route->component_id, nullptr);
      if (route->agent == nullptr) {
        *why = "nicesink has no agent";
        ok = false;
      }
    }
  }
  if (srtpenc)
    gst_object_unref(srtpenc);
  if (nicesink)
    gst_object_unref(nicesink);
  if (!ok)
    route->clear();
  return ok;
}

/* dtlssrtpenc emits this on DTLS's thread once its srtpenc has the keys. */
void on_key_set(GstElement *dtlssrtpenc, gpointer data) {
  State &state = state_of(data);
  Route route;
  std::string why;
  const bool made = make_route(dtlssrtpenc, &route, &why);
  std::lock_guard<std::mutex> guard(state.lock);
  if (!made) {
    /* webrtcbin's chain still sends every packet: slower, not broken. */
    GST_WARNING("%s: sending through webrtcbin's chain: %s", state.name.c_str(), why.c_str());
    state.ready.store(false);
    state.route.clear();
    return;
  }
  GST_INFO("%s: sending directly on libnice stream %u component %u", state.name.c_str(),
           route.stream_id, route.component_id);
  state.route.clear();
  state.route = std::move(route);
  state.ready.store(true);
}

/* true: sent (or lost as nicesink would have lost it); false: leave it to
 * webrtcbin's chain. */
bool send_buffer(State &state, GstBuffer *buffer) {
  guint8 packet[kMaxDirectPacket + tourcast::kSrtpMaxGrowth];
  gsize size = gst_buffer_get_size(buffer);
  if (size > kMaxDirectPacket)
    return false;
  gst_buffer_extract(buffer, 0, packet, size);
  std::lock_guard<std::mutex> guard(state.lock);
  if (!state.route.protector)
    return false;
  std::string why;
  int protected_size = state.route.protector->protect(packet, size, sizeof packet, &why);
  if (protected_size < 0) {
    if (!state.warned_protect)
      GST_WARNING("%s: dropping an RTP packet SRTP could not protect: %s", state.name.c_str(),
                  why.c_str());
    state.warned_protect = true;
    state.dropped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  gint sent = nice_agent_send(state.route.agent, state.route.stream_id, state.route.component_id,
                              (guint)protected_size, (const gchar *)packet);
  if (sent == protected_size)
    state.packets.fetch_add(1, std::memory_order_relaxed);
  else
    state.dropped.fetch_add(1, std::memory_order_relaxed);
  return true;
}

GstPadProbeReturn on_rtp_leaving_session(GstPad *, GstPadProbeInfo *info, gpointer data) {
  State &state = state_of(data);
  if (!state.enabled.load(std::memory_order_relaxed) ||
      !state.ready.load(std::memory_order_acquire))
    return GST_PAD_PROBE_OK;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER)
    return send_buffer(state, GST_PAD_PROBE_INFO_BUFFER(info)) ? GST_PAD_PROBE_DROP
                                                               : GST_PAD_PROBE_OK;
  /* A list goes whole one way or the other, so its packets stay in order. */
  GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
  guint n = gst_buffer_list_length(list);
  for (guint i = 0; i < n; i++)
    if (gst_buffer_get_size(gst_buffer_list_get(list, i)) > kMaxDirectPacket)
      return GST_PAD_PROBE_OK;
  for (guint i = 0; i < n; i++)
    send_buffer(state, gst_buffer_list_get(list, i));
  return GST_PAD_PROBE_DROP;
}

void watch_session_pad(GstPad *pad, const StatePtr &state) {
  static GQuark watched = g_quark_from_static_string("tourcast-direct-send");
  if (g_strcmp0(GST_PAD_NAME(pad), "send_rtp_src") != 0 ||
      g_object_get_qdata(G_OBJECT(pad), watched) != nullptr)
    return;
  g_object_set_qdata(G_OBJECT(pad), watched, GINT_TO_POINTER(1));
  gst_pad_add_probe(pad,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    on_rtp_leaving_session, hold(state), [](gpointer data) { release(data); });
}

void on_session_pad_added(GstElement *, GstPad *pad, gpointer data) {
  watch_session_pad(pad, *static_cast<StatePtr *>(data));
}

}  // namespace

struct _TourDirectSend {
  StatePtr state;
};

TourDirectSend *tour_direct_send_new(GstObject *owner) {
  static gsize debug_once = 0;
  if (g_once_init_enter(&debug_once)) {
    GST_DEBUG_CATEGORY_INIT(tour_direct_send_debug, "tourdirectsend", 0,
                            "tourcast: RTP protected and sent past webrtcbin's chain");
    g_once_init_leave(&debug_once, 1);
  }
  auto *send = new TourDirectSend();
  send->state = std::make_shared<State>();
  send->state->owner = owner;
  return send;
}

void tour_direct_send_free(TourDirectSend *send) {
  delete send;
}

void tour_direct_send_element_added(TourDirectSend *send, GstElement *element) {
  {
    /* The owner has no name yet when it makes us (instance init). */
    std::lock_guard<std::mutex> guard(send->state->lock);
    if (send->state->name.empty() && send->state->owner) {
      gchar *name = gst_object_get_name(send->state->owner);
      send->state->name = name ? name : "";
      g_free(name);
    }
  }
  if (has_factory(element, "dtlssrtpenc")) {
    g_signal_connect_data(element, "on-key-set", G_CALLBACK(on_key_set), hold(send->state), release,
                          (GConnectFlags)0);
  } else if (has_factory(element, "rtpsession")) {
    /* rtpbin asks for the session's send pads once webrtcbin links a
     * sending stream, after the session was added. */
    g_signal_connect_data(element, "pad-added", G_CALLBACK(on_session_pad_added), hold(send->state),
                          release, (GConnectFlags)0);
    GstPad *pad = gst_element_get_static_pad(element, "send_rtp_src");
    if (pad) {
      watch_session_pad(pad, send->state);
      gst_object_unref(pad);
    }
  }
}

void tour_direct_send_set_enabled(TourDirectSend *send, gboolean enabled) {
  send->state->enabled.store(enabled);
}

gboolean tour_direct_send_get_enabled(TourDirectSend *send) {
  return send->state->enabled.load();
}

guint64 tour_direct_send_get_packets(TourDirectSend *send) {
  return send->state->packets.load();
}

guint64 tour_direct_send_get_dropped(TourDirectSend *send) {
  return send->state->dropped.load();
}
