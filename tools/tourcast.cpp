// tourcast: try out a tour channel end to end (`demo`) and inspect one in Redis
// (`diagnostics`).
#include <clocale>
#include <cstdio>
#include <cstring>
#include <string>

#include <glib.h>
#include <gst/gst.h>

#include "demo.h"
#include "diagnostics.h"
#include "plugin_path.h"

namespace {

using tourcast_tools::DemoOptions;
using tourcast_tools::DiagnosticsOptions;

constexpr int kUsageError = 2;

const char kOverview[] =
    "tourcast " TOURCAST_VERSION
    " - live one-to-many audio over WebRTC, signaled through Redis\n"
    "\n"
    "Usage:\n"
    "  tourcast COMMAND [OPTION...]\n"
    "\n"
    "Commands:\n"
    "  demo          Run a guide and N attendees in this process (over loopback, with a\n"
    "                private redis-server unless --redis-url is given) and show what every\n"
    "                attendee hears; exits 0 only if all of them heard the guide's tone\n"
    "  diagnostics   Print what Redis holds for one tour/language channel, as JSON\n"
    "\n"
    "Run 'tourcast COMMAND --help' for the options of a command; they are also listed below.\n";

struct DemoArgs {
  gint attendees = 3;
  gint duration = 0;
  gchar *redis_url = nullptr;
  gchar *tour = nullptr;
  gchar *language = nullptr;
  gdouble frequency = 440;
  gint latency = -1;
  gchar *ice_address = nullptr;
  gboolean json = FALSE;
  gboolean verbose = FALSE;

