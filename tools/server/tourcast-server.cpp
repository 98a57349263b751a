// tourcast-server: browsers listen to (WHEP) and speak on (WHIP) tourcast channels; the
// seed's JSON API, diagnostics, Prometheus metrics, health checks, and the web page.
#include <glib-unix.h>
#include <gst/gst.h>

#include <cstdio>
#include <string>

#include "plugin_path.h"
#include "redis_server.h"
#include "server.h"

namespace {

const char kDescription[] =
    "Endpoints:\n"
    "  POST   /whep/{tour}/{language}       listen: application/sdp offer -> 201 + answer,\n"
    "                                        Location /resource/{id} (?profile=mobile/4g)\n"
    "  POST   /whip/{tour}/{language}       speak as the guide (Authorization: Bearer TOKEN;\n"
    "                                        ?takeover=1 replaces the current guide)\n"
    "  PATCH  /resource/{id}                trickle ICE (application/trickle-ice-sdpfrag)\n"
    "  DELETE /resource/{id}                leave / stop speaking\n"
    "  POST   /resource/{id}/report         a listener's stats -> the guide's report on it (level\n"
    "                                        it sends, score) and the stats scored\n"
    "  GET    /api/channels                 channels with their guide and listener count\n"
    "  POST   /api/tour/offer               the seed's offer store (placeholderReplaced)\n"
    "  GET    /api/tour/diagnostics?tourId=&language=   the seed's diagnostics report\n"
    "  GET    /metrics /healthz /readyz     Prometheus text, process alive, Redis reachable\n"
    "                                        (metrics: every channel's attendees as their\n"
    "                                        guides report them; docs/guide.md lists them)\n"
    "  GET    /                             the web page (listener and guide views)\n"
    "\n"
    "Token file: one \"<tour> <token>\" per line, '#' comments; tokens 16-256 characters of\n"
    "letters, digits and ._~+/=-; a tour may have several, a token belongs to one tour.";

gboolean on_signal(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop *>(loop));
  return G_SOURCE_REMOVE;
}

}  // namespace

int main(int argc, char **argv) {
  tourcast_tools::set_plugin_path();
  gchar *listen = nullptr, *redis_url = nullptr, *token_file = nullptr, *static_dir = nullptr,
        *ice_addresses = nullptr;
  gint port = 8080, answer_timeout = 10000, max_pending = 32;
  gdouble rate = 5, burst = 20;
  gboolean embedded = FALSE;
  GOptionEntry entries[] = {
      {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
       "IP address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)", "ADDRESS"},
      {"port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port (default 8080; 0 picks a free one)",
       "PORT"},
      {"redis-url", 'r', 0, G_OPTION_ARG_STRING, &redis_url,
       "Redis holding the channels: redis://[[user][:password]@]host[:port][/db] (default "
       "redis://127.0.0.1:6379). Servers sharing one Redis serve the same channels",
       "URL"},
      {"embedded-redis", 0, 0, G_OPTION_ARG_NONE, &embedded,
       "Start a private redis-server on a free loopback port instead (as tourcast demo does)",
       nullptr},
      {"token-file", 't', 0, G_OPTION_ARG_FILENAME, &token_file,
       "File of \"<tour> <token>\" lines: the Bearer tokens that may publish (WHIP) for each "
       "tour. Without it nobody can publish from a browser",
       "FILE"},
      {"static-dir", 's', 0, G_OPTION_ARG_FILENAME, &static_dir,
       "Directory of the web page served at / (default: the page this build ships)", "DIR"},
      {"ice-addresses", 0, 0, G_OPTION_ARG_STRING, &ice_addresses,
       "Comma-separated local IPs that ICE may use for browser guides' pipelines (default: "
       "every non-loopback interface)",
       "IPS"},
      {"answer-timeout", 0, 0, G_OPTION_ARG_INT, &answer_timeout,
       "Milliseconds a listener's join waits for the guide's answer (default 10000)", "MS"},
      {"max-pending-joins", 0, 0, G_OPTION_ARG_INT, &max_pending,
       "Joins waiting for an answer at once; more get 503 + Retry-After (default 32)", "N"},
      {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate,
       "POSTs per second one client address may make, sustained (default 5); more get 429 + "
       "Retry-After",
       "N"},
      {"burst", 0, 0, G_OPTION_ARG_DOUBLE, &burst, "and in a burst (default 20)", "N"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context = g_option_context_new("- tourcast channels for web browsers");
  g_option_context_set_summary(
      context,
      "Serves a web page where listeners pick a tour and language and hear its guide, and "
      "guides speak from their browser's microphone. Listeners are answered by the channel's "
      "guide process through Redis (WHEP); a browser guide is ingested into a tourguidesink "
      "pipeline in this server (WHIP).");
  g_option_context_set_description(context, kDescription);
  g_option_context_add_main_entries(context, entries, nullptr);
  g_option_context_add_group(context, gst_init_get_option_group());
  GError *error = nullptr;
  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    std::fprintf(stderr, "tourcast-server: %s (see --help)\n", error->message);
    g_error_free(error);
    g_option_context_free(context);
    return 2;
  }
  g_option_context_free(context);
  if (port < 0 || port > 65535 || answer_timeout < 100 || max_pending < 1 || rate <= 0 ||
      burst < 1) {
    std::fprintf(stderr, "tourcast-server: an option is out of range (see --help)\n");
    return 2;
  }
  if (embedded && redis_url) {
    std::fprintf(stderr, "tourcast-server: --redis-url and --embedded-redis exclude each other\n");
    return 2;
  }

  tourcast_tools::EmbeddedRedis redis;
  std::string why;
  if (embedded && !redis.start([] { return false; }, &why)) {
    std::fprintf(stderr, "tourcast-server: %s\n", why.c_str());
    return 1;
  }

  tourcast_server::ServerConfig config;
  config.listen_address = listen ? listen : "127.0.0.1";
  config.port = port;
  config.redis_url = embedded ? redis.url() : redis_url ? redis_url : "redis://127.0.0.1:6379";
  config.token_file = token_file ? token_file : "";
  config.static_dir = static_dir ? static_dir
                      : g_file_test(TOURCAST_WEB_SOURCE_DIR, G_FILE_TEST_IS_DIR)
                          ? TOURCAST_WEB_SOURCE_DIR
                          : TOURCAST_WEB_INSTALL_DIR;
  config.ice_addresses = ice_addresses ? ice_addresses : "";
  config.answer_timeout_ms = answer_timeout;
  config.max_pending_joins = max_pending;
  config.rate_per_second = rate;
  config.rate_burst = burst;
  g_free(listen);
  g_free(redis_url);
  g_free(token_file);
  g_free(static_dir);
  g_free(ice_addresses);

  int status = 0;
  {
    tourcast_server::Server server(config);
    if (!server.start(&why)) {
      std::fprintf(stderr, "tourcast-server: %s\n", why.c_str());
      status = 1;
    } else {
      GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
      g_unix_signal_add(SIGINT, on_signal, loop);
      g_unix_signal_add(SIGTERM, on_signal, loop);
      std::printf("tourcast-server listening on http://%s:%d/ (redis %s)\n",
                  config.listen_address.c_str(), server.port(), config.redis_url.c_str());
      std::fflush(stdout);
      g_main_loop_run(loop);
      g_main_loop_unref(loop);
      server.stop();
    }
  }
  redis.stop();
  gst_deinit();
  return status;
}
