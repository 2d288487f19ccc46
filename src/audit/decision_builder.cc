#include "audit/decision_builder.h"

#include <vector>

#include "audit/field_groups.h"
#include "audit/json_util.h"
#include "rapidjson/document.h"

namespace clover::audit {

void DecideWith(const policy::CompiledPolicy& p, DecisionEntry* e) {
  policy::Request req;
  req.principal_id = e->principal_id;
  req.principal_kind = e->principal_kind;
  req.principal_org = e->principal_org;
  req.principal_roles = e->principal_roles;
  req.principal_country = e->principal_country;
  req.principal_jurisdiction = e->principal_jurisdiction;
  req.purpose = e->purpose;
  req.action = e->action;
  req.subject_jurisdiction = e->subject_jurisdiction;
  req.destination = e->destination;
  req.approval_justification = e->justification;
  std::vector<policy::FieldRef> refs;
  for (const FieldEntry& f : e->fields)
    refs.push_back({f.name, f.category, f.restricted});
  std::vector<policy::FieldDecision> out(refs.size());
  p.Decide(req, refs, out);
  for (size_t i = 0; i < refs.size(); ++i) {
    FieldEntry& f = e->fields[i];
    f.effect = out[i].effect;
    f.decided_by = out[i].deciding_rule == policy::kDefaultDeny
                       ? ""
                       : p.rule(out[i].deciding_rule).id;
    f.rules.clear();
    if (out[i].matched_complete()) {
      for (uint32_t k = 0; k < out[i].matched_count; ++k) {
        f.rules.push_back(p.rule(out[i].matched[k]).id);
      }
    } else {
      for (int idx : p.MatchedRules(req, refs[i]))
        f.rules.push_back(p.rule(idx).id);
    }
  }
  e->policy = p.sha256();
}

absl::StatusOr<std::string> DecisionEntryJson(const DecisionEntry& e) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& al = d.GetAllocator();
  d.AddMember("v", 2, al);
  d.AddMember("type", "decision", al);
  d.AddMember("time", JsonString(Rfc3339(e.time), d), al);
  d.AddMember("node", JsonString(e.node, d), al);
  d.AddMember("region", JsonString(e.region, d), al);
  rapidjson::Value p(rapidjson::kObjectType);
  p.AddMember("id", JsonString(e.principal_id, d), al);
  p.AddMember("kind", JsonString(e.principal_kind, d), al);
  p.AddMember("org", JsonString(e.principal_org, d), al);
  p.AddMember("roles", JsonStringArray(e.principal_roles, d), al);
  p.AddMember("country", JsonString(e.principal_country, d), al);
  p.AddMember("jurisdiction", JsonString(e.principal_jurisdiction, d), al);
  d.AddMember("principal", p, al);
  d.AddMember("purpose", JsonString(e.purpose, d), al);
  d.AddMember("action", JsonString(e.action, d), al);
  d.AddMember("destination", JsonString(e.destination, d), al);
  if (!e.subject.empty()) {
    d.AddMember("subject", JsonString(e.subject, d), al);
  } else {
    d.AddMember("subjects", e.subject_count, al);
  }
  d.AddMember("subject_jurisdiction", JsonString(e.subject_jurisdiction, d),
              al);
  d.AddMember("policy", JsonString(e.policy, d), al);
  if (!e.approval.empty())
    d.AddMember("approval", JsonString(e.approval, d), al);
  if (!e.justification.empty()) {
    d.AddMember("justification", JsonString(e.justification, d), al);
  }
  std::vector<std::vector<absl::string_view>> rules(e.fields.size());
  std::vector<FieldOutcome> outcomes;
  outcomes.reserve(e.fields.size());
  for (size_t i = 0; i < e.fields.size(); ++i) {
    const FieldEntry& f = e.fields[i];
    rules[i].assign(f.rules.begin(), f.rules.end());
    outcomes.push_back({f.name, f.category, f.restricted,
                        policy::ToString(f.effect), f.decided_by, rules[i]});
  }
  std::string groups_json;
  AppendFieldGroupsJson(outcomes, &groups_json);
  rapidjson::Document groups;
  groups.Parse(groups_json.data(), groups_json.size());
  if (groups.HasParseError())
    return absl::InternalError("field groups are not valid JSON");
  d.AddMember("field_groups", rapidjson::Value(groups, al), al);
  d.AddMember("records", e.records, al);
  d.AddMember("bytes", e.bytes, al);
  return ToCanonical(d);
}

}  // namespace clover::audit
