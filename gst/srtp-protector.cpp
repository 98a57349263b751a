/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "srtp-protector.h"

#include <srtp2/srtp.h>

#include <cstring>
#include <mutex>

namespace tourcast {

namespace {

constexpr size_t kAes128CmKeyAndSaltBytes = 30;
static_assert(kSrtpMaxGrowth >= SRTP_MAX_TAG_LEN, "room for libsrtp's longest tag");

/* libsrtp's crypto kernel is process-wide and GStreamer's srtp plugin may
 * have started it: a second srtp_init() then fails (its debug module is
 * already loaded) with the kernel up. So its result says nothing; a kernel
 * that is not up makes srtp_create() fail, which start() reports. */
void ensure_libsrtp() {
  static std::once_flag once;
  std::call_once(once, [] { (void)srtp_init(); });
}

}  // namespace

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

SrtpProtector::~SrtpProtector() {
  if (session_)
    srtp_dealloc(session_);
}

bool SrtpProtector::start(SrtpProfile profile, const uint8_t *key, size_t key_len,
                          std::string *why) {
  if (session_) {
    *why = "already started";
    return false;
  }
  if (key_len != kAes128CmKeyAndSaltBytes) {
    *why = "master key and salt are " + std::to_string(key_len) + " bytes, expected " +
           std::to_string(kAes128CmKeyAndSaltBytes);
    return false;
  }
  ensure_libsrtp();
  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  if (profile == SrtpProfile::kAes128CmHmacSha1_80)
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
  else
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
  /* RTCP stays with webrtcbin's srtpenc; libsrtp still wants a policy. */
  srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  policy.ssrc.type = ssrc_any_outbound;
  policy.key = const_cast<uint8_t *>(key);
  policy.window_size = 128;
  policy.allow_repeat_tx = 0;
  srtp_t session = nullptr;
  srtp_err_status_t err = srtp_create(&session, &policy);
  if (err != srtp_err_status_ok) {
    *why = "libsrtp refused the key (srtp_create error " + std::to_string((int)err) + ")";
    return false;
  }
  session_ = session;
  return true;
}

int SrtpProtector::protect(uint8_t *packet, size_t len, size_t capacity, std::string *why) {
  if (session_ == nullptr) {
    if (why)
      *why = "not started";
    return -1;
  }
  if (len < 12 || capacity < len + kSrtpMaxGrowth) {
    if (why)
      *why = len < 12 ? "shorter than an RTP header" : "no room for the tag";
    return -1;
  }
  int size = (int)len;
  srtp_err_status_t err = srtp_protect(session_, packet, &size);
  if (err != srtp_err_status_ok) {
    if (why)
      *why = "srtp_protect error " + std::to_string((int)err);
    return -1;
  }
  return size;
}

}  // namespace tourcast
