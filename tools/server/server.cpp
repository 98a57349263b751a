#include "server.h"

#include <sys/random.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gst/sdp/sdp.h>
#include <nlohmann/json.hpp>

#include "adaptation.h"
#include "diagnostics.h"
#include "ice_buffer.h"
#include "profiles.h"
#include "quality.h"
#include "redis-scripts.h"
#include "whip.h"

namespace tourcast_server {

using Json = nlohmann::json;
using tourcast::HttpResource;
using tourcast_tools::RedisClient;
using tourcast_tools::Reply;

namespace {

constexpr int kRedisTimeoutMs = 2000;
constexpr int kParticipantTtlMs = 30000;  // a browser listener that stops reporting expires
constexpr int kResourceTtlMs = 60000;
constexpr int kPublisherTtlMs = 15000;
constexpr int kOfferTtlMs = 60000;
constexpr int kCandidateQueueMax = 1000;
constexpr int kCandidateQueueTtlMs = 3600 * 1000;
constexpr int kCandidateQuietMs = 300;  // after the answer: how long to wait for more candidates
constexpr int kCandidateWaitMaxMs = 2000;
constexpr const char *kGuideRecipient = "guide";

int64_t epoch_ms() {
  return g_get_real_time() / 1000;
}

std::string header(SoupServerMessage *msg, const char *name) {
  const char *v = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), name);
  return v ? v : "";
}

// Media type without parameters, lower case ("application/sdp").
std::string media_type(SoupServerMessage *msg) {
  const char *type =
      soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), nullptr);
  if (type == nullptr)
    return "";
  gchar *lower = g_ascii_strdown(type, -1);
  std::string result = lower;
  g_free(lower);
  return result;
}

std::string body_of(SoupServerMessage *msg) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (body == nullptr || body->length == 0)
    return "";
  GBytes *bytes = soup_message_body_flatten(body);
  gsize size = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &size));
  std::string text(data ? data : "", size);
  g_bytes_unref(bytes);
  return text;
}

const char *query_value(GHashTable *query, const char *name) {
  return query ? static_cast<const char *>(g_hash_table_lookup(query, name)) : nullptr;
}

bool sdp_parses(const std::string &text) {
  GstSDPMessage *sdp = nullptr;
  bool ok = gst_sdp_message_new_from_text(text.c_str(), &sdp) == GST_SDP_OK && sdp != nullptr &&
            gst_sdp_message_medias_len(sdp) > 0;
  if (sdp)
    gst_sdp_message_free(sdp);
  return ok;
}

// RTCPeerConnection.connectionState -> the seed's state names.
const char *state_from_browser(const std::string &state) {
  if (state == "new")
    return "initializing";
  if (state == "connecting")
    return "connecting";
  if (state == "connected")
    return "connected";
  if (state == "disconnected")
    return "reconnecting";
  if (state == "failed")
    return "failed";
  return "closed";
}

}  // namespace

// One join waiting for its guide's answer (a thread per join, bounded by max_pending_joins).
struct Server::Pending {
  Server *server = nullptr;
  SoupServerMessage *msg = nullptr;
  bool client_gone = false;
  gulong finished_handler = 0;
  std::string id;
  HttpResource resource;
  std::string offer;
  std::string profile;  // as stated with the offer (canonical), or empty
  // Result.
  std::string answer;
  std::vector<tourcast::SdpCandidate> candidates;
  int status = 0;
  std::string error;
};

struct Server::Whip {
  std::unique_ptr<WhipPublisher> publisher;
  std::string tour, language;
  guint refresh = 0;
};

Server::Server(ServerConfig config) : config_(std::move(config)) {}

Server::~Server() {
  stop();
}

std::string Server::new_id() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0)
      got += static_cast<size_t>(n);
    else if (errno != EINTR)
      g_error("getrandom failed: %s", g_strerror(errno));
  }
  static const char *hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

bool Server::start(std::string *error) {
  if (!tourcast::parse_redis_url(config_.redis_url, &redis_url_, error))
    return false;
  if (!config_.token_file.empty()) {
    gchar *text = nullptr;
    gsize size = 0;
    GError *gerror = nullptr;
    if (!g_file_get_contents(config_.token_file.c_str(), &text, &size, &gerror)) {
      *error = std::string("cannot read the token file: ") + gerror->message;
      g_error_free(gerror);
      return false;
    }
    std::string content(text, size);
    g_free(text);
    if (!tourcast::parse_token_file(content, &tokens_, error)) {
      *error = config_.token_file + ": " + *error;
      return false;
    }
  }
  server_id_ = new_id().substr(0, 12);
  redis_ = std::make_unique<RedisClient>();
  if (!redis_->connect(redis_url_, kRedisTimeoutMs, error))
    return false;
  soup_ = soup_server_new("server-header", "tourcast-server", nullptr);
  soup_server_add_early_handler(soup_, nullptr, on_early, this, nullptr);
  soup_server_add_handler(soup_, nullptr, on_request, this, nullptr);
  GInetAddress *address = g_inet_address_new_from_string(config_.listen_address.c_str());
  if (address == nullptr) {
    *error = "--listen " + config_.listen_address + " is not an IP address";
    return false;
  }
  GSocketAddress *socket_address = g_inet_socket_address_new(address, config_.port);
  g_object_unref(address);
  GError *gerror = nullptr;
  gboolean ok = soup_server_listen(soup_, socket_address, SoupServerListenOptions(0), &gerror);
  g_object_unref(socket_address);
  if (!ok) {
    *error = "cannot listen on " + config_.listen_address + ":" + std::to_string(config_.port) +
             ": " + gerror->message;
    g_error_free(gerror);
    return false;
  }
  GSList *uris = soup_server_get_uris(soup_);
  if (uris)
    bound_port_ = g_uri_get_port(static_cast<GUri *>(uris->data));
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  return true;
}

