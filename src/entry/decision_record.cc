#include "entry/decision_record.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "entry/field_groups.h"
#include "policy/effect.h"

namespace clover::entry {
namespace {

// Member writer that relies on the caller emitting keys in sorted (UTF-16)
// order; all keys here are ASCII, so byte order is code-unit order.
class Obj {
 public:
  explicit Obj(std::string* out) : out_(out) { out_->push_back('{'); }
  ~Obj() { out_->push_back('}'); }
  // `k` is one of this file's literal member names: plain ASCII that needs no
  // escaping, so it is copied as is (a decision has some eighty of them).
  void Key(absl::string_view k) {
    const size_t at = out_->size();
    out_->resize(at + k.size() + (first_ ? 3 : 4));
    char* p = out_->data() + at;
    if (!first_) *p++ = ',';
    first_ = false;
    *p++ = '"';
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    *p++ = '"';
    *p = ':';
  }
  void Str(absl::string_view k, absl::string_view v) {
    Key(k);
    AppendJsonString(v, out_);
  }
  void Int(absl::string_view k, int64_t v) {
    Key(k);
    absl::StrAppend(out_, v);
  }
  template <typename Range>
  void StrArray(absl::string_view k, const Range& items) {
    Key(k);
    out_->push_back('[');
    bool first = true;
    for (const auto& s : items) {
      if (!first) out_->push_back(',');
      first = false;
      AppendJsonString(s, out_);
    }
    out_->push_back(']');
  }

 private:
  std::string* out_;
  bool first_ = true;
};

// The principal's members, from a configured Principal or a parsed entry.
struct PrincipalView {
  absl::string_view id;
  absl::string_view kind;
  absl::string_view org;
  const std::vector<std::string>& roles;
  absl::string_view country;
  absl::string_view jurisdiction;
};

void AppendDecision(const DecisionRecord& r, const PrincipalView& p,
                    std::string* out) {
  Obj o(out);
  o.Str("action", r.action);
  if (!r.approval.empty()) o.Str("approval", r.approval);
  o.Int("bytes", r.bytes);
  o.Str("destination", r.destination);
  o.Key("field_groups");
  if (r.field_groups_json.empty()) {
    out->append("[]");
  } else {
    out->append(r.field_groups_json.data(), r.field_groups_json.size());
  }
  if (!r.justification.empty()) o.Str("justification", r.justification);
  o.Str("node", r.node);
  if (!r.outcome.empty()) o.Str("outcome", r.outcome);
  o.Str("policy", r.policy);
  o.Key("principal");
  {
    Obj po(out);
    po.Str("country", p.country);
    po.Str("id", p.id);
    po.Str("jurisdiction", p.jurisdiction);
    po.Str("kind", p.kind);
    po.Str("org", p.org);
    po.StrArray("roles", p.roles);
  }
  o.Str("purpose", r.purpose);
  o.Int("records", r.records);
  o.Str("region", r.region);
  if (!r.subject.empty()) o.Str("subject", r.subject);
  if (!r.subject_jurisdiction.empty())
    o.Str("subject_jurisdiction", r.subject_jurisdiction);
  if (r.subjects >= 0) o.Int("subjects", r.subjects);
  o.Str("time", FormatRfc3339Millis(r.time));
  o.Str("type", "decision");
  o.Int("v", 2);
}

}  // namespace

void AppendDecisionJson(const DecisionRecord& r, std::string* out) {
  const Principal& p = *r.principal;
  AppendDecision(
      r, {p.id, ToString(p.kind), p.org, p.roles, p.country, p.jurisdiction},
      out);
}

void AppendDecisionJson(const DecisionEntry& e, std::string* out) {
  std::vector<std::vector<absl::string_view>> rules(e.fields.size());
  std::vector<FieldOutcome> outcomes;
  outcomes.reserve(e.fields.size());
  for (size_t i = 0; i < e.fields.size(); ++i) {
    const FieldEntry& f = e.fields[i];
    rules[i].assign(f.rules.begin(), f.rules.end());
    outcomes.push_back({f.name, f.category, f.restricted,
                        policy::ToString(f.effect), f.decided_by, rules[i]});
  }
  std::string groups;
  AppendFieldGroupsJson(outcomes, &groups);
  DecisionRecord r;
  r.time = e.time;
  r.node = e.node;
  r.region = e.region;
  r.purpose = e.purpose;
  r.action = e.action;
  r.destination = e.destination;
  r.subject = e.subject;
  r.subject_jurisdiction = e.subject_jurisdiction;
  if (e.subject.empty()) r.subjects = static_cast<int64_t>(e.subject_count);
  r.policy = e.policy;
  r.approval = e.approval;
  r.justification = e.justification;
  r.field_groups_json = groups;
  r.records = static_cast<int64_t>(e.records);
  r.bytes = static_cast<int64_t>(e.bytes);
  AppendDecision(
      r,
      {e.principal_id, e.principal_kind, e.principal_org, e.principal_roles,
       e.principal_country, e.principal_jurisdiction},
      out);
}

std::string DecisionJson(const DecisionEntry& entry) {
  std::string out;
  AppendDecisionJson(entry, &out);
  return out;
}

}  // namespace clover::entry
