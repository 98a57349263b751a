#include "demo.h"

#include <glib-unix.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gst/gst.h>
#include <nlohmann/json.hpp>

#include "redis_client.h"
#include "redis_schema.h"
#include "redis_server.h"
#include "tone.h"

namespace tourcast_tools {

namespace {

using Json = nlohmann::json;

constexpr int kSampleRate = 48000;
constexpr int kWindowMs = 500;
constexpr int kRefreshMs = 500;
// Without a terminal to redraw in, a block every refresh would flood a log.
constexpr int kPlainStatusEveryTicks = 4;
// Audio older than this means the stream stalled: the window no longer describes "now".
constexpr gint64 kStaleUs = 1000 * G_TIME_SPAN_MILLISECOND;
constexpr double kMinLevelDbfs = -40.0;
// Going to NULL waits for the signallers' goodbyes; they have their own timeouts, so this
// only fires on a hang, and then the redis-server child must still go.
constexpr int kShutdownWatchdogS = 20;

class Demo;

struct Attendee {
  Demo *demo = nullptr;
  std::string id;
  GstElement *pipeline = nullptr;
  GstElement *source = nullptr;
  guint bus_watch = 0;
  std::unique_ptr<SampleWindow> window;
  gint64 first_audio_ms = -1;
  std::string state = "initializing";
  ToneAnalysis analysis;
  bool stalled = false;
  bool heard = false;
};

std::string format(const char *format, ...) G_GNUC_PRINTF(1, 2);
std::string format(const char *format, ...) {
  va_list args;
  va_start(args, format);
  gchar *text = g_strdup_vprintf(format, args);
  va_end(args);
  std::string result = text;
  g_free(text);
  return result;
}

std::string state_nick(GstElement *source) {
  gint value = 0;
  g_object_get(source, "state", &value, nullptr);
  GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(source), "state");
  auto *klass = static_cast<GEnumClass *>(g_type_class_ref(pspec->value_type));
  GEnumValue *enum_value = g_enum_get_value(klass, value);
  std::string nick = enum_value ? enum_value->value_nick : "?";
  g_type_class_unref(klass);
  return nick;
}

std::string object_path(GstObject *object) {
  if (object == nullptr)
    return "(unknown)";
  gchar *path = gst_object_get_path_string(object);
  std::string result = path;
  g_free(path);
  return result;
}

std::string format_level(const ToneAnalysis &analysis, bool stalled) {
  if (analysis.samples == 0)
    return "—";
  if (stalled)
    return "stalled";
  if (std::isinf(analysis.rms_dbfs))
    return "silent";
  return format("%.1f dBFS", analysis.rms_dbfs);
}

double median(std::vector<gint64> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

class Demo {
 public:
  explicit Demo(const DemoOptions &options)
      : options_(options), out_(options.json ? stderr : stdout), tty_(isatty(fileno(out_))) {}
  ~Demo();

  int run();

 private:
  bool prepare_redis();
  bool build_guide();
  bool build_attendee(int index);
  bool start_pipelines();
  void stop_pipelines();

  static gboolean on_signal(gpointer data);
  static gboolean on_duration(gpointer data);
  static gboolean on_tick(gpointer data);
  static gboolean on_guide_message(GstBus *, GstMessage *message, gpointer data);
  static gboolean on_attendee_message(GstBus *, GstMessage *message, gpointer data);
  static GstPadProbeReturn on_audio(GstPad *, GstPadProbeInfo *info, gpointer data);

  bool handle_common(GstElement *pipeline, GstMessage *message, const std::string &who);
  void measure();
  void quit();
  void fail(const std::string &reason);

  void event(const char *format, ...) G_GNUC_PRINTF(2, 3);
  std::vector<std::string> status_lines() const;
  void draw_status();
  void erase_status();
  int print_summary();

  double elapsed_s() const {
    gint64 until = stopped_us_ ? stopped_us_ : g_get_monotonic_time();
    return started_us_ ? (until - started_us_) / 1e6 : 0.0;
  }

  DemoOptions options_;
  FILE *out_;
  bool tty_;
  EmbeddedRedis redis_;
  std::string redis_url_;
  // What the user sees: the URL with any password masked.
  std::string shown_url_;
  GMainLoop *loop_ = nullptr;
  std::vector<guint> sources_;
  GstElement *guide_pipeline_ = nullptr;
  GstElement *guide_ = nullptr;
  guint guide_watch_ = 0;
  std::vector<std::unique_ptr<Attendee>> attendees_;
  gint64 started_us_ = 0;
  // The run ends when the loop does; tearing the pipelines down is not part of it.
  gint64 stopped_us_ = 0;
  guint ticks_ = 0;
  int drawn_lines_ = 0;
  bool interrupted_ = false;
  std::vector<std::string> failures_;
};

Demo::~Demo() {
  stop_pipelines();
  for (guint id : sources_)
    g_source_remove(id);
  if (loop_)
    g_main_loop_unref(loop_);
  redis_.stop();
}

void Demo::event(const char *format, ...) {
  va_list args;
  va_start(args, format);
  gchar *text = g_strdup_vprintf(format, args);
  va_end(args);
  erase_status();
  fprintf(out_, "[%6.2fs] %s\n", elapsed_s(), text);
  g_free(text);
  // Redraw at once so the block stays at the bottom, under the events.
  if (tty_ && started_us_)
    draw_status();
  fflush(out_);
}

void Demo::fail(const std::string &reason) {
  failures_.push_back(reason);
  quit();
}

void Demo::quit() {
  if (loop_ && g_main_loop_is_running(loop_))
    g_main_loop_quit(loop_);
}

gboolean Demo::on_signal(gpointer data) {
  auto *self = static_cast<Demo *>(data);
  if (!self->interrupted_)
    self->event("interrupted, stopping");
  self->interrupted_ = true;
  self->quit();
  // Kept installed: a second Ctrl-C during shutdown must not kill the tool before it has
  // stopped the redis-server child (the shutdown watchdog covers a hang).
  return G_SOURCE_CONTINUE;
}

gboolean Demo::on_duration(gpointer data) {
  auto *self = static_cast<Demo *>(data);
  self->quit();
  return G_SOURCE_CONTINUE;
}

bool Demo::prepare_redis() {
  std::string error;
  if (!options_.redis_url.empty()) {
    tourcast::RedisUrl url;
    tourcast::parse_redis_url(options_.redis_url, &url, &error);
    // Checked up front: the elements would only fail later, with a less direct message.
    RedisClient client;
    if (!client.connect(url, 2000, &error)) {
      fprintf(stderr, "tourcast demo: %s\n", error.c_str());
      return false;
    }
    redis_url_ = options_.redis_url;
    shown_url_ = tourcast::redis_url_to_string(url, true);
    return true;
  }
  auto interrupted = [this]() {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    return interrupted_;
  };
  if (!redis_.start(interrupted, &error)) {
    fprintf(stderr, "tourcast demo: %s\n", error.c_str());
    return false;
  }
  redis_url_ = redis_.url();
  shown_url_ = redis_url_;
  event("redis-server started on 127.0.0.1:%d (log %s)", redis_.port(), redis_.log_path().c_str());
  return true;
}

GstElement *make(const char *factory, const char *name) {
  GstElement *element = gst_element_factory_make(factory, name);
  if (element == nullptr && g_str_has_prefix(factory, "tour"))
    fprintf(stderr,
            "tourcast demo: GStreamer element '%s' is missing: is the tourcast plugin built or "
            "installed? (GST_PLUGIN_PATH=%s)\n",
            factory, g_getenv("GST_PLUGIN_PATH") ? g_getenv("GST_PLUGIN_PATH") : "");
  else if (element == nullptr)
    fprintf(stderr,
            "tourcast demo: GStreamer element '%s' is missing: install the GStreamer base "
            "plugins\n",
            factory);
  return element;
}

bool Demo::build_guide() {
  guide_pipeline_ = gst_pipeline_new("guide-pipeline");
  GstElement *source = make("audiotestsrc", "tone");
  GstElement *filter = make("capsfilter", nullptr);
  guide_ = make("tourguidesink", "guide");
  if (!source || !filter || !guide_) {
    for (GstElement *element : {source, filter, guide_})
      if (element)
        gst_object_unref(gst_object_ref_sink(element));
    guide_ = nullptr;
    return false;
  }
  g_object_set(source, "is-live", TRUE, "freq", options_.frequency, nullptr);
  GstCaps *caps = gst_caps_new_simple("audio/x-raw", "rate", G_TYPE_INT, kSampleRate, "channels",
                                      G_TYPE_INT, 1, nullptr);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(guide_, "tour", options_.tour.c_str(), "language", options_.language.c_str(),
               "redis-url", redis_url_.c_str(), "ice-addresses", options_.ice_address.c_str(),
               nullptr);
  gst_bin_add_many(GST_BIN(guide_pipeline_), source, filter, guide_, nullptr);
  if (!gst_element_link_many(source, filter, guide_, nullptr)) {
    fprintf(stderr, "tourcast demo: cannot link the guide pipeline\n");
    return false;
  }
  GstBus *bus = gst_element_get_bus(guide_pipeline_);
  guide_watch_ = gst_bus_add_watch(bus, on_guide_message, this);
  gst_object_unref(bus);
  return true;
}

bool Demo::build_attendee(int index) {
  auto attendee = std::make_unique<Attendee>();
  attendee->demo = this;
  // A per-run suffix keeps two demos sharing one Redis from taking each other's ids.
  static const guint32 run = g_random_int() & 0xffffff;
  attendee->id = format("attendee-%d-%06x", index, run);
  attendee->window = std::make_unique<SampleWindow>(kSampleRate * kWindowMs / 1000);
  std::string name = "attendee-" + std::to_string(index);
  attendee->pipeline = gst_pipeline_new(name.c_str());
  attendee->source = make("tourattendeesrc", "attendee");
  GstElement *convert = make("audioconvert", nullptr);
  GstElement *filter = make("capsfilter", nullptr);
  GstElement *sink = make("fakesink", "sink");
  if (!attendee->source || !convert || !filter || !sink) {
    for (GstElement *element : {attendee->source, convert, filter, sink})
      if (element)
        gst_object_unref(gst_object_ref_sink(element));
    gst_object_unref(attendee->pipeline);
    return false;
  }
  g_object_set(attendee->source, "tour", options_.tour.c_str(), "language",
               options_.language.c_str(), "redis-url", redis_url_.c_str(), "participant-id",
               attendee->id.c_str(), "ice-addresses", options_.ice_address.c_str(), "latency",
               static_cast<gint>(options_.latency_ms), nullptr);
  GstCaps *caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "F32LE", "channels",
                                      G_TYPE_INT, 1, "rate", G_TYPE_INT, kSampleRate, nullptr);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  // sync like a real audio sink, so latency problems show up as they would for a listener.
  g_object_set(sink, "sync", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(attendee->pipeline), attendee->source, convert, filter, sink, nullptr);
  if (!gst_element_link_many(attendee->source, convert, filter, sink, nullptr)) {
    fprintf(stderr, "tourcast demo: cannot link the attendee pipeline\n");
    gst_object_unref(attendee->pipeline);
    return false;
  }
  GstPad *pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
      on_audio, attendee.get(), nullptr);
  gst_object_unref(pad);
  GstBus *bus = gst_element_get_bus(attendee->pipeline);
  attendee->bus_watch = gst_bus_add_watch(bus, on_attendee_message, attendee.get());
  gst_object_unref(bus);
  attendees_.push_back(std::move(attendee));
  return true;
}

