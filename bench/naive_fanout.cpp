/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * naive-fanout: the baseline tourcast is measured against. One process, one encoded
 * source (audiotestsrc ! opusenc ! rtpopuspay ! tee) and, per attendee, a sending
 * webrtcbin on that tee plus a receiving webrtcbin in a pipeline of its own, with the
 * offer, answer and ICE candidates handed over by direct calls: no signaling server,
 * no Redis, no state machine. Whatever tourcast adds on top of this (signaling round
 * trips, its own negotiation rules) shows up as the difference to these figures.
 *
 * Per attendee it measures, from the start of its join (the creation of its two
 * webrtcbins), the time to the receiver's connection-state CONNECTED and to the first
 * decoded buffer leaving opusdec; then threads, RSS and CPU once everything plays.
 * The result is one JSON line on stdout; progress goes to stderr.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include "ice-agent.h"

#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_stats.h"

namespace {

using nlohmann::json;

struct Options {
  int attendees = 1;
  int runs = 5;
  bool warm = false;
  std::string address = "127.0.0.1";
  int latency_ms = 200;
  double timeout_s = 20;
  double steady_s = 5;
  bool join_with_source = false;
  bool preload = false;
  bool common_start = false;  // every attendee's clock starts before the first join
  bool verbose = false;
  bool child = false;  // internal: one cold run, its RunResult as JSON on stdout
  std::string label;   // internal: "run i/R" for the child's progress lines
};

// Everything one run measured; a cold run's child sends it to its parent as JSON.
struct RunResult {
  bench::Samples first_audio_ms;
  bench::Samples connected_ms;
  bool all_heard = false;
  std::optional<double> threads;
  std::optional<double> rss_mb;
  std::optional<double> cpu_cores;
  std::vector<std::string> failures;

  json to_json() const {
    return json{{"first_audio_ms", bench::to_json(first_audio_ms)},
                {"connected_ms", bench::to_json(connected_ms)},
                {"all_heard", all_heard},
                {"threads", bench::to_json(threads)},
                {"rss_mb", bench::to_json(rss_mb)},
                {"cpu_cores", cpu_cores ? json(std::round(*cpu_cores * 1000) / 1000) : json()},
                {"failures", failures}};
  }

  static std::optional<double> number(const json &object, const char *key) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number())
      return std::nullopt;
    return it->get<double>();
  }

  static RunResult from_json(const json &object) {
    RunResult result;
    result.first_audio_ms = bench::samples_from_json(object.value("first_audio_ms", json()));
    result.connected_ms = bench::samples_from_json(object.value("connected_ms", json()));
    result.all_heard = object.value("all_heard", false);
    result.threads = number(object, "threads");
    result.rss_mb = number(object, "rss_mb");
    result.cpu_cores = number(object, "cpu_cores");
    result.failures = object.value("failures", std::vector<std::string>());
    return result;
  }
};

gint64 now_us() {
  return g_get_monotonic_time();
}

void progress(const char *format, ...) G_GNUC_PRINTF(1, 2);
void progress(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
}

/* ---------- process figures ---------- */

int count_threads() {
  int count = 0;
  if (DIR *dir = opendir("/proc/self/task")) {
    while (const dirent *entry = readdir(dir))
      if (entry->d_name[0] != '.')
        count++;
    closedir(dir);
  }
  return count;
}

std::optional<double> rss_mib() {
  FILE *status = fopen("/proc/self/status", "r");
  if (!status)
    return std::nullopt;
  char line[256];
  std::optional<double> rss;
  long kib = 0;
  while (fgets(line, sizeof line, status))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
      rss = kib / 1024.0;
      break;
    }
  fclose(status);
  return rss;
}

// User plus system CPU time of all threads of this process, in seconds.
double cpu_seconds() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval &tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/* ---------- one run ---------- */

struct Run;

struct Attendee {
  Run *run = nullptr;
  int index = 0;
  gint64 join_us = 0;
  GstElement *sender = nullptr;             // in the source pipeline, after the tee
  GstElement *receiver_pipeline = nullptr;  // webrtcbin ! rtpopusdepay ! opusdec ! fakesink
  GstElement *receiver = nullptr;
  guint receiver_watch = 0;
  std::atomic<gint64> connected_us{-1};
  std::atomic<gint64> first_audio_us{-1};
  std::atomic<bool> negotiation_started{false};
  std::atomic<bool> counted{false};  // in Run::done

