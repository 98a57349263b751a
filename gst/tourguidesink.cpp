/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourguidesink
 * @title: tourguidesink
 *
 * The guide's side of one tour/language channel. Takes raw audio and sends it
 * as Opus over WebRTC to one #tourwebrtcbin per attendee. Attendees arrive and
 * leave through the signaller (by default a tourredissignaller on redis-url);
 * a peer that leaves, expires or fails is set to NULL and removed.
 *
 * Each attendee gets the seed's quality level its own connection calls for:
 * the guide runs one Opus encoder per level in use (never more, whatever the
 * number of attendees; an encoder nobody uses is stopped) and moves each
 * attendee between them on a packet boundary, without renegotiation and
 * without a gap: RTP stays Opus/48000 with one SSRC. The level follows the
 * attendee's RTCP receiver reports (degrade one step when RTT, loss or jitter
 * passes its threshold; climb back after #TourGuideSink:upgrade-hold of good
 * reports), its device/network profile (initial level and ceiling) and its
 * battery saving; #TourGuideSink::set-attendee-level fixes it by hand. Each
 * level's encoder sends in-band FEC tuned to the worst loss among its
 * attendees.
 *
 * A spare peer (#TourGuideSink:spare-peers) waits for the next attendee with
 * its offer made and set and its candidates gathered, so a join only binds it
 * to the attendee and publishes the offer; it also keeps the encoder of
 * #TourGuideSink:initial-level running before anybody listens.
 *
 * Posts element messages `tourcast-attendee-joined` and `tourcast-attendee-left`
 * (fields `peer-id`, `attendee-count`, `spare-peer` for an arrival: whether a
 * spare peer took it, and `reason` for a departure),
 * `tourcast-level-changed` (`peer-id`, `old-level`, `new-level`, `reason`,
 * `changes`, `timestamp` in epoch ms), `tourcast-offer-stored` (`peer-id`, `session-id`,
 * `placeholder-replaced`), and forwards each peer's `tourcast-state` and
 * `tourcast-quality` messages. #TourGuideSink:status and
 * #TourGuideSink:diagnostics describe every connection; the diagnostics are
 * also published to Redis (`webrtc:diagnostics:{tour}:{language}`) for
 * `tourcast diagnostics`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 audiotestsrc is-live=true freq=440 ! tourguidesink tour=demo \
 *     language=en redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1
 * ]| Offers a 440 Hz tone to every attendee of channel demo/en.
 */
#include "tourguidesink.h"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adaptation-props.h"
#include "diagnostics.h"
#include "guide-ladder.h"
#include "ice_agent_groups.h"
#include "profiles.h"
#include "quality-stats.h"
#include "signaller-glue.h"
#include "tourcast-enums.h"
#include "tourcast-worker.h"
#include "tourredissignaller.h"
#include "shared-ice.h"
#include "tourwebrtcbin.h"

GST_DEBUG_CATEGORY(tour_guide_sink_debug);
#define GST_CAT_DEFAULT tour_guide_sink_debug

using namespace tourcast;

#define DEFAULT_MAX_ATTENDEES 1000
#define DEFAULT_INITIAL_LEVEL TOUR_QUALITY_LEVEL_HIGH
#define DEFAULT_AUTO_QUALITY TRUE
#define DEFAULT_FEC TRUE
#define DEFAULT_DTX FALSE
#define DEFAULT_REPORT_INTERVAL_MS 2000
#define DEFAULT_PEER_LATENCY_MS 200u /* webrtcbin's; the guide side only receives RTCP */
#define DEFAULT_MAX_JOINING 32
#define DEFAULT_SHARED_ICE_AGENT TRUE
#define DEFAULT_ICE_AGENT_PEERS 64u
#define DEFAULT_ICE_NOMINATION TOUR_ICE_NOMINATION_AGGRESSIVE
#define MAX_ICE_AGENT_PEERS 1000u
#define DEFAULT_SPARE_PEERS 1
#define DEFAULT_DIRECT_SEND TRUE
#define MAX_SPARE_PEERS 8
#define SPARE_DELAY_MS 250

enum {
  PROP_MAX_ATTENDEES = CHANNEL_PROP_LAST,
  PROP_ATTENDEE_COUNT,
  PROP_AUTO_QUALITY,
  PROP_INITIAL_LEVEL,
  PROP_FEC,
  PROP_DTX,
  PROP_LEVEL_CHANGES,
  PROP_ENCODERS,
  PROP_STATUS,
  PROP_DIAGNOSTICS,
  PROP_REPORT_INTERVAL,
  PROP_MAX_JOINING,
  PROP_SHARED_ICE_AGENT,
  PROP_SPARE_PEERS,
  PROP_SPARES_READY,
  PROP_ICE_AGENT_PEERS,
  PROP_ICE_NOMINATION,
  PROP_DIRECT_SEND,
  PROP_TRIGGERS_FIRST, /* rtt-, loss-, jitter-threshold, upgrade-hold */
};

enum { SIGNAL_SET_ATTENDEE_LEVEL, N_SIGNALS };
static guint signals[N_SIGNALS];

namespace {

struct Peer {
  std::string id;
  std::string join_id;
  GstElement *webrtc = nullptr;
  GstPad *output = nullptr; /* the router's src pad for this attendee */
  /* Its shared ICE agent's group (TourGuideSinkPrivate::ice_groups), or -1:
   * an agent of its own. */
  int ice_group = -1;

  /* Guarded by the element's lock. */
  LevelChooser chooser{QualityLevel::kHigh, QualityLevel::kMaximum};
  QualityLevel on_air = QualityLevel::kHigh; /* what the router sends now */
  bool have_reports = false;
  ConnectionMetrics metrics;
  int fec_loss_percentage = 0;
  std::string profile;
  ProfileSettings settings;
  bool battery_saving = false;
  std::string requested_level; /* what the attendee asked for; empty: auto */
  std::string state = "initializing";
  bool joining = true; /* counted in joining_count until it connects or fails */
  int64_t connected_since_ms = -1;
  guint level_changes = 0;
  std::string pending_reason;
  std::string last_reason;
};

/* A join (or a browser's peer-offer) waiting for its turn to get a peer. */
struct PendingJoin {
  std::string id;
  std::string join_id;
  std::optional<std::string> offer;
  /* What the attendee said about itself (its join carries its profile and
   * level) while it waited: applied once its peer exists. */
  std::shared_ptr<GstStructure> status;
};

}  // namespace

struct TourGuideSinkPrivate {
  std::mutex lock;
  /* Paces a non-live input once for every attendee (see decide_pacing). */
  GstElement *pace = nullptr;
  ChannelSettings channel;
  guint max_attendees = DEFAULT_MAX_ATTENDEES;
  bool auto_quality = DEFAULT_AUTO_QUALITY;
  QualityLevel initial_level = static_cast<QualityLevel>(DEFAULT_INITIAL_LEVEL);
  bool fec = DEFAULT_FEC;
  bool dtx = DEFAULT_DTX;
  AdaptationTriggers triggers;
  guint report_interval_ms = DEFAULT_REPORT_INTERVAL_MS;
  guint64 level_changes = 0;
  guint64 failed_connections = 0;
  ChannelSignaller signaller{TOUR_ROLE_GUIDE};
  GMainContext *worker = nullptr;
  GSource *report_source = nullptr;
  bool reconcile_scheduled = false;
  /* Joins are taken one per worker turn, at most max_joining peers
   * negotiating at once: the worker's timers (offers wait for a caps poll
   * on it) and Redis I/O run between two peers being made, and ICE checks of
   * a few peers at a time get the CPU they need during a join storm. The
   * attendees waiting meanwhile hear from the signaller that they are
   * queued. */
  guint max_joining = DEFAULT_MAX_JOINING;
  /* Shared libnice agents, one thread each, for the peers the guide offers
   * to (spares included): at most ice_agent_peers peers per agent, since
   * libnice paces checks and sets their retransmission timeout per agent
   * (core/ice_agent_groups.h). shared_ice[g] is group g's agent (NULL once
   * freed). Off: webrtcbin's own agent per peer. */
  bool share_ice_agent = DEFAULT_SHARED_ICE_AGENT;
  IceAgentGroups ice_groups{DEFAULT_ICE_AGENT_PEERS};
  /* How the shared agents made from now on nominate (an agent keeps its mode). */
  TourIceNomination ice_nomination = DEFAULT_ICE_NOMINATION;
  std::vector<TourSharedIceAgent *> shared_ice;
  guint joining_count = 0;
  std::deque<PendingJoin> pending_joins;
  GSource *join_source = nullptr;
  /* Peers made for nobody yet, their offer made and set and their
   * candidates gathered (tour_webrtc_bin_hold_as_spare), each on a router
   * output of the level it was made for, which keeps that level's encoder
   * running: a join takes one and only publishes its offer. Not attendees:
   * not in peers, attendee-count, status or diagnostics. Made again on the
   * worker when no join waits and none negotiates, so a join storm never
   * waits for one. */
  guint spare_peers = DEFAULT_SPARE_PEERS;
  /* Each peer's tourwebrtcbin "direct-send", for peers made from now on. */
  std::atomic<bool> direct_send{DEFAULT_DIRECT_SEND};
  std::deque<std::unique_ptr<Peer>> spares;
  GSource *spare_source = nullptr;

