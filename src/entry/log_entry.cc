#include "entry/log_entry.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "rapidjson/document.h"

namespace clover::entry {
namespace {

absl::Status Field(absl::string_view name, absl::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat("decision entry: field '", name, "': ", msg));
}

absl::Status Str(const rapidjson::Value& obj, const char* name, bool required,
                 std::string* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    out->clear();
    return required ? Field(name, "missing") : absl::OkStatus();
  }
  if (!it->value.IsString()) return Field(name, "must be a string");
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return absl::OkStatus();
}

absl::Status U64(const rapidjson::Value& obj, const char* name, uint64_t* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return Field(name, "missing");
  if (!it->value.IsUint64())
    return Field(name, "must be a non-negative integer");
  *out = it->value.GetUint64();
  return absl::OkStatus();
}

absl::Status Strs(const rapidjson::Value& obj, const char* name,
                  std::vector<std::string>* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    out->clear();
    return absl::OkStatus();
  }
  if (!it->value.IsArray()) return Field(name, "must be an array of strings");
  // Assigned over the previous contents, reusing their capacity.
  size_t n = 0;
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return Field(name, "must be an array of strings");
    if (n == out->size()) out->emplace_back();
    (*out)[n++].assign(v.GetString(), v.GetStringLength());
  }
  out->resize(n);
  return absl::OkStatus();
}

absl::Status ParseEffectMember(const rapidjson::Value& obj, const char* name,
                               policy::Effect* out) {
  std::string effect;
  CLOVER_RETURN_IF_ERROR(Str(obj, "effect", true, &effect));
  auto parsed = policy::ParseEffect(effect);
  if (!parsed)
    return Field(name, absl::StrCat("unknown effect '", effect, "'"));
  *out = *parsed;
  return absl::OkStatus();
}

// Version 1: "fields":[{"name","category","restricted","effect","rules",
// "decided_by"?}], one object per field.
absl::Status ParseFieldList(const rapidjson::Value& d, DecisionEntry* e) {
  auto f = d.FindMember("fields");
  if (f == d.MemberEnd() || !f->value.IsArray())
    return Field("fields", "must be an array");
  e->fields.resize(f->value.Size());
  size_t i = 0;
  for (const auto& fv : f->value.GetArray()) {
    if (!fv.IsObject()) return Field("fields", "each item must be an object");
    FieldEntry& fe = e->fields[i++];
    CLOVER_RETURN_IF_ERROR(Str(fv, "name", true, &fe.name));
    CLOVER_RETURN_IF_ERROR(Str(fv, "category", true, &fe.category));
    auto r = fv.FindMember("restricted");
    if (r == fv.MemberEnd() || !r->value.IsBool()) {
      return Field("fields[].restricted", "must be a boolean");
    }
    fe.restricted = r->value.GetBool();
    CLOVER_RETURN_IF_ERROR(
        ParseEffectMember(fv, "fields[].effect", &fe.effect));
    CLOVER_RETURN_IF_ERROR(Strs(fv, "rules", &fe.rules));
    CLOVER_RETURN_IF_ERROR(Str(fv, "decided_by", false, &fe.decided_by));
  }
  return absl::OkStatus();
}

