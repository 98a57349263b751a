/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gtest/gtest.h>
#include <srtp2/srtp.h>

#include <array>
#include <cstring>
#include <vector>

#include "srtp-protector.h"

using namespace tourcast;

namespace {

std::array<uint8_t, 30> test_key(uint8_t first) {
  std::array<uint8_t, 30> key;
  for (size_t i = 0; i < key.size(); i++)
    key[i] = (uint8_t)(first + i * 7);
  return key;
}

/* An RTP packet: version 2, payload type 96, @seq, SSRC 0x11223344, then
 * @payload_len bytes of payload. */
std::vector<uint8_t> rtp_packet(uint16_t seq, size_t payload_len, uint32_t ssrc = 0x11223344) {
  std::vector<uint8_t> p(12 + payload_len);
  p[0] = 0x80;
  p[1] = 96;
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  p[4] = 0, p[5] = 0, p[6] = 0x03, p[7] = 0xc0;
  p[8] = (uint8_t)(ssrc >> 24), p[9] = (uint8_t)(ssrc >> 16), p[10] = (uint8_t)(ssrc >> 8);
  p[11] = (uint8_t)ssrc;
  for (size_t i = 0; i < payload_len; i++)
    p[12 + i] = (uint8_t)(i * 3 + seq);
  return p;
}

/* A libsrtp2 session under @key: outbound is what srtpenc does with the
 * same key (the reference), inbound what an attendee's srtpdec does. */
class LibsrtpSession {
 public:
  LibsrtpSession(SrtpProfile profile, const uint8_t *key, srtp_ssrc_type_t direction) {
    srtp_init();
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (profile == SrtpProfile::kAes128CmHmacSha1_80)
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    else
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    policy.ssrc.type = direction;
    policy.key = const_cast<uint8_t *>(key);
    policy.window_size = 128;
    EXPECT_EQ(srtp_create(&session_, &policy), srtp_err_status_ok);
  }
  ~LibsrtpSession() { srtp_dealloc(session_); }
  LibsrtpSession(const LibsrtpSession &) = delete;
  LibsrtpSession &operator=(const LibsrtpSession &) = delete;

  /* The protected packet, or empty when libsrtp refuses it. */
  std::vector<uint8_t> protect(std::vector<uint8_t> packet) {
    int len = (int)packet.size();
    packet.resize(packet.size() + SRTP_MAX_TRAILER_LEN);
    if (srtp_protect(session_, packet.data(), &len) != srtp_err_status_ok)
      return {};
    packet.resize(len);
    return packet;
  }
  /* The plain packet, or empty when authentication fails. */
  std::vector<uint8_t> unprotect(std::vector<uint8_t> packet) {
    int len = (int)packet.size();
    if (srtp_unprotect(session_, packet.data(), &len) != srtp_err_status_ok)
      return {};
    packet.resize(len);
    return packet;
  }

 private:
  srtp_t session_ = nullptr;
};

struct LibsrtpSender : LibsrtpSession {
  LibsrtpSender(SrtpProfile profile, const uint8_t *key)
      : LibsrtpSession(profile, key, ssrc_any_outbound) {}
};

struct Unprotector : LibsrtpSession {
  Unprotector(SrtpProfile profile, const uint8_t *key)
      : LibsrtpSession(profile, key, ssrc_any_inbound) {}
};

std::vector<uint8_t> protect(SrtpProtector &protector, const std::vector<uint8_t> &plain) {
  std::vector<uint8_t> buffer(plain.size() + kSrtpMaxGrowth);
  memcpy(buffer.data(), plain.data(), plain.size());
  int len = protector.protect(buffer.data(), plain.size(), buffer.size());
  if (len < 0)
    return {};
  buffer.resize(len);
  return buffer;
}

}  // namespace

TEST(SrtpProfileFromNicks, OnlyTheProfilesDtlsNegotiates) {
  struct Row {
    const char *cipher, *auth;
    bool known;
    SrtpProfile profile;
  };
  const Row rows[] = {
      {"aes-128-icm", "hmac-sha1-80", true, SrtpProfile::kAes128CmHmacSha1_80},
      {"aes-128-icm", "hmac-sha1-32", true, SrtpProfile::kAes128CmHmacSha1_32},
      {"aes-256-icm", "hmac-sha1-80", false, {}},
      {"aes-128-gcm", "null", false, {}},
      {"null", "hmac-sha1-80", false, {}},
      {"aes-128-icm", "null", false, {}},
      {"", "", false, {}},
  };
  for (const Row &row : rows) {
    SrtpProfile profile = SrtpProfile::kAes128CmHmacSha1_32;
    EXPECT_EQ(srtp_profile_from_nicks(row.cipher, row.auth, &profile), row.known)
        << row.cipher << "/" << row.auth;
    if (row.known) {
      EXPECT_EQ(profile, row.profile) << row.cipher << "/" << row.auth;
    }
  }
}

