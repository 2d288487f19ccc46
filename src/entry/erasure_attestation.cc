#include "entry/erasure_attestation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "log/merkle.h"
#include "rapidjson/document.h"

namespace clover::entry {
namespace {

absl::Status Bad(absl::string_view member, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "erasure_purge entry: member '", std::string(member), "' ", what));
}

absl::Status Str(const rapidjson::Value& d, const char* name,
                 std::string* out) {
  auto it = d.FindMember(name);
  if (it == d.MemberEnd() || !it->value.IsString()) {
    return Bad(name, "must be a string");
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

absl::Status U64(const rapidjson::Value& d, const char* name, uint64_t* out) {
  auto it = d.FindMember(name);
  if (it == d.MemberEnd() || !it->value.IsUint64()) {
    return Bad(name, "must be a non-negative integer");
  }
  *out = it->value.GetUint64();
  return absl::OkStatus();
}

}  // namespace

std::string ErasedSubjectsRoot(std::vector<std::string> pseudonyms) {
  std::sort(pseudonyms.begin(), pseudonyms.end());
  pseudonyms.erase(std::unique(pseudonyms.begin(), pseudonyms.end()),
                   pseudonyms.end());
  std::vector<log::Hash> leaves;
  leaves.reserve(pseudonyms.size());
  for (const std::string& p : pseudonyms) leaves.push_back(log::LeafHash(p));
  const log::Hash root = log::RootFromLeafHashes(leaves);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(root.data()), root.size()));
}

std::string ErasurePurgeJson(const ErasurePurge& a) {
  // Members in canonical (RFC 8785) order.
  std::string out = absl::StrCat("{\"cut_log_size\":", a.cut_log_size,
                                 ",\"destroyed_epochs\":[");
  for (size_t i = 0; i < a.destroyed_epochs.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(a.destroyed_epochs[i], &out);
  }
  absl::StrAppend(&out, "],\"erased\":", a.erased, ",\"erased_root\":");
  AppendJsonString(a.erased_root, &out);
  absl::StrAppend(&out, ",\"live\":", a.live, ",\"new_epoch\":");
  AppendJsonString(a.new_epoch, &out);
  out += ",\"node\":";
  AppendJsonString(a.node, &out);
  if (!a.purge.empty()) {
    out += ",\"purge\":";
    AppendJsonString(a.purge, &out);
  }
  out += ",\"region\":";
  AppendJsonString(a.region, &out);
  absl::StrAppend(&out, ",\"rewrapped\":", a.rewrapped, ",\"time\":");
  AppendJsonString(FormatRfc3339Millis(a.time), &out);
  out += ",\"type\":";
  AppendJsonString(kErasurePurgeType, &out);
  out += ",\"v\":1}";
  return out;
}

absl::StatusOr<ErasurePurge> ParseErasurePurge(absl::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError(
        "erasure_purge entry is not a JSON object");
  }
  ErasurePurge a;
  std::string type, time;
  if (absl::Status s = Str(d, "type", &type); !s.ok()) return s;
  if (type != kErasurePurgeType) return Bad("type", "is not erasure_purge");
  uint64_t v = 0;
  if (absl::Status s = U64(d, "v", &v); !s.ok()) return s;
  if (v != 1) return Bad("v", "is not 1");
  for (auto [name, out] :
       {std::pair{"node", &a.node}, std::pair{"region", &a.region},
        std::pair{"erased_root", &a.erased_root},
        std::pair{"new_epoch", &a.new_epoch}, std::pair{"time", &time}}) {
    if (absl::Status s = Str(d, name, out); !s.ok()) return s;
  }
  absl::StatusOr<absl::Time> t = ParseRfc3339(time);
  if (!t.ok()) return Bad("time", "is not an RFC 3339 time");
  a.time = *t;
  for (auto [name, out] :
       {std::pair{"cut_log_size", &a.cut_log_size},
        std::pair{"erased", &a.erased}, std::pair{"rewrapped", &a.rewrapped},
        std::pair{"live", &a.live}}) {
    if (absl::Status s = U64(d, name, out); !s.ok()) return s;
  }
  if (auto p = d.FindMember("purge"); p != d.MemberEnd()) {
    if (!p->value.IsString() || p->value.GetStringLength() == 0) {
      return Bad("purge", "must be a non-empty string");
    }
    a.purge.assign(p->value.GetString(), p->value.GetStringLength());
  }
  auto it = d.FindMember("destroyed_epochs");
  if (it == d.MemberEnd() || !it->value.IsArray()) {
    return Bad("destroyed_epochs", "must be a list of strings");
  }
  for (const auto& e : it->value.GetArray()) {
    if (!e.IsString())
      return Bad("destroyed_epochs", "must be a list of strings");
    a.destroyed_epochs.emplace_back(e.GetString(), e.GetStringLength());
  }
  return a;
}

}  // namespace clover::entry
