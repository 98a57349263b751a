/* tourcast-netem: the link model and the forwarder's routing, without root.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forwarder.h"
#include "link_model.h"

namespace tourcast::netem {
namespace {

constexpr int64_t kMs = 1000000;

LinkConfig with(const std::vector<std::pair<std::string, std::string>> &keys) {
  LinkConfig c;
  for (const auto &kv : keys) {
    std::string error;
    EXPECT_TRUE(apply_key(kv.first, kv.second, &c, &error)) << error;
  }
  return c;
}

TEST(LinkModel, IdealLinkPassesEverythingAtOnce) {
  Link link;
  for (int i = 0; i < 1000; ++i) {
    int64_t release = -1;
    ASSERT_EQ(link.admit(i * kMs, 1200, &release), Verdict::kPass);
    EXPECT_EQ(release, i * kMs);
  }
}

TEST(LinkModel, UniformJitterStaysWithinBoundsAndCentresOnDelay) {
  Link link(7);
  link.configure(with({{"delay", "50"}, {"jitter", "15"}, {"reorder", "1"}}));
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    int64_t release = 0;
    ASSERT_EQ(link.admit(i * 20 * kMs, 200, &release), Verdict::kPass);
    const double d = (release - i * 20 * kMs) / 1e6;
    ASSERT_GE(d, 35.0 - 1e-6);
    ASSERT_LE(d, 65.0 + 1e-6);
    sum += d;
  }
  EXPECT_NEAR(sum / n, 50.0, 0.2);
}

TEST(LinkModel, NormalJitterHasTheConfiguredDeviation) {
  Link link(3);
  link.configure(with({{"delay", "100"}, {"jitter", "10"}, {"dist", "normal"}, {"reorder", "1"}}));
  double sum = 0, sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    int64_t release = 0;
    link.admit(i * 50 * kMs, 200, &release);
    const double d = (release - i * 50 * kMs) / 1e6;
    sum += d;
    sq += d * d;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 100.0, 0.2);
  EXPECT_NEAR(std::sqrt(sq / n - mean * mean), 10.0, 0.2);
}

TEST(LinkModel, WithoutReorderPacketsKeepTheirOrder) {
  for (const char *reorder : {"0", "1"}) {
    Link link(11);
    link.configure(with({{"delay", "30"}, {"jitter", "20"}, {"reorder", reorder}}));
    int64_t last = 0;
    int overtaken = 0;
    for (int i = 0; i < 10000; ++i) {
      int64_t release = 0;
      link.admit(i * kMs, 200, &release);
      overtaken += release < last;
      last = std::max(last, release);
    }
    if (std::string(reorder) == "0")
      EXPECT_EQ(overtaken, 0);
    else
      EXPECT_GT(overtaken, 1000);
  }
}

TEST(LinkModel, RandomLossRate) {
  Link link(5);
  link.configure(with({{"loss", "10"}}));
  int lost = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    int64_t release = 0;
    Verdict v = link.admit(i * kMs, 200, &release);
    lost += v == Verdict::kLoss;
  }
  EXPECT_NEAR(100.0 * lost / n, 10.0, 0.25);
}

TEST(LinkModel, GilbertElliottLossRateAndBurstLength) {
  Link link(9);
  LinkConfig lossy;
  ASSERT_TRUE(apply_profile("lossy", &lossy));
  link.configure(lossy);
  int lost = 0, bursts = 0;
  bool in_burst = false;
  const int n = 400000;
  for (int i = 0; i < n; ++i) {
    int64_t release = 0;
    const bool drop = link.admit(i * kMs, 200, &release) == Verdict::kBurst;
    lost += drop;
    bursts += drop && !in_burst;
    in_burst = drop;
  }
  EXPECT_NEAR(100.0 * lost / n, 10.0, 0.5);
  EXPECT_NEAR(static_cast<double>(lost) / bursts, 4.0, 0.2);  // 1 / ge_r
}

TEST(LinkModel, RateLimitSerializesAndDropsTail) {
  Link link;
  link.configure(with({{"rate", "1000"}, {"queue", "10"}}));
  // 1000 bytes at 1000 kb/s: 8 ms each. Offered every 4 ms: twice the rate.
  int passed = 0, dropped = 0;
  int64_t last_release = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t release = 0;
    Verdict v = link.admit(i * 4 * kMs, 1000, &release);
    if (v == Verdict::kPass) {
      if (passed > 0) {
        EXPECT_GE(release - last_release, 8 * kMs);
      }
      last_release = release;
      ++passed;
    } else {
      ASSERT_EQ(v, Verdict::kQueue);
      ++dropped;
    }
  }
  // Throughput is the rate: about half got through, the queue never exceeded
  // its limit.
  EXPECT_NEAR(passed, 500 + 10, 3);
  EXPECT_LE(link.queued(999 * 4 * kMs), 10u);
  const double kbps = (passed - 1) * 1000 * 8.0 / ((last_release - 8 * kMs) / 1e9) / 1000;
  EXPECT_NEAR(kbps, 1000, 10);
}

TEST(LinkModel, QueueTimeLimit) {
  Link link;
  link.configure(with({{"rate", "1000"}, {"queue", "1000"}, {"queue_ms", "100"}}));
  int passed = 0;
  for (int i = 0; i < 100; ++i) {  // a burst at one instant
    int64_t release = 0;
    passed += link.admit(0, 1000, &release) == Verdict::kPass;
  }
  EXPECT_EQ(passed, 13);  // 12.5 packets of 8 ms fit in 100 ms, plus the one on the wire
}

TEST(LinkModel, DownDropsEverythingAndUpRestores) {
  Link link;
  LinkConfig c = with({{"delay", "10"}});
  link.configure(c);
  int64_t release = 0;
  EXPECT_EQ(link.admit(0, 100, &release), Verdict::kPass);
  c.down = true;
  link.configure(c);
  for (int i = 1; i < 100; ++i)
    EXPECT_EQ(link.admit(i * kMs, 100, &release), Verdict::kDown);
  c.down = false;
  link.configure(c);
  EXPECT_EQ(link.admit(200 * kMs, 100, &release), Verdict::kPass);
  EXPECT_EQ(release, 210 * kMs);
}

TEST(LinkModel, KeysAndProfilesAreValidated) {
  LinkConfig c;
  std::string error;
  EXPECT_FALSE(apply_key("loss", "101", &c, &error));
  EXPECT_FALSE(apply_key("delay", "-1", &c, &error));
  EXPECT_FALSE(apply_key("delay", "5ms", &c, &error));
  EXPECT_FALSE(apply_key("bogus", "1", &c, &error));
  EXPECT_FALSE(apply_key("queue", "1.5", &c, &error));
  EXPECT_FALSE(apply_profile("5g", &c));
  for (const char *p : {"ideal", "fiber", "wifi", "4g", "3g", "high-latency", "lossy"})
    EXPECT_TRUE(apply_profile(p, &c)) << p;
  ASSERT_TRUE(apply_profile("3g", &c));
  EXPECT_EQ(c.delay_ms, 150);
  EXPECT_EQ(c.rate_kbps, 1000);
}

/* A datagram socketpair stands in for each TUN device: one write is one
 * packet, as on a TUN fd. */