TEST(SrtpGuessIndex, AsLibsrtpGuessesIt) {
  struct Row {
    uint64_t highest;
    uint16_t seq;
    int64_t index;
  };
  const Row rows[] = {
      {0, 0, 0},
      {0, 40000, 40000},     /* a first packet is always roll-over 0 */
      {32768, 65535, 65535}, /* up to the median, still no guess */
      {40000, 40001, 40001},
      {65535, 0, 65536}, /* the wrap */
      {65535, 5, 65541},
      {65536 + 3, 65530, 65530}, /* a late packet from before the wrap */
      {65536 + 40000, 2, 2 * 65536 + 2},
      {5 * 65536 + 100, 65000, 4 * 65536 + 65000},
      {40000, 7000, 65536 + 7000}, /* more than half way round: the next ROC */
  };
  for (const Row &row : rows)
    EXPECT_EQ(srtp_guess_index(row.highest, row.seq), row.index)
        << "highest " << row.highest << " seq " << row.seq;
}

TEST(SrtpProtector, SamePacketsAsLibsrtpByteForByte) {
  for (SrtpProfile profile :
       {SrtpProfile::kAes128CmHmacSha1_80, SrtpProfile::kAes128CmHmacSha1_32}) {
    auto key = test_key(9);
    SrtpProtector protector;
    std::string why;
    ASSERT_TRUE(protector.start(profile, key.data(), key.size(), &why)) << why;
    LibsrtpSender reference(profile, key.data());
    /* Across two wraps, with a late packet and payload sizes 0-199. */
    std::vector<uint16_t> seqs;
    for (uint32_t i = 0; i < 2 * 65536 + 300; i += 97)
      seqs.push_back((uint16_t)(30000 + i));
    seqs.insert(seqs.begin() + 700, (uint16_t)(seqs[699] - 3));
    for (size_t i = 0; i < seqs.size(); i++) {
      auto plain = rtp_packet(seqs[i], i % 200);
      auto expected = reference.protect(plain);
      ASSERT_FALSE(expected.empty()) << "libsrtp refused seq " << seqs[i];
      ASSERT_EQ(protect(protector, plain), expected) << "seq " << seqs[i] << ", packet " << i;
    }
  }
}

/* A retransmission stream beside the media: libsrtp counts each SSRC's
 * roll-overs on its own. */
TEST(SrtpProtector, EachSsrcHasItsOwnRollOverCounter) {
  auto key = test_key(5);
  SrtpProtector protector;
  std::string why;
  ASSERT_TRUE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), key.size(), &why));
  LibsrtpSender reference(SrtpProfile::kAes128CmHmacSha1_80, key.data());
  uint16_t media = 65000, rtx = 10;
  for (int i = 0; i < 2000; i++) {
    auto plain = i % 3 == 2 ? rtp_packet(rtx++, 30, 0xaabbccdd) : rtp_packet(media++, 60);
    ASSERT_EQ(protect(protector, plain), reference.protect(plain)) << "packet " << i;
  }
  for (uint32_t ssrc = 1; ssrc <= 14; ssrc++)
    EXPECT_FALSE(protect(protector, rtp_packet(1, 10, ssrc)).empty()) << ssrc;
  auto seventeenth = rtp_packet(1, 10, 99);
  seventeenth.resize(seventeenth.size() + kSrtpMaxGrowth);
  EXPECT_EQ(protector.protect(seventeenth.data(), 22, seventeenth.size(), &why), -1);
  EXPECT_EQ(why, "more SSRCs than a peer sends");
}