// Version 2: "field_groups":[{"decided_by"?,"effect","fields":{CATEGORY:
// [NAME,...]},"restricted":[NAME,...],"rules":[...]}], one object per group of
// fields decided alike. Each field is named once in the whole entry, and
// "restricted" names only fields of its own group.
absl::Status ParseFieldGroups(const rapidjson::Value& d, DecisionEntry* e) {
  auto groups = d.FindMember("field_groups");
  if (groups == d.MemberEnd() || !groups->value.IsArray())
    return Field("field_groups", "must be an array");
  // The fields of the previous entry are overwritten in place, reusing their
  // strings' capacity, and the lookups below use sorted per-thread vectors
  // rather than hash tables: the auditor parses every entry of every log, and
  // an entry names a handful of fields.
  thread_local std::vector<std::string> restricted;
  thread_local std::vector<std::pair<absl::string_view, size_t>> group_names;
  size_t n = 0;
  for (const auto& g : groups->value.GetArray()) {
    if (!g.IsObject())
      return Field("field_groups", "each item must be an object");
    policy::Effect effect;
    CLOVER_RETURN_IF_ERROR(
        ParseEffectMember(g, "field_groups[].effect", &effect));
    auto fields = g.FindMember("fields");
    if (fields == g.MemberEnd() || !fields->value.IsObject() ||
        fields->value.ObjectEmpty()) {
      return Field("field_groups[].fields",
                   "must be an object of categories and their field names");
    }
    const size_t first = n;
    for (const auto& category : fields->value.GetObject()) {
      if (!category.value.IsArray() || category.value.Empty()) {
        return Field("field_groups[].fields",
                     "each category must list field names");
      }
      for (const auto& name : category.value.GetArray()) {
        if (!name.IsString())
          return Field("field_groups[].fields", "field names are strings");
        if (n == e->fields.size()) e->fields.emplace_back();
        FieldEntry& fe = e->fields[n++];
        fe.name.assign(name.GetString(), name.GetStringLength());
        fe.category.assign(category.name.GetString(),
                           category.name.GetStringLength());
        fe.restricted = false;
        fe.effect = effect;
      }
    }
    CLOVER_RETURN_IF_ERROR(Strs(g, "restricted", &restricted));
    if (!restricted.empty()) {
      group_names.clear();
      for (size_t i = first; i < n; ++i)
        group_names.emplace_back(e->fields[i].name, i);
      std::sort(group_names.begin(), group_names.end());
      for (const std::string& r : restricted) {
        auto it = std::lower_bound(
            group_names.begin(), group_names.end(), r,
            [](const auto& a, const std::string& b) { return a.first < b; });
        if (it == group_names.end() || it->first != r) {
          return Field(
              "field_groups[].restricted",
              absl::StrCat("names '", absl::CHexEscape(r.substr(0, 64)),
                           "', not a field of its group"));
        }
        e->fields[it->second].restricted = true;
      }
    }
    FieldEntry& head = e->fields[first];
    CLOVER_RETURN_IF_ERROR(Strs(g, "rules", &head.rules));
    CLOVER_RETURN_IF_ERROR(Str(g, "decided_by", false, &head.decided_by));
    for (size_t i = first + 1; i < n; ++i) {
      e->fields[i].rules.assign(head.rules.begin(), head.rules.end());
      e->fields[i].decided_by.assign(head.decided_by);
    }
  }
  e->fields.resize(n);
  // Each field is named once in the whole entry.
  group_names.clear();
  for (size_t i = 0; i < n; ++i) group_names.emplace_back(e->fields[i].name, i);
  std::sort(group_names.begin(), group_names.end());
  auto twice = std::adjacent_find(
      group_names.begin(), group_names.end(),
      [](const auto& a, const auto& b) { return a.first == b.first; });
  if (twice != group_names.end()) {
    return Field(
        "field_groups[].fields",
        absl::StrCat("field '", absl::CHexEscape(twice->first.substr(0, 64)),
                     "' is named twice"));
  }
  return absl::OkStatus();
}

