// A bundle compiled to an indexed form for the gateway's hot path.
//
// Every attribute value the bundle names is interned at compile time, and for
// each attribute and value the compiler stores the bitset of rules whose
// condition on that attribute accepts it (plus one bitset for "any value the
// bundle does not name"). Rules are laid out in the bitsets by decreasing
// restrictiveness, so the first set bit of
//   AND(request-level bitsets) & AND(field-level bitsets)
// is the deciding rule. Deciding a request with N fields costs one hash lookup
// per named attribute value and a few word-wide ANDs per field, and allocates
// nothing on the heap for bundles of up to 16,384 rules with principals of up
// to 16 roles.
#ifndef CLOVER_POLICY_COMPILED_POLICY_H_
#define CLOVER_POLICY_COMPILED_POLICY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "policy/bundle.h"
#include "policy/decision.h"
#include "policy/request.h"

namespace clover::policy {

class CompiledPolicy {
 public:
  // Compiles (a copy of) `bundle`. Errors: InvalidArgument if it has more than
  // kMaxRules rules.
  static constexpr size_t kMaxRules = 1 << 20;
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const CompiledPolicy>>
  Compile(const Bundle& bundle);
  // The same, taking the bundle over instead of copying it.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const CompiledPolicy>>
  Compile(Bundle&& bundle);

  // A field list resolved against this policy once (e.g. the schema's fields at
  // startup), so that deciding it costs no per-field hash lookup. Valid only
  // with the policy that prepared it, and while that policy lives.
  class PreparedFields {
   public:
    size_t size() const { return words_ == 0 ? 0 : rows_.size() / words_; }

   private:
    friend class CompiledPolicy;
    size_t words_ = 0;
    // Per field, the rules its field-level conditions accept (words_ words).
    std::vector<uint64_t> rows_;
    // Per field, the first field with the same row (itself if none).
    std::vector<size_t> same_as_;
  };
  PreparedFields Prepare(std::span<const FieldRef> fields) const;

  // Decides every field of `fields` for `request`, writing out[i] for
  // fields[i]. The semantics are exactly EvaluateReference's
  // (reference_evaluator.h). When more than kMaxInlineMatches rules match a
  // field, out[i].matched holds the most restrictive of them (the deciding rule
  // included), ascending. Requires out.size() >= fields.size(). Thread-safe; no
  // heap allocation (see the file comment).
  void Decide(const Request& request, std::span<const FieldRef> fields,
              std::span<FieldDecision> out) const;

  // Decide for prepared fields: out[i] for the i-th prepared field. Requires
  // out.size() >= fields.size(). Thread-safe; no heap allocation.
  void Decide(const Request& request, const PreparedFields& fields,
              std::span<FieldDecision> out) const;

  // Every rule matching `field`, in file order. Allocates; for explanations and
  // logging of decisions whose inline match list is incomplete. Thread-safe.
  std::vector<int> MatchedRules(const Request& request,
                                const FieldRef& field) const;

  const Bundle& bundle() const { return bundle_; }
  // Lower-case hex SHA-256 of the bundle file: the policy's identity in
  // decision records.
  const std::string& sha256() const { return bundle_.sha256; }
  const Rule& rule(int index) const { return bundle_.rules[index]; }
  size_t rule_count() const { return bundle_.rules.size(); }

 private:
  // Per attribute: value -> row; row `ids.size()` is "any other value". Row r
  // is the bitset words [r * words_, (r + 1) * words_).
  struct Index {
    bool active = false;  // some rule has a condition on the attribute
    absl::flat_hash_map<std::string, uint32_t> ids;
    std::vector<uint64_t> rows;
  };

  CompiledPolicy() = default;
  const uint64_t* Row(const Index& index, absl::string_view value) const;
  // Writes the request-level candidate bitset into `mask` (words_ words).
  void RequestMask(const Request& request, uint64_t* mask) const;
  // out = mask & rows[0] & ... & rows[row_count - 1] (words_ words).
  void AndRows(const uint64_t* mask, const std::array<const uint64_t*, 3>& rows,
               int row_count, uint64_t* out) const;
  // Writes the decision for the matching-rule bitset `m`.
  void CollectMatches(const uint64_t* m, FieldDecision& d) const;
  // Fills the field-level rows for `field`; returns how many.
  int FieldRows(const FieldRef& field,
                std::array<const uint64_t*, 3>& rows) const;

  Bundle bundle_;
  size_t words_ = 0;
  std::vector<uint64_t> all_rules_;    // bits of existing rules
  std::vector<uint32_t> rule_at_bit_;  // bit position -> rule index
  std::vector<Effect> effect_at_bit_;  // bit position -> the rule's effect
  std::array<Index, kAttributeCount> index_;
  std::array<uint32_t, 2> restricted_row_{};  // field.restricted false, true
  // principal.role: P rows (positive conditions naming the role) live in
  // index_[role]; N rows (negated conditions naming it) here; rules without a
  // role condition and rules with a negated one are the two masks.
  std::vector<uint64_t> role_negated_rows_;
  std::vector<uint64_t> role_free_;
  std::vector<uint64_t> role_negated_rules_;
};

}  // namespace clover::policy

#endif  // CLOVER_POLICY_COMPILED_POLICY_H_