  std::unique_ptr<EncoderLadder> ladder;
  std::map<std::string, std::unique_ptr<Peer>> peers;
  std::map<GstPad *, Peer *> by_output;
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
static GParamSpec *level_changes_pspec = nullptr;

/* @reason: why it left (departures); @spare: whether a spare peer took the
 * join (arrivals). */
static void post_attendee_message(TourGuideSink *self, const char *name, const std::string &id,
                                  guint count, const char *reason, bool spare = false) {
  GstStructure *s = gst_structure_new(name, "peer-id", G_TYPE_STRING, id.c_str(), "attendee-count",
                                      G_TYPE_UINT, count, nullptr);
  if (reason)
    gst_structure_set(s, "reason", G_TYPE_STRING, reason, nullptr);
  else
    gst_structure_set(s, "spare-peer", G_TYPE_BOOLEAN, spare, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

/* ---------- the encoder ladder ---------- */

/* FEC per level: the worst loss among the attendees on it (or moving to it). */
static void update_encoding_locked(TourGuideSinkPrivate *priv) {
  std::array<EncoderLadder::LevelFec, kQualityLevelCount> fec{};
  for (auto &entry : priv->peers) {
    const Peer &peer = *entry.second;
    for (QualityLevel l : {peer.on_air, peer.chooser.level()}) {
      auto &f = fec[static_cast<int>(l)];
      f.fec = priv->fec;
      f.loss_percentage = std::max(f.loss_percentage, peer.fec_loss_percentage);
    }
  }
  for (auto &f : fec)
    f.fec = priv->fec;
  priv->ladder->set_encoding(fec, priv->dtx);
}

static gboolean run_reconcile(gpointer data) {
  auto *self = TOUR_GUIDE_SINK(data);
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->reconcile_scheduled = false;
    if (self->priv->worker == nullptr)
      return G_SOURCE_REMOVE;
    update_encoding_locked(self->priv);
  }
  self->priv->ladder->reconcile();
  return G_SOURCE_REMOVE;
}

/* Starts and stops encoders on the worker, once for a burst of changes. */
static void schedule_reconcile(TourGuideSink *self) {
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->worker == nullptr || self->priv->reconcile_scheduled)
      return;
    self->priv->reconcile_scheduled = true;
    worker = self->priv->worker;
  }
  g_main_context_invoke_full(worker, G_PRIORITY_DEFAULT, run_reconcile, gst_object_ref(self),
                             gst_object_unref);
}

/* What a decision of a peer's chooser asks of the router; call without the
 * lock. */
static void follow_decision(TourGuideSink *self, GstPad *output, const Decision &d) {
  if (!d.changed || output == nullptr)
    return;
  self->priv->ladder->request(output, d.to);
  schedule_reconcile(self);
}

static void on_level_switched(TourLevelRouter *, GstPad *output, int from, int to,
                              gpointer user_data) {
  auto *self = TOUR_GUIDE_SINK(user_data);
  TourGuideSinkPrivate *priv = self->priv;
  std::string id, reason;
  guint changes = 0;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = priv->by_output.find(output);
    if (it == priv->by_output.end())
      return;
    Peer *peer = it->second;
    peer->on_air = static_cast<QualityLevel>(to);
    peer->level_changes++;
    peer->last_reason = peer->pending_reason;
    priv->level_changes++;
    changes = peer->level_changes;
    id = peer->id;
    reason = peer->last_reason;
  }
  GST_INFO_OBJECT(self, "attendee %s: level %s -> %s (%s)", id.c_str(),
                  to_string(static_cast<QualityLevel>(from)),
                  to_string(static_cast<QualityLevel>(to)), reason.c_str());
  gst_element_post_message(
      GST_ELEMENT(self),
      gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new("tourcast-level-changed", "peer-id", G_TYPE_STRING, id.c_str(),
                            "old-level", G_TYPE_STRING, to_string(static_cast<QualityLevel>(from)),
                            "new-level", G_TYPE_STRING, to_string(static_cast<QualityLevel>(to)),
                            "reason", G_TYPE_STRING, reason.c_str(), "changes", G_TYPE_UINT,
                            changes, "timestamp", G_TYPE_INT64, (gint64)tour_epoch_ms(), nullptr)));
  g_object_notify_by_pspec(G_OBJECT(self), level_changes_pspec);
  /* The old level's encoder may have lost its last listener. */
  schedule_reconcile(self);
}

static void schedule_joins(TourGuideSink *self);
static void schedule_spares(TourGuideSink *self);

/* ---------- removing a peer ---------- */

struct Removal {
  TourGuideSink *self;
  std::unique_ptr<Peer> peer;
};

static gboolean finish_removal(gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  TourGuideSink *self = removal->self;
  Peer *peer = removal->peer.get();
  /* The guide itself may be changing state meanwhile: keep it from moving
   * the branch back up after we set it to NULL. */
  gst_element_set_locked_state(peer->webrtc, TRUE);
  gst_element_set_state(peer->webrtc, GST_STATE_NULL);
  gst_bin_remove(GST_BIN(self), peer->webrtc);
  gst_object_unref(peer->webrtc);
  self->priv->ladder->remove_output(peer->output);
  peer->output = nullptr;
  run_reconcile(self);
  /* A peer's threads (ICE, DTLS, queues, RTP timers) allocate from glibc's
   * per-thread arenas; what they freed stays mapped, scattered between
   * blocks that live on, so a long-running guide's resident memory grew by
   * about 10 KiB per attendee that came and went (+5.9 % over 200 in the
   * Cycles test). Giving the free pages back once per departure cuts that
   * to about 4 KiB (+2.5 %; docs/performance.md, "Join/leave cycles"). It
   * takes the arenas' locks for a moment, on the worker, not on a
   * streaming thread. */
  gint64 trim_start = g_get_monotonic_time();
  malloc_trim(0);
  GST_DEBUG_OBJECT(self, "malloc_trim took %" G_GINT64_FORMAT " us",
                   g_get_monotonic_time() - trim_start);
  return G_SOURCE_REMOVE;
}

static void free_removal(gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  gst_object_unref(removal->self);
  delete removal;
}

/* Unlinks the branch when no buffer is crossing the router's pad, then
 * finishes on the worker, where setting a peer to NULL cannot stall the
 * stream. */
static GstPadProbeReturn on_output_idle(GstPad *pad, GstPadProbeInfo *, gpointer data) {
  auto *removal = static_cast<Removal *>(data);
  GstPad *peer_pad = gst_pad_get_peer(pad);
  if (peer_pad) {
    gst_pad_unlink(pad, peer_pad);
    gst_object_unref(peer_pad);
  }
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(removal->self->priv->lock);
    worker = removal->self->priv->worker;
  }
  /* Deferred even on the worker: finishing releases this very pad, which
   * gst_pad_add_probe is still using when the probe fires at once. With the
   * element stopped meanwhile, the process's worker still does it. */
  if (worker) {
    tour_worker_defer(worker, finish_removal, removal, free_removal);
  } else {
    tour_worker_defer(tour_worker_acquire(), finish_removal, removal, [](gpointer data) {
      free_removal(data);
      tour_worker_release();
    });
  }
  return GST_PAD_PROBE_REMOVE;
}

/* A peer on a shared agent is gone: the agent its group no longer needs, to
 * unref outside the lock (its thread ends with the last peer's webrtcbin,
 * which holds it too), or NULL. */
