#include "core/json_fields.h"

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"

namespace clover {

absl::Status ParseJsonObject(absl::string_view json, rapidjson::Document& doc,
                             absl::string_view what) {
  if (absl::Status parsed = clover::ParseJson(json, &doc); !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", parsed.message()));
  }
  if (!doc.IsObject())
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a JSON object"));
  // A second value for one name must not override what a reviewer saw.
  if (absl::Status unique = RejectDuplicateKeys(doc); !unique.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", unique.message()));
  }
  return absl::OkStatus();
}

namespace {
absl::Status FieldError(const char* name, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("field '", name, "': ", msg));
}
}  // namespace

absl::Status GetString(const rapidjson::Value& obj, const char* name,
                       bool required, std::string* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return required ? FieldError(name, "missing") : absl::OkStatus();
  if (!it->value.IsString()) return FieldError(name, "must be a string");
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

absl::Status GetStringArray(const rapidjson::Value& obj, const char* name,
                            bool required, std::vector<std::string>* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return required ? FieldError(name, "missing") : absl::OkStatus();
  if (!it->value.IsArray())
    return FieldError(name, "must be an array of strings");
  out->clear();
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return FieldError(name, "must be an array of strings");
    out->emplace_back(v.GetString(), v.GetStringLength());
  }
  return absl::OkStatus();
}

absl::Status GetUint64(const rapidjson::Value& obj, const char* name,
                       bool required, uint64_t* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return required ? FieldError(name, "missing") : absl::OkStatus();
  if (!it->value.IsUint64())
    return FieldError(name, "must be a non-negative integer");
  *out = it->value.GetUint64();
  return absl::OkStatus();
}

absl::Status GetInt64(const rapidjson::Value& obj, const char* name,
                      bool required, int64_t* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return required ? FieldError(name, "missing") : absl::OkStatus();
  if (!it->value.IsInt64()) return FieldError(name, "must be an integer");
  *out = it->value.GetInt64();
  return absl::OkStatus();
}

rapidjson::Value JsonString(absl::string_view s, rapidjson::Document& doc) {
  rapidjson::Value v;
  v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()),
              doc.GetAllocator());
  return v;
}

rapidjson::Value JsonStringArray(const std::vector<std::string>& v,
                                 rapidjson::Document& doc) {
  rapidjson::Value a(rapidjson::kArrayType);
  for (const std::string& s : v)
    a.PushBack(JsonString(s, doc), doc.GetAllocator());
  return a;
}

absl::StatusOr<std::string> ToCanonical(const rapidjson::Value& v) {
  absl::StatusOr<std::string> s = CanonicalJson(v);
  if (!s.ok())
    return absl::InternalError(
        absl::StrCat("JSON encoding: ", s.status().message()));
  return s;
}

}  // namespace clover
