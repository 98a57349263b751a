/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "guide-ladder.h"

#include <vector>

GST_DEBUG_CATEGORY_EXTERN(tour_guide_sink_debug);
#define GST_CAT_DEFAULT tour_guide_sink_debug

namespace tourcast {

struct EncoderLadder::Branch {
  EncoderLadder *ladder = nullptr;
  QualityLevel level = QualityLevel::kHigh;
  GstPad *tee_pad = nullptr;
  GstPad *router_pad = nullptr;
  GstElement *convert = nullptr;
  GstElement *filter = nullptr;
  GstElement *encoder = nullptr;
  GstElement *payloader = nullptr;
  bool stopping = false;
  gulong idle_probe = 0;
  bool applied = false;
  LevelFec applied_fec;
  bool applied_dtx = false;
};

EncoderLadder::EncoderLadder(GstBin *bin, SwitchedFunc on_switched, gpointer user_data)
    : bin_(bin), ssrc_(g_random_int()), timestamp_offset_(g_random_int()) {
  /* 20 ms frames, gapless: every encoder, whenever it starts, cuts the audio
   * at the same instants, so frame n of one level is frame n of another. */
  split_ = gst_element_factory_make("audiobuffersplit", "frames");
  tee_ = gst_element_factory_make("tee", "ladder");
  g_assert(split_ && tee_);
  g_object_set(split_, "output-buffer-duration", 1, 50, "gapless", TRUE, nullptr);
  g_object_set(tee_, "allow-not-linked", TRUE, nullptr);
  router_ = tour_level_router_new(on_switched, user_data);
  gst_object_set_name(GST_OBJECT(router_), "router");
  gst_bin_add_many(bin_, split_, tee_, GST_ELEMENT(router_), nullptr);
  gst_element_link(split_, tee_);
}

EncoderLadder::~EncoderLadder() = default;

void EncoderLadder::set_worker(GMainContext *worker) {
  std::lock_guard<std::mutex> guard(lock_);
  worker_ = worker;
}

GstPad *EncoderLadder::add_output(QualityLevel level) {
  return tour_level_router_add_output(router_, static_cast<int>(level));
}

void EncoderLadder::remove_output(GstPad *output) {
  gst_element_release_request_pad(GST_ELEMENT(router_), output);
  gst_object_unref(output);
}

void EncoderLadder::request(GstPad *output, QualityLevel level) {
  tour_level_router_request_level(router_, output, static_cast<int>(level));
}

void EncoderLadder::set_encoding(const std::array<LevelFec, kQualityLevelCount> &fec, bool dtx) {
  std::lock_guard<std::mutex> guard(lock_);
  fec_ = fec;
  dtx_ = dtx;
}

guint EncoderLadder::running_levels() {
  std::lock_guard<std::mutex> guard(lock_);
  guint bits = 0;
  for (auto &entry : branches_)
    if (!entry.second->stopping)
      bits |= 1u << entry.first;
  return bits;
}

void EncoderLadder::start_branch(QualityLevel level) {
  const LevelSpec &spec = level_spec(level);
  auto branch = std::make_unique<Branch>();
  branch->ladder = this;
  branch->level = level;
  const char *name = to_string(level);
  auto make = [name](const char *factory, const char *what) {
    gchar *element_name = g_strdup_printf("%s-%s", name, what);
    GstElement *e = gst_element_factory_make(factory, element_name);
    g_free(element_name);
    g_assert(e);
    return e;
  };
  branch->convert = make("audioconvert", "convert");
  branch->filter = make("capsfilter", "channels");
  branch->encoder = make("opusenc", "encoder");
  branch->payloader = make("rtpopuspay", "payloader");
  GstCaps *caps = spec.channels == 1
                      ? gst_caps_from_string("audio/x-raw,channels=1")
                      : gst_caps_from_string("audio/x-raw,channels=[1,2]");
  g_object_set(branch->filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(branch->encoder, "bitrate", spec.bitrate_bps, "frame-size", 20, nullptr);
  gst_util_set_object_arg(G_OBJECT(branch->encoder), "bandwidth", spec.opus_bandwidth);
  g_object_set(branch->payloader, "pt", 96, "ssrc", ssrc_, "timestamp-offset", timestamp_offset_,
               nullptr);
  gst_bin_add_many(bin_, branch->convert, branch->filter, branch->encoder, branch->payloader,
                   nullptr);
  gst_element_link_many(branch->convert, branch->filter, branch->encoder, branch->payloader,
                        nullptr);
  branch->router_pad = tour_level_router_add_level(router_, static_cast<int>(level));
  GstPad *pay_src = gst_element_get_static_pad(branch->payloader, "src");
  gst_pad_link(pay_src, branch->router_pad);
  gst_object_unref(pay_src);
  Branch *raw = branch.get();
  {
    std::lock_guard<std::mutex> guard(lock_);
    branches_[static_cast<int>(level)] = std::move(branch);
  }
  for (GstElement *e : {raw->payloader, raw->encoder, raw->filter, raw->convert})
    gst_element_sync_state_with_parent(e);
  raw->tee_pad = gst_element_request_pad_simple(tee_, "src_%u");
  GstPad *convert_sink = gst_element_get_static_pad(raw->convert, "sink");
  gst_pad_link(raw->tee_pad, convert_sink);
  gst_object_unref(convert_sink);
  GST_INFO_OBJECT(bin_, "encoder for level %s started", name);
}

GstPadProbeReturn EncoderLadder::on_branch_idle(GstPad *pad, GstPadProbeInfo *, gpointer data) {
  auto *branch = static_cast<Branch *>(data);
  branch->idle_probe = 0;
  GstPad *peer = gst_pad_get_peer(pad);
  if (peer) {
    gst_pad_unlink(pad, peer);
    gst_object_unref(peer);
  }
  EncoderLadder *ladder = branch->ladder;
  GMainContext *worker;
  {
    std::lock_guard<std::mutex> guard(ladder->lock_);
    worker = ladder->worker_;
  }
  if (worker) {
    g_main_context_invoke(
        worker,
        [](gpointer data) -> gboolean {
          auto *b = static_cast<Branch *>(data);
          b->ladder->finish_branch(b);
          return G_SOURCE_REMOVE;
        },
        branch);
  } else {
    ladder->finish_branch(branch);
  }
  return GST_PAD_PROBE_REMOVE;
}

void EncoderLadder::stop_branch(Branch *branch) {
  const QualityLevel level = branch->level;
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (branch->stopping)
      return; /* already on its way out: a second idle probe would find it freed */
    branch->stopping = true;
  }
  GST_INFO_OBJECT(bin_, "stopping the encoder for level %s: no attendee needs it",
                  to_string(level));
  gulong probe = gst_pad_add_probe(branch->tee_pad, GST_PAD_PROBE_TYPE_IDLE, on_branch_idle,
                                   branch, nullptr);
  /* The probe may have run, and the worker finished (freed) the branch, before add_probe
   * returned: only a branch still in the ladder keeps the probe id. */
  std::lock_guard<std::mutex> guard(lock_);
  auto it = branches_.find(static_cast<int>(level));
  if (probe != 0 && it != branches_.end() && it->second.get() == branch)
    branch->idle_probe = probe;
}

void EncoderLadder::finish_branch(Branch *branch) {
  std::unique_ptr<Branch> owned;
  {
    std::lock_guard<std::mutex> guard(lock_);
    auto it = branches_.find(static_cast<int>(branch->level));
    if (it == branches_.end() || it->second.get() != branch)
      return;
    owned = std::move(it->second);
    branches_.erase(it);
  }
  if (owned->tee_pad) {
    gst_element_release_request_pad(tee_, owned->tee_pad);
    gst_object_unref(owned->tee_pad);
  }
  for (GstElement *e : {owned->convert, owned->filter, owned->encoder, owned->payloader}) {
    gst_element_set_locked_state(e, TRUE);
    gst_element_set_state(e, GST_STATE_NULL);
  }
  gst_bin_remove_many(bin_, owned->convert, owned->filter, owned->encoder, owned->payloader,
                      nullptr);
  gst_element_release_request_pad(GST_ELEMENT(router_), owned->router_pad);
  gst_object_unref(owned->router_pad);
  bool running;
  {
    std::lock_guard<std::mutex> guard(lock_);
    running = worker_ != nullptr;
  }
  /* Somebody may have asked for this level again meanwhile. */
  if (running)
    reconcile();
}

void EncoderLadder::reconcile() {
  guint wanted = tour_level_router_levels_in_use(router_);
  std::array<LevelFec, kQualityLevelCount> fec;
  bool dtx;
  std::vector<Branch *> to_stop;
  std::vector<QualityLevel> to_start;
  std::vector<Branch *> to_tune;
  {
    std::lock_guard<std::mutex> guard(lock_);
    fec = fec_;
    dtx = dtx_;
    for (int l = 0; l < kQualityLevelCount; l++) {
      auto it = branches_.find(l);
      bool want = wanted & (1u << l);
      if (it == branches_.end()) {
        if (want)
          to_start.push_back(static_cast<QualityLevel>(l));
      } else if (!it->second->stopping) {
        if (want)
          to_tune.push_back(it->second.get());
        else
          to_stop.push_back(it->second.get());
      }
    }
  }
  for (QualityLevel level : to_start) {
    start_branch(level);
    std::lock_guard<std::mutex> guard(lock_);
    to_tune.push_back(branches_[static_cast<int>(level)].get());
  }
  for (Branch *b : to_tune) {
    const LevelFec &want = fec[static_cast<int>(b->level)];
    if (b->applied && b->applied_fec.fec == want.fec &&
        b->applied_fec.loss_percentage == want.loss_percentage && b->applied_dtx == dtx)
      continue;
    /* opusenc takes these while playing, from the next frame on. */
    g_object_set(b->encoder, "inband-fec", want.fec ? TRUE : FALSE, "packet-loss-percentage",
                 want.fec ? want.loss_percentage : 0, "dtx", dtx ? TRUE : FALSE, nullptr);
    b->applied = true;
    b->applied_fec = want;
    b->applied_dtx = dtx;
  }
  for (Branch *b : to_stop)
    stop_branch(b);
}

void EncoderLadder::clear() {
  std::vector<Branch *> all;
  {
    std::lock_guard<std::mutex> guard(lock_);
    worker_ = nullptr;
    for (auto &entry : branches_)
      all.push_back(entry.second.get());
  }
  /* The stream is stopped: no idle probe needed (a pending one goes), and
   * finish_branch does not reconcile without a worker. */
  for (Branch *b : all) {
    if (b->idle_probe)
      gst_pad_remove_probe(b->tee_pad, b->idle_probe);
    GstPad *peer = gst_pad_get_peer(b->tee_pad);
    if (peer) {
      gst_pad_unlink(b->tee_pad, peer);
      gst_object_unref(peer);
    }
    finish_branch(b);
  }
}

}  // namespace tourcast