GstPadProbeReturn Demo::on_audio(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *attendee = static_cast<Attendee *>(data);
  auto push = [attendee](GstBuffer *buffer) {
    GstMapInfo map;
    if (!gst_buffer_map(buffer, &map, GST_MAP_READ))
      return;
    attendee->window->push(reinterpret_cast<const float *>(map.data), map.size / sizeof(float),
                           g_get_monotonic_time());
    gst_buffer_unmap(buffer, &map);
  };
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    push(GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
    for (guint i = 0; i < gst_buffer_list_length(list); i++)
      push(gst_buffer_list_get(list, i));
  }
  return GST_PAD_PROBE_OK;
}

bool Demo::handle_common(GstElement *pipeline, GstMessage *message, const std::string &who) {
  GError *error = nullptr;
  gchar *debug = nullptr;
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR: {
      gst_message_parse_error(message, &error, &debug);
      std::string source = object_path(GST_MESSAGE_SRC(message));
      event("%s: ERROR from %s: %s", who.c_str(), source.c_str(), error->message);
      if (debug)
        event("%s:   debug: %s", who.c_str(), debug);
      fail(who + ": " + error->message + " (from " + source + ")");
      break;
    }
    case GST_MESSAGE_WARNING: {
      gst_message_parse_warning(message, &error, &debug);
      // Warnings are expected (a Redis reconnect, say); their debug text is for --verbose.
      bool details = options_.verbose && debug;
      event("%s: warning from %s: %s%s%s", who.c_str(),
            object_path(GST_MESSAGE_SRC(message)).c_str(), error->message, details ? " — " : "",
            details ? debug : "");
      break;
    }
    case GST_MESSAGE_LATENCY:
      // Peers are added to a running pipeline; only the application can redistribute the
      // latency to them (as gst-launch does), else RTP lacks running times.
      gst_bin_recalculate_latency(GST_BIN(pipeline));
      break;
    default:
      return false;
  }
  g_clear_error(&error);
  g_free(debug);
  return true;
}

