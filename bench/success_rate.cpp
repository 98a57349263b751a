/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * success-rate: the seed's "Connection Success Rates" table (stable, mobile, high latency,
 * packet loss) on the link emulator, for tourcast and for the naive baseline in the same
 * run; with --table establishment, its "Connection Establishment Times" table (fiber, wifi,
 * 4g, 3g links; 20 joins per link and system, one at a time): from PLAYING to connected,
 * and to the first tone, against the seed's production column (goal: a quarter of it).
 *
 * Per scenario, tourcast-netem joins a guide namespace to --batch attendee namespaces, every
 * link (both directions) set to the scenario's profile. Redis crosses at once
 * (--bypass-port), and so does the naive baseline's signaling (a Unix socket): both systems
 * get the same instant signaling, and the scenario impairs their media paths (ICE, DTLS,
 * RTP) alike. In the guide namespace run, for the whole scenario:
 *   redis-server                                     (tourcast's signaling)
 *   gst-launch-1.0 audiotestsrc ! tourguidesink      (the tourcast guide)
 *   success-rate --role=naive-sender                 (the naive guide, see below)
 * Joins run in waves of --batch concurrent attendees, one process per join, one attendee
 * namespace each; tourcast and naive waves alternate, so load drifts hit both alike:
 *   success-rate --role=tourcast   tourattendeesrc ! audioconvert ! fakesink
 *   success-rate --role=naive      webrtcbin ! rtpopusdepay ! opusdec ! audioconvert ! fakesink
 *
 * Each join's process is ready before its clock starts (its DTLS certificate made, as an
 * app at launch), for both systems. A join succeeds when its attendee hears the guide's 440 Hz tone
 * (a decoded buffer with RMS above kToneRms) within --deadline seconds of its pipeline going to
 * PLAYING, and still hears it at the end of --hold seconds after that (a tone buffer in the last
 * second). tourcast may recover (ICE restart, renegotiation, full reconnect) within the
 * deadline: the levels it used are recorded. The naive baseline is plain webrtcbin with no
 * recovery: whatever fails stays failed.
 *
 * The naive guide (--role=naive-sender) is naive-fanout's sender split off into its own
 * process: one audiotestsrc ! opusenc ! rtpopuspay ! tee, and per attendee that connects to
 * its Unix socket a queue ! webrtcbin (send-only) on the tee. Each connection carries one
 * JSON object per line: the sender writes {"offer": SDP} then {"candidate", "mline"}
 * objects, the receiver writes {"answer": SDP} then its candidates. The connection closing
 * is the attendee leaving: its webrtcbin is removed. Nothing else: no retries, no ICE
 * restart, no timeouts of its own.
 *
 * Prints one JSON document on stdout, progress on stderr. Exit 0 when every join of every
 * system succeeded, 1 if not, 2 for bad options, no root or a set-up failure.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_process.h"
#include "bench_stats.h"
#include "ice-agent.h"
#include "netem_harness.h"

#ifndef SUCCESS_PLUGIN_DIR
#define SUCCESS_PLUGIN_DIR ""
#endif
#ifndef SUCCESS_NETEM
#define SUCCESS_NETEM ""
#endif

namespace {

using bench::read_text;
using bench::stop_child;
using nlohmann::json;
using tourcast::netem::Emulator;

constexpr int kRedisPort = 6379;
constexpr double kToneRms = 0.05;  // the guide's tone is ~0.57 RMS; PLC fades far below
constexpr gint64 kHoldToneWindowMs = 1000;

struct Scenario {
  const char *name;
  const char *seed_row;
  double seed_production_pct, seed_legacy_pct;
  const char *profile;  // tests/netem profile, both directions of every link
  const char *why;
  // Which of the seed's tables the row belongs to: "success" (Connection Success Rates) or
  // "establishment" (Connection Establishment Times, seconds in the seed's columns).
  const char *table = "success";
  double seed_production_s = 0, seed_legacy_s = 0;
};

const Scenario kScenarios[] = {
    {"stable", "Stable Network", 99.8, 94.2, "wifi",
     "home Wi-Fi + broadband: 15 ms +-5 one way, 0.5 % loss, 30 Mb/s"},
    {"mobile", "Mobile Network", 98.9, 87.1, "4g",
     "LTE: 50 ms +-15 one way, 1 % loss, 10 Mb/s, 200 ms queue"},
    {"high_latency", "High Latency", 96.4, 78.3, "high-latency",
     "geostationary satellite: 300 ms +-30 one way (RTT ~600 ms), 0.5 % loss"},
    {"packet_loss", "Packet Loss", 94.7, 71.9, "lossy",
     "edge of coverage: 30 ms +-10 one way, 10 % loss in bursts of 4 packets (Gilbert-Elliott) "
     "each way"},
    {"fiber", "Excellent (Fiber)", 0, 0, "fiber", "5 ms +-1 one way, no loss, 100 Mb/s",
     "establishment", 1.4, 3.2},
    {"wifi", "Good (WiFi)", 0, 0, "wifi", "15 ms +-5 one way, 0.5 % loss, 30 Mb/s", "establishment",
     1.8, 4.1},
    {"4g", "Fair (4G)", 0, 0, "4g", "50 ms +-15 one way, 1 % loss, 10 Mb/s, 200 ms queue",
     "establishment", 2.9, 6.8},
    {"3g", "Poor (3G)", 0, 0, "3g", "150 ms +-40 one way, 2 % loss, 1 Mb/s, 500 ms queue",
     "establishment", 5.1, 12.3},
};

/* The seed's establishment goal for tourcast: a quarter of its production column. */
constexpr double kEstablishmentGoalShare = 0.25;

gint64 epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/* Writes all of @line and a newline to @fd; false if the peer is gone. */
bool write_line(int fd, const std::string &line) {
  std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

/* Splits what arrived on @fd into lines; false on end of stream or error. */
bool read_lines(int fd, std::string *buffer, std::vector<std::string> *lines) {
  char chunk[8192];
  ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return true;
  if (n <= 0)
    return false;
  buffer->append(chunk, static_cast<size_t>(n));
  size_t newline;
  while ((newline = buffer->find('\n')) != std::string::npos) {
    lines->push_back(buffer->substr(0, newline));
    buffer->erase(0, newline + 1);
  }
  return true;
}

GstWebRTCSessionDescription *parse_description(const std::string &text, GstWebRTCSDPType type) {
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text(text.c_str(), &sdp);
  return sdp ? gst_webrtc_session_description_new(type, sdp) : nullptr;
}

std::string description_text(GstWebRTCSessionDescription *description) {
  gchar *text = gst_sdp_message_as_text(description->sdp);
  std::string result = text ? text : "";
  g_free(text);
  return result;
}

/* Whether webrtcbin carried out a promised step; *why says why not. @reply (if given) gets
 * the reply, which set-*-description leave empty. */
bool promise_ok(GstPromise *promise, std::string *why, const GstStructure **reply = nullptr) {
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED) {
    *why = "interrupted";
    return false;
  }
  const GstStructure *structure = gst_promise_get_reply(promise);
  GError *error = nullptr;
  if (structure && gst_structure_get(structure, "error", G_TYPE_ERROR, &error, nullptr)) {
    *why = error ? error->message : "error";
    g_clear_error(&error);
    return false;
  }
  if (reply)
    *reply = structure;
  return true;
}

/* Remote candidates wait until their webrtcbin has a remote description. */
struct CandidateGate {
  std::mutex lock;
  bool open = false;
  std::vector<std::pair<guint, std::string>> waiting;

