// Internal: typed, error-reporting access to the fields of a parsed JSON object, shared by the
// schema decoders. Not part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "redis_schema.h"

namespace tourcast {

using Json = nlohmann::json;

enum class Presence { kRequired, kOptional };

// Reads fields of one kind of document ("coordination JSON", ...) and reports the first
// problem as "<document>: field '<path>' <problem>". Every read returns false once it has set
// the error; an absent optional field leaves *out untouched and returns true.
class FieldReader {
 public:
  FieldReader(const char *document, std::string *error) : document_(document), error_(error) {}

  // Parses text and insists on a JSON object at the top.
  bool parse_object(std::string_view text, Json *out);

  // `prefix` is the dotted path of `object` ("" at the top, "participants.guide." below).
  bool read(const Json &object, const std::string &prefix, const char *key, std::string *out,
            Presence presence = Presence::kRequired);
  bool read(const Json &object, const std::string &prefix, const char *key, bool *out,
            Presence presence = Presence::kRequired);
  bool read(const Json &object, const std::string &prefix, const char *key, int64_t *out,
            Presence presence = Presence::kRequired);
  bool read(const Json &object, const std::string &prefix, const char *key, uint64_t *out,
            uint64_t min, uint64_t max, Presence presence = Presence::kRequired);
  bool read(const Json &object, const std::string &prefix, const char *key, uint32_t *out,
            Presence presence = Presence::kRequired);
  bool read_non_empty(const Json &object, const std::string &prefix, const char *key,
                      std::string *out);
  // A string that must pass validate_name(); an empty optional one is accepted.
  bool read_name(const Json &object, const std::string &prefix, const char *key, NameKind kind,
                 std::string *out, Presence presence = Presence::kRequired);
  // *out is the nested object, or nullptr when an optional one is absent.
  bool object(const Json &object, const std::string &prefix, const char *key, const Json **out,
              Presence presence = Presence::kRequired);

  bool fail(const std::string &message);
  bool field_problem(const std::string &path, const std::string &problem);

 private:
  // False (error set) when a required field is absent; *value is nullptr when it is absent.
  bool find(const Json &object, const std::string &prefix, const char *key, Presence presence,
            const Json **value);

  const char *document_;
  std::string *error_;
};

// Compact JSON; invalid UTF-8 in caller-supplied strings is replaced instead of throwing.
std::string dump_json(const Json &value);

}  // namespace tourcast