gboolean Demo::on_guide_message(GstBus *, GstMessage *message, gpointer data) {
  auto *self = static_cast<Demo *>(data);
  if (self->handle_common(self->guide_pipeline_, message, "guide") ||
      GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT)
    return G_SOURCE_CONTINUE;
  const GstStructure *s = gst_message_get_structure(message);
  const gchar *peer = gst_structure_get_string(s, "peer-id");
  guint count = 0;
  if (gst_structure_has_name(s, "tourcast-attendee-joined")) {
    gst_structure_get_uint(s, "attendee-count", &count);
    self->event("guide: %s joined (%u attendee%s)", peer ? peer : "?", count,
                count == 1 ? "" : "s");
  } else if (gst_structure_has_name(s, "tourcast-attendee-left")) {
    gst_structure_get_uint(s, "attendee-count", &count);
    const gchar *reason = gst_structure_get_string(s, "reason");
    self->event("guide: %s left%s%s%s (%u attendee%s)", peer ? peer : "?", reason ? " (" : "",
                reason ? reason : "", reason ? ")" : "", count, count == 1 ? "" : "s");
  } else if (self->options_.verbose) {
    gchar *text = gst_structure_to_string(s);
    self->event("guide: %s", text);
    g_free(text);
  }
  return G_SOURCE_CONTINUE;
}

