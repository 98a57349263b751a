/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-tourrecoverybin
 * @title: tourrecoverybin
 *
 * Brings an attendee's connection to its guide back by itself, by the
 * cheapest of the seed's three recovery levels that works:
 *
 * 1. `ice_restart`: the guide and the attendee take new ICE credentials
 *    and exchange them and their candidates in a new offer/answer of the same
 *    session (webrtcbin 1.22 has no ICE restart: tourwebrtcbin builds it on
 *    libnice's nice_agent_restart_stream());
 * 2. `signaling_reset`: the same in a new signaling session (new session id:
 *    fresh candidate numbering, offer and answer records) on the same
 *    webrtcbin;
 * 3. `full_reconnect`: the peer connection is torn down, a new tourwebrtcbin
 *    with the same settings is built and the attendee joins the channel again
 *    through the signaller, so the guide builds a new peer for it.
 *
 * A recovery starts when the connection reports a failure or disconnection,
 * or when no media arrived for #TourRecoveryBin:media-timeout while
 * connected; an offer of a new session from the guide (the guide restarted
 * and lost the session) goes straight to level 3. A first connection that
 * fails (ICE failed, or a state timeout passed) before any media arrived,
 * and stays failed for 1.5 s (libnice reports a passing ICE failure now and
 * then), goes straight to level 3 too, after 0.5-0.75 s instead of the level's
 * backoff (then 1-1.5 s, 2-3 s): a new peer and a new join, so one lost
 * nomination does not leave the attendee waiting for ever; once media has
 * arrived that rule never fires, and a first connection that brings media
 * while its rejoin waits is left alone. A level 3 attempt whose new peer fails
 * (for 1.5 s) before any media counts as failed then rather than at its
 * timeout. Each level gets
 * #TourRecoveryBin:max-recovery-attempts attempts, each after the seed's
 * exponential backoff with jitter and with a timeout from the network profile
 * (10/20/60 s, 1.5x on 3G, 2x on 2G) unless set; an attempt succeeds when its
 * renegotiation completed, the connection is connected and media arrives.
 * When every level is used the element posts an error and its state is
 * failed.
 *
 * #TourRecoveryBin:state is the connection's state, but reconnecting for the
 * whole recovery and failed after giving up. Element messages
 * `tourcast-recovery` (field `event`: `attempt`, `attempt-failed`,
 * `recovered` or `gave-up`; `level`, `attempt`, `total-attempt`, `delay-ms`,
 * `timeout-ms`, `duration-ms`, `reason`, `peer-id`) tell each attempt and
 * outcome; #TourRecoveryBin:recovery-stats has the totals.
 *
 * tourattendeesrc contains one; standalone, it wraps an attendee
 * tourwebrtcbin (child `webrtc`) whose signaller is set as `webrtc::signaller::…`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 tourrecoverybin webrtc::signaller::tour=demo \
 *     webrtc::signaller::language=en webrtc::signaller::redis-url=redis://127.0.0.1:6379 \
 *     webrtc::ice-addresses=127.0.0.1 ! rtpopusdepay ! opusdec ! audioconvert ! autoaudiosink
 * ]| Listens to the guide of channel demo/en and reconnects by itself.
 */
#include "tourrecoverybin.h"

#include <atomic>
#include <mutex>
#include <string>

#include "backoff.h"
#include "profiles.h"
#include "signaller-glue.h"
#include "tourcast-enums.h"
#include "tourcast-worker.h"
#include "toursignaller.h"
#include "tourwebrtcbin.h"

GST_DEBUG_CATEGORY_STATIC(tour_recovery_bin_debug);
#define GST_CAT_DEFAULT tour_recovery_bin_debug

using namespace tourcast;

#define DEFAULT_AUTO_RECOVERY TRUE
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_MEDIA_TIMEOUT_MS 3000
#define TICK_MS 100
#define OPUS_RTP_CAPS "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000"

enum {
  PROP_0,
  PROP_AUTO_RECOVERY,
  PROP_MAX_ATTEMPTS,
  PROP_MEDIA_TIMEOUT,
  PROP_NETWORK,
  PROP_ICE_RESTART_TIMEOUT,
  PROP_SIGNALING_RESET_TIMEOUT,
  PROP_FULL_RECONNECT_TIMEOUT,
  PROP_STATE,
  PROP_RECOVERY_STATS,
};

namespace {

enum class Phase { kIdle, kWaiting, kAttempting, kGaveUp };

}  // namespace

