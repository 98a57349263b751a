/* tourcast benchmarks
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * udp-floor: what the kernel (and SRTP) alone cost a sender on this host to send one
 * small datagram to each of N destinations, the floor under the guide's send path
 * (issue 7: 0.5 core per 1,000 attendees = 10 µs per packet per attendee at 50 packets
 * a second).
 *
 * Two network namespaces this program creates (needs root): the sender's (this process,
 * unshare -n) with tcsend 198.18.0.1, and the receiver's (a child process, unshare -n of
 * its own) with tcrecv 198.18.0.2, the two ends of one veth pair. Datagrams cross the
 * veth as the guide's do to its attendees; nothing leaves the two namespaces, which go
 * when the processes exit. The receiver binds N UDP sockets (one per destination port)
 * and drains them (epoll + recvmmsg).
 *
 * Per frame (an Opus frame: one datagram per attendee), paced at --frame-interval-us,
 * the sender runs one of these variants:
 *   a_socket_per_destination   N sockets, one sendmsg each (what libnice does per peer)
 *   b_one_socket_sendmsg       one socket, N sendmsg calls to N addresses
 *   c_one_socket_sendmmsg      one socket, one sendmmsg with the N datagrams
 *   d_srtp_protect             N srtp_protect calls (AES-CM-128 + HMAC-SHA1-80, one
 *                              session with its own key per destination), no sending
 *   d_srtp_protect_gcm         the same with AEAD AES-128-GCM
 *   e_srtp_protect_sendmmsg    d, then c with the protected packets (a direct send path)
 *   f_openssl_srtp_protect     d's AES-CM-128 + HMAC-SHA1-80 done with OpenSSL directly
 *   g_openssl_srtp_protect_sendmmsg  f, then c
 *   z_wake_up_only             nothing: what each frame's wake-up costs by itself (in
 *                              every other variant's figure too, divided by N)
 * The sending modes run twice: with the datagrams delivered into the receiver's sockets,
 * and with them dropped by the veth before the receiving side (the receiving end's MTU
 * lowered below their size). On one host the veth hands each datagram to the receiving
 * side in the sender's own context (netif_rx, then the softirq on local_bh_enable), and
 * without IRQ time accounting (Debian's kernels) that receive work (backlog, IP/UDP
 * receive, socket enqueue, the receiver's wake-up) is charged to the sender; the
 * difference between the two is that part. Through a NIC it would be the driver's
 * transmit instead.
 *
 * Measured: the sending thread's user + system CPU (getrusage RUSAGE_THREAD) per
 * datagram, median over --runs (variants interleaved within each run), and what that
 * is in cores per 1,000 attendees at 50 packets a second; ratios against
 * a_socket_per_destination, the baseline, measured in the same run.
 *
 * Prints one JSON document on stdout, progress on stderr. Exit 0 when every run of every
 * variant completed and each delivered variant's receiver got at least 90 % of its
 * datagrams, 1 if not, 2 for bad options or no root.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#ifdef UDP_FLOOR_SRTP
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/srtp.h>
#endif

#include "bench_process.h"
#include "bench_stats.h"

namespace {

using nlohmann::json;

constexpr const char *kSenderAddress = "198.18.0.1";
constexpr const char *kReceiverAddress = "198.18.0.2";
constexpr int kFirstPort = 20000;
constexpr int kRtpHeaderBytes = 12;
constexpr int kPacketsPerSecondPerAttendee = 50;  // one Opus frame of 20 ms

struct Options {
  int destinations = 100;
  int payload_bytes = 110;  // a 20 ms Opus frame at ~32 kb/s with RTP and SRTP headers
  int frames = 100;
  int frame_interval_us = 20000;
  int runs = 5;
  bool receiver_drop = true;
};

double thread_cpu_us() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec + usage.ru_stime.tv_sec * 1e6 +
         usage.ru_stime.tv_usec;
}

double process_cpu_us() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec + usage.ru_stime.tv_sec * 1e6 +
         usage.ru_stime.tv_usec;
}

sockaddr_in address_of(const char *ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &addr.sin_addr);
  return addr;
}

/* Runs @argv in the network namespace of process @ns_pid (0: this one); true if it
 * exited 0. Its output goes to this process's stderr. */