void Server::stop() {
  // Joins in flight keep a pointer to the server: let them end first.
  while (pending_joins_ > 0)
    g_main_context_iteration(nullptr, TRUE);
  for (auto &[id, whip] : whips_) {
    if (whip->refresh)
      g_source_remove(whip->refresh);
    whip->publisher->stop();
    Reply reply;
    std::string error;
    redis_command({"DEL", tourcast::http_resource_key(id)}, &reply, &error);
    redis_command({"DEL", tourcast::publisher_key(whip->tour, whip->language)}, &reply, &error);
  }
  whips_.clear();
  if (soup_) {
    soup_server_disconnect(soup_);
    g_object_unref(soup_);
    soup_ = nullptr;
  }
}

/* ---------- plumbing ---------- */

void Server::respond(SoupServerMessage *msg, int status, const std::string &content_type,
                     const std::string &body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, content_type.empty() ? nullptr : content_type.c_str(),
                                   SOUP_MEMORY_COPY, body.data(), body.size());
  SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(headers, "Cache-Control", "no-store");
  metrics_.count_request(status);
}

void Server::respond_error(SoupServerMessage *msg, int status, const std::string &message) {
  Json body{{"error", message}, {"status", status}};
  respond(msg, status, "application/json",
          body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

bool Server::redis_command(const std::vector<std::string> &args, Reply *reply, std::string *error) {
  *reply = redis_->command(args, error);
  if (!*reply) {
    // One reconnect: Redis restarted, or a timeout broke the link.
    auto fresh = std::make_unique<RedisClient>();
    std::string why;
    if (!fresh->connect(redis_url_, kRedisTimeoutMs, &why)) {
      *error = why;
      return false;
    }
    redis_ = std::move(fresh);
    *reply = redis_->command(args, error);
    if (!*reply)
      return false;
  }
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    *error = tourcast_tools::reply_error(reply->get());
    return false;
  }
  return true;
}

bool Server::allow_post(SoupServerMessage *msg) {
  const char *host = soup_server_message_get_remote_host(msg);
  std::string key = host ? host : "?";
  gint64 now = g_get_monotonic_time();
  if (buckets_.size() > 10000)
    buckets_.clear();
  Bucket &b = buckets_[key];
  if (b.updated_us == 0) {
    b.tokens = config_.rate_burst;
  } else {
    b.tokens += (now - b.updated_us) / 1e6 * config_.rate_per_second;
    if (b.tokens > config_.rate_burst)
      b.tokens = config_.rate_burst;
  }
  b.updated_us = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  int wait = static_cast<int>((1 - b.tokens) / config_.rate_per_second) + 1;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                               std::to_string(wait).c_str());
  respond_error(msg, 429,
                "too many requests from " + key + "; retry in " + std::to_string(wait) + " s");
  return false;
}

// Bodies over the limit are refused from their headers. A chunked body has no length to judge
// it by: refused too (411; every client of these endpoints sends Content-Length). A client
// that sent "Expect: 100-continue" gets the answer before it sends the body; from others
// libsoup still reads the body off the connection (then closes it), but keeps none of it.
void Server::on_early(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
                      gpointer data) {
  auto *self = static_cast<Server *>(data);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
  auto refuse_body = [msg] {
    soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
  };
  if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CHUNKED) {
    refuse_body();
    self->respond_error(msg, 411,
                        "send the body with a Content-Length (at most " +
                            std::to_string(tourcast::kMaxSdpBytes) + " bytes), not chunked");
    return;
  }
  if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length(headers) >
          static_cast<goffset>(tourcast::kMaxSdpBytes)) {
    refuse_body();
    self->respond_error(
        msg, 413,
        "request body of " + std::to_string(soup_message_headers_get_content_length(headers)) +
            " bytes is over the limit of " + std::to_string(tourcast::kMaxSdpBytes));
  }
}

void Server::on_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                        gpointer data) {
  auto *self = static_cast<Server *>(data);
  if (soup_server_message_get_status(msg) != 0)
    return;  // answered early
  self->handle(msg, path ? path : "/", query);
}

void Server::handle(SoupServerMessage *msg, const std::string &path, GHashTable *query) {
  const std::string method = soup_server_message_get_method(msg);
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  if (body && body->length > static_cast<goffset>(tourcast::kMaxSdpBytes)) {
    respond_error(
        msg, 413,
        "request body is over the limit of " + std::to_string(tourcast::kMaxSdpBytes) + " bytes");
    return;
  }
  auto method_not_allowed = [&](const char *allowed) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", allowed);
    respond_error(msg, 405, method + " is not allowed on " + path + " (allowed: " + allowed + ")");
  };
  std::string tour, language, error;
  if (path.rfind("/whep/", 0) == 0 || path.rfind("/whip/", 0) == 0) {
    bool whep = path[3] == 'e';
    if (method != "POST")
      return method_not_allowed("POST");
    if (!allow_post(msg))
      return;
    if (!tourcast::parse_channel_path(path, whep ? "/whep/" : "/whip/", &tour, &language, &error))
      return respond_error(msg, 404, error);
    return whep ? whep_post(msg, tour, language, query) : whip_post(msg, tour, language, query);
  }
  if (path.rfind("/resource/", 0) == 0) {
    std::string rest = path.substr(10);
    bool report = false;
    if (rest.size() > 7 && rest.compare(rest.size() - 7, 7, "/report") == 0) {
      report = true;
      rest.resize(rest.size() - 7);
    }
    if (!tourcast::is_resource_id(rest))
      return respond_error(msg, 404, "no such resource");
    if (report)
      return method == "POST" ? resource_report(msg, rest) : method_not_allowed("POST");
    if (method == "PATCH")
      return resource_patch(msg, rest);
    if (method == "DELETE")
      return resource_delete(msg, rest);
    return method_not_allowed("PATCH, DELETE");
  }
  if (path == "/api/tour/offer") {
    if (method != "POST")
      return method_not_allowed("POST");
    if (!allow_post(msg))
      return;
    return seed_offer(msg);
  }
  if (path == "/api/tour/diagnostics")
    return method == "GET" ? seed_diagnostics(msg, query) : method_not_allowed("GET");
  if (path == "/api/channels")
    return method == "GET" ? channels(msg) : method_not_allowed("GET");
  if (path == "/metrics")
    return method == "GET" ? metrics(msg) : method_not_allowed("GET");
  if (path == "/healthz")
    return method == "GET" ? respond(msg, 200, "text/plain", "ok\n") : method_not_allowed("GET");
  if (path == "/readyz")
    return method == "GET" ? readyz(msg) : method_not_allowed("GET");
  if (method != "GET" && method != "HEAD")
    return respond_error(msg, 404, "no such endpoint: " + method + " " + path);
  static_file(msg, path);
}

