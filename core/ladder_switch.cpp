#include "ladder_switch.h"

namespace tourcast {

SwitchVerdict LadderSwitch::on_packet(const LadderPacket &packet, int64_t pending_latest_pts_ns) {
  SwitchVerdict verdict;
  if (packet.level != current_)
    return verdict;
  bool pts_known = packet.pts_ns >= 0;
  if (started_ && pts_known && last_pts_ns_ >= 0 && packet.pts_ns <= last_pts_ns_)
    return verdict;

  if (started_ && packet.level != last_level_) {
    /* First packet of a new level: continue the series the attendee has seen. RTP time
     * advances by the media time between the two frames. */
    seq_delta_ = static_cast<uint16_t>(last_seq_ + 1 - packet.seq);
    int64_t elapsed_ns = (pts_known && last_pts_ns_ >= 0) ? packet.pts_ns - last_pts_ns_ : 0;
    uint32_t advance = static_cast<uint32_t>(
        (elapsed_ns * static_cast<int64_t>(clock_rate_) + 500'000'000) / 1'000'000'000);
    ts_delta_ = last_ts_ + advance - packet.rtp_ts;
  }
  started_ = true;
  verdict.forward = true;
  verdict.seq = static_cast<uint16_t>(packet.seq + seq_delta_);
  verdict.rtp_ts = packet.rtp_ts + ts_delta_;
  verdict.rewrite = seq_delta_ != 0 || ts_delta_ != 0;
  last_level_ = packet.level;
  last_seq_ = verdict.seq;
  last_ts_ = verdict.rtp_ts;
  if (pts_known)
    last_pts_ns_ = packet.pts_ns;

  if (pending_ >= 0 && pts_known && pending_latest_pts_ns >= 0 &&
      pending_latest_pts_ns + kMaxLagNs >= packet.pts_ns) {
    verdict.switched = true;
    verdict.from = current_;
    verdict.to = pending_;
    current_ = pending_;
    pending_ = -1;
  }
  return verdict;
}

}  // namespace tourcast