bool run_in_namespace(pid_t ns_pid, const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const std::string &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  const std::string ns_path = "/proc/" + std::to_string(ns_pid) + "/ns/net";
  pid_t pid = fork();
  if (pid == 0) {
    if (ns_pid > 0) {
      int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
        _exit(126);
    }
    dup2(2, 1);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid)
    return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---------------- the receiver: N sockets drained in a process of its own ---------------- */

/* What the receiver answers on its control socket to each 'c' (count). */
struct ReceiverCount {
  uint64_t datagrams = 0;
  double cpu_us = 0;
};

[[noreturn]] void receiver_main(int control, int destinations) {
  std::vector<int> sockets;
  for (int i = 0; i < destinations; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in addr = address_of(kReceiverAddress, kFirstPort + i);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
      fprintf(stderr, "udp-floor: receiver: bind %s:%d: %s\n", kReceiverAddress, kFirstPort + i,
              strerror(errno));
      _exit(1);
    }
    sockets.push_back(fd);
  }
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i <= destinations; i++) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);  // destinations: the control socket
    epoll_ctl(epoll, EPOLL_CTL_ADD, i < destinations ? sockets[static_cast<size_t>(i)] : control,
              &event);
  }
  if (write(control, "r", 1) != 1)
    _exit(1);
  constexpr int kBatch = 64;
  static char buffers[kBatch][2048];
  iovec iov[kBatch];
  mmsghdr messages[kBatch];
  ReceiverCount count;
  for (;;) {
    epoll_event events[64];
    int n = epoll_wait(epoll, events, 64, -1);
    for (int e = 0; e < n; e++) {
      uint32_t which = events[e].data.u32;
      if (which == static_cast<uint32_t>(destinations)) {
        char command = 0;
        if (read(control, &command, 1) != 1 || command != 'c')
          _exit(0);
        count.cpu_us = process_cpu_us();
        if (write(control, &count, sizeof count) != static_cast<ssize_t>(sizeof count))
          _exit(1);
        continue;
      }
      for (;;) {
        for (int i = 0; i < kBatch; i++) {
          iov[i] = {buffers[i], sizeof buffers[i]};
          messages[i] = {};
          messages[i].msg_hdr.msg_iov = &iov[i];
          messages[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(sockets[which], messages, kBatch, 0, nullptr);
        if (got <= 0)
          break;
        count.datagrams += static_cast<uint64_t>(got);
      }
    }
  }
}

/* The receiver's process in a network namespace of its own, bound and draining. */
struct Receiver {
  pid_t pid = -1;
  int control = -1;

  bool start(int destinations) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return false;
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0)
      return false;
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent || unshare(CLONE_NEWNET) != 0)
        _exit(126);
      close(pair[0]);
      close(go[1]);
      char wait_for_link = 0;
      // The parent moves the veth end here and configures it, then says go.
      if (write(pair[1], "n", 1) != 1 || read(go[0], &wait_for_link, 1) != 1)
        _exit(1);
      receiver_main(pair[1], destinations);
    }
    close(pair[1]);
    close(go[0]);
    char state = 0;
    bool ok = pid > 0 && read(pair[0], &state, 1) == 1 && state == 'n';
    control = pair[0];
    const std::string ns = std::to_string(pid);
    ok = ok && run_in_namespace(0, {"ip", "link", "add", "tcsend", "type", "veth", "peer", "name",
                                    "tcrecv", "netns", ns});
    ok = ok && run_in_namespace(0, {"ip", "link", "set", "lo", "up"});
    ok = ok && run_in_namespace(
                   0, {"ip", "addr", "add", std::string(kSenderAddress) + "/24", "dev", "tcsend"});
    ok = ok && run_in_namespace(0, {"ip", "link", "set", "tcsend", "up"});
    ok = ok && run_in_namespace(pid, {"ip", "link", "set", "lo", "up"});
    ok = ok && run_in_namespace(pid, {"ip", "addr", "add", std::string(kReceiverAddress) + "/24",
                                      "dev", "tcrecv"});
    ok = ok && run_in_namespace(pid, {"ip", "link", "set", "tcrecv", "up"});
    ok = ok && write(go[1], "g", 1) == 1;
    close(go[1]);
    ok = ok && read(control, &state, 1) == 1 && state == 'r';
    return ok;
  }

  std::optional<ReceiverCount> count() const {
    ReceiverCount c;
    if (write(control, "c", 1) != 1 ||
        read(control, &c, sizeof c) != static_cast<ssize_t>(sizeof c))
      return std::nullopt;
    return c;
  }

  /* Datagrams to tcrecv dropped by the veth itself or delivered: with tcrecv's MTU at
   * IPv4's minimum (68) every datagram is longer than the receiving end takes, so
   * veth_xmit drops it before it is handed to the receiving side (netif_rx). */
  bool set_receiver_drop(bool drop) const {
    return run_in_namespace(pid, {"ip", "link", "set", "tcrecv", "mtu", drop ? "68" : "1500"});
  }

  ~Receiver() {
    if (control >= 0)
      close(control);  // the receiver exits on EOF
    if (pid > 0)
      bench::stop_child(pid, SIGTERM);
  }
};

