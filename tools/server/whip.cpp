#include "whip.h"

#include <mutex>
#include <vector>

#define GST_USE_UNSTABLE_API
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "ice-agent.h"
#include "server_protocol.h"

namespace tourcast_server {

namespace {
// Host candidates on the given addresses come within milliseconds; STUN-less gathering on
// every interface within a second or two.
constexpr guint kGatheringTimeoutMs = 3000;
// Jitterbuffer of the browser guide's stream. tourguidesink's per-attendee queues hold 200 ms
// (leaky), and the whole pipeline runs with this latency: at webrtcbin's default of 200 ms
// they overflow and attendees hear broken audio. 50 ms is plenty on a LAN.
constexpr guint kGuideLatencyMs = 50;
}  // namespace

struct WhipPublisher::Impl {
  WhipSettings settings;
  StoppedCallback stopped;
  std::mutex lock;
  GstElement *pipeline = nullptr;
  GstElement *webrtc = nullptr;
  GstElement *depay = nullptr;
  guint bus_watch = 0;
  guint gathering_timer = 0;
  WhipPublisher::AnswerCallback done;
  std::string answer;
  std::vector<tourcast::SdpCandidate> candidates;
  bool linked = false;
  bool stopping = false;
};

namespace {

using ImplPtr = std::shared_ptr<WhipPublisher::Impl>;

// Runs f on the main context with its own reference to the publisher's state.
void on_main(const ImplPtr &impl, std::function<void(const ImplPtr &)> f) {
  struct Call {
    ImplPtr impl;
    std::function<void(const ImplPtr &)> f;
  };
  g_main_context_invoke_full(
      nullptr, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        auto *call = static_cast<Call *>(data);
        call->f(call->impl);
        return G_SOURCE_REMOVE;
      },
      new Call{impl, std::move(f)}, [](gpointer data) { delete static_cast<Call *>(data); });
}

void finish_answer(const ImplPtr &impl, const std::string &error) {
  WhipPublisher::AnswerCallback done;
  std::string answer;
  {
    std::lock_guard<std::mutex> guard(impl->lock);
    if (!impl->done)
      return;
    done = std::move(impl->done);
    impl->done = nullptr;
    if (impl->gathering_timer) {
      g_source_remove(impl->gathering_timer);
      impl->gathering_timer = 0;
    }
    if (error.empty()) {
      answer = impl->answer.find("a=candidate:") == std::string::npos
                   ? tourcast::add_candidates_to_sdp(impl->answer, impl->candidates)
                   : impl->answer;
    }
  }
  done(error.empty() ? answer : "", error);
}

std::string promise_error(GstPromise *promise, const char *what) {
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED)
    return std::string(what) + " was interrupted";
  const GstStructure *reply = gst_promise_get_reply(promise);
  GError *error = nullptr;
  if (reply && gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr) && error) {
    std::string message = std::string(what) + " failed: " + error->message;
    g_error_free(error);
    return message;
  }
  return "";
}

struct PromiseData {
  ImplPtr impl;
};

GstPromise *promise_for(const ImplPtr &impl, GstPromiseChangeFunc func) {
  return gst_promise_new_with_change_func(func, new PromiseData{impl},
                                          [](gpointer d) { delete static_cast<PromiseData *>(d); });
}

void fail_on_main(const ImplPtr &impl, const std::string &error) {
  on_main(impl, [error](const ImplPtr &i) { finish_answer(i, error); });
}

void on_local_set(GstPromise *promise, gpointer data) {
  ImplPtr impl = static_cast<PromiseData *>(data)->impl;
  std::string error = promise_error(promise, "setting the local description");
  gst_promise_unref(promise);
  if (!error.empty())
    fail_on_main(impl, error);
}