absl::Status ParseDecision(const rapidjson::Value& d, DecisionEntry* e) {
  std::string t;
  CLOVER_RETURN_IF_ERROR(Str(d, "time", true, &t));
  absl::StatusOr<absl::Time> time = ParseRfc3339(t);
  if (!time.ok()) return Field("time", time.status().message());
  e->time = *time;
  CLOVER_RETURN_IF_ERROR(Str(d, "node", false, &e->node));
  CLOVER_RETURN_IF_ERROR(Str(d, "region", false, &e->region));
  auto p = d.FindMember("principal");
  if (p == d.MemberEnd() || !p->value.IsObject())
    return Field("principal", "must be an object");
  CLOVER_RETURN_IF_ERROR(Str(p->value, "id", true, &e->principal_id));
  CLOVER_RETURN_IF_ERROR(Str(p->value, "kind", false, &e->principal_kind));
  CLOVER_RETURN_IF_ERROR(Str(p->value, "org", false, &e->principal_org));
  CLOVER_RETURN_IF_ERROR(Strs(p->value, "roles", &e->principal_roles));
  CLOVER_RETURN_IF_ERROR(
      Str(p->value, "country", false, &e->principal_country));
  CLOVER_RETURN_IF_ERROR(
      Str(p->value, "jurisdiction", false, &e->principal_jurisdiction));
  CLOVER_RETURN_IF_ERROR(Str(d, "purpose", true, &e->purpose));
  CLOVER_RETURN_IF_ERROR(Str(d, "action", true, &e->action));
  CLOVER_RETURN_IF_ERROR(Str(d, "destination", true, &e->destination));
  CLOVER_RETURN_IF_ERROR(Str(d, "subject", false, &e->subject));
  e->subject_count = 1;
  if (d.HasMember("subjects"))
    CLOVER_RETURN_IF_ERROR(U64(d, "subjects", &e->subject_count));
  CLOVER_RETURN_IF_ERROR(
      Str(d, "subject_jurisdiction", false, &e->subject_jurisdiction));
  CLOVER_RETURN_IF_ERROR(Str(d, "policy", true, &e->policy));
  CLOVER_RETURN_IF_ERROR(Str(d, "approval", false, &e->approval));
  CLOVER_RETURN_IF_ERROR(Str(d, "justification", false, &e->justification));
  uint64_t version = 1;
  if (d.HasMember("v")) CLOVER_RETURN_IF_ERROR(U64(d, "v", &version));
  if (version == 1) {
    CLOVER_RETURN_IF_ERROR(ParseFieldList(d, e));
  } else if (version == 2) {
    CLOVER_RETURN_IF_ERROR(ParseFieldGroups(d, e));
  } else {
    return Field("v", absl::StrCat("unsupported version ", version));
  }
  e->records = 0;
  e->bytes = 0;
  if (d.HasMember("records"))
    CLOVER_RETURN_IF_ERROR(U64(d, "records", &e->records));
  if (d.HasMember("bytes")) CLOVER_RETURN_IF_ERROR(U64(d, "bytes", &e->bytes));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseLogEntry(absl::string_view json, LogEntry* out) {
  // One pooled allocator per thread: parsing an entry then costs no malloc for
  // the DOM. In-situ parsing of a private copy: strings stay in the copy
  // instead of being copied into the DOM, which halves the parse cost of a
  // typical 1 KB entry.
  thread_local char buffer[32 * 1024];
  thread_local rapidjson::MemoryPoolAllocator<> pool(buffer, sizeof(buffer));
  thread_local std::string text;
  if (json.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("log entry contains a NUL byte");
  }
  pool.Clear();
  text.assign(json.data(), json.size());
  rapidjson::Document d(&pool);
  d.ParseInsitu(text.data());
  if (d.HasParseError() || !d.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log entry is not a JSON object (parse error at offset ",
                     d.HasParseError() ? d.GetErrorOffset() : 0, ")"));
  }
  std::string type;
  CLOVER_RETURN_IF_ERROR(Str(d, "type", true, &type));
  out->time = absl::InfinitePast();
  if (type == "decision") {
    out->type = EntryType::kDecision;
    CLOVER_RETURN_IF_ERROR(ParseDecision(d, &out->decision));
    out->time = out->decision.time;
    return absl::OkStatus();
  }
  if (type == "approval") {
    out->type = EntryType::kApproval;
    CLOVER_RETURN_IF_ERROR(Str(d, "id", false, &out->id));
    CLOVER_RETURN_IF_ERROR(Str(d, "state", false, &out->state));
  } else if (type == "erasure") {
    out->type = EntryType::kErasure;
  } else if (type == "write") {
    out->type = EntryType::kWrite;
  } else if (type == "erasure_purge") {
    out->type = EntryType::kErasurePurge;
  } else if (type == "legacy_deletion") {
    out->type = EntryType::kLegacyDeletion;
  } else if (type == "pseudonym_key") {
    out->type = EntryType::kPseudonymKey;
  } else {
    out->type = EntryType::kOther;
  }
  std::string t;
  if (Str(d, "time", false, &t).ok() && !t.empty()) {
    absl::StatusOr<absl::Time> time = ParseRfc3339(t);
    if (time.ok()) out->time = *time;
  }
  return absl::OkStatus();
}

}  // namespace clover::entry
