#include "redis_schema.h"

#include <initializer_list>
#include <string>
#include <utility>

#include "adaptation.h"
#include "backoff.h"
#include "json_fields.h"
#include "state_machine.h"
#include "text_util.h"

namespace tourcast {
namespace {

constexpr size_t kMaxNameLength = 64;

bool is_name_char(char c, bool allow_dot) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || (allow_dot && c == '.');
}

std::string key(std::initializer_list<std::string_view> parts) {
  std::string joined = "webrtc";
  for (std::string_view part : parts) {
    joined += ':';
    joined += part;
  }
  return joined;
}

// Looks `text` up in a table of names indexed by enum value.
template <typename Enum, size_t N>
bool enum_from_string(const char *const (&names)[N], std::string_view text, Enum *out) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

template <size_t N>
std::string list_names(const char *const (&names)[N]) {
  std::string list;
  for (size_t i = 0; i < N; ++i)
    list += std::string(i == 0 ? "" : ", ") + names[i];
  return list;
}

template <typename Enum, size_t N>
const char *enum_to_string(const char *const (&names)[N], Enum value) {
  const auto index = static_cast<size_t>(value);
  return index < N ? names[index] : "unknown";
}

constexpr const char *kPhaseNames[] = {"initial",      "offer_sent", "answer_sent",
                                       "ice_exchange", "connected",  "failed"};
constexpr const char *kRoleNames[] = {"guide", "attendee"};
constexpr const char *kSignalTypeNames[] = {
    "join",   "leave",   "offer",      "answer", "candidate", "guide-ready", "end-of-candidates",
    "status", "recover", "peer-offer", "queued"};

// Reads a string field that must be one of `names`.
template <typename Enum, size_t N>
bool read_enum(FieldReader *reader, const Json &object, const char *key,
               const char *const (&names)[N], Enum *out) {
  std::string text;
  if (!reader->read(object, "", key, &text))
    return false;
  if (!enum_from_string(names, text, out)) {
    return reader->field_problem(key, "has unknown value " + quote_for_message(text) +
                                          " (expected one of " + list_names(names) + ")");
  }
  return true;
}

Json encode_status(const ParticipantStatus &status) {
  return Json{{"connected", status.connected},
              {"lastSeen", status.last_seen},
              {"iceGatheringComplete", status.ice_gathering_complete}};
}

bool decode_status(FieldReader *reader, const Json &object, const std::string &prefix,
                   ParticipantStatus *out) {
  return reader->read(object, prefix, "connected", &out->connected) &&
         reader->read(object, prefix, "lastSeen", &out->last_seen) &&
         reader->read(object, prefix, "iceGatheringComplete", &out->ice_gathering_complete);
}

bool decode_attendees(FieldReader *reader, const Json &attendees,
                      std::map<std::string, ParticipantStatus> *out) {
  const std::string prefix = "participants.attendees.";
  for (const auto &item : attendees.items()) {
    std::string why;
    if (!validate_name(NameKind::kParticipantId, item.key(), &why)) {
      return reader->fail("key in 'participants.attendees': " + why);
    }
    const std::string path = prefix + item.key();
    if (!item.value().is_object())
      return reader->field_problem(path, "must be an object");
    if (!decode_status(reader, item.value(), path + ".", &(*out)[item.key()]))
      return false;
  }
  return true;
}

}  // namespace

bool validate_name(NameKind kind, std::string_view name, std::string *error) {
  const bool participant = kind == NameKind::kParticipantId;
  auto fail = [&](const std::string &problem) {
    if (error != nullptr) {
      const char *label = kind == NameKind::kTour       ? "tour name"
                          : kind == NameKind::kLanguage ? "language"
                                                        : "participant id";
      const char *allowed = participant ? "(use 1-64 letters, digits, '-', '_' or '.')"
                                        : "(use 1-64 letters, digits, '-' or '_')";
      *error = std::string(label) + " " + quote_for_message(name) + " is invalid: " + problem +
               " " + allowed;
    }
    return false;
  };
  if (name.empty())
    return fail("it is empty");
  if (name.size() > kMaxNameLength) {
    return fail("it is " + std::to_string(name.size()) + " characters long");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], participant)) {
      return fail("character " + describe_byte(name[i]) + " at position " + std::to_string(i) +
                  " is not allowed");
    }
  }
  return true;
}

