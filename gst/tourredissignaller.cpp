/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:tourredissignaller
 * @title: TourRedisSignaller
 *
 * A #TourSignaller that coordinates one tour/language channel through Redis,
 * following the seed's schema:
 *
 * - `webrtc:coordination:{tour}:{language}`: the channel's coordination JSON
 *   (guideReady, attendeeReady, iceExchangeStarted, lastHeartbeat,
 *   connectionPhase, participants), updated atomically by a Lua script.
 * - `webrtc:participant:{tour}:{language}:{id}`: each participant's record,
 *   refreshed every heartbeat-interval and expiring after three missed beats.
 * - `webrtc:offer:{tour}:{language}:{attendee}`: the guide's offer for an
 *   attendee; an attendee that arrives first leaves a placeholder, which the
 *   guide's offer replaces atomically (the result says whether it did).
 * - `webrtc:ice_candidates:{tour}:{language}`: the candidate queue, each entry
 *   with a per-session sequence number.
 * - pub/sub channels `webrtc:signal:{tour}:{language}:{recipient}` and
 *   `webrtc:broadcast:{tour}:{language}` carry the signaling events.
 *
 * All Redis I/O happens on the process-wide tourcast worker thread; signals
 * are emitted from that thread.
 */
#include "tourredissignaller.h"

#include <array>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <gst/sdp/sdp.h>

#include "adaptation.h"
#include "backoff.h"
#include "ice_buffer.h"
#include "redis-connection.h"
#include "redis-scripts.h"
#include "redis_schema.h"
#include "tourcast-worker.h"

GST_DEBUG_CATEGORY(tour_redis_debug);
#define GST_CAT_DEFAULT tour_redis_debug

using namespace tourcast;

#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379"
#define DEFAULT_HEARTBEAT_INTERVAL_MS 5000
#define DEFAULT_CONNECT_ATTEMPTS 5
#define DEFAULT_RETRY_DELAY_MS 200
#define DEFAULT_GAP_TIMEOUT_MS 500
#define GUIDE_CHANNEL_RECIPIENT "guide"
#define CANDIDATE_QUEUE_MAX 1000
#define CANDIDATE_QUEUE_TTL_MS (3600 * 1000)
#define GOODBYE_WAIT_MS 1000
#define RECONNECT_DELAY_MS 1000
#define COORDINATION_TTL_MS (24 * 3600 * 1000)
/* Offers and answers outlive a missed heartbeat or two: an attendee's
 * heartbeat keeps its own alive, and they go a minute after it did. */
#define OFFER_TTL_MS 60000
/* How long the guide keeps telling a waiting attendee its join is queued. */
#define QUEUED_MAX_MS 120000
/* Status changes reach the coordination key at most this often: each update
 * rewrites the whole document (every attendee's entry) inside Redis, and a
 * guide makes several per peer, so during a join storm they kept Redis, and
 * every message waiting behind them, busy for seconds. */
#define COORDINATION_COALESCE_MS 250

enum {
  PROP_0,
  PROP_ROLE,
  PROP_PARTICIPANT_ID,
  PROP_REDIS_URL,
  PROP_TOUR,
  PROP_LANGUAGE,
  PROP_HEARTBEAT_INTERVAL,
  PROP_CONNECT_ATTEMPTS,
  PROP_RETRY_DELAY,
  PROP_GAP_TIMEOUT,
  PROP_PROFILE,
  PROP_BATTERY_SAVING,
  PROP_REQUESTED_LEVEL,
};

namespace {

struct Settings {
  TourRole role = TOUR_ROLE_ATTENDEE;
  std::string participant_id;
  std::string redis_url = DEFAULT_REDIS_URL;
  std::string tour;
  std::string language;
  guint heartbeat_interval_ms = DEFAULT_HEARTBEAT_INTERVAL_MS;
  guint connect_attempts = DEFAULT_CONNECT_ATTEMPTS;
  guint retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
  guint gap_timeout_ms = DEFAULT_GAP_TIMEOUT_MS;
  std::string profile;
  bool battery_saving = false;
  std::string requested_level; /* empty: the guide chooses */
};

struct IncomingSession {
  std::string peer_id;
  CandidateSequencer sequencer;
  bool fetching_queue = false;
  explicit IncomingSession(std::string peer, int64_t gap_ms)
      : peer_id(std::move(peer)), sequencer(gap_ms) {}
};

struct PeerView {
  std::string state = "initializing";
  bool gathered = false;
  /* Guide: when the attendee's join arrived (monotonic ms) and whether its
   * offer went out; until then the guide tells it its join is queued. */
  int64_t joined_ms = 0;
  bool offered = false;
};

}  // namespace

struct TourRedisSignallerPrivate {
  std::mutex lock; /* guards settings */
  Settings settings;

  /* Everything below is touched only on the worker thread, or before start /
   * after stop when the worker holds no reference to it. */
  Settings active;
  RedisUrl url;
  GMainContext *context = nullptr;
  std::unique_ptr<RedisConnection> commands;
  std::unique_ptr<RedisConnection> subscriber;
  bool running = false;
  bool registered = false;
  bool was_registered = false;
  GSource *heartbeat_source = nullptr;
  GSource *gap_source = nullptr;
  GSource *reconnect_source = nullptr;
  /* Status for the coordination key not yet written (empty: unchanged). */
  GSource *coordination_source = nullptr;
  std::string pending_connected, pending_gathered, pending_phase;
  bool ice_exchange_written = false;
  std::string join_id;
  PeerView self_view;
  std::map<std::string, uint64_t> outgoing_sequence;                /* by session */
  std::map<std::string, std::unique_ptr<IncomingSession>> incoming; /* by session */
  std::map<std::string, PeerView> peers;                            /* guide: attendees by id */
  std::set<std::string> sessions_with_candidates;
  std::set<std::string> warned;
  /* Guide: recoveries its attendees asked for, per level (a new join id
   * of a known attendee is a full reconnect), for the participant record. */
  std::array<int64_t, kRecoveryLevelCount> recoveries{};
  std::map<std::string, std::string> join_ids; /* guide: attendees' last join ids */
};

struct _TourRedisSignaller {
  GObject parent;
  TourRedisSignallerPrivate *priv;
};

static void tour_redis_signaller_iface_init(TourSignallerInterface *iface);

G_DEFINE_TYPE_WITH_CODE(TourRedisSignaller, tour_redis_signaller, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(TOUR_TYPE_SIGNALLER, tour_redis_signaller_iface_init))

/* ---------- helpers (worker thread) ---------- */