gboolean Demo::on_attendee_message(GstBus *, GstMessage *message, gpointer data) {
  auto *attendee = static_cast<Attendee *>(data);
  Demo *self = attendee->demo;
  if (self->handle_common(attendee->pipeline, message, attendee->id) ||
      GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT)
    return G_SOURCE_CONTINUE;
  const GstStructure *s = gst_message_get_structure(message);
  if (gst_structure_has_name(s, "tourcast-state")) {
    const gchar *to = gst_structure_get_string(s, "new-state");
    const gchar *reason = gst_structure_get_string(s, "reason");
    gboolean by_timeout = FALSE;
    gst_structure_get_boolean(s, "by-timeout", &by_timeout);
    attendee->state = to ? to : "?";
    self->event("%s: %s -> %s%s%s%s%s", attendee->id.c_str(),
                gst_structure_get_string(s, "old-state"), attendee->state.c_str(),
                reason && *reason ? " (" : "", reason ? reason : "", reason && *reason ? ")" : "",
                by_timeout ? " [timeout]" : "");
  } else if (gst_structure_has_name(s, "tourcast-first-audio")) {
    gint64 elapsed = -1;
    gst_structure_get_int64(s, "elapsed-ms", &elapsed);
    attendee->first_audio_ms = elapsed;
    self->event("%s: first audio after %" G_GINT64_FORMAT " ms", attendee->id.c_str(), elapsed);
  } else if (self->options_.verbose) {
    gchar *text = gst_structure_to_string(s);
    self->event("%s: %s", attendee->id.c_str(), text);
    g_free(text);
  }
  return G_SOURCE_CONTINUE;
}

void Demo::measure() {
  std::vector<float> samples;
  gint64 now = g_get_monotonic_time();
  for (auto &attendee : attendees_) {
    gint64 last = attendee->window->snapshot(&samples);
    attendee->analysis =
        analyse_tone(samples.data(), samples.size(), kSampleRate, options_.frequency);
    attendee->stalled = last != 0 && now - last > kStaleUs;
    attendee->state = state_nick(attendee->source);
    if (attendee->first_audio_ms < 0) {
      gint64 first = -1;
      g_object_get(attendee->source, "time-to-first-audio", &first, nullptr);
      attendee->first_audio_ms = first;
    }
    attendee->heard = attendee->first_audio_ms >= 0 && !attendee->stalled &&
                      attendee->analysis.rms_dbfs > kMinLevelDbfs &&
                      attendee->analysis.tone_detected;
  }
}