std::string coordination_key(std::string_view tour, std::string_view language) {
  return key({"coordination", tour, language});
}
std::string ice_candidates_key(std::string_view tour, std::string_view language) {
  return key({"ice_candidates", tour, language});
}
std::string diagnostics_key(std::string_view tour, std::string_view language) {
  return key({"diagnostics", tour, language});
}
std::string participant_key(std::string_view tour, std::string_view language, std::string_view id) {
  return key({"participant", tour, language, id});
}
std::string participant_key_pattern(std::string_view tour, std::string_view language) {
  return key({"participant", tour, language, "*"});
}
std::string offer_key(std::string_view tour, std::string_view language,
                      std::string_view attendee_id) {
  return key({"offer", tour, language, attendee_id});
}
std::string answer_key(std::string_view tour, std::string_view language,
                       std::string_view attendee_id) {
  return key({"answer", tour, language, attendee_id});
}
std::string signal_channel(std::string_view tour, std::string_view language,
                           std::string_view recipient_id) {
  return key({"signal", tour, language, recipient_id});
}
std::string channel_broadcast(std::string_view tour, std::string_view language) {
  return key({"broadcast", tour, language});
}

const char *to_string(ConnectionPhase phase) {
  return enum_to_string(kPhaseNames, phase);
}
bool connection_phase_from_string(std::string_view text, ConnectionPhase *out) {
  return enum_from_string(kPhaseNames, text, out);
}
const char *to_string(Role role) {
  return enum_to_string(kRoleNames, role);
}
bool role_from_string(std::string_view text, Role *out) {
  return enum_from_string(kRoleNames, text, out);
}
const char *to_string(SignalType type) {
  return enum_to_string(kSignalTypeNames, type);
}
bool signal_type_from_string(std::string_view text, SignalType *out) {
  return enum_from_string(kSignalTypeNames, text, out);
}

std::string encode_coordination(const CoordinationState &state) {
  Json attendees = Json::object();
  for (const auto &[id, status] : state.attendees)
    attendees[id] = encode_status(status);
  return dump_json(Json{
      {"guideReady", state.guide_ready},
      {"attendeeReady", state.attendee_ready},
      {"iceExchangeStarted", state.ice_exchange_started},
      {"lastHeartbeat", state.last_heartbeat},
      {"connectionPhase", to_string(state.phase)},
      {"participants", {{"guide", encode_status(state.guide)}, {"attendees", attendees}}},
  });
}

bool decode_coordination(std::string_view json, CoordinationState *out, std::string *error) {
  FieldReader reader("coordination JSON", error);
  Json root;
  CoordinationState state;
  const Json *participants = nullptr;
  const Json *guide = nullptr;
  const Json *attendees = nullptr;
  if (!reader.parse_object(json, &root) ||
      !reader.read(root, "", "guideReady", &state.guide_ready) ||
      !reader.read(root, "", "attendeeReady", &state.attendee_ready) ||
      !reader.read(root, "", "iceExchangeStarted", &state.ice_exchange_started) ||
      !reader.read(root, "", "lastHeartbeat", &state.last_heartbeat) ||
      !read_enum(&reader, root, "connectionPhase", kPhaseNames, &state.phase) ||
      !reader.object(root, "", "participants", &participants) ||
      !reader.object(*participants, "participants.", "guide", &guide) ||
      !decode_status(&reader, *guide, "participants.guide.", &state.guide) ||
      !reader.object(*participants, "participants.", "attendees", &attendees,
                     Presence::kOptional)) {
    return false;
  }
  if (attendees != nullptr && !decode_attendees(&reader, *attendees, &state.attendees)) {
    return false;
  }
  *out = std::move(state);
  return true;
}

std::string encode_participant(const ParticipantRecord &record) {
  Json root{
      {"id", record.id},
      {"role", to_string(record.role)},
      {"tourId", record.tour},
      {"language", record.language},
      {"joinedAt", record.joined_at},
      {"lastSeen", record.last_seen},
      {"state", record.state},
      {"connected", record.connected},
      {"iceGatheringComplete", record.ice_gathering_complete},
      {"profile", record.profile},
  };
  if (record.has_recoveries) {
    Json recoveries = Json::object();
    for (int i = 0; i < kRecoveryLevelCount; i++)
      recoveries[to_string(static_cast<RecoveryLevel>(i))] = record.recoveries[i];
    root["recoveries"] = recoveries;
  }
  return dump_json(root);
}

