#include "redis_schema.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tourcast {
namespace {

using Json = nlohmann::json;

// --- names --------------------------------------------------------------------------------

const char kTourRule[] = " (use 1-64 letters, digits, '-' or '_')";
const char kIdRule[] = " (use 1-64 letters, digits, '-', '_' or '.')";

TEST(ValidateName, Table) {
  struct Case {
    NameKind kind;
    std::string name;
    std::string error;  // empty: valid
  };
  const std::string max_length(64, 'a');
  const std::string too_long(65, 'a');
  const Case cases[] = {
      {NameKind::kTour, "louvre-highlights_2", ""},
      {NameKind::kTour, "A", ""},
      {NameKind::kTour, max_length, ""},
      {NameKind::kLanguage, "en-US", ""},
      {NameKind::kParticipantId, "guide.anna-1_b", ""},
      {NameKind::kTour, "my tour",
       std::string("tour name \"my tour\" is invalid: character ' ' at position 2 is not allowed") +
           kTourRule},
      {NameKind::kTour, "a:b",
       std::string("tour name \"a:b\" is invalid: character ':' at position 1 is not allowed") +
           kTourRule},
      {NameKind::kLanguage, "*",
       std::string("language \"*\" is invalid: character '*' at position 0 is not allowed") +
           kTourRule},
      {NameKind::kTour, "", std::string("tour name \"\" is invalid: it is empty") + kTourRule},
      {NameKind::kParticipantId, "",
       std::string("participant id \"\" is invalid: it is empty") + kIdRule},
      {NameKind::kTour, too_long,
       "tour name \"" + too_long + "\" is invalid: it is 65 characters long" + kTourRule},
      {NameKind::kTour, "caf\xC3\xA9",
       std::string("tour name \"caf\\xC3\\xA9\" is invalid: character '\\xC3' at position 3 is "
                   "not allowed") +
           kTourRule},
      {NameKind::kParticipantId, "a\nb",
       std::string("participant id \"a\\x0Ab\" is invalid: character '\\x0A' at position 1 is not "
                   "allowed") +
           kIdRule},
      {NameKind::kTour, "guide.1",
       std::string("tour name \"guide.1\" is invalid: character '.' at position 5 is not allowed") +
           kTourRule},
      {NameKind::kTour, "a\"b",
       std::string("tour name \"a\\\"b\" is invalid: character '\"' at position 1 is not allowed") +
           kTourRule},
      {NameKind::kTour, std::string("x\0y", 3),
       std::string("tour name \"x\\x00y\" is invalid: character '\\x00' at position 1 is not "
                   "allowed") +
           kTourRule},
      {NameKind::kTour, std::string(100, 'b'),
       "tour name \"" + std::string(80, 'b') + "...\" is invalid: it is 100 characters long" +
           kTourRule},
  };
  for (const Case &c : cases) {
    std::string error = "untouched";
    EXPECT_EQ(validate_name(c.kind, c.name, &error), c.error.empty()) << c.name;
    EXPECT_EQ(error, c.error.empty() ? "untouched" : c.error) << c.name;
  }
  EXPECT_FALSE(validate_name(NameKind::kTour, "", nullptr));
  EXPECT_TRUE(validate_name(NameKind::kTour, "ok", nullptr));
}

// --- keys ---------------------------------------------------------------------------------

TEST(Keys, ExactNames) {
  EXPECT_EQ(coordination_key("t1", "en"), "webrtc:coordination:t1:en");
  EXPECT_EQ(diagnostics_key("t1", "en"), "webrtc:diagnostics:t1:en");
  EXPECT_EQ(ice_candidates_key("t1", "en"), "webrtc:ice_candidates:t1:en");
  EXPECT_EQ(participant_key("t1", "en", "a.1"), "webrtc:participant:t1:en:a.1");
  EXPECT_EQ(participant_key_pattern("t1", "en"), "webrtc:participant:t1:en:*");
  EXPECT_EQ(offer_key("t1", "en", "a1"), "webrtc:offer:t1:en:a1");
  EXPECT_EQ(answer_key("t1", "en", "a1"), "webrtc:answer:t1:en:a1");
  EXPECT_EQ(signal_channel("t1", "en", "guide"), "webrtc:signal:t1:en:guide");
  EXPECT_EQ(channel_broadcast("t1", "en"), "webrtc:broadcast:t1:en");
}

// --- enums --------------------------------------------------------------------------------

TEST(EnumNames, PhasesRolesSignalTypes) {
  const std::pair<ConnectionPhase, const char *> phases[] = {
      {ConnectionPhase::kInitial, "initial"},
      {ConnectionPhase::kOfferSent, "offer_sent"},
      {ConnectionPhase::kAnswerSent, "answer_sent"},
      {ConnectionPhase::kIceExchange, "ice_exchange"},
      {ConnectionPhase::kConnected, "connected"},
      {ConnectionPhase::kFailed, "failed"},
  };
  for (const auto &[phase, name] : phases) {
    EXPECT_STREQ(to_string(phase), name);
    ConnectionPhase parsed = ConnectionPhase::kInitial;
    EXPECT_TRUE(connection_phase_from_string(name, &parsed));
    EXPECT_EQ(parsed, phase);
  }
  const std::pair<SignalType, const char *> types[] = {
      {SignalType::kJoin, "join"},
      {SignalType::kLeave, "leave"},
      {SignalType::kOffer, "offer"},
      {SignalType::kAnswer, "answer"},
      {SignalType::kCandidate, "candidate"},
      {SignalType::kGuideReady, "guide-ready"},
      {SignalType::kEndOfCandidates, "end-of-candidates"},
      {SignalType::kStatus, "status"},
      {SignalType::kRecover, "recover"},
      {SignalType::kPeerOffer, "peer-offer"},
      {SignalType::kQueued, "queued"},
  };
  for (const auto &[type, name] : types) {
    EXPECT_STREQ(to_string(type), name);
    SignalType parsed = SignalType::kJoin;
    EXPECT_TRUE(signal_type_from_string(name, &parsed));
    EXPECT_EQ(parsed, type);
  }
  EXPECT_STREQ(to_string(Role::kGuide), "guide");
  EXPECT_STREQ(to_string(Role::kAttendee), "attendee");
  Role role = Role::kGuide;
  EXPECT_TRUE(role_from_string("attendee", &role));
  EXPECT_EQ(role, Role::kAttendee);
  EXPECT_FALSE(role_from_string("Guide", &role));
  ConnectionPhase phase = ConnectionPhase::kFailed;
  EXPECT_FALSE(connection_phase_from_string("offer-sent", &phase));
  EXPECT_EQ(phase, ConnectionPhase::kFailed);
  SignalType type = SignalType::kLeave;
  EXPECT_FALSE(signal_type_from_string("guide_ready", &type));
  EXPECT_EQ(type, SignalType::kLeave);
}

// --- decode error tables ------------------------------------------------------------------

// One way to break a valid document: replace the value at `pointer` (or remove it when
// `replacement` is discarded), and the exact error expected.
struct Mutation {
  const char *pointer;
  Json replacement;
  std::string error;
};

Json removed() {
  return Json(Json::value_t::discarded);
}

std::string mutate(const std::string &valid, const Mutation &m) {
  Json doc = Json::parse(valid);
  const Json::json_pointer pointer(m.pointer);
  if (m.replacement.is_discarded()) {
    doc[pointer.parent_pointer()].erase(pointer.back());
  } else {
    doc[pointer] = m.replacement;
  }
  return doc.dump();
}

template <typename Record, typename Decode>
void expect_errors(const std::string &valid, const std::vector<Mutation> &mutations,
                   Decode decode) {
  for (const Mutation &m : mutations) {
    const std::string broken = mutate(valid, m);
    Record out;
    std::string error;
    EXPECT_FALSE(decode(broken, &out, &error)) << broken;
    EXPECT_EQ(error, m.error) << broken;
  }
}

template <typename Record, typename Decode>
void expect_unparseable(const char *document, Decode decode) {
  const std::string prefix = std::string(document) + " JSON: ";
  const std::pair<std::string, std::string> cases[] = {
      {"", "not valid JSON"},           {"{", "not valid JSON"},
      {"{\"a\":1,}", "not valid JSON"}, {"\"\xff\"", "not valid JSON"},
      {"[]", "must be a JSON object"},  {"null", "must be a JSON object"},
      {"42", "must be a JSON object"},  {"{} {}", "not valid JSON"},
  };
  for (const auto &[text, problem] : cases) {
    Record out;
    std::string error;
    EXPECT_FALSE(decode(text, &out, &error)) << text;
    EXPECT_EQ(error, prefix + problem) << text;
  }
}

// --- coordination -------------------------------------------------------------------------

CoordinationState sample_coordination() {
  CoordinationState state;
  state.guide_ready = true;
  state.attendee_ready = false;
  state.ice_exchange_started = true;
  state.last_heartbeat = 1700000000123;
  state.phase = ConnectionPhase::kIceExchange;
  state.guide = {true, 1700000000100, true};
  state.attendees["att.1"] = {false, 1700000000050, false};
  state.attendees["att-2"] = {true, 42, true};
  return state;
}

void expect_equal(const ParticipantStatus &a, const ParticipantStatus &b) {
  EXPECT_EQ(a.connected, b.connected);
  EXPECT_EQ(a.last_seen, b.last_seen);
  EXPECT_EQ(a.ice_gathering_complete, b.ice_gathering_complete);
}

TEST(Coordination, EncodesSeedFieldNames) {
  CoordinationState state;
  state.guide_ready = true;
  state.last_heartbeat = 7;
  state.phase = ConnectionPhase::kOfferSent;
  state.guide.last_seen = 6;
  state.attendees["a1"] = {true, 5, false};
  EXPECT_EQ(encode_coordination(state),
            R"({"attendeeReady":false,"connectionPhase":"offer_sent","guideReady":true,)"
            R"("iceExchangeStarted":false,"lastHeartbeat":7,"participants":{"attendees":{"a1":)"
            R"({"connected":true,"iceGatheringComplete":false,"lastSeen":5}},"guide":)"
            R"({"connected":false,"iceGatheringComplete":false,"lastSeen":6}}})");
}

TEST(Coordination, RoundTrip) {
  const CoordinationState state = sample_coordination();
  CoordinationState decoded;
  std::string error;
  ASSERT_TRUE(decode_coordination(encode_coordination(state), &decoded, &error)) << error;
  EXPECT_EQ(decoded.guide_ready, true);
  EXPECT_EQ(decoded.attendee_ready, false);
  EXPECT_EQ(decoded.ice_exchange_started, true);
  EXPECT_EQ(decoded.last_heartbeat, 1700000000123);
  EXPECT_EQ(decoded.phase, ConnectionPhase::kIceExchange);
  expect_equal(decoded.guide, state.guide);
  ASSERT_EQ(decoded.attendees.size(), 2u);
  expect_equal(decoded.attendees.at("att.1"), state.attendees.at("att.1"));
  expect_equal(decoded.attendees.at("att-2"), state.attendees.at("att-2"));
  EXPECT_EQ(encode_coordination(decoded), encode_coordination(state));
}

TEST(Coordination, DecodesSeedDocumentWithExtraFieldsAndNoAttendees) {
  const char *seed = R"({
    "guideReady": true, "attendeeReady": true, "iceExchangeStarted": false,
    "lastHeartbeat": 1712345678901, "connectionPhase": "answer_sent", "version": 3,
    "participants": {"guide": {"connected": true, "lastSeen": 1712345678000,
                               "iceGatheringComplete": false, "extra": "x"}}})";
  CoordinationState decoded;
  decoded.attendees["stale"] = {};
  std::string error;
  ASSERT_TRUE(decode_coordination(seed, &decoded, &error)) << error;
  EXPECT_TRUE(decoded.attendee_ready);
  EXPECT_EQ(decoded.last_heartbeat, 1712345678901);
  EXPECT_EQ(decoded.phase, ConnectionPhase::kAnswerSent);
  EXPECT_EQ(decoded.guide.last_seen, 1712345678000);
  EXPECT_TRUE(decoded.attendees.empty());
}