void on_answer_created(GstPromise *promise, gpointer data) {
  ImplPtr impl = static_cast<PromiseData *>(data)->impl;
  std::string error = promise_error(promise, "creating the answer");
  GstWebRTCSessionDescription *answer = nullptr;
  if (error.empty()) {
    const GstStructure *reply = gst_promise_get_reply(promise);
    if (reply)
      gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
    if (answer == nullptr)
      error = "webrtcbin made no answer";
  }
  gst_promise_unref(promise);
  if (!error.empty()) {
    fail_on_main(impl, error);
    return;
  }
  gchar *text = gst_sdp_message_as_text(answer->sdp);
  {
    std::lock_guard<std::mutex> guard(impl->lock);
    impl->answer = text;
  }
  g_free(text);
  g_signal_emit_by_name(impl->webrtc, "set-local-description", answer,
                        promise_for(impl, on_local_set));
  gst_webrtc_session_description_free(answer);
}

void on_remote_set(GstPromise *promise, gpointer data) {
  ImplPtr impl = static_cast<PromiseData *>(data)->impl;
  std::string error = promise_error(promise, "setting the browser's offer");
  gst_promise_unref(promise);
  if (!error.empty()) {
    fail_on_main(impl, error);
    return;
  }
  g_signal_emit_by_name(impl->webrtc, "create-answer", nullptr,
                        promise_for(impl, on_answer_created));
}

void on_ice_candidate(GstElement *, guint mline, gchar *candidate, gpointer data) {
  auto *impl = static_cast<WhipPublisher::Impl *>(data);
  std::lock_guard<std::mutex> guard(impl->lock);
  impl->candidates.push_back({mline, candidate});
}

void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
  auto *impl = static_cast<WhipPublisher::Impl *>(data);
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  std::lock_guard<std::mutex> guard(impl->lock);
  if (impl->linked)
    return;
  GstPad *sink = gst_element_get_static_pad(impl->depay, "sink");
  if (gst_pad_link(pad, sink) == GST_PAD_LINK_OK)
    impl->linked = true;
  gst_object_unref(sink);
}

bool configure_ice(GstElement *webrtc, const std::string &addresses, std::string *error) {
  GObject *ice = nullptr;
  g_object_get(webrtc, "ice-agent", &ice, nullptr);
  if (ice == nullptr)
    return true;
  tour_ice_agent_disable_upnp(ice);
  bool ok = true;
  gchar **parts = g_strsplit(addresses.c_str(), ",", -1);
  for (gchar **p = parts; *p && ok; p++) {
    g_strstrip(*p);
    if (**p == '\0')
      continue;
    gboolean added = FALSE;
    g_signal_emit_by_name(ice, "add-local-ip-address", *p, &added);
    if (!added) {
      *error = std::string("ICE cannot use address ") + *p;
      ok = false;
    }
  }
  g_strfreev(parts);
  g_object_unref(ice);
  return ok;
}

