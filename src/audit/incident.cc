#include "audit/incident.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

constexpr std::array<std::pair<Severity, absl::string_view>, 4> kSeverities = {{
    {Severity::kLow, "low"},
    {Severity::kMedium, "medium"},
    {Severity::kHigh, "high"},
    {Severity::kCritical, "critical"},
}};
constexpr std::array<std::pair<IncidentStatus, absl::string_view>, 3>
    kStatuses = {{
        {IncidentStatus::kOpen, "open"},
        {IncidentStatus::kAcknowledged, "acknowledged"},
        {IncidentStatus::kResolved, "resolved"},
    }};

rapidjson::Value EvidenceToValue(const Evidence& e, rapidjson::Document& d) {
  auto& al = d.GetAllocator();
  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("origin", JsonString(e.origin, d), al);
  if (e.index) v.AddMember("index", *e.index, al);
  if (!e.entry_sha256.empty())
    v.AddMember("entry_sha256", JsonString(e.entry_sha256, d), al);
  if (!e.entry.empty()) v.AddMember("entry", JsonString(e.entry, d), al);
  if (!e.proof.empty()) v.AddMember("proof", JsonString(e.proof, d), al);
  if (!e.checkpoints.empty())
    v.AddMember("checkpoints", JsonStringArray(e.checkpoints, d), al);
  if (!e.note.empty()) v.AddMember("note", JsonString(e.note, d), al);
  return v;
}

absl::Status TimeMember(const rapidjson::Value& v, const char* name,
                        absl::Time* out) {
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(v, name, true, &s));
  CLOVER_ASSIGN_OR_RETURN(*out, ParseRfc3339(s));
  return absl::OkStatus();
}

}  // namespace

absl::string_view ToString(Severity s) {
  for (const auto& [k, v] : kSeverities) {
    if (k == s) return v;
  }
  return "unknown";
}
std::optional<Severity> ParseSeverity(absl::string_view s) {
  for (const auto& [k, v] : kSeverities) {
    if (v == s) return k;
  }
  return std::nullopt;
}
absl::string_view ToString(IncidentStatus s) {
  for (const auto& [k, v] : kStatuses) {
    if (k == s) return v;
  }
  return "unknown";
}
std::optional<IncidentStatus> ParseIncidentStatus(absl::string_view s) {
  for (const auto& [k, v] : kStatuses) {
    if (v == s) return k;
  }
  return std::nullopt;
}

std::string IncidentToJson(const Incident& i) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& al = d.GetAllocator();
  d.AddMember("id", JsonString(i.id, d), al);
  d.AddMember("detector", JsonString(i.detector, d), al);
  d.AddMember("severity", JsonString(ToString(i.severity), d), al);
  d.AddMember("key", JsonString(i.key, d), al);
  d.AddMember("summary", JsonString(i.summary, d), al);
  rapidjson::Value ev(rapidjson::kArrayType);
  for (const Evidence& e : i.evidence) ev.PushBack(EvidenceToValue(e, d), al);
  d.AddMember("evidence", ev, al);
  d.AddMember("first_seen", JsonString(FormatRfc3339Millis(i.first_seen), d),
              al);
  d.AddMember("last_seen", JsonString(FormatRfc3339Millis(i.last_seen), d), al);
  d.AddMember("occurrences", i.occurrences, al);
  d.AddMember("status", JsonString(ToString(i.status), d), al);
  if (!i.acknowledged_by.empty()) {
    d.AddMember("acknowledged_by", JsonString(i.acknowledged_by, d), al);
  }
  if (!i.resolved_by.empty())
    d.AddMember("resolved_by", JsonString(i.resolved_by, d), al);
  if (i.acknowledged_at != absl::InfinitePast()) {
    d.AddMember("acknowledged_at",
                JsonString(FormatRfc3339Millis(i.acknowledged_at), d), al);
  }
  if (i.resolved_at != absl::InfinitePast()) {
    d.AddMember("resolved_at",
                JsonString(FormatRfc3339Millis(i.resolved_at), d), al);
  }
  if (!i.acknowledge_note.empty()) {
    d.AddMember("acknowledge_note", JsonString(i.acknowledge_note, d), al);
  }
  if (!i.resolve_note.empty())
    d.AddMember("resolve_note", JsonString(i.resolve_note, d), al);
  d.AddMember("notification_deadline",
              JsonString(FormatRfc3339Millis(i.notification_deadline), d), al);
  return ToCanonical(d).value_or("{}");
}

