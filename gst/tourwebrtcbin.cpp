/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourwebrtcbin
 * @title: tourwebrtcbin
 *
 * One WebRTC peer connection around a `webrtcbin`, driven by the seed's
 * connection state machine (initializing, signaling, ice_gathering,
 * ice_exchange, connecting, connected, reconnecting, failed, closed) with a
 * timeout per state, and an ICE candidate buffer that holds the peer's
 * candidates until both descriptions are set, then applies them in sequence.
 *
 * As a guide (`role=guide`) it takes Opus RTP on a request sink pad and
 * offers it to one attendee once the pad has caps. As an attendee
 * (`role=attendee`) it answers the guide's offer and exposes the received
 * Opus RTP on a sometimes src pad.
 *
 * Every transition posts an element message `tourcast-state` with fields
 * `old-state`, `new-state` (strings), `reason` (string), `timestamp` (ms since
 * the epoch, gint64), `peer-id` and `session-id`, and notifies #TourWebRTCBin:state.
 *
 * With #TourWebRTCBin:adaptive-check-timeout, the peer's first connectivity
 * check posts `tourcast-ice-timing` (`peer-id`, `first-request-delay-ms`: from
 * both descriptions set to that check, `check-timeout-ms`: the check
 * retransmission timeout libnice uses from then on).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 tourwebrtcbin role=attendee signaller::tour=demo \
 *     signaller::language=en signaller::redis-url=redis://127.0.0.1:6379 \
 *     ice-addresses=127.0.0.1 ! rtpopusdepay ! opusdec ! audioconvert ! autoaudiosink
 * ]| Listens to the guide of channel demo/en (started with tourguidesink).
 */
#include "tourwebrtcbin.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gio/gio.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/nice/nice.h>
#include <gst/webrtc/webrtc.h>

#include "direct-send.h"
#include "ice-agent.h"
#include "shared-ice.h"
#include "check_timeout.h"
#include "ice_buffer.h"
#include "offer_order.h"
#include "payload-type-rewrite.h"
#include "server_protocol.h"
#include "state_machine.h"
#include "signaller-glue.h"
#include "tourcast-enums.h"
#include "tourcast-worker.h"
#include "tourredissignaller.h"

GST_DEBUG_CATEGORY_STATIC(tour_webrtc_bin_debug);
#define GST_CAT_DEFAULT tour_webrtc_bin_debug

using namespace tourcast;

/* A spare peer's way from held (offer made for nobody yet) to an ordinary
 * peer: bound to an attendee, it publishes the offer and then the held
 * candidates, in that order. */
enum class SpareStage {
  kNone,       /* an ordinary peer (or a spare already published) */
  kHeld,       /* nobody to send the offer and candidates to yet */
  kPublishing, /* bound: offer and held candidates on their way */
};

/* The guide's offers to an attendee, a waiting one as its peer id and SDP text. */
using GuideOffers = OfferOrder<std::pair<std::string, std::string>>;

#define DEFAULT_ROLE TOUR_ROLE_ATTENDEE
#define DEFAULT_LATENCY_MS 200
#define DEFAULT_ICE_TCP FALSE
/* Longer than a one-way trip on the slowest link we serve (a geostationary
 * satellite hop is ~300 ms): see hold_answerer_checks(). */
#define DEFAULT_ANSWERER_CHECK_DELAY_MS 1000
/* A session-level attribute of the guide's offer, "aggressive" when its ICE
 * agent nominates with every check: the attendee then need not hold its own
 * checks (see descriptions_changed). Other peers ignore it. */
#define SDP_NOMINATION_ATTRIBUTE "tourcast-ice-nomination"
#define DEFAULT_ADAPTIVE_CHECK_TIMEOUT TRUE
/* libnice's default Ta is 20 ms; RFC 8445 allows 5 ms. With tourcast's one or
 * two candidate pairs per peer, each Ta tick before the first check is time
 * to first audio; the retransmission timeout stays 500 ms (see
 * on_initial_binding_request). */
#define DEFAULT_ICE_CHECK_PACING_MS 5
#define DEFAULT_CANDIDATE_BUFFER 64
/* A guide's monitor also measures whenever an RTCP report arrives (every
 * 250-750 ms at the default rtcp-interval): the interval is the fallback. */
#define DEFAULT_QUALITY_INTERVAL_MS 1000
#define DEFAULT_RTCP_INTERVAL_MS 500
/* webrtcbin's own behaviour: a clocksync per sending stream. */
#define DEFAULT_SYNC TRUE
#define DEFAULT_DIRECT_SEND TRUE
#define OPUS_RTP_CAPS "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000"

enum {
  PROP_0,
  PROP_ROLE,
  PROP_SIGNALLER,
  PROP_PEER_ID,
  PROP_SESSION_ID,
  PROP_STATE,
  PROP_LATENCY,
  PROP_ICE_ADDRESSES,
  PROP_ICE_TCP,
  PROP_ANSWERER_CHECK_DELAY,
  PROP_ADAPTIVE_CHECK_TIMEOUT,
  PROP_ICE_CHECK_PACING,
  PROP_QUALITY_INTERVAL,
  PROP_RTCP_INTERVAL,
  PROP_SYNC,
  PROP_RECOVERABLE,
  PROP_MAX_RECOVERY_REQUESTS,
  PROP_NEGOTIATIONS,
  PROP_ICE_RESTARTS,
  PROP_LOCAL_ICE_UFRAG,
  PROP_REMOTE_ICE_UFRAG,
  PROP_REMOTE_OFFER,
  PROP_SHARED_ICE_AGENT,
  PROP_DIRECT_SEND,
  PROP_DIRECT_PACKETS_SENT,
  PROP_DIRECT_PACKETS_DROPPED,
  PROP_TIMEOUT_FIRST, /* one property per state, in ConnectionState order */
};

namespace {

struct TimeoutProperty {
  ConnectionState state;
  const char *name;
  const char *nick;
};

/* Connected, failed and closed have no timeout. */
constexpr std::array<TimeoutProperty, 6> kTimeoutProperties = {{
    {ConnectionState::kInitializing, "initializing-timeout", "Initializing timeout"},
    {ConnectionState::kSignaling, "signaling-timeout", "Signaling timeout"},
    {ConnectionState::kIceGathering, "ice-gathering-timeout", "ICE gathering timeout"},
    {ConnectionState::kIceExchange, "ice-exchange-timeout", "ICE exchange timeout"},
    {ConnectionState::kConnecting, "connecting-timeout", "Connecting timeout"},
    {ConnectionState::kReconnecting, "reconnecting-timeout", "Reconnecting timeout"},
}};

struct Transition {
  bool happened = false;
  StateTransition change;
};

}  // namespace

struct TourWebRTCBinPrivate {
  std::mutex lock;
  /* Guide side: audio is dropped until the peer is connected, so the first
   * packet the attendee receives starts an unbroken sequence (a gap in its
   * first packets trips the RTP source's probation). */
  std::atomic<bool> media_open{false};
  /* Set before webrtcbin is stopped: while it takes its transports down it can
   * report states (even `connected` of a connection that had failed), which
   * say nothing about the peer any more. */
  std::atomic<bool> stopping{false};

  /* settings */
  TourRole role = DEFAULT_ROLE;
  std::string peer_id;
  std::string session_id;
  guint latency_ms = DEFAULT_LATENCY_MS;
  std::string ice_addresses;
  bool ice_tcp = DEFAULT_ICE_TCP;
  guint answerer_check_delay_ms = DEFAULT_ANSWERER_CHECK_DELAY_MS;
  /* The offer being answered says the offerer nominates aggressively. */
  bool offerer_nominates_aggressively = false;
  bool adaptive_check_timeout = DEFAULT_ADAPTIVE_CHECK_TIMEOUT;
  guint ice_check_pacing_ms = DEFAULT_ICE_CHECK_PACING_MS;
  guint quality_interval_ms = DEFAULT_QUALITY_INTERVAL_MS;
  std::atomic<guint> rtcp_interval_ms{DEFAULT_RTCP_INTERVAL_MS};
  /* role == guide, read without the lock where webrtcbin adds its elements. */
  std::atomic<bool> polls_on_rtcp{DEFAULT_ROLE == TOUR_ROLE_GUIDE};
  std::atomic<bool> sync{DEFAULT_SYNC};
  bool recoverable = false;
  guint max_recovery_requests = 0;
  guint recovery_requests = 0;
  /* Guide side, answering: the peer's own offer (a browser over WHEP) and
   * the payload type it gave Opus (-1: unknown). */
  std::string remote_offer;
  gint remote_offer_pt = -1;
  /* Guide side, offering: the libnice agent this peer shares with the guide's
   * other peers (construct only; NULL: webrtcbin's own agent and thread). */
  TourSharedIceAgent *shared_ice_agent = nullptr;
  TourSignaller *signaller = nullptr;
  bool signaller_shared = false;
  bool signaller_started = false;
  std::vector<gulong> signaller_handlers;

  /* runtime */
  GstElement *webrtc = nullptr;
  /* Sending side: RTP past webrtcbin's chain once DTLS is up ("direct-send"). */
  TourDirectSend *direct_send = nullptr;
  GstElement *monitor = nullptr;
  ConnectionStateMachine machine{0};
  IceCandidateBuffer remote_candidates{DEFAULT_CANDIDATE_BUFFER};
  CandidateRetryQueue retries;
  guint remote_media_count = 0;
  bool negotiation_started = false;
  bool gathering_complete = false;
  /* This side answered the current offer (it is ICE-controlled), and until
   * when its remote candidates stay buffered (tour_now_ms() clock, 0: not held). */
  bool answering = false;
  int64_t candidates_held_until_ms = 0;
  /* When the local and remote descriptions were last both set (tour_now_ms()
   * clock, 0: not yet): the peer's first check is timed from there. */
  int64_t descriptions_set_ms = 0;
  /* Recovery: a renegotiation with new ICE credentials is under way (they
   * replace webrtcbin's, which 1.22 reuses), and how many completed. */
  bool ice_restart_pending = false;
  std::string restart_ufrag;
  std::string restart_pwd;
  bool accept_new_session = false;
  /* Attendee: the guide's offers, one answer at a time; offers of sessions
   * this peer (or the peer it replaces) left are dropped. A waiting offer is
   * kept as its peer id and SDP text. */
  GuideOffers offers;
  std::string old_local_ufrag;
  std::string old_remote_ufrag;
  guint negotiations = 0;
  guint ice_restarts = 0;
  /* Guide, offering ahead: the offer is made (and its candidates gathered)
   * before any attendee is known; the state machine, its timeouts, status
   * reports and signaling wait until tour_webrtc_bin_bind_spare() names the
   * attendee. */
  SpareStage spare = SpareStage::kNone;
  bool spare_offer_set = false; /* the local offer is set, not yet sent */
  bool spare_gathering = false; /* gathering started while held */
  std::string spare_failure;    /* the negotiation failed while held */
  std::vector<std::pair<guint, std::string>> held_candidates; /* mline, candidate */
  bool ever_started = false;
  bool running = false;
  GMainContext *worker = nullptr;
  GSource *timer = nullptr;
  GstPad *src_ghost = nullptr;
};

struct _TourWebRTCBin {
  GstBin parent;
  TourWebRTCBinPrivate *priv;
};

static void tour_webrtc_bin_child_proxy_init(gpointer g_iface, gpointer iface_data);

#define tour_webrtc_bin_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(TourWebRTCBin, tour_webrtc_bin, GST_TYPE_BIN,
                        G_IMPLEMENT_INTERFACE(GST_TYPE_CHILD_PROXY,
                                              tour_webrtc_bin_child_proxy_init));
GST_ELEMENT_REGISTER_DEFINE(tourwebrtcbin, "tourwebrtcbin", GST_RANK_NONE, TOUR_TYPE_WEBRTC_BIN);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS(OPUS_RTP_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS(OPUS_RTP_CAPS));

static GParamSpec *state_pspec = nullptr;

/* ---------- state machine glue ---------- */

static void schedule_timer_locked(TourWebRTCBin *self);
static void apply_transition(TourWebRTCBin *self, const Transition &t);

/* @advance: only move forward along the happy path (webrtcbin's events come
 * in racy order); otherwise a direct transition that must be legal. */