namespace {

struct WorkerCall {
  TourRedisSignaller *self;
  std::function<void()> fn;
};

/* Runs @fn on the worker thread, keeping @self alive until it ran. */
void run_on_worker(TourRedisSignaller *self, std::function<void()> fn) {
  GMainContext *context = self->priv->context;
  if (context == nullptr)
    return;
  auto *call = new WorkerCall{TOUR_REDIS_SIGNALLER(g_object_ref(self)), std::move(fn)};
  g_main_context_invoke_full(
      context, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *c = static_cast<WorkerCall *>(data);
        if (c->self->priv->running)
          c->fn();
        return G_SOURCE_REMOVE;
      },
      call,
      [](gpointer data) {
        auto *c = static_cast<WorkerCall *>(data);
        g_object_unref(c->self);
        delete c;
      });
}

GSource *add_timeout(GMainContext *context, guint ms, GSourceFunc fn, gpointer data) {
  GSource *source = g_timeout_source_new(ms);
  g_source_set_callback(source, fn, data, nullptr);
  g_source_attach(source, context);
  return source;
}

void clear_source(GSource **source) {
  if (*source) {
    g_source_destroy(*source);
    g_source_unref(*source);
    *source = nullptr;
  }
}

std::string role_name(TourRole role) {
  return role == TOUR_ROLE_GUIDE ? "guide" : "attendee";
}

std::string hex_id() {
  char buf[17];
  g_snprintf(buf, sizeof buf, "%08x%08x", g_random_int(), g_random_int());
  return buf;
}

bool is_guide(TourRedisSignaller *self) {
  return self->priv->active.role == TOUR_ROLE_GUIDE;
}

std::string own_channel(TourRedisSignaller *self) {
  const Settings &s = self->priv->active;
  return signal_channel(s.tour, s.language,
                        is_guide(self) ? GUIDE_CHANNEL_RECIPIENT : s.participant_id);
}

std::string peer_channel(TourRedisSignaller *self, const std::string &peer) {
  const Settings &s = self->priv->active;
  return signal_channel(s.tour, s.language, is_guide(self) ? peer : GUIDE_CHANNEL_RECIPIENT);
}

guint ttl_ms(TourRedisSignaller *self) {
  return self->priv->active.heartbeat_interval_ms * 3;
}

void send_command(TourRedisSignaller *self, std::vector<std::string> args,
                  RedisConnection::ReplyHandler handler = nullptr);

/* The same problem (a bad key, say) is met again on every heartbeat: say it
 * once per session of the signaller. */
void warn(TourRedisSignaller *self, const std::string &message) {
  if (!self->priv->warned.insert(message).second)
    return;
  GST_WARNING_OBJECT(self, "%s", message.c_str());
  tour_signaller_emit_warning(TOUR_SIGNALLER(self), message.c_str());
}

void send_command(TourRedisSignaller *self, std::vector<std::string> args,
                  RedisConnection::ReplyHandler handler) {
  TourRedisSignallerPrivate *priv = self->priv;
  if (!priv->commands || !priv->commands->is_open()) {
    GST_DEBUG_OBJECT(self, "Redis not connected, dropping %s", args[0].c_str());
    if (handler)
      handler(nullptr, "not connected to Redis");
    return;
  }
  std::string name = args[0];
  priv->commands->command(
      args, [self, name, handler](const redisReply *reply, const std::string &error) {
        if (handler) {
          handler(reply, error);
          return;
        }
        if (!error.empty() && self->priv->running)
          GST_INFO_OBJECT(self, "Redis %s failed: %s", name.c_str(), error.c_str());
      });
}

void update_coordination(TourRedisSignaller *self, const char *op, const std::string &connected,
                         const std::string &gathered, const std::string &phase,
                         RedisConnection::ReplyHandler done = nullptr) {
  const Settings &s = self->priv->active;
  /* participant_key(t, l, "") is the prefix of every participant's key. The
   * guide drops the expired attendees on its join and heartbeats only: it
   * costs one EXISTS per attendee. */
  bool prune_now = is_guide(self) && (g_str_equal(op, "join") || g_str_equal(op, "heartbeat"));
  std::string prune = prune_now ? participant_key(s.tour, s.language, "") : "";
  send_command(self,
               {"EVAL", kUpdateCoordinationScript, "1", coordination_key(s.tour, s.language),
                role_name(s.role), s.participant_id, std::to_string(tour_epoch_ms()), op, connected,
                gathered, phase, prune, std::to_string(COORDINATION_TTL_MS)},
               [self, done](const redisReply *reply, const std::string &error) {
                 if (error.rfind(kMalformedCoordinationTag, 0) == 0) {
                   warn(self, "Redis key " + error.substr(sizeof kMalformedCoordinationTag));
                 } else if (!error.empty() && self->priv->running) {
                   GST_INFO_OBJECT(self, "coordination update failed: %s", error.c_str());
                 }
                 if (done)
                   done(reply, error);
               });
}

gboolean on_coordination_due(gpointer data) {
  auto *self = TOUR_REDIS_SIGNALLER(data);
  TourRedisSignallerPrivate *priv = self->priv;
  clear_source(&priv->coordination_source);
  update_coordination(self, "status", priv->pending_connected, priv->pending_gathered,
                      priv->pending_phase);
  priv->pending_connected.clear();
  priv->pending_gathered.clear();
  priv->pending_phase.clear();
  return G_SOURCE_REMOVE;
}

/* A status change for the coordination key, written with the others of the
 * next COORDINATION_COALESCE_MS: the newest connected/gathered flags and
 * phase win. A phase that would replace a different pending one goes out
 * first, and so does the first ice_exchange (it sets iceExchangeStarted). */
void update_coordination_soon(TourRedisSignaller *self, const std::string &connected,
                              const std::string &gathered, const std::string &phase) {
  TourRedisSignallerPrivate *priv = self->priv;
  bool replaces_phase =
      !phase.empty() && !priv->pending_phase.empty() && phase != priv->pending_phase;
  if (replaces_phase && priv->coordination_source)
    on_coordination_due(self);
  if (!connected.empty())
    priv->pending_connected = connected;
  if (!gathered.empty())
    priv->pending_gathered = gathered;
  if (!phase.empty())
    priv->pending_phase = phase;
  if (phase == "ice_exchange" && !priv->ice_exchange_written) {
    priv->ice_exchange_written = true;
    clear_source(&priv->coordination_source);
    on_coordination_due(self);
    return;
  }
  if (priv->coordination_source == nullptr)
    priv->coordination_source =
        add_timeout(priv->context, COORDINATION_COALESCE_MS, on_coordination_due, self);
}

