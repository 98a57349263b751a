/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Running another benchmark program and reading its result: ttfa-compare and join-storm
 * both run naive-fanout (and ttfa-compare `tourcast demo`) as a child process.
 */
#pragma once

#include <string>
#include <vector>

#include <glib.h>
#include <nlohmann/json.hpp>

namespace bench {

// Runs a program and returns the last line of its stdout that parses as a JSON object;
// its stderr (progress) passes through. On failure, null and *failure says why.
inline nlohmann::json run_for_json(const std::vector<std::string> &args, std::string *failure) {
  std::vector<gchar *> argv;
  for (const auto &arg : args)
    argv.push_back(const_cast<gchar *>(arg.c_str()));
  argv.push_back(nullptr);
  gchar *out = nullptr;
  gint status = 0;
  GError *error = nullptr;
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, nullptr,
                    &status, &error)) {
    *failure = args[0] + ": " + error->message;
    g_error_free(error);
    return nlohmann::json();
  }
  nlohmann::json result;
  gchar **lines = g_strsplit(out ? out : "", "\n", -1);
  for (gchar **line = lines; *line; line++) {
    nlohmann::json parsed = nlohmann::json::parse(*line, nullptr, false);
    if (parsed.is_object())
      result = parsed;
  }
  g_strfreev(lines);
  g_free(out);
  if (result.is_null())
    *failure = args[0] + " printed no JSON (wait status " + std::to_string(status) + ")";
  return result;
}

}  // namespace bench