TEST(Coordination, DecodeErrors) {
  const std::string valid = encode_coordination(sample_coordination());
  const std::string p = "coordination JSON: ";
  expect_errors<CoordinationState>(
      valid,
      {
          {"/guideReady", removed(), p + "field 'guideReady' is missing"},
          {"/attendeeReady", removed(), p + "field 'attendeeReady' is missing"},
          {"/iceExchangeStarted", removed(), p + "field 'iceExchangeStarted' is missing"},
          {"/lastHeartbeat", removed(), p + "field 'lastHeartbeat' is missing"},
          {"/connectionPhase", removed(), p + "field 'connectionPhase' is missing"},
          {"/participants", removed(), p + "field 'participants' is missing"},
          {"/guideReady", "yes", p + "field 'guideReady' must be true or false"},
          {"/guideReady", 1, p + "field 'guideReady' must be true or false"},
          {"/lastHeartbeat", "123", p + "field 'lastHeartbeat' must be an integer"},
          {"/lastHeartbeat", 1.5, p + "field 'lastHeartbeat' must be an integer"},
          {"/lastHeartbeat", nullptr, p + "field 'lastHeartbeat' must be an integer"},
          {"/lastHeartbeat", 9223372036854775808ull, p + "field 'lastHeartbeat' is too large"},
          {"/connectionPhase", "bogus",
           p + "field 'connectionPhase' has unknown value \"bogus\" (expected one of initial, "
               "offer_sent, answer_sent, ice_exchange, connected, failed)"},
          {"/connectionPhase", 2, p + "field 'connectionPhase' must be a string"},
          {"/participants", Json::array(), p + "field 'participants' must be an object"},
          {"/participants/guide", removed(), p + "field 'participants.guide' is missing"},
          {"/participants/guide", "g", p + "field 'participants.guide' must be an object"},
          {"/participants/guide/lastSeen", "now",
           p + "field 'participants.guide.lastSeen' must be an integer"},
          {"/participants/guide/iceGatheringComplete", removed(),
           p + "field 'participants.guide.iceGatheringComplete' is missing"},
          {"/participants/attendees", Json::array(),
           p + "field 'participants.attendees' must be an object"},
          {"/participants/attendees/a b", Json{{"connected", true}},
           p +
               "key in 'participants.attendees': participant id \"a b\" is invalid: character "
               "' ' at position 1 is not allowed" +
               kIdRule},
          {"/participants/attendees/", Json::object(),
           p + "key in 'participants.attendees': participant id \"\" is invalid: it is empty" +
               kIdRule},
          {"/participants/attendees/att-2", true,
           p + "field 'participants.attendees.att-2' must be an object"},
          {"/participants/attendees/att-2/connected", removed(),
           p + "field 'participants.attendees.att-2.connected' is missing"},
          {"/participants/attendees/att.1/lastSeen", -1.0,
           p + "field 'participants.attendees.att.1.lastSeen' must be an integer"},
      },
      decode_coordination);
  expect_unparseable<CoordinationState>("coordination", decode_coordination);
}