  // A webrtcbin only accepts remote candidates once it has a remote description, but
  // the other side starts gathering as soon as it has a local one: candidates wait here
  // until their destination is ready.
  std::mutex lock;
  bool sender_has_remote = false;
  bool receiver_has_remote = false;
  std::vector<std::pair<guint, std::string>> for_sender;
  std::vector<std::pair<guint, std::string>> for_receiver;
};

struct Run {
  const Options &options;
  GMainLoop *loop = nullptr;
  GstElement *source_pipeline = nullptr;
  GstElement *tee = nullptr;
  guint source_watch = 0;
  std::vector<std::unique_ptr<Attendee>> attendees;
  std::atomic<bool> stopping{false};
  std::atomic<int> done{0};  // attendees both connected and heard
  bool timed_out = false;
  std::mutex lock;
  std::vector<std::string> failures;

  explicit Run(const Options &opts) : options(opts) {}

  // Callable from any thread: the first failure ends the run.
  void fail(const std::string &why) {
    {
      std::lock_guard<std::mutex> guard(lock);
      failures.push_back(why);
    }
    progress("%s%sFAILED: %s", options.label.c_str(), options.label.empty() ? "" : ": ",
             why.c_str());
    g_main_loop_quit(loop);
  }

  bool failed() {
    std::lock_guard<std::mutex> guard(lock);
    return !failures.empty();
  }
};

double elapsed_ms(gint64 from_us, gint64 to_us) {
  return (to_us - from_us) / 1000.0;
}

// A state (connected, first audio) reached by one attendee; ends the wait once every
// attendee reached both.
void mark_reached(Attendee *a, std::atomic<gint64> *when, const char *what) {
  gint64 expected = -1;
  gint64 now = now_us();
  if (!when->compare_exchange_strong(expected, now))
    return;
  const Options &options = a->run->options;
  if (options.verbose)
    progress("%s%sattendee %d: %s after %.1f ms", options.label.c_str(),
             options.label.empty() ? "" : ": ", a->index, what, elapsed_ms(a->join_us, now));
  // The two states are reached on different threads, which may both see both set.
  if (a->connected_us >= 0 && a->first_audio_us >= 0 && !a->counted.exchange(true) &&
      ++a->run->done == static_cast<int>(a->run->attendees.size()))
    g_main_loop_quit(a->run->loop);
}

/* --- ICE ---------------------------------------------------------------------- */

// Restricts the agent to the benchmark's address. Must run before the first
// set-local-description, which is when webrtcbin starts gathering.
void deliver(GstElement *to, const std::vector<std::pair<guint, std::string>> &candidates) {
  for (const auto &candidate : candidates)
    g_signal_emit_by_name(to, "add-ice-candidate", candidate.first, candidate.second.c_str());
}

void on_ice_candidate(GstElement *webrtc, guint mline, const gchar *candidate, Attendee *a) {
  Run *run = a->run;
  if (run->stopping || !candidate || !*candidate)
    return;
  // "candidate:<foundation> <component> <transport> <priority> <address> <port> typ ..."
  gchar **fields = g_strsplit(candidate, " ", -1);
  bool ours = g_strv_length(fields) > 5 && run->options.address == fields[4];
  g_strfreev(fields);
  if (!ours) {
    // Never hand the peer an address outside the benchmark's: it would send there.
    run->fail(std::string("candidate outside --address, not forwarded: ") + candidate);
    return;
  }
  bool to_receiver = webrtc == a->sender;
  GstElement *peer = to_receiver ? a->receiver : a->sender;
  {
    std::lock_guard<std::mutex> guard(a->lock);
    bool ready = to_receiver ? a->receiver_has_remote : a->sender_has_remote;
    if (!ready) {
      (to_receiver ? a->for_receiver : a->for_sender).emplace_back(mline, candidate);
      return;
    }
  }
  g_signal_emit_by_name(peer, "add-ice-candidate", mline, candidate);
}

void remote_description_set(Attendee *a, bool on_receiver) {
  std::vector<std::pair<guint, std::string>> waiting;
  {
    std::lock_guard<std::mutex> guard(a->lock);
    (on_receiver ? a->receiver_has_remote : a->sender_has_remote) = true;
    waiting.swap(on_receiver ? a->for_receiver : a->for_sender);
  }
  deliver(on_receiver ? a->receiver : a->sender, waiting);
}

/* --- offer/answer: sender offers, receiver answers, all by direct calls ---------- */

// The reply of a settled promise, with ok false (and the run failed) if webrtcbin
// rejected or interrupted it, or the run is being torn down. Takes over the promise's
// reference, which a change function receives.
struct Reply {
  GstPromise *promise;
  const GstStructure *structure = nullptr;
  bool ok = false;