TEST(SrtpProtector, CsrcsAndAHeaderExtensionStayInTheClear) {
  auto key = test_key(4);
  SrtpProtector protector;
  std::string why;
  ASSERT_TRUE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), key.size(), &why));
  LibsrtpSender reference(SrtpProfile::kAes128CmHmacSha1_80, key.data());
  /* 2 CSRCs, then a one-byte-header extension of 2 words (RFC 8285). */
  std::vector<uint8_t> plain = {0x92, 96, 0,    7, 0, 0, 1, 0, 0x11, 0x22, 0x33,
                                0x44, 1,  2,    3, 4, 5, 6, 7, 8,    0xbe, 0xde,
                                0,    2,  0x10, 1, 0, 0, 0, 0, 0,    0};
  for (int i = 0; i < 50; i++)
    plain.push_back((uint8_t)i);
  auto wire = protect(protector, plain);
  EXPECT_EQ(wire, reference.protect(plain));
  EXPECT_EQ(0, memcmp(wire.data(), plain.data(), 32)) << "the header must stay readable";
}

TEST(SrtpProtector, TheReceiverWithTheSameKeyGetsThePacketsBack) {
  for (SrtpProfile profile :
       {SrtpProfile::kAes128CmHmacSha1_80, SrtpProfile::kAes128CmHmacSha1_32}) {
    auto key = test_key(1);
    SrtpProtector protector;
    std::string why;
    ASSERT_TRUE(protector.start(profile, key.data(), key.size(), &why)) << why;
    Unprotector receiver(profile, key.data());
    const size_t tag = profile == SrtpProfile::kAes128CmHmacSha1_80 ? 10 : 4;
    for (uint16_t seq = 65530; seq != 10; seq++) { /* across the wrap */
      auto plain = rtp_packet(seq, 80);
      auto wire = protect(protector, plain);
      ASSERT_EQ(wire.size(), plain.size() + tag);
      EXPECT_NE(0, memcmp(wire.data() + 12, plain.data() + 12, 80)) << "payload not encrypted";
      EXPECT_EQ(receiver.unprotect(wire), plain) << "seq " << seq;
    }
  }
}

TEST(SrtpProtector, AReceiverWithAnotherKeyRejectsThePackets) {
  auto key = test_key(1), other = test_key(2);
  SrtpProtector protector;
  std::string why;
  ASSERT_TRUE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), key.size(), &why));
  Unprotector receiver(SrtpProfile::kAes128CmHmacSha1_80, other.data());
  EXPECT_TRUE(receiver.unprotect(protect(protector, rtp_packet(1, 40))).empty());
}

TEST(SrtpProtector, BadInputIsRefusedWithAReason) {
  auto key = test_key(1);
  SrtpProtector protector;
  std::string why;
  uint8_t packet[64] = {0x80, 96};
  EXPECT_EQ(protector.protect(packet, 40, sizeof packet, &why), -1);
  EXPECT_EQ(why, "not started");

  EXPECT_FALSE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), 16, &why));
  EXPECT_EQ(why, "master key and salt are 16 bytes, expected 30");
  EXPECT_FALSE(protector.started());

  ASSERT_TRUE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), key.size(), &why));
  EXPECT_FALSE(protector.start(SrtpProfile::kAes128CmHmacSha1_80, key.data(), key.size(), &why));
  EXPECT_EQ(why, "already started");

  EXPECT_EQ(protector.protect(packet, 8, sizeof packet, &why), -1);
  EXPECT_EQ(why, "not an RTP packet");
  packet[0] = 0x40; /* version 1 */
  EXPECT_EQ(protector.protect(packet, 40, sizeof packet, &why), -1);
  EXPECT_EQ(why, "not an RTP packet");
  packet[0] = 0x8f; /* 15 CSRCs: 72 bytes of header */
  EXPECT_EQ(protector.protect(packet, 40, sizeof packet, &why), -1);
  EXPECT_EQ(why, "not an RTP packet");
  packet[0] = 0x80;
  EXPECT_EQ(protector.protect(packet, 60, sizeof packet, &why), -1);
  EXPECT_EQ(why, "no room for the tag");
  EXPECT_EQ(protector.protect(packet, 40, sizeof packet, &why), 50);

  /* The same index twice would reuse its keystream. */
  EXPECT_EQ(protector.protect(packet, 40, sizeof packet, &why), -1);
  EXPECT_EQ(why, "sequence number already protected");
  auto later = rtp_packet(200, 20);
  later.resize(later.size() + kSrtpMaxGrowth);
  EXPECT_EQ(protector.protect(later.data(), 32, later.size(), &why), 42) << why;
  auto old = rtp_packet(100, 20);
  old.resize(old.size() + kSrtpMaxGrowth);
  EXPECT_EQ(protector.protect(old.data(), 32, old.size(), &why), -1);
  EXPECT_EQ(why, "sequence number too old to protect");
}
