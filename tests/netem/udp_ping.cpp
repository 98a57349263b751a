/* tourcast-netem-ping: measures round-trip time, loss and throughput through
 * tourcast-netem (or any UDP path).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   server --bind ADDR --port P [--max-seconds S (3600)]
 *       echoes ping packets, counts flood packets, answers queries
 *   ping --to ADDR --port P [--count N] [--interval-ms I] [--size B] [--wait-ms W]
 *       RTT percentiles, loss and reordering of N echoed packets
 *   flood --to ADDR --port P --rate-kbps R [--flows F] [--duration S] [--size B]
 *       F flows of R kb/s each (IP bytes), for S seconds; reports what the
 *       server received
 * Results are one line of shell assignments (key=value), or JSON with --json.
 */
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr uint32_t kMagic = 0x54434e50;  // "TCNP"
enum Type : uint8_t { kPing = 'P', kFlood = 'F', kQuery = 'Q', kReply = 'R' };

#pragma pack(push, 1)
struct Header {
  uint32_t magic;
  uint8_t type;
  uint8_t flow;
  uint16_t pad;
  uint32_t session;
  uint32_t seq;
  int64_t sent_ns;
  // kReply: what the server received in the session
  uint64_t pkts, bytes;
  int64_t first_ns, last_ns;
};
#pragma pack(pop)

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sleep_until(int64_t t) {
  timespec ts{static_cast<time_t>(t / 1000000000LL), static_cast<long>(t % 1000000000LL)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

struct Options {
  std::string mode, addr = "0.0.0.0";
  int port = 7000, count = 1000, size = 172, flows = 1, wait_ms = 2000;
  double interval_ms = 10, rate_kbps = 1000, duration_s = 3, max_s = 3600;
  bool json = false;
};

bool parse(int argc, char **argv, Options *o) {
  if (argc < 2)
    return false;
  o->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      o->json = true;
      continue;
    }
    if (i + 1 >= argc)
      return false;
    const char *v = argv[++i];
    const double d = std::atof(v);
    if (a == "--bind" || a == "--to")
      o->addr = v;
    else if (a == "--port")
      o->port = static_cast<int>(d);
    else if (a == "--count")
      o->count = static_cast<int>(d);
    else if (a == "--size")
      o->size = std::clamp(static_cast<int>(d), static_cast<int>(sizeof(Header)), 1472);
    else if (a == "--flows")
      o->flows = std::clamp(static_cast<int>(d), 1, 255);
    else if (a == "--wait-ms")
      o->wait_ms = static_cast<int>(d);
    else if (a == "--interval-ms")
      o->interval_ms = d;
    else if (a == "--rate-kbps")
      o->rate_kbps = d;
    else if (a == "--duration")
      o->duration_s = d;
    else if (a == "--max-seconds")
      o->max_s = d;
    else
      return false;
  }
  return o->count > 0 && o->interval_ms > 0 && o->rate_kbps > 0 && o->port > 0;
}

sockaddr_in make_addr(const std::string &ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

int udp_socket() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  return fd;
}

void print(const Options &o, const std::vector<std::pair<std::string, double>> &kv) {
  std::string s = o.json ? "{" : "";
  for (size_t i = 0; i < kv.size(); ++i) {
    char v[64];
    std::snprintf(v, sizeof v, "%.6g", kv[i].second);
    if (o.json)
      s += (i ? ",\"" : "\"") + kv[i].first + "\":" + v;
    else
      s += (i ? " " : "") + kv[i].first + "=" + v;
  }
  std::printf("%s%s\n", s.c_str(), o.json ? "}" : "");
}

int server(const Options &o) {
  int fd = udp_socket();
  sockaddr_in a = make_addr(o.addr, o.port);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    std::perror("tourcast-netem-ping: bind");
    return 1;
  }
  struct Counters {
    uint64_t pkts = 0, bytes = 0;
    int64_t first = 0, last = 0;
  };
  std::map<uint32_t, Counters> sessions;
  // Normally killed by the test; the bound keeps a forgotten one from
  // lingering.
  const int64_t end = now_ns() + static_cast<int64_t>(o.max_s * 1e9);
  std::vector<uint8_t> buf(65536);
  while (now_ns() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0)
      continue;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
    if (n < static_cast<ssize_t>(sizeof(Header)))
      continue;
    Header h;
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.magic != kMagic)
      continue;
    if (h.type == kPing) {
      sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr *>(&from), len);
    } else if (h.type == kFlood) {
      Counters &c = sessions[h.session];
      const int64_t t = now_ns();
      if (c.pkts == 0)
        c.first = t;
      c.last = t;
      c.pkts++;
      c.bytes += static_cast<uint64_t>(n) + 28;  // IP + UDP headers: what the link carries
    } else if (h.type == kQuery) {
      const Counters &c = sessions[h.session];
      h.type = kReply;
      h.pkts = c.pkts;
      h.bytes = c.bytes;
      h.first_ns = c.first;
      h.last_ns = c.last;
      sendto(fd, &h, sizeof h, 0, reinterpret_cast<sockaddr *>(&from), len);
    }
  }
  return 0;
}