/* ---------- WHEP: a browser listens ---------- */

namespace {

// Runs in the join's thread: subscribe to the browser's signal channel, hand the offer to the
// guide, wait for the answer and the guide's first candidates.
void wait_for_answer(const tourcast::RedisUrl &url, int timeout_ms, Server::Pending *p) {
  const HttpResource &r = p->resource;
  RedisClient sub, pub;
  std::string error;
  if (!sub.connect(url, kRedisTimeoutMs, &error) || !pub.connect(url, kRedisTimeoutMs, &error)) {
    p->status = 503;
    p->error = error;
    return;
  }
  const std::string mine = tourcast::signal_channel(r.tour, r.language, r.participant);
  if (!sub.send({"SUBSCRIBE", mine}, &error) || !sub.read(&error)) {
    p->status = 503;
    p->error = error;
    return;
  }
  tourcast::SignalMessage offer;
  offer.type = tourcast::SignalType::kPeerOffer;
  offer.from = r.participant;
  offer.to = kGuideRecipient;
  offer.sdp = p->offer;
  offer.session = r.session;
  offer.profile = p->profile;  // the guide starts the listener at its profile's level
  offer.timestamp = epoch_ms();
  Reply receivers =
      pub.command({"PUBLISH", tourcast::signal_channel(r.tour, r.language, kGuideRecipient),
                   tourcast::encode_signal(offer)},
                  &error);
  if (!receivers || receivers->type != REDIS_REPLY_INTEGER) {
    p->status = 503;
    p->error = receivers ? tourcast_tools::reply_error(receivers.get()) : error;
    return;
  }
  if (receivers->integer == 0) {
    p->status = 404;
    p->error = "no guide is speaking on " + r.tour + "/" + r.language;
    return;
  }
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  };
  int answered_at = -1;
  int last_candidate_at = -1;
  while (true) {
    int now = elapsed();
    int wait;
    if (answered_at < 0) {
      wait = timeout_ms - now;
    } else {
      int quiet_end = std::max(answered_at, last_candidate_at) + kCandidateQuietMs;
      wait = std::min(quiet_end, answered_at + kCandidateWaitMaxMs) - now;
      // A browser needs at least one candidate of ours: wait the full time for the first.
      if (p->candidates.empty())
        wait = answered_at + kCandidateWaitMaxMs - now;
    }
    if (wait <= 0)
      break;
    sub.set_timeout_ms(wait);
    Reply message = sub.read(&error);
    if (!message)
      break;  // timeout (the connection is dropped with sub)
    if (message->type != REDIS_REPLY_ARRAY || message->elements != 3 ||
        message->element[2]->type != REDIS_REPLY_STRING)
      continue;
    tourcast::SignalMessage signal;
    std::string why;
    if (!tourcast::decode_signal(
            std::string_view(message->element[2]->str, message->element[2]->len), &signal, &why) ||
        signal.session != r.session)
      continue;
    if (signal.type == tourcast::SignalType::kAnswer && answered_at < 0) {
      p->answer = signal.sdp;
      answered_at = elapsed();
    } else if (signal.type == tourcast::SignalType::kCandidate) {
      p->candidates.push_back({signal.mline, signal.candidate});
      last_candidate_at = elapsed();
    } else if (signal.type == tourcast::SignalType::kEndOfCandidates && answered_at >= 0) {
      break;
    }
  }
  if (p->answer.empty()) {
    p->status = 504;
    p->error = "the guide of " + r.tour + "/" + r.language + " did not answer within " +
               std::to_string(timeout_ms) + " ms";
    return;
  }
  p->status = 201;
}

}  // namespace