  Reply(GstPromise *p, Attendee *a, const char *step) : promise(p) {
    if (a->run->stopping)
      return;
    if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED) {
      a->run->fail("attendee " + std::to_string(a->index) + ": " + step + " was interrupted");
      return;
    }
    structure = gst_promise_get_reply(promise);
    GError *error = nullptr;
    if (structure && gst_structure_get(structure, "error", G_TYPE_ERROR, &error, nullptr)) {
      a->run->fail("attendee " + std::to_string(a->index) + ": " + step + ": " + error->message);
      g_error_free(error);
      return;
    }
    ok = true;
  }
  ~Reply() { gst_promise_unref(promise); }
  Reply(const Reply &) = delete;
  Reply &operator=(const Reply &) = delete;
};

struct Step {
  Attendee *attendee;
  GstWebRTCSessionDescription *description;  // owned
};

void on_sender_remote_set(GstPromise *promise, gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  Reply reply(promise, a, "sender set-remote-description");
  if (reply.ok)
    remote_description_set(a, false);
}

void on_receiver_local_set(GstPromise *promise, gpointer data) {
  auto *step = static_cast<Step *>(data);
  Attendee *a = step->attendee;
  Reply reply(promise, a, "receiver set-local-description");
  if (reply.ok)
    g_signal_emit_by_name(a->sender, "set-remote-description", step->description,
                          gst_promise_new_with_change_func(on_sender_remote_set, a, nullptr));
  gst_webrtc_session_description_free(step->description);
  delete step;
}

void on_answer(GstPromise *promise, gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  Reply reply(promise, a, "create-answer");
  GstWebRTCSessionDescription *answer = nullptr;
  if (!reply.ok)
    return;
  gst_structure_get(reply.structure, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer,
                    nullptr);
  if (!answer) {
    a->run->fail("attendee " + std::to_string(a->index) + ": create-answer gave no answer");
    return;
  }
  g_signal_emit_by_name(
      a->receiver, "set-local-description", answer,
      gst_promise_new_with_change_func(on_receiver_local_set, new Step{a, answer}, nullptr));
}

void on_receiver_remote_set(GstPromise *promise, gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  Reply reply(promise, a, "receiver set-remote-description");
  if (!reply.ok)
    return;
  remote_description_set(a, true);
  g_signal_emit_by_name(a->receiver, "create-answer", nullptr,
                        gst_promise_new_with_change_func(on_answer, a, nullptr));
}

void on_sender_local_set(GstPromise *promise, gpointer data) {
  auto *step = static_cast<Step *>(data);
  Attendee *a = step->attendee;
  Reply reply(promise, a, "sender set-local-description");
  if (reply.ok)
    g_signal_emit_by_name(a->receiver, "set-remote-description", step->description,
                          gst_promise_new_with_change_func(on_receiver_remote_set, a, nullptr));
  gst_webrtc_session_description_free(step->description);
  delete step;
}

void on_offer(GstPromise *promise, gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  Reply reply(promise, a, "create-offer");
  GstWebRTCSessionDescription *offer = nullptr;
  if (!reply.ok)
    return;
  gst_structure_get(reply.structure, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
  if (!offer) {
    a->run->fail("attendee " + std::to_string(a->index) + ": create-offer gave no offer");
    return;
  }
  g_signal_emit_by_name(
      a->sender, "set-local-description", offer,
      gst_promise_new_with_change_func(on_sender_local_set, new Step{a, offer}, nullptr));
}

gboolean start_negotiation(gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  if (!a->run->stopping)
    g_signal_emit_by_name(a->sender, "create-offer", nullptr,
                          gst_promise_new_with_change_func(on_offer, a, nullptr));
  return G_SOURCE_REMOVE;
}

// webrtcbin cannot create an offer before its sink pad has caps (it would offer no
// codec), so negotiation starts once they are there, from the main loop.
void maybe_negotiate(GstPad *sink, Attendee *a) {
  bool expected = false;
  if (gst_pad_has_current_caps(sink) &&
      a->negotiation_started.compare_exchange_strong(expected, true))
    g_idle_add(start_negotiation, a);
}

void on_sender_caps(GstPad *sink, GParamSpec *, Attendee *a) {
  maybe_negotiate(sink, a);
}

/* --- receiving side -------------------------------------------------------------- */

void on_connection_state(GstElement *webrtc, GParamSpec *, Attendee *a) {
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  // ICE may jump from checking to completed without ever reporting connected; the
  // peer connection state (ICE and DTLS) is the reliable "connected".
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    mark_reached(a, &a->connected_us, "connected");
  else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED && !a->run->stopping)
    a->run->fail("attendee " + std::to_string(a->index) + ": connection failed");
}

