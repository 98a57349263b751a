#include <gtest/gtest.h>

#include "server_protocol.h"

using namespace tourcast;

namespace {
const char *kChromeOffer =
    "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:0 PCMU/8000\r\n";
}  // namespace

TEST(ServerSdp, AcceptsABrowserOffer) {
  std::string error;
  EXPECT_TRUE(check_sdp_offer(kChromeOffer, &error)) << error;
  EXPECT_EQ(opus_payload_type(kChromeOffer), 111);
}

TEST(ServerSdp, RefusesWithAReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "SDP must start with \"v=0\""},
      {"hello", "SDP must start with \"v=0\""},
      {"v=0\r\nm=video 9 RTP/AVP 96\r\n", "SDP has no audio media section (m=audio)"},
      {"v=0\r\nnonsense\r\nm=audio 9 RTP/AVP 0\r\n",
       "SDP line 2 is not \"<letter>=<value>\": \"nonsense\""},
      {"v=0\r\na=x\x01y\r\n",
       "SDP line 2 has a byte '\\x01' at column 4 is not printable ASCII"},
      {"v=0\r\n" + std::string(kMaxSdpBytes, 'a'), "SDP is 65541 bytes, more than 65536"},
  };
  for (const auto &[sdp, expected] : cases) {
    std::string error;
    EXPECT_FALSE(check_sdp_offer(sdp, &error)) << sdp;
    EXPECT_EQ(error, expected);
  }
}

TEST(ServerSdp, OpusPayloadType) {
  const std::pair<const char *, int> cases[] = {
      {"v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:96 OPUS/48000/2\r\n", 96},
      {"v=0\nm=audio 9 RTP/AVP 96\na=rtpmap:109 opus/48000\n", 109},
      {"v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", -1},
      {"v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n", -1},
      {"v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:300 opus/48000/2\r\n", -1},
      {"v=0\r\nm=audio 9 RTP/AVP 96\r\na=rtpmap:96 opus/480000/2\r\n", -1},
  };
  for (const auto &[sdp, pt] : cases)
    EXPECT_EQ(opus_payload_type(sdp), pt) << sdp;
}

TEST(ServerFragment, ParsesCandidatesPerSection) {
  SdpFragment f;
  std::string error;
  ASSERT_TRUE(parse_trickle_fragment(
      "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\n"
      "a=mid:0\r\na=candidate:1 1 udp 2122260223 198.18.0.2 50000 typ host\r\n"
      "m=audio 9 RTP/AVP 0\r\na=candidate:2 1 udp 2122260222 198.18.0.2 50001 typ host\r\n"
      "a=end-of-candidates\r\n",
      &f, &error))
      << error;
  EXPECT_EQ(f.ice_ufrag, "EsAw");
  EXPECT_EQ(f.ice_pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  ASSERT_EQ(f.candidates.size(), 2u);
  EXPECT_EQ(f.candidates[0].mline, 0u);
  EXPECT_EQ(f.candidates[0].candidate, "candidate:1 1 udp 2122260223 198.18.0.2 50000 typ host");
  EXPECT_EQ(f.candidates[1].mline, 1u);
  EXPECT_TRUE(f.end_of_candidates);
}

TEST(ServerFragment, RefusesWithAReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"a=candidate:1 1 udp\r\n",
       "fragment line 1 is not a complete ICE candidate: \"a=candidate:1 1 udp\""},
      {"x=1\r\n", "fragment line 1 is not allowed in a trickle-ice-sdpfrag: \"x=1\""},
      {"a=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\x7f\r\n",
       "fragment line 2 has a byte '\\x7F' at column 41 is not printable ASCII"},
  };
  for (const auto &[text, expected] : cases) {
    SdpFragment f;
    std::string error;
    EXPECT_FALSE(parse_trickle_fragment(text, &f, &error)) << text;
    EXPECT_EQ(error, expected);
  }
}

TEST(ServerFragment, CandidatesGoIntoTheirSection) {
  std::string sdp = "v=0\r\nm=audio 9 X 0\r\na=mid:0\r\nm=video 9 X 96\r\na=mid:1\r\n";
  std::string merged = add_candidates_to_sdp(
      sdp, {{0, "candidate:a 1 udp 1 1.1.1.1 1 typ host"},
            {1, "candidate:b 1 udp 1 1.1.1.1 2 typ host"}});
  EXPECT_EQ(merged,
            "v=0\r\nm=audio 9 X 0\r\na=mid:0\r\na=candidate:a 1 udp 1 1.1.1.1 1 typ host\r\n"
            "m=video 9 X 96\r\na=mid:1\r\na=candidate:b 1 udp 1 1.1.1.1 2 typ host\r\n");
}

TEST(ServerTokens, ParsesTheFile) {
  TourTokens tokens;
  std::string error;
  ASSERT_TRUE(parse_token_file("# guides\n\nmuseum  abcdefghijklmnop # lobby\n"
                               "museum\tqrstuvwxyz0123456789\npark 0123456789abcdef-_\n",
                               &tokens, &error))
      << error;
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens["museum"],
            (std::vector<std::string>{"abcdefghijklmnop", "qrstuvwxyz0123456789"}));
  EXPECT_EQ(tokens["park"], std::vector<std::string>{"0123456789abcdef-_"});
}

