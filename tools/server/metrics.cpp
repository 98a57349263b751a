#include "metrics.h"

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

void Metrics::observe_score(int score) {
  std::lock_guard<std::mutex> guard(lock_);
  for (size_t i = 0; i < kScoreBuckets.size(); i++) {
    if (score <= kScoreBuckets[i])
      score_buckets_[i]++;
  }
  score_count_++;
  score_sum_ += score < 0 ? 0 : static_cast<uint64_t>(score);
}

void Metrics::count_level_change() {
  std::lock_guard<std::mutex> guard(lock_);
  level_changes_++;
}

void Metrics::count_recoveries(uint64_t n) {
  std::lock_guard<std::mutex> guard(lock_);
  recoveries_ += n;
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
  out += "# HELP tourcast_quality_score Quality scores (0-100) reported by browser listeners.\n";
  out += "# TYPE tourcast_quality_score histogram\n";
  for (size_t i = 0; i < kScoreBuckets.size(); i++)
    out += "tourcast_quality_score_bucket{le=\"" + std::to_string(kScoreBuckets[i]) + "\"} " +
           std::to_string(score_buckets_[i]) + "\n";
  out += "tourcast_quality_score_bucket{le=\"+Inf\"} " + std::to_string(score_count_) + "\n";
  out += "tourcast_quality_score_sum " + std::to_string(score_sum_) + "\n";
  out += "tourcast_quality_score_count " + std::to_string(score_count_) + "\n";
  out += "# HELP tourcast_level_changes_total Quality level changes of browser listeners.\n";
  out += "# TYPE tourcast_level_changes_total counter\n";
  out += "tourcast_level_changes_total " + std::to_string(level_changes_) + "\n";
  out += "# HELP tourcast_recoveries_total Reconnections browser listeners made after a drop.\n";
  out += "# TYPE tourcast_recoveries_total counter\n";
  out += "tourcast_recoveries_total " + std::to_string(recoveries_) + "\n";
  return out;
}

}  // namespace tourcast_server
