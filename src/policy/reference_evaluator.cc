#include "policy/reference_evaluator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace clover::policy {
namespace {

absl::string_view SingleValue(Attribute attribute, const Request& r,
                              const FieldRef& f) {
  switch (attribute) {
    case Attribute::kPrincipalId:
      return r.principal_id;
    case Attribute::kPrincipalKind:
      return r.principal_kind;
    case Attribute::kPrincipalOrg:
      return r.principal_org;
    case Attribute::kPrincipalRole:
      return {};  // multi-valued; handled by callers
    case Attribute::kPrincipalCountry:
      return r.principal_country;
    case Attribute::kPrincipalJurisdiction:
      return r.principal_jurisdiction;
    case Attribute::kPurpose:
      return r.purpose;
    case Attribute::kAction:
      return r.action;
    case Attribute::kSubjectJurisdiction:
      return r.subject_jurisdiction;
    case Attribute::kDestination:
      return r.destination;
    case Attribute::kApprovalJustification:
      return r.approval_justification;
    case Attribute::kFieldName:
      return f.name;
    case Attribute::kFieldCategory:
      return f.category;
    case Attribute::kFieldRestricted:
      return f.restricted ? "true" : "false";
  }
  return {};
}

}  // namespace

bool ConditionHolds(const Condition& c, const Request& request,
                    const FieldRef& field) {
  if (c.attribute == Attribute::kPrincipalRole) {
    bool any = false;
    for (const std::string& role : request.principal_roles) {
      if (std::find(c.values.begin(), c.values.end(), role) != c.values.end()) {
        any = true;
        break;
      }
    }
    return any != c.negated;
  }
  return c.Accepts(SingleValue(c.attribute, request, field));
}

std::string DescribeValue(Attribute attribute, const Request& request,
                          const FieldRef& field) {
  if (attribute == Attribute::kPrincipalRole) {
    return absl::StrCat("[", absl::StrJoin(request.principal_roles, ", "), "]");
  }
  absl::string_view v = SingleValue(attribute, request, field);
  if (v.empty()) return "(none)";
  return std::string(v);
}

bool AllHold(const std::vector<Condition>& when, const Request& request,
             const FieldRef& field) {
  for (const Condition& c : when) {
    if (!ConditionHolds(c, request, field)) return false;
  }
  return true;
}

ReferenceDecision EvaluateReference(const Bundle& bundle,
                                    const Request& request,
                                    const FieldRef& field) {
  ReferenceDecision d;
  for (size_t i = 0; i < bundle.rules.size(); ++i) {
    const Rule& rule = bundle.rules[i];
    if (!AllHold(rule.when, request, field)) continue;
    d.matched.push_back(static_cast<int>(i));
    if (d.deciding_rule == kDefaultDeny || rule.effect > d.effect) {
      d.effect = rule.effect;
      d.deciding_rule = static_cast<int>(i);
    }
  }
  return d;
}

}  // namespace clover::policy
