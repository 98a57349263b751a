// tourcast-server's Prometheus metrics: counters and histograms kept in the process, gauges
// read from Redis at scrape time (so every server sharing one Redis reports the same
// channel figures).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace tourcast_server {

// Label values are escaped as the text format requires (\\, \", \n).
std::string escape_label(const std::string &value);

class Metrics {
 public:
  // Quality score buckets: the category thresholds.
  static constexpr std::array<int, 5> kScoreBuckets = {30, 50, 70, 85, 100};

  void count_join(const std::string &kind);                             // whep, whip, seed
  void count_failure(const std::string &kind, const std::string &reason);  // e.g. no-guide
  void count_request(int status);
  void observe_score(int score);
  void count_level_change();
  void count_recoveries(uint64_t n);

  // The in-process part of the exposition (HELP/TYPE lines included).
  std::string render() const;

 private:
  mutable std::mutex lock_;
  std::map<std::string, uint64_t> joins_;
  std::map<std::pair<std::string, std::string>, uint64_t> failures_;
  std::map<int, uint64_t> requests_;
  std::array<uint64_t, kScoreBuckets.size()> score_buckets_{};
  uint64_t score_count_ = 0;
  uint64_t score_sum_ = 0;
  uint64_t level_changes_ = 0;
  uint64_t recoveries_ = 0;
};

}  // namespace tourcast_server
