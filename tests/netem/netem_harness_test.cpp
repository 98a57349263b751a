/* The C++ harness end to end: an emulator, a process in the guide's
 * namespace, this test's own socket in an attendee's. Needs root.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>

#include "netem_harness.h"

namespace tourcast::netem {
namespace {

bool can_run() {
  struct stat st;
  return geteuid() == 0 && stat("/dev/net/tun", &st) == 0;
}

std::string ping_binary() {
  const char *env = std::getenv("TOURCAST_NETEM_PING");
  return env ? env : "tourcast-netem-ping";
}

/* One echo through tourcast-netem-ping's server; RTT in ms, -1 if none came
 * back within @timeout_ms. */
double echo(int fd, uint32_t seq, int timeout_ms) {
  uint8_t buf[64] = {};
  const uint32_t magic = 0x54434e50;  // tourcast-netem-ping's "TCNP"
  std::memcpy(buf, &magic, 4);
  buf[4] = 'P';
  std::memcpy(buf + 12, &seq, 4);
  const auto start = std::chrono::steady_clock::now();
  if (send(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf))
    return -1;
  while (true) {
    const auto waited =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    pollfd p{fd, POLLIN, 0};
    if (waited >= timeout_ms || poll(&p, 1, static_cast<int>(timeout_ms - waited) + 1) <= 0)
      return -1;
    uint8_t in[64];
    uint32_t got = 0;
    if (recv(fd, in, sizeof in, 0) == static_cast<ssize_t>(sizeof in) &&
        (std::memcpy(&got, in + 12, 4), got == seq))
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
          .count();
  }
}

TEST(Harness, ProcessesAndThreadsInNamespaces) {
  if (!can_run())
    GTEST_SKIP() << "needs root and /dev/net/tun";
  std::string stats_ns;
  {
    Emulator::Options o;
    o.attendees = 1;
    o.sets = {"a1 delay=25"};
    Emulator net(o);
    ASSERT_TRUE(net.ok()) << net.error();
    stats_ns = net.attendee_ns(1);
    pid_t server = net.spawn(net.guide_ns(), {ping_binary(), "server", "--bind", net.guide_addr(),
                                              "--port", "7000", "--max-seconds", "60"});
    ASSERT_GT(server, 0);

    // This thread's socket lives in a1 for good, whatever thread uses it next.
    int fd;
    {
      ScopedNetns in_a1(net.attendee_ns(1));
      ASSERT_TRUE(in_a1.ok());
      fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7000);
    inet_pton(AF_INET, net.guide_addr().c_str(), &to.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), 0);
    double rtt = -1;
    for (uint32_t seq = 0; seq < 50 && rtt < 0; ++seq)  // until the server is up
      rtt = echo(fd, seq, 200);
    std::vector<double> rtts;
    for (uint32_t seq = 100; seq < 120; ++seq)
      rtts.push_back(echo(fd, seq, 500));
    std::sort(rtts.begin(), rtts.end());
    EXPECT_GE(rtts.front(), 50.0);  // 2 x 25 ms, never less
    EXPECT_LT(rtts[10], 55.0);

    ASSERT_TRUE(net.set("a1 up down=1"));
    EXPECT_LT(echo(fd, 200, 300), 0);
    ASSERT_TRUE(net.set("a1 up down=0"));
    EXPECT_GE(echo(fd, 201, 300), 50.0);
    EXPECT_FALSE(net.set("a1 up delay=-3"));
    EXPECT_NE(net.stats().find("\"drop_down\":1"), std::string::npos) << net.stats();

    // A whole process in a1, its output in a file.
    const std::string out = net.control_path() + ".ping";
    pid_t client = net.spawn(net.attendee_ns(1),
                             {ping_binary(), "ping", "--to", net.guide_addr(), "--port", "7000",
                              "--count", "100", "--interval-ms", "2", "--wait-ms", "300"},
                             out);
    int status = -1;
    ASSERT_EQ(waitpid(client, &status, 0), client);
    EXPECT_EQ(status, 0);
    std::stringstream result;
    result << std::ifstream(out).rdbuf();
    unlink(out.c_str());
    EXPECT_NE(result.str().find("loss_pct=0 "), std::string::npos) << result.str();
    close(fd);
    // The emulator's teardown ends the server still running in its namespace.
  }
  struct stat st;
  EXPECT_NE(stat(("/run/netns/" + stats_ns).c_str(), &st), 0) << "namespace left behind";
}

}  // namespace
}  // namespace tourcast::netem