struct TourRecoveryBinPrivate {
  std::mutex lock;
  /* settings */
  bool auto_recovery = DEFAULT_AUTO_RECOVERY;
  guint max_attempts = DEFAULT_MAX_ATTEMPTS;
  guint media_timeout_ms = DEFAULT_MEDIA_TIMEOUT_MS;
  NetworkProfile network = NetworkProfile::kUnknown;
  guint level_timeout_ms[kRecoveryLevelCount] = {0, 0, 0};

  /* runtime */
  GstElement *peer = nullptr;
  GstPad *src = nullptr;
  TourSignaller *signaller = nullptr; /* the peer's, for new-session offers */
  gulong offer_handler = 0;
  GMainContext *worker = nullptr;
  GSource *tick = nullptr;
  std::atomic<gint64> last_media_ms{0};
  RecoveryPlanner planner;
  Phase phase = Phase::kIdle;
  RecoveryStep step;
  gint64 due_ms = 0;
  gint64 action_ms = 0;
  guint baseline_negotiations = 0;
  bool ever_connected = false;
  /* The session recovers a first connection that never carried media: level
   * 3 only, after first_connection_rejoin_delay_ms(). */
  bool first_connection = false;
  /* The peer's condition at the last tick and since when (a new peer starts
   * over). */
  LinkCondition condition = LinkCondition::kOther;
  gint64 condition_since_ms = 0;
  GstElement *condition_of = nullptr; /* compared only, no reference */
  bool guide_restarted = false;
  std::string trigger;
  std::string give_up_error; /* posted on the next tick */
  TourConnectionState shown = TOUR_CONNECTION_STATE_INITIALIZING;
};

struct _TourRecoveryBin {
  GstBin parent;
  TourRecoveryBinPrivate *priv;
};

#define tour_recovery_bin_parent_class parent_class
G_DEFINE_TYPE(TourRecoveryBin, tour_recovery_bin, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE(tourrecoverybin, "tourrecoverybin", GST_RANK_NONE,
                            TOUR_TYPE_RECOVERY_BIN);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(OPUS_RTP_CAPS));

static GParamSpec *state_pspec = nullptr;

struct LevelTimeoutProperty {
  guint prop_id;
  RecoveryLevel level;
  const char *name;
  const char *nick;
};
static const LevelTimeoutProperty kLevelTimeouts[] = {
    {PROP_ICE_RESTART_TIMEOUT, RecoveryLevel::kIceRestart, "ice-restart-timeout",
     "ICE restart timeout"},
    {PROP_SIGNALING_RESET_TIMEOUT, RecoveryLevel::kSignalingReset, "signaling-reset-timeout",
     "Signaling reset timeout"},
    {PROP_FULL_RECONNECT_TIMEOUT, RecoveryLevel::kFullReconnect, "full-reconnect-timeout",
     "Full reconnect timeout"},
};

/* Index in level_timeout_ms of a timeout property, or -1. */
static int level_timeout_index(guint prop_id) {
  for (const LevelTimeoutProperty &p : kLevelTimeouts) {
    if (p.prop_id == prop_id)
      return static_cast<int>(p.level);
  }
  return -1;
}

/* ---------- the peer ---------- */

static TourConnectionState peer_state(GstElement *peer) {
  TourConnectionState state = TOUR_CONNECTION_STATE_INITIALIZING;
  g_object_get(peer, "state", &state, nullptr);
  return state;
}

static guint peer_negotiations(GstElement *peer) {
  guint n = 0;
  g_object_get(peer, "negotiations", &n, nullptr);
  return n;
}

static std::string peer_string(GstElement *peer, const char *property) {
  gchar *value = nullptr;
  g_object_get(peer, property, &value, nullptr);
  std::string text = value ? value : "";
  g_free(value);
  return text;
}

static GstPadProbeReturn on_media(GstPad *, GstPadProbeInfo *, gpointer data) {
  auto *self = TOUR_RECOVERY_BIN(data);
  self->priv->last_media_ms.store(tour_now_ms());
  return GST_PAD_PROBE_OK;
}

static void on_peer_pad_added(GstElement *, GstPad *pad, TourRecoveryBin *self) {
  if (GST_PAD_DIRECTION(pad) == GST_PAD_SRC)
    gst_ghost_pad_set_target(GST_GHOST_PAD(self->priv->src), pad);
}

static void on_peer_state(GObject *, GParamSpec *, TourRecoveryBin *self);