static void move_to(TourWebRTCBin *self, ConnectionState to, const std::string &reason,
                    bool advance) {
  TourWebRTCBinPrivate *priv = self->priv;
  Transition t;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!priv->running)
      return;
    if (priv->spare == SpareStage::kHeld) {
      /* Replayed when the spare is bound (tour_webrtc_bin_bind_spare). */
      if (to == ConnectionState::kIceGathering)
        priv->spare_gathering = true;
      if (to == ConnectionState::kFailed && priv->spare_failure.empty())
        priv->spare_failure = reason;
      return;
    }
    std::string error;
    if (advance && priv->machine.state() == ConnectionState::kReconnecting &&
        to != ConnectionState::kConnected) {
      /* A recovery renegotiates on a live connection: it stays reconnecting
       * until the connection is back, not signaling again. */
    } else if (advance) {
      t.happened = priv->machine.advance_to(to, reason, tour_now_ms(), &t.change);
    } else {
      t.happened = priv->machine.transition(to, reason, tour_now_ms(), &t.change, &error);
      if (!t.happened && priv->machine.state() != to)
        GST_DEBUG_OBJECT(self, "%s", error.c_str());
    }
    if (t.happened)
      schedule_timer_locked(self);
  }
  apply_transition(self, t);
}

static void run_cleanup(TourWebRTCBin *self, ConnectionState entered) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::string peer, session;
  TourSignaller *signaller = nullptr;
  bool leave = false;
  for (CleanupAction action : ConnectionStateMachine::cleanup_actions_for(entered)) {
    switch (action) {
      case CleanupAction::kCancelTimeout: {
        std::lock_guard<std::mutex> guard(priv->lock);
        if (priv->timer) {
          g_source_destroy(priv->timer);
          g_source_unref(priv->timer);
          priv->timer = nullptr;
        }
        break;
      }
      case CleanupAction::kDiscardIceBuffer: {
        std::lock_guard<std::mutex> guard(priv->lock);
        priv->remote_candidates.clear();
        priv->retries.clear();
        break;
      }
      case CleanupAction::kClosePeerConnection:
        /* The transports stop when the element leaves PLAYING; a failed peer
         * is torn down by whoever owns this element. */
        break;
      case CleanupAction::kLeaveSignaling: {
        std::lock_guard<std::mutex> guard(priv->lock);
        leave = priv->signaller != nullptr;
        if (leave) {
          signaller = TOUR_SIGNALLER(g_object_ref(priv->signaller));
          peer = priv->peer_id;
          session = priv->session_id;
        }
        break;
      }
    }
  }
  if (leave) {
    tour_signaller_end_session(signaller, peer.c_str(), session.c_str());
    g_object_unref(signaller);
  }
}

/* webrtcbin's rtpsession times each sent packet for its sender reports with
 * the latency it was configured (rtcp-sync-send-time), and logs "Can't
 * determine running time for this packet without knowing configured latency"
 * for every packet until then. The only way it gets one in 1.22 is the
 * transport send bin's answer to a latency query, which sends a LATENCY event
 * up from its nicesink; the pipeline's own LATENCY event is dropped by that
 * bin, and before DTLS is up the event stops at its dtlssrtpenc, locked in
 * NULL. So a peer that connects after the pipeline last asked (a browser
 * answering the guide, say) never had one: ask again now, before the first
 * packet passes. */
static void configure_send_latency(TourWebRTCBin *self) {
  GstQuery *query = gst_query_new_latency();
  if (!gst_element_query(self->priv->webrtc, query))
    GST_DEBUG_OBJECT(self, "latency query failed: sender reports may lack timing");
  gst_query_unref(query);
}

static void apply_transition(TourWebRTCBin *self, const Transition &t) {
  if (!t.happened)
    return;
  TourWebRTCBinPrivate *priv = self->priv;
  const StateTransition &c = t.change;
  std::string peer, session;
  TourSignaller *signaller = nullptr;
  bool gathered, fail_is_error, sends_media;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    peer = priv->peer_id;
    session = priv->session_id;
    sends_media = priv->role == TOUR_ROLE_GUIDE;
    gathered = priv->gathering_complete;
    fail_is_error = !priv->signaller_shared;
    if (priv->signaller)
      signaller = TOUR_SIGNALLER(g_object_ref(priv->signaller));
  }
  GST_INFO_OBJECT(self, "%s -> %s (%s)", to_string(c.from), to_string(c.to), c.reason.c_str());
  if (c.to == ConnectionState::kConnected) {
    if (sends_media)
      configure_send_latency(self);
    priv->media_open.store(true);
  }
  GstStructure *s = gst_structure_new(
      "tourcast-state", "old-state", G_TYPE_STRING, to_string(c.from), "new-state", G_TYPE_STRING,
      to_string(c.to), "reason", G_TYPE_STRING, c.reason.c_str(), "timestamp", G_TYPE_INT64,
      (gint64)tour_epoch_ms(), "peer-id", G_TYPE_STRING, peer.c_str(), "session-id", G_TYPE_STRING,
      session.c_str(), "by-timeout", G_TYPE_BOOLEAN, c.by_timeout, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
  g_object_notify_by_pspec(G_OBJECT(self), state_pspec);
  if (signaller && c.to != ConnectionState::kClosed)
    tour_signaller_report_status(signaller, peer.c_str(), to_string(c.to), gathered);
  if (signaller)
    g_object_unref(signaller);
  run_cleanup(self, c.to);
  if (c.to == ConnectionState::kFailed && fail_is_error) {
    GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                      ("WebRTC connection to %s failed: %s",
                       peer.empty() ? "the guide" : peer.c_str(), c.reason.c_str()),
                      ("session %s", session.c_str()));
  }
}

static gboolean on_state_timer(gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  TourWebRTCBinPrivate *priv = self->priv;
  Transition t;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->timer) {
      g_source_unref(priv->timer);
      priv->timer = nullptr;
    }
    if (priv->running) {
      t.happened = priv->machine.check_timeout(tour_now_ms(), &t.change);
      schedule_timer_locked(self);
    }
  }
  apply_transition(self, t);
  gst_object_unref(self);
  return G_SOURCE_REMOVE;
}

static void schedule_timer_locked(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  if (priv->timer) {
    g_source_destroy(priv->timer);
    g_source_unref(priv->timer);
    priv->timer = nullptr;
  }
  int64_t deadline = priv->machine.deadline_ms();
  if (deadline < 0 || priv->worker == nullptr || priv->spare == SpareStage::kHeld)
    return;
  int64_t wait = deadline - tour_now_ms();
  priv->timer = g_timeout_source_new(wait > 0 ? (guint)wait : 0);
  g_source_set_callback(priv->timer, on_state_timer, new_weak_ref(self), free_weak_ref);
  g_source_attach(priv->timer, priv->worker);
}

/* The signaller (a new reference, or nullptr) with the peer and session to
 * address, read under the lock, for a call made without it. */
struct SignalTarget {
  TourSignaller *signaller = nullptr;
  std::string peer;
  std::string session;
  SignalTarget() = default;
  SignalTarget(const SignalTarget &) = delete;
  SignalTarget &operator=(const SignalTarget &) = delete;
  ~SignalTarget() {
    if (signaller)
      g_object_unref(signaller);
  }
};

static void signal_target(TourWebRTCBin *self, SignalTarget *target) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->signaller)
    target->signaller = TOUR_SIGNALLER(g_object_ref(priv->signaller));
  target->peer = priv->peer_id;
  target->session = priv->session_id;
}

/* ---------- ICE restart ----------
 *
 * webrtcbin 1.22 has no ICE restart: a renegotiation reuses the ICE
 * credentials of the previous description (a FIXME in its offer and answer
 * code) and gathering is not run again. So a restart is built from its
 * parts: libnice's nice_agent_restart_stream() gives the stream new local
 * credentials and forgets the remote candidates; the new credentials replace
 * webrtcbin's in the offer (guide) or answer (attendee) before it is set as
 * local description, which hands them back to libnice unchanged; the remote
 * side's new credentials come in with its description; and since gathering
 * does not run again, the local candidates are sent once more through the
 * signaller. The session, the transports and DTLS stay. */

/* The libnice agent behind webrtcbin and the stream of its (bundled)
 * transport; the agent is a new reference. */
static bool find_nice_stream(TourWebRTCBin *self, NiceAgent **agent, guint *stream_id) {
  TourWebRTCBinPrivate *priv = self->priv;
  *agent = nullptr;
  GstWebRTCRTPTransceiver *transceiver = nullptr;
  g_signal_emit_by_name(priv->webrtc, "get-transceiver", 0, &transceiver);
  if (transceiver == nullptr)
    return false;
  GstWebRTCDTLSTransport *dtls = nullptr;
  for (const char *end : {"receiver", "sender"}) {
    GObject *rtp = nullptr;
    g_object_get(transceiver, end, &rtp, nullptr);
    if (rtp) {
      g_object_get(rtp, "transport", &dtls, nullptr);
      g_object_unref(rtp);
    }
    if (dtls)
      break;
  }
  gst_object_unref(transceiver);
  if (dtls == nullptr)
    return false;
  GstWebRTCICETransport *ice_transport = nullptr;
  g_object_get(dtls, "transport", &ice_transport, nullptr);
  gst_object_unref(dtls);
  bool found = false;
  if (ice_transport && GST_IS_WEBRTC_NICE_TRANSPORT(ice_transport) &&
      GST_WEBRTC_NICE_TRANSPORT(ice_transport)->stream) {
    *stream_id = GST_WEBRTC_ICE_STREAM(GST_WEBRTC_NICE_TRANSPORT(ice_transport)->stream)->stream_id;
    found = true;
  }
  if (ice_transport)
    gst_object_unref(ice_transport);
  if (!found)
    return false;
  GObject *ice = nullptr;
  g_object_get(priv->webrtc, "ice-agent", &ice, nullptr);
  if (ice == nullptr)
    return false;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    g_object_get(ice, "agent", agent, nullptr);
  g_object_unref(ice);
  return *agent != nullptr;
}

/* The ICE ufrag of the first media of webrtcbin's @property description. */
static std::string description_ufrag(GstElement *webrtc, const char *property) {
  GstWebRTCSessionDescription *desc = nullptr;
  g_object_get(webrtc, property, &desc, nullptr);
  std::string ufrag;
  if (desc && desc->sdp) {
    const char *value = nullptr;
    if (gst_sdp_message_medias_len(desc->sdp) > 0)
      value = gst_sdp_media_get_attribute_val(gst_sdp_message_get_media(desc->sdp, 0), "ice-ufrag");
    if (value == nullptr)
      value = gst_sdp_message_get_attribute_val(desc->sdp, "ice-ufrag");
    ufrag = value ? value : "";
  }
  if (desc)
    gst_webrtc_session_description_free(desc);
  return ufrag;
}

/* New local ICE credentials for the stream; the next local description
 * carries them. */
static bool restart_ice_credentials(TourWebRTCBin *self, std::string *why) {
  TourWebRTCBinPrivate *priv = self->priv;
  NiceAgent *agent = nullptr;
  guint stream_id = 0;
  if (!find_nice_stream(self, &agent, &stream_id)) {
    *why = "no libnice stream to restart (not negotiated yet)";
    return false;
  }
  gchar *ufrag = nullptr, *pwd = nullptr;
  bool ok = nice_agent_restart_stream(agent, stream_id) &&
            nice_agent_get_local_credentials(agent, stream_id, &ufrag, &pwd);
  g_object_unref(agent);
  if (!ok) {
    *why = "libnice refused to restart the stream";
    g_free(ufrag);
    g_free(pwd);
    return false;
  }
  std::string old_local = description_ufrag(priv->webrtc, "current-local-description");
  std::string old_remote = description_ufrag(priv->webrtc, "current-remote-description");
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->old_local_ufrag = old_local;
    priv->old_remote_ufrag = old_remote;
    priv->ice_restart_pending = true;
    priv->restart_ufrag = ufrag;
    priv->restart_pwd = pwd;
    /* Remote candidates wait for the new descriptions (and credentials). */
    priv->remote_candidates.clear();
    priv->retries.clear();
  }
  GST_INFO_OBJECT(self, "ICE stream %u restarted: local ufrag %s", stream_id, ufrag);
  g_free(ufrag);
  g_free(pwd);
  return true;
}

