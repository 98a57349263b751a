#include "metrics.h"

#include <algorithm>

#include "backoff.h"
#include "state_machine.h"

namespace tourcast_server {

std::string escape_label(const std::string &value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

std::string channel_labels(const ChannelKey &key) {
  return "tour=\"" + escape_label(key.first) + "\",language=\"" + escape_label(key.second) + "\"";
}

void family(std::string *out, const char *name, const char *type, const char *help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string *out, const char *name, const std::string &labels, int64_t value) {
  *out += std::string(name) + "{" + labels + "} " + std::to_string(value) + "\n";
}

}  // namespace

std::string render_channels(const std::map<ChannelKey, ChannelFigures> &channels, int64_t now_ms,
                            int unreadable_reports) {
  std::string out;
  family(&out, "tourcast_attendees", "gauge",
         "Attendees with a participant record in Redis, per channel.");
  for (const auto &[key, c] : channels)
    sample(&out, "tourcast_attendees", channel_labels(key), c.attendees);
  family(&out, "tourcast_guide_present", "gauge", "Whether a channel has a guide (1) or not (0).");
  for (const auto &[key, c] : channels)
    sample(&out, "tourcast_guide_present", channel_labels(key), c.guide ? 1 : 0);

  // From each guide's latest report: every attendee it has a peer for, browser or GStreamer.
  family(&out, "tourcast_guide_attendees", "gauge",
         "Attendees the channel's guide has a peer for, by connection state (its latest report).");
  for (const auto &[key, c] : channels) {
    if (!c.has_report)
      continue;
    std::map<std::string, int64_t> states;
    for (int i = 0; i < tourcast::kConnectionStateCount; i++)
      states[tourcast::to_string(static_cast<tourcast::ConnectionState>(i))] = 0;
    for (const auto &a : c.report.channel.attendees)
      states[a.state]++;
    for (const auto &[state, n] : states)
      sample(&out, "tourcast_guide_attendees",
             channel_labels(key) + ",state=\"" + escape_label(state) + "\"", n);
  }
  family(&out, "tourcast_guide_attendees_by_level", "gauge",
         "Attendees by the Opus quality level the guide sends them (its latest report).");
  for (const auto &[key, c] : channels) {
    if (!c.has_report)
      continue;
    std::array<int64_t, tourcast::kQualityLevelCount> levels{};
    for (const auto &a : c.report.channel.attendees)
      levels[static_cast<int>(a.level)]++;
    for (int l = 0; l < tourcast::kQualityLevelCount; l++)
      sample(&out, "tourcast_guide_attendees_by_level",
             channel_labels(key) + ",level=\"" +
                 tourcast::to_string(static_cast<tourcast::QualityLevel>(l)) + "\"",
             levels[l]);
  }
  family(&out, "tourcast_quality_scores", "gauge",
         "Attendees whose latest quality score (0-100, the guide's report) is at most le; "
         "cumulative like histogram buckets, but a snapshot: le=\"+Inf\" counts the scored "
         "attendees.");
  for (const auto &[key, c] : channels) {
    if (!c.has_report)
      continue;
    std::array<int64_t, kScoreBuckets.size()> buckets{};
    int64_t scored = 0;
    for (const auto &a : c.report.channel.attendees) {
      if (!a.metrics)
        continue;
      scored++;
      for (size_t i = 0; i < kScoreBuckets.size(); i++)
        buckets[i] += a.metrics->score <= kScoreBuckets[i] ? 1 : 0;
    }
    for (size_t i = 0; i < kScoreBuckets.size(); i++)
      sample(&out, "tourcast_quality_scores",
             channel_labels(key) + ",le=\"" + std::to_string(kScoreBuckets[i]) + "\"", buckets[i]);
    sample(&out, "tourcast_quality_scores", channel_labels(key) + ",le=\"+Inf\"", scored);
  }
  // One sample per channel whose guide reported.
  auto per_report = [&](const char *name, const char *help, auto value) {
    family(&out, name, "gauge", help);
    for (const auto &[key, c] : channels)
      if (c.has_report)
        sample(&out, name, channel_labels(key), value(c.report.channel));
  };
  per_report("tourcast_quality_score_sum",
             "Sum of the attendees' latest quality scores (divide by tourcast_quality_scores"
             "{le=\"+Inf\"} for the mean).",
             [](const tourcast::ChannelStatus &channel) {
               int64_t sum = 0;
               for (const auto &a : channel.attendees)
                 sum += a.metrics ? a.metrics->score : 0;
               return sum;
             });
  per_report("tourcast_guide_level_changes",
             "Quality level changes of all attendees since the guide started: the guide's "
             "running total from its latest report (starts again at 0 with a new guide).",
             [](const tourcast::ChannelStatus &channel) {
               return static_cast<int64_t>(channel.level_changes);
             });
  per_report("tourcast_guide_failed_connections",
             "Attendee connections that failed since the guide started: the guide's running "
             "total from its latest report.",
             [](const tourcast::ChannelStatus &channel) {
               return static_cast<int64_t>(channel.failed_connections);
             });
  family(&out, "tourcast_guide_recoveries", "gauge",
         "Recoveries the guide's attendees asked it for since it started, by level: the guide's "
         "running total from its participant record.");
  for (const auto &[key, c] : channels) {
    if (!c.has_recoveries)
      continue;
    for (int i = 0; i < tourcast::kRecoveryLevelCount; i++)
      sample(&out, "tourcast_guide_recoveries",
             channel_labels(key) + ",level=\"" +
                 tourcast::to_string(static_cast<tourcast::RecoveryLevel>(i)) + "\"",
             c.recoveries[i]);
  }
  family(&out, "tourcast_guide_report_age_seconds", "gauge",
         "Age of the guide's latest report (it reports every report-interval).");
  for (const auto &[key, c] : channels)
    if (c.has_report)
      out += "tourcast_guide_report_age_seconds{" + channel_labels(key) + "} " +
             std::to_string(std::max<int64_t>(0, now_ms - c.report.timestamp_ms) / 1000.0) + "\n";
  family(&out, "tourcast_guide_reports_unreadable", "gauge",
         "Guide reports in Redis this scrape could not decode (left out above).");
  out += "tourcast_guide_reports_unreadable " + std::to_string(unreadable_reports) + "\n";
  return out;
}

void Metrics::count_join(const std::string &kind) {
  std::lock_guard<std::mutex> guard(lock_);
  joins_[kind]++;
}

void Metrics::count_failure(const std::string &kind, const std::string &reason) {
  std::lock_guard<std::mutex> guard(lock_);
  failures_[{kind, reason}]++;
}

void Metrics::count_request(int status) {
  std::lock_guard<std::mutex> guard(lock_);
  requests_[status]++;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> guard(lock_);
  std::string out;
  out += "# HELP tourcast_joins_total Listeners (whep, seed) and guides (whip) that joined.\n";
  out += "# TYPE tourcast_joins_total counter\n";
  for (const char *kind : {"whep", "whip", "seed"}) {
    auto it = joins_.find(kind);
    out += std::string("tourcast_joins_total{kind=\"") + kind + "\"} " +
           std::to_string(it == joins_.end() ? 0 : it->second) + "\n";
  }
  out += "# HELP tourcast_join_failures_total Joins that failed, by reason.\n";
  out += "# TYPE tourcast_join_failures_total counter\n";
  for (const auto &[key, n] : failures_)
    out += "tourcast_join_failures_total{kind=\"" + escape_label(key.first) + "\",reason=\"" +
           escape_label(key.second) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP tourcast_http_responses_total HTTP responses by status code.\n";
  out += "# TYPE tourcast_http_responses_total counter\n";
  for (const auto &[code, n] : requests_)
    out += "tourcast_http_responses_total{code=\"" + std::to_string(code) + "\"} " +
           std::to_string(n) + "\n";
  return out;
}

}  // namespace tourcast_server
