/* tourcast-netem: options and the subcommands that need no namespaces.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "forwarder.h"

namespace tourcast::netem {

extern const char kUsage[];

struct Options {
  int attendees = 1;
  std::string profile = "ideal";
  std::vector<std::string> sets;
  std::string control, ready_file, prefix;
  uint64_t seed = 1;
  int bypass_port = 0;
  double duration_s = 0;
  bool keep_processes = false, quiet = false, realtime = true;
  // simulate only
  int count = 10000;
  double interval_ms = 20;
  int size = 172;  // a 20 ms Opus frame at 64 kb/s plus RTP/SRTP headers
};

/* argv[first..]; prints the problem and returns false on a bad option. */
bool parse_options(int argc, char **argv, int first, Options *o);
/* Applies --profile then every --set; prints the first error. */
bool configure_links(const Options &o, Forwarder *f);
std::vector<std::string> split_words(const std::string &line);
std::string profiles_json();
int64_t now_ns();

/* `tourcast-netem simulate`: what a ping from attendee 1 to the guide would
 * see through the model alone (no OS), the reference for measurements. */
int simulate(const Options &o);
/* `tourcast-netem ctl SOCKET COMMAND...` */
int ctl(int argc, char **argv);

}  // namespace tourcast::netem
