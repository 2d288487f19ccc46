#include "policy/attribute.h"

#include <array>

namespace clover::policy {
namespace {

constexpr std::array<absl::string_view, kAttributeCount> kNames = {
    "principal.id",
    "principal.kind",
    "principal.org",
    "principal.role",
    "principal.country",
    "principal.jurisdiction",
    "purpose",
    "action",
    "subject.jurisdiction",
    "destination",
    "approval.justification",
    "field.name",
    "field.category",
    "field.restricted"};

constexpr std::array<absl::string_view, 6> kActions = {
    "read", "export", "detokenize", "aggregate", "write", "erase"};
constexpr std::array<absl::string_view, 4> kKinds = {"service", "employee",
                                                     "auditor", "admin"};

}  // namespace

absl::string_view ToString(Attribute attribute) {
  return kNames[static_cast<int>(attribute)];
}

std::optional<Attribute> ParseAttribute(absl::string_view name) {
  for (int i = 0; i < kAttributeCount; ++i) {
    if (kNames[i] == name) return static_cast<Attribute>(i);
  }
  return std::nullopt;
}

std::span<const absl::string_view> KnownActions() { return kActions; }
std::span<const absl::string_view> KnownPrincipalKinds() { return kKinds; }

}  // namespace clover::policy