/* The guide offers a session this peer does not carry: it restarted and
 * lost ours, so only a full reconnect can work. */
static void on_offer(TourSignaller *, const gchar *peer_id, const gchar *session_id,
                     GstWebRTCSessionDescription *desc, gpointer data) {
  auto *self = static_cast<TourRecoveryBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return;
  TourRecoveryBinPrivate *priv = self->priv;
  GstElement *peer = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->peer && priv->ever_connected && priv->auto_recovery &&
        desc->type == GST_WEBRTC_SDP_TYPE_OFFER &&
        !(priv->phase == Phase::kAttempting && priv->step.level == RecoveryLevel::kSignalingReset))
      peer = GST_ELEMENT(gst_object_ref(priv->peer));
  }
  if (peer) {
    std::string ours = peer_string(peer, "session-id");
    std::string guide = peer_string(peer, "peer-id");
    if (!ours.empty() && ours != session_id && guide == peer_id) {
      GST_INFO_OBJECT(self, "%s offers session %s, ours is %s: it restarted", peer_id, session_id,
                      ours.c_str());
      std::lock_guard<std::mutex> guard(priv->lock);
      priv->guide_restarted = true;
    }
    gst_object_unref(peer);
  }
  gst_object_unref(self);
}

static void watch_signaller(TourRecoveryBin *self) {
  TourRecoveryBinPrivate *priv = self->priv;
  TourSignaller *signaller = nullptr;
  g_object_get(priv->peer, "signaller", &signaller, nullptr);
  std::lock_guard<std::mutex> guard(priv->lock);
  if (signaller == priv->signaller) {
    g_clear_object(&signaller);
    return;
  }
  if (priv->signaller) {
    g_signal_handler_disconnect(priv->signaller, priv->offer_handler);
    g_clear_object(&priv->signaller);
  }
  priv->signaller = signaller;
  if (signaller)
    priv->offer_handler =
        connect_weak(signaller, "session-description", G_CALLBACK(on_offer), self);
}

static void adopt_peer(TourRecoveryBin *self, GstElement *peer) {
  TourRecoveryBinPrivate *priv = self->priv;
  /* The recovery bounds reconnecting, not the peer's own timeout. */
  g_object_set(peer, "name", "webrtc", "recoverable", TRUE, "reconnecting-timeout", 0u, nullptr);
  g_signal_connect(peer, "pad-added", G_CALLBACK(on_peer_pad_added), self);
  g_signal_connect(peer, "notify::state", G_CALLBACK(on_peer_state), self);
  gst_bin_add(GST_BIN(self), peer);
  std::lock_guard<std::mutex> guard(priv->lock);
  priv->peer = peer;
}

/* ---------- state and messages ---------- */

static void show_state(TourRecoveryBin *self) {
  TourRecoveryBinPrivate *priv = self->priv;
  GstElement *peer = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->peer)
      peer = GST_ELEMENT(gst_object_ref(priv->peer));
  }
  TourConnectionState state = peer ? peer_state(peer) : TOUR_CONNECTION_STATE_INITIALIZING;
  if (peer)
    gst_object_unref(peer);
  bool changed;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->phase == Phase::kGaveUp)
      state = TOUR_CONNECTION_STATE_FAILED;
    else if (priv->phase != Phase::kIdle)
      state = TOUR_CONNECTION_STATE_RECONNECTING;
    changed = state != priv->shown;
    priv->shown = state;
  }
  if (changed)
    g_object_notify_by_pspec(G_OBJECT(self), state_pspec);
}

static void on_peer_state(GObject *, GParamSpec *, TourRecoveryBin *self) {
  show_state(self);
}