struct FakeTun {
  int ours = -1, theirs = -1;
  FakeTun() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0);
    ours = fds[0];
    theirs = fds[1];
  }
  ~FakeTun() {
    close(ours);
    close(theirs);
  }
  int received() {
    uint8_t buf[2048];
    int n = 0;
    while (read(theirs, buf, sizeof buf) > 0)
      ++n;
    return n;
  }
};

std::vector<uint8_t> udp_packet(const char *src, const char *dst, int dport) {
  std::vector<uint8_t> p(60, 0);
  p[0] = 0x45;
  p[9] = 17;
  int a[4], b[4];
  std::sscanf(src, "%d.%d.%d.%d", &a[0], &a[1], &a[2], &a[3]);
  std::sscanf(dst, "%d.%d.%d.%d", &b[0], &b[1], &b[2], &b[3]);
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<uint8_t>(a[i]);
    p[16 + i] = static_cast<uint8_t>(b[i]);
  }
  p[22] = static_cast<uint8_t>(dport >> 8);
  p[23] = static_cast<uint8_t>(dport);
  return p;
}

TEST(Forwarder, RoutesOnlyBetweenGuideAndAttendees) {
  FakeTun guide, a1, a2;
  Forwarder f(1);
  f.add_endpoint("guide", "g", kGuideAddress, guide.ours);
  f.add_endpoint("a1", "x1", attendee_address(1), a1.ours);
  f.add_endpoint("a2", "x2", attendee_address(2), a2.ours);
  ASSERT_EQ(f.set({"a1", "down", "delay=10"}), "");
  ASSERT_EQ(f.set({"a2", "up", "down=1"}), "");
  auto send = [](FakeTun &t, const std::vector<uint8_t> &p) {
    ASSERT_EQ(write(t.theirs, p.data(), p.size()), static_cast<ssize_t>(p.size()));
  };
  send(guide, udp_packet("198.18.0.1", "198.18.1.1", 1));  // to a1, 10 ms
  send(guide, udp_packet("198.18.0.1", "198.18.1.2", 1));  // to a2, at once
  send(guide, udp_packet("198.18.0.9", "198.18.1.2", 1));  // spoofed source
  send(a1, udp_packet("198.18.1.1", "198.18.1.2", 1));     // attendee to attendee
  send(a1, udp_packet("198.18.1.1", "198.18.0.1", 1));     // a1 -> guide
  send(a2, udp_packet("198.18.1.2", "198.18.0.1", 1));     // a2 -> guide: link down
  for (size_t i = 0; i < 3; ++i)
    f.read_endpoint(i, 0);
  f.deliver_due(0);
  EXPECT_EQ(a1.received(), 0);
  EXPECT_EQ(a2.received(), 1);
  EXPECT_EQ(guide.received(), 1);
  EXPECT_EQ(f.next_release_ns(), 10 * kMs);
  f.deliver_due(10 * kMs);
  EXPECT_EQ(a1.received(), 1);
  const std::string stats = f.stats_json(10 * kMs);
  EXPECT_NE(stats.find("\"foreign\":1"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"drop_down\":1"), std::string::npos) << stats;
}

TEST(Forwarder, SetCommandsAreAllOrNothing) {
  Forwarder f(1);
  f.add_endpoint("guide", "g", kGuideAddress, -1);
  f.add_endpoint("a1", "x1", attendee_address(1), -1);
  EXPECT_EQ(f.set({"all", "both", "profile=4g", "loss=3"}), "");
  EXPECT_EQ(f.config(1, true).delay_ms, 50);
  EXPECT_EQ(f.config(1, false).loss_pct, 3);
  EXPECT_NE(f.set({"a1", "delay=1", "loss=500"}), "");
  EXPECT_EQ(f.config(1, true).delay_ms, 50);  // unchanged
  EXPECT_NE(f.set({"a2", "delay=1"}), "");
  EXPECT_NE(f.set({"a1", "sideways", "delay=1"}), "");
  EXPECT_NE(f.set({"a1", "profile=5g"}), "");
  EXPECT_EQ(attendee_address(250), "198.18.1.250");
  EXPECT_EQ(attendee_address(251), "198.18.2.1");
}

}  // namespace
}  // namespace tourcast::netem
