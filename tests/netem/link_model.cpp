/* tourcast-netem: the model of one direction of an emulated link.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "link_model.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tourcast::netem {
namespace {

struct Profile {
  const char *name;
  LinkConfig config;
};

LinkConfig make(double delay, double jitter, double loss, double rate_kbps, double queue_ms) {
  LinkConfig c;
  c.delay_ms = delay;
  c.jitter_ms = jitter;
  c.loss_pct = loss;
  c.rate_kbps = rate_kbps;
  // A time limit models the access link's buffer; the packet limit only
  // stops a flood from using unbounded memory.
  c.queue_ms = queue_ms;
  c.queue_pkts = 1000;
  return c;
}

LinkConfig lossy() {
  LinkConfig c = make(30, 10, 0, 10000, 200);
  // Stationary P(bad) = p / (p + r) = 2.78 / 27.78 = 10 %, every packet lost
  // in the bad state, so 10 % loss in bursts of 1 / r = 4 packets on average
  // (80 ms of 20 ms Opus frames): long enough to defeat simple FEC.
  c.ge_p_pct = 2.78;
  c.ge_r_pct = 25;
  return c;
}

/* One-way values, applied to each direction (README.md says where they come
 * from). */
const std::vector<Profile> &profiles() {
  static const std::vector<Profile> list = {
      {"ideal", LinkConfig{}},
      {"fiber", make(5, 1, 0, 100000, 50)},
      {"wifi", make(15, 5, 0.5, 30000, 100)},
      {"4g", make(50, 15, 1, 10000, 200)},
      {"3g", make(150, 40, 2, 1000, 500)},
      {"high-latency", make(300, 30, 0.5, 10000, 500)},
      {"lossy", lossy()},
  };
  return list;
}

bool parse_number(const std::string &text, double min, double max, double *out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < min || v > max)
    return false;
  *out = v;
  return true;
}

bool parse_bool(const std::string &text, bool *out) {
  if (text == "1" || text == "yes" || text == "true" || text == "on") {
    *out = true;
    return true;
  }
  if (text == "0" || text == "no" || text == "false" || text == "off") {
    *out = false;
    return true;
  }
  return false;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

const std::vector<std::string> &profile_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Profile &p : profiles())
      n.push_back(p.name);
    return n;
  }();
  return names;
}

bool apply_profile(const std::string &name, LinkConfig *config) {
  for (const Profile &p : profiles()) {
    if (name == p.name) {
      *config = p.config;
      return true;
    }
  }
  return false;
}

bool apply_key(const std::string &key, const std::string &value, LinkConfig *c,
               std::string *error) {
  // Ten minutes of delay and 10 Gb/s bound typos, not physics.
  constexpr double kMaxMs = 600000;
  double v = 0;
  bool ok = true;
  if (key == "delay") {
    ok = parse_number(value, 0, kMaxMs, &c->delay_ms);
  } else if (key == "jitter") {
    ok = parse_number(value, 0, kMaxMs, &c->jitter_ms);
  } else if (key == "dist") {
    if (value == "uniform")
      c->dist = JitterDist::kUniform;
    else if (value == "normal")
      c->dist = JitterDist::kNormal;
    else
      ok = false;
  } else if (key == "loss") {
    ok = parse_number(value, 0, 100, &c->loss_pct);
  } else if (key == "ge_p") {
    ok = parse_number(value, 0, 100, &c->ge_p_pct);
  } else if (key == "ge_r") {
    ok = parse_number(value, 0, 100, &c->ge_r_pct);
  } else if (key == "ge_bad_loss") {
    ok = parse_number(value, 0, 100, &c->ge_bad_loss_pct);
  } else if (key == "ge_good_loss") {
    ok = parse_number(value, 0, 100, &c->ge_good_loss_pct);
  } else if (key == "rate") {
    ok = parse_number(value, 0, 1e7, &c->rate_kbps);
    // Below 1 kb/s one packet would take longer than any test lasts.
    ok = ok && (c->rate_kbps == 0 || c->rate_kbps >= 1);
  } else if (key == "queue") {
    ok = parse_number(value, 1, 1000000, &v) && v == std::floor(v);
    if (ok)
      c->queue_pkts = static_cast<int>(v);
  } else if (key == "queue_ms") {
    ok = parse_number(value, 0, kMaxMs, &c->queue_ms);
  } else if (key == "reorder") {
    ok = parse_bool(value, &c->reorder);
  } else if (key == "down") {
    ok = parse_bool(value, &c->down);
  } else {
    *error = "unknown key '" + key + "'";
    return false;
  }
  if (!ok)
    *error = "bad value '" + value + "' for " + key;
  return ok;
}