double percentile(const std::vector<double> &sorted, double q) {
  if (sorted.empty())
    return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

int ping(const Options &o) {
  int fd = udp_socket();
  sockaddr_in to = make_addr(o.addr, o.port);
  if (connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
    std::perror("tourcast-netem-ping: connect");
    return 1;
  }
  std::vector<int64_t> rtt_ns(static_cast<size_t>(o.count), -1);
  std::vector<uint8_t> buf(static_cast<size_t>(std::max<int>(o.size, 2048)));
  const int64_t interval = static_cast<int64_t>(o.interval_ms * 1e6);
  const int64_t start = now_ns() + 1000000;
  int sent = 0, received = 0, duplicates = 0, reordered = 0, errors = 0;
  int64_t max_seq = -1;
  const uint32_t session = std::random_device()();
  while (true) {
    const int64_t now = now_ns();
    const int64_t next_send = sent < o.count ? start + sent * interval : -1;
    if (sent < o.count && now >= next_send) {
      Header h{};
      h.magic = kMagic;
      h.type = kPing;
      h.session = session;
      h.seq = static_cast<uint32_t>(sent);
      h.sent_ns = now;
      std::memcpy(buf.data(), &h, sizeof h);
      // ECONNREFUSED and friends (an ICMP error) are loss, not a reason to stop.
      if (send(fd, buf.data(), static_cast<size_t>(o.size), 0) < 0)
        ++errors;
      ++sent;
      continue;
    }
    const int64_t deadline =
        sent < o.count ? next_send : start + (o.count - 1) * interval + o.wait_ms * 1000000LL;
    if (sent >= o.count && (now >= deadline || received == o.count))
      break;
    pollfd p{fd, POLLIN, 0};
    const int64_t wait_ns = std::max<int64_t>(deadline - now, 0);
    // ppoll: a millisecond poll timeout would delay sends by up to 1 ms.
    timespec ts{static_cast<time_t>(wait_ns / 1000000000LL),
                static_cast<long>(wait_ns % 1000000000LL)};
    if (ppoll(&p, 1, &ts, nullptr) <= 0)
      continue;
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    const int64_t arrival = now_ns();
    Header h;
    if (n < static_cast<ssize_t>(sizeof h))
      continue;
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.magic != kMagic || h.type != kPing || h.session != session || h.seq >= rtt_ns.size())
      continue;
    if (rtt_ns[h.seq] >= 0) {
      ++duplicates;
      continue;
    }
    rtt_ns[h.seq] = arrival - h.sent_ns;
    ++received;
    if (static_cast<int64_t>(h.seq) < max_seq)
      ++reordered;
    max_seq = std::max<int64_t>(max_seq, h.seq);
  }
  std::vector<double> ms;
  for (int64_t r : rtt_ns)
    if (r >= 0)
      ms.push_back(r / 1e6);
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double m : ms)
    mean += m / static_cast<double>(ms.size());
  print(o, {{"sent", sent},
            {"received", received},
            {"loss_pct", 100.0 * (sent - received) / sent},
            {"rtt_min_ms", percentile(ms, 0)},
            {"rtt_median_ms", percentile(ms, 0.5)},
            {"rtt_mean_ms", mean},
            {"rtt_p90_ms", percentile(ms, 0.9)},
            {"rtt_p99_ms", percentile(ms, 0.99)},
            {"rtt_max_ms", percentile(ms, 1)},
            {"reordered", reordered},
            {"duplicates", duplicates},
            {"send_errors", errors}});
  return 0;
}

/* Asks the server for the session's counters until two answers 300 ms apart
 * agree: then the link's queue has drained. Queries go through the link too,
 * so a lost one is simply asked again. */
