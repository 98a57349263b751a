/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A libnice agent shared by many webrtcbins. Built on what webrtcbin 1.22's own
 * GstWebRTCNice (gst-libs/gst/webrtc/nice/nice.c) does, with its stream and
 * transport objects reused as they are: GstWebRTCNiceStream and
 * GstWebRTCNiceTransport only need an "ice" object with an "agent" property,
 * and that object is the TourSharedIceAgent, which lives as long as the guide,
 * so their signal handlers on the agent are disconnected when they go (they
 * find the agent through a weak reference to their "ice"; were it a peer's
 * object, already gone when webrtcbin frees its transports, their handlers
 * would stay on the shared agent).
 */
#include "shared-ice.h"

#include <agent.h>
#include <gst/webrtc/nice/nice.h>

#include "shared-ice-src.h"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(tour_shared_ice_debug);
#define GST_CAT_DEFAULT tour_shared_ice_debug

/* libnice sends one connectivity check per Ta for the whole agent (conncheck.c,
 * priv_conn_check_tick_agent_locked: "a single stun request per timer callback"),
 * so with every peer on one agent, the joins of a storm would queue behind each
 * other at libnice's default 20 ms. 5 ms is RFC 8445's lowest Ta; a check's
 * retransmission timeout stays at least 500 ms (Ta x pairs in progress). Ta is
 * never raised for one peer's long link: libnice makes the check tick again
 * with the Ta of the moment whenever it stopped (core/check_timeout.h,
 * check_timeout_for_agent). */
#define SHARED_PACING_MS 5

namespace {

/* Where a libnice stream's candidates go. */
struct Route {
  TourSharedIcePeer *peer;
  guint session_id;
};

}  // namespace

struct _TourSharedIceAgent {
  GstWebRTCICE parent;
  NiceAgent *agent;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  std::mutex *lock;
  std::map<guint, Route> *routes;
  std::set<std::string> *local_addresses;
  gboolean aggressive_nomination; /* construct-only */
};

G_DEFINE_TYPE(TourSharedIceAgent, tour_shared_ice_agent, GST_TYPE_WEBRTC_ICE);

enum { PROP_AGENT = 1, PROP_AGGRESSIVE_NOMINATION };

struct PeerStream {
  guint session_id;
  guint nice_stream_id;
  GstWebRTCICEStream *stream;
};

/* A callback of webrtcbin's or tourwebrtcbin's, called with the peer's
 * dispatch lock held. */
template <typename Func>
struct PeerCallback {
  Func func;
  gpointer data;
  GDestroyNotify notify;
};

struct _TourSharedIcePeer {
  GstWebRTCICE parent;
  TourSharedIceAgent *shared;
  std::mutex *lock;
  std::vector<PeerStream> *streams;
  /* Held while its callback runs (see on_new_candidate); guards the callback. */
  std::mutex *dispatch_lock;
  PeerCallback<GstWebRTCICEOnCandidateFunc> on_candidate;
  PeerCallback<TourSharedIceFirstCheckFunc> on_first_check;
  gchar *stun_server;
};

G_DEFINE_TYPE(TourSharedIcePeer, tour_shared_ice_peer, GST_TYPE_WEBRTC_ICE);

/* ---------- the shared agent ---------- */

struct ThreadStart {
  TourSharedIceAgent *self;
  GMutex lock;
  GCond cond;
  bool running = false;
};

static gboolean signal_running(gpointer data) {
  auto *start = static_cast<ThreadStart *>(data);
  g_mutex_lock(&start->lock);
  start->running = true;
  g_cond_signal(&start->cond);
  g_mutex_unlock(&start->lock);
  return G_SOURCE_REMOVE;
}

static gpointer run_agent_thread(gpointer data) {
  auto *start = static_cast<ThreadStart *>(data);
  TourSharedIceAgent *self = start->self;
  g_main_context_push_thread_default(self->context);
  g_main_context_invoke(self->context, signal_running, start);
  g_main_loop_run(self->loop);
  g_main_context_pop_thread_default(self->context);
  return nullptr;
}

