/* tourcast-netem: the model of one direction of an emulated link.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure computation, no I/O: given a packet's arrival time and size, decides
 * whether it is dropped (and why) or when it leaves the link. Kept apart from
 * the forwarder so that it can be unit-tested without root and replayed
 * offline (`tourcast-netem simulate`).
 */
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace tourcast::netem {

enum class JitterDist { kUniform, kNormal };

/* One direction's parameters. Every value is one-way: a round trip crosses
 * two of these (guide->attendee and attendee->guide). */
struct LinkConfig {
  double delay_ms = 0;   // fixed propagation delay
  double jitter_ms = 0;  // uniform: +-jitter_ms; normal: standard deviation
  JitterDist dist = JitterDist::kUniform;
  double loss_pct = 0;  // independent (Bernoulli) loss
  // Gilbert-Elliott bursty loss, enabled when ge_p_pct > 0. Per packet: lose
  // it with the current state's loss probability, then move good->bad with
  // ge_p, bad->good with ge_r. Mean burst length in packets is 100/ge_r.
  double ge_p_pct = 0;
  double ge_r_pct = 100;
  double ge_bad_loss_pct = 100;
  double ge_good_loss_pct = 0;
  double rate_kbps = 0;  // bottleneck rate over IP packet bytes; 0 = unlimited
  int queue_pkts = 100;  // bottleneck queue limit (drop tail), packets
  double queue_ms = 0;   // and/or in time to drain it; 0 = no time limit
  bool reorder = false;  // let jitter reorder packets (as Linux netem does)
  bool down = false;     // link down: every new packet is dropped
};

enum class Verdict { kPass, kDown, kLoss, kBurst, kQueue };

/* Profile names, in the order `tourcast-netem profiles` lists them. */
const std::vector<std::string> &profile_names();
/* Replaces *config by profile @name ("ideal" is a perfect link). */
bool apply_profile(const std::string &name, LinkConfig *config);
/* Sets one key (delay, jitter, dist, loss, ge_p, ge_r, ge_bad_loss,
 * ge_good_loss, rate, queue, queue_ms, reorder, down). */
bool apply_key(const std::string &key, const std::string &value, LinkConfig *config,
               std::string *error);
std::string config_to_json(const LinkConfig &config);

class Link {
 public:
  explicit Link(uint64_t seed = 1) : rng_(seed) {}
  const LinkConfig &config() const { return config_; }
  /* Takes effect for packets arriving from now on; packets already scheduled
   * keep their release time (they are already "on the wire"). */
  void configure(const LinkConfig &config);
  /* A packet of @bytes arrives at @now_ns (monotonic, non-decreasing between
   * calls). On kPass, *release_ns is when it leaves the far end. */
  Verdict admit(int64_t now_ns, size_t bytes, int64_t *release_ns);
  /* Packets in the bottleneck queue at @now_ns (including the one on the
   * wire). */
  size_t queued(int64_t now_ns);

 private:
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
  int64_t jitter_ns();

  LinkConfig config_;
  std::mt19937_64 rng_;
  bool ge_bad_ = false;
  int64_t next_free_ns_ = 0;        // when the bottleneck finishes its backlog
  std::deque<int64_t> departures_;  // serialization end of queued packets
  int64_t last_release_ns_ = 0;     // for order preservation
};

}  // namespace tourcast::netem