void write_participant(TourRedisSignaller *self) {
  TourRedisSignallerPrivate *priv = self->priv;
  const Settings &s = priv->active;
  ParticipantRecord record;
  record.id = s.participant_id;
  record.role = is_guide(self) ? Role::kGuide : Role::kAttendee;
  record.tour = s.tour;
  record.language = s.language;
  record.last_seen = tour_epoch_ms();
  record.joined_at = record.last_seen;
  record.state = priv->self_view.state;
  record.connected = priv->self_view.state == "connected";
  record.ice_gathering_complete = priv->self_view.gathered;
  record.profile = s.profile;
  record.has_recoveries = is_guide(self);
  record.recoveries = priv->recoveries;
  send_command(self, {"SET", participant_key(s.tour, s.language, s.participant_id),
                      encode_participant(record), "PX", std::to_string(ttl_ms(self))});
}

void publish(TourRedisSignaller *self, const std::string &channel, SignalMessage message) {
  message.from = self->priv->active.participant_id;
  message.timestamp = tour_epoch_ms();
  send_command(self, {"PUBLISH", channel, encode_signal(message)});
}

/* An attendee's join or status: who it is and what it says about itself. */
void publish_to_guide(TourRedisSignaller *self, SignalType type) {
  TourRedisSignallerPrivate *priv = self->priv;
  SignalMessage message;
  message.type = type;
  message.to = GUIDE_CHANNEL_RECIPIENT;
  message.session = priv->join_id;
  message.profile = priv->active.profile;
  message.battery_saving = priv->active.battery_saving;
  message.quality_level = priv->active.requested_level;
  publish(self, peer_channel(self, GUIDE_CHANNEL_RECIPIENT), message);
}

/* Guide: tells an attendee its join is taken and its offer will come, so
 * that during a join storm it keeps waiting instead of timing out (its
 * tourwebrtcbin counts the initializing timeout again from each one). */
void publish_queued(TourRedisSignaller *self, const std::string &attendee,
                    const std::string &join_id) {
  SignalMessage message;
  message.type = SignalType::kQueued;
  message.to = attendee;
  message.session = join_id;
  /* The next word comes on a heartbeat; three missed ones mean the guide is
   * gone, as for participant records. */
  message.wait_ms = ttl_ms(self);
  publish(self, peer_channel(self, attendee), message);
}

/* Guide, on each heartbeat: the attendees still waiting for their offer
 * hear again that they are queued, for at most QUEUED_MAX_MS after their
 * join (a join the guide refused, e.g. over max-attendees, must still time
 * out at the attendee). */
void refresh_queued(TourRedisSignaller *self) {
  TourRedisSignallerPrivate *priv = self->priv;
  int64_t now = tour_now_ms();
  for (const auto &entry : priv->join_ids) {
    auto peer = priv->peers.find(entry.first);
    if (peer == priv->peers.end() || peer->second.offered ||
        now - peer->second.joined_ms > QUEUED_MAX_MS)
      continue;
    publish_queued(self, entry.first, entry.second);
  }
}

void announce(TourRedisSignaller *self) {
  TourRedisSignallerPrivate *priv = self->priv;
  const Settings &s = priv->active;
  write_participant(self);
  update_coordination(self, "join", "", "", "");
  SignalMessage message;
  if (is_guide(self)) {
    message.type = SignalType::kGuideReady;
    publish(self, channel_broadcast(s.tour, s.language), message);
  } else {
    OfferRecord placeholder;
    placeholder.placeholder = true;
    placeholder.timestamp = tour_epoch_ms();
    send_command(self, {"SET", offer_key(s.tour, s.language, s.participant_id),
                        encode_offer(placeholder), "NX", "PX", std::to_string(OFFER_TTL_MS)});
    publish_to_guide(self, SignalType::kJoin);
  }
  priv->registered = true;
  priv->was_registered = true;
}

/* The guide notices attendees whose participant key expired (vanished
 * without a goodbye) on its heartbeat. */
void check_expired_attendees(TourRedisSignaller *self) {
  const Settings &s = self->priv->active;
  for (const auto &entry : self->priv->peers) {
    std::string id = entry.first;
    send_command(self, {"EXISTS", participant_key(s.tour, s.language, id)},
                 [self, id](const redisReply *reply, const std::string &error) {
                   if (!error.empty() || reply == nullptr || reply->type != REDIS_REPLY_INTEGER ||
                       reply->integer != 0 || !self->priv->running)
                     return;
                   if (self->priv->peers.erase(id) == 0)
                     return;
                   self->priv->join_ids.erase(id);
                   GST_INFO_OBJECT(self, "attendee %s expired (no heartbeat)", id.c_str());
                   tour_signaller_emit_peer_left(TOUR_SIGNALLER(self), id.c_str());
                 });
  }
}

gboolean on_heartbeat(gpointer data) {
  auto *self = TOUR_REDIS_SIGNALLER(data);
  if (self->priv->commands && self->priv->commands->is_open()) {
    write_participant(self);
    /* An attendee's liveness is its participant record; rewriting the
     * coordination document (every attendee's entry) on each attendee's
     * heartbeat made Redis's work grow with the square of the attendees. */
    if (is_guide(self))
      update_coordination(self, "heartbeat", "", "", "");
    if (is_guide(self)) {
      check_expired_attendees(self);
      refresh_queued(self);
    } else {
      const Settings &s = self->priv->active;
      for (const std::string &key : {offer_key(s.tour, s.language, s.participant_id),
                                     answer_key(s.tour, s.language, s.participant_id)})
        send_command(self, {"PEXPIRE", key, std::to_string(OFFER_TTL_MS)});
    }
  }
  return G_SOURCE_CONTINUE;
}

void deliver_candidates(TourRedisSignaller *self, const std::string &session,
                        const std::vector<BufferedCandidate> &ready) {
  auto it = self->priv->incoming.find(session);
  if (it == self->priv->incoming.end())
    return;
  std::string peer = it->second->peer_id;
  for (const auto &c : ready)
    tour_signaller_emit_handle_ice(TOUR_SIGNALLER(self), peer.c_str(), session.c_str(), c.mline,
                                   c.candidate.c_str());
}

void schedule_gap_check(TourRedisSignaller *self);

gboolean on_gap_timeout(gpointer data) {
  auto *self = TOUR_REDIS_SIGNALLER(data);
  clear_source(&self->priv->gap_source);
  int64_t now = tour_now_ms();
  std::vector<std::string> sessions;
  for (const auto &entry : self->priv->incoming)
    sessions.push_back(entry.first);
  for (const auto &session : sessions) {
    auto it = self->priv->incoming.find(session);
    if (it == self->priv->incoming.end())
      continue;
    std::vector<uint64_t> skipped;
    auto ready = it->second->sequencer.poll(now, &skipped);
    for (uint64_t seq : skipped)
      GST_WARNING_OBJECT(self,
                         "candidate %" G_GUINT64_FORMAT
                         " of session %s never arrived; "
                         "going on without it",
                         seq, session.c_str());
    deliver_candidates(self, session, ready);
  }
  schedule_gap_check(self);
  return G_SOURCE_REMOVE;
}

