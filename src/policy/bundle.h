// A policy bundle: the parsed form (AST) of a versioned YAML file of rules and
// invariants.
//
//   version: 1
//   rules:
//     - id: eu-support-reads-eu
//       effect: allow
//       when:
//         principal.org: clover-eu-support
//         purpose: customer_support
//         subject.jurisdiction: eu
//         destination: eu
//         field.category: {not: [contact]}
//   invariants:
//     - id: no-raw-restricted-to-cn
//       never: raw            # raw = [allow, approval]: a grant reveals raw
//       when: {destination: cn, field.restricted: true}
//
// See docs/policy.md for the full language.
#ifndef CLOVER_POLICY_BUNDLE_H_
#define CLOVER_POLICY_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "policy/attribute.h"
#include "policy/effect.h"

namespace clover::policy {

// 1-based position in the bundle file, from the YAML parser's marks.
struct SourcePos {
  int line = 0;
  int column = 0;
};

// `attribute` is (not, when `negated`) one of `values`. Values are kept as
// written; field.restricted values are normalised to "true" / "false".
struct Condition {
  Attribute attribute = Attribute::kPrincipalId;
  bool negated = false;
  std::vector<std::string>
      values;  // non-empty unless negated ({not: []} matches all)
  SourcePos pos;
  // Whether `value` satisfies this condition (for single-valued attributes).
  bool Accepts(absl::string_view value) const;
};

struct ApprovalParams {
  std::string approver_role = "approver";
  absl::Duration max_duration = absl::Hours(8);
};

struct AggregateParams {
  double epsilon = 1.0;  // differential-privacy budget spent per query, > 0
};

struct Rule {
  std::string id;
  std::string description;
  Effect effect = Effect::kDeny;
  ApprovalParams approval;      // meaningful when effect == kApproval
  AggregateParams aggregate;    // meaningful when effect == kAggregate
  std::vector<Condition> when;  // all must hold; at most one per attribute
  SourcePos pos;
};

struct Invariant {
  enum class Kind { kNever, kAlways };
  std::string id;
  std::string description;
  Kind kind = Kind::kNever;
  EffectSet effects;  // never: none of these may result; always: only these may
                      // result. `raw` in the file adds allow and approval.
  std::vector<Condition> when;
  SourcePos pos;
  // The effects that violate the invariant.
  EffectSet Forbidden() const {
    return kind == Kind::kNever ? effects : effects.Complement();
  }
};

struct Bundle {
  std::string filename;  // as given to the parser; used in messages
  std::string sha256;    // lower-case hex SHA-256 of the exact file bytes: the
                         // bundle's id
  int version = 1;
  std::string description;
  std::vector<Rule> rules;
  std::vector<Invariant> invariants;
};

// Every key a policy bundle may hold, as dotted paths ("rules[].effect";
// "[]" a list item, "*" any condition attribute, see policy/attribute.h):
// the parser refuses any other.
std::vector<std::string> BundleKeys();

// Parses a bundle from its text. Errors: InvalidArgument "file:line:col: field
// 'x': message" for malformed YAML, unknown keys, attributes, effects, actions
// or principal kinds, bad parameters, duplicate rule/invariant ids or
// conditions. Thread-safe.
[[nodiscard]] absl::StatusOr<Bundle> ParseBundle(absl::string_view text,
                                                 const std::string& filename);

// Reads and parses `path`. Errors: NotFound if it cannot be read; else as
// ParseBundle.
[[nodiscard]] absl::StatusOr<Bundle> LoadBundle(const std::string& path);

// Reads a whole file. Errors: NotFound naming the path.
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(
    const std::string& path);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_BUNDLE_H_
