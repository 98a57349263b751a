/* tourcast-netem: moves IP packets between TUN devices through link models.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "forwarder.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <arpa/inet.h>
#include <unistd.h>

namespace tourcast::netem {
namespace {

// Bounds memory when a long delay meets a fast sender on a link without a
// rate limit (whose queue limit would otherwise be the bound).
constexpr size_t kMaxPending = 200000;
// Packets read per readiness event and endpoint, so that one busy endpoint
// cannot starve the others or the timer.
constexpr int kReadBatch = 64;

std::string json_string(const std::string &s) {
  // Names are [a-z0-9-] (checked at start-up); no escaping needed beyond this.
  return "\"" + s + "\"";
}

std::string stats_to_json(const DirectionStats &s, size_t queued) {
  char buf[512];
  const double late_avg_us =
      s.out_pkts + s.write_errors ? s.late_sum_ns / 1000.0 / (s.out_pkts + s.write_errors) : 0;
  std::snprintf(buf, sizeof buf,
                "{\"in_pkts\":%llu,\"in_bytes\":%llu,\"out_pkts\":%llu,\"out_bytes\":%llu,"
                "\"drop_down\":%llu,\"drop_loss\":%llu,\"drop_burst\":%llu,\"drop_queue\":%llu,"
                "\"write_errors\":%llu,\"bypass\":%llu,\"queued\":%zu,"
                "\"late_max_us\":%.1f,\"late_avg_us\":%.1f,\"late_over_1ms\":%llu}",
                (unsigned long long)s.in_pkts, (unsigned long long)s.in_bytes,
                (unsigned long long)s.out_pkts, (unsigned long long)s.out_bytes,
                (unsigned long long)s.drop_down, (unsigned long long)s.drop_loss,
                (unsigned long long)s.drop_burst, (unsigned long long)s.drop_queue,
                (unsigned long long)s.write_errors, (unsigned long long)s.bypass, queued,
                s.late_max_ns / 1000.0, late_avg_us, (unsigned long long)s.late_over_1ms);
  return buf;
}

struct PendingLater {
  template <typename T>
  bool operator()(const T &a, const T &b) const {
    return a.release_ns != b.release_ns ? a.release_ns > b.release_ns : a.seq > b.seq;
  }
};

}  // namespace

std::string attendee_address(int k) {
  return "198.18." + std::to_string(1 + (k - 1) / 250) + "." + std::to_string(1 + (k - 1) % 250);
}

void Forwarder::add_endpoint(const std::string &name, const std::string &ns,
                             const std::string &addr, int fd) {
  Endpoint e;
  e.name = name;
  e.ns = ns;
  e.addr_text = addr;
  in_addr a{};
  inet_pton(AF_INET, addr.c_str(), &a);
  e.addr = ntohl(a.s_addr);
  e.fd = fd;
  by_addr_[e.addr] = endpoints_.size();
  if (!endpoints_.empty()) {
    // Seeds derived from the endpoint index: the same --seed replays the same
    // losses and jitter on every link, yet links differ from each other.
    const uint64_t k = endpoints_.size();
    dirs_.emplace_back(seed_ * 1000003 + 2 * k);
    dirs_.emplace_back(seed_ * 1000003 + 2 * k + 1);
  }
  endpoints_.push_back(std::move(e));
}

bool Forwarder::parse_targets(const std::string &text, std::vector<int> *attendees) const {
  const int n = static_cast<int>(endpoints_.size()) - 1;
  if (text == "all") {
    for (int k = 1; k <= n; ++k)
      attendees->push_back(k);
    return n > 0;
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos)
      comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    if (item.size() < 2 || item[0] != 'a')
      return false;
    char *end = nullptr;
    long k = std::strtol(item.c_str() + 1, &end, 10);
    if (*end != '\0' || k < 1 || k > n)
      return false;
    attendees->push_back(static_cast<int>(k));
    pos = comma + 1;
  }
  return !attendees->empty();
}

std::string Forwarder::set(const std::vector<std::string> &words) {
  if (words.empty())
    return "missing target";
  std::vector<int> targets;
  if (!parse_targets(words[0], &targets))
    return "unknown target '" + words[0] + "' (all, a1..a" + std::to_string(endpoints_.size() - 1) +
           ")";
  bool up = true, down = true;
  size_t first_key = 1;
  if (words.size() > 1 && words[1].find('=') == std::string::npos) {
    first_key = 2;
    if (words[1] == "up" || words[1] == "a2g")
      down = false;
    else if (words[1] == "down" || words[1] == "g2a")
      up = false;
    else if (words[1] != "both")
      return "unknown direction '" + words[1] + "' (up, down, both)";
  }
  std::vector<std::pair<std::string, std::string>> keys;
  std::string profile;
  for (size_t i = first_key; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return "expected key=value, got '" + words[i] + "'";
    std::string key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
    if (key == "profile")
      profile = value;
    else
      keys.emplace_back(key, value);
  }
  // Validate everything on a scratch copy first, so that a bad command
  // changes nothing.
  std::vector<std::pair<Direction *, LinkConfig>> updates;
  for (int k : targets) {
    for (int u = 0; u < 2; ++u) {
      if ((u == 1 && !up) || (u == 0 && !down))
        continue;
      Direction &d = dir(k, u == 1);
      LinkConfig c = d.link.config();
      if (!profile.empty() && !apply_profile(profile, &c))
        return "unknown profile '" + profile + "'";
      for (const auto &kv : keys) {
        std::string error;
        if (!apply_key(kv.first, kv.second, &c, &error))
          return error;
      }
      updates.emplace_back(&d, c);
    }
  }
  for (auto &u : updates)
    u.first->link.configure(u.second);
  return "";
}

std::string Forwarder::config_json(const std::string &target) {
  std::vector<int> targets;
  if (!parse_targets(target.empty() ? "all" : target, &targets))
    return "";
  std::string s = "{";
  for (size_t i = 0; i < targets.size(); ++i) {
    const int k = targets[i];
    s += (i ? ",\"" : "\"") + endpoints_[k].name +
         "\":{\"down\":" + config_to_json(dir(k, false).link.config()) +
         ",\"up\":" + config_to_json(dir(k, true).link.config()) + "}";
  }
  return s + "}";
}

bool Forwarder::bypassed(const uint8_t *p, size_t n) const {
  if (bypass_port_ <= 0)
    return false;
  const size_t ihl = (p[0] & 0x0f) * 4u;
  const bool first_fragment = ((p[6] & 0x1f) | p[7]) == 0;
  if ((p[9] != 6 && p[9] != 17) || !first_fragment || n < ihl + 4)
    return false;
  const int sport = (p[ihl] << 8) | p[ihl + 1], dport = (p[ihl + 2] << 8) | p[ihl + 3];
  return sport == bypass_port_ || dport == bypass_port_;
}

void Forwarder::push(Pending &&p) {
  heap_.push_back(std::move(p));
  std::push_heap(heap_.begin(), heap_.end(), PendingLater());
}

void Forwarder::route(size_t from, const uint8_t *p, size_t n, int64_t now_ns) {
  Endpoint &src_ep = endpoints_[from];
  if (n < 20 || (p[0] >> 4) != 4 || (p[0] & 0x0f) < 5) {
    ++src_ep.non_ipv4;
    return;
  }
  const uint32_t src = (uint32_t(p[12]) << 24) | (p[13] << 16) | (p[14] << 8) | p[15];
  const uint32_t dst = (uint32_t(p[16]) << 24) | (p[17] << 16) | (p[18] << 8) | p[19];
  auto it = by_addr_.find(dst);
  // Forward only endpoint-to-peer traffic: guide <-> attendee. Anything else
  // (spoofed source, attendee to attendee, an address nobody has) stops here.
  if (src != src_ep.addr || it == by_addr_.end() || (from == 0) == (it->second == 0)) {
    ++src_ep.foreign;
    return;
  }
  const size_t to = it->second;
  const int attendee = static_cast<int>(from == 0 ? to : from);
  const bool up = from != 0;
  const int dir_index = 2 * (attendee - 1) + (up ? 1 : 0);
  Direction &d = dirs_[dir_index];
  d.stats.in_pkts++;
  d.stats.in_bytes += n;
  int64_t release = now_ns;
  if (bypassed(p, n)) {
    d.stats.bypass++;
  } else {
    switch (d.link.admit(now_ns, n, &release)) {
      case Verdict::kPass:
        break;
      case Verdict::kDown:
        d.stats.drop_down++;
        return;
      case Verdict::kLoss:
        d.stats.drop_loss++;
        return;
      case Verdict::kBurst:
        d.stats.drop_burst++;
        return;
      case Verdict::kQueue:
        d.stats.drop_queue++;
        return;
    }
  }
  if (heap_.size() >= kMaxPending) {
    d.stats.drop_queue++;
    return;
  }
  push(Pending{release, seq_++, dir_index, endpoints_[to].fd, std::vector<uint8_t>(p, p + n)});
}

void Forwarder::read_endpoint(size_t i, int64_t now_ns) {
  // IFF_NO_PI without IFF_VNET_HDR: one read is one IP packet of at most the
  // MTU (1500); the larger buffer only guards against a changed MTU.
  static uint8_t buf[65536];
  for (int b = 0; b < kReadBatch; ++b) {
    ssize_t n = read(endpoints_[i].fd, buf, sizeof buf);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        ++endpoints_[i].read_errors;
      return;
    }
    route(i, buf, static_cast<size_t>(n), now_ns);
  }
}

void Forwarder::deliver_due(int64_t now_ns) {
  while (!heap_.empty() && heap_.front().release_ns <= now_ns) {
    std::pop_heap(heap_.begin(), heap_.end(), PendingLater());
    Pending p = std::move(heap_.back());
    heap_.pop_back();
    DirectionStats &s = dirs_[p.dir].stats;
    const int64_t late = now_ns - p.release_ns;
    s.late_max_ns = std::max(s.late_max_ns, late);
    s.late_sum_ns += static_cast<double>(late);
    s.late_over_1ms += late > 1000000;
    if (p.out_fd >= 0 && write(p.out_fd, p.data.data(), p.data.size()) < 0) {
      s.write_errors++;
      continue;
    }
    s.out_pkts++;
    s.out_bytes += p.data.size();
  }
}

std::string Forwarder::stats_json(int64_t now_ns) {
  char head[96];
  std::snprintf(head, sizeof head, "{\"interval_s\":%.3f,\"pending\":%zu,",
                (now_ns - stats_since_ns_) / 1e9, heap_.size());
  std::string s = head;
  auto endpoint_json = [](const Endpoint &e) {
    return "\"name\":" + json_string(e.name) + ",\"ns\":" + json_string(e.ns) +
           ",\"addr\":" + json_string(e.addr_text) + ",\"foreign\":" + std::to_string(e.foreign) +
           ",\"non_ipv4\":" + std::to_string(e.non_ipv4) +
           ",\"read_errors\":" + std::to_string(e.read_errors);
  };
  s += "\"guide\":{" + endpoint_json(endpoints_[0]) + "},\"attendees\":[";
  for (size_t k = 1; k < endpoints_.size(); ++k) {
    Direction &down = dir(static_cast<int>(k), false), &up = dir(static_cast<int>(k), true);
    s += (k > 1 ? ",{" : "{") + endpoint_json(endpoints_[k]) +
         ",\"down\":" + stats_to_json(down.stats, down.link.queued(now_ns)) +
         ",\"up\":" + stats_to_json(up.stats, up.link.queued(now_ns)) + "}";
  }
  return s + "]}";
}

void Forwarder::reset_stats() {
  for (Direction &d : dirs_)
    d.stats = DirectionStats();
  for (Endpoint &e : endpoints_)
    e.foreign = e.non_ipv4 = e.read_errors = 0;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  stats_since_ns_ = ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

std::string Forwarder::info_json() const {
  std::string s = "{\"guide\":{\"ns\":" + json_string(endpoints_[0].ns) +
                  ",\"addr\":" + json_string(endpoints_[0].addr_text) + "},\"attendees\":[";
  for (size_t k = 1; k < endpoints_.size(); ++k)
    s += std::string(k > 1 ? "," : "") + "{\"name\":" + json_string(endpoints_[k].name) +
         ",\"ns\":" + json_string(endpoints_[k].ns) +
         ",\"addr\":" + json_string(endpoints_[k].addr_text) + "}";
  return s + "]}";
}

}  // namespace tourcast::netem