static const char *credential_for(const char *key, const std::string &ufrag,
                                  const std::string &pwd) {
  if (g_strcmp0(key, "ice-ufrag") == 0)
    return ufrag.c_str();
  if (g_strcmp0(key, "ice-pwd") == 0)
    return pwd.c_str();
  return nullptr;
}

/* Puts @ufrag and @pwd in place of webrtcbin's reused credentials, at session
 * level and in every media. */
static void replace_ice_credentials(GstSDPMessage *sdp, const std::string &ufrag,
                                    const std::string &pwd) {
  for (guint i = 0; i < gst_sdp_message_attributes_len(sdp); i++) {
    const GstSDPAttribute *a = gst_sdp_message_get_attribute(sdp, i);
    if (const char *value = credential_for(a->key, ufrag, pwd)) {
      GstSDPAttribute replacement;
      gst_sdp_attribute_set(&replacement, a->key, value);
      gst_sdp_message_replace_attribute(sdp, i, &replacement);
    }
  }
  for (guint m = 0; m < gst_sdp_message_medias_len(sdp); m++) {
    auto *media = const_cast<GstSDPMedia *>(gst_sdp_message_get_media(sdp, m));
    for (guint i = 0; i < gst_sdp_media_attributes_len(media); i++) {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute(media, i);
      if (const char *value = credential_for(a->key, ufrag, pwd)) {
        GstSDPAttribute replacement;
        gst_sdp_attribute_set(&replacement, a->key, value);
        gst_sdp_media_replace_attribute(media, i, &replacement);
      }
    }
  }
}

static std::string sdp_ufrag(const GstSDPMessage *sdp) {
  const char *value = nullptr;
  if (gst_sdp_message_medias_len(sdp) > 0)
    value = gst_sdp_media_get_attribute_val(gst_sdp_message_get_media(sdp, 0), "ice-ufrag");
  if (value == nullptr)
    value = gst_sdp_message_get_attribute_val(sdp, "ice-ufrag");
  return value ? value : "";
}

/* Gathering does not run again after a restart: the peer gets the local
 * candidates once more, now under the new credentials. */
static void send_local_candidates(TourWebRTCBin *self) {
  NiceAgent *agent = nullptr;
  guint stream_id = 0;
  if (!find_nice_stream(self, &agent, &stream_id))
    return;
  SignalTarget to;
  signal_target(self, &to);
  GSList *candidates = nice_agent_get_local_candidates(agent, stream_id, NICE_COMPONENT_TYPE_RTP);
  for (GSList *l = candidates; l && to.signaller; l = l->next) {
    gchar *line =
        nice_agent_generate_local_candidate_sdp(agent, static_cast<NiceCandidate *>(l->data));
    if (line) {
      const char *text = g_str_has_prefix(line, "a=") ? line + 2 : line;
      tour_signaller_add_ice(to.signaller, to.peer.c_str(), to.session.c_str(), 0, text);
      g_free(line);
    }
  }
  g_slist_free_full(candidates, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  g_object_unref(agent);
}

static void create_offer(TourWebRTCBin *self);

/* Guide: new credentials, then an offer that carries them. */
static void restart_ice(TourWebRTCBin *self, const std::string &reason) {
  std::string why;
  if (!restart_ice_credentials(self, &why)) {
    GST_WARNING_OBJECT(self, "cannot restart ICE: %s", why.c_str());
    return;
  }
  move_to(self, ConnectionState::kReconnecting, reason, false);
  create_offer(self);
}

/* ---------- candidates ---------- */

static void flush_remote_candidates(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::vector<BufferedCandidate> ready;
  guint media_count;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!priv->remote_candidates.ready() || tour_now_ms() < priv->candidates_held_until_ms)
      return;
    ready = priv->remote_candidates.take_ready();
    auto due = priv->retries.take_due(tour_now_ms());
    ready.insert(ready.end(), due.begin(), due.end());
    media_count = priv->remote_media_count;
  }
  for (const auto &c : ready) {
    if (c.mline >= media_count) {
      /* webrtcbin 1.22 drops such a candidate with only a log line: keep it
       * for a renegotiation that may add the media line, a bounded number of
       * times. */
      std::lock_guard<std::mutex> guard(priv->lock);
      if (!priv->retries.record_failure(c, tour_now_ms()))
        GST_WARNING_OBJECT(self,
                           "gave up on candidate for media line %u: the remote "
                           "description has %u",
                           c.mline, media_count);
      continue;
    }
    GST_LOG_OBJECT(self, "adding remote candidate %" G_GUINT64_FORMAT ": %s", c.sequence,
                   c.candidate.c_str());
    g_signal_emit_by_name(priv->webrtc, "add-ice-candidate", c.mline, c.candidate.c_str());
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->retries.record_success(c.sequence);
  }
}

static gboolean on_candidate_hold_over(gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  flush_remote_candidates(self);
  gst_object_unref(self);
  return G_SOURCE_REMOVE;
}

/* The answering (ICE-controlled) side hands the peer's candidates to libnice
 * @delay_ms after the offerer starts its checks. When both start at once on a
 * link whose round trip is longer than the interval between the peer's
 * requests (signaling is faster than the media path), libnice 0.1.21 livelocks:
 * every request it receives schedules a triggered check, which replaces the
 * pair's in-flight transaction, so each response arrives for a transaction it
 * has forgotten ("Valid STUN response for which we don't have a request") and
 * the pair stays in progress until jitter breaks the cycle (seconds at 600 ms
 * RTT). Held back, the answerer first receives the offerer's request, whose
 * response then completes the offerer's check, and answers it with a
 * triggered check of its own: one round trip, no crossing transactions. Its
 * own checks (needed when the offerer's cannot reach it, behind a NAT) start
 * after the delay. */
static void hold_answerer_checks(TourWebRTCBin *self, guint delay_ms) {
  GST_DEBUG_OBJECT(self, "answering: the peer's candidates wait %u ms for its checks", delay_ms);
  GSource *source = g_timeout_source_new(delay_ms);
  g_source_set_callback(source, on_candidate_hold_over, new_weak_ref(self), free_weak_ref);
  g_source_attach(source, self->priv->worker);
  g_source_unref(source);
}

static void descriptions_changed(TourWebRTCBin *self, bool local, bool remote) {
  TourWebRTCBinPrivate *priv = self->priv;
  bool both, restarted = false, unheld = false;
  guint hold = 0;
  std::string peer, session, old_local, old_remote;
  guint restarts = 0;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    bool was_ready = priv->remote_candidates.ready();
    if (local)
      priv->remote_candidates.set_local_description_set(true);
    if (remote)
      priv->remote_candidates.set_remote_description_set(true);
    both = priv->remote_candidates.ready();
    if (both && !was_ready) {
      priv->negotiations++;
      /* An offerer nominating with every check has no second request to
       * cross ours: checking at once makes our pair valid ½ RTT sooner. */
      unheld = priv->answering && priv->offerer_nominates_aggressively;
      hold = priv->answering && !unheld ? priv->answerer_check_delay_ms : 0;
      priv->descriptions_set_ms = tour_now_ms();
      priv->candidates_held_until_ms = hold ? tour_now_ms() + hold : 0;
      if (priv->ice_restart_pending) {
        priv->ice_restart_pending = false;
        restarts = ++priv->ice_restarts;
        restarted = true;
        old_local = priv->old_local_ufrag;
        old_remote = priv->old_remote_ufrag;
      }
    }
    peer = priv->peer_id;
    session = priv->session_id;
  }
  if (restarted) {
    std::string local_ufrag = description_ufrag(priv->webrtc, "current-local-description");
    std::string remote_ufrag = description_ufrag(priv->webrtc, "current-remote-description");
    GST_INFO_OBJECT(self, "ICE restart %u negotiated: local ufrag %s, remote ufrag %s", restarts,
                    local_ufrag.c_str(), remote_ufrag.c_str());
    gst_element_post_message(
        GST_ELEMENT(self),
        gst_message_new_element(
            GST_OBJECT(self),
            gst_structure_new(
                "tourcast-ice-restart", "peer-id", G_TYPE_STRING, peer.c_str(), "session-id",
                G_TYPE_STRING, session.c_str(), "ice-restarts", G_TYPE_UINT, restarts,
                "local-ufrag", G_TYPE_STRING, local_ufrag.c_str(), "remote-ufrag", G_TYPE_STRING,
                remote_ufrag.c_str(), "old-local-ufrag", G_TYPE_STRING, old_local.c_str(),
                "old-remote-ufrag", G_TYPE_STRING, old_remote.c_str(), nullptr)));
  }
  if (both) {
    move_to(self, ConnectionState::kIceExchange, "offer and answer set", true);
    if (unheld)
      GST_DEBUG_OBJECT(self, "answering an offerer that nominates aggressively: no check hold");
    if (hold)
      hold_answerer_checks(self, hold);
    else
      flush_remote_candidates(self);
  }
}

static void on_handle_ice(TourSignaller *, const gchar *peer_id, const gchar *session_id,
                          guint mline, const gchar *candidate, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  TourWebRTCBinPrivate *priv = self->priv;
  bool ready = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->running && priv->peer_id == peer_id && priv->session_id == session_id) {
      uint32_t priority = 0;
      parse_candidate_priority(candidate, &priority);
      priv->remote_candidates.push(candidate, mline, priority, tour_now_ms());
      ready = priv->remote_candidates.ready();
    }
  }
  if (ready)
    flush_remote_candidates(self);
  gst_object_unref(self);
}

static void on_ice_candidate(GstElement *, guint mline, gchar *candidate, TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  TourSignaller *signaller = nullptr;
  std::string peer, session;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!priv->running || priv->signaller == nullptr)
      return;
    if (priv->spare != SpareStage::kNone) {
      priv->held_candidates.emplace_back(mline, candidate);
      return;
    }
    signaller = TOUR_SIGNALLER(g_object_ref(priv->signaller));
    peer = priv->peer_id;
    session = priv->session_id;
  }
  tour_signaller_add_ice(signaller, peer.c_str(), session.c_str(), mline, candidate);
  g_object_unref(signaller);
}

/* ---------- negotiation ---------- */

struct PromiseContext {
  TourWebRTCBin *self;
  GstWebRTCSDPType type;
};

static void promise_context_free(gpointer data) {
  auto *ctx = static_cast<PromiseContext *>(data);
  gst_object_unref(ctx->self);
  delete ctx;
}

static GstPromise *new_promise(TourWebRTCBin *self, GstWebRTCSDPType type,
                               GstPromiseChangeFunc func) {
  auto *ctx = new PromiseContext{TOUR_WEBRTC_BIN(gst_object_ref(self)), type};
  return gst_promise_new_with_change_func(func, ctx, promise_context_free);
}

static void take_waiting_offer(TourWebRTCBin *self);

static void fail_negotiation(TourWebRTCBin *self, const std::string &what,
                             const GstStructure *reply) {
  {
    /* The connection has failed: an offer that waited goes with it (a
     * recovery renegotiates on a new peer). */
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->offers.answered();
  }
  std::string detail = what;
  GError *error = nullptr;
  if (reply && gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr) && error) {
    detail += ": ";
    detail += error->message;
    g_clear_error(&error);
  }
  move_to(self, ConnectionState::kFailed, detail, false);
}

static void send_local_description(TourWebRTCBin *self, GstWebRTCSessionDescription *desc) {
  SignalTarget to;
  signal_target(self, &to);
  if (to.signaller)
    tour_signaller_send_sdp(to.signaller, to.peer.c_str(), to.session.c_str(), desc);
}

/* A bound spare: its offer, then the candidates it gathered while held (and
 * any that arrive meanwhile), so the attendee has the session before its
 * first candidate. */
static void publish_spare_offer(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  GstWebRTCSessionDescription *desc = nullptr;
  g_object_get(priv->webrtc, "local-description", &desc, nullptr);
  if (desc) {
    send_local_description(self, desc);
    gst_webrtc_session_description_free(desc);
  }
  for (;;) {
    std::vector<std::pair<guint, std::string>> held;
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      held.swap(priv->held_candidates);
      if (held.empty()) {
        priv->spare = SpareStage::kNone;
        return;
      }
    }
    SignalTarget to;
    signal_target(self, &to);
    for (const auto &c : held)
      if (to.signaller)
        tour_signaller_add_ice(to.signaller, to.peer.c_str(), to.session.c_str(), c.first,
                               c.second.c_str());
  }
}

