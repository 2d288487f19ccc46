#include "vault/record_parser.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/countries.h"
#include "core/json_parse.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "vault/field_format.h"

namespace clover::vault {
namespace {

absl::Status FieldError(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("field '", std::string(name), "': ", std::string(what)));
}

// A field name from untrusted input, made safe to quote in an error message.
std::string Printable(absl::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  if (name.size() > 64) out.append("...");
  return out;
}

}  // namespace

const FieldSpec* FindField(const Schema& schema, absl::string_view name) {
  for (const FieldSpec& f : schema.fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status ValidateRecord(const Schema& schema, const Record& record) {
  if (!IsIsoCountryCode(record.country)) {
    return absl::InvalidArgumentError(
        "country: not an ISO 3166-1 alpha-2 country code");
  }
  // A field is given twice if its schema entry is: one flag per schema field
  // instead of a hash set of names (validation runs on every write).
  std::vector<bool> seen(schema.fields.size());
  for (const FieldValue& f : record.fields) {
    const FieldSpec* spec = FindField(schema, f.name);
    if (spec == nullptr)
      return FieldError(Printable(f.name), "not in the schema");
    const size_t index = static_cast<size_t>(spec - schema.fields.data());
    if (seen[index]) return FieldError(f.name, "given more than once");
    seen[index] = true;
    bool want_list = spec->format == FieldFormat::kTextList;
    if (f.is_list != want_list) {
      return FieldError(f.name, want_list ? "must be an array of strings"
                                          : "must be a scalar");
    }
    if (want_list) {
      if (f.items.size() > kMaxListItems) {
        return FieldError(f.name,
                          absl::StrCat("more than ", kMaxListItems, " items"));
      }
      for (const std::string& item : f.items) {
        absl::Status s = ValidateFieldValue(f.name, spec->format, item);
        if (!s.ok()) return s;
      }
    } else {
      absl::Status s = ValidateFieldValue(f.name, spec->format, f.value);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Record> ParseRecordJson(const Schema& schema,
                                       absl::string_view body) {
  if (body.size() > kMaxRecordBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record body larger than ", kMaxRecordBodyBytes, " bytes"));
  }
  rapidjson::Document doc;
  if (absl::Status parsed =
          ParseJson(absl::string_view(body.data(), body.size()), &doc);
      !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record body: ", parsed.message()));
  }
  if (!doc.IsObject())
    return absl::InvalidArgumentError("record body: must be a JSON object");
  Record record;
  bool have_country = false, have_fields = false;
  // Indexed member access: rapidjson's member iterators trip clang's C++20
  // -Wambiguous-reversed-operator in range-for loops.
  const auto top = doc.MemberBegin();
  for (rapidjson::SizeType t = 0; t < doc.MemberCount(); ++t) {
    auto& member = top[t];
    absl::string_view key(member.name.GetString(),
                          member.name.GetStringLength());
    if (key == "country") {
      if (have_country)
        return absl::InvalidArgumentError("country: given more than once");
      have_country = true;
      if (!member.value.IsString())
        return absl::InvalidArgumentError("country: must be a string");
      record.country.assign(member.value.GetString(),
                            member.value.GetStringLength());
      if (!IsIsoCountryCode(record.country)) {
        return absl::InvalidArgumentError(
            "country: not an ISO 3166-1 alpha-2 country code");
      }
    } else if (key == "fields") {
      if (have_fields)
        return absl::InvalidArgumentError("fields: given more than once");
      have_fields = true;
      if (!member.value.IsObject()) {
        return absl::InvalidArgumentError("fields: must be a JSON object");
      }
      const auto first = member.value.MemberBegin();
      for (rapidjson::SizeType fi = 0; fi < member.value.MemberCount(); ++fi) {
        auto& field = first[fi];
        absl::string_view name(field.name.GetString(),
                               field.name.GetStringLength());
        const FieldSpec* spec = FindField(schema, name);
        if (spec == nullptr)
          return FieldError(Printable(name), "not in the schema");
        FieldValue fv;
        fv.name = std::string(name);
        const rapidjson::Value& v = field.value;
        if (spec->format == FieldFormat::kTextList) {
          if (!v.IsArray())
            return FieldError(name, "must be an array of strings");
          if (v.Size() > kMaxListItems) {
            return FieldError(
                name, absl::StrCat("more than ", kMaxListItems, " items"));
          }
          fv.is_list = true;
          fv.items.reserve(v.Size());
          for (const auto& item : v.GetArray()) {
            if (!item.IsString())
              return FieldError(name, "must be an array of strings");
            fv.items.emplace_back(item.GetString(), item.GetStringLength());
          }
        } else if (spec->format == FieldFormat::kInteger && v.IsNumber()) {
          if (!v.IsInt64()) return FieldError(name, "not a 64-bit integer");
          fv.value = std::to_string(v.GetInt64());
        } else if (v.IsString()) {
          fv.value.assign(v.GetString(), v.GetStringLength());
        } else {
          return FieldError(name, "must be a string");
        }
        record.fields.push_back(std::move(fv));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("record body: unknown member '", Printable(key),
                       "' (expected \"country\" and \"fields\")"));
    }
  }
  if (!have_country) return absl::InvalidArgumentError("country: missing");
  if (!have_fields) return absl::InvalidArgumentError("fields: missing");
  absl::Status s = ValidateRecord(schema, record);
  if (!s.ok()) return s;
  return record;
}

}  // namespace clover::vault