  void add(GstElement *webrtc, guint mline, const std::string &candidate) {
    {
      std::lock_guard<std::mutex> guard(lock);
      if (!open) {
        waiting.emplace_back(mline, candidate);
        return;
      }
    }
    g_signal_emit_by_name(webrtc, "add-ice-candidate", mline, candidate.c_str());
  }
  void release(GstElement *webrtc) {
    std::vector<std::pair<guint, std::string>> now;
    {
      std::lock_guard<std::mutex> guard(lock);
      open = true;
      now.swap(waiting);
    }
    for (const auto &c : now)
      g_signal_emit_by_name(webrtc, "add-ice-candidate", c.first, c.second.c_str());
  }
};

/* ============== naive sender: the guide of the baseline, in the guide namespace ============== */

struct NaiveSender;

struct NaivePeer {
  NaiveSender *sender = nullptr;
  int fd = -1;
  guint watch = 0;
  std::string buffer;
  std::mutex write_lock;
  GstElement *queue = nullptr, *webrtc = nullptr;
  GstPad *tee_pad = nullptr;
  std::atomic<bool> negotiating{false};
  std::atomic<bool> leaving{false};
  CandidateGate gate;

  void send(const json &message) {
    std::lock_guard<std::mutex> guard(write_lock);
    if (!leaving)
      write_line(fd, message.dump());
  }
};

struct NaiveSender {
  std::string address;
  GstElement *pipeline = nullptr, *tee = nullptr;
  std::vector<std::unique_ptr<NaivePeer>> peers;  // kept to the end: promises point at them
  int listen_fd = -1;
};

void naive_sender_remote_set(GstPromise *promise, gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  std::string why;
  if (promise_ok(promise, &why))
    peer->gate.release(peer->webrtc);
  gst_promise_unref(promise);
}

void naive_sender_local_set(GstPromise *promise, gpointer data) {
  gst_promise_unref(promise);
  (void)data;
}

void naive_sender_offer(GstPromise *promise, gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  std::string why;
  const GstStructure *reply = nullptr;
  GstWebRTCSessionDescription *offer = nullptr;
  if (promise_ok(promise, &why, &reply) && reply)
    gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
  gst_promise_unref(promise);
  if (!offer || peer->leaving) {
    if (offer)
      gst_webrtc_session_description_free(offer);
    return;
  }
  // The offer goes out before set-local-description: its candidates follow it.
  peer->send({{"offer", description_text(offer)}});
  g_signal_emit_by_name(peer->webrtc, "set-local-description", offer,
                        gst_promise_new_with_change_func(naive_sender_local_set, peer, nullptr));
  gst_webrtc_session_description_free(offer);
}

void naive_sender_candidate(GstElement *, guint mline, const gchar *candidate, NaivePeer *peer) {
  if (candidate && *candidate)
    peer->send({{"candidate", candidate}, {"mline", mline}});
}

gboolean naive_sender_negotiate(gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  if (!peer->leaving)
    g_signal_emit_by_name(peer->webrtc, "create-offer", nullptr,
                          gst_promise_new_with_change_func(naive_sender_offer, peer, nullptr));
  return G_SOURCE_REMOVE;
}

void naive_sender_caps(GstPad *sink, GParamSpec *, NaivePeer *peer) {
  bool expected = false;
  if (gst_pad_has_current_caps(sink) && peer->negotiating.compare_exchange_strong(expected, true))
    g_idle_add(naive_sender_negotiate, peer);
}

gboolean naive_sender_finish_leave(gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  NaiveSender *sender = peer->sender;
  gst_element_release_request_pad(sender->tee, peer->tee_pad);
  gst_object_unref(peer->tee_pad);
  peer->tee_pad = nullptr;
  // webrtcbin first: its sink pad then refuses buffers, which frees a queue thread
  // blocked pushing into a webrtcbin that never connected (stopping the queue first would
  // wait for that thread forever).
  for (GstElement *element : {peer->webrtc, peer->queue}) {
    gst_element_set_state(element, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(sender->pipeline), element);
  }
  peer->queue = peer->webrtc = nullptr;
  {
    std::lock_guard<std::mutex> guard(peer->write_lock);
    close(peer->fd);
    peer->fd = -1;
  }
  return G_SOURCE_REMOVE;
}

GstPadProbeReturn naive_sender_unlink(GstPad *tee_pad, GstPadProbeInfo *, gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  GstPad *peer_pad = gst_pad_get_peer(tee_pad);
  if (peer_pad) {
    gst_pad_unlink(tee_pad, peer_pad);
    gst_object_unref(peer_pad);
  }
  g_idle_add(naive_sender_finish_leave, peer);
  return GST_PAD_PROBE_REMOVE;
}

void naive_sender_leave(NaivePeer *peer) {
  if (peer->leaving.exchange(true))
    return;
  if (peer->watch)
    g_source_remove(peer->watch);
  peer->watch = 0;
  gst_pad_add_probe(peer->tee_pad, GST_PAD_PROBE_TYPE_IDLE, naive_sender_unlink, peer, nullptr);
}

gboolean naive_sender_readable(gint, GIOCondition, gpointer data) {
  auto *peer = static_cast<NaivePeer *>(data);
  std::vector<std::string> lines;
  bool open = read_lines(peer->fd, &peer->buffer, &lines);
  for (const std::string &line : lines) {
    json message = json::parse(line, nullptr, false);
    if (!message.is_object())
      continue;
    if (message.contains("answer")) {
      GstWebRTCSessionDescription *answer =
          parse_description(message["answer"].get<std::string>(), GST_WEBRTC_SDP_TYPE_ANSWER);
      if (answer) {
        g_signal_emit_by_name(
            peer->webrtc, "set-remote-description", answer,
            gst_promise_new_with_change_func(naive_sender_remote_set, peer, nullptr));
        gst_webrtc_session_description_free(answer);
      }
    } else if (message.contains("candidate")) {
      peer->gate.add(peer->webrtc, message.value("mline", 0u),
                     message["candidate"].get<std::string>());
    }
  }
  if (!open) {
    peer->watch = 0;  // this source ends by returning REMOVE
    naive_sender_leave(peer);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean naive_sender_accept(gint fd, GIOCondition, gpointer data) {
  auto *sender = static_cast<NaiveSender *>(data);
  int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0)
    return G_SOURCE_CONTINUE;
  auto peer = std::make_unique<NaivePeer>();
  NaivePeer *p = peer.get();
  p->sender = sender;
  p->fd = client;
  p->queue = gst_element_factory_make("queue", nullptr);
  // Leaky: an attendee whose webrtcbin does not take audio (not connected yet, or never)
  // must not stall the shared tee, and with it every other attendee.
  g_object_set(p->queue, "leaky", 2 /* downstream */, nullptr);
  p->webrtc = gst_element_factory_make("webrtcbin", nullptr);
  if (!tour_webrtcbin_use_address(G_OBJECT(p->webrtc), sender->address.c_str()))
    g_printerr("naive-sender: add-local-ip-address %s failed\n", sender->address.c_str());
  g_signal_connect(p->webrtc, "on-ice-candidate", G_CALLBACK(naive_sender_candidate), p);
  gst_bin_add_many(GST_BIN(sender->pipeline), p->queue, p->webrtc, nullptr);
  GstPad *sink = gst_element_request_pad_simple(p->webrtc, "sink_%u");
  GstWebRTCRTPTransceiver *transceiver = nullptr;
  g_object_get(sink, "transceiver", &transceiver, nullptr);
  g_object_set(transceiver, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
  gst_object_unref(transceiver);
  g_signal_connect(sink, "notify::caps", G_CALLBACK(naive_sender_caps), p);
  GstPad *queue_src = gst_element_get_static_pad(p->queue, "src");
  gst_pad_link(queue_src, sink);
  gst_object_unref(queue_src);
  gst_element_sync_state_with_parent(p->webrtc);
  gst_element_sync_state_with_parent(p->queue);
  p->tee_pad = gst_element_request_pad_simple(sender->tee, "src_%u");
  GstPad *queue_sink = gst_element_get_static_pad(p->queue, "sink");
  gst_pad_link(p->tee_pad, queue_sink);
  gst_object_unref(queue_sink);
  naive_sender_caps(sink, nullptr, p);
  gst_object_unref(sink);
  p->watch = g_unix_fd_add(client, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                           naive_sender_readable, p);
  sender->peers.push_back(std::move(peer));
  return G_SOURCE_CONTINUE;
}

gboolean quit_loop(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop *>(loop));
  return G_SOURCE_REMOVE;
}

int naive_sender_main(const std::string &socket_path, const std::string &address) {
  NaiveSender sender;
  sender.address = address;
  GError *error = nullptr;
  sender.pipeline = gst_parse_launch(
      "audiotestsrc is-live=true freq=440 ! audio/x-raw,rate=48000,channels=1 ! opusenc ! "
      "rtpopuspay pt=96 ! tee name=fanout allow-not-linked=true",
      &error);
  if (!sender.pipeline) {
    g_printerr("naive-sender: %s\n", error->message);
    g_error_free(error);
    return 2;
  }
  sender.tee = gst_bin_get_by_name(GST_BIN(sender.pipeline), "fanout");
  gst_element_set_state(sender.pipeline, GST_STATE_PLAYING);
  sender.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  g_strlcpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path);
  unlink(socket_path.c_str());
  if (bind(sender.listen_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      listen(sender.listen_fd, 256) != 0) {
    g_printerr("naive-sender: cannot listen on %s: %s\n", socket_path.c_str(), strerror(errno));
    return 2;
  }
  GMainLoop *loop = g_main_loop_new(nullptr, FALSE);
  g_unix_fd_add(sender.listen_fd, G_IO_IN, naive_sender_accept, &sender);
  g_unix_signal_add(SIGINT, quit_loop, loop);
  g_unix_signal_add(SIGTERM, quit_loop, loop);
  g_main_loop_run(loop);
  gst_element_set_state(sender.pipeline, GST_STATE_NULL);
  for (auto &peer : sender.peers)
    if (peer->fd >= 0)
      close(peer->fd);
  gst_object_unref(sender.tee);
  gst_object_unref(sender.pipeline);
  g_main_loop_unref(loop);
  close(sender.listen_fd);
  unlink(socket_path.c_str());
  return 0;
}

/* ============== one join: an attendee process in its namespace ============== */

struct JoinOptions {
  std::string role;  // "tourcast" or "naive"
  std::string address, redis_url, tour, id, socket_path;
  double deadline_s = 20, hold_s = 4;
};

struct Listener {
  JoinOptions options;
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *webrtc = nullptr;  // naive only
  gint64 started_ms = 0;
  std::atomic<gint64> first_tone_ms{-1}, last_tone_ms{-1}, first_buffer_ms{-1}, connected_ms{-1};
  std::mutex lock;  // guards the strings below
  std::string state = "new", error;
  std::vector<std::string> recovery;  // "attempt:ice_restart", "recovered:ice_restart", ...
  bool finished = false;
  // naive signaling
  int fd = -1;
  guint fd_watch = 0;
  std::string buffer;
  std::mutex write_lock;
  bool answer_sent = false;
  std::vector<json> early_candidates;
  CandidateGate gate;

  void set_state(const std::string &s, bool connected) {
    if (connected) {
      gint64 unset = -1;
      connected_ms.compare_exchange_strong(unset, epoch_ms());
    }
    std::lock_guard<std::mutex> guard(lock);
    state = s;
  }
};

GstPadProbeReturn on_decoded(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *l = static_cast<Listener *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  gint64 now = epoch_ms();
  gint64 unset = -1;
  l->first_buffer_ms.compare_exchange_strong(unset, now);
  GstMapInfo map;
  if (buffer && gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const auto *samples = reinterpret_cast<const gint16 *>(map.data);
    size_t count = map.size / 2;
    double sum = 0;
    for (size_t i = 0; i < count; i++)
      sum += static_cast<double>(samples[i]) * samples[i];
    gst_buffer_unmap(buffer, &map);
    double rms = count ? std::sqrt(sum / static_cast<double>(count)) / 32768.0 : 0;
    if (rms > kToneRms) {
      unset = -1;
      l->first_tone_ms.compare_exchange_strong(unset, now);
      l->last_tone_ms = now;
    }
  }
  return GST_PAD_PROBE_OK;
}

/* Ends the join with its one result line. */
void finish(Listener *l, bool ok, const std::string &reason) {
  if (l->finished)
    return;
  l->finished = true;
  json result;
  {
    std::lock_guard<std::mutex> guard(l->lock);
    gint64 first = l->first_tone_ms;
    result = {{"ok", ok},
              {"reason", reason},
              {"state", l->state},
              {"ttfa_ms", first >= 0 ? json(first - l->started_ms) : json(nullptr)},
              {"first_buffer_ms",
               l->first_buffer_ms >= 0 ? json(l->first_buffer_ms - l->started_ms) : json(nullptr)},
              {"connected_ms",
               l->connected_ms >= 0 ? json(l->connected_ms - l->started_ms) : json(nullptr)},
              {"recovery", l->recovery},
              {"error", l->error}};
  }
  printf("%s\n", result.dump().c_str());
  fflush(stdout);
  g_main_loop_quit(l->loop);
}

gboolean check_join(gpointer data) {
  auto *l = static_cast<Listener *>(data);
  gint64 now = epoch_ms();
  gint64 first = l->first_tone_ms;
  std::string error;
  {
    std::lock_guard<std::mutex> guard(l->lock);
    error = l->error;
  }
  if (!error.empty() && first < 0) {
    finish(l, false, "error");
  } else if (first < 0) {
    if (now - l->started_ms > static_cast<gint64>(l->options.deadline_s * 1000))
      finish(l, false, l->first_buffer_ms >= 0 ? "silence" : "no-audio");
  } else if (now - first >= static_cast<gint64>(l->options.hold_s * 1000)) {
    bool holding = now - l->last_tone_ms <= kHoldToneWindowMs;
    finish(l, holding, holding ? "" : "dropped-during-hold");
  }
  return l->finished ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

gboolean on_join_bus(GstBus *, GstMessage *message, gpointer data) {
  auto *l = static_cast<Listener *>(data);
  const GstStructure *s = gst_message_get_structure(message);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError *error = nullptr;
    gst_message_parse_error(message, &error, nullptr);
    std::lock_guard<std::mutex> guard(l->lock);
    if (l->error.empty())
      l->error = error ? error->message : "?";
    g_clear_error(&error);
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT && s) {
    if (gst_structure_has_name(s, "tourcast-state")) {
      const char *state = gst_structure_get_string(s, "new-state");
      l->set_state(state ? state : "?", g_strcmp0(state, "connected") == 0);
    } else if (gst_structure_has_name(s, "tourcast-recovery")) {
      const char *event = gst_structure_get_string(s, "event");
      const char *level = gst_structure_get_string(s, "level");
      std::lock_guard<std::mutex> guard(l->lock);
      l->recovery.push_back(std::string(event ? event : "?") + ":" + (level ? level : "?"));
    }
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_LATENCY) {
    gst_bin_recalculate_latency(GST_BIN(l->pipeline));
  }
  return G_SOURCE_CONTINUE;
}

/* Appends audioconvert ! S16 mono ! fakesink with the tone probe after @from. */
bool add_meter(Listener *l, GstElement *from) {
  GstElement *convert = gst_element_factory_make("audioconvert", nullptr);
  GstElement *caps = gst_element_factory_make("capsfilter", nullptr);
  GstElement *sink = gst_element_factory_make("fakesink", nullptr);
  if (!convert || !caps || !sink)
    return false;
  GstCaps *s16 = gst_caps_from_string("audio/x-raw,format=S16LE,channels=1");
  g_object_set(caps, "caps", s16, nullptr);
  gst_caps_unref(s16);
  g_object_set(sink, "sync", FALSE, nullptr);
  gst_bin_add_many(GST_BIN(l->pipeline), convert, caps, sink, nullptr);
  if (!gst_element_link_many(from, convert, caps, sink, nullptr))
    return false;
  GstPad *pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded, l, nullptr);
  gst_object_unref(pad);
  for (GstElement *element : {sink, caps, convert})
    gst_element_sync_state_with_parent(element);
  return true;
}

/* --- the naive receiver's side of the socket --- */

void naive_send(Listener *l, const json &message) {
  std::lock_guard<std::mutex> guard(l->write_lock);
  if (!l->answer_sent && message.contains("candidate")) {
    l->early_candidates.push_back(message);  // the sender needs the answer first
    return;
  }
  write_line(l->fd, message.dump());
  if (message.contains("answer")) {
    l->answer_sent = true;
    for (const json &c : l->early_candidates)
      write_line(l->fd, c.dump());
    l->early_candidates.clear();
  }
}

void naive_receiver_candidate(GstElement *, guint mline, const gchar *candidate, Listener *l) {
  if (candidate && *candidate)
    naive_send(l, {{"candidate", candidate}, {"mline", mline}});
}

struct AnswerStep {
  Listener *listener;
  GstWebRTCSessionDescription *answer;
};

void naive_receiver_local_set(GstPromise *promise, gpointer data) {
  auto *step = static_cast<AnswerStep *>(data);
  std::string why;
  if (promise_ok(promise, &why))
    naive_send(step->listener, {{"answer", description_text(step->answer)}});
  gst_promise_unref(promise);
  gst_webrtc_session_description_free(step->answer);
  delete step;
}

void naive_receiver_answer(GstPromise *promise, gpointer data) {
  auto *l = static_cast<Listener *>(data);
  std::string why;
  const GstStructure *reply = nullptr;
  GstWebRTCSessionDescription *answer = nullptr;
  if (promise_ok(promise, &why, &reply) && reply)
    gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
  gst_promise_unref(promise);
  if (!answer) {
    std::lock_guard<std::mutex> guard(l->lock);
    l->error = "create-answer: " + why;
    return;
  }
  g_signal_emit_by_name(l->webrtc, "set-local-description", answer,
                        gst_promise_new_with_change_func(naive_receiver_local_set,
                                                         new AnswerStep{l, answer}, nullptr));
}

void naive_receiver_remote_set(GstPromise *promise, gpointer data) {
  auto *l = static_cast<Listener *>(data);
  std::string why;
  bool ok = promise_ok(promise, &why);
  gst_promise_unref(promise);
  if (!ok) {
    std::lock_guard<std::mutex> guard(l->lock);
    l->error = "set-remote-description: " + why;
    return;
  }
  l->gate.release(l->webrtc);
  g_signal_emit_by_name(l->webrtc, "create-answer", nullptr,
                        gst_promise_new_with_change_func(naive_receiver_answer, l, nullptr));
}

gboolean naive_receiver_readable(gint, GIOCondition, gpointer data) {
  auto *l = static_cast<Listener *>(data);
  std::vector<std::string> lines;
  bool open = read_lines(l->fd, &l->buffer, &lines);
  for (const std::string &line : lines) {
    json message = json::parse(line, nullptr, false);
    if (!message.is_object())
      continue;
    if (message.contains("offer")) {
      GstWebRTCSessionDescription *offer =
          parse_description(message["offer"].get<std::string>(), GST_WEBRTC_SDP_TYPE_OFFER);
      if (offer) {
        g_signal_emit_by_name(
            l->webrtc, "set-remote-description", offer,
            gst_promise_new_with_change_func(naive_receiver_remote_set, l, nullptr));
        gst_webrtc_session_description_free(offer);
      }
    } else if (message.contains("candidate")) {
      l->gate.add(l->webrtc, message.value("mline", 0u), message["candidate"].get<std::string>());
    }
  }
  if (!open) {
    std::lock_guard<std::mutex> guard(l->lock);
    if (l->error.empty())
      l->error = "the naive sender closed the signaling socket";
    l->fd_watch = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

void naive_receiver_pad(GstElement *, GstPad *pad, Listener *l) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstElement *depay = gst_element_factory_make("rtpopusdepay", nullptr);
  GstElement *decoder = gst_element_factory_make("opusdec", nullptr);
  gst_bin_add_many(GST_BIN(l->pipeline), depay, decoder, nullptr);
  gst_element_link(depay, decoder);
  add_meter(l, decoder);
  gst_element_sync_state_with_parent(decoder);
  gst_element_sync_state_with_parent(depay);
  GstPad *depay_sink = gst_element_get_static_pad(depay, "sink");
  gst_pad_link(pad, depay_sink);
  gst_object_unref(depay_sink);
}

std::string enum_nick(GType type, int value) {
  GEnumClass *klass = static_cast<GEnumClass *>(g_type_class_ref(type));
  GEnumValue *entry = g_enum_get_value(klass, value);
  std::string nick = entry ? entry->value_nick : "?";
  g_type_class_unref(klass);
  return nick;
}

void naive_receiver_state(GstElement *webrtc, GParamSpec *, Listener *l) {
  GstWebRTCPeerConnectionState pc;
  GstWebRTCICEConnectionState ice;
  g_object_get(webrtc, "connection-state", &pc, "ice-connection-state", &ice, nullptr);
  l->set_state("pc-" + enum_nick(GST_TYPE_WEBRTC_PEER_CONNECTION_STATE, pc) + "/ice-" +
                   enum_nick(GST_TYPE_WEBRTC_ICE_CONNECTION_STATE, ice),
               pc == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED);
}

bool build_naive_receiver(Listener *l) {
  l->pipeline = gst_pipeline_new("naive-attendee");
  l->webrtc = gst_element_factory_make("webrtcbin", nullptr);
  if (!l->webrtc)
    return false;
  g_object_set(l->webrtc, "latency", 200u, nullptr);
  if (!tour_webrtcbin_use_address(G_OBJECT(l->webrtc), l->options.address.c_str()))
    return false;
  g_signal_connect(l->webrtc, "on-ice-candidate", G_CALLBACK(naive_receiver_candidate), l);
  g_signal_connect(l->webrtc, "pad-added", G_CALLBACK(naive_receiver_pad), l);
  g_signal_connect(l->webrtc, "notify::connection-state", G_CALLBACK(naive_receiver_state), l);
  g_signal_connect(l->webrtc, "notify::ice-connection-state", G_CALLBACK(naive_receiver_state), l);
  gst_bin_add(GST_BIN(l->pipeline), l->webrtc);
  l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  g_strlcpy(addr.sun_path, l->options.socket_path.c_str(), sizeof addr.sun_path);
  if (connect(l->fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    l->error = std::string("cannot reach the naive sender: ") + strerror(errno);
    return true;  // reported as a failed join, not a broken benchmark
  }
  l->fd_watch = g_unix_fd_add(l->fd, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                              naive_receiver_readable, l);
  return true;
}

bool build_tourcast_receiver(Listener *l) {
  std::string line = "tourattendeesrc name=src participant-id=" + l->options.id +
                     " tour=" + l->options.tour + " language=en redis-url=" + l->options.redis_url +
                     " ice-addresses=" + l->options.address + " latency=200";
  GError *error = nullptr;
  GstElement *source = gst_parse_launch(line.c_str(), &error);
  if (!source) {
    g_printerr("%s\n", error ? error->message : "tourattendeesrc is missing");
    g_clear_error(&error);
    return false;
  }
  l->pipeline = gst_pipeline_new("tourcast-attendee");
  gst_bin_add(GST_BIN(l->pipeline), source);
  return add_meter(l, source);
}

int join_main(const JoinOptions &options) {
  Listener l;
  l.options = options;
  l.loop = g_main_loop_new(nullptr, FALSE);
  bool built = options.role == "naive" ? build_naive_receiver(&l) : build_tourcast_receiver(&l);
  if (!built) {
    printf("%s\n", json({{"ok", false}, {"reason", "setup"}}).dump().c_str());
    return 2;
  }
  GstBus *bus = gst_element_get_bus(l.pipeline);
  gst_bus_add_watch(bus, on_join_bus, &l);
  gst_object_unref(bus);
  /* An app is ready before its listener taps join: the process's DTLS certificate, made once
   * by the first dtlsdec (both systems), is not part of the join's time. */
  GstElement *dtls = gst_element_factory_make("dtlsdec", nullptr);
  if (dtls)
    gst_object_unref(gst_object_ref_sink(dtls));
  l.started_ms = epoch_ms();
  gst_element_set_state(l.pipeline, GST_STATE_PLAYING);
  g_timeout_add(50, check_join, &l);
  g_unix_signal_add(SIGTERM, quit_loop, l.loop);
  g_main_loop_run(l.loop);
  if (!l.finished)
    finish(&l, false, "killed");
  // Leaving: tourcast says goodbye through Redis, naive closes its socket. Not measured,
  // so bounded: a stuck teardown must not hold the next wave.
  alarm(10);
  gst_element_set_state(l.pipeline, GST_STATE_NULL);
  if (l.fd >= 0) {
    std::lock_guard<std::mutex> guard(l.write_lock);
    close(l.fd);
  }
  gst_object_unref(l.pipeline);
  g_main_loop_unref(l.loop);
  return 0;
}

/* ============== the driver ============== */

struct Options {
  std::string table = "success";
  int joins = 200;  // 20 for the establishment table
  int batch = 20;   // 1 for the establishment table: a join alone on its links
  double deadline_s = 20, hold_s = 4;
  bool naive = true;
  std::vector<std::string> scenarios;
  std::string keep_logs;
  std::string plugin_dir = SUCCESS_PLUGIN_DIR;
  std::vector<std::string> guide_properties;  // extra tourguidesink NAME=VALUE
};

volatile sig_atomic_t interrupted = 0;

void on_interrupt(int) {
  interrupted = 1;
}

/* A child in network namespace @ns: stdout to @out_file, stderr to @out_file.err. */
pid_t spawn_in(const std::string &ns, const std::vector<std::string> &argv,
               const std::string &out_file) {
  return bench::spawn_child(argv, out_file, out_file + ".err", ns);
}

struct JoinRecord {
  bool ok = false;
  std::string reason, state, error;
  std::optional<double> ttfa_ms, connected_ms;
  std::vector<std::string> recovery;
};

JoinRecord parse_join(const std::string &log) {
  JoinRecord record;
  record.reason = "no-result";
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    json result = json::parse(line, nullptr, false);
    if (!result.is_object() || !result.contains("ok"))
      continue;
    record.ok = result.value("ok", false);
    record.reason = result.value("reason", "");
    record.state = result.value("state", "");
    record.error = result.value("error", "");
    if (result["ttfa_ms"].is_number())
      record.ttfa_ms = result["ttfa_ms"].get<double>();
    if (result.contains("connected_ms") && result["connected_ms"].is_number())
      record.connected_ms = result["connected_ms"].get<double>();
    record.recovery = result.value("recovery", std::vector<std::string>());
  }
  return record;
}

std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void keep_or_remove(const std::string &path, const std::string &keep_dir) {
  for (const std::string &file : {path, path + ".err"}) {
    if (!keep_dir.empty() && g_file_test(file.c_str(), G_FILE_TEST_EXISTS))
      std::ofstream(keep_dir + "/" + base_name(file)) << read_text(file);
    unlink(file.c_str());
  }
}

struct SystemResult {
  std::vector<JoinRecord> joins;
};

bool port_open_in(const std::string &ns, const std::string &address, int port) {
  tourcast::netem::ScopedNetns in(ns);
  if (!in.ok())
    return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

/* One wave: @count joins of @role at once, attendee k in namespace k. */
void run_wave(const Emulator &net, const Options &o, const std::string &self,
              const std::string &prefix, const std::string &role, int wave, int count,
              const std::string &url, const std::string &socket_path, SystemResult *result) {
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int k = 1; k <= count; k++) {
    std::string id = role.substr(0, 1) + std::to_string(wave) + "x" + std::to_string(k);
    logs.push_back(prefix + "-" + role + "-w" + std::to_string(wave) + "-a" + std::to_string(k) +
                   ".log");
    pids.push_back(spawn_in(
        net.attendee_ns(k),
        {self, "--role=" + role, "--address=" + net.attendee_addr(k), "--redis-url=" + url,
         "--tour=success", "--id=" + id, "--socket=" + socket_path,
         "--deadline=" + std::to_string(o.deadline_s), "--hold=" + std::to_string(o.hold_s)},
        logs.back()));
  }
  // Process start and teardown are not part of a join: allow for them on a busy machine.
  gint64 give_up = epoch_ms() + static_cast<gint64>((o.deadline_s + o.hold_s + 30) * 1000);
  size_t left = pids.size();
  while (left > 0 && epoch_ms() < give_up && !interrupted) {
    for (pid_t &pid : pids)
      if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        left--;
      }
    g_usleep(100 * 1000);
  }
  for (pid_t pid : pids)
    stop_child(pid, SIGKILL);
  for (const std::string &log : logs) {
    if (interrupted) {  // a wave cut short measures nothing
      keep_or_remove(log, "");
      continue;
    }
    JoinRecord record = parse_join(read_text(log));
    if (!record.ok)
      fprintf(stderr, "   %s: %s (%s) %s\n", base_name(log).c_str(), record.reason.c_str(),
              record.state.c_str(), record.error.c_str());
    result->joins.push_back(record);
    keep_or_remove(log, o.keep_logs);
  }
}

json summarize_system(const SystemResult &r, const Scenario &scenario, bool is_tourcast) {
  const bool establishment = g_str_equal(scenario.table, "establishment");
  const char *seed_column = is_tourcast ? "Production" : "Legacy";
  double seed_pct = is_tourcast ? scenario.seed_production_pct : scenario.seed_legacy_pct;
  double seed_s = is_tourcast ? scenario.seed_production_s : scenario.seed_legacy_s;
  int successes = 0;
  bench::Samples ttfa, connected;
  std::map<std::string, int> failures, recovery_levels;
  int recovered_joins = 0;
  for (const JoinRecord &j : r.joins) {
    if (j.ok)
      successes++;
    else
      failures[j.reason + (j.state.empty() ? "" : " (state " + j.state + ")") +
               (j.error.empty() ? "" : ": " + j.error)]++;
    ttfa.push_back(j.ok ? j.ttfa_ms : std::nullopt);
    connected.push_back(j.ok ? j.connected_ms : std::nullopt);
    std::set<std::string> used;
    for (const std::string &event : j.recovery)
      if (event.rfind("attempt:", 0) == 0)
        used.insert(event.substr(8));
    for (const std::string &level : used)
      recovery_levels[level]++;
    if (!used.empty())
      recovered_joins++;
  }
  int joins = static_cast<int>(r.joins.size());
  double rate = joins ? 100.0 * successes / joins : 0;
  json out = {{"joins", joins},
              {"successes", successes},
              {"rate_pct", std::round(rate * 100) / 100},
              {"ttfa_ms",
               {{"median", bench::to_json(bench::median(ttfa))},
                {"p95", bench::to_json(bench::percentile(ttfa, 95))},
                {"max", bench::to_json(bench::percentile(ttfa, 100))}}},
              {"connected_ms",
               {{"median", bench::to_json(bench::median(connected))},
                {"p95", bench::to_json(bench::percentile(connected, 95))},
                {"max", bench::to_json(bench::percentile(connected, 100))}}},
              {"failures_by_reason", failures},
              {"seed_column", seed_column}};
  if (establishment) {
    /* The seed times a connection; both that and the first audio are compared with it. */
    std::optional<double> c = bench::median(connected), t = bench::median(ttfa);
    out["seed_s"] = seed_s;
    /* Every join's time, in join order (null: failed): losses make the
     * distribution bimodal, which a median and a p95 hide. */
    out["connected_ms_each"] = bench::to_json(connected);
    out["connected_median_over_seed"] =
        c ? json(std::round(*c / 1000 / seed_s * 1000) / 1000) : json();
    out["first_audio_median_over_seed"] =
        t ? json(std::round(*t / 1000 / seed_s * 1000) / 1000) : json();
    if (is_tourcast) {
      out["goal_s"] = kEstablishmentGoalShare * seed_s;
      out["meets_goal"] = c && *c / 1000 <= kEstablishmentGoalShare * seed_s;
    }
    return out;
  }
  out["seed_pct"] = seed_pct;
  out["ratio_to_seed"] = joins ? json(std::round(rate / seed_pct * 1000) / 1000) : json();
  if (is_tourcast) {
    out["joins_that_used_recovery"] = recovered_joins;
    out["recovery_levels_attempted"] = recovery_levels;
    out["goal_pct"] = 99.9;
    out["meets_goal"] = joins > 0 && rate >= 99.9;
  }
  return out;
}

bool parse_options(int argc, char **argv, Options *o, JoinOptions *join, std::string *role) {
  gint joins = -1, batch = -1;
  gchar *table = nullptr;
  gdouble deadline = o->deadline_s, hold = o->hold_s;
  gboolean no_naive = FALSE;
  gchar **scenarios = nullptr;
  gchar **guide_properties = nullptr;
  gchar *keep_logs = nullptr, *role_arg = nullptr, *address = nullptr, *redis_url = nullptr,
        *tour = nullptr, *id = nullptr, *socket_path = nullptr, *plugin_dir = nullptr;
  GOptionEntry entries[] = {
      {"table", 't', 0, G_OPTION_ARG_STRING, &table,
       "The seed's table: success (Connection Success Rates) or establishment (Connection "
       "Establishment Times on fiber, wifi, 4g and 3g links) (success)",
       "TABLE"},
      {"joins", 'n', 0, G_OPTION_ARG_INT, &joins,
       "Joins per scenario and system (200; establishment: 20)", "N"},
      {"scenario", 's', 0, G_OPTION_ARG_STRING_ARRAY, &scenarios,
       "stable, mobile, high_latency, packet_loss, fiber, wifi, 4g or 3g; repeatable (default: "
       "every scenario of the table)",
       "NAME"},
      {"batch", 'b', 0, G_OPTION_ARG_INT, &batch,
       "Concurrent joins per wave (20; establishment: 1)", "B"},
      {"deadline", 'd', 0, G_OPTION_ARG_DOUBLE, &deadline,
       "Seconds from PLAYING for the first tone buffer, both systems (20)", "S"},
      {"hold", 0, 0, G_OPTION_ARG_DOUBLE, &hold,
       "Seconds after the first tone the attendee must still hear it (4)", "S"},
      {"no-naive", 0, 0, G_OPTION_ARG_NONE, &no_naive, "Skip the naive baseline", nullptr},
      {"keep-logs", 0, 0, G_OPTION_ARG_FILENAME, &keep_logs,
       "Copy every join's output and stderr (and the guides') into DIR", "DIR"},
      {"plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir, "tourcast's plugin directory",
       "DIR"},
      {"guide-property", 0, 0, G_OPTION_ARG_STRING_ARRAY, &guide_properties,
       "A tourguidesink property for tourcast's guide, e.g. shared-ice-agent=false (repeatable)",
       "NAME=VALUE"},
      {"role", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &role_arg, "", nullptr},
      {"address", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &address, "", nullptr},
      {"redis-url", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &redis_url, "", nullptr},
      {"tour", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &tour, "", nullptr},
      {"id", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &id, "", nullptr},
      {"socket", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &socket_path, "", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  GOptionContext *context =
      g_option_context_new("- the seed's connection success rates, tourcast vs naive webrtcbin");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!ok) {
    fprintf(stderr, "success-rate: %s\n", error->message);
    g_error_free(error);
  }
  if (table)
    o->table = table;
  g_free(table);
  if (ok && o->table != "success" && o->table != "establishment") {
    fprintf(stderr, "success-rate: --table is success or establishment, not '%s'\n",
            o->table.c_str());
    ok = false;
  }
  bool establishment = o->table == "establishment";
  if (joins < 0)
    joins = establishment ? 20 : o->joins;
  if (batch < 0)
    batch = establishment ? 1 : o->batch;
  if (ok && (joins < 1 || batch < 1 || batch > 250 || deadline <= 0 || hold < 0)) {
    fprintf(stderr,
            "success-rate: --joins >= 1, 1 <= --batch <= 250, --deadline > 0, "
            "--hold >= 0\n");
    ok = false;
  }
  for (gchar **s = scenarios; ok && s && *s; s++) {
    bool known = false;
    for (const Scenario &scenario : kScenarios)
      known |= g_str_equal(*s, scenario.name);
    if (!known) {
      fprintf(stderr, "success-rate: unknown scenario '%s'\n", *s);
      ok = false;
    }
    o->scenarios.push_back(*s);
  }
  o->joins = joins;
  o->batch = batch;
  o->deadline_s = join->deadline_s = deadline;
  o->hold_s = join->hold_s = hold;
  o->naive = !no_naive;
  if (keep_logs)
    o->keep_logs = keep_logs;
  if (plugin_dir)
    o->plugin_dir = plugin_dir;
  if (!bench::take_guide_properties(guide_properties, "success-rate", &o->guide_properties))
    ok = false;
  *role = role_arg ? role_arg : "";
  join->role = *role;
  join->address = address ? address : "";
  join->redis_url = redis_url ? redis_url : "";
  join->tour = tour ? tour : "";
  join->id = id ? id : "";
  join->socket_path = socket_path ? socket_path : "";
  g_strfreev(scenarios);
  for (gchar *s : {keep_logs, role_arg, address, redis_url, tour, id, socket_path, plugin_dir})
    g_free(s);
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  Options o;
  JoinOptions join;
  std::string role;
  if (!parse_options(argc, argv, &o, &join, &role))
    return 2;
  if (role == "tourcast" || role == "naive") {
    gst_init(nullptr, nullptr);
    return join_main(join);
  }
  if (role == "naive-sender") {
    gst_init(nullptr, nullptr);
    return naive_sender_main(join.socket_path, join.address);
  }
  if (!role.empty()) {
    fprintf(stderr, "success-rate: unknown role '%s'\n", role.c_str());
    return 2;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "success-rate needs root (network namespaces)\n");
    return 2;
  }
  if (!g_getenv("GST_PLUGIN_PATH") && !o.plugin_dir.empty())
    g_setenv("GST_PLUGIN_PATH", o.plugin_dir.c_str(), TRUE);
  if (!g_getenv("TOURCAST_NETEM"))
    g_setenv("TOURCAST_NETEM", SUCCESS_NETEM, TRUE);
  rlimit files = {};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
  gchar *self_path = g_file_read_link("/proc/self/exe", nullptr);
  std::string self = self_path ? self_path : argv[0];
  g_free(self_path);
  if (!o.keep_logs.empty())
    g_mkdir_with_parents(o.keep_logs.c_str(), 0755);
  char tmpl[] = "/tmp/tc-success-rate.XXXXXX";
  if (!mkdtemp(tmpl)) {
    fprintf(stderr, "success-rate: mkdtemp failed\n");
    return 2;
  }
  std::string dir = tmpl;
  gint64 began = epoch_ms();
  double load_before = bench::load_average();

  json scenarios = json::array();
  bool all_ok = true, setup_failed = false;
  for (const Scenario &scenario : kScenarios) {
    if (interrupted)
      break;
    if (o.scenarios.empty()
            ? o.table != scenario.table
            : std::find(o.scenarios.begin(), o.scenarios.end(), scenario.name) == o.scenarios.end())
      continue;
    fprintf(stderr, "== %s (%s): %d joins per system in waves of %d\n", scenario.name,
            scenario.profile, o.joins, o.batch);
    Emulator::Options eo;
    eo.attendees = std::min(o.batch, o.joins);
    eo.profile = scenario.profile;
    eo.bypass_port = kRedisPort;
    Emulator net(eo);
    if (!net.ok()) {
      fprintf(stderr, "success-rate: emulator: %s\n", net.error().c_str());
      setup_failed = true;
      break;
    }
    std::string url = "redis://" + net.guide_addr() + ":" + std::to_string(kRedisPort);
    std::string socket_path = dir + "/naive.sock";
    std::string prefix = dir + "/" + scenario.name;
    pid_t redis =
        spawn_in(net.guide_ns(),
                 {"redis-server", "--port", std::to_string(kRedisPort), "--bind", net.guide_addr(),
                  "--save", "", "--appendonly", "no", "--protected-mode", "no"},
                 prefix + "-redis.log");
    for (int i = 0; i < 100 && !port_open_in(net.guide_ns(), net.guide_addr(), kRedisPort); i++)
      g_usleep(50 * 1000);
    std::vector<std::string> guide_argv = bench::guide_argv("success", url, net.guide_addr());
    guide_argv.insert(guide_argv.end(), o.guide_properties.begin(), o.guide_properties.end());
    pid_t guide = spawn_in(net.guide_ns(), guide_argv, prefix + "-guide.log");
    pid_t sender = -1;
    if (o.naive)
      sender = spawn_in(
          net.guide_ns(),
          {self, "--role=naive-sender", "--socket=" + socket_path, "--address=" + net.guide_addr()},
          prefix + "-naive-sender.log");
    g_usleep(2500 * 1000);  // both guides speak before anyone joins
    json link = json::parse(net.command("get a1"), nullptr, false);

    SystemResult tourcast, naive;
    int restarts = 0;
    for (int wave = 1; !interrupted; wave++) {
      int tourcast_left = o.joins - static_cast<int>(tourcast.joins.size());
      int naive_left = o.naive ? o.joins - static_cast<int>(naive.joins.size()) : 0;
      if (tourcast_left <= 0 && naive_left <= 0)
        break;
      // Alternate, naive first on even waves.
      bool tourcast_turn = naive_left <= 0 || (tourcast_left > 0 && wave % 2 == 1);
      int count = std::min(eo.attendees, tourcast_turn ? tourcast_left : naive_left);
      if (guide > 0 && waitpid(guide, nullptr, WNOHANG) == guide) {
        fprintf(stderr, "   the tourcast guide exited; starting it again\n");
        guide = spawn_in(net.guide_ns(), guide_argv,
                         prefix + "-guide" + std::to_string(++restarts) + ".log");
        g_usleep(2500 * 1000);
      }
      SystemResult *into = tourcast_turn ? &tourcast : &naive;
      size_t before = into->joins.size();
      run_wave(net, o, self, prefix, tourcast_turn ? "tourcast" : "naive", wave, count, url,
               socket_path, into);
      int good = 0;
      for (size_t i = before; i < into->joins.size(); i++)
        good += into->joins[i].ok ? 1 : 0;
      fprintf(stderr, "   wave %d %s: %d/%d (%zu/%d done)\n", wave,
              tourcast_turn ? "tourcast" : "naive", good, count, into->joins.size(), o.joins);
    }
    stop_child(sender, SIGTERM);
    stop_child(guide, SIGINT);
    stop_child(redis, SIGTERM);
    for (const std::string &name :
         {std::string("-redis.log"), std::string("-guide.log"), std::string("-naive-sender.log")})
      keep_or_remove(prefix + name, o.keep_logs);
    for (int r = 1; r <= restarts; r++)
      keep_or_remove(prefix + "-guide" + std::to_string(r) + ".log", o.keep_logs);

    json row = {{"scenario", scenario.name},
                {"seed_row", scenario.seed_row},
                {"netem_profile", scenario.profile},
                {"link", scenario.why},
                {"link_settings_each_direction", link.is_object() ? link : json()},
                {"tourcast_guide_restarts", restarts},
                {"table", scenario.table},
                {"tourcast", summarize_system(tourcast, scenario, true)}};
    for (const JoinRecord &j : tourcast.joins)
      all_ok &= j.ok;
    if (o.naive) {
      row["naive"] = summarize_system(naive, scenario, false);
      for (const JoinRecord &j : naive.joins)
        all_ok &= j.ok;
      double t = row["tourcast"]["rate_pct"].get<double>();
      double n = row["naive"]["rate_pct"].get<double>();
      row["tourcast_minus_naive_points"] = std::round((t - n) * 100) / 100;
    }
    if (static_cast<int>(tourcast.joins.size()) < o.joins)
      all_ok = false;
    scenarios.push_back(row);
    fprintf(stderr, "   %s: tourcast %s%% (connected median %s ms)%s\n", scenario.name,
            row["tourcast"]["rate_pct"].dump().c_str(),
            row["tourcast"]["connected_ms"]["median"].dump().c_str(),
            o.naive ? (", naive " + row["naive"]["rate_pct"].dump() + "% (connected median " +
                       row["naive"]["connected_ms"]["median"].dump() + " ms)")
                          .c_str()
                    : "");
  }
  rmdir(dir.c_str());
  json report = {
      {"benchmark", "success-rate"},
      {"table", o.table},
      {"connected",
       "connected_ms: from PLAYING to the attendee's connection state connected (tourcast: "
       "tourcast-state connected; naive: webrtcbin's connection-state connected)"},
      {"joins_per_scenario_and_system", o.joins},
      {"batch", o.batch},
      {"deadline_s", o.deadline_s},
      {"hold_s", o.hold_s},
      {"guide_properties", o.guide_properties},
      {"success",
       "the attendee decodes the guide's 440 Hz tone (a buffer with RMS > 0.05) within "
       "deadline_s of its pipeline going to PLAYING, and still does in the last second of "
       "hold_s after that"},
      {"signaling",
       "unimpaired for both systems: Redis via tourcast-netem --bypass-port, the naive "
       "baseline through a Unix socket"},
      {"naive",
       "plain webrtcbin: one shared opusenc, a send-only webrtcbin per attendee in the guide "
       "namespace, a receiving webrtcbin in the attendee's; no recovery"},
      {"started_epoch_ms", began},
      {"duration_s", (epoch_ms() - began) / 1000},
      {"loadavg_1m_before", load_before},
      {"loadavg_1m_after", bench::load_average()},
      {"cpus", g_get_num_processors()},
      {"interrupted", interrupted != 0},
      {"scenarios", scenarios},
      {"all_succeeded", all_ok && !setup_failed && !interrupted}};
  printf("%s\n", report.dump().c_str());
  if (setup_failed)
    return 2;
  return all_ok && !interrupted ? 0 : 1;
}
