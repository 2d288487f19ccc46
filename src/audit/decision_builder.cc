#include "audit/decision_builder.h"

#include <vector>

namespace clover::audit {

void DecideWith(const policy::CompiledPolicy& p, entry::DecisionEntry* e) {
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
  for (const entry::FieldEntry& f : e->fields)
    refs.push_back({f.name, f.category, f.restricted});
  std::vector<policy::FieldDecision> out(refs.size());
  p.Decide(req, refs, out);
  for (size_t i = 0; i < refs.size(); ++i) {
    entry::FieldEntry& f = e->fields[i];
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

}  // namespace clover::audit