void schedule_gap_check(TourRedisSignaller *self) {
  int64_t deadline = -1;
  for (const auto &entry : self->priv->incoming) {
    int64_t d = entry.second->sequencer.next_deadline_ms();
    if (d >= 0 && (deadline < 0 || d < deadline))
      deadline = d;
  }
  clear_source(&self->priv->gap_source);
  if (deadline < 0)
    return;
  int64_t wait = deadline - tour_now_ms();
  self->priv->gap_source =
      add_timeout(self->priv->context, wait > 0 ? (guint)wait : 0, on_gap_timeout, self);
}

/* A gap in the peer's sequence: the missing candidate may be in the queue
 * (published before we subscribed); look there before waiting it out. */
void fetch_missing_from_queue(TourRedisSignaller *self, const std::string &session) {
  auto it = self->priv->incoming.find(session);
  if (it == self->priv->incoming.end() || it->second->fetching_queue)
    return;
  it->second->fetching_queue = true;
  const Settings &s = self->priv->active;
  send_command(self, {"LRANGE", ice_candidates_key(s.tour, s.language), "0", "-1"},
               [self, session](const redisReply *reply, const std::string &error) {
                 auto found = self->priv->incoming.find(session);
                 if (found == self->priv->incoming.end())
                   return;
                 found->second->fetching_queue = false;
                 if (!error.empty() || reply == nullptr || reply->type != REDIS_REPLY_ARRAY)
                   return;
                 int64_t now = tour_now_ms();
                 for (size_t i = 0; i < reply->elements; i++) {
                   const redisReply *e = reply->element[i];
                   if (e->type != REDIS_REPLY_STRING)
                     continue;
                   CandidateRecord record;
                   std::string err;
                   if (!decode_candidate(std::string_view(e->str, e->len), &record, &err) ||
                       record.session != session || record.from != found->second->peer_id)
                     continue;
                   BufferedCandidate c;
                   c.candidate = record.candidate;
                   c.mline = record.mline;
                   c.sequence = record.sequence;
                   c.priority = record.priority;
                   c.timestamp_ms = now;
                   deliver_candidates(self, session, found->second->sequencer.receive(c, now));
                 }
                 schedule_gap_check(self);
               });
}

void handle_candidate(TourRedisSignaller *self, const SignalMessage &message) {
  TourRedisSignallerPrivate *priv = self->priv;
  auto it = priv->incoming.find(message.session);
  if (it == priv->incoming.end()) {
    it = priv->incoming
             .emplace(message.session,
                      std::make_unique<IncomingSession>(message.from, priv->active.gap_timeout_ms))
             .first;
  } else if (it->second->peer_id != message.from) {
    warn(self, "ignored candidate for session " + message.session + " from " + message.from +
                   ", which belongs to " + it->second->peer_id);
    return;
  }
  BufferedCandidate c;
  c.candidate = message.candidate;
  c.mline = message.mline;
  c.sequence = message.sequence;
  c.timestamp_ms = tour_now_ms();
  uint32_t priority = 0;
  if (parse_candidate_priority(message.candidate, &priority))
    c.priority = priority;
  auto ready = it->second->sequencer.receive(c, c.timestamp_ms);
  bool gap = it->second->sequencer.held() > 0;
  deliver_candidates(self, message.session, ready);
  if (gap)
    fetch_missing_from_queue(self, message.session);
  schedule_gap_check(self);
}

void handle_description(TourRedisSignaller *self, const SignalMessage &message,
                        GstWebRTCSDPType type) {
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text(message.sdp.c_str(), &sdp) != GST_SDP_OK || sdp == nullptr) {
    warn(self, "ignored an unparsable SDP " +
                   std::string(type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer") + " from " +
                   message.from);
    return;
  }
  GstWebRTCSessionDescription *desc = gst_webrtc_session_description_new(type, sdp);
  tour_signaller_emit_session_description(TOUR_SIGNALLER(self), message.from.c_str(),
                                          message.session.c_str(), desc);
  gst_webrtc_session_description_free(desc);
}

void emit_peer_status(TourRedisSignaller *self, const SignalMessage &message) {
  GstStructure *status = gst_structure_new("tourcast-peer-status", "battery-saving", G_TYPE_BOOLEAN,
                                           message.battery_saving, nullptr);
  if (!message.profile.empty())
    gst_structure_set(status, "profile", G_TYPE_STRING, message.profile.c_str(), nullptr);
  if (!message.quality_level.empty())
    gst_structure_set(status, "requested-level", G_TYPE_STRING, message.quality_level.c_str(),
                      nullptr);
  tour_signaller_emit_peer_status(TOUR_SIGNALLER(self), message.from.c_str(), status);
  gst_structure_free(status);
}

/* An attendee tells the guide at once: battery saving moves its level
 * within a second, not on the next heartbeat. */
void publish_status(TourRedisSignaller *self) {
  TourRedisSignallerPrivate *priv = self->priv;
  if (is_guide(self) || !priv->registered)
    return;
  publish_to_guide(self, SignalType::kStatus);
}