TEST(Coordination, FailedDecodeLeavesOutputUntouched) {
  CoordinationState out;
  out.last_heartbeat = 99;
  EXPECT_FALSE(decode_coordination(R"({"guideReady":true})", &out, nullptr));
  EXPECT_EQ(out.last_heartbeat, 99);
  EXPECT_FALSE(out.guide_ready);
}

// --- participant --------------------------------------------------------------------------

ParticipantRecord sample_participant() {
  ParticipantRecord record;
  record.id = "guide.anna";
  record.role = Role::kGuide;
  record.tour = "louvre";
  record.language = "fr";
  record.joined_at = 1700000000000;
  record.last_seen = 1700000005000;
  record.state = "connected";
  record.connected = true;
  record.ice_gathering_complete = true;
  record.profile = "low-latency";
  return record;
}

TEST(Participant, EncodesFieldNames) {
  EXPECT_EQ(encode_participant(sample_participant()),
            R"({"connected":true,"iceGatheringComplete":true,"id":"guide.anna",)"
            R"("joinedAt":1700000000000,"language":"fr","lastSeen":1700000005000,)"
            R"("profile":"low-latency","role":"guide","state":"connected","tourId":"louvre"})");
}

TEST(Participant, RoundTrip) {
  const ParticipantRecord record = sample_participant();
  ParticipantRecord decoded;
  std::string error;
  ASSERT_TRUE(decode_participant(encode_participant(record), &decoded, &error)) << error;
  EXPECT_EQ(decoded.id, "guide.anna");
  EXPECT_EQ(decoded.role, Role::kGuide);
  EXPECT_EQ(decoded.tour, "louvre");
  EXPECT_EQ(decoded.language, "fr");
  EXPECT_EQ(decoded.joined_at, 1700000000000);
  EXPECT_EQ(decoded.last_seen, 1700000005000);
  EXPECT_EQ(decoded.state, "connected");
  EXPECT_TRUE(decoded.connected);
  EXPECT_TRUE(decoded.ice_gathering_complete);
  EXPECT_EQ(decoded.profile, "low-latency");
}

