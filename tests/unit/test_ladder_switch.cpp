#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "ladder_switch.h"

using namespace tourcast;

namespace {

constexpr int64_t kFrameNs = 20'000'000;

// One level's payloader: its own sequence and RTP time series for the shared frames.
struct Level {
  int level;
  uint16_t seq_base;
  uint32_t ts_base;
  LadderPacket packet(int frame) const {
    LadderPacket p;
    p.level = level;
    p.seq = static_cast<uint16_t>(seq_base + frame);
    p.rtp_ts = ts_base + static_cast<uint32_t>(frame) * 960;
    p.pts_ns = frame * kFrameNs;
    return p;
  }
};

struct Sent {
  int level;
  uint16_t seq;
  uint32_t ts;
  int64_t pts;
};

// Feeds frames 0..frames-1 of both levels, in the order given per frame, switching at
// request_at; returns what the attendee got.
std::vector<Sent> run(const Level &a, const Level &b, int frames, int request_at, bool b_first,
                      int b_starts_at = 0) {
  LadderSwitch sw(a.level);
  std::vector<Sent> out;
  int64_t b_latest = -1;
  for (int f = 0; f < frames; f++) {
    if (f == request_at)
      sw.request(b.level);
    std::vector<LadderPacket> order;
    if (b_first && f >= b_starts_at)
      order.push_back(b.packet(f));
    order.push_back(a.packet(f));
    if (!b_first && f >= b_starts_at)
      order.push_back(b.packet(f));
    for (const LadderPacket &p : order) {
      SwitchVerdict v = sw.on_packet(p, p.level == b.level ? p.pts_ns : b_latest);
      if (p.level == b.level)
        b_latest = p.pts_ns;
      if (v.forward)
        out.push_back({p.level, v.seq, v.rtp_ts, p.pts_ns});
    }
  }
  return out;
}

void expect_continuous(const std::vector<Sent> &sent, int frames) {
  ASSERT_EQ(sent.size(), static_cast<size_t>(frames));
  for (size_t i = 0; i < sent.size(); i++) {
    EXPECT_EQ(sent[i].pts, static_cast<int64_t>(i) * kFrameNs) << "frame " << i;
    if (i > 0) {
      EXPECT_EQ(static_cast<uint16_t>(sent[i - 1].seq + 1), sent[i].seq) << "frame " << i;
      EXPECT_EQ(sent[i - 1].ts + 960, sent[i].ts) << "frame " << i;
    }
  }
}

}  // namespace

TEST(LadderSwitch, SwitchesOnAFrameBoundaryWithoutGapOrRepeat) {
  Level high{1, 100, 5000}, low{3, 40000, 123456789};
  for (bool b_first : {false, true}) {
    std::vector<Sent> sent = run(high, low, 20, 7, b_first);
    expect_continuous(sent, 20);
    int switch_frame = -1;
    for (size_t i = 0; i < sent.size(); i++)
      if (sent[i].level == low.level && switch_frame < 0)
        switch_frame = static_cast<int>(i);
    EXPECT_EQ(switch_frame, 8) << "b_first " << b_first;  // frame 7 ends the old level
    EXPECT_EQ(sent.front().seq, 100);                     // the first level goes out untouched
  }
}

TEST(LadderSwitch, SequenceNumbersWrapAround) {
  Level a{0, 65530, 4294967000u}, b{4, 10, 7};
  std::vector<Sent> sent = run(a, b, 30, 3, false);
  expect_continuous(sent, 30);
}

TEST(LadderSwitch, WaitsForTheNewEncoderToProduceFrames) {
  Level a{2, 1, 1}, b{3, 500, 500};
  // b's encoder only starts at frame 10, after a's frame 10: the request at 4 takes effect
  // once a frame of b was seen, i.e. after a's frame 11.
  std::vector<Sent> sent = run(a, b, 20, 4, false, 10);
  expect_continuous(sent, 20);
  for (size_t i = 0; i < sent.size(); i++)
    EXPECT_EQ(sent[i].level, i <= 11 ? 2 : 3) << "frame " << i;
}

TEST(LadderSwitch, ALaggingEncoderDoesNotTakeOver) {
  LadderSwitch sw(0);
  sw.request(1);
  LadderPacket p{0, 10, 10, 100 * kFrameNs};
  // The pending level's newest frame is 5 frames old: keep the current one.
  SwitchVerdict v = sw.on_packet(p, 95 * kFrameNs);
  EXPECT_TRUE(v.forward);
  EXPECT_FALSE(v.switched);
  EXPECT_EQ(sw.level(), 0);
  EXPECT_EQ(sw.pending(), 1);
  p.seq++;
  p.pts_ns += kFrameNs;
  v = sw.on_packet(p, 100 * kFrameNs);
  EXPECT_TRUE(v.switched);
  EXPECT_EQ(v.from, 0);
  EXPECT_EQ(v.to, 1);
  EXPECT_EQ(sw.level(), 1);
}

TEST(LadderSwitch, AskingForTheCurrentLevelCancelsAPendingChange) {
  LadderSwitch sw(2);
  sw.request(4);
  EXPECT_EQ(sw.pending(), 4);
  sw.request(2);
  EXPECT_EQ(sw.pending(), -1);
  SwitchVerdict v = sw.on_packet(LadderPacket{2, 1, 1, 0}, 0);
  EXPECT_TRUE(v.forward);
  EXPECT_FALSE(v.switched);
}

TEST(LadderSwitch, OtherLevelsAndRepeatedFramesAreDropped) {
  LadderSwitch sw(1);
  EXPECT_FALSE(sw.on_packet(LadderPacket{3, 1, 1, 0}, -1).forward);
  EXPECT_TRUE(sw.on_packet(LadderPacket{1, 7, 70, kFrameNs}, -1).forward);
  EXPECT_FALSE(sw.on_packet(LadderPacket{1, 8, 80, kFrameNs}, -1).forward);
  EXPECT_FALSE(sw.on_packet(LadderPacket{1, 9, 90, 0}, -1).forward);
}

TEST(LadderSwitch, UnknownTimesPassThroughButNeverSwitch) {
  LadderSwitch sw(1);
  sw.request(2);
  SwitchVerdict v = sw.on_packet(LadderPacket{1, 7, 70, -1}, 0);
  EXPECT_TRUE(v.forward);
  EXPECT_FALSE(v.rewrite);
  EXPECT_FALSE(v.switched);
  v = sw.on_packet(LadderPacket{1, 8, 80, -1}, 0);
  EXPECT_TRUE(v.forward);
}
