// `tourcast diagnostics`: what Redis currently holds for one tour/language channel.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tourcast_tools {

struct DiagnosticsOptions {
  std::string tour;
  std::string language;
  std::string redis_url = "redis://127.0.0.1:6379";
};

class RedisClient;

// The report as JSON: coordination, iceCandidatesCount, participants (each with ttlMs) and
// timestamp. False when Redis failed (reported on stderr).
bool build_report(RedisClient *client, const DiagnosticsOptions &options, nlohmann::json *report);

// Prints the report as pretty JSON on stdout. Returns the exit code: 0, 1 when Redis cannot
// be reached or fails, 2 for invalid options (message on stderr).
int run_diagnostics(const DiagnosticsOptions &options);

}  // namespace tourcast_tools