void Server::whep_post(SoupServerMessage *msg, const std::string &tour, const std::string &language,
                       GHashTable *query) {
  if (media_type(msg) != "application/sdp")
    return respond_error(msg, 415, "a WHEP offer must be sent as application/sdp");
  const std::string offer = body_of(msg);
  std::string error;
  if (!tourcast::check_sdp_offer(offer, &error) || !sdp_parses(offer)) {
    metrics_.count_failure("whep", "bad-offer");
    return respond_error(msg, 400, error.empty() ? "the offer is not valid SDP" : error);
  }
  // The seed's device/network profile: ?profile=mobile/4g or an X-Tourcast-Profile header.
  std::string profile_text = query_value(query, "profile") ? query_value(query, "profile")
                                                           : header(msg, "X-Tourcast-Profile");
  tourcast::AttendeeProfile profile;
  if (!profile_text.empty() && !tourcast::parse_profile(profile_text, &profile, &error))
    return respond_error(msg, 400, error);
  if (pending_joins_ >= config_.max_pending_joins) {
    metrics_.count_failure("whep", "busy");
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "2");
    return respond_error(msg, 503, "too many listeners are joining right now; retry shortly");
  }
  auto pending = std::make_shared<Pending>();
  pending->server = this;
  pending->id = new_id();
  pending->offer = offer;
  HttpResource &r = pending->resource;
  r.kind = "whep";
  r.tour = tour;
  r.language = language;
  r.participant = "web-" + pending->id.substr(0, 20);
  r.session = new_id().substr(0, 16);
  r.server = server_id_;
  r.created = epoch_ms();
  tourcast::ParticipantRecord record;
  record.id = r.participant;
  record.role = tourcast::Role::kAttendee;
  record.tour = tour;
  record.language = language;
  record.joined_at = record.last_seen = r.created;
  record.state = "signaling";
  record.profile = profile_text.empty() ? "" : tourcast::profile_to_string(profile);
  pending->profile = record.profile;
  Reply reply;
  if (!redis_command({"SET", tourcast::http_resource_key(pending->id),
                      tourcast::encode_http_resource(r), "PX", std::to_string(kResourceTtlMs)},
                     &reply, &error) ||
      !redis_command(
          {"SET", tourcast::participant_key(tour, language, r.participant),
           tourcast::encode_participant(record), "PX", std::to_string(kParticipantTtlMs)},
          &reply, &error)) {
    metrics_.count_failure("whep", "redis");
    return respond_error(msg, 503, "Redis: " + error);
  }
  pending->msg = SOUP_SERVER_MESSAGE(g_object_ref(msg));
  pending->finished_handler =
      g_signal_connect(msg, "finished", G_CALLBACK(+[](SoupServerMessage *, gpointer data) {
                         static_cast<Pending *>(data)->client_gone = true;
                       }),
                       pending.get());
  soup_server_message_pause(msg);
  pending_joins_++;
  tourcast::RedisUrl url = redis_url_;
  int timeout = config_.answer_timeout_ms;
  std::thread([pending, url, timeout]() {
    wait_for_answer(url, timeout, pending.get());
    auto *keep = new std::shared_ptr<Pending>(pending);
    g_main_context_invoke_full(
        nullptr, G_PRIORITY_DEFAULT,
        [](gpointer data) -> gboolean {
          auto *p = static_cast<std::shared_ptr<Pending> *>(data);
          (*p)->server->finish_join(*p);
          return G_SOURCE_REMOVE;
        },
        keep, [](gpointer data) { delete static_cast<std::shared_ptr<Pending> *>(data); });
  }).detach();
}

void Server::finish_join(std::shared_ptr<Pending> p) {
  pending_joins_--;
  SoupServerMessage *msg = p->msg;
  g_signal_handler_disconnect(msg, p->finished_handler);
  if (p->status == 201 && !p->client_gone) {
    std::string answer = p->answer.find("a=candidate:") == std::string::npos
                             ? tourcast::add_candidates_to_sdp(p->answer, p->candidates)
                             : p->answer;
    SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
    soup_message_headers_replace(headers, "Location", ("/resource/" + p->id).c_str());
    soup_message_headers_replace(headers, "X-Tourcast-Participant",
                                 p->resource.participant.c_str());
    respond(msg, 201, "application/sdp", answer);
    metrics_.count_join("whep");
  } else {
    end_whep(p->resource);
    Reply reply;
    std::string error;
    redis_command({"DEL", tourcast::http_resource_key(p->id)}, &reply, &error);
    const char *reason = p->status == 404   ? "no-guide"
                         : p->status == 504 ? "no-answer"
                         : p->client_gone   ? "client-gone"
                                            : "redis";
    metrics_.count_failure("whep", reason);
    if (!p->client_gone) {
      if (p->status == 503 || p->status == 504)
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                                     "5");
      respond_error(msg, p->status ? p->status : 503, p->error);
    }
  }
  if (!p->client_gone)
    soup_server_message_unpause(msg);
  g_object_unref(msg);
}

// The listener leaves: the guide drops its peer; its keys go.
void Server::end_whep(const HttpResource &r) {
  tourcast::SignalMessage leave;
  leave.type = tourcast::SignalType::kLeave;
  leave.from = r.participant;
  leave.to = kGuideRecipient;
  leave.session = r.session;
  leave.timestamp = epoch_ms();
  Reply reply;
  std::string error;
  redis_command({"PUBLISH", tourcast::signal_channel(r.tour, r.language, kGuideRecipient),
                 tourcast::encode_signal(leave)},
                &reply, &error);
  redis_command({"DEL", tourcast::participant_key(r.tour, r.language, r.participant),
                 tourcast::offer_key(r.tour, r.language, r.participant),
                 tourcast::answer_key(r.tour, r.language, r.participant)},
                &reply, &error);
}

bool Server::load_resource(const std::string &id, HttpResource *out, std::string *error,
                           bool *found) {
  Reply reply;
  *found = false;
  if (!redis_command({"GET", tourcast::http_resource_key(id)}, &reply, error))
    return false;
  if (reply->type != REDIS_REPLY_STRING)
    return true;
  if (!tourcast::decode_http_resource(std::string_view(reply->str, reply->len), out, error))
    return false;
  *found = true;
  return true;
}

bool Server::find_resource(SoupServerMessage *msg, const std::string &id, HttpResource *out) {
  std::string error;
  bool found = false;
  if (!load_resource(id, out, &error, &found)) {
    respond_error(msg, 503, "Redis: " + error);
    return false;
  }
  if (!found)
    respond_error(msg, 404, "no such resource");
  return found;
}