TEST(Participant, GuideRecoveryTotalsRoundTripAndAreOptional) {
  ParticipantRecord record = sample_participant();
  EXPECT_EQ(encode_participant(record).find("recoveries"), std::string::npos);
  record.has_recoveries = true;
  record.recoveries = {4, 1, 2};
  const std::string encoded = encode_participant(record);
  EXPECT_NE(
      encoded.find(R"("recoveries":{"full_reconnect":2,"ice_restart":4,"signaling_reset":1})"),
      std::string::npos)
      << encoded;
  ParticipantRecord decoded;
  std::string error;
  ASSERT_TRUE(decode_participant(encoded, &decoded, &error)) << error;
  EXPECT_TRUE(decoded.has_recoveries);
  EXPECT_EQ(decoded.recoveries, (std::array<int64_t, 3>{4, 1, 2}));

  ParticipantRecord plain;
  ASSERT_TRUE(decode_participant(encode_participant(sample_participant()), &plain, &error));
  EXPECT_FALSE(plain.has_recoveries);

  std::string bad = encoded;
  bad.replace(bad.find("\"ice_restart\":4"), 15, "\"ice_restart\":\"4\"");
  EXPECT_FALSE(decode_participant(bad, &decoded, &error)) << bad;
  EXPECT_EQ(error, "participant JSON: field 'recoveries.ice_restart' must be an integer");
}

TEST(Participant, ProfileIsOptional) {
  Json doc = Json::parse(encode_participant(sample_participant()));
  doc.erase("profile");
  ParticipantRecord decoded;
  decoded.profile = "stale";
  std::string error;
  ASSERT_TRUE(decode_participant(doc.dump(), &decoded, &error)) << error;
  EXPECT_EQ(decoded.profile, "");
}

TEST(Participant, DecodeErrors) {
  const std::string valid = encode_participant(sample_participant());
  const std::string p = "participant JSON: ";
  expect_errors<ParticipantRecord>(
      valid,
      {
          {"/id", removed(), p + "field 'id' is missing"},
          {"/id", "a/b",
           p +
               "field 'id': participant id \"a/b\" is invalid: character '/' at position 1 is "
               "not allowed" +
               kIdRule},
          {"/role", "admin",
           p + "field 'role' has unknown value \"admin\" (expected one of guide, attendee)"},
          {"/tourId", "t:1",
           p +
               "field 'tourId': tour name \"t:1\" is invalid: character ':' at position 1 is "
               "not allowed" +
               kTourRule},
          {"/language", "",
           p + "field 'language': language \"\" is invalid: it is empty" + kTourRule},
          {"/joinedAt", "2024", p + "field 'joinedAt' must be an integer"},
          {"/lastSeen", removed(), p + "field 'lastSeen' is missing"},
          {"/state", "online",
           p + "field 'state' has unknown value \"online\" (expected a connection state such as "
               "\"connected\")"},
          {"/state", 5, p + "field 'state' must be a string"},
          {"/connected", "true", p + "field 'connected' must be true or false"},
          {"/iceGatheringComplete", removed(), p + "field 'iceGatheringComplete' is missing"},
          {"/profile", 5, p + "field 'profile' must be a string"},
      },
      decode_participant);
  expect_unparseable<ParticipantRecord>("participant", decode_participant);
}

// --- signal -------------------------------------------------------------------------------

SignalMessage signal(SignalType type) {
  SignalMessage message;
  message.type = type;
  message.from = "guide-1";
  message.to = "att.7";
  message.session = "s-42";
  message.timestamp = 1700000000000;
  return message;
}

TEST(Signal, EncodesOnlyMeaningfulFields) {
  SignalMessage join;
  join.from = "a1";
  join.timestamp = 5;
  EXPECT_EQ(encode_signal(join), R"({"from":"a1","ts":5,"type":"join"})");
  SignalMessage candidate = signal(SignalType::kCandidate);
  candidate.candidate = "candidate:1 1 UDP 5 10.0.0.1 9 typ host";
  candidate.sequence = 3;
  EXPECT_EQ(encode_signal(candidate),
            R"({"candidate":"candidate:1 1 UDP 5 10.0.0.1 9 typ host","from":"guide-1",)"
            R"("sdpMLineIndex":0,"seq":3,"session":"s-42","to":"att.7","ts":1700000000000,)"
            R"("type":"candidate"})");
}

TEST(Signal, RoundTripEveryType) {
  for (SignalType type :
       {SignalType::kJoin, SignalType::kLeave, SignalType::kOffer, SignalType::kAnswer,
        SignalType::kCandidate, SignalType::kGuideReady, SignalType::kEndOfCandidates,
        SignalType::kStatus, SignalType::kRecover, SignalType::kPeerOffer, SignalType::kQueued}) {
    SignalMessage message = signal(type);
    if (type == SignalType::kJoin || type == SignalType::kStatus ||
        type == SignalType::kPeerOffer) {
      message.profile = "mobile/3g";
      message.battery_saving = type == SignalType::kStatus;
      message.quality_level = type == SignalType::kStatus ? "low" : "";
    }
    if (type == SignalType::kOffer || type == SignalType::kAnswer ||
        type == SignalType::kPeerOffer) {
      message.sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n";
    }
    if (type == SignalType::kCandidate) {
      message.candidate = "candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host";
      message.mline = 1;
      message.sequence = 12;
    }
    if (type == SignalType::kEndOfCandidates)
      message.to.clear();
    if (type == SignalType::kRecover)
      message.level = "signaling_reset";
    if (type == SignalType::kQueued)
      message.wait_ms = 15000;
    SignalMessage decoded;
    std::string error;
    const std::string encoded = encode_signal(message);
    ASSERT_TRUE(decode_signal(encoded, &decoded, &error)) << encoded << ": " << error;
    EXPECT_EQ(decoded.type, message.type);
    EXPECT_EQ(decoded.from, message.from);
    EXPECT_EQ(decoded.to, message.to);
    EXPECT_EQ(decoded.sdp, message.sdp);
    EXPECT_EQ(decoded.candidate, message.candidate);
    EXPECT_EQ(decoded.mline, message.mline);
    EXPECT_EQ(decoded.sequence, message.sequence);
    EXPECT_EQ(decoded.session, message.session);
    EXPECT_EQ(decoded.timestamp, message.timestamp);
    EXPECT_EQ(decoded.profile, message.profile);
    EXPECT_EQ(decoded.battery_saving, message.battery_saving);
    EXPECT_EQ(decoded.quality_level, message.quality_level);
    EXPECT_EQ(decoded.level, message.level);
    EXPECT_EQ(decoded.wait_ms, message.wait_ms);
    EXPECT_EQ(encode_signal(decoded), encoded);
  }
}

