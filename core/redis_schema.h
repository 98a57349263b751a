// The Redis signaling schema shared by guides and attendees: key and channel names, the
// names that go into them, and the JSON stored under the keys or published on the channels.
//
// Decoders are strict (right JSON types, required fields present, ids valid), ignore unknown
// fields, never throw, and explain the first problem in *error.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace tourcast {

enum class NameKind { kTour, kLanguage, kParticipantId };

// 1-64 characters of [A-Za-z0-9_-]; participant ids may also contain '.'. The error names the
// kind, quotes the value and says which character at which (0-based) position is wrong, e.g.
// tour name "my tour" is invalid: character ' ' at position 2 is not allowed (use 1-64
// letters, digits, '-' or '_')
bool validate_name(NameKind kind, std::string_view name, std::string *error);

// Callers validate the parts first; these only assemble them.
std::string coordination_key(std::string_view tour, std::string_view language);
std::string ice_candidates_key(std::string_view tour, std::string_view language);
std::string participant_key(std::string_view tour, std::string_view language, std::string_view id);
std::string participant_key_pattern(std::string_view tour, std::string_view language);
// The guide's diagnostic report of its channel (diagnostics_to_json), refreshed on its
// heartbeat and expiring with it.
std::string diagnostics_key(std::string_view tour, std::string_view language);
std::string offer_key(std::string_view tour, std::string_view language,
                      std::string_view attendee_id);
std::string answer_key(std::string_view tour, std::string_view language,
                       std::string_view attendee_id);
// Pub/sub channel of one participant.
std::string signal_channel(std::string_view tour, std::string_view language,
                           std::string_view recipient_id);
// Pub/sub channel every participant of the tour/language listens to.
std::string channel_broadcast(std::string_view tour, std::string_view language);

// Value of webrtc:coordination:{tour}:{language}.
struct ParticipantStatus {
  bool connected = false;
  int64_t last_seen = 0;
  bool ice_gathering_complete = false;
};

enum class ConnectionPhase { kInitial, kOfferSent, kAnswerSent, kIceExchange, kConnected, kFailed };
// "initial", "offer_sent", "answer_sent", "ice_exchange", "connected", "failed".
const char *to_string(ConnectionPhase phase);
bool connection_phase_from_string(std::string_view text, ConnectionPhase *out);

struct CoordinationState {
  bool guide_ready = false;                            // guideReady
  bool attendee_ready = false;                         // attendeeReady
  bool ice_exchange_started = false;                   // iceExchangeStarted
  int64_t last_heartbeat = 0;                          // lastHeartbeat, ms since the epoch
  ConnectionPhase phase = ConnectionPhase::kInitial;   // connectionPhase
  ParticipantStatus guide;                             // participants.guide
  std::map<std::string, ParticipantStatus> attendees;  // participants.attendees
};
// Every field is required except participants.attendees (absent means none).
std::string encode_coordination(const CoordinationState &state);
bool decode_coordination(std::string_view json, CoordinationState *out, std::string *error);

enum class Role { kGuide, kAttendee };
const char *to_string(Role role);  // "guide", "attendee"
bool role_from_string(std::string_view text, Role *out);

// Value of webrtc:participant:{tour}:{language}:{id}.
struct ParticipantRecord {
  std::string id;
  Role role = Role::kAttendee;
  std::string tour;  // tourId
  std::string language;
  int64_t joined_at = 0;  // joinedAt
  int64_t last_seen = 0;  // lastSeen
  std::string state;      // a ConnectionState name, e.g. "connected"
  bool connected = false;
  bool ice_gathering_complete = false;  // iceGatheringComplete
  std::string profile;                  // optional, may be empty
  // Guide: recoveries its attendees needed, per level (ice_restart, signaling_reset,
  // full_reconnect), since it started; optional, written by a guide only.
  bool has_recoveries = false;
  std::array<int64_t, 3> recoveries{};
};
std::string encode_participant(const ParticipantRecord &record);
bool decode_participant(std::string_view json, ParticipantRecord *out, std::string *error);