absl::StatusOr<Incident> IncidentFromJson(absl::string_view json) {
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(json, d, "incident"));
  Incident i;
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(d, "id", true, &i.id));
  CLOVER_RETURN_IF_ERROR(GetString(d, "detector", true, &i.detector));
  CLOVER_RETURN_IF_ERROR(GetString(d, "severity", true, &s));
  auto sev = ParseSeverity(s);
  if (!sev)
    return absl::InvalidArgumentError("field 'severity': unknown severity");
  i.severity = *sev;
  CLOVER_RETURN_IF_ERROR(GetString(d, "key", true, &i.key));
  CLOVER_RETURN_IF_ERROR(GetString(d, "summary", true, &i.summary));
  auto ev = d.FindMember("evidence");
  if (ev == d.MemberEnd() || !ev->value.IsArray()) {
    return absl::InvalidArgumentError("field 'evidence': must be an array");
  }
  for (const auto& v : ev->value.GetArray()) {
    if (!v.IsObject())
      return absl::InvalidArgumentError(
          "field 'evidence': items must be objects");
    Evidence e;
    CLOVER_RETURN_IF_ERROR(GetString(v, "origin", true, &e.origin));
    if (v.HasMember("index")) {
      uint64_t idx = 0;
      CLOVER_RETURN_IF_ERROR(GetUint64(v, "index", true, &idx));
      e.index = idx;
    }
    CLOVER_RETURN_IF_ERROR(
        GetString(v, "entry_sha256", false, &e.entry_sha256));
    CLOVER_RETURN_IF_ERROR(GetString(v, "entry", false, &e.entry));
    CLOVER_RETURN_IF_ERROR(GetString(v, "proof", false, &e.proof));
    CLOVER_RETURN_IF_ERROR(
        GetStringArray(v, "checkpoints", false, &e.checkpoints));
    CLOVER_RETURN_IF_ERROR(GetString(v, "note", false, &e.note));
    i.evidence.push_back(std::move(e));
  }
  CLOVER_RETURN_IF_ERROR(TimeMember(d, "first_seen", &i.first_seen));
  CLOVER_RETURN_IF_ERROR(TimeMember(d, "last_seen", &i.last_seen));
  CLOVER_RETURN_IF_ERROR(GetUint64(d, "occurrences", true, &i.occurrences));
  CLOVER_RETURN_IF_ERROR(GetString(d, "status", true, &s));
  auto st = ParseIncidentStatus(s);
  if (!st) return absl::InvalidArgumentError("field 'status': unknown status");
  i.status = *st;
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "acknowledged_by", false, &i.acknowledged_by));
  CLOVER_RETURN_IF_ERROR(GetString(d, "resolved_by", false, &i.resolved_by));
  for (auto [name, out] : {std::pair<const char*, absl::Time*>{
                               "acknowledged_at", &i.acknowledged_at},
                           {"resolved_at", &i.resolved_at}}) {
    if (d.HasMember(name)) CLOVER_RETURN_IF_ERROR(TimeMember(d, name, out));
  }
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "acknowledge_note", false, &i.acknowledge_note));
  CLOVER_RETURN_IF_ERROR(GetString(d, "resolve_note", false, &i.resolve_note));
  CLOVER_RETURN_IF_ERROR(
      TimeMember(d, "notification_deadline", &i.notification_deadline));
  return i;
}

std::string IncidentListToJson(const std::vector<Incident>& list) {
  std::string out = "{\"incidents\":[";
  for (size_t k = 0; k < list.size(); ++k) {
    if (k > 0) out += ',';
    out += IncidentToJson(list[k]);
  }
  out += "]}";
  return out;
}

}  // namespace clover::audit
