// Writing decision entries in the exact form the auditor reads (log_entry.h):
// used by the auditor's tests and benchmark. (The gateway writes the same
// format without a DOM: gateway/decision_record.h.)
#ifndef CLOVER_AUDIT_DECISION_BUILDER_H_
#define CLOVER_AUDIT_DECISION_BUILDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "audit/log_entry.h"
#include "policy/compiled_policy.h"

namespace clover::audit {

// Fills every field's effect, matching rule ids and deciding rule of `e` from
// `policy`, and sets e->policy to its hash. Thread-safe.
void DecideWith(const policy::CompiledPolicy& policy, DecisionEntry* e);

// The canonical JSON (RFC 8785) decision entry, version 2 (fields as
// "field_groups", as the gateway writes them). Optional members (approval,
// justification, subject vs subjects) are written only when set: `subject`
// empty means an export with "subjects": subject_count. Errors: Internal if a
// string is not valid UTF-8.
[[nodiscard]] absl::StatusOr<std::string> DecisionEntryJson(
    const DecisionEntry& e);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_DECISION_BUILDER_H_