static void on_local_description_set(GstPromise *promise, gpointer data) {
  auto *ctx = static_cast<PromiseContext *>(data);
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED ||
      (reply && gst_structure_has_field(reply, "error"))) {
    fail_negotiation(ctx->self, "setting the local description failed", reply);
    gst_promise_unref(promise);
    return;
  }
  gst_promise_unref(promise);
  bool restarting, held, publish_spare;
  {
    std::lock_guard<std::mutex> guard(ctx->self->priv->lock);
    TourWebRTCBinPrivate *priv = ctx->self->priv;
    restarting = priv->ice_restart_pending;
    /* Held: tour_webrtc_bin_bind_spare() sends it; bound before it was
     * ready: it goes out now. */
    held = priv->spare == SpareStage::kHeld;
    publish_spare = priv->spare == SpareStage::kPublishing;
    if (priv->spare != SpareStage::kNone)
      priv->spare_offer_set = true;
  }
  if (publish_spare) {
    publish_spare_offer(ctx->self);
  } else if (!held) {
    GstWebRTCSessionDescription *desc = nullptr;
    g_object_get(ctx->self->priv->webrtc, "local-description", &desc, nullptr);
    if (desc) {
      send_local_description(ctx->self, desc);
      gst_webrtc_session_description_free(desc);
    }
  }
  if (restarting)
    send_local_candidates(ctx->self);
  descriptions_changed(ctx->self, true, false);
  if (ctx->type == GST_WEBRTC_SDP_TYPE_ANSWER)
    take_waiting_offer(ctx->self);
}

static void on_description_created(GstPromise *promise, gpointer data) {
  auto *ctx = static_cast<PromiseContext *>(data);
  TourWebRTCBin *self = ctx->self;
  const char *field = ctx->type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  GstWebRTCSessionDescription *desc = nullptr;
  const GstStructure *reply = nullptr;
  if (gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply(promise);
  if (reply)
    gst_structure_get(reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
  if (desc == nullptr) {
    fail_negotiation(self, std::string("creating the ") + field + " failed", reply);
    gst_promise_unref(promise);
    return;
  }
  gst_promise_unref(promise);
  std::string ufrag, pwd;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->ice_restart_pending) {
      ufrag = self->priv->restart_ufrag;
      pwd = self->priv->restart_pwd;
    }
  }
  if (!ufrag.empty())
    replace_ice_credentials(desc->sdp, ufrag, pwd);
  if (ctx->type == GST_WEBRTC_SDP_TYPE_OFFER && self->priv->shared_ice_agent &&
      tour_shared_ice_agent_nominates_aggressively(self->priv->shared_ice_agent))
    gst_sdp_message_add_attribute(desc->sdp, SDP_NOMINATION_ATTRIBUTE, "aggressive");
  GstPromise *set = new_promise(self, ctx->type, on_local_description_set);
  g_signal_emit_by_name(self->priv->webrtc, "set-local-description", desc, set);
  gst_webrtc_session_description_free(desc);
}

static void on_remote_description_set(GstPromise *promise, gpointer data) {
  auto *ctx = static_cast<PromiseContext *>(data);
  TourWebRTCBin *self = ctx->self;
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED ||
      (reply && gst_structure_has_field(reply, "error"))) {
    fail_negotiation(self, "setting the remote description failed", reply);
    gst_promise_unref(promise);
    return;
  }
  gst_promise_unref(promise);
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->answering = ctx->type == GST_WEBRTC_SDP_TYPE_OFFER;
  }
  if (ctx->type == GST_WEBRTC_SDP_TYPE_OFFER) {
    GstPromise *answer = new_promise(self, GST_WEBRTC_SDP_TYPE_ANSWER, on_description_created);
    g_signal_emit_by_name(self->priv->webrtc, "create-answer", nullptr, answer);
  }
  descriptions_changed(self, false, true);
}

static void take_description(TourWebRTCBin *self, const gchar *peer_id, const gchar *session_id,
                             GstWebRTCSessionDescription *desc) {
  TourWebRTCBinPrivate *priv = self->priv;
  bool accept = false;
  bool renegotiation = false;
  bool new_session = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->running && priv->role == TOUR_ROLE_ATTENDEE &&
        desc->type == GST_WEBRTC_SDP_TYPE_OFFER) {
      gchar *text = gst_sdp_message_as_text(desc->sdp);
      auto verdict = priv->offers.arrived(session_id, {peer_id, text ? text : ""});
      g_free(text);
      if (verdict == GuideOffers::Verdict::kStale) {
        GST_INFO_OBJECT(self, "ignoring offer of session %s from %s: a session this peer left",
                        session_id, peer_id);
        return;
      }
      if (verdict == GuideOffers::Verdict::kHeld) {
        GST_INFO_OBJECT(self, "offer of session %s from %s waits for the answer in progress",
                        session_id, peer_id);
        return;
      }
    }
    if (priv->running) {
      if (priv->role == TOUR_ROLE_ATTENDEE && desc->type == GST_WEBRTC_SDP_TYPE_OFFER) {
        /* An attendee takes the first offer of its guide; a second session
         * (the guide restarted) is for a new element, unless a recovery asked
         * the guide for a signaling reset (a new session on this connection).
         * A new offer in the same session is a recovery's renegotiation. */
        if (priv->session_id.empty() && (priv->peer_id.empty() || priv->peer_id == peer_id)) {
          priv->session_id = session_id;
          priv->peer_id = peer_id;
          accept = true;
        } else if (priv->recoverable && priv->negotiations > 0 && priv->peer_id == peer_id &&
                   (priv->session_id == session_id || priv->accept_new_session)) {
          new_session = priv->session_id != session_id;
          if (new_session)
            priv->offers.retire(priv->session_id);
          priv->session_id = session_id;
          priv->accept_new_session = false;
          accept = true;
          renegotiation = true;
        } else if (priv->session_id != session_id) {
          GST_INFO_OBJECT(self, "ignoring offer of session %s: this element carries %s", session_id,
                          priv->session_id.c_str());
        }
        if (!accept)
          priv->offers.declined();
      } else if (priv->role == TOUR_ROLE_GUIDE && desc->type == GST_WEBRTC_SDP_TYPE_ANSWER) {
        accept = priv->peer_id == peer_id && priv->session_id == session_id;
      }
      if (accept) {
        priv->remote_media_count = gst_sdp_message_medias_len(desc->sdp);
        if (desc->type == GST_WEBRTC_SDP_TYPE_OFFER)
          priv->offerer_nominates_aggressively =
              g_strcmp0(gst_sdp_message_get_attribute_val(desc->sdp, SDP_NOMINATION_ATTRIBUTE),
                        "aggressive") == 0;
      }
    }
  }
  if (renegotiation) {
    /* A changed ufrag is an ICE restart (RFC 8839): restart ours as well, so
     * the answer carries new credentials. */
    std::string offered = sdp_ufrag(desc->sdp);
    std::string current = description_ufrag(priv->webrtc, "current-remote-description");
    GST_INFO_OBJECT(self, "renegotiation from %s in %s session %s (remote ufrag %s -> %s)", peer_id,
                    new_session ? "new" : "the same", session_id, current.c_str(), offered.c_str());
    std::string why;
    if (offered != current && !restart_ice_credentials(self, &why))
      GST_WARNING_OBJECT(self, "cannot restart ICE: %s", why.c_str());
    move_to(self, ConnectionState::kReconnecting, "the guide renegotiates", false);
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      bool restarting = priv->ice_restart_pending;
      if (!restarting) {
        priv->remote_candidates.clear();
        priv->retries.clear();
      }
    }
  }
  if (accept) {
    if (desc->type == GST_WEBRTC_SDP_TYPE_OFFER) {
      g_object_notify(G_OBJECT(self), "session-id");
      if (priv->monitor)
        g_object_set(priv->monitor, "peer-id", peer_id, nullptr);
    }
    move_to(self, ConnectionState::kSignaling,
            std::string("received ") +
                (desc->type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer") + " from " + peer_id,
            true);
    GstPromise *promise = new_promise(self, desc->type, on_remote_description_set);
    g_signal_emit_by_name(priv->webrtc, "set-remote-description", desc, promise);
  }
}

static void on_session_description(TourSignaller *, const gchar *peer_id, const gchar *session_id,
                                   GstWebRTCSessionDescription *desc, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  take_description(self, peer_id, session_id, desc);
  gst_object_unref(self);
}

/* The answer in progress is set (or its negotiation failed): take the offer
 * that waited for it, if any. */
static void take_waiting_offer(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::optional<std::pair<std::string, std::pair<std::string, std::string>>> next;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    next = priv->offers.answered();
  }
  if (!next)
    return;
  const std::string &session = next->first;
  const std::string &peer = next->second.first;
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text(next->second.second.c_str(), &sdp) != GST_SDP_OK ||
      sdp == nullptr) {
    if (sdp)
      gst_sdp_message_free(sdp);
    return; /* it was valid SDP when it arrived */
  }
  GST_INFO_OBJECT(self, "taking the offer of session %s from %s that waited", session.c_str(),
                  peer.c_str());
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  take_description(self, peer.c_str(), session.c_str(), desc);
  gst_webrtc_session_description_free(desc);
}

/* A guide with remote-offer answers it (once the sink pad has caps, as for
 * an offer: webrtcbin needs them to match the offer to the transceiver). */
static void start_answer(TourWebRTCBin *self, const std::string &offer) {
  TourWebRTCBinPrivate *priv = self->priv;
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text(offer.c_str(), &sdp) != GST_SDP_OK || sdp == nullptr) {
    if (sdp)
      gst_sdp_message_free(sdp);
    move_to(self, ConnectionState::kFailed, "the peer's offer is not valid SDP", false);
    return;
  }
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->remote_media_count = gst_sdp_message_medias_len(sdp);
  }
  move_to(self, ConnectionState::kSignaling, "sink caps known, answering the peer's offer", true);
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  GstPromise *promise = new_promise(self, GST_WEBRTC_SDP_TYPE_OFFER, on_remote_description_set);
  g_signal_emit_by_name(priv->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free(desc);
}

static void start_offer(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::string remote_offer;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->negotiation_started || !priv->running)
      return;
    priv->negotiation_started = true;
    remote_offer = priv->remote_offer;
  }
  if (!remote_offer.empty()) {
    start_answer(self, remote_offer);
    return;
  }
  move_to(self, ConnectionState::kSignaling, "sink caps known, creating offer", true);
  create_offer(self);
}

static void create_offer(TourWebRTCBin *self) {
  GstPromise *promise = new_promise(self, GST_WEBRTC_SDP_TYPE_OFFER, on_description_created);
  g_signal_emit_by_name(self->priv->webrtc, "create-offer", nullptr, promise);
}

/* create-offer before the sink pad has caps fails in webrtcbin 1.22, and a
 * probe sees the caps event before the pad stores it: the probe only wakes
 * the worker, which offers once webrtcbin's own pad reports the caps. */
#define CAPS_POLL_MS 5

static gboolean offer_when_caps_stored(gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  gboolean again = G_SOURCE_REMOVE;
  GstPad *ghost = gst_element_get_static_pad(GST_ELEMENT(self), "sink");
  GstPad *target = ghost ? gst_ghost_pad_get_target(GST_GHOST_PAD(ghost)) : nullptr;
  if (target && gst_pad_has_current_caps(target))
    start_offer(self);
  else if (target)
    again = G_SOURCE_CONTINUE;
  if (target)
    gst_object_unref(target);
  if (ghost)
    gst_object_unref(ghost);
  gst_object_unref(self);
  return again;
}

static GstPadProbeReturn gate_media(GstPad *, GstPadProbeInfo *, gpointer data) {
  auto *self = TOUR_WEBRTC_BIN(data);
  return self->priv->media_open.load() ? GST_PAD_PROBE_REMOVE : GST_PAD_PROBE_DROP;
}