/* ---------------- the sender ---------------- */

enum class Variant {
  kSocketPerDestination,
  kOneSocketSendmsg,
  kOneSocketSendmmsg,
  kSrtpProtect,
  kSrtpProtectGcm,
  kSrtpProtectSendmmsg,
  kOpensslSrtpProtect,
  kOpensslSrtpProtectSendmmsg,
  kWakeUpOnly,
};

struct VariantInfo {
  Variant variant;
  const char *name;
  bool sends;
  bool srtp;
};

const VariantInfo kVariants[] = {
    {Variant::kSocketPerDestination, "a_socket_per_destination", true, false},
    {Variant::kOneSocketSendmsg, "b_one_socket_sendmsg", true, false},
    {Variant::kOneSocketSendmmsg, "c_one_socket_sendmmsg", true, false},
    {Variant::kSrtpProtect, "d_srtp_protect", false, true},
    {Variant::kSrtpProtectGcm, "d_srtp_protect_gcm", false, true},
    {Variant::kSrtpProtectSendmmsg, "e_srtp_protect_sendmmsg", true, true},
    {Variant::kOpensslSrtpProtect, "f_openssl_srtp_protect", false, true},
    {Variant::kOpensslSrtpProtectSendmmsg, "g_openssl_srtp_protect_sendmmsg", true, true},
    {Variant::kWakeUpOnly, "z_wake_up_only", false, false},
};

constexpr int kMasterKeyBytes = 16, kMasterSaltBytes = 14;
constexpr int kAuthKeyBytes = 20, kAuthTagBytes = 10;
using MasterKey = std::array<unsigned char, kMasterKeyBytes + kMasterSaltBytes>;

#ifdef UDP_FLOOR_SRTP
/* One SRTP sending session per destination, each with its own random master key. */
class SrtpSessions {
 public:
  /* @count sessions with random keys; with @keys, AES-CM sessions with those. */
  bool create(int count, bool gcm, const std::vector<MasterKey> *keys = nullptr) {
    for (int i = 0; i < count; i++) {
      unsigned char key[64];  // more than any profile's master key and salt
      for (unsigned char &byte : key)
        byte = static_cast<unsigned char>(g_random_int());
      if (keys)
        std::copy((*keys)[static_cast<size_t>(i)].begin(), (*keys)[static_cast<size_t>(i)].end(),
                  key);
      srtp_policy_t policy{};
      if (gcm) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
      } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
      }
      policy.ssrc.type = ssrc_specific;
      policy.ssrc.value = ssrc_of(i);
      policy.key = key;
      policy.window_size = 128;
      srtp_t session = nullptr;
      if (srtp_create(&session, &policy) != srtp_err_status_ok)
        return false;
      sessions_.push_back(session);
    }
    return true;
  }
  ~SrtpSessions() {
    for (srtp_t s : sessions_)
      srtp_dealloc(s);
  }
  static uint32_t ssrc_of(int destination) { return 0x10000u + static_cast<uint32_t>(destination); }
  /* Protects @packet (an RTP packet of @length bytes, room for the trailer after it);
   * the protected length, or -1. */
  int protect(int destination, unsigned char *packet, int length) const {
    int len = length;
    if (srtp_protect(sessions_[static_cast<size_t>(destination)], packet, &len) !=
        srtp_err_status_ok)
      return -1;
    return len;
  }

 private:
  std::vector<srtp_t> sessions_;
};

