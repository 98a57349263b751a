/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "srtp-protector.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>

namespace tourcast {

namespace {

constexpr size_t kMasterKeyBytes = 16;
constexpr size_t kMasterSaltBytes = 14;
constexpr size_t kAuthKeyBytes = 20;
constexpr size_t kRtpFixedHeaderBytes = 12;
constexpr int64_t kSeqMedian = 1 << 15;
constexpr int64_t kSeqMax = 1 << 16;

/* RFC 3711 4.3.1/4.3.3 with a key derivation rate of 0: the AES-CM keystream
 * of the master key at IV = (master salt XOR label << 48) << 16. */
bool derive(const uint8_t *master, uint8_t label, uint8_t *out, int n) {
  uint8_t iv[16] = {};
  memcpy(iv, master + kMasterKeyBytes, kMasterSaltBytes);
  iv[7] ^= label;
  uint8_t zeros[32] = {};
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int written = 0;
  bool ok = ctx && n <= (int)sizeof zeros &&
            EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, master, iv) == 1 &&
            EVP_EncryptUpdate(ctx, out, &written, zeros, n) == 1 && written == n;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

/* Where an RTP packet's payload starts (after CSRCs and a header
 * extension), or 0 when @len bytes cannot hold that header. */
size_t payload_offset(const uint8_t *packet, size_t len) {
  if (len < kRtpFixedHeaderBytes || (packet[0] >> 6) != 2)
    return 0;
  size_t offset = kRtpFixedHeaderBytes + 4 * (size_t)(packet[0] & 0x0f);
  if (packet[0] & 0x10) {
    if (len < offset + 4)
      return 0;
    offset += 4 + 4 * (((size_t)packet[offset + 2] << 8) | packet[offset + 3]);
  }
  return offset <= len ? offset : 0;
}

}  // namespace

struct SrtpProtector::Crypto {
  EVP_CIPHER_CTX *aes = nullptr;
  EVP_MAC *mac = nullptr;
  EVP_MAC_CTX *hmac = nullptr;
  std::array<uint8_t, kMasterSaltBytes> salt{};

  ~Crypto() {
    EVP_CIPHER_CTX_free(aes);
    EVP_MAC_CTX_free(hmac);
    EVP_MAC_free(mac);
  }
};

int64_t srtp_guess_index(uint64_t highest, uint16_t seq) {
  /* libsrtp's srtp_rdbx_estimate_index: roll-over counter 0 until the
   * highest index passes the median, then the closest of ROC - 1, ROC and
   * ROC + 1; a receiver guesses the same way. */
  if (highest <= (uint64_t)kSeqMedian)
    return seq;
  const int64_t roc = (int64_t)(highest >> 16);
  const int64_t local_seq = (int64_t)(highest & 0xffff);
  int64_t guess_roc = roc;
  if (local_seq < kSeqMedian) {
    if ((int64_t)seq - local_seq > kSeqMedian)
      guess_roc = roc - 1;
  } else if (local_seq - kSeqMedian > (int64_t)seq) {
    guess_roc = roc + 1;
  }
  return guess_roc < 0 ? -1 : (guess_roc << 16) | seq;
}

bool srtp_profile_from_nicks(const std::string &cipher, const std::string &auth,
                             SrtpProfile *profile) {
  if (cipher != "aes-128-icm")
    return false;
  if (auth == "hmac-sha1-80") {
    *profile = SrtpProfile::kAes128CmHmacSha1_80;
    return true;
  }
  if (auth == "hmac-sha1-32") {
    *profile = SrtpProfile::kAes128CmHmacSha1_32;
    return true;
  }
  return false;
}

SrtpProtector::SrtpProtector() = default;
SrtpProtector::~SrtpProtector() = default;

bool SrtpProtector::start(SrtpProfile profile, const uint8_t *key, size_t key_len,
                          std::string *why) {
  if (crypto_) {
    *why = "already started";
    return false;
  }
  if (key_len != kMasterKeyBytes + kMasterSaltBytes) {
    *why = "master key and salt are " + std::to_string(key_len) + " bytes, expected " +
           std::to_string(kMasterKeyBytes + kMasterSaltBytes);
    return false;
  }
  auto crypto = std::make_unique<Crypto>();
  uint8_t encryption_key[kMasterKeyBytes], auth_key[kAuthKeyBytes];
  if (!derive(key, 0x00, encryption_key, sizeof encryption_key) ||
      !derive(key, 0x01, auth_key, sizeof auth_key) ||
      !derive(key, 0x02, crypto->salt.data(), (int)crypto->salt.size())) {
    *why = "OpenSSL could not derive the session keys";
    return false;
  }
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                         OSSL_PARAM_construct_end()};
  crypto->aes = EVP_CIPHER_CTX_new();
  crypto->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  crypto->hmac = crypto->mac ? EVP_MAC_CTX_new(crypto->mac) : nullptr;
  bool ok =
      crypto->aes && crypto->hmac &&
      EVP_EncryptInit_ex(crypto->aes, EVP_aes_128_ctr(), nullptr, encryption_key, nullptr) == 1 &&
      EVP_MAC_init(crypto->hmac, auth_key, sizeof auth_key, params) == 1;
  OPENSSL_cleanse(encryption_key, sizeof encryption_key);
  OPENSSL_cleanse(auth_key, sizeof auth_key);
  if (!ok) {
    *why = "OpenSSL has no AES-128-CTR or HMAC-SHA1";
    return false;
  }
  tag_bytes_ = profile == SrtpProfile::kAes128CmHmacSha1_80 ? 10 : 4;
  crypto_ = std::move(crypto);
  streams_.clear();
  return true;
}