// kPeerOffer is a join that carries the joiner's own offer (a browser joining over WHEP): the
// guide answers it instead of offering.
enum class SignalType {
  kJoin,
  kLeave,
  kOffer,
  kAnswer,
  kCandidate,
  kGuideReady,
  kEndOfCandidates,
  kStatus,
  kRecover,
  kPeerOffer,
  kQueued,
};
// "join", "leave", "offer", "answer", "candidate", "guide-ready", "end-of-candidates", "status",
// "recover", "peer-offer", "queued". A status message tells the guide what an attendee says about
// itself (profile, battery, a level to be held at); recover asks the guide for a recovery level;
// peer-offer carries a browser listener's offer for the guide to answer; queued is the guide
// telling an attendee its join (session: the join id) is taken and its offer will come, so the
// attendee keeps waiting instead of timing out during a join storm.
const char *to_string(SignalType type);
bool signal_type_from_string(std::string_view text, SignalType *out);

// Pub/sub payload. Every message needs type, from and ts; offer/answer/peer-offer a non-empty
// sdp (peer-offer also a session); queued a session (waitMs is optional); candidate a non-empty
// candidate, sdpMLineIndex and seq >= 1; recover a level that is a recovery level name
// ("ice_restart", "signaling_reset", "full_reconnect"). Documents over 256 KiB are refused.
struct SignalMessage {
  SignalType type = SignalType::kJoin;
  std::string from;
  std::string to;  // empty: broadcast
  std::string sdp;
  std::string candidate;
  uint32_t mline = 0;     // sdpMLineIndex
  uint64_t sequence = 0;  // seq
  // Opaque peer-session id, so messages of an abandoned session can be ignored.
  std::string session;
  int64_t timestamp = 0;  // ts
  // join, status and peer-offer: the attendee's device/network profile ("mobile/3g"; may be
  // empty, at most 64 bytes; the guide parses it) and whether it saves battery
  // ("batterySaving", sent only when true).
  std::string profile;
  bool battery_saving = false;
  // join, status and peer-offer: the quality level the attendee asks to be held at ("qualityLevel":
  // a quality level name); empty lets the guide choose from the attendee's reports.
  std::string quality_level;
  // recover: the recovery level the attendee asks its guide for.
  std::string level;
  // queued: how long ("waitMs") the attendee may wait for the guide's next word (its offer or
  // another queued) before giving up; 0: not said, the attendee's own timeout applies.
  uint32_t wait_ms = 0;
};
constexpr size_t kMaxSignalBytes = 256 * 1024;
constexpr size_t kMaxProfileBytes = 64;
std::string encode_signal(const SignalMessage &message);
bool decode_signal(std::string_view json, SignalMessage *out, std::string *error);

// Value of webrtc:offer:{tour}:{language}:{attendee}: a placeholder until the guide stores
// the real offer. {"placeholder":true,"ts":...} or
// {"placeholder":false,"sdp":"...","from":"guide-id","session":"...","ts":...}
struct OfferRecord {
  bool placeholder = true;
  std::string sdp;
  std::string from;
  std::string session;  // optional, may be empty
  int64_t timestamp = 0;
};
std::string encode_offer(const OfferRecord &record);
bool decode_offer(std::string_view json, OfferRecord *out, std::string *error);

// Entry RPUSHed to webrtc:ice_candidates:{tour}:{language}. Fields from, seq (>= 1),
// sdpMLineIndex, candidate (non-empty), priority and ts are required; to (empty: everyone)
// and session are optional.
struct CandidateRecord {
  std::string from;
  std::string to;
  std::string session;
  uint64_t sequence = 0;  // seq
  uint32_t mline = 0;     // sdpMLineIndex
  std::string candidate;
  uint32_t priority = 0;
  int64_t timestamp = 0;  // ts
};
std::string encode_candidate(const CandidateRecord &record);
bool decode_candidate(std::string_view json, CandidateRecord *out, std::string *error);

// redis://[[user][:password]@]host[:port][/db]. host is a name, an IPv4 address or an
// [IPv6] address; port 1-65535 (default 6379); db 0-2147483647 (default 0); user and password
// are percent-decoded. The error quotes the URL with its password masked, e.g.
// redis-url "http://x" is invalid: scheme must be redis://
struct RedisUrl {
  std::string host;
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
};
bool parse_redis_url(std::string_view url, RedisUrl *out, std::string *error);
// Canonical form (port and db always present); the password shows as "***" unless
// hide_password is false.
std::string redis_url_to_string(const RedisUrl &url, bool hide_password = true);

}  // namespace tourcast