TEST(Signal, DecodeErrors) {
  const std::string p = "signal JSON: ";
  SignalMessage offer = signal(SignalType::kOffer);
  offer.sdp = "v=0";
  expect_errors<SignalMessage>(
      encode_signal(offer),
      {
          {"/type", removed(), p + "field 'type' is missing"},
          {"/type", "hello",
           p + "field 'type' has unknown value \"hello\" (expected one of join, leave, offer, "
               "answer, candidate, guide-ready, end-of-candidates, status, recover, "
               "peer-offer, queued)"},
          {"/from", removed(), p + "field 'from' is missing"},
          {"/from", "", p + "field 'from': participant id \"\" is invalid: it is empty" + kIdRule},
          {"/to", "a b",
           p +
               "field 'to': participant id \"a b\" is invalid: character ' ' at position 1 is "
               "not allowed" +
               kIdRule},
          {"/to", 7, p + "field 'to' must be a string"},
          {"/ts", removed(), p + "field 'ts' is missing"},
          {"/ts", "1", p + "field 'ts' must be an integer"},
          {"/sdp", removed(), p + "field 'sdp' is missing"},
          {"/sdp", "", p + "field 'sdp' must not be empty"},
          {"/session", false, p + "field 'session' must be a string"},
      },
      decode_signal);

  SignalMessage candidate = signal(SignalType::kCandidate);
  candidate.candidate = "candidate:1 1 UDP 5 10.0.0.1 9 typ host";
  candidate.sequence = 1;
  expect_errors<SignalMessage>(
      encode_signal(candidate),
      {
          {"/candidate", removed(), p + "field 'candidate' is missing"},
          {"/candidate", "", p + "field 'candidate' must not be empty"},
          {"/sdpMLineIndex", removed(), p + "field 'sdpMLineIndex' is missing"},
          {"/sdpMLineIndex", -1, p + "field 'sdpMLineIndex' must be between 0 and 4294967295"},
          {"/sdpMLineIndex", 4294967296ull,
           p + "field 'sdpMLineIndex' must be between 0 and 4294967295"},
          {"/seq", removed(), p + "field 'seq' is missing"},
          {"/seq", 0, p + "field 'seq' must be between 1 and 18446744073709551615"},
          {"/seq", "1", p + "field 'seq' must be an integer"},
      },
      decode_signal);

  SignalMessage recover = signal(SignalType::kRecover);
  recover.level = "ice_restart";
  expect_errors<SignalMessage>(
      encode_signal(recover),
      {
          {"/level", removed(), p + "field 'level' is missing"},
          {"/level", 3, p + "field 'level' must be a string"},
          {"/level", "reboot",
           p + "field 'level' has unknown value \"reboot\" (expected ice_restart, "
               "signaling_reset or full_reconnect)"},
      },
      decode_signal);
  expect_unparseable<SignalMessage>("signal", decode_signal);
}

TEST(Signal, NonOfferMayOmitSdpAndNonCandidateMayOmitCandidateFields) {
  SignalMessage decoded;
  std::string error;
  ASSERT_TRUE(
      decode_signal(R"({"type":"guide-ready","from":"g","ts":0,"to":""})", &decoded, &error))
      << error;
  EXPECT_EQ(decoded.type, SignalType::kGuideReady);
  EXPECT_EQ(decoded.to, "");
  EXPECT_EQ(decoded.sequence, 0u);
}

TEST(Signal, StatusCarriesProfileAndBattery) {
  SignalMessage decoded;
  std::string error;
  ASSERT_TRUE(decode_signal(
      R"({"type":"status","from":"a1","ts":5,"profile":"ios/4g","batterySaving":true})", &decoded,
      &error))
      << error;
  EXPECT_EQ(decoded.type, SignalType::kStatus);
  EXPECT_EQ(decoded.profile, "ios/4g");
  EXPECT_TRUE(decoded.battery_saving);
  EXPECT_FALSE(decode_signal(R"({"type":"status","from":"a1","ts":5,"batterySaving":"yes"})",
                             &decoded, &error));
  EXPECT_NE(error.find("batterySaving"), std::string::npos) << error;
  EXPECT_FALSE(decode_signal(R"({"type":"status","from":"a1","ts":5,"qualityLevel":"loud"})",
                             &decoded, &error));
  EXPECT_EQ(error,
            "signal JSON: field 'qualityLevel' has unknown value \"loud\" (expected one of "
            "maximum, high, medium, low, minimum)");
  ASSERT_TRUE(decode_signal(R"({"type":"status","from":"a1","ts":5,"qualityLevel":"minimum"})",
                            &decoded, &error));
  EXPECT_EQ(decoded.quality_level, "minimum");
  std::string long_profile(65, 'm');
  EXPECT_FALSE(
      decode_signal(R"({"type":"join","from":"a1","ts":5,"profile":")" + long_profile + R"("})",
                    &decoded, &error));
  EXPECT_EQ(error, "signal JSON: profile is 65 bytes, more than 64");
}

