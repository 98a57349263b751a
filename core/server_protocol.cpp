#include "server_protocol.h"

#include <cmath>

#include "json_fields.h"
#include "redis_schema.h"
#include "text_util.h"

namespace tourcast {

namespace {

constexpr size_t kMaxSdpLine = 4096;
constexpr size_t kMaxFragmentCandidates = 100;

// Splits on LF, dropping one CR before it. Calls f(line, number) until it returns false.
template <typename F>
bool for_each_line(std::string_view text, F f) {
  size_t start = 0;
  int number = 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (!f(line, number))
      return false;
    start = end + 1;
    number++;
  }
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool printable_line(std::string_view line, std::string *why) {
  for (size_t i = 0; i < line.size(); i++) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c >= 0x7f) {
      if (c == '\t')
        continue;
      *why = "byte " + describe_byte(line[i]) + " at column " + std::to_string(i + 1) +
             " is not printable ASCII";
      return false;
    }
  }
  return true;
}

bool set_error(std::string *error, const std::string &message) {
  if (error)
    *error = message;
  return false;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool check_sdp_offer(std::string_view sdp, std::string *error) {
  if (sdp.size() > kMaxSdpBytes)
    return set_error(error, "SDP is " + std::to_string(sdp.size()) + " bytes, more than " +
                                std::to_string(kMaxSdpBytes));
  if (!starts_with(sdp, "v=0"))
    return set_error(error, "SDP must start with \"v=0\"");
  bool audio = false;
  std::string problem;
  bool ok = for_each_line(sdp, [&](std::string_view line, int number) {
    std::string why;
    if (line.size() > kMaxSdpLine)
      why = "is longer than " + std::to_string(kMaxSdpLine) + " bytes";
    else if (!line.empty() && (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z'))
      why = "is not \"<letter>=<value>\": " + quote_for_message(line, 40);
    else if (!printable_line(line, &why))
      why = "has a " + why;
    if (!why.empty()) {
      problem = "SDP line " + std::to_string(number) + " " + why;
      return false;
    }
    if (starts_with(line, "m=audio "))
      audio = true;
    return true;
  });
  if (!ok)
    return set_error(error, problem);
  if (!audio)
    return set_error(error, "SDP has no audio media section (m=audio)");
  return true;
}

int opus_payload_type(std::string_view sdp) {
  int found = -1;
  bool in_audio = false;
  bool seen_audio = false;
  for_each_line(sdp, [&](std::string_view line, int) {
    if (starts_with(line, "m=")) {
      if (seen_audio)
        return false;  // only the first audio section
      in_audio = starts_with(line, "m=audio ");
      seen_audio = in_audio;
      return true;
    }
    if (!in_audio || !starts_with(line, "a=rtpmap:"))
      return true;
    std::string_view rest = line.substr(9);
    size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 3)
      return true;
    std::string_view codec = rest.substr(space + 1);
    if (codec.size() < 10 || !equals_ignore_case(codec.substr(0, 10), "opus/48000") ||
        (codec.size() > 10 && codec[10] != '/'))
      return true;
    int pt = 0;
    for (char c : rest.substr(0, space)) {
      if (c < '0' || c > '9')
        return true;
      pt = pt * 10 + (c - '0');
    }
    if (pt > 127)
      return true;
    found = pt;
    return false;
  });
  return found;
}

bool parse_trickle_fragment(std::string_view text, SdpFragment *out, std::string *error) {
  if (text.size() > kMaxSdpBytes)
    return set_error(error, "fragment is " + std::to_string(text.size()) + " bytes, more than " +
                                std::to_string(kMaxSdpBytes));
  SdpFragment fragment;
  int mline = -1;
  std::string problem;
  bool ok = for_each_line(text, [&](std::string_view line, int number) {
    std::string why;
    const std::string where = "fragment line " + std::to_string(number) + " ";
    if (line.size() > kMaxSdpLine) {
      problem = where + "is longer than " + std::to_string(kMaxSdpLine) + " bytes";
      return false;
    }
    if (!printable_line(line, &why)) {
      problem = where + "has a " + why;
      return false;
    }
    if (line.empty())
      return true;
    if (starts_with(line, "a=ice-ufrag:")) {
      fragment.ice_ufrag = std::string(line.substr(12));
    } else if (starts_with(line, "a=ice-pwd:")) {
      fragment.ice_pwd = std::string(line.substr(10));
    } else if (starts_with(line, "m=")) {
      mline++;
    } else if (starts_with(line, "a=mid:") || starts_with(line, "a=ice-options:") ||
               starts_with(line, "a=group:")) {
      // informational
    } else if (starts_with(line, "a=end-of-candidates")) {
      fragment.end_of_candidates = true;
    } else if (starts_with(line, "a=candidate:")) {
      if (fragment.candidates.size() >= kMaxFragmentCandidates) {
        problem = where + ": more than " + std::to_string(kMaxFragmentCandidates) + " candidates";
        return false;
      }
      std::string_view candidate = line.substr(2);
      // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
      int fields = 0;
      bool in_field = false;
      for (char c : candidate) {
        if (c == ' ') {
          in_field = false;
        } else if (!in_field) {
          in_field = true;
          fields++;
        }
      }
      if (fields < 8) {
        problem = where + "is not a complete ICE candidate: " + quote_for_message(line, 60);
        return false;
      }
      fragment.candidates.push_back({static_cast<uint32_t>(mline < 0 ? 0 : mline),
                                     std::string(candidate)});
    } else {
      problem = where + "is not allowed in a trickle-ice-sdpfrag: " + quote_for_message(line, 40);
      return false;
    }
    return true;
  });
  if (!ok)
    return set_error(error, problem);
  *out = std::move(fragment);
  return true;
}

std::string add_candidates_to_sdp(std::string_view sdp, const std::vector<SdpCandidate> &cands) {
  std::string result;
  int section = -1;
  auto flush = [&](int index) {
    if (index < 0)
      return;
    for (const auto &c : cands) {
      if (static_cast<int>(c.mline) == index)
        result += "a=" + c.candidate + "\r\n";
    }
  };
  for_each_line(sdp, [&](std::string_view line, int) {
    if (starts_with(line, "m=")) {
      flush(section);
      section++;
    }
    if (!line.empty()) {
      result += line;
      result += "\r\n";
    }
    return true;
  });
  flush(section);
  return result;
}

bool parse_token_file(std::string_view text, TourTokens *out, std::string *error) {
  TourTokens tokens;
  std::map<std::string, std::string> owner;
  std::string problem;
  bool ok = for_each_line(text, [&](std::string_view raw, int number) {
    const std::string where = "token file line " + std::to_string(number) + ": ";
    size_t hash = raw.find('#');
    std::string_view line = trim(hash == std::string_view::npos ? raw : raw.substr(0, hash));
    if (line.empty())
      return true;
    size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      problem = where + "expected \"<tour> <token>\"";
      return false;
    }
    std::string tour(line.substr(0, space));
    std::string token(trim(line.substr(space)));
    std::string why;
    if (!validate_name(NameKind::kTour, tour, &why)) {
      problem = where + why;
      return false;
    }
    if (token.size() < 16 || token.size() > 256) {
      problem = where + "the token must be 16-256 characters long (it has " +
                std::to_string(token.size()) + ")";
      return false;
    }
    for (char c : token) {
      if (!is_token_char(c)) {
        problem = where + "the token has a character " + describe_byte(c) +
                  " (allowed: letters, digits and ._~+/=-)";
        return false;
      }
    }
    auto [it, inserted] = owner.emplace(token, tour);
    if (!inserted && it->second != tour) {
      problem = where + "this token already belongs to tour " + it->second;
      return false;
    }
    tokens[tour].push_back(token);
    return true;
  });
  if (!ok)
    return set_error(error, problem);
  *out = std::move(tokens);
  return true;
}

bool parse_bearer(std::string_view header, std::string *token) {
  header = trim(header);
  if (header.size() < 8 || !equals_ignore_case(header.substr(0, 7), "bearer "))
    return false;
  std::string_view value = trim(header.substr(7));
  if (value.empty() || value.size() > 256)
    return false;
  for (char c : value) {
    if (!is_token_char(c))
      return false;
  }
  *token = std::string(value);
  return true;
}

bool decode_seed_offer_request(std::string_view json, SeedOfferRequest *out, std::string *error) {
  if (json.size() > kMaxSdpBytes + 1024)
    return set_error(error, "request JSON: document is too large");
  FieldReader reader("request JSON", error);
  Json root;
  SeedOfferRequest request;
  if (!reader.parse_object(json, &root) ||
      !reader.read_name(root, "", "tourId", NameKind::kTour, &request.tour) ||
      !reader.read_name(root, "", "language", NameKind::kLanguage, &request.language))
    return false;
  auto it = root.find("offer");
  if (it == root.end())
    return reader.field_problem("offer", "is missing");
  if (it->is_string()) {
    request.sdp = it->get<std::string>();
  } else if (it->is_object()) {
    std::string type;
    if (!reader.read(*it, "offer.", "type", &type) ||
        !reader.read_non_empty(*it, "offer.", "sdp", &request.sdp))
      return false;
    if (type != "offer")
      return reader.field_problem("offer.type", "must be \"offer\"");
  } else {
    return reader.field_problem("offer", "must be an SDP string or {\"type\":\"offer\",\"sdp\":...}");
  }
  std::string why;
  if (!check_sdp_offer(request.sdp, &why))
    return reader.field_problem("offer", why);
  *out = std::move(request);
  return true;
}

std::string encode_seed_offer_request(const SeedOfferRequest &request) {
  return dump_json(Json{{"tourId", request.tour},
                        {"language", request.language},
                        {"offer", Json{{"type", "offer"}, {"sdp", request.sdp}}}});
}

namespace {

bool read_double(FieldReader *reader, const Json &root, const char *key, bool *has, double *out) {
  auto it = root.find(key);
  if (it == root.end() || it->is_null())
    return true;
  if (!it->is_number())
    return reader->field_problem(key, "must be a number");
  double value = it->get<double>();
  if (!std::isfinite(value) || value < 0 || value > 600000)
    return reader->field_problem(key, "must be between 0 and 600000");
  *has = true;
  *out = value;
  return true;
}

}  // namespace

bool decode_attendee_report(std::string_view json, AttendeeReport *out, std::string *error) {
  if (json.size() > 4096)
    return set_error(error, "report JSON: document is too large");
  FieldReader reader("report JSON", error);
  Json root;
  AttendeeReport report;
  if (!reader.parse_object(json, &root) ||
      !read_double(&reader, root, "rttMs", &report.has_rtt, &report.rtt_ms) ||
      !read_double(&reader, root, "jitterMs", &report.has_jitter, &report.jitter_ms) ||
      !reader.read(root, "", "packetsLost", &report.packets_lost, Presence::kOptional) ||
      !reader.read(root, "", "packetsReceived", &report.packets_received, Presence::kOptional) ||
      !reader.read(root, "", "state", &report.state) ||
      !reader.read(root, "", "recoveries", &report.recoveries, Presence::kOptional))
    return false;
  if (report.packets_received < 0)
    return reader.field_problem("packetsReceived", "must not be negative");
  static const char *const kStates[] = {"new",          "connecting", "connected",
                                        "disconnected", "failed",     "closed"};
  bool known = false;
  for (const char *s : kStates)
    known = known || report.state == s;
  if (!known)
    return reader.field_problem("state", "has unknown value " + quote_for_message(report.state) +
                                             " (expected an RTCPeerConnection state)");
  *out = std::move(report);
  return true;
}

std::string encode_attendee_report(const AttendeeReport &report) {
  Json json{{"state", report.state},
            {"packetsLost", report.packets_lost},
            {"packetsReceived", report.packets_received},
            {"recoveries", report.recoveries}};
  if (report.has_rtt)
    json["rttMs"] = report.rtt_ms;
  if (report.has_jitter)
    json["jitterMs"] = report.jitter_ms;
  return dump_json(json);
}

bool decode_http_resource(std::string_view json, HttpResource *out, std::string *error) {
  FieldReader reader("resource JSON", error);
  Json root;
  HttpResource r;
  if (!reader.parse_object(json, &root) || !reader.read(root, "", "kind", &r.kind) ||
      !reader.read_name(root, "", "tour", NameKind::kTour, &r.tour) ||
      !reader.read_name(root, "", "language", NameKind::kLanguage, &r.language) ||
      !reader.read_name(root, "", "participant", NameKind::kParticipantId, &r.participant) ||
      !reader.read(root, "", "session", &r.session) || !reader.read(root, "", "server", &r.server) ||
      !reader.read(root, "", "created", &r.created) ||
      !reader.read(root, "", "nextSeq", &r.next_sequence, 1, UINT64_MAX))
    return false;
  if (r.kind != "whep" && r.kind != "whip")
    return reader.field_problem("kind", "must be \"whep\" or \"whip\"");
  *out = std::move(r);
  return true;
}

std::string encode_http_resource(const HttpResource &r) {
  return dump_json(Json{{"kind", r.kind},
                        {"tour", r.tour},
                        {"language", r.language},
                        {"participant", r.participant},
                        {"session", r.session},
                        {"server", r.server},
                        {"created", r.created},
                        {"nextSeq", r.next_sequence}});
}

std::string http_resource_key(std::string_view id) {
  return "webrtc:resource:" + std::string(id);
}

std::string publisher_key(std::string_view tour, std::string_view language) {
  return "webrtc:publisher:" + std::string(tour) + ":" + std::string(language);
}

bool is_resource_id(std::string_view id) {
  if (id.size() != 32)
    return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

bool parse_channel_path(std::string_view path, std::string_view prefix, std::string *tour,
                        std::string *language, std::string *error) {
  if (!starts_with(path, prefix))
    return set_error(error, "path must start with " + std::string(prefix));
  std::string_view rest = path.substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos)
    return set_error(error, "path must be " + std::string(prefix) + "{tour}/{language}");
  std::string_view t = rest.substr(0, slash), l = rest.substr(slash + 1);
  if (!l.empty() && l.back() == '/')
    l.remove_suffix(1);
  std::string why;
  if (!validate_name(NameKind::kTour, t, &why) || !validate_name(NameKind::kLanguage, l, &why))
    return set_error(error, why);
  *tour = std::string(t);
  *language = std::string(l);
  return true;
}

}  // namespace tourcast
