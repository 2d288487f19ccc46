#include "audit/decision_builder.h"

#include "entry/decide.h"

namespace clover::audit {

void DecideWith(const policy::CompiledPolicy& p, entry::DecisionEntry* e) {
  entry::Verdicts v;
  entry::DecideEntry(p, /*who=*/nullptr, *e, &v);
  for (size_t i = 0; i < e->fields.size(); ++i) {
    entry::FieldEntry& f = e->fields[i];
    f.effect = v.decisions[i].effect;
    f.decided_by = std::string(entry::DecidingRuleId(p, v.decisions[i]));
    f.rules.clear();
    for (absl::string_view id : v.matched[i]) f.rules.emplace_back(id);
  }
  e->policy = p.sha256();
}

}  // namespace clover::audit