void on_message(TourRedisSignaller *self, const std::string &channel, const std::string &payload) {
  TourRedisSignallerPrivate *priv = self->priv;
  SignalMessage message;
  std::string error;
  if (!decode_signal(payload, &message, &error)) {
    warn(self, "ignored a malformed signaling message on " + channel + ": " + error);
    return;
  }
  if (message.from == priv->active.participant_id)
    return;
  bool guide = is_guide(self);
  switch (message.type) {
    case SignalType::kJoin:
      if (guide) {
        auto known = priv->join_ids.find(message.from);
        if (known != priv->join_ids.end() && known->second != message.session)
          priv->recoveries[static_cast<int>(RecoveryLevel::kFullReconnect)]++;
        bool again = known != priv->join_ids.end() && known->second == message.session;
        priv->join_ids[message.from] = message.session;
        PeerView &view = priv->peers[message.from];
        if (!again) {
          view.joined_ms = tour_now_ms();
          view.offered = false;
        }
        if (!view.offered)
          publish_queued(self, message.from, message.session);
        tour_signaller_emit_peer_joined(TOUR_SIGNALLER(self), message.from.c_str(),
                                        message.session.c_str());
        emit_peer_status(self, message);
      }
      break;
    case SignalType::kStatus:
      if (guide && priv->peers.count(message.from))
        emit_peer_status(self, message);
      break;
    case SignalType::kLeave:
      if (guide) {
        priv->peers.erase(message.from);
        priv->join_ids.erase(message.from);
      }
      tour_signaller_emit_peer_left(TOUR_SIGNALLER(self), message.from.c_str());
      break;
    case SignalType::kGuideReady:
      if (!guide && priv->registered) {
        publish_to_guide(self, SignalType::kJoin);
      }
      break;
    case SignalType::kOffer:
      if (!guide)
        handle_description(self, message, GST_WEBRTC_SDP_TYPE_OFFER);
      break;
    case SignalType::kAnswer:
      if (guide)
        handle_description(self, message, GST_WEBRTC_SDP_TYPE_ANSWER);
      break;
    case SignalType::kCandidate:
      handle_candidate(self, message);
      break;
    case SignalType::kRecover:
      if (guide) {
        RecoveryLevel level;
        if (recovery_level_from_string(message.level, &level))
          priv->recoveries[static_cast<int>(level)]++;
      }
      if (guide)
        tour_signaller_emit_recovery_requested(TOUR_SIGNALLER(self), message.from.c_str(),
                                               message.session.c_str(), message.level.c_str());
      break;
    case SignalType::kEndOfCandidates:
      break;
    case SignalType::kQueued:
      if (!guide && message.session == priv->join_id) {
        GstStructure *details = gst_structure_new(
            "queued", "peer-id", G_TYPE_STRING, message.from.c_str(), "session-id", G_TYPE_STRING,
            message.session.c_str(), "wait-ms", G_TYPE_UINT, (guint)message.wait_ms, nullptr);
        tour_signaller_emit_info(TOUR_SIGNALLER(self), "queued", details);
        gst_structure_free(details);
      }
      break;
    case SignalType::kPeerOffer:
      if (guide) {
        priv->peers.emplace(message.from, PeerView());
        tour_signaller_emit_peer_offered(TOUR_SIGNALLER(self), message.from.c_str(),
                                         message.session.c_str(), message.sdp.c_str());
        /* A browser states its profile with its offer (WHEP ?profile=). */
        if (!message.profile.empty() || message.battery_saving || !message.quality_level.empty())
          emit_peer_status(self, message);
      }
      break;
  }
}

void connect_redis(TourRedisSignaller *self);

gboolean on_reconnect_timeout(gpointer data) {
  auto *self = TOUR_REDIS_SIGNALLER(data);
  clear_source(&self->priv->reconnect_source);
  connect_redis(self);
  return G_SOURCE_REMOVE;
}

/* Media does not depend on Redis: losing it mid-session is a warning and the
 * signaller keeps reconnecting, then announces itself again. */
void on_connection_lost(TourRedisSignaller *self, const std::string &error) {
  TourRedisSignallerPrivate *priv = self->priv;
  if (!priv->running || priv->reconnect_source)
    return;
  warn(self, error + "; reconnecting every " + std::to_string(RECONNECT_DELAY_MS) + " ms");
  priv->registered = false;
  clear_source(&priv->heartbeat_source);
  if (priv->commands)
    priv->commands->close();
  if (priv->subscriber)
    priv->subscriber->close();
  priv->reconnect_source =
      add_timeout(priv->context, RECONNECT_DELAY_MS, on_reconnect_timeout, self);
}

void on_open_failed(TourRedisSignaller *self, const std::string &error) {
  TourRedisSignallerPrivate *priv = self->priv;
  if (!priv->running)
    return;
  if (priv->was_registered) {
    /* Mid-session: keep trying, the media goes on meanwhile. */
    GST_INFO_OBJECT(self, "%s", error.c_str());
    priv->reconnect_source =
        add_timeout(priv->context, RECONNECT_DELAY_MS, on_reconnect_timeout, self);
    return;
  }
  GST_ERROR_OBJECT(self, "%s", error.c_str());
  tour_signaller_emit_error(TOUR_SIGNALLER(self), error.c_str());
}

void connect_redis(TourRedisSignaller *self) {
  TourRedisSignallerPrivate *priv = self->priv;
  const Settings &s = priv->active;
  std::string who = s.tour + "/" + s.language + "/" + s.participant_id;
  priv->commands = std::make_unique<RedisConnection>(priv->context, priv->url, who + " commands");
  priv->subscriber =
      std::make_unique<RedisConnection>(priv->context, priv->url, who + " subscriber");
  auto lost = [self](const std::string &error) { on_connection_lost(self, error); };
  priv->commands->open(
      s.connect_attempts, s.retry_delay_ms,
      [self, lost](bool ok, const std::string &error) {
        TourRedisSignallerPrivate *p = self->priv;
        if (!ok) {
          on_open_failed(self, error);
          return;
        }
        p->subscriber->open(
            p->active.connect_attempts, p->active.retry_delay_ms,
            [self](bool ok2, const std::string &error2) {
              TourRedisSignallerPrivate *q = self->priv;
              if (!ok2) {
                on_open_failed(self, error2);
                return;
              }
              const Settings &st = q->active;
              q->subscriber->subscribe(
                  {own_channel(self), channel_broadcast(st.tour, st.language)},
                  [self](const std::string &channel, const std::string &payload) {
                    on_message(self, channel, payload);
                  },
                  [self]() {
                    TourRedisSignallerPrivate *r = self->priv;
                    announce(self);
                    clear_source(&r->heartbeat_source);
                    r->heartbeat_source = add_timeout(r->context, r->active.heartbeat_interval_ms,
                                                      on_heartbeat, self);
                  });
            },
            lost);
      },
      lost);
}

}  // namespace

/* ---------- TourSignaller implementation ---------- */

static gboolean tour_redis_signaller_start(TourSignaller *signaller, GError **error) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  TourRedisSignallerPrivate *priv = self->priv;
  Settings settings;
  {
    std::lock_guard<std::mutex> guard(priv->lock);
    if (priv->settings.participant_id.empty())
      priv->settings.participant_id =
          priv->settings.role == TOUR_ROLE_GUIDE ? "guide" : "attendee-" + hex_id();
    settings = priv->settings;
  }
  if (priv->running) {
    g_set_error(error, TOUR_SIGNALLER_ERROR, TOUR_SIGNALLER_ERROR_INVALID_SETTING,
                "signaller already started");
    return FALSE;
  }
  std::string why;
  RedisUrl url;
  if (!validate_name(NameKind::kTour, settings.tour, &why) ||
      !validate_name(NameKind::kLanguage, settings.language, &why) ||
      !validate_name(NameKind::kParticipantId, settings.participant_id, &why) ||
      !parse_redis_url(settings.redis_url, &url, &why)) {
    g_set_error(error, TOUR_SIGNALLER_ERROR, TOUR_SIGNALLER_ERROR_INVALID_SETTING, "%s",
                why.c_str());
    return FALSE;
  }
  priv->active = settings;
  priv->url = url;
  priv->join_id = hex_id();
  priv->recoveries = {};
  priv->was_registered = false;
  priv->self_view = PeerView();
  priv->context = tour_worker_acquire();
  priv->running = true;
  GST_INFO_OBJECT(self, "starting %s %s on %s/%s via %s", role_name(settings.role).c_str(),
                  settings.participant_id.c_str(), settings.tour.c_str(), settings.language.c_str(),
                  redis_url_to_string(url, true).c_str());
  run_on_worker(self, [self]() { connect_redis(self); });
  return TRUE;
}

