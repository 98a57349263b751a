// Retransmission timeout of ICE connectivity checks, from how long the peer's first check
// took to arrive.
//
// libnice 0.1.21 gives a connectivity check RTO = MAX(Ta x (waiting + in-progress pairs),
// 500 ms) and, when a request from the peer makes it send a triggered check on a pair whose
// check is still in flight, forgets the older transaction at that transaction's next
// retransmission time. On a link whose round trip is longer than that RTO (a geostationary
// satellite hop: ~600 ms), the older check's response then always arrives too late ("Valid
// STUN response for which we don't have a request") and, while the peers keep crossing
// requests, no check completes: ICE takes seconds to tens of seconds. With an RTO above the
// round trip every response finds its transaction (RFC 8445 section 14.3 wants the RTO
// configurable for this reason). libnice has no RTO setting; its pacing timer Ta sets it.
//
// The round trip is not known before the first check completes, but the peer's first check
// arrives one signaling hop plus one media one-way trip (guide side: a whole round trip, the
// attendee's first check answers the guide's) after this side set both descriptions: an
// upper bound of half the round trip at least. Pure: no clocks.
#pragma once

#include <cstdint>

namespace tourcast {

// libnice's floor for the RTO, and the RTO it uses with one pair and the default Ta.
constexpr int64_t kLibniceCheckTimeoutMs = 500;
// Above this a lost check would wait too long for its retransmission (every lost request
// costs an RTO, doubling).
constexpr int64_t kMaxCheckTimeoutMs = 3000;
// Scheduling, the peer's pacing tick and the link's jitter on top of twice the measured delay.
constexpr int64_t kCheckTimeoutMarginMs = 200;
// libnice's grace (agent property idle-timeout, its default) between the last check an agent
// had to send and declaring a component without a nominated pair failed.
constexpr int64_t kLibniceIdleTimeoutMs = 5000;
// The largest idle-timeout libnice takes (its property's range: 50-60,000 ms).
constexpr int64_t kLibniceMaxIdleTimeoutMs = 60000;

// The RTO for a link on which the peer's first check arrived first_request_delay_ms after
// this side's local and remote descriptions were both set: twice that delay plus the margin,
// never below libnice's 500 ms nor above kMaxCheckTimeoutMs. A negative delay (the request
// came first: no measurement) gives libnice's 500 ms.
int64_t check_timeout_for_first_request_delay(int64_t first_request_delay_ms);

// The idle-timeout that keeps libnice's grace near kLibniceIdleTimeoutMs of real time once Ta
// is raised to pacing_ms while the check tick runs every tick_ms. libnice 0.1.21 counts that
// grace by adding Ta on each tick with nothing to send, and a running tick keeps the interval
// it was made with: a Ta raised from 5 to 1,000 ms while the tick runs every 5 ms cut the
// grace from 5 s to 25 ms, so a controlled agent whose check succeeded declared its component
// failed when the controlling side's nomination came 25 ms later (a join storm: the guide's
// agent paces its checks for all its peers). kLibniceIdleTimeoutMs x pacing / tick, rounded
// up, at most libnice's kLibniceMaxIdleTimeoutMs (a grace of 60,000 / Ta ticks: 100 ms at
// the largest check timeout on a 5 ms tick, 465 ms at 650 ms); libnice's own when Ta is not
// above the tick (or either is not positive).
int64_t idle_timeout_for_pacing(int64_t pacing_ms, int64_t tick_ms);

// Whose libnice agent a peer's checks run on.
enum class CheckAgent {
  // The peer's own: Ta, and so the RTO, is this peer's alone.
  kOwn,
  // One agent for many peers (the guide's shared ICE agent): Ta is the whole agent's.
  kShared,
};

// The check timeout to give the agent when the peer's first check arrived
// first_request_delay_ms after both descriptions were set: its own agent takes
// check_timeout_for_first_request_delay(); a shared agent keeps libnice's 500 ms. libnice
// 0.1.21 makes an agent's check tick with the Ta of the moment (priv_schedule_next), and the
// tick stops whenever the agent has nothing to send for its idle-timeout, so a raised Ta
// became the tick of every peer of the agent the next time it started: one check per 3 s for
// 64 peers in a 300 storm (nominations up to 25 s late, 21 attendees' ICE failed), and each
// check's RTO Ta x (pairs in progress in the whole agent), 123 s there. A peer on a long link
// still gets a long RTO on its own side (the attendee's own agent); on a round trip above
// 2 s (a 500 ms RTO's transaction lives 2 s) the guide's own checks cannot complete.
int64_t check_timeout_for_agent(int64_t first_request_delay_ms, CheckAgent agent);

}  // namespace tourcast