static void post_recovery(TourRecoveryBin *self, const char *event, const RecoveryStep &step,
                          gint64 duration_ms, const std::string &reason,
                          const std::string &peer_id) {
  GstStructure *s = gst_structure_new(
      "tourcast-recovery", "event", G_TYPE_STRING, event, "level", G_TYPE_STRING,
      to_string(step.level), "attempt", G_TYPE_INT, step.attempt, "total-attempt", G_TYPE_INT,
      step.total_attempt, "delay-ms", G_TYPE_INT64, (gint64)step.delay_ms, "timeout-ms",
      G_TYPE_INT64, (gint64)step.timeout_ms, "duration-ms", G_TYPE_INT64, duration_ms, "reason",
      G_TYPE_STRING, reason.c_str(), "peer-id", G_TYPE_STRING, peer_id.c_str(), nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

static GstStructure *stats_structure(const RecoveryStats &st) {
  GstStructure *s = gst_structure_new(
      "tourcast-recovery-stats", "sessions", G_TYPE_INT64, (gint64)st.sessions, "recovered",
      G_TYPE_INT64, (gint64)st.recovered, "given-up", G_TYPE_INT64, (gint64)st.given_up, nullptr);
  for (int i = 0; i < kRecoveryLevelCount; i++) {
    std::string level = to_string(static_cast<RecoveryLevel>(i));
    for (char &c : level)
      c = c == '_' ? '-' : c;
    gst_structure_set(s, (level + "-attempts").c_str(), G_TYPE_INT64, (gint64)st.attempts[i],
                      (level + "-successes").c_str(), G_TYPE_INT64, (gint64)st.successes[i],
                      (level + "-failures").c_str(), G_TYPE_INT64, (gint64)st.failures[i],
                      (level + "-ms").c_str(), G_TYPE_INT64, (gint64)st.attempt_ms[i], nullptr);
  }
  gst_structure_set(s, "total-session-ms", G_TYPE_INT64, (gint64)st.total_session_ms,
                    "longest-session-ms", G_TYPE_INT64, (gint64)st.longest_session_ms,
                    "last-session-ms", G_TYPE_INT64, (gint64)st.last_session_ms, nullptr);
  return s;
}

/* ---------- the levels ---------- */

static void request(GstElement *peer, const char *level) {
  TourSignaller *signaller = nullptr;
  g_object_get(peer, "signaller", &signaller, nullptr);
  if (signaller == nullptr)
    return;
  std::string guide = peer_string(peer, "peer-id");
  std::string session = peer_string(peer, "session-id");
  tour_signaller_request_recovery(signaller, guide.c_str(), session.c_str(), level);
  g_object_unref(signaller);
}

/* Level 3: a new tourwebrtcbin of the same settings in place of the old one,
 * then a new join. A signaller the peer owns says goodbye when the old peer
 * stops and joins again when the new one starts; a shared one is asked to
 * join again. */
static void rebuild_peer(TourRecoveryBin *self) {
  TourRecoveryBinPrivate *priv = self->priv;
  GstElement *old;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    old = priv->peer;
    priv->peer = nullptr;
  }
  if (old == nullptr)
    return;
  GstElement *fresh = tour_webrtc_bin_new_like(TOUR_WEBRTC_BIN(old));
  g_signal_handlers_disconnect_by_data(old, self);
  gst_ghost_pad_set_target(GST_GHOST_PAD(priv->src), nullptr);
  gst_element_set_locked_state(old, TRUE);
  gst_element_set_state(old, GST_STATE_NULL);
  gst_bin_remove(GST_BIN(self), old);
  adopt_peer(self, fresh);
  gst_element_sync_state_with_parent(fresh);
  if (tour_webrtc_bin_has_shared_signaller(TOUR_WEBRTC_BIN(fresh))) {
    TourSignaller *signaller = nullptr;
    g_object_get(fresh, "signaller", &signaller, nullptr);
    if (signaller) {
      tour_signaller_request_recovery(signaller, "", "", "full_reconnect");
      g_object_unref(signaller);
    }
  }
  watch_signaller(self);
}

static void act(TourRecoveryBin *self, RecoveryLevel level) {
  TourRecoveryBinPrivate *priv = self->priv;
  GstElement *peer = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->peer)
      peer = GST_ELEMENT(gst_object_ref(priv->peer));
  }
  if (peer == nullptr)
    return;
  switch (level) {
    case RecoveryLevel::kIceRestart:
      request(peer, "ice_restart");
      break;
    case RecoveryLevel::kSignalingReset:
      tour_webrtc_bin_expect_new_session(TOUR_WEBRTC_BIN(peer));
      request(peer, "signaling_reset");
      break;
    case RecoveryLevel::kFullReconnect:
      rebuild_peer(self);
      break;
  }
  gst_object_unref(peer);
}

/* ---------- the watchdog: every TICK_MS on the worker ---------- */