namespace {

struct StopCall {
  TourRedisSignaller *self;
  std::mutex lock;
  std::condition_variable cond;
  bool goodbye_written = false;
};

gboolean stop_send_goodbye(gpointer data) {
  auto *call = static_cast<StopCall *>(data);
  TourRedisSignaller *self = call->self;
  TourRedisSignallerPrivate *priv = self->priv;
  clear_source(&priv->heartbeat_source);
  clear_source(&priv->gap_source);
  clear_source(&priv->reconnect_source);
  clear_source(&priv->coordination_source);
  auto finish = [call](const redisReply *, const std::string &) {
    std::lock_guard<std::mutex> guard(call->lock);
    call->goodbye_written = true;
    call->cond.notify_all();
  };
  if (!priv->registered || !priv->commands || !priv->commands->is_open()) {
    finish(nullptr, {});
    return G_SOURCE_REMOVE;
  }
  const Settings &s = priv->active;
  SignalMessage bye;
  bye.type = SignalType::kLeave;
  if (is_guide(self)) {
    publish(self, channel_broadcast(s.tour, s.language), bye);
  } else {
    bye.to = GUIDE_CHANNEL_RECIPIENT;
    publish(self, peer_channel(self, GUIDE_CHANNEL_RECIPIENT), bye);
    send_command(self, {"DEL", offer_key(s.tour, s.language, s.participant_id),
                        answer_key(s.tour, s.language, s.participant_id)});
  }
  send_command(self, {"DEL", participant_key(s.tour, s.language, s.participant_id)});
  update_coordination(self, "leave", "", "", "", finish);
  return G_SOURCE_REMOVE;
}

gboolean stop_close(gpointer data) {
  auto *self = TOUR_REDIS_SIGNALLER(data);
  TourRedisSignallerPrivate *priv = self->priv;
  priv->running = false;
  priv->registered = false;
  clear_source(&priv->heartbeat_source);
  clear_source(&priv->gap_source);
  clear_source(&priv->reconnect_source);
  clear_source(&priv->coordination_source);
  priv->pending_connected.clear();
  priv->pending_gathered.clear();
  priv->pending_phase.clear();
  priv->ice_exchange_written = false;
  priv->commands.reset();
  priv->subscriber.reset();
  priv->incoming.clear();
  priv->outgoing_sequence.clear();
  priv->peers.clear();
  priv->join_ids.clear();
  priv->sessions_with_candidates.clear();
  priv->warned.clear();
  return G_SOURCE_REMOVE;
}

}  // namespace

static void tour_redis_signaller_stop(TourSignaller *signaller) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  TourRedisSignallerPrivate *priv = self->priv;
  if (!priv->running)
    return;
  g_object_ref(self);
  if (!tour_worker_is_current_thread()) {
    StopCall call;
    call.self = self;
    tour_worker_invoke_sync(stop_send_goodbye, &call);
    std::unique_lock<std::mutex> guard(call.lock);
    call.cond.wait_for(guard, std::chrono::milliseconds(GOODBYE_WAIT_MS),
                       [&call] { return call.goodbye_written; });
  }
  tour_worker_invoke_sync(stop_close, self);
  priv->context = nullptr;
  tour_worker_release();
  g_object_unref(self);
}

static void tour_redis_signaller_send_sdp(TourSignaller *signaller, const gchar *peer_id,
                                          const gchar *session_id,
                                          GstWebRTCSessionDescription *desc) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  gchar *text = gst_sdp_message_as_text(desc->sdp);
  std::string sdp = text;
  g_free(text);
  bool offer = desc->type == GST_WEBRTC_SDP_TYPE_OFFER;
  std::string peer = peer_id, session = session_id;
  run_on_worker(self, [self, sdp, offer, peer, session]() {
    const Settings &s = self->priv->active;
    SignalMessage message;
    message.type = offer ? SignalType::kOffer : SignalType::kAnswer;
    message.to = peer;
    message.session = session;
    message.sdp = sdp;
    OfferRecord record;
    record.placeholder = false;
    record.sdp = sdp;
    record.from = s.participant_id;
    record.session = session;
    record.timestamp = tour_epoch_ms();
    if (offer) {
      auto view = self->priv->peers.find(peer);
      if (view != self->priv->peers.end())
        view->second.offered = true;
      send_command(self,
                   {"EVAL", kReplaceOfferScript, "1", offer_key(s.tour, s.language, peer),
                    encode_offer(record), std::to_string(OFFER_TTL_MS)},
                   [self, peer, session](const redisReply *reply, const std::string &error) {
                     if (!error.empty() || reply == nullptr)
                       return;
                     GstStructure *details = gst_structure_new(
                         "offer-stored", "peer-id", G_TYPE_STRING, peer.c_str(), "session-id",
                         G_TYPE_STRING, session.c_str(), "placeholder-replaced", G_TYPE_BOOLEAN,
                         reply->type == REDIS_REPLY_INTEGER && reply->integer == 1, nullptr);
                     tour_signaller_emit_info(TOUR_SIGNALLER(self), "offer-stored", details);
                     gst_structure_free(details);
                   });
      update_coordination_soon(self, "", "", "offer_sent");
    } else {
      /* The guide answers browsers (peer-offer): the answer is theirs. */
      const std::string &answerer = is_guide(self) ? peer : s.participant_id;
      send_command(self, {"SET", answer_key(s.tour, s.language, answerer), encode_offer(record),
                          "PX", std::to_string(OFFER_TTL_MS)});
      update_coordination_soon(self, "", "", "answer_sent");
    }
    publish(self, peer_channel(self, peer), message);
  });
}

