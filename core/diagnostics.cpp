#include "diagnostics.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

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
  return doc.dump();
}

}  // namespace tourcast
