#include "gateway/request_util.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "core/status_macros.h"
#include "rapidjson/error/en.h"

namespace clover::gateway {
namespace {
constexpr char kHttpErrorPayload[] = "clover.dev/http-error";
}  // namespace

absl::Status HttpError(int status, absl::string_view code,
                       absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kHttpErrorPayload, absl::Cord(absl::StrCat(status, " ", code)));
  return s;
}

std::optional<server::HttpResponse> HttpErrorResponse(
    const absl::Status& status) {
  auto payload = status.GetPayload(kHttpErrorPayload);
  if (!payload.has_value()) return std::nullopt;
  std::string text(*payload);
  size_t space = text.find(' ');
  int http = 0;
  if (space == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(text).substr(0, space), &http)) {
    return std::nullopt;
  }
  return server::HttpResponse::Error(http, text.substr(space + 1),
                                     status.message());
}

absl::Status CheckDeclaredPurpose(const Deployment& deployment,
                                  absl::string_view purpose) {
  if (deployment.IsDeclaredPurpose(purpose)) return absl::OkStatus();
  // Only identifiers are quoted back.
  return HttpError(
      400, "unknown_purpose",
      IsIdentifier(purpose)
          ? absl::StrCat("purpose '", purpose,
                         "' is not one this deployment declares")
          : std::string("the purpose is not one this deployment declares"));
}

std::optional<server::HttpResponse> CheckJsonContentType(
    const server::HttpRequest& request) {
  if (request.body.empty()) return std::nullopt;
  absl::string_view type = request.Header("content-type");
  type = absl::StripAsciiWhitespace(type.substr(0, type.find(';')));
  if (absl::EqualsIgnoreCase(type, "application/json")) return std::nullopt;
  return server::HttpResponse::Error(
      415, "unsupported_media_type",
      "a request body must be JSON, sent with Content-Type: application/json");
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' ||
          c == '-'))
      return false;
  }
  return true;
}

absl::StatusOr<std::string> PurposeOf(const server::HttpRequest& request) {
  absl::string_view purpose = request.Header("x-clover-purpose");
  if (purpose.empty()) {
    return absl::InvalidArgumentError(
        "every data request must name its purpose in the X-Clover-Purpose "
        "header");
  }
  if (!IsIdentifier(purpose)) {
    return absl::InvalidArgumentError(
        "X-Clover-Purpose must be an identifier such as customer_support");
  }
  return std::string(purpose);
}

std::vector<std::string> SplitList(absl::string_view csv) {
  std::vector<std::string> out;
  if (csv.empty()) return out;
  for (absl::string_view part : absl::StrSplit(csv, ',')) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

absl::StatusOr<std::vector<const FieldSpec*>> ResolveFields(
    const Schema& schema, const std::vector<std::string>& names) {
  std::vector<const FieldSpec*> out;
  if (names.empty()) {
    for (const auto& f : schema.fields) out.push_back(&f);
    return out;
  }
  if (names.size() > schema.fields.size()) {
    return absl::InvalidArgumentError(
        "more fields requested than the schema has");
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& n : names) {
    if (n.empty()) {
      return absl::InvalidArgumentError("empty field name in the field list");
    }
    const FieldSpec* f = schema.Find(n);
    if (f == nullptr) {
      // Field names come from the client: quote them only when they look like
      // identifiers.
      return absl::InvalidArgumentError(
          IsIdentifier(n) ? absl::StrCat("unknown field '", n, "'")
                          : "unknown field");
    }
    if (!seen.insert(f->name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", n, "' requested twice"));
    }
    out.push_back(f);
  }
  return out;
}

absl::Status ParseJsonObject(absl::string_view body, rapidjson::Document* doc) {
  CLOVER_RETURN_IF_ERROR(ParseJson(body, doc));
  if (!doc->IsObject())
    return absl::InvalidArgumentError("request body must be a JSON object");
  return RejectDuplicateKeys(*doc);
}

absl::StatusOr<std::string> StringMember(const rapidjson::Value& obj,
                                         absl::string_view name,
                                         bool required) {
  auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == obj.MemberEnd()) {
    if (required)
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is required"));
    return std::string();
  }
  if (!it->value.IsString()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' must be a string"));
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

absl::StatusOr<std::vector<std::string>> StringArrayMember(
    const rapidjson::Value& obj, absl::string_view name, bool required,
    size_t max_items) {
  std::vector<std::string> out;
  auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == obj.MemberEnd()) {
    if (required)
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is required"));
    return out;
  }
  if (!it->value.IsArray()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' must be an array of strings"));
  }
  if (it->value.Size() > max_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' has more than ", max_items, " items"));
  }
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' must be an array of strings"));
    }
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

server::HttpResponse ErrorWith(int status, absl::string_view code,
                               absl::string_view message,
                               absl::string_view extra) {
  std::string body = "{\"error\":{\"code\":";
  AppendJsonString(code, &body);
  body.append(",\"message\":");
  AppendJsonString(message, &body);
  if (!extra.empty()) absl::StrAppend(&body, ",", extra);
  body.append("}}");
  return server::HttpResponse::Json(status, std::move(body));
}

}  // namespace clover::gateway
