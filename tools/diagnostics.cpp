#include "diagnostics.h"

#include <cstdio>
#include <iostream>
#include <set>

#include <glib.h>
#include <nlohmann/json.hpp>

#include "redis_client.h"
#include "redis_schema.h"

namespace tourcast_tools {

namespace {

using Json = nlohmann::json;

constexpr int kTimeoutMs = 2000;

bool fail(const std::string &message) {
  std::cerr << "tourcast diagnostics: " << message << "\n";
  return false;
}

// *exists is false when the key is not there; false means Redis failed (reported).
bool get_string(RedisClient *client, const std::string &key, std::string *value, bool *exists) {
  std::string error;
  Reply reply = client->command({"GET", key}, &error);
  if (!reply)
    return fail(error);
  if (reply->type == REDIS_REPLY_NIL) {
    *exists = false;
    return true;
  }
  if (reply->type != REDIS_REPLY_STRING)
    return fail("GET " + key + " failed: " + reply_error(reply.get()));
  *exists = true;
  value->assign(reply->str, reply->len);
  return true;
}

bool get_integer(RedisClient *client, const std::vector<std::string> &command, long long *out) {
  std::string error;
  Reply reply = client->command(command, &error);
  if (!reply)
    return fail(error);
  if (reply->type != REDIS_REPLY_INTEGER)
    return fail(command[0] + " " + command[1] + " failed: " + reply_error(reply.get()));
  *out = reply->integer;
  return true;
}

// SCAN rather than KEYS: a busy production Redis must not be blocked by a diagnostics run.
// SCAN may return a key twice, hence the set (which also sorts the report).
bool scan_keys(RedisClient *client, const std::string &pattern, std::set<std::string> *keys) {
  std::string cursor = "0";
  do {
    std::string error;
    Reply reply = client->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "200"}, &error);
    if (!reply)
      return fail(error);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY)
      return fail("SCAN failed: " + reply_error(reply.get()));
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    const redisReply *batch = reply->element[1];
    for (size_t i = 0; i < batch->elements; i++) {
      if (batch->element[i]->type == REDIS_REPLY_STRING)
        keys->emplace(batch->element[i]->str, batch->element[i]->len);
    }
  } while (cursor != "0");
  return true;
}

Json parse_or_null(const std::string &text) {
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

bool build_report(RedisClient *client, const DiagnosticsOptions &options, Json *report) {
  const std::string &tour = options.tour;
  const std::string &language = options.language;

  std::string stored;
  bool exists = false;
  const std::string coordination_key = tourcast::coordination_key(tour, language);
  if (!get_string(client, coordination_key, &stored, &exists))
    return false;
  (*report)["coordination"] = nullptr;
  if (exists) {
    tourcast::CoordinationState state;
    std::string error;
    if (tourcast::decode_coordination(stored, &state, &error)) {
      (*report)["coordination"] = parse_or_null(tourcast::encode_coordination(state));
    } else {
      (*report)["coordinationError"] = error;
      // The raw value is what someone debugging a malformed key needs to see.
      (*report)["coordinationRaw"] = stored;
    }
  }

  long long candidates = 0;
  if (!get_integer(client, {"LLEN", tourcast::ice_candidates_key(tour, language)}, &candidates))
    return false;
  (*report)["iceCandidatesCount"] = candidates;

  std::set<std::string> keys;
  if (!scan_keys(client, tourcast::participant_key_pattern(tour, language), &keys))
    return false;
  Json participants = Json::array();
  for (const std::string &key : keys) {
    if (!get_string(client, key, &stored, &exists))
      return false;
    // Expired between SCAN and GET: the participant is gone, so it is not reported.
    if (!exists)
      continue;
    long long ttl = 0;
    if (!get_integer(client, {"PTTL", key}, &ttl))
      return false;
    Json entry = parse_or_null(stored);
    tourcast::ParticipantRecord record;
    std::string error;
    if (!tourcast::decode_participant(stored, &record, &error) || !entry.is_object()) {
      entry = Json::object();
      entry["key"] = key;
      entry["error"] = error;
      entry["raw"] = stored;
    }
    // -1: no expiry (a participant that will never be cleaned up), -2: gone meanwhile.
    entry["ttlMs"] = ttl;
    participants.push_back(std::move(entry));
  }
  (*report)["participants"] = std::move(participants);

  // The guide's own view (levels, scores, recommendations), when a guide runs.
  if (!get_string(client, tourcast::diagnostics_key(tour, language), &stored, &exists))
    return false;
  (*report)["guide"] = exists ? parse_or_null(stored) : Json();
  (*report)["recommendations"] =
      exists && (*report)["guide"].is_object() && (*report)["guide"].contains("recommendations")
          ? (*report)["guide"]["recommendations"]
          : Json::array();
  (*report)["timestamp"] = g_get_real_time() / 1000;
  return true;
}

int run_diagnostics(const DiagnosticsOptions &options) {
  std::string error;
  if (options.tour.empty() || options.language.empty()) {
    fail("--tour and --language are required (see tourcast diagnostics --help)");
    return 2;
  }
  tourcast::RedisUrl url;
  if (!tourcast::validate_name(tourcast::NameKind::kTour, options.tour, &error) ||
      !tourcast::validate_name(tourcast::NameKind::kLanguage, options.language, &error) ||
      !tourcast::parse_redis_url(options.redis_url, &url, &error)) {
    fail(error);
    return 2;
  }
  RedisClient client;
  if (!client.connect(url, kTimeoutMs, &error)) {
    fail(error);
    return 1;
  }
  Json report = Json::object();
  if (!build_report(&client, options, &report))
    return 1;
  // Replace, not throw, on invalid UTF-8: stored values are whatever clients wrote.
  std::cout << report.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace tourcast_tools
