/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct srtp_ctx_t_; /* libsrtp's srtp_t */

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

/* Outbound SRTP for one peer: libsrtp's context with the master key and salt
 * DTLS exported, protecting each RTP packet in place. One thread at a time;
 * not copyable. Protecting the same stream as srtpenc did before (the same
 * key, SSRC and sequence numbers) yields the same packets, so a sender may
 * take over from srtpenc between two packets. */
class SrtpProtector {
 public:
  SrtpProtector() = default;
  ~SrtpProtector();
  SrtpProtector(const SrtpProtector &) = delete;
  SrtpProtector &operator=(const SrtpProtector &) = delete;

  /* @key: master key then master salt (30 bytes for both profiles). On
   * failure @why says what was wrong and the protector stays unusable. */
  bool start(SrtpProfile profile, const uint8_t *key, size_t key_len, std::string *why);
  bool started() const { return session_ != nullptr; }

  /* Protects the @len bytes of RTP at @packet, which has room for @capacity;
   * returns the protected length, or -1 (not started, no room, or libsrtp
   * refused the packet; @why says which when given). */
  int protect(uint8_t *packet, size_t len, size_t capacity, std::string *why = nullptr);

 private:
  ::srtp_ctx_t_ *session_ = nullptr;
};

}  // namespace tourcast