static TourSharedIceAgent *leave_ice_group_locked(TourGuideSinkPrivate *priv, int group) {
  if (group < 0 || !priv->ice_groups.leave((size_t)group))
    return nullptr;
  TourSharedIceAgent *agent = priv->shared_ice[(size_t)group];
  priv->shared_ice[(size_t)group] = nullptr;
  return agent;
}

static void leave_ice_group(TourGuideSink *self, Peer *peer) {
  TourSharedIceAgent *freed_agent;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    freed_agent = leave_ice_group_locked(self->priv, peer->ice_group);
    peer->ice_group = -1;
  }
  if (freed_agent)
    gst_object_unref(freed_agent);
}

/* Removes a peer's branch from the stream (once no buffer crosses its router
 * pad) and then the peer itself, on the worker. */
static void detach_peer(TourGuideSink *self, std::unique_ptr<Peer> peer) {
  leave_ice_group(self, peer.get());
  GstPad *output = peer->output;
  auto *removal = new Removal{TOUR_GUIDE_SINK(gst_object_ref(self)), std::move(peer)};
  gst_pad_add_probe(output, GST_PAD_PROBE_TYPE_IDLE, on_output_idle, removal, nullptr);
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
    priv->by_output.erase(peer->output);
    count = priv->peers.size();
    if (peer->joining)
      priv->joining_count--;
  }
  GST_INFO_OBJECT(self, "removing attendee %s (%s)", id.c_str(), reason);
  detach_peer(self, std::move(peer));
  g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  post_attendee_message(self, "tourcast-attendee-left", id, count, reason);
  schedule_joins(self);
  schedule_spares(self);
}

/* ---------- adding a peer ---------- */

/* The guide's libnice agent for a new offering peer (a new reference; its
 * group in @group), or NULL (@group -1) for a peer with its own. A browser's
 * offer makes the guide ICE-controlled: such a peer keeps an agent of its
 * own (the shared ones are controlling). */
static TourSharedIceAgent *shared_ice_for_locked(TourGuideSinkPrivate *priv, bool answering,
                                                 int *group) {
  *group = -1;
  if (!priv->share_ice_agent || answering)
    return nullptr;
  const IceAgentGroups::Placement placement = priv->ice_groups.join();
  if (placement.group >= priv->shared_ice.size())
    priv->shared_ice.resize(placement.group + 1, nullptr);
  TourSharedIceAgent *&agent = priv->shared_ice[placement.group];
  if (agent == nullptr) /* a new group (or, the first time, group 0) */
    agent = tour_shared_ice_agent_new("tourcast-ice",
                                      priv->ice_nomination == TOUR_ICE_NOMINATION_AGGRESSIVE);
  *group = (int)placement.group;
  return TOUR_SHARED_ICE_AGENT(gst_object_ref(agent));
}

/* Makes @peer's tourwebrtcbin (for @peer->id, or held as a spare when the id
 * is empty), adds it and links it to a router output on @peer->on_air.
 * Takes @shared_ice. */
static bool attach_peer(TourGuideSink *self, Peer *peer, const ChannelSettings &channel,
                        TourSharedIceAgent *shared_ice, const gchar *session, const gchar *offer) {
  TourGuideSinkPrivate *priv = self->priv;
  const bool spare = peer->id.empty();
  peer->webrtc = GST_ELEMENT(g_object_new(
      TOUR_TYPE_WEBRTC_BIN, "role", TOUR_ROLE_GUIDE, "peer-id", spare ? nullptr : peer->id.c_str(),
      "session-id", session, "latency",
      channel.latency_ms >= 0 ? (guint)channel.latency_ms : DEFAULT_PEER_LATENCY_MS,
      "ice-addresses", channel.ice_addresses.empty() ? nullptr : channel.ice_addresses.c_str(),
      "quality-interval", channel.quality_interval_ms, "rtcp-interval", channel.rtcp_interval_ms,
      "recoverable", channel.auto_recovery, "sync", FALSE, "max-recovery-requests",
      2 * channel.max_recovery_attempts, "remote-offer", offer, "shared-ice-agent", shared_ice,
      "direct-send", (gboolean)priv->direct_send.load(), nullptr));
  if (shared_ice)
    gst_object_unref(shared_ice);
  if (spare)
    tour_webrtc_bin_hold_as_spare(TOUR_WEBRTC_BIN(peer->webrtc));
  TourSignaller *signaller = priv->signaller.ref();
  tour_webrtc_bin_set_shared_signaller(TOUR_WEBRTC_BIN(peer->webrtc), signaller);
  g_object_unref(signaller);
  gst_object_ref_sink(peer->webrtc);
  gst_bin_add(GST_BIN(self), peer->webrtc);
  /* The router pushes into the peer on its own streaming thread, with no
   * queue (and no thread) per attendee in between: nothing on that path
   * blocks. The peer drops audio until it is connected (its media gate),
   * and webrtcbin 1.22 holds RTP back only until the DTLS keys are set
   * (transportsendbin's pad block, lifted on dtlssrtpenc's on-key-set, which
   * comes before DTLS, and so the peer, reports connected); its clocksync
   * (sync=false, see decide_pacing) and nicesink do not wait on the clock and
   * libnice sends without blocking. */
  GstPad *webrtc_sink = gst_element_request_pad_simple(peer->webrtc, "sink");
  if (webrtc_sink == nullptr) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                      ("could not link the peer for %s", spare ? "a spare" : peer->id.c_str()),
                      (nullptr));
    gst_element_set_state(peer->webrtc, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(self), peer->webrtc);
    gst_object_unref(peer->webrtc);
    peer->webrtc = nullptr;
    leave_ice_group(self, peer);
    return false;
  }
  gst_element_sync_state_with_parent(peer->webrtc);
  peer->output = priv->ladder->add_output(peer->on_air);
  gst_pad_link(peer->output, webrtc_sink);
  gst_object_unref(webrtc_sink);
  return true;
}

/* Starts the encoder of @level if it does not run (on the worker: the
 * peer's webrtcbin gets caps, and makes its offer, within a frame or two). */
static void ensure_level_running(TourGuideSink *self, QualityLevel level) {
  TourGuideSinkPrivate *priv = self->priv;
  if (priv->ladder->running_levels() & (1u << static_cast<int>(level)))
    return;
  {
    /* A new peer has reported no loss: it changes no running encoder's FEC,
     * and walking every peer on each join of a storm would cost O(N). */
    std::lock_guard<std::mutex> guard(priv->lock);
    update_encoding_locked(priv);
  }
  priv->ladder->reconcile();
}

/* offer: the attendee's own offer (peer-offered), answered by the peer;
 * then join_id is its session. */
static void add_peer(TourGuideSink *self, const std::string &id, const std::string &join_id,
                     const gchar *offer = nullptr) {
  TourGuideSinkPrivate *priv = self->priv;
  std::string replaced;
  ChannelSettings channel;
  QualityLevel initial;
  AdaptationTriggers triggers;
  bool auto_quality;
  TourSharedIceAgent *shared_ice = nullptr;
  int ice_group = -1;
  std::unique_ptr<Peer> spare, stale_spare;
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
    initial = priv->initial_level;
    triggers = priv->triggers;
    auto_quality = priv->auto_quality;
    /* A browser's offer is answered by a peer of its own. A spare made for
     * another initial level (changed since) goes. */
    if (offer == nullptr && !priv->spares.empty()) {
      if (priv->spares.front()->on_air == initial)
        spare = std::move(priv->spares.front());
      else
        stale_spare = std::move(priv->spares.front());
      priv->spares.pop_front();
    }
    if (spare == nullptr)
      shared_ice = shared_ice_for_locked(priv, offer != nullptr, &ice_group);
  }
  if (stale_spare)
    detach_peer(self, std::move(stale_spare));
  if (!replaced.empty())
    remove_peer(self, replaced, "joined again");

  const bool from_spare = spare != nullptr;
  std::unique_ptr<Peer> peer = from_spare ? std::move(spare) : std::make_unique<Peer>();
  peer->id = id;
  peer->join_id = join_id;
  if (!from_spare)
    peer->ice_group = ice_group;
  peer->chooser = LevelChooser(initial, QualityLevel::kMaximum, triggers);
  if (!auto_quality)
    peer->chooser.set_manual(initial);
  peer->on_air = peer->chooser.level();
  gchar *session = offer ? g_strdup(join_id.c_str())
                         : g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
  if (!from_spare && !attach_peer(self, peer.get(), channel, shared_ice, session, offer)) {
    g_free(session);
    return;
  }
  GstElement *webrtc = GST_ELEMENT(gst_object_ref(peer->webrtc));
  guint count;
  const QualityLevel level = peer->on_air;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->by_output[peer->output] = peer.get();
    priv->peers[id] = std::move(peer);
    priv->joining_count++;
    count = priv->peers.size();
  }
  /* Bound once it is an attendee's: its first states (and a failure) find
   * the peer. */
  const bool bound =
      !from_spare || tour_webrtc_bin_bind_spare(TOUR_WEBRTC_BIN(webrtc), id.c_str(), session);
  g_free(session);
  gst_object_unref(webrtc);
  if (!bound) {
    /* Not started (the guide is not playing): the attendee joins again. */
    remove_peer(self, id, "spare peer not ready");
    return;
  }
  ensure_level_running(self, level);
  GST_INFO_OBJECT(self, "attendee %s joined (%u attending%s)", id.c_str(), count,
                  from_spare ? ", on a spare peer" : "");
  g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  post_attendee_message(self, "tourcast-attendee-joined", id, count, nullptr, from_spare);
}

