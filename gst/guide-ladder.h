/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>

#include "adaptation.h"
#include "tourlevelrouter.h"

namespace tourcast {

/* The guide's encoder ladder inside tourguidesink: one raw tee cut into
 * 20 ms frames feeds one opusenc ! rtpopuspay per quality level in use (all
 * in the tee's streaming thread, so every level encodes frame n before any
 * encodes frame n + 1), and a TourLevelRouter hands each attendee the level
 * chosen for it. Encoders start when an attendee needs their level and stop
 * when none does. Every payloader uses the channel's one SSRC, so a level
 * change is invisible on the wire but for the payload. */
class EncoderLadder {
 public:
  struct LevelFec {
    bool fec = true;
    int loss_percentage = 0;
  };
  /* Called from the streaming thread when an output follows another level. */
  using SwitchedFunc = TourLevelSwitchedFunc;

  EncoderLadder(GstBin *bin, SwitchedFunc on_switched, gpointer user_data);
  ~EncoderLadder();
  EncoderLadder(const EncoderLadder &) = delete;
  EncoderLadder &operator=(const EncoderLadder &) = delete;

  /* Where the raw audio goes in: the tee's sink pad (not a new reference). */
  GstElement *input() const { return split_; }
  /* Start of a stream: the worker context that finishes encoder removal. */
  void set_worker(GMainContext *worker);

  /* An attendee's src pad, on `level` from its first packet. New reference;
   * give it back with remove_output(). Call reconcile() afterwards. */
  GstPad *add_output(QualityLevel level);
  void remove_output(GstPad *output);
  void request(GstPad *output, QualityLevel level);

  /* FEC and DTX of each level's encoder, applied by reconcile(). */
  void set_encoding(const std::array<LevelFec, kQualityLevelCount> &fec, bool dtx);

  /* Starts the encoders the outputs need, stops the others, applies FEC.
   * Call on the worker (or with the stream stopped). */
  void reconcile();
  /* With the stream stopped: drops every encoder. */
  void clear();

  /* Bit 1 << level per running encoder. */
  guint running_levels();

 private:
  struct Branch;
  void start_branch(QualityLevel level);
  void stop_branch(Branch *branch);
  static GstPadProbeReturn on_branch_idle(GstPad *pad, GstPadProbeInfo *info, gpointer data);
  void finish_branch(Branch *branch);

  GstBin *bin_;
  GstElement *split_ = nullptr;
  GstElement *tee_ = nullptr;
  TourLevelRouter *router_ = nullptr;
  guint32 ssrc_;
  guint32 timestamp_offset_;

  /* Serialises reconcile(), finish_branch() and clear(): the worker runs the
   * first two, the application thread the last one when the stream stops.
   * Recursive: finishing a branch reconciles again. Never taken by message
   * handlers. */
  std::recursive_mutex ops_;
  std::mutex lock_; /* guards the fields below */
  GMainContext *worker_ = nullptr;
  std::map<int, std::unique_ptr<Branch>> branches_;
  std::array<LevelFec, kQualityLevelCount> fec_{};
  bool dtx_ = false;
};

}  // namespace tourcast