static GstPadProbeReturn on_sink_event(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *self = TOUR_WEBRTC_BIN(data);
  if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    worker = self->priv->worker;
  }
  if (worker) {
    GSource *poll = g_timeout_source_new(CAPS_POLL_MS);
    g_source_set_callback(poll, offer_when_caps_stored, new_weak_ref(self), free_weak_ref);
    g_source_attach(poll, worker);
    g_source_unref(poll);
  }
  return GST_PAD_PROBE_REMOVE;
}

/* ---------- webrtcbin notifications ---------- */

static bool recoverable(TourWebRTCBin *self) {
  std::lock_guard<std::mutex> guard(self->priv->lock);
  return self->priv->recoverable;
}

/* No renegotiation half done, and DTLS up. */
static bool connection_is_up(TourWebRTCBin *self) {
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->ice_restart_pending)
      return false;
  }
  GstWebRTCPeerConnectionState state;
  g_object_get(self->priv->webrtc, "connection-state", &state, nullptr);
  return state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED;
}

static void on_ice_gathering_state(GstElement *webrtc, GParamSpec *, TourWebRTCBin *self) {
  GstWebRTCICEGatheringState state;
  g_object_get(webrtc, "ice-gathering-state", &state, nullptr);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_GATHERING) {
    move_to(self, ConnectionState::kIceGathering, "gathering local candidates", true);
  } else if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->gathering_complete = true;
  }
}

static void on_ice_connection_state(GstElement *webrtc, GParamSpec *, TourWebRTCBin *self) {
  if (self->priv->stopping)
    return;
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  ConnectionState current;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    current = self->priv->machine.state();
  }
  switch (state) {
    case GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING:
      move_to(self, ConnectionState::kConnecting, "ICE connectivity checks running", true);
      break;
    case GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED:
      if (current == ConnectionState::kConnected)
        move_to(self, ConnectionState::kReconnecting, "ICE disconnected", false);
      break;
    case GST_WEBRTC_ICE_CONNECTION_STATE_FAILED:
      if (recoverable(self) && current != ConnectionState::kReconnecting)
        move_to(self, ConnectionState::kReconnecting, "ICE failed: waiting for a recovery", false);
      else if (!recoverable(self))
        move_to(self, ConnectionState::kFailed, "ICE failed: no candidate pair works", false);
      break;
    case GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED:
    case GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED:
      if (current == ConnectionState::kReconnecting && connection_is_up(self))
        move_to(self, ConnectionState::kConnected, "ICE connected again", false);
      break;
    default:
      break;
  }
}

static void on_connection_state(GstElement *webrtc, GParamSpec *, TourWebRTCBin *self) {
  if (self->priv->stopping)
    return;
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  ConnectionState current;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    current = self->priv->machine.state();
  }
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    if (current == ConnectionState::kReconnecting)
      move_to(self, ConnectionState::kConnected, "connection restored", false);
    else
      move_to(self, ConnectionState::kConnected, "ICE and DTLS connected", true);
  } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    if (!recoverable(self))
      move_to(self, ConnectionState::kFailed, "peer connection failed (ICE or DTLS)", false);
    else if (current != ConnectionState::kReconnecting)
      move_to(self, ConnectionState::kReconnecting,
              "peer connection failed: waiting for a recovery", false);
  }
}

static void on_webrtc_pad_added(GstElement *, GstPad *pad, TourWebRTCBin *self) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  TourWebRTCBinPrivate *priv = self->priv;
  GstPad *ghost =
      gst_ghost_pad_new_from_template("src", pad, gst_static_pad_template_get(&src_template));
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->src_ghost) {
      GST_WARNING_OBJECT(self, "ignoring a second received stream on %s", GST_PAD_NAME(pad));
      gst_object_unref(ghost);
      return;
    }
    priv->src_ghost = ghost;
  }
  gst_pad_set_active(ghost, TRUE);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
}

/* ---------- signaller ---------- */

/* Guide: the attendee lost its media. ice_restart: new ICE credentials and
 * candidates in the same session; signaling_reset: the same, in a new
 * session (new signaling state on both sides: candidate numbering, offer and
 * answer records), on the same webrtcbin. */
static void on_recovery_requested(TourSignaller *, const gchar *peer_id, const gchar *session_id,
                                  const gchar *level, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  TourWebRTCBinPrivate *priv = self->priv;
  bool mine, allowed, reset = g_strcmp0(level, "signaling_reset") == 0;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    mine = priv->running && priv->role == TOUR_ROLE_GUIDE && priv->peer_id == peer_id &&
           priv->session_id == session_id && priv->negotiations > 0;
    allowed = priv->recoverable && (priv->max_recovery_requests == 0 ||
                                    priv->recovery_requests < priv->max_recovery_requests);
    if (mine && allowed)
      priv->recovery_requests++;
    if (mine && allowed && reset) {
      gchar *fresh = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
      priv->session_id = fresh;
      g_free(fresh);
    }
  }
  if (mine && !allowed) {
    GST_INFO_OBJECT(self, "%s asked for %s, but recovery is off or max-recovery-requests used",
                    peer_id, level);
  } else if (mine) {
    GST_INFO_OBJECT(self, "%s asks for %s", peer_id, level);
    if (reset)
      g_object_notify(G_OBJECT(self), "session-id");
    restart_ice(self, std::string("recovery requested by the attendee: ") + level);
  }
  gst_object_unref(self);
}

/* Attendee: the guide took our join and will offer when its turn comes (a
 * join storm): keep waiting for the offer rather than failing; each
 * `queued` counts the initializing timeout again, at least as long as the
 * guide says its next word may take. */
static void on_signaller_info(TourSignaller *, const gchar *what, const GstStructure *details,
                              gpointer data) {
  if (g_strcmp0(what, "queued") != 0)
    return;
  guint at_least_ms = 0;
  if (details)
    gst_structure_get_uint(details, "wait-ms", &at_least_ms);
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  TourWebRTCBinPrivate *priv = self->priv;
  gint64 wait_ms = -1;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->running && priv->role == TOUR_ROLE_ATTENDEE &&
        priv->machine.extend_timeout(ConnectionState::kInitializing, tour_now_ms(), at_least_ms)) {
      wait_ms = priv->machine.deadline_ms() - tour_now_ms();
      schedule_timer_locked(self);
    }
  }
  if (wait_ms >= 0)
    GST_INFO_OBJECT(self, "the guide queued our join: waiting %" G_GINT64_FORMAT " ms more",
                    wait_ms);
  gst_object_unref(self);
}

static void disconnect_signaller_locked(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  for (gulong id : priv->signaller_handlers)
    g_signal_handler_disconnect(priv->signaller, id);
  priv->signaller_handlers.clear();
}

static void connect_signaller_locked(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  priv->signaller_handlers.push_back(connect_weak(priv->signaller, "session-description",
                                                  G_CALLBACK(on_session_description), self));
  priv->signaller_handlers.push_back(
      connect_weak(priv->signaller, "handle-ice", G_CALLBACK(on_handle_ice), self));
  priv->signaller_handlers.push_back(
      connect_weak(priv->signaller, "recovery-requested", G_CALLBACK(on_recovery_requested), self));
  priv->signaller_handlers.push_back(
      connect_weak(priv->signaller, "info", G_CALLBACK(on_signaller_info), self));
}

static void set_signaller(TourWebRTCBin *self, TourSignaller *signaller, bool shared) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->signaller) {
    disconnect_signaller_locked(self);
    g_object_unref(priv->signaller);
  }
  priv->signaller = signaller ? TOUR_SIGNALLER(g_object_ref(signaller)) : nullptr;
  priv->signaller_shared = shared;
  if (priv->signaller) {
    connect_signaller_locked(self);
    if (!shared) {
      auto problems = forward_signaller_problems(priv->signaller, GST_ELEMENT(self));
      priv->signaller_handlers.insert(priv->signaller_handlers.end(), problems.begin(),
                                      problems.end());
    }
  }
}

void tour_webrtc_bin_expect_new_session(TourWebRTCBin *self) {
  g_return_if_fail(TOUR_IS_WEBRTC_BIN(self));
  std::lock_guard<std::mutex> guard(self->priv->lock);
  self->priv->accept_new_session = true;
}

GstElement *tour_webrtc_bin_new_like(TourWebRTCBin *self) {
  g_return_val_if_fail(TOUR_IS_WEBRTC_BIN(self), nullptr);
  TourWebRTCBinPrivate *priv = self->priv;
  auto *copy = TOUR_WEBRTC_BIN(
      g_object_new(TOUR_TYPE_WEBRTC_BIN, "shared-ice-agent", priv->shared_ice_agent, nullptr));
  TourWebRTCBinPrivate *to = copy->priv;
  TourSignaller *signaller = nullptr;
  bool shared;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    std::lock_guard<std::mutex> guard_copy(to->lock);
    to->role = priv->role;
    to->polls_on_rtcp.store(priv->role == TOUR_ROLE_GUIDE);
    to->latency_ms = priv->latency_ms;
    to->ice_addresses = priv->ice_addresses;
    to->ice_tcp = priv->ice_tcp;
    to->answerer_check_delay_ms = priv->answerer_check_delay_ms;
    to->adaptive_check_timeout = priv->adaptive_check_timeout;
    to->ice_check_pacing_ms = priv->ice_check_pacing_ms;
    to->quality_interval_ms = priv->quality_interval_ms;
    to->rtcp_interval_ms.store(priv->rtcp_interval_ms.load());
    to->recoverable = priv->recoverable;
    /* The new peer replaces this one: a late offer of this one's sessions is
     * not for it. */
    for (const std::string &session : priv->offers.retired_sessions())
      to->offers.retire(session);
    to->offers.retire(priv->session_id);
    for (const TimeoutProperty &p : kTimeoutProperties)
      to->machine.set_timeout_ms(p.state, priv->machine.timeout_ms(p.state));
    if (priv->signaller)
      signaller = TOUR_SIGNALLER(g_object_ref(priv->signaller));
    shared = priv->signaller_shared;
  }
  if (signaller) {
    set_signaller(copy, signaller, shared);
    g_object_unref(signaller);
  }
  return GST_ELEMENT(copy);
}

gboolean tour_webrtc_bin_has_shared_signaller(TourWebRTCBin *self) {
  g_return_val_if_fail(TOUR_IS_WEBRTC_BIN(self), FALSE);
  std::lock_guard<std::mutex> guard(self->priv->lock);
  return self->priv->signaller != nullptr && self->priv->signaller_shared;
}

void tour_webrtc_bin_set_shared_signaller(TourWebRTCBin *self, TourSignaller *signaller) {
  g_return_if_fail(TOUR_IS_WEBRTC_BIN(self));
  set_signaller(self, signaller, true);
}

static void start_quality_monitor(TourWebRTCBin *self);

void tour_webrtc_bin_hold_as_spare(TourWebRTCBin *self) {
  g_return_if_fail(TOUR_IS_WEBRTC_BIN(self));
  std::lock_guard<std::mutex> guard(self->priv->lock);
  g_return_if_fail(!self->priv->ever_started && self->priv->role == TOUR_ROLE_GUIDE &&
                   self->priv->remote_offer.empty());
  self->priv->spare = SpareStage::kHeld;
}

gboolean tour_webrtc_bin_spare_ready(TourWebRTCBin *self) {
  g_return_val_if_fail(TOUR_IS_WEBRTC_BIN(self), FALSE);
  std::lock_guard<std::mutex> guard(self->priv->lock);
  return self->priv->spare == SpareStage::kHeld && self->priv->spare_offer_set;
}

gboolean tour_webrtc_bin_bind_spare(TourWebRTCBin *self, const gchar *peer_id,
                                    const gchar *session_id) {
  g_return_val_if_fail(TOUR_IS_WEBRTC_BIN(self) && peer_id && session_id, FALSE);
  TourWebRTCBinPrivate *priv = self->priv;
  bool offer_set, gathering;
  std::string failure;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->spare != SpareStage::kHeld || !priv->running)
      return FALSE;
    priv->spare = SpareStage::kPublishing;
    priv->peer_id = peer_id;
    priv->session_id = session_id;
    offer_set = priv->spare_offer_set;
    gathering = priv->spare_gathering;
    failure = priv->spare_failure;
    /* The attendee's timeouts count from now, not from when the spare was
     * made. */
    ConnectionStateMachine fresh(tour_now_ms());
    for (const TimeoutProperty &p : kTimeoutProperties)
      fresh.set_timeout_ms(p.state, priv->machine.timeout_ms(p.state));
    priv->machine = fresh;
    schedule_timer_locked(self);
  }
  start_quality_monitor(self);
  if (priv->monitor)
    gst_element_sync_state_with_parent(priv->monitor);
  g_object_notify(G_OBJECT(self), "peer-id");
  g_object_notify(G_OBJECT(self), "session-id");
  GST_INFO_OBJECT(self, "spare bound to %s (offer %s)", peer_id, offer_set ? "ready" : "pending");
  move_to(self, ConnectionState::kSignaling, "offer made ahead by a spare peer", true);
  if (gathering)
    move_to(self, ConnectionState::kIceGathering, "gathering local candidates", true);
  if (!failure.empty()) {
    move_to(self, ConnectionState::kFailed, failure, false);
    return TRUE;
  }
  if (offer_set)
    publish_spare_offer(self);
  return TRUE;
}

