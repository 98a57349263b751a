/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tourcast {

/* The SRTP protection profiles DTLS-SRTP negotiates in GStreamer 1.22
 * (gstdtlsconnection.c offers only these two). */
enum class SrtpProfile {
  kAes128CmHmacSha1_80,
  kAes128CmHmacSha1_32,
};

/* The profile named by srtpenc's "rtp-cipher" and "rtp-auth" enum nicks
 * ("aes-128-icm", "hmac-sha1-80" or "hmac-sha1-32"); false for any other. */
bool srtp_profile_from_nicks(const std::string &cipher, const std::string &auth,
                             SrtpProfile *profile);

/* Bytes a protected RTP packet may grow by (the authentication tag; no MKI). */
constexpr size_t kSrtpMaxGrowth = 16;

/* The SRTP packet index (roll-over counter << 16 | sequence number) a sender
 * whose highest index so far is @highest gives @seq, as libsrtp guesses it;
 * -1 for a packet from before the first roll-over counter. */
int64_t srtp_guess_index(uint64_t highest, uint16_t seq);

/* Outbound SRTP (RFC 3711: AES-128 counter mode, HMAC-SHA1) for one peer
 * under the master key and salt DTLS exported, protecting each RTP packet in
 * place: the packets libsrtp (srtpenc) makes of the same stream, byte for
 * byte (the unit tests compare them), for a fraction of the CPU. Debian's
 * libsrtp2 is built on NSS, which makes and frees a cipher context per
 * packet; here the AES key schedule and the HMAC's keyed state are made once.
 * Like libsrtp's sender, it refuses to protect an index twice. One thread at
 * a time; not copyable. */
class SrtpProtector {
 public:
  SrtpProtector();
  ~SrtpProtector();
  SrtpProtector(const SrtpProtector &) = delete;
  SrtpProtector &operator=(const SrtpProtector &) = delete;

  /* @key: master key then master salt (30 bytes for both profiles). On
   * failure @why says what was wrong and the protector stays unusable. */
  bool start(SrtpProfile profile, const uint8_t *key, size_t key_len, std::string *why);
  bool started() const { return crypto_ != nullptr; }

  /* Protects the @len bytes of RTP at @packet, which has room for @capacity;
   * returns the protected length, or -1 (not started, not RTP, no room, an
   * index already protected or too old, more than 16 SSRCs; @why says which
   * when given). */
  int protect(uint8_t *packet, size_t len, size_t capacity, std::string *why = nullptr);

 private:
  struct Crypto;
  /* libsrtp counts roll-overs per SSRC (a stream each, made on its first
   * packet): the media's, and a retransmission stream's if there is one. */
  struct Stream {
    uint32_t ssrc = 0;
    uint64_t highest_index = 0;
    uint64_t sent_window = 0; /* bit n: highest_index - n was protected */
  };
  static constexpr size_t kSentWindow = 64; /* indices below the highest kept */
  static constexpr size_t kMaxStreams = 16;
  std::unique_ptr<Crypto> crypto_;
  size_t tag_bytes_ = 0;
  std::vector<Stream> streams_;
};

}  // namespace tourcast