TEST(Signal, PeerOfferNeedsSdpAndSession) {
  SignalMessage decoded;
  std::string error;
  ASSERT_TRUE(decode_signal(
      R"({"type":"peer-offer","from":"whep-1","to":"guide","ts":1,"session":"s1","sdp":"v=0"})",
      &decoded, &error))
      << error;
  EXPECT_EQ(decoded.type, SignalType::kPeerOffer);
  EXPECT_EQ(decoded.session, "s1");
  EXPECT_FALSE(
      decode_signal(R"({"type":"peer-offer","from":"w","ts":1,"sdp":"v=0"})", &decoded, &error));
  EXPECT_EQ(error, "signal JSON: field 'session' is required for a peer-offer");
  EXPECT_FALSE(
      decode_signal(R"({"type":"peer-offer","from":"w","ts":1,"session":"s"})", &decoded, &error));
  EXPECT_EQ(error, "signal JSON: field 'sdp' is missing");
}

TEST(Signal, QueuedNeedsTheJoinItAcknowledges) {
  SignalMessage decoded;
  std::string error;
  ASSERT_TRUE(decode_signal(R"({"type":"queued","from":"guide","to":"a1","ts":1,"session":"j1"})",
                            &decoded, &error))
      << error;
  EXPECT_EQ(decoded.type, SignalType::kQueued);
  EXPECT_EQ(decoded.to, "a1");
  EXPECT_EQ(decoded.session, "j1");
  EXPECT_EQ(decoded.wait_ms, 0u);
  ASSERT_TRUE(decode_signal(
      R"({"type":"queued","from":"guide","to":"a1","ts":1,"session":"j1","waitMs":15000})",
      &decoded, &error))
      << error;
  EXPECT_EQ(decoded.wait_ms, 15000u);
  SignalMessage queued = decoded;
  expect_errors<SignalMessage>(
      encode_signal(queued),
      {
          {"/waitMs", -1, "signal JSON: field 'waitMs' must be between 0 and 4294967295"},
          {"/waitMs", 4294967296ull,
           "signal JSON: field 'waitMs' must be between 0 and 4294967295"},
          {"/waitMs", "15000", "signal JSON: field 'waitMs' must be an integer"},
      },
      decode_signal);
  EXPECT_FALSE(
      decode_signal(R"({"type":"queued","from":"guide","to":"a1","ts":1})", &decoded, &error));
  EXPECT_EQ(error,
            "signal JSON: field 'session' is required for queued (the join it acknowledges)");
  EXPECT_FALSE(decode_signal(R"({"type":"queued","from":"guide","to":"a1","ts":1,"session":""})",
                             &decoded, &error));
  EXPECT_EQ(error,
            "signal JSON: field 'session' is required for queued (the join it acknowledges)");
}

TEST(Signal, SizeLimit) {
  SignalMessage offer = signal(SignalType::kOffer);
  offer.sdp = "x";
  const size_t overhead = encode_signal(offer).size() - 1;
  offer.sdp = std::string(kMaxSignalBytes - overhead, 'x');
  const std::string at_limit = encode_signal(offer);
  ASSERT_EQ(at_limit.size(), kMaxSignalBytes);
  SignalMessage decoded;
  std::string error;
  EXPECT_TRUE(decode_signal(at_limit, &decoded, &error)) << error;
  const std::string over_limit = at_limit + " ";
  EXPECT_FALSE(decode_signal(over_limit, &decoded, &error));
  EXPECT_EQ(error, "signal JSON: document is 262145 bytes, more than the 256 KiB limit");
}

// --- offer --------------------------------------------------------------------------------

TEST(Offer, PlaceholderEncodingAndRoundTrip) {
  OfferRecord placeholder;
  placeholder.timestamp = 11;
  placeholder.sdp = "ignored for placeholders";
  EXPECT_EQ(encode_offer(placeholder), R"({"placeholder":true,"ts":11})");
  OfferRecord decoded;
  decoded.sdp = "stale";
  std::string error;
  ASSERT_TRUE(decode_offer(R"({"placeholder":true,"ts":11,"sdp":5})", &decoded, &error)) << error;
  EXPECT_TRUE(decoded.placeholder);
  EXPECT_EQ(decoded.timestamp, 11);
  EXPECT_EQ(decoded.sdp, "");
}

TEST(Offer, RealOfferRoundTrip) {
  OfferRecord offer;
  offer.placeholder = false;
  offer.sdp = "v=0\r\n";
  offer.from = "guide-1";
  offer.session = "s1";
  offer.timestamp = 99;
  const std::string encoded = encode_offer(offer);
  EXPECT_EQ(encoded,
            R"({"from":"guide-1","placeholder":false,"sdp":"v=0\r\n","session":"s1","ts":99})");
  OfferRecord decoded;
  std::string error;
  ASSERT_TRUE(decode_offer(encoded, &decoded, &error)) << error;
  EXPECT_FALSE(decoded.placeholder);
  EXPECT_EQ(decoded.sdp, "v=0\r\n");
  EXPECT_EQ(decoded.from, "guide-1");
  EXPECT_EQ(decoded.session, "s1");
  EXPECT_EQ(decoded.timestamp, 99);
}

TEST(Offer, DecodeErrors) {
  const std::string p = "offer JSON: ";
  OfferRecord offer;
  offer.placeholder = false;
  offer.sdp = "v=0";
  offer.from = "g";
  expect_errors<OfferRecord>(
      encode_offer(offer),
      {
          {"/placeholder", removed(), p + "field 'placeholder' is missing"},
          {"/placeholder", "false", p + "field 'placeholder' must be true or false"},
          {"/ts", removed(), p + "field 'ts' is missing"},
          {"/sdp", removed(), p + "field 'sdp' is missing"},
          {"/sdp", "", p + "field 'sdp' must not be empty"},
          {"/from", "guide 1",
           p +
               "field 'from': participant id \"guide 1\" is invalid: character ' ' at position "
               "5 is not allowed" +
               kIdRule},
          {"/session", 1, p + "field 'session' must be a string"},
      },
      decode_offer);
  expect_unparseable<OfferRecord>("offer", decode_offer);
}