/* ---------- ICE agent configuration ---------- */

static bool is_local_address(const char *text, std::string *why) {
  GInetAddress *wanted = g_inet_address_new_from_string(text);
  if (wanted == nullptr) {
    *why = std::string("\"") + text + "\" is not an IP address";
    return false;
  }
  bool found = false;
  std::string have;
  struct ifaddrs *list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
      if (i->ifa_addr == nullptr ||
          (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
        continue;
      GSocketAddress *sa = g_socket_address_new_from_native(
          i->ifa_addr, i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                         : sizeof(struct sockaddr_in6));
      if (sa == nullptr)
        continue;
      GInetAddress *a = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(sa));
      found = found || g_inet_address_equal(a, wanted);
      gchar *s = g_inet_address_to_string(a);
      have += (have.empty() ? "" : ", ") + std::string(s);
      g_free(s);
      g_object_unref(sa);
    }
    freeifaddrs(list);
  }
  g_object_unref(wanted);
  if (!found)
    *why = std::string("\"") + text + "\" is not an address of this machine (it has " + have + ")";
  return found;
}

/* The peer's first connectivity check arrived (libnice's thread, agent
 * unlocked): the check retransmission timeout past the round trip, see
 * core/check_timeout.h, or 0 when adaptive-check-timeout is off, there is
 * no measurement, or @agent is shared (its Ta is every peer's: see
 * check_timeout_for_agent). Posts tourcast-ice-timing with the timeout the
 * agent gets. libnice has no RTO setting: it
 * takes the RTO of each new check from the pacing timer Ta (RTO = MAX(Ta x
 * pairs, 500 ms)). Its check tick, already running by now (the pair this
 * request is for made it), keeps the interval it was created with, so checks
 * are not paced slower; only a tick made later (after the checks ended, e.g.
 * for an ICE restart) paces one check per Ta. */
static guint first_check_timeout(TourWebRTCBin *self, CheckAgent agent) {
  TourWebRTCBinPrivate *priv = self->priv;
  int64_t set_at;
  bool adaptive;
  std::string peer;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    set_at = priv->descriptions_set_ms;
    adaptive = priv->adaptive_check_timeout && priv->running;
    peer = priv->peer_id;
  }
  if (!adaptive || set_at == 0)
    return 0;
  const int64_t delay = tour_now_ms() - set_at;
  const int64_t timeout = check_timeout_for_agent(delay, agent);
  GST_INFO_OBJECT(self,
                  "first check from %s %" G_GINT64_FORMAT
                  " ms after the descriptions: check timeout %" G_GINT64_FORMAT " ms%s",
                  peer.c_str(), delay, timeout,
                  agent == CheckAgent::kShared ? " (shared agent: libnice's)" : "");
  gst_element_post_message(
      GST_ELEMENT(self),
      gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new("tourcast-ice-timing", "peer-id", G_TYPE_STRING, peer.c_str(),
                            "first-request-delay-ms", G_TYPE_INT64, (gint64)delay,
                            "check-timeout-ms", G_TYPE_INT64, (gint64)timeout, nullptr)));
  return timeout > kLibniceCheckTimeoutMs ? (guint)timeout : 0;
}

/* An agent of the peer's own: its Ta, and libnice's grace before it fails a
 * component kept near 5 s of real time (up to libnice's cap) under the check
 * tick already running at ice-check-pacing (core/check_timeout.h,
 * idle_timeout_for_pacing). */
static void on_initial_binding_request(NiceAgent *agent, guint, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  const guint timeout = first_check_timeout(self, CheckAgent::kOwn);
  guint tick;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    tick = self->priv->ice_check_pacing_ms;
  }
  guint pacing = 0;
  g_object_get(agent, "stun-pacing-timer", &pacing, nullptr);
  if (timeout > pacing)
    g_object_set(agent, "stun-pacing-timer", timeout, "idle-timeout",
                 (guint)idle_timeout_for_pacing(timeout, tick), nullptr);
  gst_object_unref(self);
}

/* An agent of the peer's own, done checking: a later check tick (an ICE
 * restart) is made at the raised Ta, under which libnice's own grace is 5 s. */
static void on_own_component_state(NiceAgent *agent, guint, guint, guint state, gpointer) {
  if (state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_FAILED)
    g_object_set(agent, "idle-timeout", (guint)kLibniceIdleTimeoutMs, nullptr);
}

/* A shared agent: the measurement is posted, the agent's Ta stays. */
static void on_shared_first_check(GstWebRTCICE *, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  first_check_timeout(self, CheckAgent::kShared);
  gst_object_unref(self);
}

static bool configure_ice(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  std::string addresses;
  bool tcp;
  guint latency;
  guint check_pacing_ms;
  bool adaptive;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    addresses = priv->ice_addresses;
    tcp = priv->ice_tcp;
    latency = priv->latency_ms;
    check_pacing_ms = priv->ice_check_pacing_ms;
    adaptive = priv->adaptive_check_timeout;
  }
  g_object_set(priv->webrtc, "latency", latency, nullptr);
  GObject *ice = nullptr;
  g_object_get(priv->webrtc, "ice-agent", &ice, nullptr);
  if (ice == nullptr)
    return true;
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp"))
    g_object_set(ice, "ice-tcp", tcp ? TRUE : FALSE, nullptr);
  tour_ice_agent_disable_upnp(ice);
  /* The pacing timer is the whole agent's: a shared agent keeps its own. */
  if (TOUR_IS_SHARED_ICE_PEER(ice)) {
    if (adaptive)
      tour_shared_ice_peer_set_on_first_check(GST_WEBRTC_ICE(ice), on_shared_first_check,
                                              new_weak_ref(self), free_weak_ref);
  } else if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent")) {
    GObject *agent = nullptr;
    g_object_get(ice, "agent", &agent, nullptr);
    if (agent) {
      g_object_set(agent, "stun-pacing-timer", check_pacing_ms, nullptr);
      if (adaptive) {
        connect_weak(agent, "initial-binding-request-received",
                     G_CALLBACK(on_initial_binding_request), self);
        g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_own_component_state),
                         nullptr);
      }
      g_object_unref(agent);
    }
  }
  bool ok = true;
  gchar **parts = g_strsplit(addresses.c_str(), ",", -1);
  for (gchar **p = parts; *p; p++) {
    g_strstrip(*p);
    if (**p == '\0')
      continue;
    /* libnice takes any address and then gathers a candidate nobody can
     * reach: check that this machine has it. */
    std::string why;
    gboolean added = FALSE;
    if (!is_local_address(*p, &why)) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("ice-addresses: %s", why.c_str()),
                        ("ice-addresses=%s", addresses.c_str()));
      ok = false;
      break;
    }
    g_signal_emit_by_name(ice, "add-local-ip-address", *p, &added);
    if (!added) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                        ("ice-addresses: the ICE agent refused \"%s\"", *p),
                        ("ice-addresses=%s", addresses.c_str()));
      ok = false;
      break;
    }
  }
  g_strfreev(parts);
  g_object_unref(ice);
  return ok;
}

/* ---------- element ---------- */

static GstPad *tour_webrtc_bin_request_new_pad(GstElement *element, GstPadTemplate *templ,
                                               const gchar *, const GstCaps *) {
  auto *self = TOUR_WEBRTC_BIN(element);
  TourWebRTCBinPrivate *priv = self->priv;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->role != TOUR_ROLE_GUIDE) {
      GST_ELEMENT_ERROR(self, CORE, PAD, ("tourwebrtcbin takes audio only as a guide (role=guide)"),
                        (nullptr));
      return nullptr;
    }
  }
  GstPad *existing = gst_element_get_static_pad(element, "sink");
  if (existing) {
    gst_object_unref(existing);
    GST_ERROR_OBJECT(self, "only one sink pad: a tourwebrtcbin carries one audio stream");
    return nullptr;
  }
  GstPad *webrtc_sink = gst_element_request_pad_simple(priv->webrtc, "sink_%u");
  if (webrtc_sink == nullptr)
    return nullptr;
  GstWebRTCRTPTransceiver *transceiver = nullptr;
  g_object_get(webrtc_sink, "transceiver", &transceiver, nullptr);
  if (transceiver) {
    g_object_set(transceiver, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
    gst_object_unref(transceiver);
  }
  GstPad *ghost = gst_ghost_pad_new_from_template("sink", webrtc_sink, templ);
  gst_object_unref(webrtc_sink);
  gint answer_pt;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    answer_pt = priv->remote_offer_pt;
  }
  if (answer_pt >= 0)
    tour_rewrite_payload_type(ghost, (guint)answer_pt);
  gst_pad_add_probe(ghost, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_sink_event, self, nullptr);
  gst_pad_add_probe(ghost,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    gate_media, self, nullptr);
  gst_pad_set_active(ghost, TRUE);
  gst_element_add_pad(element, ghost);
  return ghost;
}

static void tour_webrtc_bin_release_pad(GstElement *element, GstPad *pad) {
  auto *self = TOUR_WEBRTC_BIN(element);
  GstPad *target = gst_ghost_pad_get_target(GST_GHOST_PAD(pad));
  gst_element_remove_pad(element, pad);
  if (target) {
    gst_element_release_request_pad(self->priv->webrtc, target);
    gst_object_unref(target);
  }
}

/* A child tourqualitymonitor posts tourcast-quality for this peer; the
 * bin's own state change takes it along. */
static void start_quality_monitor(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  guint interval;
  std::string peer;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    interval = priv->quality_interval_ms;
    peer = priv->peer_id;
  }
  if (interval == 0 || priv->monitor)
    return;
  GstElement *monitor = gst_element_factory_make("tourqualitymonitor", "quality");
  g_object_set(monitor, "webrtcbin", priv->webrtc, "interval", interval, "peer-id", peer.c_str(),
               nullptr);
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->monitor = monitor;
  }
  gst_bin_add(GST_BIN(self), monitor);
}

static bool start(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  TourSignaller *to_start = nullptr;
  TourRole role;
  bool held;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->ever_started) {
      GST_ELEMENT_ERROR(self, CORE, STATE_CHANGE,
                        ("a tourwebrtcbin carries one peer connection and cannot start again "
                         "once it closed; create a new element"),
                        (nullptr));
      return false;
    }
    if (priv->signaller == nullptr) {
      GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, ("no signaller set"), (nullptr));
      return false;
    }
    priv->ever_started = true;
    priv->running = true;
    priv->worker = tour_worker_acquire();
    ConnectionStateMachine fresh(tour_now_ms());
    for (const TimeoutProperty &p : kTimeoutProperties)
      fresh.set_timeout_ms(p.state, priv->machine.timeout_ms(p.state));
    priv->machine = fresh;
    if (!priv->signaller_shared)
      to_start = TOUR_SIGNALLER(g_object_ref(priv->signaller));
    role = priv->role;
    held = priv->spare == SpareStage::kHeld;
    schedule_timer_locked(self);
  }
  if (to_start)
    g_object_set(to_start, "role", role, nullptr);
  /* A held spare measures nothing (and posts no quality report for nobody)
   * until it is bound. */
  if (!held)
    start_quality_monitor(self);
  if (!configure_ice(self)) {
    g_clear_object(&to_start);
    return false;
  }
  if (role == TOUR_ROLE_ATTENDEE) {
    /* Without a matching transceiver webrtcbin answers anyway but warns. */
    GstCaps *caps = gst_caps_from_string(OPUS_RTP_CAPS);
    GstWebRTCRTPTransceiver *transceiver = nullptr;
    g_signal_emit_by_name(priv->webrtc, "add-transceiver",
                          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &transceiver);
    gst_caps_unref(caps);
    if (transceiver)
      gst_object_unref(transceiver);
  }
  if (to_start) {
    GError *error = nullptr;
    gboolean ok = tour_signaller_start(to_start, &error);
    g_object_unref(to_start);
    if (!ok) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", error->message), (nullptr));
      g_clear_error(&error);
      return false;
    }
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->signaller_started = true;
  }
  return true;
}

