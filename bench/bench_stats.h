/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Summary statistics shared by the benchmark programs, so that naive-fanout and
 * ttfa-compare report medians and percentiles the same way.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench {

// A measured value per sample; nullopt where the sample never got there (an attendee
// that never heard audio), so the JSON keeps one entry per attendee and run.
using Samples = std::vector<std::optional<double>>;

inline double round1(double value) {
  return std::round(value * 10.0) / 10.0;
}

inline std::vector<double> present(const Samples &samples) {
  std::vector<double> values;
  for (const auto &sample : samples)
    if (sample)
      values.push_back(*sample);
  std::sort(values.begin(), values.end());
  return values;
}

// Median of the present values (mean of the two middle ones for an even count).
inline std::optional<double> median(const Samples &samples) {
  std::vector<double> values = present(samples);
  if (values.empty())
    return std::nullopt;
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

// Nearest-rank percentile: an actually observed value, never an interpolation, so that
// p99 of 100 samples is the second worst one and p99 of fewer than 100 is the maximum.
inline std::optional<double> percentile(const Samples &samples, double p) {
  std::vector<double> values = present(samples);
  if (values.empty())
    return std::nullopt;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

inline nlohmann::json to_json(const std::optional<double> &value) {
  return value ? nlohmann::json(round1(*value)) : nlohmann::json(nullptr);
}

inline nlohmann::json to_json(const Samples &samples) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto &sample : samples)
    array.push_back(to_json(sample));
  return array;
}

inline Samples samples_from_json(const nlohmann::json &array) {
  Samples samples;
  if (!array.is_array())
    return samples;
  for (const auto &value : array)
    samples.push_back(value.is_number() ? std::optional<double>(value.get<double>())
                                        : std::nullopt);
  return samples;
}

// {"median", "p99", "max", "min", "count", "values"}: "count" is how many samples got a
// value, so a median over fewer samples than "values" holds is visible as such.
inline nlohmann::json summarize(const Samples &samples) {
  std::vector<double> values = present(samples);
  nlohmann::json summary;
  summary["median"] = to_json(median(samples));
  summary["p99"] = to_json(percentile(samples, 99));
  summary["max"] = values.empty() ? nlohmann::json(nullptr) : to_json(values.back());
  summary["min"] = values.empty() ? nlohmann::json(nullptr) : to_json(values.front());
  summary["count"] = values.size();
  summary["values"] = to_json(samples);
  return summary;
}

}  // namespace bench