void Server::resource_patch(SoupServerMessage *msg, const std::string &id) {
  HttpResource r;
  std::string error;
  if (!find_resource(msg, id, &r))
    return;
  if (media_type(msg) != "application/trickle-ice-sdpfrag")
    return respond_error(msg, 415, "PATCH takes application/trickle-ice-sdpfrag");
  tourcast::SdpFragment fragment;
  if (!tourcast::parse_trickle_fragment(body_of(msg), &fragment, &error))
    return respond_error(msg, 400, error);
  if (r.kind == "whip") {
    auto it = whips_.find(id);
    if (it == whips_.end())
      return respond_error(msg, 409, "this guide's pipeline runs on another server");
    for (const auto &c : fragment.candidates)
      it->second->publisher->add_candidate(c.mline, c.candidate);
    return respond(msg, 204, "", "");
  }
  for (const auto &c : fragment.candidates) {
    Reply seq;
    if (!redis_command({"INCR", tourcast::http_resource_key(id) + ":seq"}, &seq, &error))
      return respond_error(msg, 503, "Redis: " + error);
    redis_command(
        {"PEXPIRE", tourcast::http_resource_key(id) + ":seq", std::to_string(kResourceTtlMs)}, &seq,
        &error);
    tourcast::CandidateRecord record;
    record.from = r.participant;
    record.to = kGuideRecipient;
    record.session = r.session;
    record.sequence = static_cast<uint64_t>(seq->integer);
    record.mline = c.mline;
    record.candidate = c.candidate;
    uint32_t priority = 0;
    if (tourcast::parse_candidate_priority(c.candidate, &priority))
      record.priority = priority;
    record.timestamp = epoch_ms();
    tourcast::SignalMessage signal;
    signal.type = tourcast::SignalType::kCandidate;
    signal.from = r.participant;
    signal.to = kGuideRecipient;
    signal.session = r.session;
    signal.candidate = c.candidate;
    signal.mline = c.mline;
    signal.sequence = record.sequence;
    signal.timestamp = record.timestamp;
    Reply reply;
    if (!redis_command(
            {"EVAL", tourcast::kPushCandidateScript, "1",
             tourcast::ice_candidates_key(r.tour, r.language), tourcast::encode_candidate(record),
             tourcast::signal_channel(r.tour, r.language, kGuideRecipient),
             tourcast::encode_signal(signal), std::to_string(kCandidateQueueMax),
             std::to_string(kCandidateQueueTtlMs)},
            &reply, &error))
      return respond_error(msg, 503, "Redis: " + error);
  }
  respond(msg, 204, "", "");
}

void Server::resource_delete(SoupServerMessage *msg, const std::string &id) {
  HttpResource r;
  std::string error;
  if (!find_resource(msg, id, &r))
    return;
  Reply reply;
  redis_command({"DEL", tourcast::http_resource_key(id), tourcast::http_resource_key(id) + ":seq"},
                &reply, &error);
  if (r.kind == "whep") {
    end_whep(r);
  } else {
    // The server running the pipeline notices its resource is gone (refresh timer).
    release_publisher(r.tour, r.language, id);
    end_whip(id);
  }
  respond(msg, 204, "", "");
}