/* ---------- spare peers ---------- */

static bool spare_wanted_locked(TourGuideSinkPrivate *priv) {
  return priv->worker != nullptr && priv->spares.size() < priv->spare_peers &&
         priv->pending_joins.empty() && priv->joining_count == 0;
}

/* One spare per SPARE_DELAY_MS, at low priority, while spare_wanted_locked. */
static gboolean make_spare(gpointer data) {
  auto *self = TOUR_GUIDE_SINK(data);
  TourGuideSinkPrivate *priv = self->priv;
  auto spare = std::make_unique<Peer>();
  ChannelSettings channel;
  TourSharedIceAgent *shared_ice;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!spare_wanted_locked(priv)) {
      g_clear_pointer(&priv->spare_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
    channel = priv->channel;
    spare->on_air = priv->initial_level;
    shared_ice = shared_ice_for_locked(priv, false, &spare->ice_group);
  }
  if (!attach_peer(self, spare.get(), channel, shared_ice, nullptr, nullptr)) {
    std::lock_guard<std::mutex> guard(priv->lock);
    g_clear_pointer(&priv->spare_source, g_source_unref);
    return G_SOURCE_REMOVE;
  }
  const QualityLevel level = spare->on_air;
  guint made;
  bool wanted;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    /* spare-peers may have been lowered, or the guide stopped, meanwhile. */
    wanted = priv->worker != nullptr && priv->spares.size() < priv->spare_peers;
    if (wanted)
      priv->spares.push_back(std::move(spare));
    made = priv->spares.size();
  }
  if (!wanted) {
    detach_peer(self, std::move(spare));
    return G_SOURCE_CONTINUE; /* the next turn finds nothing to do */
  }
  ensure_level_running(self, level);
  GST_INFO_OBJECT(self, "spare peer %u made, on level %s", made, to_string(level));
  return G_SOURCE_CONTINUE;
}

static void schedule_spares(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->spare_source != nullptr || !spare_wanted_locked(priv))
    return;
  /* Not at once: the attendee that just connected gets its first packets
   * (and the machine's CPU) before a new webrtcbin is built. */
  priv->spare_source = g_timeout_source_new(SPARE_DELAY_MS);
  g_source_set_priority(priv->spare_source, G_PRIORITY_LOW);
  g_source_set_callback(priv->spare_source, make_spare, gst_object_ref(self), gst_object_unref);
  g_source_attach(priv->spare_source, priv->worker);
}

/* Spares above spare-peers go (it was lowered). */
static void trim_spares(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::vector<std::unique_ptr<Peer>> extra;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    while (priv->spares.size() > priv->spare_peers) {
      extra.push_back(std::move(priv->spares.back()));
      priv->spares.pop_back();
    }
  }
  for (auto &spare : extra)
    detach_peer(self, std::move(spare));
}

static guint spares_ready(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::vector<GstElement *> spares;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    for (auto &spare : priv->spares)
      spares.push_back(GST_ELEMENT(gst_object_ref(spare->webrtc)));
  }
  guint ready = 0;
  for (GstElement *webrtc : spares) {
    ready += tour_webrtc_bin_spare_ready(TOUR_WEBRTC_BIN(webrtc)) ? 1 : 0;
    gst_object_unref(webrtc);
  }
  return ready;
}

/* ---------- taking joins ---------- */

/* A peer past negotiation (or out of it) no longer holds a joining slot. */
static bool done_joining(const gchar *state) {
  return g_strcmp0(state, "connected") == 0 || g_strcmp0(state, "reconnecting") == 0 ||
         g_strcmp0(state, "failed") == 0 || g_strcmp0(state, "closed") == 0;
}

static bool may_take_join_locked(TourGuideSinkPrivate *priv) {
  return !priv->pending_joins.empty() &&
         (priv->max_joining == 0 || priv->joining_count < priv->max_joining);
}

static void apply_peer_status(TourGuideSink *self, const gchar *peer_id,
                              const GstStructure *status);

/* One join per worker turn, while a joining slot is free. */
static gboolean take_join(gpointer data) {
  auto *self = TOUR_GUIDE_SINK(data);
  TourGuideSinkPrivate *priv = self->priv;
  PendingJoin join;
  bool spare_due = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (!may_take_join_locked(priv)) {
      g_clear_pointer(&priv->join_source, g_source_unref);
      /* The queue may be empty now: a spare for the next join. */
      spare_due = true;
    }
  }
  if (spare_due) {
    schedule_spares(self);
    return G_SOURCE_REMOVE;
  }
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    join = std::move(priv->pending_joins.front());
    priv->pending_joins.pop_front();
  }
  add_peer(self, join.id, join.join_id, join.offer ? join.offer->c_str() : nullptr);
  if (join.status)
    apply_peer_status(self, join.id.c_str(), join.status.get());
  return G_SOURCE_CONTINUE;
}

static void schedule_joins(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  if (priv->worker == nullptr || priv->join_source != nullptr || !may_take_join_locked(priv))
    return;
  priv->join_source = g_idle_source_new();
  g_source_set_priority(priv->join_source, G_PRIORITY_DEFAULT);
  g_source_set_callback(priv->join_source, take_join, gst_object_ref(self), gst_object_unref);
  g_source_attach(priv->join_source, priv->worker);
}

/* An attendee that joins again while still waiting keeps its place with
 * its newest join. */
static void queue_join(TourGuideSink *self, PendingJoin join) {
  TourGuideSinkPrivate *priv = self->priv;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = std::find_if(priv->pending_joins.begin(), priv->pending_joins.end(),
                           [&join](const PendingJoin &p) { return p.id == join.id; });
    if (it != priv->pending_joins.end()) {
      if (!join.status)
        join.status = std::move(it->status);
      *it = std::move(join);
    } else
      priv->pending_joins.push_back(std::move(join));
  }
  schedule_joins(self);
}

static void drop_pending_join(TourGuideSink *self, const std::string &id) {
  TourGuideSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  auto it = std::find_if(priv->pending_joins.begin(), priv->pending_joins.end(),
                         [&id](const PendingJoin &p) { return p.id == id; });
  if (it != priv->pending_joins.end())
    priv->pending_joins.erase(it);
}

/* ---------- what attendees report ---------- */

/* A quality report of one peer's tourqualitymonitor drives its level. */
static void on_quality_report(TourGuideSink *self, const GstStructure *report) {
  TourGuideSinkPrivate *priv = self->priv;
  const gchar *id = gst_structure_get_string(report, "peer-id");
  if (id == nullptr)
    return;
  ConnectionMetrics metrics = metrics_from_structure(report);
  Decision decision;
  GstPad *output = nullptr;
  bool fec_changed;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = priv->peers.find(id);
    if (it == priv->peers.end())
      return;
    Peer &peer = *it->second;
    peer.metrics = metrics;
    peer.have_reports = true;
    int fec = fec_packet_loss_percentage(metrics.loss_rate);
    fec_changed = fec != peer.fec_loss_percentage;
    peer.fec_loss_percentage = fec;
    /* A link that is down (reconnecting) is recovery's business: a lower
     * level would not bring it back, and climbing again would take minutes. */
    if (priv->auto_quality && peer.state == "connected")
      decision = peer.chooser.on_report(metrics, tour_now_ms());
    if (decision.changed) {
      peer.pending_reason = decision.reason;
      output = GST_PAD(gst_object_ref(peer.output));
    }
  }
  /* Reconciling walks every peer and output: only when something changed,
   * not on each of the reports every attendee sends a few times a second.
   * It recomputes each encoder's FEC from the peers' loss. */
  if (output) {
    follow_decision(self, output, decision);
    gst_object_unref(output);
  } else if (fec_changed) {
    schedule_reconcile(self);
  }
}

