#include "json_fields.h"

#include <limits>

namespace tourcast {

bool FieldReader::parse_object(std::string_view text, Json *out) {
  Json parsed = Json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded())
    return fail("not valid JSON");
  if (!parsed.is_object())
    return fail("must be a JSON object");
  *out = std::move(parsed);
  return true;
}

bool FieldReader::fail(const std::string &message) {
  if (error_ != nullptr)
    *error_ = std::string(document_) + ": " + message;
  return false;
}

bool FieldReader::field_problem(const std::string &path, const std::string &problem) {
  return fail("field '" + path + "' " + problem);
}

bool FieldReader::find(const Json &object, const std::string &prefix, const char *key,
                       Presence presence, const Json **value) {
  const auto it = object.find(key);
  *value = it == object.end() ? nullptr : &*it;
  if (*value == nullptr && presence == Presence::kRequired) {
    return field_problem(prefix + key, "is missing");
  }
  return true;
}

bool FieldReader::read(const Json &object, const std::string &prefix, const char *key,
                       std::string *out, Presence presence) {
  const Json *value = nullptr;
  if (!find(object, prefix, key, presence, &value))
    return false;
  if (value == nullptr)
    return true;
  if (!value->is_string())
    return field_problem(prefix + key, "must be a string");
  *out = value->get<std::string>();
  return true;
}

bool FieldReader::read(const Json &object, const std::string &prefix, const char *key, bool *out,
                       Presence presence) {
  const Json *value = nullptr;
  if (!find(object, prefix, key, presence, &value))
    return false;
  if (value == nullptr)
    return true;
  if (!value->is_boolean())
    return field_problem(prefix + key, "must be true or false");
  *out = value->get<bool>();
  return true;
}

bool FieldReader::read(const Json &object, const std::string &prefix, const char *key, int64_t *out,
                       Presence presence) {
  const Json *value = nullptr;
  if (!find(object, prefix, key, presence, &value))
    return false;
  if (value == nullptr)
    return true;
  if (!value->is_number_integer())
    return field_problem(prefix + key, "must be an integer");
  if (value->is_number_unsigned() &&
      value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return field_problem(prefix + key, "is too large");
  }
  *out = value->get<int64_t>();
  return true;
}

bool FieldReader::read(const Json &object, const std::string &prefix, const char *key,
                       uint64_t *out, uint64_t min, uint64_t max, Presence presence) {
  const Json *value = nullptr;
  if (!find(object, prefix, key, presence, &value))
    return false;
  if (value == nullptr)
    return true;
  if (!value->is_number_integer())
    return field_problem(prefix + key, "must be an integer");
  if (!value->is_number_unsigned() || value->get<uint64_t>() < min ||
      value->get<uint64_t>() > max) {
    return field_problem(prefix + key,
                         "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  *out = value->get<uint64_t>();
  return true;
}

bool FieldReader::read(const Json &object, const std::string &prefix, const char *key,
                       uint32_t *out, Presence presence) {
  uint64_t wide = *out;
  if (!read(object, prefix, key, &wide, 0, std::numeric_limits<uint32_t>::max(), presence)) {
    return false;
  }
  *out = static_cast<uint32_t>(wide);
  return true;
}

bool FieldReader::read_non_empty(const Json &object, const std::string &prefix, const char *key,
                                 std::string *out) {
  if (!read(object, prefix, key, out))
    return false;
  if (out->empty())
    return field_problem(prefix + key, "must not be empty");
  return true;
}

bool FieldReader::read_name(const Json &object, const std::string &prefix, const char *key,
                            NameKind kind, std::string *out, Presence presence) {
  if (!read(object, prefix, key, out, presence))
    return false;
  if (presence == Presence::kOptional && out->empty())
    return true;
  std::string why;
  if (!validate_name(kind, *out, &why))
    return fail("field '" + prefix + key + "': " + why);
  return true;
}

bool FieldReader::object(const Json &object, const std::string &prefix, const char *key,
                         const Json **out, Presence presence) {
  if (!find(object, prefix, key, presence, out))
    return false;
  if (*out != nullptr && !(*out)->is_object())
    return field_problem(prefix + key, "must be an object");
  return true;
}

std::string dump_json(const Json &value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tourcast
