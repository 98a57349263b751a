// tourcast-server: HTTP front of the tourcast channels (libsoup 3). Browsers join channels
// as listeners (WHEP) and publish as guides (WHIP); the seed's JSON endpoints, diagnostics,
// Prometheus metrics and health checks. Channel state lives in Redis only (resources,
// publisher locks, participants), so several servers can share one Redis.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <libsoup/soup.h>

#include "metrics.h"
#include "redis_client.h"
#include "redis_schema.h"
#include "server_protocol.h"

namespace tourcast_server {

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  int port = 8080;
  std::string redis_url;
  std::string token_file;  // empty: WHIP refused (no tour has a token)
  std::string static_dir;
  std::string ice_addresses;  // for the WHIP guide pipelines
  int answer_timeout_ms = 10000;
  int max_pending_joins = 32;  // joins waiting for a guide's answer, all clients together
  double rate_per_second = 5;  // POSTs per client address, sustained
  double rate_burst = 20;      // and in a burst
};

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Loads the token file, connects to Redis and listens. *error says what failed.
  bool start(std::string *error);
  void stop();
  int port() const { return bound_port_; }

  struct Pending;
  struct Whip;

 private:
  static void on_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                         gpointer self);
  static void on_early(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                       gpointer self);
  void handle(SoupServerMessage *msg, const std::string &path, GHashTable *query);

  // Endpoints.
  void whep_post(SoupServerMessage *msg, const std::string &tour, const std::string &language,
                 GHashTable *query);
  void whip_post(SoupServerMessage *msg, const std::string &tour, const std::string &language,
                 GHashTable *query);
  void resource_patch(SoupServerMessage *msg, const std::string &id);
  void resource_delete(SoupServerMessage *msg, const std::string &id);
  void resource_report(SoupServerMessage *msg, const std::string &id);
  void seed_offer(SoupServerMessage *msg);
  void seed_diagnostics(SoupServerMessage *msg, GHashTable *query);
  void channels(SoupServerMessage *msg);
  void metrics(SoupServerMessage *msg);
  void readyz(SoupServerMessage *msg);
  void static_file(SoupServerMessage *msg, const std::string &path);

  // Helpers.
  void respond(SoupServerMessage *msg, int status, const std::string &content_type,
               const std::string &body);
  void respond_error(SoupServerMessage *msg, int status, const std::string &message);
  bool allow_post(SoupServerMessage *msg);
  bool redis_command(const std::vector<std::string> &args, tourcast_tools::Reply *reply,
                     std::string *error);
  bool load_resource(const std::string &id, tourcast::HttpResource *out, std::string *error,
                     bool *found);
  // Every channel Redis knows of: participant records and the guides' reports.
  bool collect_channels(std::map<ChannelKey, ChannelFigures> *channels, int *unreadable_reports,
                        std::string *error);
  // The values of every key matching `pattern` (SCAN, then GET; keys gone meanwhile are left
  // out), by key.
  bool scan_values(const std::string &pattern, std::map<std::string, std::string> *out,
                   std::string *error);
  bool find_resource(SoupServerMessage *msg, const std::string &id, tourcast::HttpResource *out);
  void release_publisher(const std::string &tour, const std::string &language,
                         const std::string &id);
  bool channel_has_guide(const std::string &tour, const std::string &language, bool *has);
  void end_whep(const tourcast::HttpResource &resource);
  void end_whip(const std::string &id);
  void end_whip_later(const std::string &id);
  std::string new_id();
  void finish_join(std::shared_ptr<Pending> pending);
  // The channel's latest guide report, or nullptr when there is none (or it does not decode).
  const tourcast::ChannelReport *guide_report(const std::string &tour, const std::string &language);

  ServerConfig config_;
  tourcast::RedisUrl redis_url_;
  tourcast::TourTokens tokens_;
  std::string server_id_;
  SoupServer *soup_ = nullptr;
  int bound_port_ = 0;
  std::unique_ptr<tourcast_tools::RedisClient> redis_;
  Metrics metrics_;
  int pending_joins_ = 0;
  struct Bucket {
    double tokens = 0;
    gint64 updated_us = 0;
  };
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, std::unique_ptr<Whip>> whips_;  // by resource id
  // The guides' reports the listener view reads, fetched at most once a second per channel.
  struct CachedReport {
    gint64 fetched_us = 0;
    bool present = false;
    tourcast::ChannelReport report;
  };
  std::map<ChannelKey, CachedReport> report_cache_;
};

}  // namespace tourcast_server