void Server::resource_report(SoupServerMessage *msg, const std::string &id) {
  HttpResource r;
  std::string error;
  if (!find_resource(msg, id, &r))
    return;
  if (r.kind != "whep")
    return respond_error(msg, 404, "no such listener");
  if (media_type(msg) != "application/json")
    return respond_error(msg, 415, "a report is application/json");
  tourcast::AttendeeReport report;
  if (!tourcast::decode_attendee_report(body_of(msg), &report, &error))
    return respond_error(msg, 400, error);
  // What this browser measures itself (its inbound RTP stats), scored like the guide scores.
  tourcast::RawStats raw;
  if (report.has_rtt)
    raw.rtt_ms = report.rtt_ms;
  if (report.has_jitter)
    raw.jitter_ms = report.jitter_ms;
  raw.packets_lost = report.packets_lost;
  raw.packets_received = report.packets_received;
  tourcast::ConnectionMetrics measured = tourcast::compute_metrics(raw);
  tourcast::ParticipantRecord record;
  record.id = r.participant;
  record.role = tourcast::Role::kAttendee;
  record.tour = r.tour;
  record.language = r.language;
  record.joined_at = r.created;
  record.last_seen = epoch_ms();
  record.state = state_from_browser(report.state);
  record.connected = report.state == "connected";
  Reply reply;
  if (!redis_command(
          {"SET", tourcast::participant_key(r.tour, r.language, r.participant),
           tourcast::encode_participant(record), "PX", std::to_string(kParticipantTtlMs)},
          &reply, &error) ||
      !redis_command({"PEXPIRE", tourcast::http_resource_key(id), std::to_string(kResourceTtlMs)},
                     &reply, &error))
    return respond_error(msg, 503, "Redis: " + error);
  // What the guide says about this listener: the level it sends it, its state and score.
  Json guide = nullptr;
  const tourcast::ChannelReport *channel = guide_report(r.tour, r.language);
  if (channel != nullptr) {
    for (const auto &a : channel->channel.attendees) {
      if (a.id != r.participant)
        continue;
      guide = Json{{"state", a.state},
                   {"level", tourcast::to_string(a.level)},
                   {"levelChanges", a.level_changes},
                   {"lastChangeReason", a.last_change_reason},
                   {"reportedAt", channel->timestamp_ms}};
      if (a.metrics) {
        guide["score"] = a.metrics->score;
        guide["category"] = tourcast::to_string(a.metrics->category);
      }
    }
  }
  Json measured_json = nullptr;
  if (report.packets_received > 0)
    measured_json =
        Json{{"score", measured.score}, {"category", tourcast::to_string(measured.category)}};
  Json body{{"guide", guide}, {"browser", measured_json}};
  respond(msg, 200, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

const tourcast::ChannelReport *Server::guide_report(const std::string &tour,
                                                    const std::string &language) {
  // Every listener reports every 2 s and the guide every report-interval: one GET and decode
  // per channel and second is enough.
  constexpr gint64 kFreshUs = 1000 * 1000;
  gint64 now = g_get_monotonic_time();
  if (report_cache_.size() > 1000)
    report_cache_.clear();
  CachedReport &cached = report_cache_[{tour, language}];
  if (cached.fetched_us == 0 || now - cached.fetched_us > kFreshUs) {
    cached.fetched_us = now;
    cached.present = false;
    Reply reply;
    std::string error;
    if (redis_command({"GET", tourcast::diagnostics_key(tour, language)}, &reply, &error) &&
        reply->type == REDIS_REPLY_STRING)
      cached.present = tourcast::diagnostics_from_json(std::string_view(reply->str, reply->len),
                                                       &cached.report, &error);
  }
  return cached.present ? &cached.report : nullptr;
}

/* ---------- WHIP: a browser speaks as the guide ---------- */

void Server::whip_post(SoupServerMessage *msg, const std::string &tour, const std::string &language,
                       GHashTable *query) {
  std::string token;
  SoupMessageHeaders *out = soup_server_message_get_response_headers(msg);
  if (!tourcast::parse_bearer(header(msg, "Authorization"), &token)) {
    soup_message_headers_replace(out, "WWW-Authenticate", "Bearer realm=\"tourcast\"");
    metrics_.count_failure("whip", "unauthorized");
    return respond_error(msg, 401, "publishing needs Authorization: Bearer <token of the tour>");
  }
  std::string owner;
  for (const auto &[t, list] : tokens_)
    for (const auto &known : list)
      if (known == token)
        owner = t;
  if (owner.empty()) {
    soup_message_headers_replace(out, "WWW-Authenticate",
                                 "Bearer realm=\"tourcast\", error=\"invalid_token\"");
    metrics_.count_failure("whip", "unauthorized");
    return respond_error(msg, 401, "unknown token");
  }
  if (owner != tour) {
    metrics_.count_failure("whip", "forbidden");
    return respond_error(msg, 403, "this token publishes for another tour, not " + tour);
  }
  if (media_type(msg) != "application/sdp")
    return respond_error(msg, 415, "a WHIP offer must be sent as application/sdp");
  const std::string offer = body_of(msg);
  std::string error;
  if (!tourcast::check_sdp_offer(offer, &error) || !sdp_parses(offer)) {
    metrics_.count_failure("whip", "bad-offer");
    return respond_error(msg, 400, error.empty() ? "the offer is not valid SDP" : error);
  }
  const char *takeover_value = query_value(query, "takeover");
  bool takeover = takeover_value &&
                  (g_strcmp0(takeover_value, "1") == 0 || g_strcmp0(takeover_value, "true") == 0);
  const std::string id = new_id();
  const std::string lock = tourcast::publisher_key(tour, language);
  Reply reply;
  if (!redis_command({"SET", lock, id, "NX", "PX", std::to_string(kPublisherTtlMs)}, &reply,
                     &error))
    return respond_error(msg, 503, "Redis: " + error);
  if (reply->type == REDIS_REPLY_NIL) {
    if (!takeover) {
      metrics_.count_failure("whip", "conflict");
      return respond_error(
          msg, 409,
          "a guide already speaks on " + tour + "/" + language + "; add ?takeover=1 to replace it");
    }
    Reply old;
    if (redis_command({"GET", lock}, &old, &error) && old->type == REDIS_REPLY_STRING) {
      std::string old_id(old->str, old->len);
      redis_command({"DEL", tourcast::http_resource_key(old_id)}, &reply, &error);
      end_whip(old_id);  // when it runs here; another server notices on its next refresh
    }
    redis_command({"SET", lock, id, "PX", std::to_string(kPublisherTtlMs)}, &reply, &error);
  } else {
    // A guide pipeline not started by a server (gst-launch ... tourguidesink) holds no lock.
    bool has_guide = false;
    if (channel_has_guide(tour, language, &has_guide) && has_guide && !takeover) {
      redis_command({"DEL", lock}, &reply, &error);
      metrics_.count_failure("whip", "conflict");
      return respond_error(msg, 409,
                           "a guide pipeline already speaks on " + tour + "/" + language +
                               " (not one of this server's)");
    }
  }
  HttpResource r;
  r.kind = "whip";
  r.tour = tour;
  r.language = language;
  r.participant = "guide";
  r.session = id.substr(0, 16);
  r.server = server_id_;
  r.created = epoch_ms();
  redis_command({"SET", tourcast::http_resource_key(id), tourcast::encode_http_resource(r), "PX",
                 std::to_string(kResourceTtlMs)},
                &reply, &error);
  auto whip = std::make_unique<Whip>();
  whip->tour = tour;
  whip->language = language;
  WhipSettings settings{tour, language, config_.redis_url, config_.ice_addresses};
  whip->publisher = std::make_unique<WhipPublisher>(settings, [this, id](const std::string &why) {
    g_message("guide %s stopped: %s", id.c_str(), why.c_str());
    Reply reply;
    std::string error;
    redis_command({"DEL", tourcast::http_resource_key(id)}, &reply, &error);
    end_whip(id);
  });
  soup_server_message_pause(msg);
  g_object_ref(msg);
  // A browser that hangs up before its answer is ready never gets it: the guide goes.
  auto gone = std::make_shared<bool>(false);
  gulong finished = g_signal_connect_data(
      msg, "finished", G_CALLBACK(+[](SoupServerMessage *, gpointer data) {
        **static_cast<std::shared_ptr<bool> *>(data) = true;
      }),
      new std::shared_ptr<bool>(gone),
      [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<bool> *>(data); },
      GConnectFlags(0));
  WhipPublisher *publisher = whip->publisher.get();
  // While the pipeline runs, its server keeps the lock and the resource alive; a resource
  // deleted elsewhere (DELETE or takeover through another server) stops it.
  struct Refresh {
    Server *server;
    std::string id;
  };
  whip->refresh = g_timeout_add_full(
      G_PRIORITY_DEFAULT, 2000,
      [](gpointer data) -> gboolean {
        auto *f = static_cast<Refresh *>(data);
        Server *self = f->server;
        auto it = self->whips_.find(f->id);
        if (it == self->whips_.end())
          return G_SOURCE_REMOVE;
        Reply reply;
        std::string error;
        if (!self->redis_command(
                {"PEXPIRE", tourcast::http_resource_key(f->id), std::to_string(kResourceTtlMs)},
                &reply, &error))
          return G_SOURCE_CONTINUE;  // Redis away: keep the guide speaking
        if (reply->integer == 0) {
          it->second->refresh = 0;
          self->end_whip(f->id);
          return G_SOURCE_REMOVE;
        }
        self->redis_command(
            {"PEXPIRE", tourcast::publisher_key(it->second->tour, it->second->language),
             std::to_string(kPublisherTtlMs)},
            &reply, &error);
        return G_SOURCE_CONTINUE;
      },
      new Refresh{this, id}, [](gpointer data) { delete static_cast<Refresh *>(data); });
  whips_[id] = std::move(whip);
  bool started = publisher->start(
      offer,
      [this, msg, id, gone, finished](const std::string &answer, const std::string &why) {
        g_signal_handler_disconnect(msg, finished);
        if (*gone) {
          metrics_.count_failure("whip", "client-gone");
          end_whip_later(id);
          g_object_unref(msg);
          return;
        }
        if (!answer.empty()) {
          soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                                       ("/resource/" + id).c_str());
          respond(msg, 201, "application/sdp", answer);
          metrics_.count_join("whip");
        } else {
          respond_error(msg, 502, "the guide pipeline could not answer: " + why);
          metrics_.count_failure("whip", "pipeline");
          Reply reply;
          std::string error;
          redis_command({"DEL", tourcast::http_resource_key(id)}, &reply, &error);
          end_whip_later(id);
        }
        soup_server_message_unpause(msg);
        g_object_unref(msg);
      },
      &error);
  if (!started) {
    g_signal_handler_disconnect(msg, finished);
    respond_error(msg, 502, error);
    metrics_.count_failure("whip", "pipeline");
    soup_server_message_unpause(msg);
    g_object_unref(msg);
    redis_command({"DEL", tourcast::http_resource_key(id)}, &reply, &error);
    end_whip(id);
  }
}

// From inside the publisher's own callbacks: end it once they have returned.
void Server::end_whip_later(const std::string &id) {
  struct Later {
    Server *server;
    std::string id;
  };
  g_idle_add_full(
      G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *later = static_cast<Later *>(data);
        later->server->end_whip(later->id);
        return G_SOURCE_REMOVE;
      },
      new Later{this, id}, [](gpointer data) { delete static_cast<Later *>(data); });
}

