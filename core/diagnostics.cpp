#include "diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "state_machine.h"
#include "text_util.h"

namespace tourcast {

namespace {

std::string format(const char *fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

// Higher is worse; orders the recommendations.
struct Finding {
  int severity;
  std::string text;
};

void judge_attendee(const AttendeeStatus &a, const AdaptationTriggers &t,
                    std::vector<Finding> *out) {
  const std::string who = "attendee " + a.id;
  if (a.state == "failed") {
    out->push_back({100, who + ": connection failed; it has to join again (check that UDP "
                               "reaches this machine from its network)"});
    return;
  }
  if (a.state == "reconnecting") {
    out->push_back({90, who + ": reconnecting after its link broke; nothing to do unless it "
                              "keeps happening (then check its network)"});
    return;
  }
  if (a.state != "connected") {
    out->push_back({40, who + ": still " + a.state +
                            "; if this lasts more than a few seconds, "
                            "check that UDP reaches this machine from its network"});
    return;
  }
  if (!a.metrics)
    return;
  const ConnectionMetrics &m = *a.metrics;
  const std::string level = to_string(a.level);
  if (m.packets_received > 0 && m.loss_rate > t.loss_rate) {
    std::string text = who + ": " + format("%.1f", m.loss_rate * 100) + "% packet loss; ";
    text += a.fec ? "FEC is on" : "FEC is off";
    text += a.level_changes > 0 ? " and its level went down to " + level : ", level " + level;
    text += "; check its Wi-Fi or mobile signal";
    out->push_back({80, text});
  }
  if (m.rtt_ms && *m.rtt_ms > t.rtt_ms)
    out->push_back({70, who + ": " + format("%.0f", *m.rtt_ms) +
                            " ms round trip, its link is congested or far away; level " + level +
                            " (a less busy network helps)"});
  if (m.jitter_ms && *m.jitter_ms > t.jitter_ms)
    out->push_back({60, who + ": " + format("%.0f", *m.jitter_ms) +
                            " ms jitter; raise its jitterbuffer latency or check its network"});
  if (a.battery_saving)
    out->push_back({10, who + ": saving battery, held at level " + level});
}

}  // namespace

bool is_healthy(const AttendeeStatus &a) {
  return a.state == "connected" && (!a.metrics || a.metrics->score >= 50);
}

std::vector<std::string> recommendations(const ChannelStatus &channel) {
  std::vector<Finding> findings;
  AdaptationTriggers triggers;
  for (const AttendeeStatus &a : channel.attendees)
    judge_attendee(a, triggers, &findings);
  size_t n = channel.attendees.size();
  if (channel.max_attendees > 0 && n * 10 >= channel.max_attendees * 9ull)
    findings.push_back({50, "channel " + channel.tour + "/" + channel.language + ": " +
                                std::to_string(n) + " of " + std::to_string(channel.max_attendees) +
                                " places taken; raise max-attendees or open another guide"});
  size_t unhealthy = std::count_if(channel.attendees.begin(), channel.attendees.end(),
                                   [](const AttendeeStatus &a) { return !is_healthy(a); });
  if (n >= 4 && unhealthy * 2 > n)
    findings.push_back({95, "most attendees (" + std::to_string(unhealthy) + " of " +
                                std::to_string(n) +
                                ") are unhealthy: the guide's own uplink is the likely cause"});
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding &a, const Finding &b) { return a.severity > b.severity; });
  std::vector<std::string> out;
  for (Finding &f : findings)
    out.push_back(std::move(f.text));
  return out;
}

std::string diagnostics_to_json(const ChannelStatus &channel, int64_t timestamp_ms) {
  nlohmann::json doc;
  doc["tour"] = channel.tour;
  doc["language"] = channel.language;
  doc["timestamp"] = timestamp_ms;
  doc["attendeeCount"] = channel.attendees.size();
  size_t healthy = 0;
  nlohmann::json attendees = nlohmann::json::array();
  for (const AttendeeStatus &a : channel.attendees) {
    nlohmann::json j;
    j["id"] = a.id;
    j["state"] = a.state;
    j["level"] = to_string(a.level);
    j["healthy"] = is_healthy(a);
    healthy += is_healthy(a) ? 1 : 0;
    if (a.metrics) {
      j["score"] = a.metrics->score;
      j["category"] = to_string(a.metrics->category);
      if (a.metrics->rtt_ms)
        j["rttMs"] = *a.metrics->rtt_ms;
      if (a.metrics->jitter_ms)
        j["jitterMs"] = *a.metrics->jitter_ms;
      j["lossRate"] = a.metrics->loss_rate;
    }
    j["fec"] = a.fec;
    j["profile"] = a.profile;
    j["batterySaving"] = a.battery_saving;
    j["connectedForMs"] = a.connected_for_ms;
    j["levelChanges"] = a.level_changes;
    j["lastChangeReason"] = a.last_change_reason;
    attendees.push_back(std::move(j));
  }
  doc["healthyCount"] = healthy;
  nlohmann::json encoders = nlohmann::json::array();
  for (int l = 0; l < kQualityLevelCount; l++)
    if (channel.encoders_running & (1u << l))
      encoders.push_back(to_string(static_cast<QualityLevel>(l)));
  doc["encoders"] = encoders;
  doc["levelChanges"] = channel.level_changes;
  doc["failedConnections"] = channel.failed_connections;
  doc["attendees"] = attendees;
  doc["recommendations"] = recommendations(channel);
  return dump_json(doc);
}