// --- candidate ----------------------------------------------------------------------------

CandidateRecord sample_candidate() {
  CandidateRecord record;
  record.from = "guide-1";
  record.to = "att.2";
  record.session = "s9";
  record.sequence = 4;
  record.mline = 0;
  record.candidate = "candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host";
  record.priority = 2015363327;
  record.timestamp = 1700000000001;
  return record;
}

TEST(Candidate, EncodingAndRoundTrip) {
  const std::string encoded = encode_candidate(sample_candidate());
  EXPECT_EQ(encoded,
            R"({"candidate":"candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host",)"
            R"("from":"guide-1","priority":2015363327,"sdpMLineIndex":0,"seq":4,"session":"s9",)"
            R"("to":"att.2","ts":1700000000001})");
  CandidateRecord decoded;
  std::string error;
  ASSERT_TRUE(decode_candidate(encoded, &decoded, &error)) << error;
  EXPECT_EQ(decoded.from, "guide-1");
  EXPECT_EQ(decoded.to, "att.2");
  EXPECT_EQ(decoded.session, "s9");
  EXPECT_EQ(decoded.sequence, 4u);
  EXPECT_EQ(decoded.mline, 0u);
  EXPECT_EQ(decoded.candidate, "candidate:1 1 UDP 2015363327 10.0.0.1 5000 typ host");
  EXPECT_EQ(decoded.priority, 2015363327u);
  EXPECT_EQ(decoded.timestamp, 1700000000001);
}

TEST(Candidate, DecodeErrors) {
  const std::string p = "candidate JSON: ";
  expect_errors<CandidateRecord>(
      encode_candidate(sample_candidate()),
      {
          {"/from", removed(), p + "field 'from' is missing"},
          {"/to", "x:y",
           p +
               "field 'to': participant id \"x:y\" is invalid: character ':' at position 1 is "
               "not allowed" +
               kIdRule},
          {"/seq", 0, p + "field 'seq' must be between 1 and 18446744073709551615"},
          {"/seq", -3, p + "field 'seq' must be between 1 and 18446744073709551615"},
          {"/sdpMLineIndex", removed(), p + "field 'sdpMLineIndex' is missing"},
          {"/candidate", "", p + "field 'candidate' must not be empty"},
          {"/priority", 4294967296ull, p + "field 'priority' must be between 0 and 4294967295"},
          {"/priority", removed(), p + "field 'priority' is missing"},
          {"/ts", 1e3, p + "field 'ts' must be an integer"},
      },
      decode_candidate);
  expect_unparseable<CandidateRecord>("candidate", decode_candidate);
}

TEST(Candidate, ToAndSessionAreOptional) {
  Json doc = Json::parse(encode_candidate(sample_candidate()));
  doc.erase("to");
  doc.erase("session");
  CandidateRecord decoded;
  std::string error;
  ASSERT_TRUE(decode_candidate(doc.dump(), &decoded, &error)) << error;
  EXPECT_EQ(decoded.to, "");
  EXPECT_EQ(decoded.session, "");
}

// --- redis url ----------------------------------------------------------------------------

TEST(RedisUrl, ValidTable) {
  struct Case {
    const char *url;
    const char *host;
    int port;
    const char *user;
    const char *password;
    int db;
  };
  const Case cases[] = {
      {"redis://localhost", "localhost", 6379, "", "", 0},
      {"redis://127.0.0.1:6380/2", "127.0.0.1", 6380, "", "", 2},
      {"redis://:secret@cache.internal", "cache.internal", 6379, "", "secret", 0},
      {"redis://user:p%40ss%3a@h:1/15", "h", 1, "user", "p@ss:", 15},
      {"redis://user@h", "h", 6379, "user", "", 0},
      {"redis://[::1]:7000/3", "::1", 7000, "", "", 3},
      {"redis://[2001:db8::7]", "2001:db8::7", 6379, "", "", 0},
      {"redis://[::]", "::", 6379, "", "", 0},
      {"redis://[1:2:3:4:5:6:7:8]", "1:2:3:4:5:6:7:8", 6379, "", "", 0},
      {"redis://[1:2:3:4:5:6:7::]", "1:2:3:4:5:6:7::", 6379, "", "", 0},
      {"redis://[::ffff:192.0.2.1]:6380", "::ffff:192.0.2.1", 6380, "", "", 0},
      {"redis://[1:2:3:4:5:6:1.2.3.4]", "1:2:3:4:5:6:1.2.3.4", 6379, "", "", 0},
      {"redis://[FE80::a:B]", "FE80::a:B", 6379, "", "", 0},
      {"REDIS://Redis_Host-1", "Redis_Host-1", 6379, "", "", 0},
      {"redis://u:pa/ss@h/1", "h", 6379, "u", "pa/ss", 1},
      {"redis://u:a@b@h", "h", 6379, "u", "a@b", 0},
      {"redis://h/", "h", 6379, "", "", 0},
      {"redis://h:65535/2147483647", "h", 65535, "", "", 2147483647},
      {"redis://h:06379/007", "h", 6379, "", "", 7},
  };
  for (const Case &c : cases) {
    RedisUrl url;
    std::string error;
    ASSERT_TRUE(parse_redis_url(c.url, &url, &error)) << c.url << ": " << error;
    EXPECT_EQ(url.host, c.host) << c.url;
    EXPECT_EQ(url.port, c.port) << c.url;
    EXPECT_EQ(url.user, c.user) << c.url;
    EXPECT_EQ(url.password, c.password) << c.url;
    EXPECT_EQ(url.db, c.db) << c.url;
  }
}

