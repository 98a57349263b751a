// What tourcast-server reads from HTTP clients and keeps in Redis, as pure functions: the
// WHEP/WHIP bodies (SDP offers, trickle-ICE fragments), the seed's JSON requests, the token
// file, the WHEP resource record and the quality reports of browser attendees.
//
// Like the Redis codecs these never throw, refuse what they do not understand with a message
// naming the first problem, and are fuzzed (tests/fuzz/fuzz_server_*).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tourcast {

// Bodies larger than this are refused (413) before anything parses them.
constexpr size_t kMaxSdpBytes = 64 * 1024;

// A session description a browser may send: starts with "v=0", lines of printable ASCII
// (CR LF or LF), at most kMaxSdpBytes, at least one "m=audio" line and no line over 4 KiB.
// The server also parses it with GStreamer's SDP parser; this is the cheap first filter and
// gives the error message.
bool check_sdp_offer(std::string_view sdp, std::string *error);

// Payload type that an SDP maps to OPUS/48000 in its first audio section, or -1.
int opus_payload_type(std::string_view sdp);

// Text of the ICE candidates in an SDP ("a=candidate:..." without "a="), with the index of
// the media section each belongs to; a candidate before any m= line belongs to section 0.
struct SdpCandidate {
  uint32_t mline = 0;
  std::string candidate;  // "candidate:..."
};

// application/trickle-ice-sdpfrag (RFC 8840) as WHEP/WHIP clients PATCH it: optional
// a=ice-ufrag/a=ice-pwd, optional m= lines (each starts a new media section), a=mid,
// a=candidate and a=end-of-candidates lines. Anything else is an error. At most 100
// candidates, kMaxSdpBytes.
struct SdpFragment {
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<SdpCandidate> candidates;
  bool end_of_candidates = false;
};
bool parse_trickle_fragment(std::string_view text, SdpFragment *out, std::string *error);
// Adds the candidates as a=candidate lines at the end of each media section they belong to
// (used to put the guide's gathered candidates into the answer a WHEP client gets).
std::string add_candidates_to_sdp(std::string_view sdp, const std::vector<SdpCandidate> &cands);

// Token file: one "tour token" pair per line, '#' starts a comment, blank lines ignored; a
// tour may have several tokens (one per guide device), a token belongs to one tour. Tokens are
// 16-256 characters of [A-Za-z0-9._~+/=-].
using TourTokens = std::map<std::string, std::vector<std::string>>;
bool parse_token_file(std::string_view text, TourTokens *out, std::string *error);

// "Bearer <token>" (scheme case-insensitive) -> token; false when absent or malformed.
bool parse_bearer(std::string_view header, std::string *token);

// POST /api/tour/offer body: {"language","tourId","offer"}, offer an SDP string or an
// RTCSessionDescriptionInit {"type":"offer","sdp":...}.
struct SeedOfferRequest {
  std::string tour;
  std::string language;
  std::string sdp;
};
bool decode_seed_offer_request(std::string_view json, SeedOfferRequest *out, std::string *error);
std::string encode_seed_offer_request(const SeedOfferRequest &request);

// A browser attendee's report, JSON {"rttMs","jitterMs","packetsLost","packetsReceived",
// "state","recoveries"}; all optional except state. Counters are those of the last interval.
struct AttendeeReport {
  bool has_rtt = false;
  double rtt_ms = 0;
  bool has_jitter = false;
  double jitter_ms = 0;
  int64_t packets_lost = 0;
  int64_t packets_received = 0;
  std::string state;     // an RTCPeerConnection connectionState
  uint32_t recoveries = 0;  // reconnections the page made so far
};
bool decode_attendee_report(std::string_view json, AttendeeReport *out, std::string *error);
std::string encode_attendee_report(const AttendeeReport &report);

// Value of webrtc:whep:{resource}: a browser attendee (or guide, kind "whip") the server
// created; any server sharing the Redis can PATCH/DELETE it.
struct HttpResource {
  std::string kind;  // "whep" or "whip"
  std::string tour;
  std::string language;
  std::string participant;  // participant id the guide knows it by
  std::string session;
  std::string server;  // id of the server process that made it
  int64_t created = 0;  // ms since the epoch
  uint64_t next_sequence = 1;  // next candidate sequence number (whep)
};
bool decode_http_resource(std::string_view json, HttpResource *out, std::string *error);
std::string encode_http_resource(const HttpResource &resource);
std::string http_resource_key(std::string_view id);
// The lock that says who publishes for a channel: webrtc:publisher:{tour}:{language}.
std::string publisher_key(std::string_view tour, std::string_view language);
// Resource ids: 32 lower-case hex digits.
bool is_resource_id(std::string_view id);

// Path "/whep/{tour}/{language}" and the like: splits the two names after `prefix` and
// validates them; false with the error (naming the bad part) otherwise.
bool parse_channel_path(std::string_view path, std::string_view prefix, std::string *tour,
                        std::string *language, std::string *error);

}  // namespace tourcast