gboolean Demo::on_tick(gpointer data) {
  auto *self = static_cast<Demo *>(data);
  self->measure();
  self->ticks_++;
  if (self->tty_ || self->ticks_ % kPlainStatusEveryTicks == 0)
    self->draw_status();
  return G_SOURCE_CONTINUE;
}

std::vector<std::string> Demo::status_lines() const {
  std::vector<std::string> lines;
  guint count = 0;
  /* The guide's own view: each attendee's Opus level and score, the encoders. */
  std::map<std::string, std::pair<std::string, std::string>> guide_view;
  std::string encoders;
  if (guide_) {
    g_object_get(guide_, "attendee-count", &count, nullptr);
    GstStructure *status = nullptr;
    g_object_get(guide_, "status", &status, nullptr);
    if (status) {
      const GValue *list = gst_structure_get_value(status, "attendees");
      for (guint i = 0; list && i < gst_value_array_get_size(list); i++) {
        const GstStructure *a = gst_value_get_structure(gst_value_array_get_value(list, i));
        gint score = -1;
        gst_structure_get_int(a, "score", &score);
        guide_view[gst_structure_get_string(a, "peer-id")] = {
            gst_structure_get_string(a, "level"), score >= 0 ? std::to_string(score) : "—"};
      }
      const GValue *running = gst_structure_get_value(status, "encoders");
      for (guint i = 0; running && i < gst_value_array_get_size(running); i++)
        encoders += std::string(encoders.empty() ? "" : ",") +
                    g_value_get_string(gst_value_array_get_value(running, i));
      gst_structure_free(status);
    }
  }
  lines.push_back(format("%.1fs  %s/%s  guide: %u attendee%s connected, encoders: %s  %s",
                         elapsed_s(), options_.tour.c_str(), options_.language.c_str(), count,
                         count == 1 ? "" : "s", encoders.empty() ? "none" : encoders.c_str(),
                         shown_url_.c_str()));
  lines.push_back(format("  %-20s %-13s %11s %12s  %-8s %5s  %s", "attendee", "state",
                         "first audio", "level", "opus", "score", "tone"));
  for (const auto &attendee : attendees_) {
    std::string first =
        attendee->first_audio_ms >= 0 ? std::to_string(attendee->first_audio_ms) + " ms" : "—";
    std::string tone = "—";
    if (attendee->heard)
      tone = format("OK (%.0f Hz)", attendee->analysis.dominant_hz);
    else if (attendee->analysis.dominant_hz > 0 && !attendee->stalled)
      tone = format("— (%.0f Hz)", attendee->analysis.dominant_hz);
    // printf pads by bytes; "—" is 3 bytes but one column, hence the width correction.
    auto pad = [](const std::string &text, int width) {
      int extra = text.find("—") != std::string::npos ? 2 : 0;
      return format("%*s", width + extra, text.c_str());
    };
    auto view = guide_view.find(attendee->id);
    std::string opus = view != guide_view.end() ? view->second.first : "—";
    std::string score = view != guide_view.end() ? view->second.second : "—";
    lines.push_back(format("  %-20s %-13s %s %s  %-*s %s  %s", attendee->id.c_str(),
                           attendee->state.c_str(), pad(first, 11).c_str(),
                           pad(format_level(attendee->analysis, attendee->stalled), 12).c_str(),
                           opus == "—" ? 10 : 8, opus.c_str(), pad(score, 5).c_str(),
                           tone.c_str()));
  }
  return lines;
}

void Demo::erase_status() {
  if (tty_ && drawn_lines_ > 0)
    fprintf(out_, "\033[%dA\033[J", drawn_lines_);
  drawn_lines_ = 0;
}

// Cuts a UTF-8 line to `columns` characters: a line the terminal wraps would throw off the
// count of lines the next redraw moves up over.
std::string fit(const std::string &line, size_t columns) {
  size_t characters = 0;
  for (size_t i = 0; i < line.size(); i++) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80)
      continue;
    if (++characters > columns)
      return line.substr(0, i);
  }
  return line;
}

void Demo::draw_status() {
  erase_status();
  std::vector<std::string> lines = status_lines();
  struct winsize size = {};
  size_t columns = 0;
  if (tty_ && ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 1)
    columns = size.ws_col - 1;
  for (const std::string &line : lines)
    fprintf(out_, "%s\n", columns ? fit(line, columns).c_str() : line.c_str());
  if (tty_)
    drawn_lines_ = static_cast<int>(lines.size());
  fflush(out_);
}