/* SRTP's AES-CM-128 + HMAC-SHA1-80 protection (RFC 3711) done directly with OpenSSL,
 * each session's AES and HMAC contexts keyed once: what a send path with its own SRTP
 * would pay per packet. Checked byte for byte against libsrtp2 before it is timed. */
class OpensslSrtp {
 public:
  ~OpensslSrtp() {
    for (Session &s : sessions_) {
      EVP_CIPHER_CTX_free(s.aes);
      EVP_MAC_CTX_free(s.hmac);
    }
    EVP_MAC_free(mac_);
  }

  bool add(const MasterKey &master) {
    if (!mac_ && !(mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr)))
      return false;
    Session s;
    unsigned char encryption_key[kMasterKeyBytes], auth_key[kAuthKeyBytes];
    if (!derive(master, 0x00, encryption_key, sizeof encryption_key) ||
        !derive(master, 0x01, auth_key, sizeof auth_key) ||
        !derive(master, 0x02, s.salt, sizeof s.salt))
      return false;
    s.aes = EVP_CIPHER_CTX_new();
    s.hmac = EVP_MAC_CTX_new(mac_);
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    sessions_.push_back(s);
    return s.aes && s.hmac &&
           EVP_EncryptInit_ex(s.aes, EVP_aes_128_ctr(), nullptr, encryption_key, nullptr) == 1 &&
           EVP_MAC_init(s.hmac, auth_key, sizeof auth_key, params) == 1;
  }

  /* Protects the RTP packet @p of @length bytes (12-byte header, no CSRC or extension;
   * room for the tag after it) whose packet index (ROC << 16 | sequence number) is
   * @index; the protected length, or -1. */
  int protect(int destination, unsigned char *p, int length, uint64_t index) const {
    const Session &s = sessions_[static_cast<size_t>(destination)];
    unsigned char iv[16] = {};
    memcpy(iv, s.salt, sizeof s.salt);
    for (int b = 0; b < 4; b++)
      iv[4 + b] ^= p[8 + b];  // SSRC
    for (int b = 0; b < 6; b++)
      iv[8 + b] ^= static_cast<unsigned char>(index >> (40 - 8 * b));
    int out = 0;
    if (EVP_EncryptInit_ex(s.aes, nullptr, nullptr, nullptr, iv) != 1 ||
        EVP_EncryptUpdate(s.aes, p + kRtpHeaderBytes, &out, p + kRtpHeaderBytes,
                          length - kRtpHeaderBytes) != 1)
      return -1;
    const uint32_t roc = static_cast<uint32_t>(index >> 16);
    const unsigned char roc_bytes[4] = {
        static_cast<unsigned char>(roc >> 24), static_cast<unsigned char>(roc >> 16),
        static_cast<unsigned char>(roc >> 8), static_cast<unsigned char>(roc)};
    unsigned char tag[EVP_MAX_MD_SIZE];
    size_t tag_length = 0;
    // A NULL key starts a new MAC with the key already set.
    if (EVP_MAC_init(s.hmac, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(s.hmac, p, static_cast<size_t>(length)) != 1 ||
        EVP_MAC_update(s.hmac, roc_bytes, sizeof roc_bytes) != 1 ||
        EVP_MAC_final(s.hmac, tag, &tag_length, sizeof tag) != 1)
      return -1;
    memcpy(p + length, tag, kAuthTagBytes);
    return length + kAuthTagBytes;
  }

 private:
  struct Session {
    EVP_CIPHER_CTX *aes = nullptr;
    EVP_MAC_CTX *hmac = nullptr;
    unsigned char salt[kMasterSaltBytes] = {};
  };

  /* RFC 3711 4.3.3 (key derivation rate 0): the AES-CM keystream of the master key at
   * IV = (master salt XOR label << 48) << 16. */
  static bool derive(const MasterKey &master, unsigned char label, unsigned char *out, int n) {
    unsigned char iv[16] = {};
    memcpy(iv, master.data() + kMasterKeyBytes, kMasterSaltBytes);
    iv[7] ^= label;
    std::vector<unsigned char> zeros(static_cast<size_t>(n), 0);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int written = 0;
    bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, master.data(), iv) == 1 &&
              EVP_EncryptUpdate(ctx, out, &written, zeros.data(), n) == 1 && written == n;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
  }

  EVP_MAC *mac_ = nullptr;
  std::vector<Session> sessions_;
};
#endif