GstPadProbeReturn on_decoded(GstPad *, GstPadProbeInfo *, gpointer data) {
  auto *a = static_cast<Attendee *>(data);
  mark_reached(a, &a->first_audio_us, "first audio");
  return GST_PAD_PROBE_REMOVE;
}

void on_receiver_pad(GstElement *, GstPad *pad, Attendee *a) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC || a->run->stopping)
    return;
  GstElement *depay = gst_element_factory_make("rtpopusdepay", nullptr);
  GstElement *decoder = gst_element_factory_make("opusdec", nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  if (!depay || !decoder || !sink) {
    a->run->fail("rtpopusdepay, opusdec or fakesink is missing");
    return;
  }
  gst_bin_add_many(GST_BIN(a->receiver_pipeline), depay, decoder, sink, nullptr);
  gst_element_link_many(depay, decoder, sink, nullptr);
  GstPad *decoded = gst_element_get_static_pad(decoder, "src");
  gst_pad_add_probe(decoded, GST_PAD_PROBE_TYPE_BUFFER, on_decoded, a, nullptr);
  gst_object_unref(decoded);
  for (GstElement *element : {sink, decoder, depay})
    gst_element_sync_state_with_parent(element);
  GstPad *depay_sink = gst_element_get_static_pad(depay, "sink");
  if (gst_pad_link(pad, depay_sink) != GST_PAD_LINK_OK)
    a->run->fail("attendee " + std::to_string(a->index) + ": cannot link the received stream");
  gst_object_unref(depay_sink);
}

/* --- pipelines ------------------------------------------------------------------- */