int SrtpProtector::protect(uint8_t *packet, size_t len, size_t capacity, std::string *why) {
  auto fail = [why](const char *reason) {
    if (why)
      *why = reason;
    return -1;
  };
  if (!crypto_)
    return fail("not started");
  const size_t offset = payload_offset(packet, len);
  if (offset == 0)
    return fail("not an RTP packet");
  if (capacity < len + tag_bytes_)
    return fail("no room for the tag");
  const uint16_t seq = (uint16_t)((packet[2] << 8) | packet[3]);
  const uint32_t ssrc = ((uint32_t)packet[8] << 24) | ((uint32_t)packet[9] << 16) |
                        ((uint32_t)packet[10] << 8) | packet[11];
  Stream *stream = nullptr;
  for (Stream &candidate : streams_)
    if (candidate.ssrc == ssrc)
      stream = &candidate;
  Stream fresh;
  fresh.ssrc = ssrc;
  if (stream == nullptr) {
    if (streams_.size() >= kMaxStreams)
      return fail("more SSRCs than a peer sends");
    stream = &fresh; /* kept once the packet is protected */
  }
  const int64_t index = srtp_guess_index(stream->highest_index, seq);
  const int64_t delta = index - (int64_t)stream->highest_index;
  /* Never the same keystream twice (libsrtp's sender refuses the same). */
  if (index < 0 || delta <= -(int64_t)kSentWindow)
    return fail("sequence number too old to protect");
  if (delta <= 0 && (stream->sent_window >> -delta) & 1)
    return fail("sequence number already protected");

  Crypto &c = *crypto_;
  uint8_t iv[16] = {};
  memcpy(iv, c.salt.data(), c.salt.size());
  for (int b = 0; b < 4; b++)
    iv[4 + b] ^= packet[8 + b]; /* SSRC */
  for (int b = 0; b < 6; b++)
    iv[8 + b] ^= (uint8_t)((uint64_t)index >> (40 - 8 * b));
  int written = 0;
  if (EVP_EncryptInit_ex(c.aes, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_EncryptUpdate(c.aes, packet + offset, &written, packet + offset, (int)(len - offset)) !=
          1)
    return fail("AES-CTR failed");
  const uint32_t roc = (uint32_t)((uint64_t)index >> 16);
  const uint8_t roc_bytes[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8),
                                (uint8_t)roc};
  uint8_t tag[EVP_MAX_MD_SIZE];
  size_t tag_len = 0;
  /* No key: a new MAC under the key already set. */
  if (EVP_MAC_init(c.hmac, nullptr, 0, nullptr) != 1 || EVP_MAC_update(c.hmac, packet, len) != 1 ||
      EVP_MAC_update(c.hmac, roc_bytes, sizeof roc_bytes) != 1 ||
      EVP_MAC_final(c.hmac, tag, &tag_len, sizeof tag) != 1 || tag_len < tag_bytes_)
    return fail("HMAC-SHA1 failed");
  memcpy(packet + len, tag, tag_bytes_);

  if (delta > 0) {
    stream->sent_window = delta >= (int64_t)kSentWindow ? 0 : stream->sent_window << delta;
    stream->sent_window |= 1;
    stream->highest_index = (uint64_t)index;
  } else {
    stream->sent_window |= (uint64_t)1 << -delta;
  }
  if (stream == &fresh)
    streams_.push_back(fresh);
  return (int)(len + tag_bytes_);
}

}  // namespace tourcast