static void plan_next(TourRecoveryBin *self, bool failed, gint64 now, std::string *event_reason,
                      bool *gave_up) {
  TourRecoveryBinPrivate *priv = self->priv;
  RecoveryStep step = priv->planner.next(failed, now, g_random_double());
  priv->step = step;
  *gave_up = step.give_up;
  if (step.give_up) {
    priv->phase = Phase::kGaveUp;
    *event_reason = step.reason;
    return;
  }
  if (priv->level_timeout_ms[static_cast<int>(step.level)] > 0)
    priv->step.timeout_ms = priv->level_timeout_ms[static_cast<int>(step.level)];
  if (priv->first_connection)
    priv->step.delay_ms = first_connection_rejoin_delay_ms(step.attempt, g_random_double());
  priv->phase = Phase::kWaiting;
  priv->due_ms = now + priv->step.delay_ms;
}

static LinkCondition link_condition(TourConnectionState state) {
  switch (state) {
    case TOUR_CONNECTION_STATE_CONNECTED:
      return LinkCondition::kConnected;
    case TOUR_CONNECTION_STATE_RECONNECTING:
      return LinkCondition::kReconnecting;
    case TOUR_CONNECTION_STATE_FAILED:
      return LinkCondition::kFailed;
    default:
      return LinkCondition::kOther;
  }
}