static void stop(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  move_to(self, ConnectionState::kClosed, "element stopped", false);
  TourSignaller *to_stop = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->running = false;
    if (priv->timer) {
      g_source_destroy(priv->timer);
      g_source_unref(priv->timer);
      priv->timer = nullptr;
    }
    if (priv->signaller_started) {
      to_stop = TOUR_SIGNALLER(g_object_ref(priv->signaller));
      priv->signaller_started = false;
    }
  }
  if (to_stop) {
    tour_signaller_stop(to_stop);
    g_object_unref(to_stop);
  }
  bool release = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    release = priv->worker != nullptr;
    priv->worker = nullptr;
  }
  /* Not under the lock: the last release joins the worker, which may be in
   * a timer waiting for it. */
  if (release)
    tour_worker_release();
}

static GstStateChangeReturn tour_webrtc_bin_change_state(GstElement *element,
                                                         GstStateChange transition) {
  auto *self = TOUR_WEBRTC_BIN(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start(self))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    self->priv->stopping = true;
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop(self);
  return ret;
}

/* A report block (or sender report) was just processed: the figures the
 * quality monitor reads have changed, so it measures at once. Called on
 * rtpsession's RTCP thread. */
static void on_rtcp_processed(GstElement *, guint, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(data);
  GstElement *monitor = nullptr;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->monitor)
      monitor = GST_ELEMENT(gst_object_ref(self->priv->monitor));
  }
  if (monitor) {
    g_signal_emit_by_name(monitor, "poll");
    gst_object_unref(monitor);
  }
}

/* rtpsession sends a receiver report about every 5 s by default (RFC 4585's
 * T_rr_interval, its rtcp-min-interval): too slow to adapt to a link within
 * seconds. A report every half second costs ~200 bytes per second per peer. */
static void on_deep_element_added(GstBin *, GstBin *, GstElement *element, gpointer data) {
  auto *self = static_cast<TourWebRTCBin *>(data);
  tour_direct_send_element_added(self->priv->direct_send, element);
  GstElementFactory *factory = gst_element_get_factory(element);
  if (factory != nullptr && g_strcmp0(GST_OBJECT_NAME(factory), "clocksync") == 0) {
    g_object_set(element, "sync", (gboolean)self->priv->sync.load(), nullptr);
    return;
  }
  if (factory == nullptr || g_strcmp0(GST_OBJECT_NAME(factory), "rtpsession") != 0)
    return;
  guint64 interval_ns = (guint64)self->priv->rtcp_interval_ms.load() * GST_MSECOND;
  g_object_set(element, "rtcp-min-interval", interval_ns, nullptr);
  /* Only the guide's figures come from RTCP (the attendee's receiver
   * reports); an attendee's change with every packet it receives, and the
   * guide's sender reports carry none of them, so it measures at the
   * interval (a measurement on each sender report tripled its polls). */
  if (self->priv->polls_on_rtcp.load())
    g_signal_connect(element, "on-ssrc-active", G_CALLBACK(on_rtcp_processed), self);
}

static void tour_webrtc_bin_init(TourWebRTCBin *self) {
  self->priv = new TourWebRTCBinPrivate();
  self->priv->direct_send = tour_direct_send_new(GST_OBJECT(self));
}

/* After the construct-only shared-ice-agent: webrtcbin's "ice-agent" is
 * construct-only too. */
static void make_webrtcbin(TourWebRTCBin *self) {
  TourWebRTCBinPrivate *priv = self->priv;
  /* webrtcbin keeps the reference it is given (1.22: g_value_get_object). */
  GstWebRTCICE *ice =
      priv->shared_ice_agent ? tour_shared_ice_peer_new(priv->shared_ice_agent) : nullptr;
  priv->webrtc =
      gst_element_factory_make_full("webrtcbin", "name", "webrtcbin", "ice-agent", ice, nullptr);
  g_assert(priv->webrtc != nullptr);
  g_object_set(priv->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, nullptr);
  gst_bin_add(GST_BIN(self), priv->webrtc);
  g_signal_connect(priv->webrtc, "deep-element-added", G_CALLBACK(on_deep_element_added), self);
  g_signal_connect(priv->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), self);
  g_signal_connect(priv->webrtc, "notify::ice-gathering-state", G_CALLBACK(on_ice_gathering_state),
                   self);
  g_signal_connect(priv->webrtc, "notify::ice-connection-state",
                   G_CALLBACK(on_ice_connection_state), self);
  g_signal_connect(priv->webrtc, "notify::connection-state", G_CALLBACK(on_connection_state), self);
  g_signal_connect(priv->webrtc, "pad-added", G_CALLBACK(on_webrtc_pad_added), self);
}

static void tour_webrtc_bin_dispose(GObject *object) {
  auto *self = TOUR_WEBRTC_BIN(object);
  TourWebRTCBinPrivate *priv = self->priv;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->signaller) {
      disconnect_signaller_locked(self);
      g_clear_object(&priv->signaller);
    }
  }
  G_OBJECT_CLASS(parent_class)->dispose(object);
}