static void tour_redis_signaller_add_ice(TourSignaller *signaller, const gchar *peer_id,
                                         const gchar *session_id, guint mline,
                                         const gchar *candidate) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  std::string peer = peer_id, session = session_id, cand = candidate;
  run_on_worker(self, [self, peer, session, cand, mline]() {
    TourRedisSignallerPrivate *priv = self->priv;
    const Settings &s = priv->active;
    CandidateRecord record;
    record.from = s.participant_id;
    record.to = peer;
    record.session = session;
    record.sequence = ++priv->outgoing_sequence[session];
    record.mline = mline;
    record.candidate = cand;
    uint32_t priority = 0;
    if (parse_candidate_priority(cand, &priority))
      record.priority = priority;
    record.timestamp = tour_epoch_ms();
    SignalMessage message;
    message.type = SignalType::kCandidate;
    message.from = s.participant_id;
    message.to = peer;
    message.session = session;
    message.candidate = cand;
    message.mline = mline;
    message.sequence = record.sequence;
    message.timestamp = record.timestamp;
    send_command(self,
                 {"EVAL", kPushCandidateScript, "1", ice_candidates_key(s.tour, s.language),
                  encode_candidate(record), peer_channel(self, peer), encode_signal(message),
                  std::to_string(CANDIDATE_QUEUE_MAX), std::to_string(CANDIDATE_QUEUE_TTL_MS)});
    if (priv->sessions_with_candidates.insert(session).second)
      update_coordination_soon(self, "", "", "ice_exchange");
  });
}

static void tour_redis_signaller_report_status(TourSignaller *signaller, const gchar *peer_id,
                                               const gchar *state,
                                               gboolean ice_gathering_complete) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  std::string peer = peer_id, st = state;
  bool gathered = ice_gathering_complete;
  run_on_worker(self, [self, peer, st, gathered]() {
    TourRedisSignallerPrivate *priv = self->priv;
    PeerView &view = is_guide(self) ? priv->peers[peer] : priv->self_view;
    if (view.state == st && view.gathered == gathered)
      return;
    bool newly_connected = st == "connected" && view.state != "connected";
    bool newly_failed = st == "failed" && view.state != "failed";
    view.state = st;
    view.gathered = gathered;
    bool any_connected = false;
    if (is_guide(self)) {
      for (const auto &p : priv->peers)
        any_connected = any_connected || p.second.state == "connected";
    } else {
      any_connected = st == "connected";
      write_participant(self);
    }
    if (is_guide(self)) {
      /* The guide's own record tells whether it is serving anybody. */
      std::string own = any_connected         ? "connected"
                        : priv->peers.empty() ? "initializing"
                                              : "connecting";
      bool own_gathered = gathered || priv->self_view.gathered;
      if (own != priv->self_view.state || own_gathered != priv->self_view.gathered) {
        priv->self_view.state = own;
        priv->self_view.gathered = own_gathered;
        write_participant(self);
      }
    }
    std::string phase = newly_connected ? "connected" : newly_failed ? "failed" : "";
    update_coordination_soon(self, any_connected ? "1" : "0", gathered ? "1" : "0", phase);
  });
}

static void tour_redis_signaller_end_session(TourSignaller *signaller, const gchar *peer_id,
                                             const gchar *session_id) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  std::string peer = peer_id, session = session_id;
  run_on_worker(self, [self, peer, session]() {
    TourRedisSignallerPrivate *priv = self->priv;
    priv->incoming.erase(session);
    priv->outgoing_sequence.erase(session);
    priv->sessions_with_candidates.erase(session);
    if (is_guide(self))
      priv->peers.erase(peer);
  });
}

static void tour_redis_signaller_report_channel(TourSignaller *signaller, const gchar *json) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  std::string report = json;
  run_on_worker(self, [self, report]() {
    const Settings &s = self->priv->active;
    if (!is_guide(self) || !self->priv->commands || !self->priv->commands->is_open())
      return;
    send_command(self, {"SET", diagnostics_key(s.tour, s.language), report, "PX",
                        std::to_string(ttl_ms(self))});
  });
}

/* ice_restart and signaling_reset go to the guide as a "recover" message;
 * full_reconnect is a join with a new join id, which makes the guide replace
 * its peer connection for this attendee. */
static void tour_redis_signaller_request_recovery(TourSignaller *signaller, const gchar *peer_id,
                                                  const gchar *session_id, const gchar *level) {
  auto *self = TOUR_REDIS_SIGNALLER(signaller);
  std::string peer = peer_id, session = session_id, lvl = level;
  run_on_worker(self, [self, peer, session, lvl]() {
    TourRedisSignallerPrivate *priv = self->priv;
    if (!priv->running || is_guide(self))
      return;
    if (lvl == "full_reconnect") {
      priv->join_id = hex_id();
      publish_to_guide(self, SignalType::kJoin);
      return;
    }
    SignalMessage message;
    message.type = SignalType::kRecover;
    message.to = peer;
    message.session = session;
    message.level = lvl;
    publish(self, peer_channel(self, peer), message);
  });
}

static void tour_redis_signaller_iface_init(TourSignallerInterface *iface) {
  iface->start = tour_redis_signaller_start;
  iface->stop = tour_redis_signaller_stop;
  iface->send_sdp = tour_redis_signaller_send_sdp;
  iface->add_ice = tour_redis_signaller_add_ice;
  iface->report_status = tour_redis_signaller_report_status;
  iface->end_session = tour_redis_signaller_end_session;
  iface->report_channel = tour_redis_signaller_report_channel;
  iface->request_recovery = tour_redis_signaller_request_recovery;
}

/* ---------- GObject ---------- */

static void tour_redis_signaller_init(TourRedisSignaller *self) {
  self->priv = new TourRedisSignallerPrivate();
}

static void tour_redis_signaller_dispose(GObject *object) {
  tour_redis_signaller_stop(TOUR_SIGNALLER(object));
  G_OBJECT_CLASS(tour_redis_signaller_parent_class)->dispose(object);
}

static void tour_redis_signaller_finalize(GObject *object) {
  delete TOUR_REDIS_SIGNALLER(object)->priv;
  G_OBJECT_CLASS(tour_redis_signaller_parent_class)->finalize(object);
}