static gboolean on_tick(gpointer data) {
  auto *self = static_cast<TourRecoveryBin *>(g_weak_ref_get(static_cast<GWeakRef *>(data)));
  if (self == nullptr)
    return G_SOURCE_REMOVE;
  TourRecoveryBinPrivate *priv = self->priv;
  GstElement *peer = nullptr;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->peer)
      peer = GST_ELEMENT(gst_object_ref(priv->peer));
  }
  if (peer == nullptr) {
    gst_object_unref(self);
    return G_SOURCE_CONTINUE;
  }
  const gint64 now = tour_now_ms();
  const TourConnectionState state = peer_state(peer);
  const guint negotiations = peer_negotiations(peer);
  const std::string peer_id = peer_string(peer, "peer-id");
  gst_object_unref(peer);
  const gint64 last_media = priv->last_media_ms.load();

  /* What to do once the lock is released. */
  const char *event = nullptr;
  RecoveryStep step;
  std::string reason;
  gint64 duration = 0;
  bool do_act = false, gave_up = false;
  std::string error;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (state == TOUR_CONNECTION_STATE_CONNECTED && last_media > 0)
      priv->ever_connected = true;
    const LinkCondition condition = link_condition(state);
    if (condition != priv->condition || priv->condition_of != peer) {
      priv->condition = condition;
      priv->condition_since_ms = now;
      priv->condition_of = peer;
    }
    const gint64 ms_in_condition = now - priv->condition_since_ms;
    switch (priv->phase) {
      case Phase::kIdle: {
        if (!priv->auto_recovery)
          break;
        const RecoveryTrigger trigger =
            recovery_trigger(condition, ms_in_condition, priv->ever_connected, last_media > 0,
                             priv->guide_restarted, now - last_media, priv->media_timeout_ms);
        reason = trigger.reason;
        if (reason.empty())
          break;
        priv->trigger = reason;
        priv->first_connection = trigger.first_connection;
        if (priv->guide_restarted || trigger.first_connection)
          priv->planner.escalate(RecoveryLevel::kFullReconnect, now);
        priv->guide_restarted = false;
        GST_INFO_OBJECT(self, "recovery starts: %s", reason.c_str());
        plan_next(self, false, now, &reason, &gave_up);
        step = priv->step;
        event = gave_up ? "gave-up" : "attempt";
        break;
      }
      case Phase::kWaiting:
        if (priv->guide_restarted && priv->step.level != RecoveryLevel::kFullReconnect) {
          priv->guide_restarted = false;
          priv->planner.escalate(RecoveryLevel::kFullReconnect, now);
          reason = "the guide offers a new session: it restarted";
          plan_next(self, false, now, &reason, &gave_up);
          step = priv->step;
          event = gave_up ? "gave-up" : "attempt";
          break;
        }
        if (priv->first_connection && last_media > 0) {
          /* The first connection came up by itself after all: a new
           * peer now would cut the audio it just started. */
          step = priv->step;
          priv->planner.record_success(now);
          priv->phase = Phase::kIdle;
          event = "recovered";
          reason = priv->trigger;
          break;
        }
        if (now < priv->due_ms)
          break;
        priv->phase = Phase::kAttempting;
        priv->action_ms = now;
        priv->baseline_negotiations =
            priv->step.level == RecoveryLevel::kFullReconnect ? 0 : negotiations;
        step = priv->step;
        do_act = true;
        break;
      case Phase::kAttempting: {
        bool negotiated = negotiations > priv->baseline_negotiations;
        if (negotiated && state == TOUR_CONNECTION_STATE_CONNECTED &&
            last_media > priv->action_ms) {
          step = priv->step;
          duration = now - priv->action_ms;
          priv->planner.record_success(now);
          priv->phase = Phase::kIdle;
          event = "recovered";
          reason = priv->trigger;
          break;
        }
        const bool guide_restarted =
            priv->guide_restarted && priv->step.level != RecoveryLevel::kFullReconnect;
        const bool new_peer_failed = rebuilt_peer_failed(
            priv->step.level, condition, ms_in_condition, last_media > priv->action_ms);
        if (now - priv->action_ms < priv->step.timeout_ms && !guide_restarted && !new_peer_failed)
          break;
        step = priv->step;
        duration = now - priv->action_ms;
        if (guide_restarted)
          reason = "the guide offers a new session: it restarted";
        else if (new_peer_failed)
          reason = "the new peer's connection failed before any media";
        else
          reason = "no recovery within " + std::to_string(step.timeout_ms) + " ms";
        if (guide_restarted) {
          priv->guide_restarted = false;
          priv->planner.escalate(RecoveryLevel::kFullReconnect, now);
        }
        event = "attempt-failed";
        break;
      }
      case Phase::kGaveUp:
        /* The error goes a tick after the gave-up message and the failed
         * state, which an application (gst-launch) would otherwise not see:
         * it stops at the error. */
        error.swap(priv->give_up_error);
        break;
    }
  }

  if (event && g_strcmp0(event, "attempt-failed") == 0) {
    post_recovery(self, event, step, duration, reason, peer_id);
    GST_INFO_OBJECT(self, "%s attempt %d failed: %s", to_string(step.level), step.attempt,
                    reason.c_str());
    std::string why;
    {
      std::lock_guard<std::mutex> guard(priv->lock);
      plan_next(self, true, now, &why, &gave_up);
      step = priv->step;
    }
    event = gave_up ? "gave-up" : "attempt";
    reason = gave_up ? why : reason;
    duration = 0;
  }
  if (event) {
    if (gave_up)
      show_state(self); /* failed, before the error stops the pipeline */
    post_recovery(self, event, step, duration, reason, peer_id);
    if (g_strcmp0(event, "attempt") == 0)
      GST_INFO_OBJECT(self,
                      "%s attempt %d (%d in all) in %" G_GINT64_FORMAT
                      " ms, timeout %" G_GINT64_FORMAT " ms",
                      to_string(step.level), step.attempt, step.total_attempt,
                      (gint64)step.delay_ms, (gint64)step.timeout_ms);
    else if (g_strcmp0(event, "recovered") == 0)
      GST_INFO_OBJECT(self, "recovered by %s (attempt %d) in %" G_GINT64_FORMAT " ms",
                      to_string(step.level), step.attempt, duration);
    if (gave_up) {
      std::lock_guard<std::mutex> guard(priv->lock);
      priv->give_up_error = "connection to " +
                            (peer_id.empty() ? std::string("the guide") : peer_id) +
                            " lost and not recovered: " + step.reason;
    }
  }
  if (!error.empty())
    GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("%s", error.c_str()),
                      ("every recovery level tried"));
  if (do_act) {
    GST_INFO_OBJECT(self, "trying %s (attempt %d)", to_string(step.level), step.attempt);
    act(self, step.level);
  }
  show_state(self);
  gst_object_unref(self);
  return G_SOURCE_CONTINUE;
}

/* ---------- element ---------- */

static void start(TourRecoveryBin *self) {
  TourRecoveryBinPrivate *priv = self->priv;
  watch_signaller(self);
  GstElement *peer = tour_recovery_bin_get_peer(self);
  gboolean recover;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    recover = priv->auto_recovery;
  }
  /* Without recovery a failure is final, as for a plain tourwebrtcbin. */
  g_object_set(peer, "recoverable", recover, nullptr);
  gst_object_unref(peer);
  std::lock_guard<std::mutex> guard(priv->lock);
  RecoveryPolicy policy;
  policy.attempts_per_level = {(int)priv->max_attempts, (int)priv->max_attempts,
                               (int)priv->max_attempts};
  policy.max_total_attempts = 3 * (int)priv->max_attempts;
  policy.network = priv->network;
  priv->planner = RecoveryPlanner(policy);
  priv->phase = Phase::kIdle;
  priv->ever_connected = false;
  priv->first_connection = false;
  priv->guide_restarted = false;
  priv->last_media_ms.store(0);
  priv->worker = tour_worker_acquire();
  /* Aligned: the ticks of all attendees in a process share one wake-up. */
  priv->tick = tour_aligned_tick_source_new(TICK_MS);
  g_source_set_callback(priv->tick, on_tick, new_weak_ref(self), free_weak_ref);
  g_source_attach(priv->tick, priv->worker);
}