static void tour_webrtc_bin_finalize(GObject *object) {
  g_clear_object(&TOUR_WEBRTC_BIN(object)->priv->shared_ice_agent);
  tour_direct_send_free(TOUR_WEBRTC_BIN(object)->priv->direct_send);
  delete TOUR_WEBRTC_BIN(object)->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_webrtc_bin_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_WEBRTC_BIN(object);
  TourWebRTCBinPrivate *priv = self->priv;
  if (prop_id == PROP_SIGNALLER) {
    set_signaller(self, TOUR_SIGNALLER(g_value_get_object(value)), false);
    return;
  }
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_ROLE:
      priv->role = (TourRole)g_value_get_enum(value);
      priv->polls_on_rtcp.store(priv->role == TOUR_ROLE_GUIDE);
      break;
    case PROP_PEER_ID:
      priv->peer_id = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_SESSION_ID:
      priv->session_id = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_LATENCY:
      priv->latency_ms = g_value_get_uint(value);
      g_object_set(priv->webrtc, "latency", priv->latency_ms, nullptr);
      break;
    case PROP_ICE_ADDRESSES:
      priv->ice_addresses = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_ICE_TCP:
      priv->ice_tcp = g_value_get_boolean(value);
      break;
    case PROP_SHARED_ICE_AGENT:
      priv->shared_ice_agent = TOUR_SHARED_ICE_AGENT(g_value_dup_object(value));
      break;
    case PROP_ANSWERER_CHECK_DELAY:
      priv->answerer_check_delay_ms = g_value_get_uint(value);
      break;
    case PROP_ADAPTIVE_CHECK_TIMEOUT:
      priv->adaptive_check_timeout = g_value_get_boolean(value);
      break;
    case PROP_ICE_CHECK_PACING:
      priv->ice_check_pacing_ms = g_value_get_uint(value);
      break;
    case PROP_RTCP_INTERVAL:
      priv->rtcp_interval_ms.store(g_value_get_uint(value));
      break;
    case PROP_SYNC:
      priv->sync.store(g_value_get_boolean(value));
      break;
    case PROP_DIRECT_SEND:
      tour_direct_send_set_enabled(priv->direct_send, g_value_get_boolean(value));
      break;
    case PROP_QUALITY_INTERVAL:
      priv->quality_interval_ms = g_value_get_uint(value);
      break;
    case PROP_RECOVERABLE:
      priv->recoverable = g_value_get_boolean(value);
      break;
    case PROP_MAX_RECOVERY_REQUESTS:
      priv->max_recovery_requests = g_value_get_uint(value);
      break;
    case PROP_REMOTE_OFFER:
      priv->remote_offer = g_value_get_string(value) ? g_value_get_string(value) : "";
      priv->remote_offer_pt = opus_payload_type(priv->remote_offer);
      break;
    default:
      if (prop_id >= PROP_TIMEOUT_FIRST &&
          prop_id < PROP_TIMEOUT_FIRST + kTimeoutProperties.size()) {
        priv->machine.set_timeout_ms(kTimeoutProperties[prop_id - PROP_TIMEOUT_FIRST].state,
                                     g_value_get_uint(value));
        schedule_timer_locked(self);
        break;
      }
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_webrtc_bin_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_WEBRTC_BIN(object);
  TourWebRTCBinPrivate *priv = self->priv;
  if (prop_id == PROP_LOCAL_ICE_UFRAG || prop_id == PROP_REMOTE_ICE_UFRAG) {
    std::string ufrag = description_ufrag(priv->webrtc, prop_id == PROP_LOCAL_ICE_UFRAG
                                                            ? "current-local-description"
                                                            : "current-remote-description");
    g_value_set_string(value, ufrag.empty() ? nullptr : ufrag.c_str());
    return;
  }
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_ROLE:
      g_value_set_enum(value, priv->role);
      break;
    case PROP_SIGNALLER:
      g_value_set_object(value, priv->signaller);
      break;
    case PROP_PEER_ID:
      g_value_set_string(value, priv->peer_id.empty() ? nullptr : priv->peer_id.c_str());
      break;
    case PROP_SESSION_ID:
      g_value_set_string(value, priv->session_id.empty() ? nullptr : priv->session_id.c_str());
      break;
    case PROP_STATE:
      g_value_set_enum(value, (gint)priv->machine.state());
      break;
    case PROP_LATENCY:
      g_value_set_uint(value, priv->latency_ms);
      break;
    case PROP_ICE_ADDRESSES:
      g_value_set_string(value,
                         priv->ice_addresses.empty() ? nullptr : priv->ice_addresses.c_str());
      break;
    case PROP_SHARED_ICE_AGENT:
      g_value_set_object(value, priv->shared_ice_agent);
      break;
    case PROP_ICE_TCP:
      g_value_set_boolean(value, priv->ice_tcp);
      break;
    case PROP_ANSWERER_CHECK_DELAY:
      g_value_set_uint(value, priv->answerer_check_delay_ms);
      break;
    case PROP_ADAPTIVE_CHECK_TIMEOUT:
      g_value_set_boolean(value, priv->adaptive_check_timeout);
      break;
    case PROP_ICE_CHECK_PACING:
      g_value_set_uint(value, priv->ice_check_pacing_ms);
      break;
    case PROP_RTCP_INTERVAL:
      g_value_set_uint(value, priv->rtcp_interval_ms.load());
      break;
    case PROP_SYNC:
      g_value_set_boolean(value, priv->sync.load());
      break;
    case PROP_DIRECT_SEND:
      g_value_set_boolean(value, tour_direct_send_get_enabled(priv->direct_send));
      break;
    case PROP_DIRECT_PACKETS_SENT:
      g_value_set_uint64(value, tour_direct_send_get_packets(priv->direct_send));
      break;
    case PROP_DIRECT_PACKETS_DROPPED:
      g_value_set_uint64(value, tour_direct_send_get_dropped(priv->direct_send));
      break;
    case PROP_QUALITY_INTERVAL:
      g_value_set_uint(value, priv->quality_interval_ms);
      break;
    case PROP_RECOVERABLE:
      g_value_set_boolean(value, priv->recoverable);
      break;
    case PROP_MAX_RECOVERY_REQUESTS:
      g_value_set_uint(value, priv->max_recovery_requests);
      break;
    case PROP_NEGOTIATIONS:
      g_value_set_uint(value, priv->negotiations);
      break;
    case PROP_ICE_RESTARTS:
      g_value_set_uint(value, priv->ice_restarts);
      break;
    case PROP_REMOTE_OFFER:
      g_value_set_string(value, priv->remote_offer.empty() ? nullptr : priv->remote_offer.c_str());
      break;
    default:
      if (prop_id >= PROP_TIMEOUT_FIRST &&
          prop_id < PROP_TIMEOUT_FIRST + kTimeoutProperties.size()) {
        g_value_set_uint(value, (guint)priv->machine.timeout_ms(
                                    kTimeoutProperties[prop_id - PROP_TIMEOUT_FIRST].state));
        break;
      }
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

/* GstChildProxy: "signaller::tour=..." on a gst-launch line. */
static GObject *child_proxy_get_child_by_name(GstChildProxy *proxy, const gchar *name) {
  auto *self = TOUR_WEBRTC_BIN(proxy);
  if (g_strcmp0(name, "signaller") == 0) {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    return self->priv->signaller ? G_OBJECT(g_object_ref(self->priv->signaller)) : nullptr;
  }
  GstChildProxyInterface *parent_iface = static_cast<GstChildProxyInterface *>(
      g_type_interface_peek_parent(GST_CHILD_PROXY_GET_INTERFACE(proxy)));
  return parent_iface->get_child_by_name(proxy, name);
}

static void tour_webrtc_bin_child_proxy_init(gpointer g_iface, gpointer) {
  auto *iface = static_cast<GstChildProxyInterface *>(g_iface);
  iface->get_child_by_name = child_proxy_get_child_by_name;
}

static void tour_webrtc_bin_constructed(GObject *object) {
  G_OBJECT_CLASS(parent_class)->constructed(object);
  auto *self = TOUR_WEBRTC_BIN(object);
  make_webrtcbin(self);
  if (self->priv->signaller == nullptr) {
    GObject *signaller = G_OBJECT(g_object_new(TOUR_TYPE_REDIS_SIGNALLER, nullptr));
    set_signaller(self, TOUR_SIGNALLER(signaller), false);
    g_object_unref(signaller);
  }
}

static void tour_webrtc_bin_class_init(TourWebRTCBinClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_webrtc_bin_debug, "tourwebrtcbin", 0,
                          "tourcast WebRTC peer connection");

  gobject_class->constructed = tour_webrtc_bin_constructed;
  gobject_class->dispose = tour_webrtc_bin_dispose;
  gobject_class->finalize = tour_webrtc_bin_finalize;
  gobject_class->set_property = tour_webrtc_bin_set_property;
  gobject_class->get_property = tour_webrtc_bin_get_property;
  element_class->change_state = tour_webrtc_bin_change_state;
  element_class->request_new_pad = tour_webrtc_bin_request_new_pad;
  element_class->release_pad = tour_webrtc_bin_release_pad;

  const auto ready_flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_ROLE,
      g_param_spec_enum("role", "Role",
                        "guide: offer the audio on the sink pad to peer-id; attendee: answer "
                        "the guide's offer and expose its audio on the src pad",
                        TOUR_TYPE_ROLE, DEFAULT_ROLE, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_SIGNALLER,
      g_param_spec_object("signaller", "Signaller",
                          "The TourSignaller carrying offers, answers and candidates "
                          "(default: a tourredissignaller, configurable as signaller::prop)",
                          TOUR_TYPE_SIGNALLER, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_PEER_ID,
      g_param_spec_string("peer-id", "Peer id",
                          "The remote participant: the attendee for a guide; for an attendee, "
                          "NULL accepts the channel's guide",
                          nullptr, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_SESSION_ID,
      g_param_spec_string("session-id", "Session id",
                          "Id of this peer connection, chosen by the guide and adopted from its "
                          "offer by the attendee",
                          nullptr, ready_flags));
  state_pspec = g_param_spec_enum("state", "State", "Connection state (the seed's 9-state machine)",
                                  TOUR_TYPE_CONNECTION_STATE, TOUR_CONNECTION_STATE_INITIALIZING,
                                  (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_STATE, state_pspec);
  g_object_class_install_property(
      gobject_class, PROP_LATENCY,
      g_param_spec_uint("latency", "Latency",
                        "Receive jitterbuffer latency in milliseconds (webrtcbin's latency)", 0,
                        10000, DEFAULT_LATENCY_MS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ICE_ADDRESSES,
      g_param_spec_string("ice-addresses", "ICE addresses",
                          "Comma-separated local IP addresses ICE may use (e.g. 127.0.0.1); "
                          "NULL lets libnice use every non-loopback interface",
                          nullptr, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ICE_TCP,
      g_param_spec_boolean("ice-tcp", "ICE TCP", "Also gather TCP candidates", DEFAULT_ICE_TCP,
                           ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ANSWERER_CHECK_DELAY,
      g_param_spec_uint("answerer-check-delay", "Answerer check delay",
                        "Milliseconds the answering (ICE-controlled) side holds the peer's "
                        "candidates back so that the offerer's connectivity checks come first "
                        "(simultaneous checks livelock libnice on long round trips); should "
                        "exceed the one-way delay; 0 hands them over at once. Not applied to "
                        "an offer whose offerer nominates aggressively "
                        "(a=tourcast-ice-nomination:aggressive, a tourcast guide's default)",
                        0, 60000, DEFAULT_ANSWERER_CHECK_DELAY_MS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ADAPTIVE_CHECK_TIMEOUT,
      g_param_spec_boolean(
          "adaptive-check-timeout", "Adaptive check timeout",
          "Once the peer's first connectivity check arrives, lengthen libnice's check "
          "retransmission timeout (500 ms) to twice the time it took plus 200 ms, at most "
          "3000 ms, so that it exceeds the round trip (below it libnice forgets checks "
          "before their responses arrive and stalls on long round trips); posts a "
          "tourcast-ice-timing message. A shared-ice-agent keeps 500 ms (its timeout "
          "is every peer's)",
          DEFAULT_ADAPTIVE_CHECK_TIMEOUT, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_ICE_CHECK_PACING,
      g_param_spec_uint("ice-check-pacing", "ICE check pacing",
                        "Milliseconds between two new connectivity checks (libnice's "
                        "stun-pacing-timer, RFC 8445's Ta; libnice's own default is 20); the "
                        "check retransmission timeout stays at least 500 ms",
                        5, 1000, DEFAULT_ICE_CHECK_PACING_MS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_QUALITY_INTERVAL,
      g_param_spec_uint("quality-interval", "Quality interval",
                        "Milliseconds between quality measurements (tourcast-quality messages "
                        "from a child tourqualitymonitor); 0 turns quality monitoring off",
                        0, 60000, DEFAULT_QUALITY_INTERVAL_MS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_RTCP_INTERVAL,
      g_param_spec_uint("rtcp-interval", "RTCP interval",
                        "Milliseconds between RTCP reports (randomised 0.5-1.5x as RFC 4585 "
                        "asks): how soon the other side learns about loss and RTT",
                        100, 60000, DEFAULT_RTCP_INTERVAL_MS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_SYNC,
      g_param_spec_boolean(
          "sync", "Sync",
          "Guide: hold each packet until its running time plus the pipeline latency before "
          "sending it, as webrtcbin does (a clocksync per stream). Off sends each packet as it "
          "arrives: for input already paced by a live source, it saves the pipeline latency "
          "(about 60 ms of a guide's) on every packet and one clock wait per packet",
          DEFAULT_SYNC, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_DIRECT_SEND,
      g_param_spec_boolean(
          "direct-send", "Direct send",
          "Sending side: once DTLS is up, protect each RTP packet leaving the RTP session "
          "(SRTP under the DTLS keys, the bytes srtpenc would make) and hand it to the ICE "
          "transport's libnice stream "
          "ourselves, instead of through webrtcbin's transport chain (srtpenc, clocksync, "
          "funnel, nicesink and their bins). Same packets on the wire, a fraction of the CPU "
          "per packet; RTCP, DTLS and statistics stay with webrtcbin. Set before the "
          "connection: a stream moved between the two SRTP encoders once its sequence numbers "
          "wrapped (after 65,536 packets) would carry the wrong roll-over counter",
          DEFAULT_DIRECT_SEND, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_DIRECT_PACKETS_SENT,
      g_param_spec_uint64("direct-packets-sent", "Direct packets sent",
                          "RTP packets sent past webrtcbin's transport chain (direct-send)", 0,
                          G_MAXUINT64, 0,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PROP_DIRECT_PACKETS_DROPPED,
      g_param_spec_uint64("direct-packets-dropped", "Direct packets dropped",
                          "RTP packets direct-send could not send: libnice did not take them "
                          "(not connected yet, socket buffer full: those nicesink would have "
                          "lost too) or SRTP refused them (logged)",
                          0, G_MAXUINT64, 0,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PROP_RECOVERABLE,
      g_param_spec_boolean(
          "recoverable", "Recoverable",
          "A recovery drives this connection (tourrecoverybin, or the guide serving an "
          "attendee's recovery requests): ICE or DTLS failure moves it to reconnecting instead "
          "of failed, and the peer's renegotiations (ICE restarts, signaling resets) are "
          "accepted",
          FALSE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_MAX_RECOVERY_REQUESTS,
      g_param_spec_uint(
          "max-recovery-requests", "Max recovery requests",
          "Guide: the attendee's recovery requests (ICE restarts, signaling "
          "resets) served on this connection; later ones are ignored (0 = no "
          "limit)",
          0, G_MAXUINT, 0,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  const auto read_only = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_NEGOTIATIONS,
      g_param_spec_uint("negotiations", "Negotiations",
                        "Offer/answer exchanges completed on this connection (1 after the "
                        "first; each ICE restart or signaling reset adds one)",
                        0, G_MAXUINT, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_ICE_RESTARTS,
      g_param_spec_uint("ice-restarts", "ICE restarts",
                        "ICE restarts negotiated (new ICE credentials on both sides)", 0, G_MAXUINT,
                        0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_LOCAL_ICE_UFRAG,
      g_param_spec_string("local-ice-ufrag", "Local ICE ufrag",
                          "ICE username fragment of the current local description (NULL before "
                          "one is set); changes with each ICE restart",
                          nullptr, read_only));
  g_object_class_install_property(
      gobject_class, PROP_REMOTE_ICE_UFRAG,
      g_param_spec_string("remote-ice-ufrag", "Remote ICE ufrag",
                          "ICE username fragment of the current remote description (NULL "
                          "before one is set); changes with each ICE restart",
                          nullptr, read_only));
  g_object_class_install_property(
      gobject_class, PROP_REMOTE_OFFER,
      g_param_spec_string("remote-offer", "Remote offer",
                          "Guide only: the peer's own SDP offer (a browser joining over WHEP); "
                          "the guide answers it, with the peer's Opus payload type, instead of "
                          "offering",
                          nullptr, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_SHARED_ICE_AGENT,
      g_param_spec_object(
          "shared-ice-agent", "Shared ICE agent",
          "Guide only, offering: one libnice agent (and its thread) shared with other peers, "
          "as tourguidesink's shared-ice-agent makes; NULL: webrtcbin's own agent. "
          "adaptive-check-timeout does not raise a shared agent's check timeout (libnice's "
          "pacing timer is agent-wide): only the attendee's side lengthens it",
          TOUR_TYPE_SHARED_ICE_AGENT,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS)));
  ConnectionStateMachine defaults(0);
  for (size_t i = 0; i < kTimeoutProperties.size(); i++) {
    const TimeoutProperty &p = kTimeoutProperties[i];
    gchar *blurb = g_strdup_printf(
        "Milliseconds the connection may stay %s before it moves to %s (0 = no limit)",
        to_string(p.state), to_string(ConnectionStateMachine::timeout_target(p.state)));
    g_object_class_install_property(
        gobject_class, PROP_TIMEOUT_FIRST + i,
        g_param_spec_uint(p.name, p.nick, blurb, 0, 3600000, (guint)defaults.timeout_ms(p.state),
                          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_NAME |
                                        G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_PLAYING)));
    g_free(blurb);
  }

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 tourwebrtcbin role=attendee signaller::tour=demo signaller::language=en "
      "signaller::redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1 ! rtpopusdepay ! "
      "opusdec ! audioconvert ! autoaudiosink");
  gst_element_class_set_static_metadata(
      element_class, "tourcast WebRTC peer", "Network/WebRTC/Bin",
      "One WebRTC audio peer connection with the tourcast state machine, ICE candidate "
      "buffering and Redis signaling",
      "tourcast developers");
  gst_type_mark_as_plugin_api(TOUR_TYPE_ROLE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(TOUR_TYPE_CONNECTION_STATE, (GstPluginAPIFlags)0);
}