std::string diagnostics_to_json(const ChannelReport &report) {
  return diagnostics_to_json(report.channel, report.timestamp_ms);
}

namespace {

// A finite number in [min, max]; absent leaves *out empty when optional.
bool read_number(FieldReader *reader, const Json &object, const std::string &prefix,
                 const char *key, double min, double max, std::optional<double> *out,
                 Presence presence) {
  auto it = object.find(key);
  if (it == object.end())
    return presence == Presence::kOptional || reader->field_problem(prefix + key, "is missing");
  if (!it->is_number())
    return reader->field_problem(prefix + key, "must be a number");
  double value = it->get<double>();
  if (!std::isfinite(value) || value < min || value > max)
    return reader->field_problem(
        prefix + key, "must be between " + format("%g", min) + " and " + format("%g", max));
  *out = value;
  return true;
}

bool read_attendee(FieldReader *reader, const Json &j, const std::string &prefix,
                   AttendeeStatus *out) {
  if (!j.is_object())
    return reader->fail("'" + prefix.substr(0, prefix.size() - 1) + "' must be an object");
  AttendeeStatus a;
  std::string level;
  ConnectionState state;
  if (!reader->read_name(j, prefix, "id", NameKind::kParticipantId, &a.id) ||
      !reader->read(j, prefix, "state", &a.state) || !reader->read(j, prefix, "level", &level) ||
      !reader->read(j, prefix, "fec", &a.fec) || !reader->read(j, prefix, "profile", &a.profile) ||
      !reader->read(j, prefix, "batterySaving", &a.battery_saving) ||
      !reader->read(j, prefix, "connectedForMs", &a.connected_for_ms) ||
      !reader->read(j, prefix, "levelChanges", &a.level_changes) ||
      !reader->read(j, prefix, "lastChangeReason", &a.last_change_reason))
    return false;
  if (!connection_state_from_string(a.state, &state))
    return reader->field_problem(
        prefix + "state",
        "has unknown value " + quote_for_message(a.state) + " (expected a connection state)");
  if (!quality_level_from_string(level, &a.level))
    return reader->field_problem(prefix + "level", "has unknown value " + quote_for_message(level) +
                                                       " (expected a quality level)");
  if (a.connected_for_ms < -1)
    return reader->field_problem(prefix + "connectedForMs", "must be -1 or more");
  if (j.contains("score")) {
    int64_t score = 0;
    std::string category;
    ConnectionMetrics m;
    std::optional<double> loss;
    if (!reader->read(j, prefix, "score", &score) ||
        !reader->read(j, prefix, "category", &category) ||
        !read_number(reader, j, prefix, "lossRate", 0, 1, &loss, Presence::kRequired) ||
        !read_number(reader, j, prefix, "rttMs", 0, kMaxDelayMs, &m.rtt_ms, Presence::kOptional) ||
        !read_number(reader, j, prefix, "jitterMs", 0, kMaxDelayMs, &m.jitter_ms,
                     Presence::kOptional))
      return false;
    if (score < 0 || score > 100)
      return reader->field_problem(prefix + "score", "must be between 0 and 100");
    if (!quality_category_from_string(category, &m.category))
      return reader->field_problem(
          prefix + "category",
          "has unknown value " + quote_for_message(category) + " (expected a quality category)");
    m.score = static_cast<int>(score);
    m.loss_rate = *loss;
    a.metrics = m;
  } else {
    for (const char *key : {"category", "lossRate", "rttMs", "jitterMs"})
      if (j.contains(key))
        return reader->field_problem(prefix + key, "needs a score beside it");
  }
  *out = std::move(a);
  return true;
}

}  // namespace

bool diagnostics_from_json(std::string_view json, ChannelReport *out, std::string *error) {
  FieldReader reader("diagnostics JSON", error);
  if (json.size() > kMaxDiagnosticsBytes)
    return reader.fail("document is over " + std::to_string(kMaxDiagnosticsBytes) + " bytes");
  Json root;
  ChannelReport report;
  ChannelStatus &c = report.channel;
  if (!reader.parse_object(json, &root) ||
      !reader.read_name(root, "", "tour", NameKind::kTour, &c.tour) ||
      !reader.read_name(root, "", "language", NameKind::kLanguage, &c.language) ||
      !reader.read(root, "", "timestamp", &report.timestamp_ms) ||
      !reader.read(root, "", "levelChanges", &c.level_changes, 0, UINT64_MAX) ||
      !reader.read(root, "", "failedConnections", &c.failed_connections, 0, UINT64_MAX))
    return false;
  auto encoders = root.find("encoders");
  if (encoders == root.end())
    return reader.field_problem("encoders", "is missing");
  if (!encoders->is_array())
    return reader.field_problem("encoders", "must be an array of quality level names");
  for (const Json &name : *encoders) {
    QualityLevel level;
    if (!name.is_string() || !quality_level_from_string(name.get<std::string>(), &level))
      return reader.field_problem("encoders", "must be an array of quality level names");
    c.encoders_running |= 1u << static_cast<int>(level);
  }
  auto attendees = root.find("attendees");
  if (attendees == root.end())
    return reader.field_problem("attendees", "is missing");
  if (!attendees->is_array())
    return reader.field_problem("attendees", "must be an array");
  for (size_t i = 0; i < attendees->size(); i++) {
    AttendeeStatus a;
    if (!read_attendee(&reader, (*attendees)[i], "attendees[" + std::to_string(i) + "].", &a))
      return false;
    c.attendees.push_back(std::move(a));
  }
  *out = std::move(report);
  return true;
}

}  // namespace tourcast
