// tourcast-server's Prometheus metrics: counters of what this process did (joins, failures,
// responses), and gauges of every channel read from Redis at scrape time (participant records
// and each guide's latest report), so every server sharing one Redis reports the same channel
// figures.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

// core/diagnostics.h (the channel report); plain "diagnostics.h" is tools/diagnostics.h.
#include "../../core/diagnostics.h"

namespace tourcast_server {

// Label values are escaped as the text format requires (\\, \", \n).
std::string escape_label(const std::string &value);

// What Redis holds about one channel at scrape time.
struct ChannelFigures {
  bool guide = false;  // a guide's participant record
  int attendees = 0;   // attendees' participant records
  // The guide's record: recoveries its attendees asked for, per RecoveryLevel.
  bool has_recoveries = false;
  std::array<int64_t, 3> recoveries{};
  // The guide's latest report (webrtc:diagnostics:{tour}:{language}).
  bool has_report = false;
  tourcast::ChannelReport report;
};
using ChannelKey = std::pair<std::string, std::string>;  // tour, language

// Quality score buckets ("le"): the category thresholds.
constexpr std::array<int, 5> kScoreBuckets = {30, 50, 70, 85, 100};

// The channel part of the exposition (HELP/TYPE lines included); now_ms ages the reports.
// unreadable_reports: diagnostics keys that did not decode.
std::string render_channels(const std::map<ChannelKey, ChannelFigures> &channels, int64_t now_ms,
                            int unreadable_reports);

class Metrics {
 public:
  void count_join(const std::string &kind);                                // whep, whip, seed
  void count_failure(const std::string &kind, const std::string &reason);  // e.g. no-guide
  void count_request(int status);

  // The in-process part of the exposition (HELP/TYPE lines included).
  std::string render() const;

 private:
  mutable std::mutex lock_;
  std::map<std::string, uint64_t> joins_;
  std::map<std::pair<std::string, std::string>, uint64_t> failures_;
  std::map<int, uint64_t> requests_;
};

}  // namespace tourcast_server
