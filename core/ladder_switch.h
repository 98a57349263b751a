// One attendee's view of the guide's encoder ladder. The guide encodes the same audio once per
// quality level in use; each level's payloader numbers its packets and stamps its RTP times in
// its own series. An attendee must receive one continuous stream whatever level feeds it, so
// this picks, packet by packet, which level's packets go to the attendee and renumbers them:
// a level change happens on a packet boundary, with no frame missing or repeated and no jump
// in sequence numbers or RTP time, so neither the jitterbuffer nor the listener notices it.
#pragma once

#include <cstdint>

namespace tourcast {

struct LadderPacket {
  int level = 0;        // which encoder it comes from
  uint16_t seq = 0;     // as that level's payloader numbered it
  uint32_t rtp_ts = 0;  // as that level's payloader stamped it
  // Presentation time of the frame in nanoseconds, the same for the same audio on every
  // level (the encoders share one input cut into 20 ms frames); negative when unknown.
  int64_t pts_ns = -1;
};

struct SwitchVerdict {
  bool forward = false;  // send it to this attendee
  bool rewrite = false;  // seq/rtp_ts differ from the packet's own
  uint16_t seq = 0;      // what to send, when forwarded
  uint32_t rtp_ts = 0;
  bool switched = false;  // the attendee now follows `to` (after this packet, if forwarded)
  int from = -1;
  int to = -1;
};

class LadderSwitch {
 public:
  // A pending level takes over only while its encoder keeps up: its latest frame at most this
  // far behind the frame being forwarded. An encoder that just started has no frame yet.
  static constexpr int64_t kMaxLagNs = 60'000'000;

  explicit LadderSwitch(int level, uint32_t clock_rate = 48000)
      : current_(level), clock_rate_(clock_rate) {}

  int level() const { return current_; }
  int pending() const { return pending_; }  // -1: none
  // Follow `level` from the next packet boundary on; asking for the current level cancels a
  // pending change.
  void request(int level) { pending_ = level == current_ ? -1 : level; }

  // `pending_latest_pts_ns`: pts of the newest packet the pending level produced, negative
  // when it has produced none (ignored when nothing is pending). Packets of levels other than
  // the current one are never forwarded; a frame already sent (same or earlier pts, e.g. the
  // new level's copy of the frame that ended the old one) is dropped.
  SwitchVerdict on_packet(const LadderPacket &packet, int64_t pending_latest_pts_ns);

 private:
  int current_;
  int pending_ = -1;
  uint32_t clock_rate_;
  bool started_ = false;
  int last_level_ = -1;
  uint16_t last_seq_ = 0;
  uint32_t last_ts_ = 0;
  int64_t last_pts_ns_ = -1;
  uint16_t seq_delta_ = 0;
  uint32_t ts_delta_ = 0;
};

}  // namespace tourcast