bool query(int fd, uint32_t session, Header *result) {
  Header last{};
  bool have = false;
  const int64_t give_up = now_ns() + 20000000000LL;
  while (now_ns() < give_up) {
    Header q{};
    q.magic = kMagic;
    q.type = kQuery;
    q.session = session;
    send(fd, &q, sizeof q, 0);
    pollfd p{fd, POLLIN, 0};
    const int64_t asked = now_ns();
    while (now_ns() - asked < 300000000LL) {
      if (poll(&p, 1, 300) <= 0)
        break;
      Header r;
      if (recv(fd, &r, sizeof r, 0) == static_cast<ssize_t>(sizeof r) && r.magic == kMagic &&
          r.type == kReply && r.session == session) {
        if (have && r.pkts == last.pkts) {
          *result = r;
          return true;
        }
        last = r;
        have = true;
        usleep(300000);
        break;
      }
    }
  }
  return false;
}

int flood(const Options &o) {
  sockaddr_in to = make_addr(o.addr, o.port);
  std::vector<int> fds;
  for (int i = 0; i < o.flows; ++i) {
    int fd = udp_socket();
    if (connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
      std::perror("tourcast-netem-ping: connect");
      return 1;
    }
    fds.push_back(fd);
  }
  const uint32_t session = std::random_device()();
  std::vector<uint8_t> buf(static_cast<size_t>(o.size));
  const double ip_bits = (o.size + 28) * 8.0;
  const int64_t interval = static_cast<int64_t>(ip_bits / o.rate_kbps * 1e6);
  const int64_t start = now_ns() + 1000000;
  const int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  // Flows start staggered so that they do not send in lockstep.
  std::vector<int64_t> next(static_cast<size_t>(o.flows));
  for (int i = 0; i < o.flows; ++i)
    next[static_cast<size_t>(i)] = start + interval * i / o.flows;
  uint64_t sent = 0, errors = 0;
  while (true) {
    auto it = std::min_element(next.begin(), next.end());
    if (*it >= end)
      break;
    sleep_until(*it);
    const size_t flow = static_cast<size_t>(it - next.begin());
    Header h{};
    h.magic = kMagic;
    h.type = kFlood;
    h.flow = static_cast<uint8_t>(flow);
    h.session = session;
    h.seq = static_cast<uint32_t>(sent);
    std::memcpy(buf.data(), &h, sizeof h);
    if (send(fds[flow], buf.data(), buf.size(), 0) < 0)
      ++errors;
    ++sent;
    *it += interval;
  }
  // What was really offered: a sender that can not keep up sends the same
  // packets over a longer time.
  const double send_s = std::max(now_ns() - start, int64_t{1}) / 1e9;
  Header r{};
  const bool ok = query(fds[0], session, &r);
  const double window_s = (r.last_ns - r.first_ns) / 1e9;
  // Rate over the arrival window, leaving out the first packet's bytes (it
  // opens the window rather than filling it).
  const double rx_kbps =
      r.pkts > 1 && window_s > 0 ? (r.bytes - r.bytes / r.pkts) * 8.0 / window_s / 1000.0 : 0;
  print(o, {{"sent", static_cast<double>(sent)},
            {"tx_kbps", static_cast<double>(sent) * ip_bits / send_s / 1000.0},
            {"tx_s", send_s},
            {"received", static_cast<double>(r.pkts)},
            {"loss_pct", sent ? 100.0 * (1.0 - static_cast<double>(r.pkts) / sent) : 0},
            {"rx_kbps", rx_kbps},
            {"rx_window_s", window_s},
            {"send_errors", static_cast<double>(errors)},
            {"query_ok", ok ? 1 : 0}});
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fputs(
        "usage: tourcast-netem-ping server --bind ADDR --port P [--max-seconds S]\n"
        "       tourcast-netem-ping ping --to ADDR --port P [--count N] [--interval-ms I]\n"
        "                               [--size B] [--wait-ms W] [--json]\n"
        "       tourcast-netem-ping flood --to ADDR --port P --rate-kbps R [--flows F]\n"
        "                               [--duration S] [--size B] [--json]\n",
        stderr);
    return 2;
  }
  if (o.mode == "server")
    return server(o);
  if (o.mode == "ping")
    return ping(o);
  if (o.mode == "flood")
    return flood(o);
  return 2;
}
