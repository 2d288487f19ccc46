// The limits the policy sets on an approval grant: which rules can ask for
// approval of what a request covers, the roles that may decide it and the
// longest grant they allow.
//
// An approval request names a principal, subjects and fields, but not the
// purpose, action or destination of the reads it will unlock. A rule is
// concerned when its conditions on the principal, the subject's jurisdiction
// and the field hold; its conditions on purpose, action, destination and
// approval.justification are taken as satisfiable (some later read may meet
// them), as is a condition on an unknown subject jurisdiction. Taking every
// rule that might decide is the conservative reading: more rules means more
// roles to hold and a shorter grant.
#ifndef CLOVER_POLICY_APPROVAL_LIMITS_H_
#define CLOVER_POLICY_APPROVAL_LIMITS_H_

#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "policy/bundle.h"
#include "policy/request.h"

namespace clover::policy {

struct ApprovalLimits {
  std::vector<int> rules;  // the concerned `approval` rules, in file order
  // Distinct approver_role values of those rules, in file order; an approver
  // must hold every one.
  std::vector<std::string> approver_roles;
  // The smallest max_duration of those rules; InfiniteDuration when none.
  absl::Duration max_duration = absl::InfiniteDuration();
  std::string max_duration_rule;  // id of the rule setting max_duration
};

// Merges the concerned rules of `request` (principal attributes and
// subject_jurisdiction; empty subject_jurisdiction: any) over `fields` into
// `limits`. Call once per subject jurisdiction of the approval request.
// Thread-safe (pure).
void AddApprovalLimits(const Bundle& bundle, const Request& request,
                       std::span<const FieldRef> fields,
                       ApprovalLimits& limits);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_APPROVAL_LIMITS_H_