static void stop(TourRecoveryBin *self) {
  TourRecoveryBinPrivate *priv = self->priv;
  bool release = false;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->tick) {
      g_source_destroy(priv->tick);
      g_source_unref(priv->tick);
      priv->tick = nullptr;
    }
    release = priv->worker != nullptr;
    priv->worker = nullptr;
  }
  /* The last release joins the worker, which may be in a tick waiting for
   * the lock. */
  if (release)
    tour_worker_release();
}

static GstStateChangeReturn tour_recovery_bin_change_state(GstElement *element,
                                                           GstStateChange transition) {
  auto *self = TOUR_RECOVERY_BIN(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    start(self);
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop(self);
  return ret;
}

GstElement *tour_recovery_bin_get_peer(TourRecoveryBin *self) {
  g_return_val_if_fail(TOUR_IS_RECOVERY_BIN(self), nullptr);
  std::lock_guard<std::mutex> guard(self->priv->lock);
  return self->priv->peer ? GST_ELEMENT(gst_object_ref(self->priv->peer)) : nullptr;
}

static void tour_recovery_bin_init(TourRecoveryBin *self) {
  self->priv = new TourRecoveryBinPrivate();
  TourRecoveryBinPrivate *priv = self->priv;
  priv->src =
      gst_ghost_pad_new_no_target_from_template("src", gst_static_pad_template_get(&src_template));
  gst_pad_add_probe(priv->src,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    on_media, self, nullptr);
  gst_element_add_pad(GST_ELEMENT(self), priv->src);
  adopt_peer(self,
             GST_ELEMENT(g_object_new(TOUR_TYPE_WEBRTC_BIN, "role", TOUR_ROLE_ATTENDEE, nullptr)));
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
}

static void tour_recovery_bin_dispose(GObject *object) {
  auto *self = TOUR_RECOVERY_BIN(object);
  TourRecoveryBinPrivate *priv = self->priv;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->signaller) {
      g_signal_handler_disconnect(priv->signaller, priv->offer_handler);
      g_clear_object(&priv->signaller);
    }
    priv->peer = nullptr;
  }
  G_OBJECT_CLASS(parent_class)->dispose(object);
}