  ~DemoArgs() {
    g_free(redis_url);
    g_free(tour);
    g_free(language);
    g_free(ice_address);
  }
};

GOptionContext *demo_context(DemoArgs *args) {
  static GOptionEntry entries[] = {
      {"attendees", 'n', 0, G_OPTION_ARG_INT, nullptr, "Number of attendees listening (default 3)",
       "N"},
      {"duration", 'd', 0, G_OPTION_ARG_INT, nullptr,
       "Stop after this many seconds (default: run until Ctrl-C)", "SECONDS"},
      {"redis-url", 'r', 0, G_OPTION_ARG_STRING, nullptr,
       "Use this Redis, redis://[[user][:password]@]host[:port][/db], instead of starting a "
       "private redis-server on a free 127.0.0.1 port",
       "URL"},
      {"tour", 't', 0, G_OPTION_ARG_STRING, nullptr, "Tour id (default demo)", "T"},
      {"language", 'l', 0, G_OPTION_ARG_STRING, nullptr, "Language channel (default en)", "L"},
      {"frequency", 'f', 0, G_OPTION_ARG_DOUBLE, nullptr,
       "Frequency of the guide's test tone, 20-20000 (default 440)", "HZ"},
      {"latency", 0, 0, G_OPTION_ARG_INT, nullptr,
       "Attendees' jitterbuffer latency, 0-10000 (default: adaptive, from 20 for a desktop, "
       "raised when packets come late)",
       "MS"},
      {"ice-address", 0, 0, G_OPTION_ARG_STRING, nullptr,
       "Local IP address ICE may use, for guide and attendees (default 127.0.0.1)", "IP"},
      {"json", 0, 0, G_OPTION_ARG_NONE, nullptr,
       "Print the summary as one JSON line on stdout ({\"attendees\", "
       "\"time_to_first_audio_ms\", \"median_ms\", \"all_heard\", \"failures\"}); the live "
       "view goes to stderr",
       nullptr},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, nullptr,
       "Also print the guide's per-attendee state changes and other element messages", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  void *targets[] = {&args->attendees, &args->duration,  &args->redis_url, &args->tour,
                     &args->language,  &args->frequency, &args->latency,   &args->ice_address,
                     &args->json,      &args->verbose};
  for (size_t i = 0; i < G_N_ELEMENTS(targets); i++)
    entries[i].arg_data = targets[i];
  GOptionContext *context = g_option_context_new("- hear a guide through N attendees");
  g_option_context_set_summary(
      context,
      "Runs a guide streaming a test tone (audiotestsrc ! tourguidesink) and N attendees\n"
      "(tourattendeesrc ! audioconvert ! fakesink) in this process, all over 127.0.0.1.\n"
      "Unless --redis-url is given it starts its own redis-server on a free loopback port\n"
      "and stops it again at exit. The live view shows each attendee's connection state, time\n"
      "to first audio, audio level (RMS over the last 0.5 s) and whether the tone is there.\n"
      "\n"
      "Exit status: 0 if every attendee received audio, louder than -40 dBFS, with the tone;\n"
      "1 otherwise or on any pipeline error; 2 for invalid options.");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  return context;
}

struct DiagnosticsArgs {
  gchar *tour = nullptr;
  gchar *language = nullptr;
  gchar *redis_url = nullptr;

  ~DiagnosticsArgs() {
    g_free(tour);
    g_free(language);
    g_free(redis_url);
  }
};

GOptionContext *diagnostics_context(DiagnosticsArgs *args) {
  static GOptionEntry entries[] = {
      {"tour", 't', 0, G_OPTION_ARG_STRING, nullptr, "Tour id (required)", "T"},
      {"language", 'l', 0, G_OPTION_ARG_STRING, nullptr, "Language channel (required)", "L"},
      {"redis-url", 'r', 0, G_OPTION_ARG_STRING, nullptr,
       "Redis to inspect, redis://[[user][:password]@]host[:port][/db] (default "
       "redis://127.0.0.1:6379)",
       "URL"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  entries[0].arg_data = &args->tour;
  entries[1].arg_data = &args->language;
  entries[2].arg_data = &args->redis_url;
  GOptionContext *context = g_option_context_new("- show a channel's state in Redis");
  g_option_context_set_summary(
      context,
      "Prints, as JSON, what Redis holds for one tour/language channel:\n"
      "  coordination        the decoded webrtc:coordination:{tour}:{language} value, or null\n"
      "  coordinationError   only when that value is malformed (with coordinationRaw)\n"
      "  iceCandidatesCount  length of webrtc:ice_candidates:{tour}:{language}\n"
      "  participants        every webrtc:participant:{tour}:{language}:* record (found with\n"
      "                      SCAN), each with ttlMs, its remaining time to live\n"
      "  timestamp           when the report was taken, ms since the epoch\n"
      "\n"
      "Exit status: 0, 1 if Redis cannot be reached or fails, 2 for invalid options.");
  g_option_context_add_main_entries(context, entries, nullptr);
  return context;
}

std::string help_of(GOptionContext *context) {
  gchar *text = g_option_context_get_help(context, TRUE, nullptr);
  std::string help = text;
  g_free(text);
  return help;
}

// argv[0] becomes "tourcast COMMAND" so GOption's usage lines name the command.
bool parse(GOptionContext *context, const char *command, int argc, char **argv) {
  std::string program = std::string("tourcast ") + command;
  g_set_prgname(program.c_str());
  std::string first = program;
  argv[0] = first.data();
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  if (!ok) {
    fprintf(stderr, "%s: %s (see %s --help)\n", program.c_str(), error->message, program.c_str());
    g_error_free(error);
    return false;
  }
  if (argc > 1) {
    fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", program.c_str(), argv[1],
            program.c_str());
    return false;
  }
  return true;
}

int demo_main(int argc, char **argv) {
  DemoArgs args;
  GOptionContext *context = demo_context(&args);
  // Before parsing: the GStreamer option group runs gst_init, which reads GST_PLUGIN_PATH.
  tourcast_tools::set_plugin_path();
  bool ok = parse(context, "demo", argc, argv);
  g_option_context_free(context);
  if (!ok)
    return kUsageError;
  DemoOptions options;
  options.attendees = args.attendees;
  options.duration_s = args.duration;
  if (args.redis_url)
    options.redis_url = args.redis_url;
  if (args.tour)
    options.tour = args.tour;
  if (args.language)
    options.language = args.language;
  options.frequency = args.frequency;
  options.latency_ms = args.latency;
  if (args.ice_address)
    options.ice_address = args.ice_address;
  options.json = args.json;
  options.verbose = args.verbose;
  std::string error;
  if (!tourcast_tools::validate_demo_options(options, &error)) {
    fprintf(stderr, "tourcast demo: %s\n", error.c_str());
    return kUsageError;
  }
  return tourcast_tools::run_demo(options);
}

int diagnostics_main(int argc, char **argv) {
  DiagnosticsArgs args;
  GOptionContext *context = diagnostics_context(&args);
  bool ok = parse(context, "diagnostics", argc, argv);
  g_option_context_free(context);
  if (!ok)
    return kUsageError;
  DiagnosticsOptions options;
  if (args.tour)
    options.tour = args.tour;
  if (args.language)
    options.language = args.language;
  if (args.redis_url)
    options.redis_url = args.redis_url;
  return tourcast_tools::run_diagnostics(options);
}

void print_help(FILE *out) {
  DemoArgs demo_args;
  DiagnosticsArgs diagnostics_args;
  GOptionContext *demo = demo_context(&demo_args);
  GOptionContext *diagnostics = diagnostics_context(&diagnostics_args);
  g_set_prgname("tourcast demo");
  std::string demo_help = help_of(demo);
  g_set_prgname("tourcast diagnostics");
  std::string diagnostics_help = help_of(diagnostics);
  fprintf(out, "%s\n%s\n%s", kOverview, demo_help.c_str(), diagnostics_help.c_str());
  g_option_context_free(demo);
  g_option_context_free(diagnostics);
}

}  // namespace

int main(int argc, char **argv) {
  // Messages and --help in the user's language and charset, but numbers (printed and parsed,
  // e.g. --frequency=440.5) always with a decimal point.
  setlocale(LC_ALL, "");
  setlocale(LC_NUMERIC, "C");
  if (argc < 2) {
    print_help(stderr);
    return kUsageError;
  }
  const char *command = argv[1];
  if (strcmp(command, "demo") == 0)
    return demo_main(argc - 1, argv + 1);
  if (strcmp(command, "diagnostics") == 0)
    return diagnostics_main(argc - 1, argv + 1);
  if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
      strcmp(command, "help") == 0) {
    print_help(stdout);
    return 0;
  }
  if (strcmp(command, "--version") == 0) {
    printf("tourcast %s\n", TOURCAST_VERSION);
    return 0;
  }
  fprintf(stderr, "tourcast: unknown command '%s'; run 'tourcast --help'\n", command);
  return kUsageError;
}
