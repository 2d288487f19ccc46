#include "release/release_protocol.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "rapidjson/document.h"

namespace clover::release {
namespace {

constexpr absl::string_view kPayloadUrl = "clover.dev/key-release";
constexpr size_t kMaxField = 256;

absl::Status Field(const rapidjson::Value& obj, const char* name,
                   bool allow_empty, std::string* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': a string is required"));
  }
  const size_t n = it->value.GetStringLength();
  if ((n == 0 && !allow_empty) || n > kMaxField) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': 1 to ", kMaxField, " bytes"));
  }
  out->assign(it->value.GetString(), n);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReleaseRequest> ParseReleaseRequest(absl::string_view body) {
  if (body.size() > kMaxRequestBytes) {
    return absl::InvalidArgumentError("request body too large");
  }
  rapidjson::Document d;
  if (absl::Status s = ParseJson(body, &d); !s.ok()) return s;
  if (!d.IsObject()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  if (absl::Status s = RejectDuplicateKeys(d); !s.ok()) return s;
  for (const auto& m : d.GetObject()) {
    absl::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (k != "region" && k != "wrapped" && k != "justification") {
      return absl::InvalidArgumentError("unknown field in request");
    }
  }
  ReleaseRequest r;
  if (absl::Status s = Field(d, "region", false, &r.region); !s.ok()) return s;
  std::string b64;
  auto w = d.FindMember("wrapped");
  if (w == d.MemberEnd() || !w->value.IsString() ||
      w->value.GetStringLength() == 0 ||
      w->value.GetStringLength() > kMaxRequestBytes ||
      !absl::Base64Unescape(
          absl::string_view(w->value.GetString(), w->value.GetStringLength()),
          &r.wrapped)) {
    return absl::InvalidArgumentError("field 'wrapped': base64 is required");
  }
  auto j = d.FindMember("justification");
  if (j == d.MemberEnd() || !j->value.IsObject()) {
    return absl::InvalidArgumentError(
        "field 'justification': an object is required");
  }
  const rapidjson::Value& jv = j->value;
  for (const auto& m : jv.GetObject()) {
    absl::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (k != "principal" && k != "purpose" && k != "code" &&
        k != "decision_index" && k != "subject" && k != "node" && k != "log") {
      return absl::InvalidArgumentError("unknown field in justification");
    }
  }
  Justification& out = r.justification;
  if (absl::Status s = Field(jv, "principal", false, &out.principal); !s.ok())
    return s;
  if (absl::Status s = Field(jv, "purpose", false, &out.purpose); !s.ok())
    return s;
  if (absl::Status s = Field(jv, "code", false, &out.code); !s.ok()) return s;
  if (absl::Status s = Field(jv, "subject", true, &out.subject); !s.ok())
    return s;
  for (auto [name, field] :
       {std::pair{"node", &out.node}, std::pair{"log", &out.log}}) {
    if (!jv.HasMember(name)) continue;
    if (absl::Status s = Field(jv, name, false, field); !s.ok()) return s;
  }
  if (auto di = jv.FindMember("decision_index"); di != jv.MemberEnd()) {
    if (!di->value.IsUint64()) {
      return absl::InvalidArgumentError(
          "field 'decision_index': a non-negative integer is required");
    }
    out.decision_index = di->value.GetUint64();
  }
  return r;
}

std::string EncodeReleaseRequest(const ReleaseRequest& r) {
  const Justification& j = r.justification;
  std::string out = "{\"justification\":{\"code\":";
  AppendJsonString(j.code, &out);
  if (j.decision_index.has_value()) {
    absl::StrAppend(&out, ",\"decision_index\":", *j.decision_index);
  }
  if (!j.log.empty()) {
    out.append(",\"log\":");
    AppendJsonString(j.log, &out);
  }
  if (!j.node.empty()) {
    out.append(",\"node\":");
    AppendJsonString(j.node, &out);
  }
  out.append(",\"principal\":");
  AppendJsonString(j.principal, &out);
  out.append(",\"purpose\":");
  AppendJsonString(j.purpose, &out);
  out.append(",\"subject\":");
  AppendJsonString(j.subject, &out);
  out.append("},\"region\":");
  AppendJsonString(r.region, &out);
  out.append(",\"wrapped\":\"");
  out.append(absl::Base64Escape(r.wrapped));
  out.append("\"}");
  return out;
}

absl::Status KeyReleaseError(absl::string_view code,
                             absl::string_view message) {
  absl::Status s = code == kKeyReleaseRefused
                       ? absl::PermissionDeniedError(message)
                       : absl::UnavailableError(message);
  s.SetPayload(kPayloadUrl, absl::Cord(code));
  return s;
}

std::optional<std::string> KeyReleaseCode(const absl::Status& status) {
  auto p = status.GetPayload(kPayloadUrl);
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

}  // namespace clover::release