std::string config_to_json(const LinkConfig &c) {
  std::string s = "{";
  s += "\"delay\":" + number(c.delay_ms);
  s += ",\"jitter\":" + number(c.jitter_ms);
  s += std::string(",\"dist\":\"") + (c.dist == JitterDist::kNormal ? "normal" : "uniform") + "\"";
  s += ",\"loss\":" + number(c.loss_pct);
  s += ",\"ge_p\":" + number(c.ge_p_pct);
  s += ",\"ge_r\":" + number(c.ge_r_pct);
  s += ",\"ge_bad_loss\":" + number(c.ge_bad_loss_pct);
  s += ",\"ge_good_loss\":" + number(c.ge_good_loss_pct);
  s += ",\"rate\":" + number(c.rate_kbps);
  s += ",\"queue\":" + std::to_string(c.queue_pkts);
  s += ",\"queue_ms\":" + number(c.queue_ms);
  s += std::string(",\"reorder\":") + (c.reorder ? "1" : "0");
  s += std::string(",\"down\":") + (c.down ? "1" : "0");
  return s + "}";
}

void Link::configure(const LinkConfig &config) {
  if (config.ge_p_pct <= 0)
    ge_bad_ = false;
  if (config.rate_kbps <= 0) {
    departures_.clear();
    next_free_ns_ = 0;
  }
  config_ = config;
}

int64_t Link::jitter_ns() {
  const double j = config_.jitter_ms;
  if (j <= 0)
    return 0;
  double ms = 0;
  if (config_.dist == JitterDist::kNormal)
    ms = std::normal_distribution<double>(0.0, j)(rng_);
  else
    ms = (uniform() * 2.0 - 1.0) * j;
  return static_cast<int64_t>(ms * 1e6);
}

size_t Link::queued(int64_t now_ns) {
  while (!departures_.empty() && departures_.front() <= now_ns)
    departures_.pop_front();
  return departures_.size();
}

Verdict Link::admit(int64_t now_ns, size_t bytes, int64_t *release_ns) {
  const LinkConfig &c = config_;
  if (c.down)
    return Verdict::kDown;
  // Every packet moves the Gilbert-Elliott chain, so bursts have the
  // configured length in packets whatever the independent loss does.
  bool burst_drop = false;
  if (c.ge_p_pct > 0) {
    const double p_loss = (ge_bad_ ? c.ge_bad_loss_pct : c.ge_good_loss_pct) / 100.0;
    burst_drop = uniform() < p_loss;
    if (ge_bad_)
      ge_bad_ = !(uniform() < c.ge_r_pct / 100.0);
    else
      ge_bad_ = uniform() < c.ge_p_pct / 100.0;
  }
  if (burst_drop)
    return Verdict::kBurst;
  if (c.loss_pct > 0 && uniform() < c.loss_pct / 100.0)
    return Verdict::kLoss;

  int64_t departure = now_ns;
  if (c.rate_kbps > 0) {
    // A FIFO bottleneck: each packet is serialized after the previous one
    // (token bucket with a one-packet burst), drop tail when full.
    if (queued(now_ns) >= static_cast<size_t>(c.queue_pkts))
      return Verdict::kQueue;
    const int64_t start = std::max(now_ns, next_free_ns_);
    if (c.queue_ms > 0 && static_cast<double>(start - now_ns) > c.queue_ms * 1e6)
      return Verdict::kQueue;
    departure = start + static_cast<int64_t>(static_cast<double>(bytes) * 8e6 / c.rate_kbps);
    next_free_ns_ = departure;
    departures_.push_back(departure);
  }
  int64_t release = departure + static_cast<int64_t>(c.delay_ms * 1e6) + jitter_ns();
  // Negative jitter can not make a packet leave before it was sent.
  release = std::max(release, departure);
  // Without reorder a packet may not overtake the one before it: it waits,
  // as behind a real FIFO queue. This skews the delay upward when the packet
  // spacing is shorter than the jitter (README.md quantifies it).
  if (!c.reorder)
    release = std::max(release, last_release_ns_);
  last_release_ns_ = std::max(last_release_ns_, release);
  *release_ns = release;
  return Verdict::kPass;
}

}  // namespace tourcast::netem
