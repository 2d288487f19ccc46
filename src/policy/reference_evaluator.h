// The reference semantics of a bundle: a plain loop over its rules. Slow but
// obviously right; the compiled evaluator is tested against it and `clover
// policy explain` uses it to say why each rule matched or not.
#ifndef CLOVER_POLICY_REFERENCE_EVALUATOR_H_
#define CLOVER_POLICY_REFERENCE_EVALUATOR_H_

#include <string>
#include <vector>

#include "policy/bundle.h"
#include "policy/decision.h"
#include "policy/request.h"

namespace clover::policy {

// Whether `condition` holds for the request and field. A principal.role
// condition holds when any role is in its list (negated: when none is).
bool ConditionHolds(const Condition& condition, const Request& request,
                    const FieldRef& field);

// The request's value(s) of `attribute`, for messages: "eu", "[support,
// engineer]".
std::string DescribeValue(Attribute attribute, const Request& request,
                          const FieldRef& field);

// Whether every condition of `when` holds.
bool AllHold(const std::vector<Condition>& when, const Request& request,
             const FieldRef& field);

// The full decision for one field: default deny; every matching rule
// contributes; the most restrictive effect wins, ties going to the first rule
// in file order. `matched` lists every matching rule index in file order.
// Thread-safe.
struct ReferenceDecision {
  Effect effect = Effect::kDeny;
  int deciding_rule = kDefaultDeny;
  std::vector<int> matched;
};
ReferenceDecision EvaluateReference(const Bundle& bundle,
                                    const Request& request,
                                    const FieldRef& field);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_REFERENCE_EVALUATOR_H_