struct Sender {
  const Options &o;
  std::vector<sockaddr_in> destinations;
  std::vector<int> per_destination;                 // a: one socket each
  int shared = -1;                                  // b, c, e
  std::vector<std::vector<unsigned char>> packets;  // one per destination
  std::vector<int> lengths;
  std::vector<iovec> iov;
  std::vector<mmsghdr> batch;
#ifdef UDP_FLOOR_SRTP
  std::vector<MasterKey> keys;  // AES-CM sessions': libsrtp2's and OpenSSL's the same
  SrtpSessions srtp_cm, srtp_gcm;
  OpensslSrtp openssl_srtp;
  bool openssl_matches_libsrtp = false;
#endif

  explicit Sender(const Options &options) : o(options) {}

  static int bound_socket() {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in any = address_of(kSenderAddress, 0);
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&any), sizeof any) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  bool open() {
    const size_t n = static_cast<size_t>(o.destinations);
    for (int i = 0; i < o.destinations; i++) {
      destinations.push_back(address_of(kReceiverAddress, kFirstPort + i));
      per_destination.push_back(bound_socket());
      if (per_destination.back() < 0)
        return false;
    }
    shared = bound_socket();
    int size = 4 << 20;  // one frame's N datagrams may sit in it at once
    setsockopt(shared, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    packets.assign(n, std::vector<unsigned char>(
                          static_cast<size_t>(std::max(o.payload_bytes, kRtpHeaderBytes)) + 64));
    lengths.assign(n, o.payload_bytes);
    iov.resize(n);
    batch.resize(n);
    for (size_t i = 0; i < n; i++) {
      batch[i] = {};
      batch[i].msg_hdr.msg_name = &destinations[i];
      batch[i].msg_hdr.msg_namelen = sizeof destinations[i];
      batch[i].msg_hdr.msg_iov = &iov[i];
      batch[i].msg_hdr.msg_iovlen = 1;
    }
#ifdef UDP_FLOOR_SRTP
    keys.resize(n);
    for (MasterKey &key : keys)
      for (unsigned char &byte : key)
        byte = static_cast<unsigned char>(g_random_int());
    if (!srtp_cm.create(o.destinations, false, &keys) || !srtp_gcm.create(o.destinations, true))
      return false;
    for (const MasterKey &key : keys)
      if (!openssl_srtp.add(key))
        return false;
    openssl_matches_libsrtp = check_openssl_srtp();
#endif
    return shared >= 0;
  }

#ifdef UDP_FLOOR_SRTP
  /* The first destinations' packets 7 and 8 protected by libsrtp2 (fresh
   * sessions with the same keys) and by OpensslSrtp: true if they are the same bytes. */
  bool check_openssl_srtp() {
    const int checked = std::min(o.destinations, 4);
    SrtpSessions reference;
    if (!reference.create(checked, false, &keys))
      return false;
    bool same = true;
    for (int index : {7, 8}) {
      for (int i = 0; i < checked; i++) {
        const size_t d = static_cast<size_t>(i);
        write_rtp(d, index);
        std::vector<unsigned char> copy = packets[d];
        int expected = reference.protect(i, copy.data(), lengths[d]);
        int got =
            openssl_srtp.protect(i, packets[d].data(), lengths[d], static_cast<uint64_t>(index));
        same = same && expected > 0 && got == expected &&
               memcmp(copy.data(), packets[d].data(), static_cast<size_t>(got)) == 0;
      }
    }
    return same;
  }
#endif

  ~Sender() {
    for (int fd : per_destination)
      if (fd >= 0)
        close(fd);
    if (shared >= 0)
      close(shared);
  }

  /* The RTP packet of @frame for destination @i: header (its own SSRC, sequence number
   * and timestamp) and payload, payload_bytes minus the SRTP-80 trailer in all. */
  void write_rtp(size_t i, int frame) {
    unsigned char *p = packets[i].data();
    const int rtp_length = std::max(kRtpHeaderBytes, o.payload_bytes - 10);
    memset(p, 0x5a, static_cast<size_t>(rtp_length));
    const uint16_t seq = static_cast<uint16_t>(frame);
    const uint32_t ts = static_cast<uint32_t>(frame) * 960u;
#ifdef UDP_FLOOR_SRTP
    const uint32_t ssrc = SrtpSessions::ssrc_of(static_cast<int>(i));
#else
    const uint32_t ssrc = 0x10000u + static_cast<uint32_t>(i);
#endif
    p[0] = 0x80;
    p[1] = 96;
    p[2] = static_cast<unsigned char>(seq >> 8);
    p[3] = static_cast<unsigned char>(seq);
    for (int b = 0; b < 4; b++) {
      p[4 + b] = static_cast<unsigned char>(ts >> (24 - 8 * b));
      p[8 + b] = static_cast<unsigned char>(ssrc >> (24 - 8 * b));
    }
    lengths[i] = rtp_length;
  }

  /* One frame: a datagram to every destination. False on a send error. */
  bool frame(Variant variant, int number) {
    if (variant == Variant::kWakeUpOnly)
      return true;
    const size_t n = destinations.size();
    const bool srtp = variant == Variant::kSrtpProtect || variant == Variant::kSrtpProtectGcm ||
                      variant == Variant::kSrtpProtectSendmmsg ||
                      variant == Variant::kOpensslSrtpProtect ||
                      variant == Variant::kOpensslSrtpProtectSendmmsg;
    if (srtp) {
#ifdef UDP_FLOOR_SRTP
      const SrtpSessions &sessions = variant == Variant::kSrtpProtectGcm ? srtp_gcm : srtp_cm;
      const bool openssl = variant == Variant::kOpensslSrtpProtect ||
                           variant == Variant::kOpensslSrtpProtectSendmmsg;
      for (size_t i = 0; i < n; i++) {
        write_rtp(i, number);
        lengths[i] = openssl ? openssl_srtp.protect(static_cast<int>(i), packets[i].data(),
                                                    lengths[i], static_cast<uint64_t>(number))
                             : sessions.protect(static_cast<int>(i), packets[i].data(), lengths[i]);
        if (lengths[i] < 0)
          return false;
      }
#else
      (void)number;  // no SRTP variants in this build
      return false;
#endif
    } else {
      lengths.assign(n, o.payload_bytes);
    }
    for (size_t i = 0; i < n; i++)
      iov[i] = {packets[i].data(), static_cast<size_t>(lengths[i])};
    switch (variant) {
      case Variant::kSocketPerDestination:
      case Variant::kOneSocketSendmsg:
        for (size_t i = 0; i < n; i++) {
          int fd = variant == Variant::kSocketPerDestination ? per_destination[i] : shared;
          if (sendmsg(fd, &batch[i].msg_hdr, 0) < 0)
            return false;
        }
        return true;
      case Variant::kOneSocketSendmmsg:
      case Variant::kSrtpProtectSendmmsg:
      case Variant::kOpensslSrtpProtectSendmmsg:
        for (size_t sent = 0; sent < n;) {
          int r = sendmmsg(shared, batch.data() + sent, static_cast<unsigned>(n - sent), 0);
          if (r <= 0)
            return false;
          sent += static_cast<size_t>(r);
        }
        return true;
      case Variant::kSrtpProtect:
      case Variant::kSrtpProtectGcm:
      case Variant::kOpensslSrtpProtect:
      case Variant::kWakeUpOnly:
        return true;
    }
    return false;
  }

  /* --frames frames, one every --frame-interval-us; the sending thread's CPU per
   * datagram in µs, or nullopt on an error. The sleeps between frames cost no CPU. */
  std::optional<double> run(Variant variant, int *next_frame_number) {
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    const double before = thread_cpu_us();
    for (int f = 0; f < o.frames; f++) {
      if (!frame(variant, (*next_frame_number)++))
        return std::nullopt;
      next.tv_nsec += static_cast<long>(o.frame_interval_us) * 1000;
      while (next.tv_nsec >= 1000000000L) {
        next.tv_nsec -= 1000000000L;
        next.tv_sec++;
      }
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
        next = now;  // behind: no catching up in a burst
      else
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    }
    return (thread_cpu_us() - before) / (static_cast<double>(o.frames) * o.destinations);
  }
};