void Server::end_whip(const std::string &id) {
  auto it = whips_.find(id);
  if (it == whips_.end())
    return;
  std::unique_ptr<Whip> whip = std::move(it->second);
  whips_.erase(it);
  if (whip->refresh)
    g_source_remove(whip->refresh);
  whip->publisher->stop();
  release_publisher(whip->tour, whip->language, id);
}

// Drops the channel's publisher lock if `id` still holds it.
void Server::release_publisher(const std::string &tour, const std::string &language,
                               const std::string &id) {
  Reply reply;
  std::string error;
  redis_command({"EVAL",
                 "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end "
                 "return 1",
                 "1", tourcast::publisher_key(tour, language), id},
                &reply, &error);
}

/* ---------- channels, seed endpoints, metrics ---------- */

bool Server::channel_has_guide(const std::string &tour, const std::string &language, bool *has) {
  *has = false;
  std::string cursor = "0";
  std::string error;
  do {
    Reply reply;
    if (!redis_command({"SCAN", cursor, "MATCH", tourcast::participant_key_pattern(tour, language),
                        "COUNT", "200"},
                       &reply, &error))
      return false;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
      return false;
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    for (size_t i = 0; i < reply->element[1]->elements; i++) {
      const redisReply *key = reply->element[1]->element[i];
      Reply value;
      if (!redis_command({"GET", std::string(key->str, key->len)}, &value, &error) ||
          value->type != REDIS_REPLY_STRING)
        continue;
      tourcast::ParticipantRecord record;
      if (tourcast::decode_participant(std::string_view(value->str, value->len), &record, &error) &&
          record.role == tourcast::Role::kGuide)
        *has = true;
    }
  } while (cursor != "0");
  return true;
}

bool Server::scan_values(const std::string &pattern, std::map<std::string, std::string> *out,
                         std::string *error) {
  std::string cursor = "0";
  std::set<std::string> keys;
  do {
    Reply reply;
    if (!redis_command({"SCAN", cursor, "MATCH", pattern, "COUNT", "500"}, &reply, error))
      return false;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      *error = "unexpected SCAN reply";
      return false;
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    for (size_t i = 0; i < reply->element[1]->elements; i++)
      keys.emplace(reply->element[1]->element[i]->str, reply->element[1]->element[i]->len);
  } while (cursor != "0");
  for (const auto &key : keys) {
    Reply value;
    if (!redis_command({"GET", key}, &value, error))
      return false;
    if (value->type == REDIS_REPLY_STRING)
      (*out)[key].assign(value->str, value->len);
  }
  return true;
}

bool Server::collect_channels(std::map<ChannelKey, ChannelFigures> *channels,
                              int *unreadable_reports, std::string *error) {
  std::map<std::string, std::string> values;
  if (!scan_values("webrtc:participant:*", &values, error))
    return false;
  for (const auto &[key, value] : values) {
    tourcast::ParticipantRecord r;
    std::string why;
    if (!tourcast::decode_participant(value, &r, &why))
      continue;
    ChannelFigures &c = (*channels)[{r.tour, r.language}];
    if (r.role == tourcast::Role::kGuide) {
      c.guide = true;
      c.has_recoveries = r.has_recoveries;
      c.recoveries = r.recoveries;
    } else {
      c.attendees++;
    }
  }
  values.clear();
  if (!scan_values("webrtc:diagnostics:*", &values, error))
    return false;
  *unreadable_reports = 0;
  for (const auto &[key, value] : values) {
    tourcast::ChannelReport report;
    std::string why;
    if (!tourcast::diagnostics_from_json(value, &report, &why) ||
        key != tourcast::diagnostics_key(report.channel.tour, report.channel.language)) {
      ++*unreadable_reports;
      continue;
    }
    ChannelFigures &c = (*channels)[{report.channel.tour, report.channel.language}];
    c.has_report = true;
    c.report = std::move(report);
  }
  return true;
}