/* libnice's thread: a local candidate of some peer's stream. */
/* libnice's thread: a local candidate of some peer's stream. The peer's
 * callback is webrtcbin's, with webrtcbin itself as its data and no reference:
 * it is called with the peer's dispatch lock held, which the peer's finalize
 * (in webrtcbin's dispose) takes after removing its routes, so webrtcbin is
 * not freed during a call. (GstWebRTCNice gets the same by joining its thread
 * in its finalize.) Lock order: the agent's lock, then a peer's dispatch lock;
 * the callback takes webrtcbin's locks, never the agent's. */
static void on_new_candidate(NiceAgent *agent, NiceCandidate *candidate, gpointer data) {
  auto *self = TOUR_SHARED_ICE_AGENT(data);
  if (candidate->username == nullptr || candidate->password == nullptr) {
    gchar *ufrag = nullptr, *password = nullptr;
    if (nice_agent_get_local_credentials(agent, candidate->stream_id, &ufrag, &password)) {
      if (candidate->username == nullptr)
        std::swap(candidate->username, ufrag);
      if (candidate->password == nullptr)
        std::swap(candidate->password, password);
    }
    g_free(ufrag);
    g_free(password);
  }
  gchar *attr = nice_agent_generate_local_candidate_sdp(agent, candidate);
  std::unique_lock<std::mutex> routes(*self->lock);
  auto it = self->routes->find(candidate->stream_id);
  if (it == self->routes->end()) {
    g_free(attr); /* its peer is gone */
    return;
  }
  TourSharedIcePeer *peer = it->second.peer;
  const guint session_id = it->second.session_id;
  std::lock_guard<std::mutex> dispatch(*peer->dispatch_lock);
  routes.unlock();
  if (peer->on_candidate.func)
    peer->on_candidate.func(GST_WEBRTC_ICE(peer), session_id, attr, peer->on_candidate.data);
  g_free(attr);
}

/* The first check from some peer's remote side: its callback, as for
 * candidates (see on_new_candidate). */
static void on_initial_binding_request(NiceAgent *, guint stream_id, gpointer data) {
  auto *self = TOUR_SHARED_ICE_AGENT(data);
  std::unique_lock<std::mutex> routes(*self->lock);
  auto it = self->routes->find(stream_id);
  if (it == self->routes->end())
    return;
  TourSharedIcePeer *peer = it->second.peer;
  std::lock_guard<std::mutex> dispatch(*peer->dispatch_lock);
  routes.unlock();
  if (peer->on_first_check.func)
    peer->on_first_check.func(GST_WEBRTC_ICE(peer), peer->on_first_check.data);
}

static void tour_shared_ice_agent_constructed(GObject *object) {
  G_OBJECT_CLASS(tour_shared_ice_agent_parent_class)->constructed(object);
  auto *self = TOUR_SHARED_ICE_AGENT(object);
  self->context = g_main_context_new();
  self->loop = g_main_loop_new(self->context, FALSE);
  /* The nomination mode is an option of the agent's construction only. */
  self->agent = nice_agent_new_full(
      self->context, NICE_COMPATIBILITY_RFC5245,
      (NiceAgentOption)(NICE_AGENT_OPTION_ICE_TRICKLE |
                        (self->aggressive_nomination ? 0 : NICE_AGENT_OPTION_REGULAR_NOMINATION)));
  g_object_set(self->agent, "upnp", FALSE, "controlling-mode", TRUE, "stun-pacing-timer",
               (guint)SHARED_PACING_MS, nullptr);
  g_signal_connect(self->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), self);
  g_signal_connect(self->agent, "initial-binding-request-received",
                   G_CALLBACK(on_initial_binding_request), self);

  ThreadStart start;
  start.self = self;
  g_mutex_init(&start.lock);
  g_cond_init(&start.cond);
  self->thread = g_thread_new(GST_OBJECT_NAME(self), run_agent_thread, &start);
  g_mutex_lock(&start.lock);
  while (!start.running)
    g_cond_wait(&start.cond, &start.lock);
  g_mutex_unlock(&start.lock);
  g_mutex_clear(&start.lock);
  g_cond_clear(&start.cond);
}

