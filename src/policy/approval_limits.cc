#include "policy/approval_limits.h"

#include <algorithm>

#include "policy/reference_evaluator.h"

namespace clover::policy {
namespace {

// Attributes an approval request does not fix: any value may come.
bool Open(const Condition& c, const Request& request) {
  switch (c.attribute) {
    case Attribute::kPurpose:
    case Attribute::kAction:
    case Attribute::kDestination:
    case Attribute::kApprovalJustification:
      return true;
    case Attribute::kSubjectJurisdiction:
      return request.subject_jurisdiction.empty();
    default:
      return false;
  }
}

bool MayHold(const Rule& rule, const Request& request, const FieldRef& field) {
  for (const Condition& c : rule.when) {
    if (Open(c, request)) continue;
    if (!ConditionHolds(c, request, field)) return false;
  }
  return true;
}

}  // namespace

void AddApprovalLimits(const Bundle& bundle, const Request& request,
                       std::span<const FieldRef> fields,
                       ApprovalLimits& limits) {
  for (size_t i = 0; i < bundle.rules.size(); ++i) {
    const Rule& rule = bundle.rules[i];
    if (rule.effect != Effect::kApproval) continue;
    const int index = static_cast<int>(i);
    if (std::find(limits.rules.begin(), limits.rules.end(), index) !=
        limits.rules.end()) {
      continue;
    }
    const bool concerned =
        std::any_of(fields.begin(), fields.end(), [&](const FieldRef& f) {
          return MayHold(rule, request, f);
        });
    if (!concerned) continue;
    limits.rules.insert(
        std::upper_bound(limits.rules.begin(), limits.rules.end(), index),
        index);
    const std::string& role = rule.approval.approver_role;
    if (std::find(limits.approver_roles.begin(), limits.approver_roles.end(),
                  role) == limits.approver_roles.end()) {
      limits.approver_roles.push_back(role);
    }
    if (rule.approval.max_duration < limits.max_duration) {
      limits.max_duration = rule.approval.max_duration;
      limits.max_duration_rule = rule.id;
    }
  }
}

}  // namespace clover::policy