gboolean on_bus(GstBus *, GstMessage *message, gpointer data) {
  auto *weak = static_cast<std::weak_ptr<WhipPublisher::Impl> *>(data);
  ImplPtr impl = weak->lock();
  if (!impl)
    return G_SOURCE_REMOVE;
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_LATENCY:
      gst_bin_recalculate_latency(GST_BIN(impl->pipeline));
      break;
    case GST_MESSAGE_ERROR: {
      GError *error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      std::string why = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " +
                        (error ? error->message : "error");
      g_clear_error(&error);
      finish_answer(impl, why);
      if (impl->stopped && !impl->stopping)
        impl->stopped(why);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

void on_connection_state(GstElement *webrtc, GParamSpec *, gpointer data) {
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  if (state != GST_WEBRTC_PEER_CONNECTION_STATE_FAILED &&
      state != GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED)
    return;
  auto *weak = static_cast<std::weak_ptr<WhipPublisher::Impl> *>(data);
  ImplPtr impl = weak->lock();
  if (!impl)
    return;
  on_main(impl, [](const ImplPtr &i) {
    if (i->stopped && !i->stopping)
      i->stopped("the browser's connection failed");
  });
}

}  // namespace

WhipPublisher::WhipPublisher(WhipSettings settings, StoppedCallback stopped)
    : impl_(std::make_shared<Impl>()) {
  impl_->settings = std::move(settings);
  impl_->stopped = std::move(stopped);
}

WhipPublisher::~WhipPublisher() { stop(); }

bool WhipPublisher::start(const std::string &offer, AnswerCallback done, std::string *error) {
  GstSDPMessage *sdp = nullptr;
  if (gst_sdp_message_new_from_text(offer.c_str(), &sdp) != GST_SDP_OK || sdp == nullptr) {
    if (sdp)
      gst_sdp_message_free(sdp);
    *error = "the offer is not valid SDP";
    return false;
  }
  Impl *impl = impl_.get();
  impl->done = std::move(done);
  impl->pipeline = gst_pipeline_new("whip");
  impl->webrtc = gst_element_factory_make("webrtcbin", "webrtc");
  impl->depay = gst_element_factory_make("rtpopusdepay", nullptr);
  GstElement *decoder = gst_element_factory_make("opusdec", nullptr);
  GstElement *convert = gst_element_factory_make("audioconvert", nullptr);
  GstElement *resample = gst_element_factory_make("audioresample", nullptr);
  GstElement *guide = gst_element_factory_make("tourguidesink", "guide");
  if (!impl->webrtc || !impl->depay || !decoder || !convert || !resample || !guide) {
    *error = "a GStreamer element is missing (webrtcbin, rtpopusdepay, opusdec or tourguidesink)";
    for (GstElement *e : {impl->webrtc, impl->depay, decoder, convert, resample, guide})
      if (e)
        gst_object_unref(gst_object_ref_sink(e));
    gst_object_unref(impl->pipeline);
    impl->pipeline = impl->webrtc = impl->depay = nullptr;
    gst_sdp_message_free(sdp);
    return false;
  }
  g_object_set(impl->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency",
               kGuideLatencyMs, nullptr);
  g_object_set(guide, "tour", impl->settings.tour.c_str(), "language",
               impl->settings.language.c_str(), "redis-url", impl->settings.redis_url.c_str(),
               nullptr);
  if (!impl->settings.ice_addresses.empty())
    g_object_set(guide, "ice-addresses", impl->settings.ice_addresses.c_str(), nullptr);
  g_object_set(decoder, "plc", TRUE, nullptr);
  gst_bin_add_many(GST_BIN(impl->pipeline), impl->webrtc, impl->depay, decoder, convert, resample,
                   guide, nullptr);
  gst_element_link_many(impl->depay, decoder, convert, resample, guide, nullptr);
  g_signal_connect(impl->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), impl);
  g_signal_connect(impl->webrtc, "pad-added", G_CALLBACK(on_pad_added), impl);
  g_signal_connect_data(impl->webrtc, "notify::connection-state", G_CALLBACK(on_connection_state),
                        new std::weak_ptr<Impl>(impl_),
                        [](gpointer d, GClosure *) { delete static_cast<std::weak_ptr<Impl> *>(d); },
                        GConnectFlags(0));
  if (!configure_ice(impl->webrtc, impl->settings.ice_addresses, error)) {
    gst_sdp_message_free(sdp);
    stop();
    return false;
  }
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(impl->pipeline));
  impl->bus_watch = gst_bus_add_watch_full(
      bus, G_PRIORITY_DEFAULT, on_bus, new std::weak_ptr<Impl>(impl_),
      [](gpointer d) { delete static_cast<std::weak_ptr<Impl> *>(d); });
  gst_object_unref(bus);
  if (gst_element_set_state(impl->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "the guide pipeline did not start (is Redis reachable?)";
    gst_sdp_message_free(sdp);
    stop();
    return false;
  }
  // Gathering ends with "complete", or the answer goes with what was gathered by then.
  std::weak_ptr<Impl> weak = impl_;
  struct Timer {
    std::weak_ptr<Impl> weak;
  };
  impl->gathering_timer = g_timeout_add_full(
      G_PRIORITY_DEFAULT, 50,
      [](gpointer data) -> gboolean {
        ImplPtr i = static_cast<Timer *>(data)->weak.lock();
        if (!i)
          return G_SOURCE_REMOVE;
        GstWebRTCICEGatheringState state;
        g_object_get(i->webrtc, "ice-gathering-state", &state, nullptr);
        bool ready;
        {
          std::lock_guard<std::mutex> guard(i->lock);
          ready = !i->answer.empty() && state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE;
        }
        if (!ready)
          return G_SOURCE_CONTINUE;
        {
          std::lock_guard<std::mutex> guard(i->lock);
          i->gathering_timer = 0;
        }
        finish_answer(i, "");
        return G_SOURCE_REMOVE;
      },
      new Timer{weak}, [](gpointer d) { delete static_cast<Timer *>(d); });
  g_timeout_add_full(
      G_PRIORITY_DEFAULT, kGatheringTimeoutMs,
      [](gpointer data) -> gboolean {
        ImplPtr i = static_cast<Timer *>(data)->weak.lock();
        if (!i)
          return G_SOURCE_REMOVE;
        bool have_answer;
        {
          std::lock_guard<std::mutex> guard(i->lock);
          have_answer = !i->answer.empty();
        }
        finish_answer(i, have_answer ? "" : "no answer within the time limit");
        return G_SOURCE_REMOVE;
      },
      new Timer{weak}, [](gpointer d) { delete static_cast<Timer *>(d); });
  // A receiving transceiver for the browser's Opus, so webrtcbin matches the offer to it.
  int pt = tourcast::opus_payload_type(offer);
  if (pt >= 0) {
    GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "audio",
                                        "encoding-name", G_TYPE_STRING, "OPUS", "clock-rate",
                                        G_TYPE_INT, 48000, "payload", G_TYPE_INT, pt, nullptr);
    GstWebRTCRTPTransceiver *transceiver = nullptr;
    g_signal_emit_by_name(impl->webrtc, "add-transceiver",
                          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &transceiver);
    gst_caps_unref(caps);
    if (transceiver)
      gst_object_unref(transceiver);
  }
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  g_signal_emit_by_name(impl->webrtc, "set-remote-description", desc,
                        promise_for(impl_, on_remote_set));
  gst_webrtc_session_description_free(desc);
  return true;
}

