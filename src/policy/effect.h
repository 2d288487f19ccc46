// The effect a policy assigns to one field of one request, ordered from the
// least to the most restrictive: allow < generalize < pseudonymize < aggregate
// < approval < deny.
#ifndef CLOVER_POLICY_EFFECT_H_
#define CLOVER_POLICY_EFFECT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace clover::policy {

// The numeric order is the restrictiveness order; code relies on `a < b`
// meaning "b is more restrictive than a".
enum class Effect : uint8_t {
  kAllow = 0,       // the raw value
  kGeneralize = 1,  // a coarser value (IP -> /24, birthdate -> year)
  kPseudonymize =
      2,  // a token (hmac, siv, ff1) or redaction per the field's method
  kAggregate = 3,  // only differentially-private aggregates
  kApproval = 4,   // needs a live approval grant
  kDeny = 5,       // nothing
};
inline constexpr int kEffectCount = 6;

// "allow", "generalize", "pseudonymize", "aggregate", "approval", "deny".
absl::string_view ToString(Effect effect);

// Inverse of ToString; nullopt for anything else (case-sensitive).
std::optional<Effect> ParseEffect(absl::string_view name);

// A set of effects, e.g. the effects an invariant forbids.
class EffectSet {
 public:
  constexpr EffectSet() = default;
  static constexpr EffectSet All() { return EffectSet(0x3f); }

  constexpr bool Contains(Effect e) const {
    return (bits_ >> static_cast<int>(e)) & 1;
  }
  constexpr void Add(Effect e) { bits_ |= uint8_t{1} << static_cast<int>(e); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr EffectSet Complement() const { return EffectSet(~bits_ & 0x3f); }
  constexpr uint8_t bits() const { return bits_; }
  friend constexpr bool operator==(EffectSet a, EffectSet b) = default;

  // "[allow, generalize]".
  std::string ToString() const;

 private:
  constexpr explicit EffectSet(uint8_t bits) : bits_(bits) {}
  uint8_t bits_ = 0;
};

}  // namespace clover::policy

#endif  // CLOVER_POLICY_EFFECT_H_