TEST(ServerTokens, RefusesWithAReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"museum\n", "token file line 1: expected \"<tour> <token>\""},
      {"museum short\n", "token file line 1: the token must be 16-256 characters long (it has 5)"},
      {"my:tour abcdefghijklmnop\n",
       "token file line 1: tour name \"my:tour\" is invalid: character ':' at position 2 is not "
       "allowed (use 1-64 letters, digits, '-' or '_')"},
      {"a abcdefghijklmnop\nb abcdefghijklmnop\n",
       "token file line 2: this token already belongs to tour a"},
      {"a abcdefghijklmnop!\n",
       "token file line 1: the token has a character '!' (allowed: letters, digits and ._~+/=-)"},
  };
  for (const auto &[text, expected] : cases) {
    TourTokens tokens;
    std::string error;
    EXPECT_FALSE(parse_token_file(text, &tokens, &error)) << text;
    EXPECT_EQ(error, expected);
  }
}

TEST(ServerTokens, Bearer) {
  std::string token;
  EXPECT_TRUE(parse_bearer("Bearer abc", &token));
  EXPECT_EQ(token, "abc");
  EXPECT_TRUE(parse_bearer("bearer   xyz ", &token));
  EXPECT_EQ(token, "xyz");
  EXPECT_FALSE(parse_bearer("Basic abc", &token));
  EXPECT_FALSE(parse_bearer("Bearer ", &token));
  EXPECT_FALSE(parse_bearer("Bearer a b", &token));
  EXPECT_FALSE(parse_bearer("", &token));
}

TEST(ServerJson, SeedOfferRequest) {
  SeedOfferRequest r;
  std::string error;
  std::string sdp = "v=0\\r\\nm=audio 9 UDP/TLS/RTP/SAVPF 111\\r\\n";
  ASSERT_TRUE(decode_seed_offer_request(
      R"({"tourId":"museum","language":"en","offer":{"type":"offer","sdp":")" + sdp + "\"}}", &r,
      &error))
      << error;
  EXPECT_EQ(r.tour, "museum");
  EXPECT_EQ(r.language, "en");
  EXPECT_EQ(r.sdp, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
  ASSERT_TRUE(decode_seed_offer_request(
      R"({"tourId":"museum","language":"en","offer":")" + sdp + "\"}", &r, &error))
      << error;
  const std::pair<std::string, std::string> cases[] = {
      {"{", "request JSON: not valid JSON"},
      {R"({"language":"en","offer":"v=0"})", "request JSON: field 'tourId' is missing"},
      {R"({"tourId":"m","offer":"v=0"})", "request JSON: field 'language' is missing"},
      {R"({"tourId":"m","language":"en"})", "request JSON: field 'offer' is missing"},
      {R"({"tourId":"m","language":"en","offer":"hello"})",
       "request JSON: field 'offer' SDP must start with \"v=0\""},
      {R"({"tourId":"m","language":"en","offer":{"type":"answer","sdp":"v=0"}})",
       "request JSON: field 'offer.type' must be \"offer\""},
      {R"({"tourId":"m","language":"en","offer":5})",
       "request JSON: field 'offer' must be an SDP string or {\"type\":\"offer\",\"sdp\":...}"},
  };
  for (const auto &[json, expected] : cases) {
    EXPECT_FALSE(decode_seed_offer_request(json, &r, &error)) << json;
    EXPECT_EQ(error, expected);
  }
}

TEST(ServerJson, AttendeeReport) {
  AttendeeReport r;
  std::string error;
  ASSERT_TRUE(decode_attendee_report(
      R"({"state":"connected","rttMs":20.5,"packetsLost":2,"packetsReceived":98,"recoveries":1})",
      &r, &error))
      << error;
  EXPECT_TRUE(r.has_rtt);
  EXPECT_DOUBLE_EQ(r.rtt_ms, 20.5);
  EXPECT_FALSE(r.has_jitter);
  EXPECT_EQ(r.packets_lost, 2);
  EXPECT_EQ(r.recoveries, 1u);
  EXPECT_FALSE(decode_attendee_report(R"({"state":"dancing"})", &r, &error));
  EXPECT_EQ(error,
            "report JSON: field 'state' has unknown value \"dancing\" (expected an "
            "RTCPeerConnection state)");
  EXPECT_FALSE(decode_attendee_report(R"({"state":"new","rttMs":-1})", &r, &error));
  EXPECT_EQ(error, "report JSON: field 'rttMs' must be between 0 and 600000");
}

TEST(ServerJson, ResourceRoundTrip) {
  HttpResource r;
  r.kind = "whep";
  r.tour = "museum";
  r.language = "en";
  r.participant = "whep-00112233";
  r.session = "s1";
  r.server = "srv";
  r.created = 5;
  r.next_sequence = 4;
  HttpResource back;
  std::string error;
  ASSERT_TRUE(decode_http_resource(encode_http_resource(r), &back, &error)) << error;
  EXPECT_EQ(encode_http_resource(back), encode_http_resource(r));
  EXPECT_FALSE(decode_http_resource(R"({"kind":"x"})", &back, &error));
}

TEST(ServerPaths, ChannelPathAndIds) {
  std::string tour, language, error;
  ASSERT_TRUE(parse_channel_path("/whep/museum/en", "/whep/", &tour, &language, &error));
  EXPECT_EQ(tour, "museum");
  EXPECT_EQ(language, "en");
  EXPECT_FALSE(parse_channel_path("/whep/museum", "/whep/", &tour, &language, &error));
  EXPECT_EQ(error, "path must be /whep/{tour}/{language}");
  EXPECT_FALSE(parse_channel_path("/whep/mu seum/en", "/whep/", &tour, &language, &error));
  EXPECT_FALSE(parse_channel_path("/whep/a/b/c", "/whep/", &tour, &language, &error));
  EXPECT_TRUE(is_resource_id("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(is_resource_id("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(is_resource_id("../etc"));
}
