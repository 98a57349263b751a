// An attendee's adaptive receive latency: start low where the network allows, raise the
// jitterbuffer latency when packets arrive later than it covers (as a browser's jitter buffer
// does), never lower it.
//
// What decides whether a packet is heard: rtpjitterbuffer hands in-order packets on at once
// and stamps each with its arrival time corrected to the link's fastest transit (its skew
// estimate); a syncing audio sink plays a sample at that stamp plus the pipeline latency, of
// which the jitterbuffer's is the part this sets. A packet whose transit (arrival time minus
// its RTP timestamp's media time) exceeds the fastest one seen by more than the latency comes
// after its turn: the sink drops it, or the jitterbuffer has already given it up as lost and
// counts it late. So the controller watches that delay above the fastest transit, per packet,
// and not loss: a lost packet is not helped by waiting longer (the jitterbuffer's own
// num-lost/num-late follow from the same delays, later and coarser).
//
// Raised when at least kLatePacketsToRaise packets within kLateWindowUs came within
// kLatenessMarginUs of the latency or past it (one scheduling hiccup does not raise), to the
// largest delay of the last kLateWindowUs plus a quarter (each raise is heard, so it should
// cover the link's tail beyond what 2 s showed) plus the margin, rounded up to
// kLatencyStepMs, at most the ceiling. Never lowered: on a syncing sink a lower latency plays
// the next packets earlier than the ones before them ended, i.e. cuts audio, and a link that
// was jittery once tends to be again; browsers lower theirs by time-stretching, which a
// GStreamer audio sink does not do.
//
// The fastest transit is the minimum over the last kBaseWindowUs, so clock drift between the
// guide and the attendee (tens of ppm: about 1 ms a minute) and a longer route do not pile up
// as delay; a jump of more than kStreamJumpUs in transit (a new stream, a timestamp reset)
// starts the measurement again. Pure: time is passed in.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

namespace tourcast {

// Where the adaptive latency starts on a network the profile calls fast (wifi, a desktop on
// an unknown network): one Opus frame of reordering room; and the most it is raised to.
constexpr int kDefaultMinReceiveLatencyMs = 20;
constexpr int kDefaultMaxReceiveLatencyMs = 400;
constexpr int kLatencyStepMs = 10;
constexpr int kLatePacketsToRaise = 2;
constexpr int64_t kLateWindowUs = 2'000'000;
// Decoding and handing the packet on after the jitterbuffer: a packet this close to the
// latency is counted as late.
constexpr int64_t kLatenessMarginUs = 2'000;
constexpr int64_t kBaseWindowUs = 10'000'000;
constexpr int64_t kStreamJumpUs = 5'000'000;

// The latency an adaptive attendee starts at: min_latency_ms where its profile's fixed latency
// is a fast network's (at most 60 ms: wifi, a desktop on an unknown network), else the
// profile's (120 on 4g or a phone on an unknown network, 200 on 3g/2g: those links' jitter
// is expected from the first packet, and starting lower would make the first seconds cut).
int adaptive_start_latency_ms(int profile_latency_ms, int min_latency_ms);

class ReceiveLatencyController {
 public:
  // start_ms is the latency in effect now; max_ms the ceiling (raised to start_ms if lower);
  // clock_rate the RTP clock (48000 for Opus).
  ReceiveLatencyController(int start_ms, int max_ms, int clock_rate);

  // A packet carrying rtp_timestamp arrived at arrival_us (monotonic). Returns the new latency
  // in ms when it is to be raised (and from then on latency_ms() is that), else nullopt.
  std::optional<int> on_packet(int64_t arrival_us, uint32_t rtp_timestamp);
  // A new stream (new SSRC, a new jitterbuffer): its timestamps start afresh; the latency stays.
  void restart_stream();

  int latency_ms() const { return latency_ms_; }
  // The largest delay above the fastest transit over the last kLateWindowUs, in µs.
  int64_t recent_max_delay_us() const;

 private:
  struct Sample {
    int64_t arrival_us;
    int64_t value_us;
  };
  int latency_ms_;
  int max_ms_;
  int clock_rate_;
  bool have_timestamp_ = false;
  uint32_t last_timestamp_ = 0;
  int64_t extended_timestamp_ = 0;
  int64_t last_transit_us_ = 0;
  // Increasing transits: the front is the minimum of the last kBaseWindowUs.
  std::deque<Sample> fastest_;
  // Decreasing delays: the front is the maximum of the last kLateWindowUs.
  std::deque<Sample> slowest_;
  // Arrival times of the packets that came too late for the latency, last kLateWindowUs.
  std::deque<int64_t> late_;
};

}  // namespace tourcast