void WhipPublisher::add_candidate(unsigned mline, const std::string &candidate) {
  if (impl_->webrtc)
    g_signal_emit_by_name(impl_->webrtc, "add-ice-candidate", mline, candidate.c_str());
}

std::string WhipPublisher::connection_state() const {
  if (impl_->webrtc == nullptr)
    return "closed";
  GstWebRTCPeerConnectionState state;
  g_object_get(impl_->webrtc, "connection-state", &state, nullptr);
  switch (state) {
    case GST_WEBRTC_PEER_CONNECTION_STATE_NEW:
      return "new";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING:
      return "connecting";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
      return "connected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED:
      return "disconnected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
      return "failed";
    default:
      return "closed";
  }
}

void WhipPublisher::stop() {
  Impl *impl = impl_.get();
  impl->stopping = true;
  {
    std::lock_guard<std::mutex> guard(impl->lock);
    impl->done = nullptr;
    if (impl->gathering_timer) {
      g_source_remove(impl->gathering_timer);
      impl->gathering_timer = 0;
    }
  }
  if (impl->bus_watch) {
    g_source_remove(impl->bus_watch);
    impl->bus_watch = 0;
  }
  if (impl->pipeline) {
    g_signal_handlers_disconnect_by_data(impl->webrtc, impl);
    gst_element_set_state(impl->pipeline, GST_STATE_NULL);
    gst_object_unref(impl->pipeline);
    impl->pipeline = nullptr;
    impl->webrtc = nullptr;
    impl->depay = nullptr;
  }
}

}  // namespace tourcast_server