/* The attendee's profile sets where it starts and how high it may go; its
 * battery saving caps it at the profile's battery level. */
static void apply_peer_status(TourGuideSink *self, const gchar *peer_id,
                              const GstStructure *status) {
  TourGuideSinkPrivate *priv = self->priv;
  const gchar *profile_text = gst_structure_get_string(status, "profile");
  const gchar *requested = gst_structure_get_string(status, "requested-level");
  std::optional<QualityLevel> requested_level;
  if (requested) {
    QualityLevel parsed;
    if (quality_level_from_string(requested, &parsed))
      requested_level = parsed;
  }
  gboolean battery = FALSE;
  gst_structure_get_boolean(status, "battery-saving", &battery);
  AttendeeProfile profile;
  std::string error;
  bool profile_ok = true;
  if (profile_text && !parse_profile(profile_text, &profile, &error)) {
    GST_ELEMENT_WARNING(
        self, STREAM, FORMAT,
        ("attendee %s stated a profile we do not know; treated as desktop", peer_id),
        ("%s", error.c_str()));
    profile_ok = false;
  }
  Decision decision;
  GstPad *output = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    auto it = priv->peers.find(peer_id);
    if (it == priv->peers.end()) {
      auto pending = std::find_if(priv->pending_joins.begin(), priv->pending_joins.end(),
                                  [peer_id](const PendingJoin &p) { return p.id == peer_id; });
      if (pending != priv->pending_joins.end())
        pending->status.reset(gst_structure_copy(status), gst_structure_free);
      return;
    }
    Peer &peer = *it->second;
    int64_t now = tour_now_ms();
    if (profile_text && profile_ok) {
      peer.profile = profile_to_string(profile);
      peer.settings = settings_for(profile.device, profile.network);
      if (!peer.have_reports && peer.level_changes == 0) {
        /* Just joined: start where the profile says instead of stepping down. */
        QualityLevel start = lower_of(priv->initial_level, peer.settings.initial_level);
        std::optional<QualityLevel> manual = peer.chooser.manual();
        peer.chooser = LevelChooser(start, peer.settings.ceiling, priv->triggers);
        if (manual)
          peer.chooser.set_manual(manual);
        else if (!priv->auto_quality)
          peer.chooser.set_manual(start);
        if (peer.chooser.level() != peer.on_air) {
          decision.changed = true;
          decision.from = peer.on_air;
          decision.to = peer.chooser.level();
          decision.reason = "profile " + peer.profile;
        }
      } else {
        decision = peer.chooser.set_ceiling(peer.settings.ceiling, now);
      }
    }
    std::string request = requested_level ? to_string(*requested_level) : "";
    if (request != peer.requested_level) {
      /* The attendee holds itself at a level (or hands the choice back). */
      peer.requested_level = request;
      Decision d = peer.chooser.set_manual(requested_level);
      if (d.changed)
        decision = d;
    }
    if (static_cast<bool>(battery) != peer.battery_saving) {
      peer.battery_saving = battery;
      Decision d = peer.chooser.set_battery_saving(battery, peer.settings.battery_level, now);
      if (d.changed)
        decision = d;
    }
    if (decision.changed) {
      peer.pending_reason = decision.reason;
      output = GST_PAD(gst_object_ref(peer.output));
    }
  }
  if (output) {
    follow_decision(self, output, decision);
    gst_object_unref(output);
  }
}

static void on_peer_status(TourSignaller *, const gchar *peer_id, const GstStructure *status,
                           gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  apply_peer_status(self, peer_id, status);
  gst_object_unref(self);
}

static gboolean set_attendee_level(TourGuideSink *self, const gchar *peer_id, const gchar *level) {
  TourGuideSinkPrivate *priv = self->priv;
  std::optional<QualityLevel> manual;
  if (level != nullptr && g_strcmp0(level, "auto") != 0) {
    QualityLevel parsed;
    if (!quality_level_from_string(level, &parsed)) {
      GST_ELEMENT_WARNING(
          self, LIBRARY, SETTINGS,
          ("unknown level \"%s\": use maximum, high, medium, low, minimum or auto", level),
          (nullptr));
      return FALSE;
    }
    manual = parsed;
  }
  std::vector<std::pair<GstPad *, Decision>> moves;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    for (auto &entry : priv->peers) {
      if (peer_id != nullptr && entry.first != peer_id)
        continue;
      Peer &peer = *entry.second;
      Decision d = peer.chooser.set_manual(manual);
      if (d.changed) {
        peer.pending_reason = d.reason;
        moves.emplace_back(GST_PAD(gst_object_ref(peer.output)), d);
      }
    }
    if (peer_id != nullptr && priv->peers.find(peer_id) == priv->peers.end())
      return FALSE;
  }
  for (auto &move : moves) {
    follow_decision(self, move.first, move.second);
    gst_object_unref(move.first);
  }
  return TRUE;
}

/* ---------- status and diagnostics ---------- */

static ChannelStatus channel_status(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  ChannelStatus c;
  int64_t now = tour_now_ms();
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    c.tour = priv->channel.tour;
    c.language = priv->channel.language;
    c.max_attendees = priv->max_attendees;
    c.level_changes = priv->level_changes;
    c.failed_connections = priv->failed_connections;
    for (auto &entry : priv->peers) {
      const Peer &p = *entry.second;
      AttendeeStatus a;
      a.id = p.id;
      a.state = p.state;
      a.level = p.on_air;
      a.fec = priv->fec && p.fec_loss_percentage > 0;
      if (p.have_reports)
        a.metrics = p.metrics;
      a.profile = p.profile;
      a.battery_saving = p.battery_saving;
      a.connected_for_ms = p.connected_since_ms >= 0 ? now - p.connected_since_ms : -1;
      a.level_changes = p.level_changes;
      a.last_change_reason = p.last_reason;
      c.attendees.push_back(std::move(a));
    }
  }
  c.encoders_running = priv->ladder->running_levels();
  return c;
}

static GstStructure *attendee_structure(const AttendeeStatus &a) {
  GstStructure *s = gst_structure_new(
      "attendee", "peer-id", G_TYPE_STRING, a.id.c_str(), "state", G_TYPE_STRING, a.state.c_str(),
      "level", G_TYPE_STRING, to_string(a.level), "healthy", G_TYPE_BOOLEAN, is_healthy(a), "fec",
      G_TYPE_BOOLEAN, a.fec, "connection-duration-ms", G_TYPE_INT64, (gint64)a.connected_for_ms,
      "level-changes", G_TYPE_UINT, a.level_changes, "battery-saving", G_TYPE_BOOLEAN,
      a.battery_saving, nullptr);
  if (!a.profile.empty())
    gst_structure_set(s, "profile", G_TYPE_STRING, a.profile.c_str(), nullptr);
  if (!a.last_change_reason.empty())
    gst_structure_set(s, "last-change-reason", G_TYPE_STRING, a.last_change_reason.c_str(),
                      nullptr);
  if (a.metrics) {
    gst_structure_set(s, "score", G_TYPE_INT, a.metrics->score, "category", G_TYPE_STRING,
                      to_string(a.metrics->category), "loss-rate", G_TYPE_DOUBLE,
                      a.metrics->loss_rate, nullptr);
    if (a.metrics->rtt_ms)
      gst_structure_set(s, "rtt-ms", G_TYPE_DOUBLE, *a.metrics->rtt_ms, nullptr);
    if (a.metrics->jitter_ms)
      gst_structure_set(s, "jitter-ms", G_TYPE_DOUBLE, *a.metrics->jitter_ms, nullptr);
  }
  return s;
}

static void append_to_array(GValue *array, GValue *item) {
  gst_value_array_append_and_take_value(array, item);
}