double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}

bool parse_options(int argc, char **argv, Options *o) {
  gint destinations = o->destinations, payload = o->payload_bytes, frames = o->frames,
       interval = o->frame_interval_us, runs = o->runs;
  gboolean no_drop = FALSE;
  GOptionEntry entries[] = {
      {"destinations", 'n', 0, G_OPTION_ARG_INT, &destinations,
       "Receiver sockets one frame goes to, i.e. attendees (100, 1-1024)", "N"},
      {"payload", 'p', 0, G_OPTION_ARG_INT, &payload,
       "Bytes per datagram of the plain UDP variants (110: Opus 20 ms + RTP + SRTP, 12-1400)",
       "BYTES"},
      {"frames", 'f', 0, G_OPTION_ARG_INT, &frames, "Frames per variant and run (100)", "F"},
      {"frame-interval-us", 'i', 0, G_OPTION_ARG_INT, &interval,
       "Microseconds from one frame's start to the next (20000: real time)", "US"},
      {"runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Runs; variants interleaved in each (5)", "R"},
      {"no-drop-variants", 0, 0, G_OPTION_ARG_NONE, &no_drop,
       "Skip the variants whose datagrams the veth drops before the receiving side", nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContext *context =
      g_option_context_new("- CPU per datagram of one sender to N UDP destinations");
  g_option_context_add_main_entries(context, entries, nullptr);
  GError *error = nullptr;
  bool ok = g_option_context_parse(context, &argc, &argv, &error);
  g_option_context_free(context);
  if (!ok) {
    fprintf(stderr, "udp-floor: %s\n", error->message);
    g_error_free(error);
    return false;
  }
  if (destinations < 1 || destinations > 1024 || payload < kRtpHeaderBytes || payload > 1400 ||
      frames < 1 || interval < 0 || interval > 1000000 || runs < 1) {
    fprintf(stderr,
            "udp-floor: --destinations 1-1024, --payload 12-1400, --frames ≥ 1, "
            "--frame-interval-us 0-1000000, --runs ≥ 1\n");
    return false;
  }
  o->destinations = destinations;
  o->payload_bytes = payload;
  o->frames = frames;
  o->frame_interval_us = interval;
  o->runs = runs;
  o->receiver_drop = !no_drop;
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse_options(argc, argv, &o))
    return 2;
  // Up to 1,024 destinations: that many sockets in each process, and a few more.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (unshare(CLONE_NEWNET) != 0) {
    fprintf(stderr, "udp-floor: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
    return 2;
  }
#ifdef UDP_FLOOR_SRTP
  if (srtp_init() != srtp_err_status_ok) {
    fprintf(stderr, "udp-floor: srtp_init failed\n");
    return 2;
  }
#endif
  const double load_start = bench::load_average();
  Receiver receiver;
  if (!receiver.start(o.destinations)) {
    fprintf(stderr, "udp-floor: could not set up the namespaces, veth pair and receiver\n");
    return 2;
  }
  const bool drop_variants = o.receiver_drop && o.payload_bytes > 68;

  Sender sender(o);
  if (!sender.open()) {
    fprintf(stderr, "udp-floor: could not open the sender's sockets or SRTP sessions\n");
    return 2;
  }

  struct Case {
    const VariantInfo *info;
    bool dropped;
    std::string name;
    bench::Samples us;
    std::vector<double> received_fraction, receiver_us;
  };
  std::vector<Case> cases;
  for (const VariantInfo &v : kVariants) {
#ifndef UDP_FLOOR_SRTP
    if (v.srtp)
      continue;
#endif
    cases.push_back({&v, false, v.name, {}, {}, {}});
    if (v.sends && drop_variants)
      cases.push_back({&v, true, std::string(v.name) + "/dropped_by_veth", {}, {}, {}});
  }

  std::vector<std::string> failures;
#ifdef UDP_FLOOR_SRTP
  if (!sender.openssl_matches_libsrtp)
    failures.push_back("f/g: OpenSSL's SRTP output differs from libsrtp2's for the same keys");
#endif
  int frame_number = 0;
  // Warm-up, untimed: ARP, route and socket caches, SRTP key derivation.
  for (const Case &c : cases)
    for (int f = 0; f < 20 && !c.dropped; f++)
      sender.frame(c.info->variant, frame_number++);
  for (int run = 1; run <= o.runs; run++) {
    fprintf(stderr, "== run %d/%d\n", run, o.runs);
    for (Case &c : cases) {
      if (c.dropped && !receiver.set_receiver_drop(true)) {
        failures.push_back(c.name + ": could not lower tcrecv's MTU");
        continue;
      }
      std::optional<ReceiverCount> before = receiver.count();
      std::optional<double> us = sender.run(c.info->variant, &frame_number);
      g_usleep(50 * 1000);  // the receiver drains what is in its sockets
      std::optional<ReceiverCount> after = receiver.count();
      if (c.dropped && !receiver.set_receiver_drop(false))
        failures.push_back(c.name + ": could not restore tcrecv's MTU");
      c.us.push_back(us);
      if (!us) {
        failures.push_back(c.name + ": " + strerror(errno));
        continue;
      }
      const double datagrams = static_cast<double>(o.frames) * o.destinations;
      if (before && after && c.info->sends) {
        c.received_fraction.push_back(static_cast<double>(after->datagrams - before->datagrams) /
                                      datagrams);
        c.receiver_us.push_back((after->cpu_us - before->cpu_us) / datagrams);
        if (!c.dropped && c.received_fraction.back() < 0.9)
          failures.push_back(c.name + ": the receiver got " +
                             std::to_string(after->datagrams - before->datagrams) + " of " +
                             std::to_string(static_cast<long>(datagrams)));
      }
      fprintf(stderr, "   %-40s %7.3f µs per datagram\n", c.name.c_str(), *us);
    }
  }

  json variants = json::object();
  std::map<std::string, double> medians;
  for (const Case &c : cases) {
    std::optional<double> m = bench::median(c.us);
    if (m)
      medians[c.name] = *m;
    bench::Samples fractions(c.received_fraction.begin(), c.received_fraction.end());
    bench::Samples receiver_us(c.receiver_us.begin(), c.receiver_us.end());
    json values = json::array();
    for (const auto &v : c.us)
      values.push_back(v ? json(round3(*v)) : json(nullptr));
    json entry = {
        {"sender_cpu_us_per_datagram",
         {{"median", m ? json(round3(*m)) : json(nullptr)}, {"values", values}}},
        {"cores_per_1000_attendees",
         m ? json(round3(*m * kPacketsPerSecondPerAttendee * 1000 / 1e6)) : json(nullptr)}};
    if (c.info->variant == Variant::kWakeUpOnly)
      entry["sender_cpu_us_per_frame"] = m ? json(round3(*m * o.destinations)) : json(nullptr);
    if (c.info->sends) {
      std::optional<double> f = bench::median(fractions);
      std::optional<double> r = bench::median(receiver_us);
      entry["received_fraction"] = f ? json(round3(*f)) : json(nullptr);
      entry["receiver_process_cpu_us_per_datagram"] = r ? json(round3(*r)) : json(nullptr);
    }
    variants[c.name] = entry;
  }
  json ratios = json::object();
  const std::string baseline = kVariants[0].name;
  for (const auto &[name, m] : medians)
    if (medians.count(baseline) && medians[baseline] > 0 && name.find('/') == std::string::npos &&
        name != baseline)
      ratios[name] = round3(m / medians[baseline]);
  json delivery = json::object();
  for (const auto &[name, m] : medians) {
    auto dropped = medians.find(name + "/dropped_by_veth");
    if (dropped != medians.end())
      delivery[name] = round3(m - dropped->second);
  }

  json out = {
      {"benchmark", "udp-floor"},
      {"destinations", o.destinations},
      {"payload_bytes", o.payload_bytes},
      {"frames", o.frames},
      {"frame_interval_us", o.frame_interval_us},
      {"runs", o.runs},
      {"packets_per_second_per_attendee", kPacketsPerSecondPerAttendee},
#ifdef UDP_FLOOR_SRTP
      {"srtp", srtp_get_version_string()},
      {"openssl", OpenSSL_version(OPENSSL_VERSION)},
      {"openssl_srtp_matches_libsrtp", sender.openssl_matches_libsrtp},
#else
      {"srtp", nullptr},
      {"openssl", nullptr},
#endif
      {"network", std::string("veth ") + kSenderAddress + " -> " + kReceiverAddress +
                      " between two namespaces of this run"},
      {"variants", variants},
      {"ratio_to_a_socket_per_destination", ratios},
      {"receiving_side_charged_to_sender_us_per_datagram", delivery},
      {"load_average", {{"start", load_start}, {"end", bench::load_average()}}},
      {"failures", failures},
  };
  printf("%s\n", out.dump().c_str());
#ifdef UDP_FLOOR_SRTP
  srtp_shutdown();
#endif
  return failures.empty() ? 0 : 1;
}
