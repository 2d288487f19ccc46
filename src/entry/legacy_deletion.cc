#include "entry/legacy_deletion.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "crypto/sha256.h"
#include "entry/erasure_attestation.h"
#include "rapidjson/document.h"

namespace clover::entry {
namespace {

absl::Status Bad(absl::string_view member, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("legacy_deletion entry: member '", member, "' ", what));
}

}  // namespace

std::string LegacyKeyHash(absl::string_view source, absl::string_view key) {
  std::string input = "clover-legacy-key/v1";
  input.push_back('\0');
  input.append(source.data(), source.size());
  input.push_back('\0');
  input.append(key.data(), key.size());
  const crypto::Sha256Digest d = crypto::Sha256(input);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string MigratedSubjectsRoot(std::vector<std::string> pseudonyms) {
  // The same set hash as an erasure attestation's, so both are checked by
  // one rule.
  return ErasedSubjectsRoot(std::move(pseudonyms));
}

std::string LegacyDeletionJson(LegacyDeletion a) {
  std::sort(a.key_hashes.begin(), a.key_hashes.end());
  a.key_hashes.erase(std::unique(a.key_hashes.begin(), a.key_hashes.end()),
                     a.key_hashes.end());
  std::sort(a.write_indexes.begin(), a.write_indexes.end());
  // Members in canonical (RFC 8785) order.
  std::string out = absl::StrCat("{\"batch\":", a.batch, ",\"key_hashes\":[");
  for (size_t i = 0; i < a.key_hashes.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(a.key_hashes[i], &out);
  }
  out += "],\"migration\":";
  AppendJsonString(a.migration, &out);
  out += ",\"node\":";
  AppendJsonString(a.node, &out);
  absl::StrAppend(&out, ",\"records\":", a.records, ",\"region\":");
  AppendJsonString(a.region, &out);
  out += ",\"source\":";
  AppendJsonString(a.source, &out);
  out += ",\"subjects_root\":";
  AppendJsonString(a.subjects_root, &out);
  out += ",\"time\":";
  AppendJsonString(FormatRfc3339Millis(a.time), &out);
  out += ",\"type\":";
  AppendJsonString(kLegacyDeletionType, &out);
  out += ",\"v\":1,\"write_indexes\":[";
  for (size_t i = 0; i < a.write_indexes.size(); ++i) {
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, a.write_indexes[i]);
  }
  out += "]}";
  return out;
}

absl::StatusOr<LegacyDeletion> ParseLegacyDeletion(absl::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError(
        "legacy_deletion entry is not a JSON object");
  }
  LegacyDeletion a;
  std::string type, time;
  uint64_t v = 0;
  CLOVER_RETURN_IF_ERROR(GetString(d, "type", true, &type));
  if (type != kLegacyDeletionType) return Bad("type", "is not legacy_deletion");
  CLOVER_RETURN_IF_ERROR(GetUint64(d, "v", true, &v));
  if (v != 1) return Bad("v", "is not 1");
  for (auto [name, out] :
       {std::pair{"node", &a.node}, std::pair{"region", &a.region},
        std::pair{"migration", &a.migration}, std::pair{"source", &a.source},
        std::pair{"subjects_root", &a.subjects_root},
        std::pair{"time", &time}}) {
    CLOVER_RETURN_IF_ERROR(GetString(d, name, true, out));
  }
  absl::StatusOr<absl::Time> t = ParseRfc3339(time);
  if (!t.ok()) return Bad("time", "is not an RFC 3339 time");
  a.time = *t;
  CLOVER_RETURN_IF_ERROR(GetUint64(d, "batch", true, &a.batch));
  CLOVER_RETURN_IF_ERROR(GetUint64(d, "records", true, &a.records));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "key_hashes", true, &a.key_hashes));
  for (size_t i = 1; i < a.key_hashes.size(); ++i) {
    if (a.key_hashes[i] <= a.key_hashes[i - 1]) {
      return Bad("key_hashes", "must be sorted and without duplicates");
    }
  }
  auto indexes = d.FindMember("write_indexes");
  if (indexes == d.MemberEnd() || !indexes->value.IsArray()) {
    return Bad("write_indexes", "must be a list of non-negative integers");
  }
  for (const auto& i : indexes->value.GetArray()) {
    if (!i.IsUint64()) {
      return Bad("write_indexes", "must be a list of non-negative integers");
    }
    if (!a.write_indexes.empty() && i.GetUint64() <= a.write_indexes.back()) {
      return Bad("write_indexes", "must be ascending and without duplicates");
    }
    a.write_indexes.push_back(i.GetUint64());
  }
  if (a.key_hashes.size() != a.records || a.write_indexes.size() != a.records) {
    return Bad("records",
               "differs from the number of key hashes or write indexes");
  }
  return a;
}

}  // namespace clover::entry