static GstStructure *status_structure(const ChannelStatus &c, bool with_recommendations) {
  GstStructure *s = gst_structure_new(
      with_recommendations ? "tourcast-diagnostics" : "tourcast-status", "tour", G_TYPE_STRING,
      c.tour.c_str(), "language", G_TYPE_STRING, c.language.c_str(), "attendee-count", G_TYPE_UINT,
      (guint)c.attendees.size(), "level-changes", G_TYPE_UINT64, (guint64)c.level_changes,
      "failed-connections", G_TYPE_UINT64, (guint64)c.failed_connections, nullptr);
  GValue encoders = G_VALUE_INIT;
  gst_value_array_init(&encoders, kQualityLevelCount);
  for (int l = 0; l < kQualityLevelCount; l++) {
    if (!(c.encoders_running & (1u << l)))
      continue;
    GValue v = G_VALUE_INIT;
    g_value_init(&v, G_TYPE_STRING);
    g_value_set_string(&v, to_string(static_cast<QualityLevel>(l)));
    append_to_array(&encoders, &v);
  }
  gst_structure_take_value(s, "encoders", &encoders);
  GValue attendees = G_VALUE_INIT;
  gst_value_array_init(&attendees, c.attendees.size());
  for (const AttendeeStatus &a : c.attendees) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, attendee_structure(a));
    append_to_array(&attendees, &v);
  }
  gst_structure_take_value(s, "attendees", &attendees);
  if (with_recommendations) {
    GValue list = G_VALUE_INIT;
    std::vector<std::string> r = recommendations(c);
    gst_value_array_init(&list, r.size());
    for (const std::string &text : r) {
      GValue v = G_VALUE_INIT;
      g_value_init(&v, G_TYPE_STRING);
      g_value_set_string(&v, text.c_str());
      append_to_array(&list, &v);
    }
    gst_structure_take_value(s, "recommendations", &list);
  }
  return s;
}

static gboolean on_report_timer(gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  ChannelStatus c = channel_status(self);
  std::string json = diagnostics_to_json(c, tour_epoch_ms());
  TourSignaller *signaller = self->priv->signaller.ref();
  if (signaller) {
    tour_signaller_report_channel(signaller, json.c_str());
    g_object_unref(signaller);
  }
  gst_object_unref(self);
  return G_SOURCE_CONTINUE;
}

/* ---------- signaller ---------- */

static void on_peer_joined(TourSignaller *, const gchar *peer_id, const gchar *join_id,
                           gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  queue_join(self, PendingJoin{peer_id, join_id ? join_id : "", std::nullopt, nullptr});
  gst_object_unref(self);
}

static void on_peer_offered(TourSignaller *, const gchar *peer_id, const gchar *session_id,
                            const gchar *sdp, gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  queue_join(self, PendingJoin{peer_id, session_id, std::string(sdp ? sdp : ""), nullptr});
  gst_object_unref(self);
}

static void on_peer_left(TourSignaller *, const gchar *peer_id, gpointer data) {
  auto *self = static_cast<TourGuideSink *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  drop_pending_join(self, peer_id);
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
  guint report_interval;
  GMainContext *worker = tour_worker_acquire();
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    channel = priv->channel;
    priv->worker = worker;
    report_interval = priv->report_interval_ms;
  }
  priv->ladder->set_worker(worker);
  if (report_interval > 0) {
    GSource *source = g_timeout_source_new(report_interval);
    g_source_set_callback(source, on_report_timer, new_weak_ref(self), free_weak_ref);
    g_source_attach(source, worker);
    std::lock_guard<std::mutex> guard(priv->lock);
    priv->report_source = source;
  }
  if (!priv->signaller.start(GST_ELEMENT(self), channel,
                             {{"peer-joined", G_CALLBACK(on_peer_joined)},
                              {"peer-offered", G_CALLBACK(on_peer_offered)},
                              {"peer-left", G_CALLBACK(on_peer_left)},
                              {"peer-status", G_CALLBACK(on_peer_status)},
                              {"info", G_CALLBACK(on_info)}}))
    return false;
  schedule_spares(self);
  return true;
}

static void stop(TourGuideSink *self) {
  TourGuideSinkPrivate *priv = self->priv;
  std::map<std::string, std::unique_ptr<Peer>> peers;
  std::deque<std::unique_ptr<Peer>> spares;
  GSource *report_source, *join_source, *spare_source;
  priv->signaller.stop();
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    peers.swap(priv->peers);
    spares.swap(priv->spares);
    spare_source = priv->spare_source;
    priv->spare_source = nullptr;
    priv->by_output.clear();
    report_source = priv->report_source;
    priv->report_source = nullptr;
    join_source = priv->join_source;
    priv->join_source = nullptr;
    priv->pending_joins.clear();
    priv->joining_count = 0;
  }
  for (GSource *source : {report_source, join_source, spare_source}) {
    if (source) {
      g_source_destroy(source);
      g_source_unref(source);
    }
  }
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    worker = priv->worker;
    priv->worker = nullptr;
  }
  /* The stream is stopped: the branches can go without pad probes. */
  std::vector<std::unique_ptr<Peer>> all(std::make_move_iterator(spares.begin()),
                                         std::make_move_iterator(spares.end()));
  for (auto &entry : peers)
    all.push_back(std::move(entry.second));
  for (auto &peer : all) {
    leave_ice_group(self, peer.get());
    GstPad *peer_pad = gst_pad_get_peer(peer->output);
    if (peer_pad) {
      gst_pad_unlink(peer->output, peer_pad);
      gst_object_unref(peer_pad);
    }
    Removal removal{self, std::move(peer)};
    finish_removal(&removal);
  }
  priv->ladder->clear();
  if (!peers.empty())
    g_object_notify_by_pspec(G_OBJECT(self), attendee_count_pspec);
  if (worker)
    tour_worker_release();
}

/* Each new peer posts LATENCY messages as its sinks and its DTLS encoder
 * start, and the pipeline answers each with a latency query and a LATENCY
 * event through every peer and up to the source: O(N) per join, O(N^2) per
 * join storm, on the application's thread. Nothing in a peer syncs to the
 * clock (tourguidesink sets `sync` false on its peers, and nicesink does not
 * sync); the one element of a peer that needs the latency, its rtpsession (to
 * time sender reports), gets it from the peer itself when it connects
 * (tourwebrtcbin's configure_send_latency). So such messages stop here. */
static bool is_from_a_peer(TourGuideSink *self, GstMessage *message) {
  GstObject *child =
      GST_MESSAGE_SRC(message) ? GST_OBJECT(gst_object_ref(GST_MESSAGE_SRC(message))) : nullptr;
  while (child != nullptr) {
    GstObject *parent = gst_object_get_parent(child);
    if (parent == GST_OBJECT(self)) {
      gst_object_unref(parent);
      bool peer = TOUR_IS_WEBRTC_BIN(child);
      gst_object_unref(child);
      return peer;
    }
    gst_object_unref(child);
    child = parent;
  }
  return false;
}

/* Peers tell their story through messages: their state (a failed peer is of
 * no use to anybody: drop it; its attendee may join again) and their
 * quality reports (which drive their level). */
static void tour_guide_sink_handle_message(GstBin *bin, GstMessage *message) {
  auto *self = TOUR_GUIDE_SINK(bin);
  TourGuideSinkPrivate *priv = self->priv;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_LATENCY && is_from_a_peer(self, message)) {
    GST_LOG_OBJECT(self, "not redistributing latency for %" GST_PTR_FORMAT,
                   GST_MESSAGE_SRC(message));
    gst_message_unref(message);
    return;
  }
  const GstStructure *s = gst_message_get_structure(message);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT && s != nullptr &&
      gst_structure_has_name(s, "tourcast-quality")) {
    on_quality_report(self, s);
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
             TOUR_IS_WEBRTC_BIN(GST_MESSAGE_SRC(message)) &&
             gst_structure_has_name(s, "tourcast-state")) {
    std::string id = gst_structure_get_string(s, "peer-id");
    const gchar *state = gst_structure_get_string(s, "new-state");
    bool failed = g_strcmp0(state, "failed") == 0;
    bool slot_freed = false;
    GMainContext *worker;
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      worker = priv->worker;
      auto it = priv->peers.find(id);
      if (it != priv->peers.end() && state) {
        it->second->state = state;
        if (it->second->joining && done_joining(state)) {
          it->second->joining = false;
          priv->joining_count--;
          slot_freed = true;
        }
        if (g_strcmp0(state, "connected") == 0 && it->second->connected_since_ms < 0)
          it->second->connected_since_ms = tour_now_ms();
        if (failed)
          priv->failed_connections++;
      }
    }
    if (slot_freed) {
      schedule_joins(self);
      schedule_spares(self);
    }
    if (failed && worker) {
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
  GST_BIN_CLASS(parent_class)->handle_message(bin, message);
}

