#include "entry/pseudonym_key_entry.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "rapidjson/document.h"

namespace clover::entry {
namespace {

absl::Status Bad(absl::string_view member, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "pseudonym_key entry: member '", std::string(member), "' ", what));
}

absl::Status Str(const rapidjson::Value& d, const char* name, bool required,
                 std::string* out) {
  auto it = d.FindMember(name);
  if (it == d.MemberEnd()) {
    return required ? Bad(name, "must be a string") : absl::OkStatus();
  }
  if (!it->value.IsString()) return Bad(name, "must be a string");
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

}  // namespace

std::string PseudonymKeyId(uint32_t version) {
  return absl::StrCat("v", version);
}

uint32_t PseudonymKeyVersion(absl::string_view id) {
  uint32_t v = 0;
  if (id.size() < 2 || id[0] != 'v' || id[1] == '0' ||
      !absl::SimpleAtoi(id.substr(1), &v)) {
    return 0;
  }
  return v;
}

std::string PseudonymKeyJson(const PseudonymKeyEvent& e) {
  // Members in canonical (RFC 8785) order.
  std::string out = "{\"event\":";
  AppendJsonString(e.event, &out);
  out += ",\"key\":";
  AppendJsonString(e.key, &out);
  out += ",\"node\":";
  AppendJsonString(e.node, &out);
  out += ",\"overlap_end\":";
  AppendJsonString(FormatRfc3339Millis(e.overlap_end), &out);
  out += ",\"region\":";
  AppendJsonString(e.region, &out);
  if (!e.supersedes.empty()) {
    out += ",\"supersedes\":";
    AppendJsonString(e.supersedes, &out);
  }
  out += ",\"time\":";
  AppendJsonString(FormatRfc3339Millis(e.time), &out);
  out += ",\"type\":";
  AppendJsonString(kPseudonymKeyType, &out);
  out += ",\"v\":1}";
  return out;
}

absl::StatusOr<PseudonymKeyEvent> ParsePseudonymKey(absl::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError(
        "pseudonym_key entry is not a JSON object");
  }
  PseudonymKeyEvent e;
  std::string type, time, overlap_end;
  for (auto [name, out] :
       {std::pair{"type", &type}, std::pair{"event", &e.event},
        std::pair{"key", &e.key}, std::pair{"node", &e.node},
        std::pair{"region", &e.region}, std::pair{"time", &time},
        std::pair{"overlap_end", &overlap_end}}) {
    if (absl::Status s = Str(d, name, true, out); !s.ok()) return s;
  }
  if (absl::Status s = Str(d, "supersedes", false, &e.supersedes); !s.ok()) {
    return s;
  }
  if (type != kPseudonymKeyType) return Bad("type", "is not pseudonym_key");
  auto v = d.FindMember("v");
  if (v == d.MemberEnd() || !v->value.IsUint() || v->value.GetUint() != 1) {
    return Bad("v", "is not 1");
  }
  if (e.event != "rotate" && e.event != "retire") {
    return Bad("event", "is not rotate or retire");
  }
  if (PseudonymKeyVersion(e.key) == 0) return Bad("key", "is not v<N>");
  if ((e.event == "rotate") != (PseudonymKeyVersion(e.supersedes) != 0)) {
    return Bad("supersedes", "must name a version for a rotation only");
  }
  absl::StatusOr<absl::Time> t = ParseRfc3339(time);
  if (!t.ok()) return Bad("time", "is not an RFC 3339 time");
  e.time = *t;
  t = ParseRfc3339(overlap_end);
  if (!t.ok()) return Bad("overlap_end", "is not an RFC 3339 time");
  e.overlap_end = *t;
  return e;
}

}  // namespace clover::entry
