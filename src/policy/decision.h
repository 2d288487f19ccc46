// The outcome of deciding one field of one request.
#ifndef CLOVER_POLICY_DECISION_H_
#define CLOVER_POLICY_DECISION_H_

#include <array>
#include <cstdint>

#include "policy/effect.h"

namespace clover::policy {

// `deciding_rule` value when no rule matched: the default deny decided.
inline constexpr int32_t kDefaultDeny = -1;

// How many matched rule indices a FieldDecision stores inline (no heap). When
// more rules match, `matched_count` is still exact and
// CompiledPolicy::MatchedRules lists them all.
inline constexpr int kMaxInlineMatches = 14;

// Rule indices refer to the bundle's `rules` in file order
// (CompiledPolicy::rule(i)).
struct FieldDecision {
  Effect effect = Effect::kDeny;
  // The rule that decided: among the most restrictive matching rules, the first
  // in file order. kDefaultDeny when no rule matched.
  int32_t deciding_rule = kDefaultDeny;
  // Number of matching rules; the first min(matched_count, kMaxInlineMatches)
  // are in `matched`, ascending.
  uint32_t matched_count = 0;
  std::array<uint32_t, kMaxInlineMatches> matched{};

  bool matched_complete() const { return matched_count <= kMaxInlineMatches; }
  friend bool operator==(const FieldDecision&, const FieldDecision&) = default;
};

}  // namespace clover::policy

#endif  // CLOVER_POLICY_DECISION_H_