/* webrtcbin holds every packet of every peer until its running time plus the
 * pipeline latency (a clocksync per stream): about 60 ms added to every
 * packet, and one clock wait per packet per attendee. A live input is paced
 * already, so the peers send as packets come (their sync=false); a non-live
 * one (a file) would burst, so it is paced here, once for everyone. */
static GstPadProbeReturn decide_pacing(GstPad *pad, GstPadProbeInfo *, gpointer data) {
  auto *self = TOUR_GUIDE_SINK(data);
  GstQuery *query = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(pad, query))
    gst_query_parse_latency(query, &live, nullptr, nullptr);
  gst_query_unref(query);
  g_object_set(self->priv->pace, "sync", !live, nullptr);
  GST_INFO_OBJECT(self, "%s input: %s", live ? "live" : "non-live",
                  live ? "packets leave as they are encoded" : "paced by the clock");
  return GST_PAD_PROBE_REMOVE;
}

static GstStateChangeReturn tour_guide_sink_change_state(GstElement *element,
                                                         GstStateChange transition) {
  auto *self = TOUR_GUIDE_SINK(element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    tour_dtls_warm_up();
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GstPad *sink = gst_element_get_static_pad(element, "sink");
    gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, decide_pacing, self, nullptr);
    gst_object_unref(sink);
  }
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
  /* The adaptation triggers match the RTCP receiver reports' pace: every
   * peer sends one every 250-750 ms (rtcp-interval 500), so one bad report
   * costs one level and a later one, at least a second later, the next: RTT
   * and jitter are read again from the same report until the next arrives. */
  priv->triggers.min_degrade_interval_ms = 1000;
  GstElement *convert = gst_element_factory_make("audioconvert", "convert");
  /* audioresample builds integer filter taps at caps time even when it only
   * passes 48 kHz through, and warns about them: resample in float. */
  GstElement *to_float = gst_element_factory_make("capsfilter", "float");
  GstCaps *float_caps = gst_caps_from_string("audio/x-raw,format=F32LE");
  g_object_set(to_float, "caps", float_caps, nullptr);
  gst_caps_unref(float_caps);
  GstElement *resample = gst_element_factory_make("audioresample", "resample");
  GstElement *to_48k = gst_element_factory_make("capsfilter", "rate");
  GstCaps *rate_caps = gst_caps_from_string("audio/x-raw,format=F32LE,rate=48000");
  g_object_set(to_48k, "caps", rate_caps, nullptr);
  gst_caps_unref(rate_caps);
  priv->pace = gst_element_factory_make("clocksync", "pace");
  g_assert(convert && to_float && resample && to_48k && priv->pace);
  g_object_set(priv->pace, "sync", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(self), convert, to_float, resample, to_48k, priv->pace, nullptr);
  priv->ladder = std::make_unique<EncoderLadder>(GST_BIN(self), on_level_switched, self);
  gst_element_link_many(convert, to_float, resample, to_48k, priv->pace, priv->ladder->input(),
                        nullptr);
  GstPad *target = gst_element_get_static_pad(convert, "sink");
  GstPad *ghost =
      gst_ghost_pad_new_from_template("sink", target, gst_static_pad_template_get(&sink_template));
  gst_object_unref(target);
  gst_element_add_pad(GST_ELEMENT(self), ghost);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}

static void tour_guide_sink_finalize(GObject *object) {
  auto *self = TOUR_GUIDE_SINK(object);
  for (TourSharedIceAgent *agent : self->priv->shared_ice)
    if (agent)
      gst_object_unref(agent);
  delete self->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_guide_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_GUIDE_SINK(object);
  TourGuideSinkPrivate *priv = self->priv;
  std::vector<std::pair<GstPad *, Decision>> moves;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (set_channel_property(&priv->channel, &priv->signaller, prop_id, value))
      return;
    switch (prop_id) {
      case PROP_MAX_ATTENDEES:
        priv->max_attendees = g_value_get_uint(value);
        break;
      case PROP_AUTO_QUALITY:
        priv->auto_quality = g_value_get_boolean(value);
        /* Off: everybody stays where they are, by hand; on: back to reports. */
        for (auto &entry : priv->peers) {
          Peer &peer = *entry.second;
          peer.chooser.set_manual(priv->auto_quality ? std::nullopt
                                                     : std::optional(peer.chooser.level()));
        }
        break;
      case PROP_INITIAL_LEVEL:
        priv->initial_level = static_cast<QualityLevel>(g_value_get_enum(value));
        break;
      case PROP_FEC:
        priv->fec = g_value_get_boolean(value);
        break;
      case PROP_DTX:
        priv->dtx = g_value_get_boolean(value);
        break;
      case PROP_REPORT_INTERVAL:
        priv->report_interval_ms = g_value_get_uint(value);
        break;
      case PROP_MAX_JOINING:
        priv->max_joining = g_value_get_uint(value);
        break;
      case PROP_SHARED_ICE_AGENT:
        priv->share_ice_agent = g_value_get_boolean(value);
        break;
      case PROP_ICE_AGENT_PEERS:
        priv->ice_groups.set_capacity(g_value_get_uint(value));
        break;
      case PROP_SPARE_PEERS:
        priv->spare_peers = g_value_get_uint(value);
        break;
      case PROP_DIRECT_SEND:
        priv->direct_send.store(g_value_get_boolean(value));
        break;
      case PROP_ICE_NOMINATION:
        priv->ice_nomination = static_cast<TourIceNomination>(g_value_get_enum(value));
        break;
      default:
        if (!set_trigger_property(&priv->triggers, PROP_TRIGGERS_FIRST, prop_id, value))
          G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
  }
  /* The reconcile recomputes every encoder's FEC and DTX (so does a new
   * attendee's join while nothing plays yet). */
  if (prop_id == PROP_FEC || prop_id == PROP_DTX)
    schedule_reconcile(self);
  if (prop_id == PROP_MAX_JOINING)
    schedule_joins(self);
  if (prop_id == PROP_SPARE_PEERS) {
    trim_spares(self);
    schedule_spares(self);
  }
}

