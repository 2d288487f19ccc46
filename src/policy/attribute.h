// The request attributes a policy condition can test.
#ifndef CLOVER_POLICY_ATTRIBUTE_H_
#define CLOVER_POLICY_ATTRIBUTE_H_

#include <cstdint>
#include <optional>
#include <span>

#include "absl/strings/string_view.h"

namespace clover::policy {

// Request-level attributes come first, then the per-field ones (kFieldName and
// after); code relies on that split via IsFieldAttribute.
enum class Attribute : uint8_t {
  kPrincipalId = 0,
  kPrincipalKind,
  kPrincipalOrg,
  kPrincipalRole,  // multi-valued: a condition matches if any of the
                   // principal's roles does
  kPrincipalCountry,
  kPrincipalJurisdiction,
  kPurpose,
  kAction,
  kSubjectJurisdiction,
  kDestination,
  kApprovalJustification,
  kFieldName,
  kFieldCategory,
  kFieldRestricted,  // "true" or "false"
};
inline constexpr int kAttributeCount = 14;

// The spelling used in bundles: "principal.id", "field.category",
// "destination", ...
absl::string_view ToString(Attribute attribute);

// Inverse of ToString; nullopt for anything else.
std::optional<Attribute> ParseAttribute(absl::string_view name);

inline constexpr bool IsFieldAttribute(Attribute a) {
  return static_cast<int>(a) >= static_cast<int>(Attribute::kFieldName);
}

// The closed vocabularies: values outside these lists are rejected by the
// parser.
std::span<const absl::string_view>
KnownActions();  // read, export, detokenize, ...
std::span<const absl::string_view>
KnownPrincipalKinds();  // service, employee, ...

}  // namespace clover::policy

#endif  // CLOVER_POLICY_ATTRIBUTE_H_