bool decode_participant(std::string_view json, ParticipantRecord *out, std::string *error) {
  FieldReader reader("participant JSON", error);
  Json root;
  ParticipantRecord record;
  if (!reader.parse_object(json, &root) ||
      !reader.read_name(root, "", "id", NameKind::kParticipantId, &record.id) ||
      !read_enum(&reader, root, "role", kRoleNames, &record.role) ||
      !reader.read_name(root, "", "tourId", NameKind::kTour, &record.tour) ||
      !reader.read_name(root, "", "language", NameKind::kLanguage, &record.language) ||
      !reader.read(root, "", "joinedAt", &record.joined_at) ||
      !reader.read(root, "", "lastSeen", &record.last_seen) ||
      !reader.read(root, "", "state", &record.state) ||
      !reader.read(root, "", "connected", &record.connected) ||
      !reader.read(root, "", "iceGatheringComplete", &record.ice_gathering_complete) ||
      !reader.read(root, "", "profile", &record.profile, Presence::kOptional)) {
    return false;
  }
  const Json *recoveries = nullptr;
  if (!reader.object(root, "", "recoveries", &recoveries, Presence::kOptional))
    return false;
  if (recoveries) {
    record.has_recoveries = true;
    for (int i = 0; i < kRecoveryLevelCount; i++) {
      if (!reader.read(*recoveries, "recoveries.", to_string(static_cast<RecoveryLevel>(i)),
                       &record.recoveries[i], Presence::kOptional))
        return false;
    }
  }
  ConnectionState state;
  if (!connection_state_from_string(record.state, &state)) {
    return reader.field_problem("state", "has unknown value " + quote_for_message(record.state) +
                                             " (expected a connection state such as "
                                             "\"connected\")");
  }
  *out = std::move(record);
  return true;
}

std::string encode_signal(const SignalMessage &message) {
  Json root{{"type", to_string(message.type)}, {"from", message.from}, {"ts", message.timestamp}};
  if (!message.to.empty())
    root["to"] = message.to;
  if (!message.session.empty())
    root["session"] = message.session;
  if (!message.sdp.empty())
    root["sdp"] = message.sdp;
  if (!message.candidate.empty())
    root["candidate"] = message.candidate;
  if (message.type == SignalType::kCandidate || message.mline != 0) {
    root["sdpMLineIndex"] = message.mline;
  }
  if (message.type == SignalType::kCandidate || message.sequence != 0) {
    root["seq"] = message.sequence;
  }
  if (message.type == SignalType::kJoin || message.type == SignalType::kStatus ||
      message.type == SignalType::kPeerOffer) {
    if (!message.profile.empty())
      root["profile"] = message.profile;
    if (message.battery_saving)
      root["batterySaving"] = true;
    if (!message.quality_level.empty())
      root["qualityLevel"] = message.quality_level;
  }
  if (!message.level.empty())
    root["level"] = message.level;
  if (message.wait_ms != 0)
    root["waitMs"] = message.wait_ms;
  return dump_json(root);
}

