// `tourcast diagnostics`: what Redis currently holds for one tour/language channel.
#pragma once

#include <string>

namespace tourcast_tools {

struct DiagnosticsOptions {
  std::string tour;
  std::string language;
  std::string redis_url = "redis://127.0.0.1:6379";
};

// Prints the report as pretty JSON on stdout. Returns the exit code: 0, 1 when Redis cannot
// be reached or fails, 2 for invalid options (message on stderr).
int run_diagnostics(const DiagnosticsOptions &options);

}  // namespace tourcast_tools