gboolean on_bus_message(GstBus *, GstMessage *message, gpointer data) {
  auto *run = static_cast<Run *>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      GError *error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      gchar *source = gst_object_get_path_string(GST_MESSAGE_SRC(message));
      run->fail(std::string(source) + ": " + error->message);
      g_free(source);
      g_error_free(error);
      break;
    }
    case GST_MESSAGE_LATENCY: {
      // Elements added to a running pipeline change its latency, and only the
      // application can redistribute it (gst-launch does the same).
      GstObject *pipeline = GST_MESSAGE_SRC(message);
      while (GST_OBJECT_PARENT(pipeline))
        pipeline = GST_OBJECT_PARENT(pipeline);
      gst_bin_recalculate_latency(GST_BIN(pipeline));
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

guint watch(GstElement *pipeline, Run *run) {
  GstBus *bus = gst_element_get_bus(pipeline);
  guint id = gst_bus_add_watch(bus, on_bus_message, run);
  gst_object_unref(bus);
  return id;
}

bool build_source(Run *run) {
  GError *error = nullptr;
  run->source_pipeline = gst_parse_launch(
      "audiotestsrc is-live=true freq=440 ! audio/x-raw,rate=48000,channels=1 ! opusenc ! "
      "rtpopuspay pt=96 ! tee name=fanout allow-not-linked=true",
      &error);
  if (!run->source_pipeline) {
    run->fail(std::string("source pipeline: ") + error->message);
    g_error_free(error);
    return false;
  }
  run->tee = gst_bin_get_by_name(GST_BIN(run->source_pipeline), "fanout");
  run->source_watch = watch(run->source_pipeline, run);
  return true;
}

// Blocks (running the main loop) until the tee passes encoded audio: attendees then join
// a guide who is already speaking, as they do in a tour.
bool wait_for_source(Run *run) {
  GstPad *tee_sink = gst_element_get_static_pad(run->tee, "sink");
  gint64 deadline = now_us() + static_cast<gint64>(run->options.timeout_s * 1e6);
  while (!gst_pad_has_current_caps(tee_sink) && now_us() < deadline && !run->failed()) {
    if (!g_main_context_iteration(nullptr, FALSE))
      g_usleep(1000);  // polled: caps come from a streaming thread, there is no event
  }
  bool ok = gst_pad_has_current_caps(tee_sink);
  gst_object_unref(tee_sink);
  if (!ok && !run->failed())
    run->fail("the source produced no audio");
  return ok;
}

bool join(Run *run, Attendee *a, gint64 join_us) {
  const Options &options = run->options;
  a->join_us = join_us;
  std::string name = std::to_string(a->index);

  // Sending half: tee ! queue ! webrtcbin, with a send-only transceiver.
  GstElement *queue = gst_element_factory_make("queue", ("queue" + name).c_str());
  a->sender = gst_element_factory_make("webrtcbin", ("sender" + name).c_str());
  a->receiver_pipeline = gst_pipeline_new(("attendee" + name).c_str());
  a->receiver = gst_element_factory_make("webrtcbin", ("receiver" + name).c_str());
  if (!queue || !a->sender || !a->receiver) {
    run->fail("webrtcbin (gst-plugins-bad) is missing");
    return false;
  }
  if (!tour_webrtcbin_use_address(G_OBJECT(a->sender), options.address.c_str()) ||
      !tour_webrtcbin_use_address(G_OBJECT(a->receiver), options.address.c_str())) {
    run->fail("add-local-ip-address " + options.address + " failed: not an address of this host?");
    return false;
  }
  g_signal_connect(a->sender, "on-ice-candidate", G_CALLBACK(on_ice_candidate), a);
  gst_bin_add_many(GST_BIN(run->source_pipeline), queue, a->sender, nullptr);
  GstPad *sink = gst_element_request_pad_simple(a->sender, "sink_%u");
  GstWebRTCRTPTransceiver *transceiver = nullptr;
  g_object_get(sink, "transceiver", &transceiver, nullptr);
  g_object_set(transceiver, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
  gst_object_unref(transceiver);
  g_signal_connect(sink, "notify::caps", G_CALLBACK(on_sender_caps), a);
  GstPad *queue_src = gst_element_get_static_pad(queue, "src");
  gst_pad_link(queue_src, sink);
  gst_object_unref(queue_src);

  // Receiving half, in a pipeline of its own like a separate listener's.
  g_object_set(a->receiver, "latency", static_cast<guint>(options.latency_ms), nullptr);
  g_signal_connect(a->receiver, "on-ice-candidate", G_CALLBACK(on_ice_candidate), a);
  g_signal_connect(a->receiver, "notify::connection-state", G_CALLBACK(on_connection_state), a);
  g_signal_connect(a->receiver, "pad-added", G_CALLBACK(on_receiver_pad), a);
  gst_bin_add(GST_BIN(a->receiver_pipeline), a->receiver);
  a->receiver_watch = watch(a->receiver_pipeline, run);
  if (gst_element_set_state(a->receiver_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    run->fail("attendee " + name + ": the receiver did not start");
    gst_object_unref(sink);
    return false;
  }

  // Start the sending half before linking it to the tee, so the first buffer finds
  // it running rather than flushing.
  gst_element_sync_state_with_parent(a->sender);
  gst_element_sync_state_with_parent(queue);
  GstPad *tee_src = gst_element_request_pad_simple(run->tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(queue, "sink");
  gst_pad_link(tee_src, queue_sink);
  gst_object_unref(queue_sink);
  gst_object_unref(tee_src);
  maybe_negotiate(sink, a);  // in case the caps arrived before the handler could see them
  gst_object_unref(sink);
  return true;
}

void iterate_for(double seconds) {
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  g_timeout_add(
      static_cast<guint>(seconds * 1000),
      [](gpointer l) -> gboolean {
        g_main_loop_quit(static_cast<GMainLoop *>(l));
        return G_SOURCE_REMOVE;
      },
      loop);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
}

void teardown(Run *run) {
  run->stopping = true;
  for (auto &a : run->attendees) {
    if (a->receiver_pipeline) {
      gst_element_set_state(a->receiver_pipeline, GST_STATE_NULL);
      if (a->receiver_watch)
        g_source_remove(a->receiver_watch);
      gst_object_unref(a->receiver_pipeline);
    }
  }
  if (run->source_pipeline) {
    gst_element_set_state(run->source_pipeline, GST_STATE_NULL);
    if (run->source_watch)
      g_source_remove(run->source_watch);
    gst_object_unref(run->tee);
    gst_object_unref(run->source_pipeline);
  }
  // Let idle callbacks still queued for the attendees run (and see `stopping`) while
  // the attendees are alive.
  while (g_main_context_iteration(nullptr, FALSE)) {
  }
  run->attendees.clear();
}

// Makes (and drops) one of each per-attendee element, so loading their plugins happens
// before any attendee's clock starts, as it does for `tourcast demo`, whose attendee
// elements exist before their pipelines start. It does not generate the DTLS
// certificate: webrtcbin only makes its DTLS elements when negotiating.
bool preload_plugins(Run *run) {
  for (const char *factory : {"queue", "webrtcbin", "rtpopusdepay", "opusdec", "fakesink"}) {
    GstElement *element = gst_element_factory_make(factory, nullptr);
    if (!element) {
      run->fail(std::string("no element ") + factory);
      return false;
    }
    gst_object_unref(gst_object_ref_sink(element));
  }
  return true;
}

RunResult run_once(const Options &options, bool measure_steady) {
  Run run(options);
  run.loop = g_main_loop_new(nullptr, FALSE);
  RunResult result;
  const char *label = options.label.c_str();
  const char *sep = options.label.empty() ? "" : ": ";

  for (int i = 0; i < options.attendees; i++) {
    run.attendees.push_back(std::make_unique<Attendee>());
    run.attendees.back()->run = &run;
    run.attendees.back()->index = i;
  }
  bool ok = (!options.preload || preload_plugins(&run)) && build_source(&run);
  gint64 with_source_us = now_us();
  if (ok &&
      gst_element_set_state(run.source_pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    run.fail("the source pipeline did not start");
    ok = false;
  }
  if (ok && !options.join_with_source)
    ok = wait_for_source(&run);
  // All attendees join at once; each one's clock starts when its own elements are made
  // (or, with --common-start, when the first one's are: a join storm's common instant).
  gint64 storm_us = now_us();
  for (auto &a : run.attendees) {
    if (!ok)
      break;
    ok = join(&run, a.get(),
              options.join_with_source ? with_source_us
              : options.common_start   ? storm_us
                                       : now_us());
  }
  if (ok) {
    guint timeout = g_timeout_add(
        static_cast<guint>(options.timeout_s * 1000),
        [](gpointer data) -> gboolean {
          auto *r = static_cast<Run *>(data);
          r->timed_out = true;
          g_main_loop_quit(r->loop);
          return G_SOURCE_REMOVE;
        },
        &run);
    g_main_loop_run(run.loop);
    if (run.timed_out)
      run.fail("timeout: " + std::to_string(run.done.load()) + " of " +
               std::to_string(options.attendees) + " attendees connected and heard");
    else
      g_source_remove(timeout);
  }

  int heard = 0;
  for (auto &a : run.attendees) {
    auto since_join = [&](gint64 when) {
      return when >= 0 ? std::optional<double>(elapsed_ms(a->join_us, when)) : std::nullopt;
    };
    result.connected_ms.push_back(since_join(a->connected_us));
    result.first_audio_ms.push_back(since_join(a->first_audio_us));
    heard += a->first_audio_us >= 0;
  }
  result.all_heard = heard == options.attendees && !run.failed();
  std::optional<double> typical = bench::median(result.first_audio_ms);
  if (typical)
    progress("%s%s%d/%d attendees heard; first audio median %.1f ms, max %.1f ms", label, sep,
             heard, options.attendees, *typical, *bench::percentile(result.first_audio_ms, 100));
  else
    progress("%s%snone of %d attendees heard", label, sep, options.attendees);

  if (result.all_heard && measure_steady && options.steady_s > 0) {
    // Threads and memory once the connections have settled, then CPU over a window.
    iterate_for(2);
    result.threads = count_threads();
    result.rss_mb = rss_mib();
    double cpu_before = cpu_seconds();
    gint64 wall_before = now_us();
    iterate_for(options.steady_s);
    result.cpu_cores = (cpu_seconds() - cpu_before) / ((now_us() - wall_before) / 1e6);
    progress("%s%ssteady: %d threads, %.1f MiB RSS, %.3f cores", label, sep,
             static_cast<int>(*result.threads), result.rss_mb.value_or(-1), *result.cpu_cores);
  }
  {
    std::lock_guard<std::mutex> guard(run.lock);
    result.failures = run.failures;
  }
  result.all_heard = result.all_heard && result.failures.empty();  // also none while steady
  if (!options.child)
    teardown(&run);  // a cold child exits right after reporting instead
  g_main_loop_unref(run.loop);
  return result;
}

/* ---------- runs and their summary ---------- */

// Runs this program again with --child: a cold process (fresh registry load, DTLS
// certificate, thread pools) for exactly one run.
RunResult run_child(const Options &options, int number) {
  gchar *self = g_file_read_link("/proc/self/exe", nullptr);
  std::vector<std::string> args = {
      self ? self : "naive-fanout",
      "--child",
      "--attendees=" + std::to_string(options.attendees),
      "--address=" + options.address,
      "--latency=" + std::to_string(options.latency_ms),
      "--timeout=" + std::to_string(options.timeout_s),
      "--steady=" + std::to_string(options.steady_s),
      "--label=run " + std::to_string(number) + "/" + std::to_string(options.runs),
  };
  g_free(self);
  if (options.join_with_source)
    args.push_back("--join-with-source");
  if (options.preload)
    args.push_back("--preload");
  if (options.common_start)
    args.push_back("--common-start");
  if (options.verbose)
    args.push_back("--verbose");
  std::vector<gchar *> argv;
  for (auto &arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  gchar *out = nullptr;
  gint status = 0;
  GError *error = nullptr;
  RunResult result;
  // stderr stays the terminal's, so the child's progress shows up live.
  if (!g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_DEFAULT, nullptr, nullptr, &out, nullptr,
                    &status, &error)) {
    result.failures.push_back(std::string("cannot run the child: ") + error->message);
    g_error_free(error);
    return result;
  }
  json parsed = json::parse(out ? out : "", nullptr, false);
  g_free(out);
  if (parsed.is_object())
    result = RunResult::from_json(parsed);
  else
    result.failures.push_back("the child (wait status " + std::to_string(status) +
                              ") reported no result");
  return result;
}

std::optional<double> median_of(const std::vector<RunResult> &results,
                                std::optional<double> RunResult::*field) {
  bench::Samples samples;
  for (const auto &result : results)
    samples.push_back(result.*field);
  return bench::median(samples);
}

// Thread counts are whole numbers; only a median of an even count of runs can be a half.
json integral(const std::optional<double> &value) {
  if (value && *value == std::floor(*value))
    return static_cast<long>(*value);
  return bench::to_json(value);
}

json summarize(const Options &options, const std::vector<RunResult> &results) {
  bench::Samples first_audio, connected;
  bool all_heard = !results.empty();
  json failures = json::array();
  for (const auto &result : results) {
    first_audio.insert(first_audio.end(), result.first_audio_ms.begin(),
                       result.first_audio_ms.end());
    connected.insert(connected.end(), result.connected_ms.begin(), result.connected_ms.end());
    all_heard = all_heard && result.all_heard;
    for (const auto &failure : result.failures)
      failures.push_back(failure);
  }
  std::optional<double> cores = median_of(results, &RunResult::cpu_cores);
  return json{
      {"benchmark", "naive-fanout"},
      {"attendees", options.attendees},
      {"runs", options.runs},
      {"mode", options.warm ? "warm" : "cold"},
      {"address", options.address},
      {"latency_ms", options.latency_ms},
      {"join_with_source", options.join_with_source},
      {"common_start", options.common_start},
      {"preload", options.preload},
      {"first_audio_ms", bench::summarize(first_audio)},
      {"connected_ms", bench::summarize(connected)},
      {"all_heard", all_heard},
      {"threads", integral(median_of(results, &RunResult::threads))},
      {"rss_mb", bench::to_json(median_of(results, &RunResult::rss_mb))},
      {"cpu_cores", cores ? json(std::round(*cores * 1000) / 1000) : json()},
      {"steady_s", options.steady_s},
      {"failures", failures},
  };
}

// add-local-ip-address accepts any address, and an agent restricted to one this host
// lacks never connects: check up front rather than wait for the timeout.
bool is_local_address(const std::string &address) {
  ifaddrs *interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0)
    return false;
  bool found = false;
  for (ifaddrs *i = interfaces; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
      continue;
    char text[INET6_ADDRSTRLEN] = "";
    const void *raw = i->ifa_addr->sa_family == AF_INET
                          ? static_cast<const void *>(
                                &reinterpret_cast<const sockaddr_in *>(i->ifa_addr)->sin_addr)
                          : &reinterpret_cast<const sockaddr_in6 *>(i->ifa_addr)->sin6_addr;
    found = inet_ntop(i->ifa_addr->sa_family, raw, text, sizeof text) && address == text;
  }
  freeifaddrs(interfaces);
  return found;
}

bool parse_options(int argc, char **argv, Options *options) {
  gint attendees = options->attendees, runs = options->runs, latency = options->latency_ms;
  gdouble timeout = options->timeout_s, steady = options->steady_s;
  gboolean cold = FALSE, warm = FALSE, join_with_source = FALSE, preload = FALSE,
           common_start = FALSE;
  gboolean verbose = FALSE, child = FALSE;
  gchar *address = nullptr, *label = nullptr;
  GOptionEntry entries[] = {
      {"attendees", 'n', 0, G_OPTION_ARG_INT, &attendees, "Attendees joining at once (default 1)",
       "N"},
      {"runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Repetitions (default 5)", "R"},
      {"cold", 0, 0, G_OPTION_ARG_NONE, &cold,
       "A fresh process per run, paying process start-up and DTLS certificate generation "
       "(default)",
       nullptr},
      {"warm", 0, 0, G_OPTION_ARG_NONE, &warm,
       "All runs in this process, after one untimed warm-up run", nullptr},
      {"address", 'a', 0, G_OPTION_ARG_STRING, &address,
       "The only local address ICE may use (default 127.0.0.1)", "IP"},
      {"latency", 'l', 0, G_OPTION_ARG_INT, &latency,
       "Receivers' jitterbuffer latency (default 200, webrtcbin's default)", "MS"},
      {"timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
       "Give up on a run after this long (default 20)", "S"},
      {"steady", 's', 0, G_OPTION_ARG_DOUBLE, &steady,
       "CPU window once all attendees hear audio (after 2 s settling, when threads and RSS "
       "are read); 0 skips the steady-state figures (default 5)",
       "S"},
      {"join-with-source", 0, 0, G_OPTION_ARG_NONE, &join_with_source,
       "Attendees join when the source starts instead of once it produces audio (as "
       "`tourcast demo` starts its guide just before its attendees)",
       nullptr},
      {"common-start", 0, 0, G_OPTION_ARG_NONE, &common_start,
       "Every attendee's clock starts at one instant, just before the first joins (a join "
       "storm, as bench/join-storm measures tourcast), instead of when its own elements are made",
       nullptr},
      {"preload", 0, 0, G_OPTION_ARG_NONE, &preload,
       "Load the per-attendee elements' plugins before the clocks start (as `tourcast demo` "
       "creates its attendee elements before starting them)",
       nullptr},
      {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Per-attendee progress", nullptr},
      {"child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &child, "", nullptr},
      {"label", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &label, "", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context =
      g_option_context_new("- time to first audio of naive in-process WebRTC fan-out");
  g_option_context_set_summary(
      context,
      "One Opus source teed to N sending webrtcbins, each connected to its own receiving\n"
      "webrtcbin by direct calls (no signaling server). Prints one JSON line on stdout.\n"
      "Exit status: 0 if every attendee of every run heard audio, 1 otherwise, 2 for "
      "invalid options.");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!ok) {
    fprintf(stderr, "naive-fanout: %s\n", error->message);
    g_error_free(error);
  } else if (argc > 1) {
    fprintf(stderr, "naive-fanout: unexpected argument '%s'\n", argv[1]);
    ok = false;
  } else if (attendees < 1 || runs < 1 || latency < 0 || timeout <= 0 || steady < 0) {
    fprintf(stderr,
            "naive-fanout: --attendees and --runs must be at least 1, --timeout "
            "positive, --latency and --steady not negative\n");
    ok = false;
  } else if (cold && warm) {
    fprintf(stderr, "naive-fanout: --cold and --warm exclude each other\n");
    ok = false;
  }
  options->attendees = attendees;
  options->runs = runs;
  options->warm = warm;
  options->latency_ms = latency;
  options->timeout_s = timeout;
  options->steady_s = steady;
  options->join_with_source = join_with_source;
  options->preload = preload;
  options->common_start = common_start;
  options->verbose = verbose;
  options->child = child;
  if (address)
    options->address = address;
  if (label)
    options->label = label;
  g_free(address);
  g_free(label);
  if (ok && !is_local_address(options->address)) {
    fprintf(stderr,
            "naive-fanout: --address %s is not an address of this host's interfaces (in a new "
            "network namespace, bring lo up first)\n",
            options->address.c_str());
    ok = false;
  }
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parse_options(argc, argv, &options))
    return 2;

  if (options.child) {
    gst_init(nullptr, nullptr);
    RunResult result = run_once(options, true);
    printf("%s\n", result.to_json().dump().c_str());
    fflush(stdout);
    // The process is thrown away anyway: skip a teardown that could only cost time.
    _exit(result.all_heard ? 0 : 1);
  }

  std::vector<RunResult> results;
  if (options.warm) {
    gst_init(nullptr, nullptr);
    Options warmup = options;
    warmup.label = "warm-up";
    run_once(warmup, false);
    for (int i = 1; i <= options.runs; i++) {
      Options numbered = options;
      numbered.label = "run " + std::to_string(i) + "/" + std::to_string(options.runs);
      results.push_back(run_once(numbered, true));
    }
  } else {
    for (int i = 1; i <= options.runs; i++)
      results.push_back(run_child(options, i));
  }
  json summary = summarize(options, results);
  printf("%s\n", summary.dump().c_str());
  return summary["all_heard"].get<bool>() ? 0 : 1;
}