bool decode_signal(std::string_view json, SignalMessage *out, std::string *error) {
  FieldReader reader("signal JSON", error);
  if (json.size() > kMaxSignalBytes) {
    return reader.fail("document is " + std::to_string(json.size()) +
                       " bytes, more than the 256 KiB limit");
  }
  Json root;
  SignalMessage message;
  if (!reader.parse_object(json, &root) ||
      !read_enum(&reader, root, "type", kSignalTypeNames, &message.type) ||
      !reader.read_name(root, "", "from", NameKind::kParticipantId, &message.from) ||
      !reader.read(root, "", "ts", &message.timestamp) ||
      !reader.read_name(root, "", "to", NameKind::kParticipantId, &message.to,
                        Presence::kOptional) ||
      !reader.read(root, "", "session", &message.session, Presence::kOptional)) {
    return false;
  }
  const bool has_sdp = message.type == SignalType::kOffer || message.type == SignalType::kAnswer ||
                       message.type == SignalType::kPeerOffer;
  if (message.type == SignalType::kPeerOffer && message.session.empty())
    return reader.field_problem("session", "is required for a peer-offer");
  if (message.type == SignalType::kQueued && message.session.empty())
    return reader.field_problem("session", "is required for queued (the join it acknowledges)");
  const bool is_candidate = message.type == SignalType::kCandidate;
  const Presence candidate_fields = is_candidate ? Presence::kRequired : Presence::kOptional;
  if (has_sdp ? !reader.read_non_empty(root, "", "sdp", &message.sdp)
              : !reader.read(root, "", "sdp", &message.sdp, Presence::kOptional)) {
    return false;
  }
  if (is_candidate ? !reader.read_non_empty(root, "", "candidate", &message.candidate)
                   : !reader.read(root, "", "candidate", &message.candidate, Presence::kOptional)) {
    return false;
  }
  if (!reader.read(root, "", "sdpMLineIndex", &message.mline, candidate_fields) ||
      !reader.read(root, "", "seq", &message.sequence, is_candidate ? 1 : 0, UINT64_MAX,
                   candidate_fields)) {
    return false;
  }
  if (!reader.read(root, "", "profile", &message.profile, Presence::kOptional) ||
      !reader.read(root, "", "batterySaving", &message.battery_saving, Presence::kOptional) ||
      !reader.read(root, "", "qualityLevel", &message.quality_level, Presence::kOptional) ||
      !reader.read(root, "", "waitMs", &message.wait_ms, Presence::kOptional))
    return false;
  QualityLevel quality = QualityLevel::kHigh;
  if (!message.quality_level.empty() && !quality_level_from_string(message.quality_level, &quality))
    return reader.fail("field 'qualityLevel' has unknown value \"" + message.quality_level +
                       "\" (expected one of maximum, high, medium, low, minimum)");
  if (message.profile.size() > kMaxProfileBytes)
    return reader.fail("profile is " + std::to_string(message.profile.size()) +
                       " bytes, more than 64");
  const bool is_recover = message.type == SignalType::kRecover;
  if (!reader.read(root, "", "level", &message.level,
                   is_recover ? Presence::kRequired : Presence::kOptional)) {
    return false;
  }
  RecoveryLevel level = RecoveryLevel::kIceRestart;
  if (is_recover && !recovery_level_from_string(message.level, &level)) {
    return reader.field_problem("level", "has unknown value " + quote_for_message(message.level) +
                                             " (expected ice_restart, signaling_reset or "
                                             "full_reconnect)");
  }
  *out = std::move(message);
  return true;
}

std::string encode_offer(const OfferRecord &record) {
  if (record.placeholder)
    return dump_json(Json{{"placeholder", true}, {"ts", record.timestamp}});
  return dump_json(Json{{"placeholder", false},
                        {"sdp", record.sdp},
                        {"from", record.from},
                        {"session", record.session},
                        {"ts", record.timestamp}});
}

bool decode_offer(std::string_view json, OfferRecord *out, std::string *error) {
  FieldReader reader("offer JSON", error);
  Json root;
  OfferRecord record;
  if (!reader.parse_object(json, &root) ||
      !reader.read(root, "", "placeholder", &record.placeholder) ||
      !reader.read(root, "", "ts", &record.timestamp)) {
    return false;
  }
  if (!record.placeholder &&
      (!reader.read_non_empty(root, "", "sdp", &record.sdp) ||
       !reader.read_name(root, "", "from", NameKind::kParticipantId, &record.from) ||
       !reader.read(root, "", "session", &record.session, Presence::kOptional))) {
    return false;
  }
  *out = std::move(record);
  return true;
}

std::string encode_candidate(const CandidateRecord &record) {
  return dump_json(Json{{"from", record.from},
                        {"to", record.to},
                        {"session", record.session},
                        {"seq", record.sequence},
                        {"sdpMLineIndex", record.mline},
                        {"candidate", record.candidate},
                        {"priority", record.priority},
                        {"ts", record.timestamp}});
}

bool decode_candidate(std::string_view json, CandidateRecord *out, std::string *error) {
  FieldReader reader("candidate JSON", error);
  Json root;
  CandidateRecord record;
  if (!reader.parse_object(json, &root) ||
      !reader.read_name(root, "", "from", NameKind::kParticipantId, &record.from) ||
      !reader.read_name(root, "", "to", NameKind::kParticipantId, &record.to,
                        Presence::kOptional) ||
      !reader.read(root, "", "session", &record.session, Presence::kOptional) ||
      !reader.read(root, "", "seq", &record.sequence, 1, UINT64_MAX) ||
      !reader.read(root, "", "sdpMLineIndex", &record.mline) ||
      !reader.read_non_empty(root, "", "candidate", &record.candidate) ||
      !reader.read(root, "", "priority", &record.priority) ||
      !reader.read(root, "", "ts", &record.timestamp)) {
    return false;
  }
  *out = std::move(record);
  return true;
}

}  // namespace tourcast