static void tour_shared_ice_agent_finalize(GObject *object) {
  auto *self = TOUR_SHARED_ICE_AGENT(object);
  g_signal_handlers_disconnect_by_data(self->agent, self);
  g_main_loop_quit(self->loop);
  if (self->thread != g_thread_self())
    g_thread_join(self->thread);
  else
    g_thread_unref(self->thread);
  /* nicesrc and nicesink may still hold the agent: as with GstWebRTCNice. */
  g_object_unref(self->agent);
  g_main_loop_unref(self->loop);
  g_main_context_unref(self->context);
  delete self->routes;
  delete self->local_addresses;
  delete self->lock;
  G_OBJECT_CLASS(tour_shared_ice_agent_parent_class)->finalize(object);
}

static void tour_shared_ice_agent_get_property(GObject *object, guint prop_id, GValue *value,
                                               GParamSpec *pspec) {
  auto *self = TOUR_SHARED_ICE_AGENT(object);
  switch (prop_id) {
    case PROP_AGENT:
      g_value_set_object(value, self->agent);
      break;
    case PROP_AGGRESSIVE_NOMINATION:
      g_value_set_boolean(value, self->aggressive_nomination);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void tour_shared_ice_agent_set_property(GObject *object, guint prop_id, const GValue *value,
                                               GParamSpec *pspec) {
  auto *self = TOUR_SHARED_ICE_AGENT(object);
  switch (prop_id) {
    case PROP_AGGRESSIVE_NOMINATION:
      self->aggressive_nomination = g_value_get_boolean(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void tour_shared_ice_agent_class_init(TourSharedIceAgentClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  gobject_class->constructed = tour_shared_ice_agent_constructed;
  gobject_class->finalize = tour_shared_ice_agent_finalize;
  gobject_class->get_property = tour_shared_ice_agent_get_property;
  gobject_class->set_property = tour_shared_ice_agent_set_property;
  /* What GstWebRTCNiceStream and GstWebRTCNiceTransport read from their "ice". */
  g_object_class_install_property(
      gobject_class, PROP_AGENT,
      g_param_spec_object("agent", "ICE agent", "The libnice agent all the peers share",
                          NICE_TYPE_AGENT,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PROP_AGGRESSIVE_NOMINATION,
      g_param_spec_boolean(
          "aggressive-nomination", "Aggressive nomination",
          "USE-CANDIDATE on every check (RFC 5245 aggressive nomination) "
          "instead of a second check once a first succeeded",
          FALSE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS)));
  GST_DEBUG_CATEGORY_INIT(tour_shared_ice_debug, "toursharedice", 0,
                          "tourcast: one libnice agent for many webrtcbins");
}

static void tour_shared_ice_agent_init(TourSharedIceAgent *self) {
  self->lock = new std::mutex();
  self->routes = new std::map<guint, Route>();
  self->local_addresses = new std::set<std::string>();
}

TourSharedIceAgent *tour_shared_ice_agent_new(const gchar *name, gboolean aggressive_nomination) {
  auto *self =
      TOUR_SHARED_ICE_AGENT(g_object_new(TOUR_TYPE_SHARED_ICE_AGENT, "name", name,
                                         "aggressive-nomination", aggressive_nomination, nullptr));
  gst_object_ref_sink(self);
  return self;
}

gboolean tour_shared_ice_agent_nominates_aggressively(TourSharedIceAgent *self) {
  g_return_val_if_fail(TOUR_IS_SHARED_ICE_AGENT(self), FALSE);
  return self->aggressive_nomination;
}

guint tour_shared_ice_agent_get_stream_count(TourSharedIceAgent *self) {
  g_return_val_if_fail(TOUR_IS_SHARED_ICE_AGENT(self), 0);
  std::lock_guard<std::mutex> guard(*self->lock);
  return (guint)self->routes->size();
}

/* libnice keeps one list of local addresses per agent and gathers a host
 * candidate per entry and stream: each peer adding the same address would
 * multiply every later peer's candidates. */
static gboolean add_local_address_once(TourSharedIceAgent *self, const gchar *address) {
  NiceAddress nice_address;
  nice_address_init(&nice_address);
  if (address == nullptr || !nice_address_set_from_string(&nice_address, address)) {
    GST_ERROR_OBJECT(self, "not an IP address: \"%s\"", address ? address : "(null)");
    return FALSE;
  }
  gchar canonical[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(&nice_address, canonical);
  {
    std::lock_guard<std::mutex> guard(*self->lock);
    if (!self->local_addresses->insert(canonical).second)
      return TRUE;
  }
  return nice_agent_add_local_address(self->agent, &nice_address);
}

/* ---------- one webrtcbin's view of the shared agent ---------- */

enum { PEER_PROP_AGENT = 1, PEER_PROP_ICE_TCP, PEER_PROP_ICE_UDP };

static const PeerStream *find_peer_stream_locked(TourSharedIcePeer *self,
                                                 GstWebRTCICEStream *stream) {
  for (const PeerStream &s : *self->streams)
    if (s.stream == stream)
      return &s;
  return nullptr;
}

/* The libnice stream id of @stream, or 0 (libnice's ids start at 1). */
static guint nice_stream_of(TourSharedIcePeer *self, GstWebRTCICEStream *stream) {
  std::lock_guard<std::mutex> guard(*self->lock);
  const PeerStream *s = find_peer_stream_locked(self, stream);
  return s ? s->nice_stream_id : 0;
}

static NiceAgent *agent_of(TourSharedIcePeer *self) {
  return self->shared->agent;
}

static GstWebRTCICEStream *peer_add_stream(GstWebRTCICE *ice, guint session_id) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  {
    std::lock_guard<std::mutex> guard(*self->lock);
    for (const PeerStream &s : *self->streams)
      if (s.session_id == session_id) {
        GST_ERROR_OBJECT(self, "stream already added with session_id=%u", session_id);
        return nullptr;
      }
  }
  const guint nice_stream_id = nice_agent_add_stream(agent_of(self), 1);
  if (nice_stream_id == 0)
    return nullptr;
  /* Its "ice" is the shared agent (see the top of this file). */
  auto *stream = GST_WEBRTC_ICE_STREAM(g_object_new(
      GST_TYPE_WEBRTC_NICE_STREAM, "ice", self->shared, "stream-id", nice_stream_id, nullptr));
  {
    std::lock_guard<std::mutex> guard(*self->shared->lock);
    (*self->shared->routes)[nice_stream_id] = Route{self, session_id};
  }
  {
    std::lock_guard<std::mutex> guard(*self->lock);
    self->streams->push_back(PeerStream{session_id, nice_stream_id, stream});
  }
  GST_DEBUG_OBJECT(self, "session %u is libnice stream %u of %s", session_id, nice_stream_id,
                   GST_OBJECT_NAME(self->shared));
  /* Like GstWebRTCNice, the stream stays ours: webrtcbin takes no reference. */
  return stream;
}

/* webrtcbin asks for the transport (transportstream.c) just before making
 * the transportreceivebin that adds its `src` (transportreceivebin.c,
 * transport_receive_bin_constructed): GstWebRTCNiceTransport made a nicesrc,
 * which has a thread of its own; a TourSharedIceSrc, pushing from the
 * agent's thread, takes its place while it is in no bin yet. */
static GstWebRTCICETransport *peer_find_transport(GstWebRTCICE *ice, GstWebRTCICEStream *stream,
                                                  GstWebRTCICEComponent component) {
  GstWebRTCICETransport *transport = gst_webrtc_ice_stream_find_transport(stream, component);
  if (transport == nullptr || transport->src == nullptr || TOUR_IS_SHARED_ICE_SRC(transport->src) ||
      GST_OBJECT_PARENT(transport->src) != nullptr)
    return transport;
  guint stream_id = 0, component_id = 0;
  g_object_get(transport->src, "stream", &stream_id, "component", &component_id, nullptr);
  TourSharedIceAgent *shared = TOUR_SHARED_ICE_PEER(ice)->shared;
  GstElement *nicesrc = transport->src;
  transport->src = tour_shared_ice_src_new(shared->agent, stream_id, component_id, shared->context);
  gst_object_ref_sink(nicesrc);
  gst_object_unref(nicesrc);
  return transport;
}

static gboolean peer_gather_candidates(GstWebRTCICE *, GstWebRTCICEStream *stream) {
  return gst_webrtc_ice_stream_gather_candidates(stream);
}

static void peer_add_candidate(GstWebRTCICE *ice, GstWebRTCICEStream *stream,
                               const gchar *candidate) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  const guint id = nice_stream_of(self, stream);
  g_return_if_fail(id != 0);
  if (candidate == nullptr) {
    nice_agent_peer_candidate_gathering_done(agent_of(self), id);
    return;
  }
  NiceCandidate *parsed = nice_agent_parse_remote_candidate_sdp(agent_of(self), id, candidate);
  if (parsed == nullptr) {
    /* GstWebRTCNice resolves mDNS (.local) candidates, which only browsers
     * send; browsers (WHEP) offer themselves and never get a shared agent. */
    GST_WARNING_OBJECT(self, "could not parse candidate \"%s\"", candidate);
    return;
  }
  if (parsed->component_id == NICE_COMPONENT_TYPE_RTP) { /* rtcp-mux: RTCP ones are useless */
    GSList *list = g_slist_append(nullptr, parsed);
    nice_agent_set_remote_candidates(agent_of(self), id, parsed->component_id, list);
    g_slist_free(list);
  }
  nice_candidate_free(parsed);
}

static gboolean peer_set_local_credentials(GstWebRTCICE *ice, GstWebRTCICEStream *stream,
                                           const gchar *ufrag, const gchar *pwd) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  const guint id = nice_stream_of(self, stream);
  g_return_val_if_fail(id != 0 && ufrag != nullptr && pwd != nullptr, FALSE);
  return nice_agent_set_local_credentials(agent_of(self), id, ufrag, pwd);
}

static gboolean peer_set_remote_credentials(GstWebRTCICE *ice, GstWebRTCICEStream *stream,
                                            const gchar *ufrag, const gchar *pwd) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  const guint id = nice_stream_of(self, stream);
  g_return_val_if_fail(id != 0 && ufrag != nullptr && pwd != nullptr, FALSE);
  return nice_agent_set_remote_credentials(agent_of(self), id, ufrag, pwd);
}

static gboolean peer_add_turn_server(GstWebRTCICE *ice, const gchar *uri) {
  GST_ERROR_OBJECT(ice, "TURN (%s) is not supported on a shared ICE agent", uri);
  return FALSE;
}

static void peer_set_turn_server(GstWebRTCICE *ice, const gchar *uri) {
  if (uri != nullptr)
    GST_ERROR_OBJECT(ice, "TURN (%s) is not supported on a shared ICE agent", uri);
}

static gchar *peer_get_null_string(GstWebRTCICE *) {
  return nullptr;
}

/* webrtcbin sets it on every description; the shared agent stays controlling
 * (only the peers the guide offers to share it). */
static void peer_set_is_controller(GstWebRTCICE *ice, gboolean controller) {
  if (!controller)
    GST_ERROR_OBJECT(ice, "a shared ICE agent is controlling: a peer that answers needs its own");
}

static gboolean peer_get_is_controller(GstWebRTCICE *ice) {
  gboolean controlling = FALSE;
  g_object_get(agent_of(TOUR_SHARED_ICE_PEER(ice)), "controlling-mode", &controlling, nullptr);
  return controlling;
}

static void peer_set_force_relay(GstWebRTCICE *ice, gboolean force_relay) {
  if (force_relay)
    GST_ERROR_OBJECT(ice, "relay only (TURN) is not supported on a shared ICE agent");
}

/* Agent-wide in libnice: every peer of a guide is given the same server. */
static void peer_set_stun_server(GstWebRTCICE *ice, const gchar *uri) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  GstUri *parsed = uri ? gst_uri_from_string_escaped(uri) : nullptr;
  if (uri != nullptr && (parsed == nullptr || gst_uri_get_host(parsed) == nullptr)) {
    GST_ERROR_OBJECT(self, "STUN server \"%s\" must be of the form stun://<host>:<port>", uri);
    if (parsed)
      gst_uri_unref(parsed);
    return;
  }
  {
    std::lock_guard<std::mutex> guard(*self->lock);
    g_free(self->stun_server);
    self->stun_server = g_strdup(uri);
  }
  if (parsed) {
    guint port = gst_uri_get_port(parsed);
    g_object_set(agent_of(self), "stun-server", gst_uri_get_host(parsed), "stun-server-port",
                 port == GST_URI_NO_PORT ? 3478u : port, nullptr);
    gst_uri_unref(parsed);
  }
}

static gchar *peer_get_stun_server(GstWebRTCICE *ice) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  std::lock_guard<std::mutex> guard(*self->lock);
  return g_strdup(self->stun_server);
}

