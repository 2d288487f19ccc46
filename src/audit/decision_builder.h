// Deciding a decision entry's fields as a policy would: used by the auditor's
// tests and benchmark, which then write the entry with the gateway's own
// writer (entry/decision_record.h).
#ifndef CLOVER_AUDIT_DECISION_BUILDER_H_
#define CLOVER_AUDIT_DECISION_BUILDER_H_

#include "entry/log_entry.h"
#include "policy/compiled_policy.h"

namespace clover::audit {

// Fills every field's effect, matching rule ids and deciding rule of `e` from
// `policy`, and sets e->policy to its hash. Thread-safe.
void DecideWith(const policy::CompiledPolicy& policy, entry::DecisionEntry* e);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_DECISION_BUILDER_H_
