/* Reading what `gst-launch-1.0 -m` printed: the tests and benchmarks that run
 * tourcast's elements as processes in the emulator's namespaces read their
 * messages from its output.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tourcast::netem {

inline std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/* The number after @key ("score=(int)") in @line, if there. (No std::regex:
 * GCC 12 warns inside it under -fsanitize=address, and the leak check builds
 * with -Werror.) */
inline bool number_after(const std::string &line, const std::string &key, double *value) {
  size_t at = line.find(key);
  if (at == std::string::npos)
    return false;
  *value = std::strtod(line.c_str() + at + key.size(), nullptr);
  return true;
}

/* The lines of @log that contain both @a and @b. */
inline std::vector<std::string> lines_with(const std::string &log, const std::string &a,
                                           const std::string &b) {
  std::vector<std::string> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos)
      out.push_back(line);
  return out;
}

}  // namespace tourcast::netem