static void peer_set_http_proxy(GstWebRTCICE *ice, const gchar *uri) {
  if (uri != nullptr)
    GST_ERROR_OBJECT(ice, "an HTTP proxy (%s) is not supported on a shared ICE agent", uri);
}

static void peer_set_tos(GstWebRTCICE *ice, GstWebRTCICEStream *stream, guint tos) {
  auto *self = TOUR_SHARED_ICE_PEER(ice);
  const guint id = nice_stream_of(self, stream);
  g_return_if_fail(id != 0);
  nice_agent_set_stream_tos(agent_of(self), id, tos);
}

/* Not while a call of the old one is under way (see on_new_candidate). */
template <typename Func>
static void replace_callback(TourSharedIcePeer *self, PeerCallback<Func> *slot, Func func,
                             gpointer user_data, GDestroyNotify notify) {
  PeerCallback<Func> old;
  {
    std::lock_guard<std::mutex> guard(*self->dispatch_lock);
    old = *slot;
    *slot = PeerCallback<Func>{func, user_data, notify};
  }
  if (old.notify)
    old.notify(old.data);
}

static void peer_set_on_ice_candidate(GstWebRTCICE *ice, GstWebRTCICEOnCandidateFunc func,
                                      gpointer user_data, GDestroyNotify notify) {
  replace_callback(TOUR_SHARED_ICE_PEER(ice), &TOUR_SHARED_ICE_PEER(ice)->on_candidate, func,
                   user_data, notify);
}