static void tour_redis_signaller_set_property(GObject *object, guint prop_id, const GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_REDIS_SIGNALLER(object);
  /* What the attendee says about itself: told to the guide at once. */
  if (prop_id == PROP_BATTERY_SAVING || prop_id == PROP_REQUESTED_LEVEL) {
    bool on = false;
    std::string level;
    {
      std::lock_guard<std::mutex> guard(self->priv->lock);
      if (prop_id == PROP_BATTERY_SAVING) {
        self->priv->settings.battery_saving = on = g_value_get_boolean(value);
      } else {
        const gchar *text = g_value_get_string(value);
        level = text && g_strcmp0(text, "auto") != 0 ? text : "";
        QualityLevel parsed;
        if (!level.empty() && !quality_level_from_string(level, &parsed)) {
          g_warning(
              "tourredissignaller: requested-level \"%s\" is not maximum, high, medium, "
              "low, minimum or auto; ignored",
              level.c_str());
          return;
        }
        self->priv->settings.requested_level = level;
      }
    }
    run_on_worker(self, [self, prop_id, on, level]() {
      if (prop_id == PROP_BATTERY_SAVING)
        self->priv->active.battery_saving = on;
      else
        self->priv->active.requested_level = level;
      publish_status(self);
    });
    return;
  }
  std::lock_guard<std::mutex> guard(self->priv->lock);
  Settings &s = self->priv->settings;
  switch (prop_id) {
    case PROP_ROLE:
      s.role = (TourRole)g_value_get_enum(value);
      break;
    case PROP_PARTICIPANT_ID:
      s.participant_id = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_REDIS_URL:
      s.redis_url = g_value_get_string(value) ? g_value_get_string(value) : DEFAULT_REDIS_URL;
      break;
    case PROP_TOUR:
      s.tour = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_LANGUAGE:
      s.language = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_HEARTBEAT_INTERVAL:
      s.heartbeat_interval_ms = g_value_get_uint(value);
      break;
    case PROP_CONNECT_ATTEMPTS:
      s.connect_attempts = g_value_get_uint(value);
      break;
    case PROP_RETRY_DELAY:
      s.retry_delay_ms = g_value_get_uint(value);
      break;
    case PROP_GAP_TIMEOUT:
      s.gap_timeout_ms = g_value_get_uint(value);
      break;
    case PROP_PROFILE:
      s.profile = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_redis_signaller_get_property(GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec) {
  auto *self = TOUR_REDIS_SIGNALLER(object);
  std::lock_guard<std::mutex> guard(self->priv->lock);
  const Settings &s = self->priv->settings;
  switch (prop_id) {
    case PROP_ROLE:
      g_value_set_enum(value, s.role);
      break;
    case PROP_PARTICIPANT_ID:
      g_value_set_string(value, s.participant_id.empty() ? nullptr : s.participant_id.c_str());
      break;
    case PROP_REDIS_URL:
      g_value_set_string(value, s.redis_url.c_str());
      break;
    case PROP_TOUR:
      g_value_set_string(value, s.tour.empty() ? nullptr : s.tour.c_str());
      break;
    case PROP_LANGUAGE:
      g_value_set_string(value, s.language.empty() ? nullptr : s.language.c_str());
      break;
    case PROP_HEARTBEAT_INTERVAL:
      g_value_set_uint(value, s.heartbeat_interval_ms);
      break;
    case PROP_CONNECT_ATTEMPTS:
      g_value_set_uint(value, s.connect_attempts);
      break;
    case PROP_RETRY_DELAY:
      g_value_set_uint(value, s.retry_delay_ms);
      break;
    case PROP_GAP_TIMEOUT:
      g_value_set_uint(value, s.gap_timeout_ms);
      break;
    case PROP_PROFILE:
      g_value_set_string(value, s.profile.empty() ? nullptr : s.profile.c_str());
      break;
    case PROP_BATTERY_SAVING:
      g_value_set_boolean(value, s.battery_saving);
      break;
    case PROP_REQUESTED_LEVEL:
      g_value_set_string(value, s.requested_level.empty() ? "auto" : s.requested_level.c_str());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tour_redis_signaller_class_init(TourRedisSignallerClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  gobject_class->dispose = tour_redis_signaller_dispose;
  gobject_class->finalize = tour_redis_signaller_finalize;
  gobject_class->set_property = tour_redis_signaller_set_property;
  gobject_class->get_property = tour_redis_signaller_get_property;

  const auto flags =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_override_property(gobject_class, PROP_ROLE, "role");
  g_object_class_override_property(gobject_class, PROP_PARTICIPANT_ID, "participant-id");
  g_object_class_install_property(
      gobject_class, PROP_REDIS_URL,
      g_param_spec_string("redis-url", "Redis URL",
                          "Redis server: redis://[[user][:password]@]host[:port][/db]",
                          DEFAULT_REDIS_URL, flags));
  g_object_class_install_property(
      gobject_class, PROP_TOUR,
      g_param_spec_string("tour", "Tour", "Tour id (1-64 letters, digits, '-' or '_')", nullptr,
                          flags));
  g_object_class_install_property(
      gobject_class, PROP_LANGUAGE,
      g_param_spec_string("language", "Language",
                          "Language channel of the tour (1-64 letters, digits, '-' or '_')",
                          nullptr, flags));
  g_object_class_install_property(
      gobject_class, PROP_HEARTBEAT_INTERVAL,
      g_param_spec_uint("heartbeat-interval", "Heartbeat interval",
                        "Milliseconds between heartbeats; a participant that misses three "
                        "expires",
                        100, 600000, DEFAULT_HEARTBEAT_INTERVAL_MS, flags));
  g_object_class_install_property(
      gobject_class, PROP_CONNECT_ATTEMPTS,
      g_param_spec_uint("connect-attempts", "Connect attempts",
                        "Attempts to reach Redis at start before giving up with an error", 1, 100,
                        DEFAULT_CONNECT_ATTEMPTS, flags));
  g_object_class_install_property(gobject_class, PROP_RETRY_DELAY,
                                  g_param_spec_uint("retry-delay", "Retry delay",
                                                    "Milliseconds between attempts to reach Redis",
                                                    10, 60000, DEFAULT_RETRY_DELAY_MS, flags));
  g_object_class_install_property(
      gobject_class, PROP_GAP_TIMEOUT,
      g_param_spec_uint("gap-timeout", "Gap timeout",
                        "Milliseconds to wait for a candidate missing from the peer's "
                        "sequence before going on without it",
                        10, 60000, DEFAULT_GAP_TIMEOUT_MS, flags));
  g_object_class_install_property(
      gobject_class, PROP_PROFILE,
      g_param_spec_string("profile", "Profile",
                          "The device/network profile written into the participant record "
                          "(e.g. \"mobile/3g\")",
                          nullptr, flags));
  g_object_class_install_property(
      gobject_class, PROP_BATTERY_SAVING,
      g_param_spec_boolean(
          "battery-saving", "Battery saving",
          "The attendee saves battery: tells the guide at once, which lowers its level to the "
          "profile's battery level",
          FALSE,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_REQUESTED_LEVEL,
      g_param_spec_string(
          "requested-level", "Requested level",
          "The level the attendee asks the guide to hold it at (maximum, high, medium, low, "
          "minimum), or auto to let the guide follow its reports; told to the guide at once",
          "auto",
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
}