bool Demo::start_pipelines() {
  if (gst_element_set_state(guide_pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    failures_.push_back("the guide pipeline did not start");
    return false;
  }
  event("guide: streaming a %.0f Hz tone to %s/%s", options_.frequency, options_.tour.c_str(),
        options_.language.c_str());
  started_us_ = g_get_monotonic_time();
  for (auto &attendee : attendees_) {
    if (gst_element_set_state(attendee->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      failures_.push_back(attendee->id + ": the pipeline did not start");
      return false;
    }
  }
  if (options_.latency_ms >= 0)
    event("%zu attendee%s listening (jitterbuffer latency %d ms)", attendees_.size(),
          attendees_.size() == 1 ? "" : "s", options_.latency_ms);
  else
    event("%zu attendee%s listening (jitterbuffer latency adaptive)", attendees_.size(),
          attendees_.size() == 1 ? "" : "s");
  return true;
}

void Demo::stop_pipelines() {
  // Attendees first, so they leave while the guide and Redis are still there to hear it.
  for (auto &attendee : attendees_) {
    if (attendee->pipeline) {
      gst_element_set_state(attendee->pipeline, GST_STATE_NULL);
      if (attendee->bus_watch)
        g_source_remove(attendee->bus_watch);
      gst_object_unref(attendee->pipeline);
      attendee->pipeline = nullptr;
      attendee->source = nullptr;
    }
  }
  if (guide_pipeline_) {
    gst_element_set_state(guide_pipeline_, GST_STATE_NULL);
    if (guide_watch_)
      g_source_remove(guide_watch_);
    gst_object_unref(guide_pipeline_);
    guide_pipeline_ = nullptr;
    guide_ = nullptr;
  }
}

int Demo::print_summary() {
  std::vector<gint64> times;
  std::vector<std::string> reasons = failures_;
  Json first_audio = Json::array();
  for (const auto &attendee : attendees_) {
    if (attendee->first_audio_ms >= 0) {
      times.push_back(attendee->first_audio_ms);
      first_audio.push_back(attendee->first_audio_ms);
    } else {
      first_audio.push_back(nullptr);
    }
    const ToneAnalysis &a = attendee->analysis;
    if (attendee->first_audio_ms < 0)
      reasons.push_back(attendee->id + ": never received audio (state " + attendee->state + ")");
    else if (a.samples == 0 || attendee->stalled)
      reasons.push_back(attendee->id + ": audio stopped (state " + attendee->state + ")");
    else if (!(a.rms_dbfs > kMinLevelDbfs))
      reasons.push_back(attendee->id + ": too quiet (" + format_level(a, false) + ", needs > " +
                        std::to_string(static_cast<int>(kMinLevelDbfs)) + " dBFS)");
    else if (!a.tone_detected)
      reasons.push_back(attendee->id + format(": no %.0f Hz tone (%.0f%% of the power there, "
                                              "pitch about %.0f Hz)",
                                              options_.frequency, a.tone_ratio * 100,
                                              a.dominant_hz));
  }
  bool all_heard = reasons.empty() && !attendees_.empty();

  erase_status();
  FILE *out = out_;
  fprintf(out, "\nSummary: %zu attendee%s, %.1f s%s\n", attendees_.size(),
          attendees_.size() == 1 ? "" : "s", elapsed_s(), interrupted_ ? " (interrupted)" : "");
  for (const auto &attendee : attendees_) {
    const ToneAnalysis &a = attendee->analysis;
    std::string first =
        attendee->first_audio_ms >= 0 ? std::to_string(attendee->first_audio_ms) + " ms" : "never";
    std::string tone = attendee->heard ? format("OK (%.1f Hz)", a.dominant_hz) : "not detected";
    fprintf(out, "  %-20s first audio %-8s level %-10s tone %s\n", attendee->id.c_str(),
            first.c_str(), format_level(a, attendee->stalled).c_str(), tone.c_str());
  }
  if (!times.empty())
    fprintf(out, "  median time to first audio: %.0f ms (%zu of %zu attendees)\n", median(times),
            times.size(), attendees_.size());
  if (all_heard) {
    fprintf(out, "  result: every attendee heard the %.0f Hz tone\n", options_.frequency);
  } else {
    fprintf(out, "  result: FAILED\n");
    for (const std::string &reason : reasons)
      fprintf(out, "    - %s\n", reason.c_str());
  }
  fflush(out);

  if (options_.json) {
    Json median_ms = nullptr;
    if (!times.empty()) {
      double value = median(times);
      median_ms = value == std::floor(value) ? Json(static_cast<int64_t>(value)) : Json(value);
    }
    // Ordered so the line reads like the documented {"attendees", ..., "all_heard"}.
    nlohmann::ordered_json summary = {
        {"attendees", attendees_.size()},
        {"time_to_first_audio_ms", first_audio},
        {"median_ms", median_ms},
        {"all_heard", all_heard},
        {"failures", reasons},
    };
    printf("%s\n", summary.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    fflush(stdout);
  }
  return all_heard ? 0 : 1;
}

// Stops the redis-server child and exits if shutdown hangs; a hung pipeline must not keep
// the server alive.
class ShutdownWatchdog {
 public:
  ShutdownWatchdog(GPid redis_pid, int seconds)
      : thread_([this, redis_pid, seconds]() {
          std::unique_lock<std::mutex> lock(mutex_);
          if (cond_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; }))
            return;
          fprintf(stderr, "tourcast demo: shutdown hung for %d s, forcing exit\n", seconds);
          if (redis_pid > 0) {
            kill(redis_pid, SIGKILL);
            waitpid(redis_pid, nullptr, 0);
          }
          _exit(3);
        }) {}
  ~ShutdownWatchdog() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      done_ = true;
    }
    cond_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cond_;
  bool done_ = false;
  std::thread thread_;
};