void Server::channels(SoupServerMessage *msg) {
  std::map<ChannelKey, ChannelFigures> channels;
  int unreadable = 0;
  std::string error;
  if (!collect_channels(&channels, &unreadable, &error))
    return respond_error(msg, 503, "Redis: " + error);
  Json list = Json::array();
  for (const auto &[key, c] : channels)
    list.push_back(Json{{"tourId", key.first},
                        {"language", key.second},
                        {"guide", c.guide},
                        {"attendees", c.attendees}});
  respond(msg, 200, "application/json", Json{{"channels", list}}.dump());
}

void Server::metrics(SoupServerMessage *msg) {
  std::map<ChannelKey, ChannelFigures> channels;
  int unreadable = 0;
  std::string error;
  bool redis_ok = collect_channels(&channels, &unreadable, &error);
  std::string out;
  out += "# HELP tourcast_up Whether this server reaches Redis (1) or not (0).\n";
  out += "# TYPE tourcast_up gauge\n";
  out += std::string("tourcast_up ") + (redis_ok ? "1" : "0") + "\n";
  out += render_channels(channels, epoch_ms(), unreadable);
  out += "# HELP tourcast_pending_joins Joins waiting for a guide's answer on this server.\n";
  out += "# TYPE tourcast_pending_joins gauge\n";
  out += "tourcast_pending_joins " + std::to_string(pending_joins_) + "\n";
  out += "# HELP tourcast_published_guides Browser guides whose pipeline runs on this server.\n";
  out += "# TYPE tourcast_published_guides gauge\n";
  out += "tourcast_published_guides " + std::to_string(whips_.size()) + "\n";
  out += metrics_.render();
  respond(msg, 200, "text/plain; version=0.0.4; charset=utf-8", out);
}

void Server::readyz(SoupServerMessage *msg) {
  Reply reply;
  std::string error;
  if (redis_command({"PING"}, &reply, &error))
    return respond(msg, 200, "text/plain", "ready\n");
  respond_error(msg, 503, "Redis is not reachable: " + error);
}

void Server::seed_offer(SoupServerMessage *msg) {
  if (media_type(msg) != "application/json")
    return respond_error(msg, 415, "POST /api/tour/offer takes application/json");
  const std::string body = body_of(msg);
  tourcast::SeedOfferRequest request;
  std::string error;
  if (!tourcast::decode_seed_offer_request(body, &request, &error))
    return respond_error(msg, 400, error);
  // Optional attendeeId: the offer for that attendee; without, the channel's offer key.
  Json parsed = Json::parse(body, nullptr, false);
  std::string attendee;
  if (parsed.is_object() && parsed.contains("attendeeId")) {
    if (!parsed["attendeeId"].is_string() ||
        !tourcast::validate_name(tourcast::NameKind::kParticipantId,
                                 parsed["attendeeId"].get<std::string>(), &error))
      return respond_error(msg, 400,
                           "request JSON: field 'attendeeId' " +
                               (error.empty() ? std::string("must be a string") : error));
    attendee = parsed["attendeeId"].get<std::string>();
  }
  const std::string key = attendee.empty()
                              ? "webrtc:offer:" + request.tour + ":" + request.language
                              : tourcast::offer_key(request.tour, request.language, attendee);
  tourcast::OfferRecord record;
  record.placeholder = false;
  record.sdp = request.sdp;
  record.from = "guide";
  record.timestamp = epoch_ms();
  Reply reply;
  if (!redis_command({"EVAL", tourcast::kReplaceOfferScript, "1", key,
                      tourcast::encode_offer(record), std::to_string(kOfferTtlMs)},
                     &reply, &error))
    return respond_error(msg, 503, "Redis: " + error);
  metrics_.count_join("seed");
  Json answer{{"success", true},
              {"placeholderReplaced", reply->type == REDIS_REPLY_INTEGER && reply->integer == 1},
              {"tourId", request.tour},
              {"language", request.language},
              {"key", key}};
  respond(msg, 200, "application/json", answer.dump());
}

void Server::seed_diagnostics(SoupServerMessage *msg, GHashTable *query) {
  const char *tour = query_value(query, "tourId");
  const char *language = query_value(query, "language");
  if (tour == nullptr || *tour == '\0' || language == nullptr || *language == '\0')
    return respond_error(msg, 400, "tourId and language are required query parameters");
  std::string error;
  if (!tourcast::validate_name(tourcast::NameKind::kTour, tour, &error) ||
      !tourcast::validate_name(tourcast::NameKind::kLanguage, language, &error))
    return respond_error(msg, 400, error);
  tourcast_tools::DiagnosticsOptions options;
  options.tour = tour;
  options.language = language;
  Json report = Json::object();
  Reply ping;
  if (!redis_command({"PING"}, &ping, &error) ||
      !tourcast_tools::build_report(redis_.get(), options, &report))
    return respond_error(msg, 503, "Redis is not reachable");
  respond(msg, 200, "application/json",
          report.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void Server::static_file(SoupServerMessage *msg, const std::string &path) {
  std::string name = path == "/" ? "index.html" : path.substr(1);
  bool safe = !name.empty() && name[0] != '.' && name.size() < 64;
  for (char c : name)
    safe = safe &&
           ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_');
  if (!safe || config_.static_dir.empty())
    return respond_error(msg, 404, "no such page: " + path);
  gchar *full = g_build_filename(config_.static_dir.c_str(), name.c_str(), nullptr);
  gchar *content = nullptr;
  gsize size = 0;
  bool ok = g_file_get_contents(full, &content, &size, nullptr);
  g_free(full);
  if (!ok)
    return respond_error(msg, 404, "no such page: " + path);
  std::string type = "application/octet-stream";
  auto ends = [&](const char *suffix) { return g_str_has_suffix(name.c_str(), suffix); };
  if (ends(".html"))
    type = "text/html; charset=utf-8";
  else if (ends(".js"))
    type = "text/javascript; charset=utf-8";
  else if (ends(".css"))
    type = "text/css; charset=utf-8";
  else if (ends(".wav"))
    type = "audio/wav";
  respond(msg, 200, type, std::string(content, size));
  g_free(content);
}

}  // namespace tourcast_server