static void tour_recovery_bin_finalize(GObject *object) {
  delete TOUR_RECOVERY_BIN(object)->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void tour_recovery_bin_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_RECOVERY_BIN(object);
  TourRecoveryBinPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_AUTO_RECOVERY:
      priv->auto_recovery = g_value_get_boolean(value);
      break;
    case PROP_MAX_ATTEMPTS:
      priv->max_attempts = g_value_get_uint(value);
      break;
    case PROP_MEDIA_TIMEOUT:
      priv->media_timeout_ms = g_value_get_uint(value);
      break;
    case PROP_NETWORK: {
      NetworkProfile network = NetworkProfile::kUnknown;
      const char *text = g_value_get_string(value);
      if (text && !network_profile_from_string(text, &network))
        GST_WARNING_OBJECT(self, "unknown network \"%s\" (unknown, wifi, 4g, 3g or 2g)", text);
      priv->network = network;
      break;
    }
    default:
      if (level_timeout_index(prop_id) >= 0)
        priv->level_timeout_ms[level_timeout_index(prop_id)] = g_value_get_uint(value);
      else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_recovery_bin_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  auto *self = TOUR_RECOVERY_BIN(object);
  TourRecoveryBinPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  switch (prop_id) {
    case PROP_AUTO_RECOVERY:
      g_value_set_boolean(value, priv->auto_recovery);
      break;
    case PROP_MAX_ATTEMPTS:
      g_value_set_uint(value, priv->max_attempts);
      break;
    case PROP_MEDIA_TIMEOUT:
      g_value_set_uint(value, priv->media_timeout_ms);
      break;
    case PROP_NETWORK:
      g_value_set_string(value, to_string(priv->network));
      break;
    case PROP_STATE:
      g_value_set_enum(value, priv->shown);
      break;
    case PROP_RECOVERY_STATS:
      g_value_take_boxed(value, stats_structure(priv->planner.stats()));
      break;
    default:
      if (level_timeout_index(prop_id) >= 0)
        g_value_set_uint(value, priv->level_timeout_ms[level_timeout_index(prop_id)]);
      else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_recovery_bin_class_init(TourRecoveryBinClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(tour_recovery_bin_debug, "tourrecoverybin", 0,
                          "tourcast connection recovery");

  gobject_class->dispose = tour_recovery_bin_dispose;
  gobject_class->finalize = tour_recovery_bin_finalize;
  gobject_class->set_property = tour_recovery_bin_set_property;
  gobject_class->get_property = tour_recovery_bin_get_property;
  element_class->change_state = tour_recovery_bin_change_state;

  const auto flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  const auto ready_flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_AUTO_RECOVERY,
      g_param_spec_boolean("auto-recovery", "Auto recovery",
                           "Recover a lost connection by itself (the seed's enableAutoRecovery)",
                           DEFAULT_AUTO_RECOVERY, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_ATTEMPTS,
      g_param_spec_uint("max-recovery-attempts", "Max recovery attempts",
                        "Attempts at each of the three levels before the next level, and "
                        "before giving up after the last (the seed's maxRecoveryAttempts; 0 "
                        "gives up at once)",
                        0, 100, DEFAULT_MAX_ATTEMPTS, ready_flags));
  g_object_class_install_property(
      gobject_class, PROP_MEDIA_TIMEOUT,
      g_param_spec_uint("media-timeout", "Media timeout",
                        "Milliseconds without received media on a connected connection that "
                        "start a recovery (0 = only failures reported by ICE/DTLS do)",
                        0, 600000, DEFAULT_MEDIA_TIMEOUT_MS, flags));
  g_object_class_install_property(
      gobject_class, PROP_NETWORK,
      g_param_spec_string("network", "Network",
                          "The attendee's network (unknown, wifi, 4g, 3g or 2g): 3g and 2g get "
                          "1.5x and 2x the recovery timeouts and backoff",
                          "unknown", ready_flags));
  for (const LevelTimeoutProperty &p : kLevelTimeouts) {
    gchar *blurb = g_strdup_printf(
        "Milliseconds one %s attempt may take before it counts as failed (0 = the "
        "network's: %" G_GINT64_FORMAT " ms, 1.5x on 3g, 2x on 2g)",
        to_string(p.level), (gint64)default_recovery_timeout_ms(p.level));
    g_object_class_install_property(
        gobject_class, p.prop_id,
        g_param_spec_uint(p.name, p.nick, blurb, 0, 3600000, 0,
                          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_NAME |
                                        G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_READY)));
    g_free(blurb);
  }
  state_pspec = g_param_spec_enum(
      "state", "State",
      "Connection state: the peer connection's, but reconnecting for a whole recovery and "
      "failed after giving up",
      TOUR_TYPE_CONNECTION_STATE, TOUR_CONNECTION_STATE_INITIALIZING,
      (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(gobject_class, PROP_STATE, state_pspec);
  g_object_class_install_property(
      gobject_class, PROP_RECOVERY_STATS,
      g_param_spec_boxed("recovery-stats", "Recovery statistics",
                         "Recovery sessions, recovered and given up; per level "
                         "(ice-restart-, signaling-reset-, full-reconnect-) attempts, "
                         "successes, failures and milliseconds spent; session durations in ms",
                         GST_TYPE_STRUCTURE,
                         (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template(element_class, &src_template);
  /* gst-inspect-1.0 prints every metadata key: a line a user can paste. */
  gst_element_class_add_static_metadata(
      element_class, "example",
      "gst-launch-1.0 tourrecoverybin webrtc::signaller::tour=demo "
      "webrtc::signaller::language=en webrtc::signaller::redis-url=redis://127.0.0.1:6379 "
      "webrtc::ice-addresses=127.0.0.1 ! rtpopusdepay ! opusdec ! audioconvert ! "
      "autoaudiosink");
  gst_element_class_set_static_metadata(
      element_class, "tourcast connection recovery", "Source/Network/WebRTC/Bin",
      "Recovers an attendee's WebRTC connection by ICE restart, signaling reset or full "
      "reconnect, with the seed's backoff, and reports each attempt",
      "tourcast developers");
}