int Demo::run() {
  loop_ = g_main_loop_new(nullptr, FALSE);
  sources_.push_back(g_unix_signal_add(SIGINT, on_signal, this));
  sources_.push_back(g_unix_signal_add(SIGTERM, on_signal, this));

  if (!prepare_redis())
    return 1;
  bool built = build_guide();
  for (int i = 1; built && i <= options_.attendees; i++)
    built = build_attendee(i);
  if (!built)
    return 1;

  bool started = !interrupted_ && start_pipelines();
  if (started) {
    sources_.push_back(g_timeout_add(kRefreshMs, on_tick, this));
    if (options_.duration_s > 0)
      sources_.push_back(g_timeout_add(options_.duration_s * 1000u, on_duration, this));
    if (tty_)
      draw_status();
    g_main_loop_run(loop_);
    stopped_us_ = g_get_monotonic_time();
    measure();
  }
  // Errors posted while starting, or just before the loop stopped, are still queued.
  while (g_main_context_iteration(nullptr, FALSE)) {
  }
  int code;
  {
    ShutdownWatchdog watchdog(redis_.pid(), kShutdownWatchdogS);
    stop_pipelines();
    code = started || !failures_.empty() ? print_summary() : 1;
    if (code != 0 && redis_.running()) {
      redis_.keep_log();
      fprintf(stderr, "tourcast demo: redis-server log kept at %s\n", redis_.log_path().c_str());
    }
    redis_.stop();
  }
  return code;
}

}  // namespace

bool validate_demo_options(const DemoOptions &options, std::string *error) {
  tourcast::RedisUrl url;
  if (!tourcast::validate_name(tourcast::NameKind::kTour, options.tour, error) ||
      !tourcast::validate_name(tourcast::NameKind::kLanguage, options.language, error))
    return false;
  if (!options.redis_url.empty() && !tourcast::parse_redis_url(options.redis_url, &url, error))
    return false;
  if (options.attendees < 1 || options.attendees > 100) {
    *error = "--attendees must be 1-100, not " + std::to_string(options.attendees);
    return false;
  }
  if (options.duration_s < 0) {
    *error = "--duration must be 0 (until Ctrl-C) or more seconds";
    return false;
  }
  if (!(options.frequency >= 20 && options.frequency <= 20000)) {
    *error = "--frequency must be 20-20000 Hz";
    return false;
  }
  if (options.latency_ms < -1 || options.latency_ms > 10000) {
    *error = "--latency must be 0-10000 ms (or -1: adaptive)";
    return false;
  }
  if (options.ice_address.empty()) {
    *error = "--ice-address must name a local IP address, e.g. 127.0.0.1";
    return false;
  }
  return true;
}

int run_demo(const DemoOptions &options) {
  Demo demo(options);
  return demo.run();
}

}  // namespace tourcast_tools