TEST(RedisUrl, InvalidTable) {
  const std::pair<const char *, const char *> cases[] = {
      {"http://x", "scheme must be redis://"},
      {"", "scheme must be redis://"},
      {"localhost:6379", "scheme must be redis://"},
      {"rediss://x", "scheme must be redis:// (TLS, rediss://, is not supported)"},
      {"redis://", "host is missing"},
      {"redis://:6379", "host is missing"},
      {"redis://::1:6379", "host is missing"},
      {"redis://h:0", "port must be a number from 1 to 65535"},
      {"redis://h:65536", "port must be a number from 1 to 65535"},
      {"redis://h:", "port must be a number from 1 to 65535"},
      {"redis://h:abc", "port must be a number from 1 to 65535"},
      {"redis://h:99999999999999999999", "port must be a number from 1 to 65535"},
      {"redis://h/x", "database must be a number from 0 to 2147483647"},
      {"redis://h/2147483648", "database must be a number from 0 to 2147483647"},
      {"redis://h/1/2", "database must be a number from 0 to 2147483647"},
      {"redis://[::1", "IPv6 address is missing its closing ']'"},
      {"redis://[]", "brackets must hold an IPv6 address"},
      {"redis://[abc]", "brackets must hold an IPv6 address"},
      {"redis://[::g]", "brackets must hold an IPv6 address"},
      {"redis://[:]", "brackets must hold an IPv6 address"},
      {"redis://[1::2::3]", "brackets must hold an IPv6 address"},
      {"redis://[1:2:3:4:5:6:7:8:9]", "brackets must hold an IPv6 address"},
      {"redis://[1:2:3:4:5:6:7]", "brackets must hold an IPv6 address"},
      {"redis://[1::2:3:4:5:6:7:8]", "brackets must hold an IPv6 address"},
      {"redis://[12345::1]", "brackets must hold an IPv6 address"},
      {"redis://[1::2:]", "brackets must hold an IPv6 address"},
      {"redis://[::1.2.3]", "brackets must hold an IPv6 address"},
      {"redis://[::1.2.3.256]", "brackets must hold an IPv6 address"},
      {"redis://[1.2.3.4::]", "brackets must hold an IPv6 address"},
      {"redis://[127.0.0.1]", "brackets must hold an IPv6 address"},
      {"redis://[::1]x", "expected ':port' after ']'"},
      {"redis://h?db=1", "query strings and fragments ('?', '#') are not supported"},
      {"redis://h o", "host has character ' ' at position 1 (IPv6 addresses go in [brackets])"},
      {"redis://u%4@h", "user has a bad %-escape (use % followed by two hex digits)"},
  };
  for (const auto &[text, why] : cases) {
    RedisUrl url;
    url.host = "untouched";
    std::string error;
    EXPECT_FALSE(parse_redis_url(text, &url, &error)) << text;
    EXPECT_EQ(error, std::string("redis-url \"") + text + "\" is invalid: " + why) << text;
    EXPECT_EQ(url.host, "untouched") << text;
  }
}

TEST(RedisUrl, ErrorNeverShowsPassword) {
  const std::pair<const char *, const char *> cases[] = {
      {"redis://u:p%zz@h",
       "redis-url \"redis://u:***@h\" is invalid: password has a bad %-escape (use % followed by "
       "two hex digits)"},
      {"redis://u:hunter2@h:0",
       "redis-url \"redis://u:***@h:0\" is invalid: port must be a "
       "number from 1 to 65535"},
      {"http://:hunter2@h", "redis-url \"http://:***@h\" is invalid: scheme must be redis://"},
      {"redis://:pa\nss@h o",
       "redis-url \"redis://:***@h o\" is invalid: host has character ' ' at position 1 (IPv6 "
       "addresses go in [brackets])"},
  };
  for (const auto &[text, expected] : cases) {
    RedisUrl url;
    std::string error;
    EXPECT_FALSE(parse_redis_url(text, &url, &error)) << text;
    EXPECT_EQ(error, expected);
  }
}

TEST(RedisUrl, ErrorEscapesControlCharacters) {
  RedisUrl url;
  std::string error;
  EXPECT_FALSE(parse_redis_url("redis://h\n", &url, &error));
  EXPECT_EQ(error,
            "redis-url \"redis://h\\x0A\" is invalid: host has character '\\x0A' at position 1 "
            "(IPv6 addresses go in [brackets])");
}

TEST(RedisUrl, ToString) {
  RedisUrl url;
  url.host = "h";
  EXPECT_EQ(redis_url_to_string(url), "redis://h:6379/0");
  url.password = "p@ss:/";
  EXPECT_EQ(redis_url_to_string(url), "redis://:***@h:6379/0");
  EXPECT_EQ(redis_url_to_string(url, false), "redis://:p%40ss%3A%2F@h:6379/0");
  url.user = "me";
  url.host = "::1";
  url.port = 7000;
  url.db = 4;
  EXPECT_EQ(redis_url_to_string(url), "redis://me:***@[::1]:7000/4");
  url.password.clear();
  EXPECT_EQ(redis_url_to_string(url), "redis://me@[::1]:7000/4");
}

TEST(RedisUrl, CanonicalFormParsesBack) {
  RedisUrl url;
  ASSERT_TRUE(parse_redis_url("redis://a%20b:p%40ss@[::1]/9", &url, nullptr));
  const std::string canonical = redis_url_to_string(url, false);
  EXPECT_EQ(canonical, "redis://a%20b:p%40ss@[::1]:6379/9");
  RedisUrl again;
  ASSERT_TRUE(parse_redis_url(canonical, &again, nullptr));
  EXPECT_EQ(again.user, "a b");
  EXPECT_EQ(again.password, "p@ss");
  EXPECT_EQ(redis_url_to_string(again, false), canonical);
}

}  // namespace
}  // namespace tourcast
