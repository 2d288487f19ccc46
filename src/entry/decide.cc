#include "entry/decide.h"

namespace clover::entry {

bool IsInteractive(absl::string_view action) {
  return action == "read" || action == "detokenize";
}

policy::Request RequestOf(const Principal& who, const Action& action) {
  policy::Request r;
  r.principal_id = who.id;
  r.principal_kind = ToString(who.kind);
  r.principal_org = who.org;
  r.principal_roles = who.roles;
  r.principal_country = who.country;
  r.principal_jurisdiction = who.jurisdiction;
  r.purpose = action.purpose;
  r.action = action.action;
  r.subject_jurisdiction = action.subject_jurisdiction;
  r.destination = action.destination;
  r.approval_justification = action.justification;
  return r;
}

absl::string_view DecidingRuleId(const policy::CompiledPolicy& policy,
                                 const policy::FieldDecision& d) {
  return d.deciding_rule == policy::kDefaultDeny
             ? absl::string_view()
             : absl::string_view(policy.rule(d.deciding_rule).id);
}

void DecideFields(const policy::CompiledPolicy& policy,
                  const policy::Request& request,
                  std::span<const policy::FieldRef> fields, Verdicts* out) {
  const size_t n = fields.size();
  out->decisions.resize(n);
  out->matched.resize(n);
  policy.Decide(request, fields, out->decisions);
  for (size_t i = 0; i < n; ++i) {
    const policy::FieldDecision& d = out->decisions[i];
    std::vector<absl::string_view>& ids = out->matched[i];
    ids.clear();
    if (d.matched_complete()) {
      for (uint32_t k = 0; k < d.matched_count; ++k)
        ids.push_back(policy.rule(d.matched[k]).id);
    } else {
      for (int k : policy.MatchedRules(request, fields[i]))
        ids.push_back(policy.rule(k).id);
    }
  }
}

void DecideEntry(const policy::CompiledPolicy& policy, const Principal* who,
                 const DecisionEntry& e, Verdicts* out) {
  const Action action{e.purpose, e.action, e.subject_jurisdiction,
                      who != nullptr && IsInteractive(e.action)
                          ? absl::string_view(who->jurisdiction)
                          : absl::string_view(e.destination),
                      e.justification};
  policy::Request request;
  if (who != nullptr) {
    request = RequestOf(*who, action);
  } else {
    request = policy::Request{
        e.principal_id,     e.principal_kind,    e.principal_org,
        e.principal_roles,  e.principal_country, e.principal_jurisdiction,
        action.purpose,     action.action,       action.subject_jurisdiction,
        action.destination, action.justification};
  }
  // Reused across calls on one thread: an auditor replays millions.
  thread_local std::vector<policy::FieldRef> refs;
  refs.clear();
  for (const FieldEntry& f : e.fields)
    refs.push_back({f.name, f.category, f.restricted});
  DecideFields(policy, request, refs, out);
}

}  // namespace clover::entry