static void tour_guide_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  auto *self = TOUR_GUIDE_SINK(object);
  TourGuideSinkPrivate *priv = self->priv;
  if (prop_id == PROP_STATUS || prop_id == PROP_DIAGNOSTICS) {
    g_value_take_boxed(value, status_structure(channel_status(self), prop_id == PROP_DIAGNOSTICS));
    return;
  }
  if (prop_id == PROP_SPARES_READY) {
    g_value_set_uint(value, spares_ready(self));
    return;
  }
  if (prop_id == PROP_ENCODERS) {
    g_value_set_uint(value, __builtin_popcount(priv->ladder->running_levels()));
    return;
  }
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
    case PROP_AUTO_QUALITY:
      g_value_set_boolean(value, priv->auto_quality);
      break;
    case PROP_INITIAL_LEVEL:
      g_value_set_enum(value, static_cast<int>(priv->initial_level));
      break;
    case PROP_FEC:
      g_value_set_boolean(value, priv->fec);
      break;
    case PROP_DTX:
      g_value_set_boolean(value, priv->dtx);
      break;
    case PROP_LEVEL_CHANGES:
      g_value_set_uint64(value, priv->level_changes);
      break;
    case PROP_REPORT_INTERVAL:
      g_value_set_uint(value, priv->report_interval_ms);
      break;
    case PROP_MAX_JOINING:
      g_value_set_uint(value, priv->max_joining);
      break;
    case PROP_SHARED_ICE_AGENT:
      g_value_set_boolean(value, priv->share_ice_agent);
      break;
    case PROP_ICE_AGENT_PEERS:
      g_value_set_uint(value, (guint)priv->ice_groups.capacity());
      break;
    case PROP_SPARE_PEERS:
      g_value_set_uint(value, priv->spare_peers);
      break;
    case PROP_DIRECT_SEND:
      g_value_set_boolean(value, priv->direct_send.load());
      break;
    case PROP_ICE_NOMINATION:
      g_value_set_enum(value, priv->ice_nomination);
      break;
    default:
      if (!get_trigger_property(priv->triggers, PROP_TRIGGERS_FIRST, prop_id, value))
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
                             "only receives RTCP on the guide side; -1: webrtcbin's 200)");
  const auto playing =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  const auto readable = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_MAX_ATTENDEES,
      g_param_spec_uint("max-attendees", "Max attendees",
                        "Attendees served at once; more are refused with a warning (0 = no "
                        "limit)",
                        0, G_MAXUINT, DEFAULT_MAX_ATTENDEES, playing));
  attendee_count_pspec =
      g_param_spec_uint("attendee-count", "Attendee count",
                        "Attendees with a peer connection right now", 0, G_MAXUINT, 0, readable);
  g_object_class_install_property(gobject_class, PROP_ATTENDEE_COUNT, attendee_count_pspec);
  g_object_class_install_property(
      gobject_class, PROP_AUTO_QUALITY,
      g_param_spec_boolean("auto-quality", "Auto quality",
                           "Each attendee's level follows its quality reports; off holds every "
                           "attendee at its current level (set-attendee-level still works)",
                           DEFAULT_AUTO_QUALITY, playing));
  g_object_class_install_property(
      gobject_class, PROP_INITIAL_LEVEL,
      g_param_spec_enum("initial-level", "Initial level",
                        "Level a new attendee starts at (lower if its profile asks for less)",
                        TOUR_TYPE_QUALITY_LEVEL, DEFAULT_INITIAL_LEVEL, playing));
  g_object_class_install_property(
      gobject_class, PROP_FEC,
      g_param_spec_boolean("fec", "FEC",
                           "In-band forward error correction on each level's encoder, tuned to "
                           "the worst loss its attendees report",
                           DEFAULT_FEC, playing));
  g_object_class_install_property(
      gobject_class, PROP_DTX,
      g_param_spec_boolean("dtx", "DTX", "Discontinuous transmission: next to nothing in silences",
                           DEFAULT_DTX, playing));
  install_trigger_properties(gobject_class, PROP_TRIGGERS_FIRST);
  level_changes_pspec = g_param_spec_uint64("level-changes", "Level changes",
                                            "Level changes of all attendees since the start", 0,
                                            G_MAXUINT64, 0, readable);
  g_object_class_install_property(gobject_class, PROP_LEVEL_CHANGES, level_changes_pspec);
  g_object_class_install_property(
      gobject_class, PROP_ENCODERS,
      g_param_spec_uint("encoders", "Encoders",
                        "Opus encoders running: one per level some attendee or spare peer "
                        "uses (0-5)",
                        0, kQualityLevelCount, 0, readable));
  g_object_class_install_property(
      gobject_class, PROP_STATUS,
      g_param_spec_boxed("status", "Status",
                         "tourcast-status: tour, language, attendee-count, level-changes, "
                         "failed-connections, encoders (levels running) and attendees (one "
                         "structure each: peer-id, state, level, healthy, score, category, "
                         "rtt-ms, jitter-ms, loss-rate, fec, profile, battery-saving, "
                         "connection-duration-ms, level-changes, last-change-reason)",
                         GST_TYPE_STRUCTURE, readable));
  g_object_class_install_property(
      gobject_class, PROP_DIAGNOSTICS,
      g_param_spec_boxed("diagnostics", "Diagnostics",
                         "tourcast-diagnostics: the status plus recommendations, sentences a "
                         "person can act on, worst first",
                         GST_TYPE_STRUCTURE, readable));
  g_object_class_install_property(
      gobject_class, PROP_REPORT_INTERVAL,
      g_param_spec_uint(
          "report-interval", "Report interval",
          "Milliseconds between diagnostic reports published through the "
          "signaller (to Redis); 0 publishes none",
          0, 600000, DEFAULT_REPORT_INTERVAL_MS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_MAX_JOINING,
      g_param_spec_uint("max-joining", "Max joining",
                        "Peers negotiating at once (made, not yet connected); further joins "
                        "wait their turn and their attendees are told they are queued "
                        "(0 = no limit)",
                        0, G_MAXUINT, DEFAULT_MAX_JOINING, playing));
  g_object_class_install_property(
      gobject_class, PROP_SHARED_ICE_AGENT,
      g_param_spec_boolean(
          "shared-ice-agent", "Shared ICE agent",
          "Shared libnice agents, one ICE thread (\"tourcast-ice\") each, for the attendees "
          "(and spare peers) the guide offers to (ice-agent-peers per agent), instead of one "
          "agent and thread per attendee; their peers receive on the agent's thread, without "
          "a thread of their own (browsers that offer over WHEP keep their own agent). Checks "
          "are paced at 5 ms per agent with libnice's 500 ms check timeout, whatever one "
          "peer's round trip (a guide peer on a round trip above 2 s needs this off)",
          DEFAULT_SHARED_ICE_AGENT,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_ICE_AGENT_PEERS,
      g_param_spec_uint(
          "ice-agent-peers", "ICE agent peers",
          "With shared-ice-agent: attendees per shared libnice agent (and its thread); a new "
          "agent is made when all are full and freed when its last attendee leaves. libnice "
          "paces checks per agent, so fewer peers per agent keep a join storm's checks from "
          "queueing; more save threads (about 1/N per attendee). Takes effect for later joins",
          1, MAX_ICE_AGENT_PEERS, DEFAULT_ICE_AGENT_PEERS,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_ICE_NOMINATION,
      g_param_spec_enum(
          "ice-nomination", "ICE nomination",
          "With shared-ice-agent: how the guide (ICE-controlling) nominates the pair its "
          "attendee will use. aggressive: its first check carries USE-CANDIDATE, so the "
          "attendee is nominated as soon as its own check succeeds; regular: a second check "
          "once the first succeeded (webrtcbin's choice, also used by peers with an agent of "
          "their own). libnice fixes it when an agent is made: a change applies to agents made "
          "later (in READY there are none)",
          TOUR_TYPE_ICE_NOMINATION, DEFAULT_ICE_NOMINATION,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  gst_type_mark_as_plugin_api(TOUR_TYPE_ICE_NOMINATION, (GstPluginAPIFlags)0);

  g_object_class_install_property(
      gobject_class, PROP_DIRECT_SEND,
      g_param_spec_boolean(
          "direct-send", "Direct send",
          "Each peer protects its RTP (SRTP under its DTLS keys) and hands it to its "
          "libnice stream itself, past webrtcbin's transport chain (#TourWebRTCBin:direct-send): "
          "the same packets for a fraction of the guide's CPU per attendee",
          DEFAULT_DIRECT_SEND,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_SPARE_PEERS,
      g_param_spec_uint(
          "spare-peers", "Spare peers",
          "Peers made ahead for the next attendees (0-8): each has its offer made and set and "
          "its candidates gathered before anybody joins, so a join only publishes the offer; "
          "each keeps the encoder of initial-level running. Made again while no join waits "
          "and none negotiates; not attendees (not in attendee-count, status or diagnostics). "
          "0: every peer is made on its join",
          0, MAX_SPARE_PEERS, DEFAULT_SPARE_PEERS, playing));
  g_object_class_install_property(
      gobject_class, PROP_SPARES_READY,
      g_param_spec_uint("spares-ready", "Spares ready",
                        "Spare peers whose offer is set, waiting for an attendee", 0,
                        MAX_SPARE_PEERS, 0, readable));

  /**
   * TourGuideSink::set-attendee-level:
   * @peer_id: the attendee, or %NULL for every attendee
   * @level: "maximum", "high", "medium", "low", "minimum", or "auto" / %NULL
   *   to follow the quality reports again
   *
   * Holds attendees at a level by hand (still within their profile's ceiling
   * and battery cap). Returns %FALSE for an unknown attendee or level.
   */
  signals[SIGNAL_SET_ATTENDEE_LEVEL] = g_signal_new_class_handler(
      "set-attendee-level", G_TYPE_FROM_CLASS(klass),
      (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION), G_CALLBACK(set_attendee_level), nullptr,
      nullptr, nullptr, G_TYPE_BOOLEAN, 2, G_TYPE_STRING, G_TYPE_STRING);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 audiotestsrc is-live=true freq=440 ! tourguidesink tour=demo language=en "
      "redis-url=redis://127.0.0.1:6379 ice-addresses=127.0.0.1");
  gst_element_class_set_static_metadata(
      element_class, "tourcast guide sink", "Sink/Network/WebRTC",
      "Sends a guide's audio over WebRTC to every attendee of a tour/language channel, each at "
      "the Opus quality level its connection calls for (one encoder per level in use), "
      "signaled through Redis",
      "tourcast developers");
}