/* ---------- candidate statistics (webrtcbin's get-stats) ---------- */

static const gchar *candidate_type_name(NiceCandidateType type) {
  switch (type) {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
  }
  return "host";
}

static GstWebRTCICECandidateStats *candidate_stats(NiceCandidate *candidate,
                                                   GstWebRTCICEStream *stream, bool local) {
  auto *stats = g_new0(GstWebRTCICECandidateStats, 1);
  gchar address[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(&candidate->addr, address);
  stats->ipaddr = g_strdup(address);
  stats->port = nice_address_get_port(&candidate->addr);
  stats->stream_id = stream->stream_id;
  stats->type = candidate_type_name(candidate->type);
  stats->prio = candidate->priority;
  stats->proto = candidate->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp";
  if (local) {
    if (candidate->type == NICE_CANDIDATE_TYPE_RELAYED)
      stats->relay_proto = "none";
    stats->url = g_strdup("");
  }
  return stats;
}

static GstWebRTCICECandidateStats **candidate_list_stats(TourSharedIcePeer *self,
                                                         GstWebRTCICEStream *stream, bool local) {
  GPtrArray *result = g_ptr_array_new();
  GSList *candidates = local ? nice_agent_get_local_candidates(agent_of(self), stream->stream_id,
                                                               NICE_COMPONENT_TYPE_RTP)
                             : nice_agent_get_remote_candidates(agent_of(self), stream->stream_id,
                                                                NICE_COMPONENT_TYPE_RTP);
  for (GSList *l = candidates; l; l = l->next)
    g_ptr_array_add(result, candidate_stats(static_cast<NiceCandidate *>(l->data), stream, local));
  g_slist_free_full(candidates, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  g_ptr_array_add(result, nullptr);
  return reinterpret_cast<GstWebRTCICECandidateStats **>(g_ptr_array_free(result, FALSE));
}

static GstWebRTCICECandidateStats **peer_get_local_candidates(GstWebRTCICE *ice,
                                                              GstWebRTCICEStream *stream) {
  return candidate_list_stats(TOUR_SHARED_ICE_PEER(ice), stream, true);
}

static GstWebRTCICECandidateStats **peer_get_remote_candidates(GstWebRTCICE *ice,
                                                               GstWebRTCICEStream *stream) {
  return candidate_list_stats(TOUR_SHARED_ICE_PEER(ice), stream, false);
}

static gboolean peer_get_selected_pair(GstWebRTCICE *ice, GstWebRTCICEStream *stream,
                                       GstWebRTCICECandidateStats **local_stats,
                                       GstWebRTCICECandidateStats **remote_stats) {
  NiceCandidate *local = nullptr, *remote = nullptr;
  if (stream == nullptr ||
      !nice_agent_get_selected_pair(agent_of(TOUR_SHARED_ICE_PEER(ice)), stream->stream_id,
                                    NICE_COMPONENT_TYPE_RTP, &local, &remote))
    return FALSE;
  *local_stats = candidate_stats(local, stream, true);
  *remote_stats = candidate_stats(remote, stream, false);
  return TRUE;
}

static gboolean peer_add_local_ip_address(GstWebRTCICE *ice, const gchar *address) {
  return add_local_address_once(TOUR_SHARED_ICE_PEER(ice)->shared, address);
}

/* ---------- peer object ---------- */

static void tour_shared_ice_peer_set_property(GObject *object, guint prop_id, const GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_SHARED_ICE_PEER(object);
  switch (prop_id) {
    case PEER_PROP_ICE_TCP: /* agent-wide: the guide's peers share one setting */
      g_object_set_property(G_OBJECT(agent_of(self)), "ice-tcp", value);
      break;
    case PEER_PROP_ICE_UDP:
      g_object_set_property(G_OBJECT(agent_of(self)), "ice-udp", value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void tour_shared_ice_peer_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_SHARED_ICE_PEER(object);
  switch (prop_id) {
    case PEER_PROP_AGENT:
      g_value_set_object(value, agent_of(self));
      break;
    case PEER_PROP_ICE_TCP:
      g_object_get_property(G_OBJECT(agent_of(self)), "ice-tcp", value);
      break;
    case PEER_PROP_ICE_UDP:
      g_object_get_property(G_OBJECT(agent_of(self)), "ice-udp", value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

/* webrtcbin is gone (it is at NULL: nicesrc has let go of the sockets): its
 * streams leave the shared agent, which closes their sockets. */
static void tour_shared_ice_peer_finalize(GObject *object) {
  auto *self = TOUR_SHARED_ICE_PEER(object);
  for (const PeerStream &s : *self->streams) {
    {
      std::lock_guard<std::mutex> guard(*self->shared->lock);
      auto it = self->shared->routes->find(s.nice_stream_id);
      if (it != self->shared->routes->end())
        self->shared->routes->erase(it);
    }
    nice_agent_remove_stream(agent_of(self), s.nice_stream_id);
    gst_object_unref(s.stream);
  }
  /* A candidate being handed to webrtcbin now finishes first (see
   * on_new_candidate). */
  { std::lock_guard<std::mutex> wait_for_dispatch(*self->dispatch_lock); }
  if (self->on_candidate.notify)
    self->on_candidate.notify(self->on_candidate.data);
  if (self->on_first_check.notify)
    self->on_first_check.notify(self->on_first_check.data);
  g_free(self->stun_server);
  delete self->streams;
  delete self->lock;
  delete self->dispatch_lock;
  gst_object_unref(self->shared);
  G_OBJECT_CLASS(tour_shared_ice_peer_parent_class)->finalize(object);
}

static void tour_shared_ice_peer_class_init(TourSharedIcePeerClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstWebRTCICEClass *ice_class = GST_WEBRTC_ICE_CLASS(klass);
  gobject_class->finalize = tour_shared_ice_peer_finalize;
  gobject_class->set_property = tour_shared_ice_peer_set_property;
  gobject_class->get_property = tour_shared_ice_peer_get_property;

  ice_class->add_stream = peer_add_stream;
  ice_class->find_transport = peer_find_transport;
  ice_class->gather_candidates = peer_gather_candidates;
  ice_class->add_candidate = peer_add_candidate;
  ice_class->set_local_credentials = peer_set_local_credentials;
  ice_class->set_remote_credentials = peer_set_remote_credentials;
  ice_class->add_turn_server = peer_add_turn_server;
  ice_class->set_is_controller = peer_set_is_controller;
  ice_class->get_is_controller = peer_get_is_controller;
  ice_class->set_force_relay = peer_set_force_relay;
  ice_class->set_stun_server = peer_set_stun_server;
  ice_class->get_stun_server = peer_get_stun_server;
  ice_class->set_turn_server = peer_set_turn_server;
  ice_class->get_turn_server = peer_get_null_string;
  ice_class->set_http_proxy = peer_set_http_proxy;
  ice_class->get_http_proxy = peer_get_null_string;
  ice_class->set_tos = peer_set_tos;
  ice_class->set_on_ice_candidate = peer_set_on_ice_candidate;
  ice_class->get_local_candidates = peer_get_local_candidates;
  ice_class->get_remote_candidates = peer_get_remote_candidates;
  ice_class->get_selected_pair = peer_get_selected_pair;

  /* The same names as GstWebRTCNice's, which tourwebrtcbin looks for. */
  g_object_class_install_property(
      gobject_class, PEER_PROP_AGENT,
      g_param_spec_object("agent", "ICE agent", "The shared libnice agent", NICE_TYPE_AGENT,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PEER_PROP_ICE_TCP,
      g_param_spec_boolean("ice-tcp", "ICE TCP",
                           "Whether the shared agent gathers ICE-TCP candidates (agent-wide)", TRUE,
                           (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PEER_PROP_ICE_UDP,
      g_param_spec_boolean("ice-udp", "ICE UDP",
                           "Whether the shared agent gathers ICE-UDP candidates (agent-wide)", TRUE,
                           (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_signal_override_class_handler("add-local-ip-address", G_TYPE_FROM_CLASS(klass),
                                  G_CALLBACK(peer_add_local_ip_address));
}

static void tour_shared_ice_peer_init(TourSharedIcePeer *self) {
  self->lock = new std::mutex();
  self->dispatch_lock = new std::mutex();
  self->streams = new std::vector<PeerStream>();
}

GstWebRTCICE *tour_shared_ice_peer_new(TourSharedIceAgent *agent) {
  g_return_val_if_fail(TOUR_IS_SHARED_ICE_AGENT(agent), nullptr);
  auto *self = TOUR_SHARED_ICE_PEER(g_object_new(TOUR_TYPE_SHARED_ICE_PEER, nullptr));
  self->shared = TOUR_SHARED_ICE_AGENT(gst_object_ref(agent));
  gst_object_ref_sink(self);
  return GST_WEBRTC_ICE(self);
}

void tour_shared_ice_peer_set_on_first_check(GstWebRTCICE *ice, TourSharedIceFirstCheckFunc func,
                                             gpointer user_data, GDestroyNotify notify) {
  g_return_if_fail(TOUR_IS_SHARED_ICE_PEER(ice));
  replace_callback(TOUR_SHARED_ICE_PEER(ice), &TOUR_SHARED_ICE_PEER(ice)->on_first_check, func,
                   user_data, notify);
}
