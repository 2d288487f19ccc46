#include "policy/effect.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace clover::policy {
namespace {

constexpr std::array<absl::string_view, kEffectCount> kNames = {
    "allow", "generalize", "pseudonymize", "aggregate", "approval", "deny"};

}  // namespace

absl::string_view ToString(Effect effect) {
  return kNames[static_cast<int>(effect)];
}

std::optional<Effect> ParseEffect(absl::string_view name) {
  for (int i = 0; i < kEffectCount; ++i) {
    if (kNames[i] == name) return static_cast<Effect>(i);
  }
  return std::nullopt;
}

std::string EffectSet::ToString() const {
  std::string out = "[";
  for (int i = 0; i < kEffectCount; ++i) {
    if (!Contains(static_cast<Effect>(i))) continue;
    if (out.size() > 1) out += ", ";
    absl::StrAppend(&out, kNames[i]);
  }
  out += "]";
  return out;
}

}  // namespace clover::policy
