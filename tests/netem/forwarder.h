/* tourcast-netem: moves IP packets between TUN devices through link models.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Endpoint 0 is the guide, endpoint k (k >= 1) attendee k. Each attendee has
 * two directions: "down" (guide -> attendee) and "up" (attendee -> guide).
 * Only IPv4 packets from an endpoint's own address to a peer's address are
 * forwarded; attendees do not reach each other (tourcast is one-to-many).
 */
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "link_model.h"

namespace tourcast::netem {

struct DirectionStats {
  uint64_t in_pkts = 0, in_bytes = 0;
  uint64_t out_pkts = 0, out_bytes = 0;
  uint64_t drop_down = 0, drop_loss = 0, drop_burst = 0, drop_queue = 0;
  uint64_t write_errors = 0;
  uint64_t bypass = 0;
  // How late packets leave compared with their modelled release time: the
  // emulator's own error (scheduling, timer slack).
  int64_t late_max_ns = 0;
  double late_sum_ns = 0;
  uint64_t late_over_1ms = 0;
};

/* Attendee k's address: 198.18.(1 + (k-1)/250).(1 + (k-1)%250). */
std::string attendee_address(int k);
constexpr char kGuideAddress[] = "198.18.0.1";
constexpr int kMaxAttendees = 1000;

class Forwarder {
 public:
  explicit Forwarder(uint64_t seed) : seed_(seed) {}
  /* Guide first, then attendees 1..N in order. @fd may be -1 (simulate). */
  void add_endpoint(const std::string &name, const std::string &ns, const std::string &addr,
                    int fd);
  size_t endpoint_count() const { return endpoints_.size(); }
  int endpoint_fd(size_t i) const { return endpoints_[i].fd; }
  /* TCP/UDP traffic to or from this port skips the link model (0: none). */
  void set_bypass_port(int port) { bypass_port_ = port; }

  /* "TARGET [DIR] key=value ...": TARGET is all, aK or aK,aM,...; DIR is
   * down (guide->attendee), up (attendee->guide) or both (default).
   * profile=NAME is applied before the other keys. "" or an error. */
  std::string set(const std::vector<std::string> &words);
  /* JSON of the link configs of TARGET (all if empty); "" if unknown. */
  std::string config_json(const std::string &target);
  const LinkConfig &config(int attendee, bool up) const { return dir(attendee, up).link.config(); }

  /* Reads what is waiting on endpoint @i's TUN device (a bounded batch). */
  void read_endpoint(size_t i, int64_t now_ns);
  /* Writes every packet whose release time has come. */
  void deliver_due(int64_t now_ns);
  /* Earliest pending release, or -1 when nothing is pending. */
  int64_t next_release_ns() const { return heap_.empty() ? -1 : heap_.front().release_ns; }

  std::string stats_json(int64_t now_ns);
  void reset_stats();
  /* Namespace names and addresses, as JSON. */
  std::string info_json() const;

 private:
  struct Endpoint {
    std::string name, ns, addr_text;
    uint32_t addr = 0;  // host byte order
    int fd = -1;
    uint64_t foreign = 0, non_ipv4 = 0, read_errors = 0;
  };
  struct Direction {
    Link link;
    DirectionStats stats;
    explicit Direction(uint64_t seed) : link(seed) {}
  };
  struct Pending {
    int64_t release_ns;
    uint64_t seq;  // FIFO among equal release times
    int dir;
    int out_fd;
    std::vector<uint8_t> data;
  };

  // Direction 2(k-1) is guide -> attendee k, 2(k-1)+1 attendee k -> guide.
  Direction &dir(int attendee, bool up) { return dirs_[2 * (attendee - 1) + (up ? 1 : 0)]; }
  const Direction &dir(int attendee, bool up) const {
    return dirs_[2 * (attendee - 1) + (up ? 1 : 0)];
  }
  bool parse_targets(const std::string &text, std::vector<int> *attendees) const;
  bool bypassed(const uint8_t *p, size_t n) const;
  void route(size_t from, const uint8_t *p, size_t n, int64_t now_ns);
  void push(Pending &&p);

  uint64_t seed_;
  int bypass_port_ = 0;
  uint64_t seq_ = 0;
  int64_t stats_since_ns_ = 0;
  std::vector<Endpoint> endpoints_;
  std::vector<Direction> dirs_;
  std::unordered_map<uint32_t, size_t> by_addr_;
  std::vector<Pending> heap_;  // min-heap on (release_ns, seq)
};

}  // namespace tourcast::netem
