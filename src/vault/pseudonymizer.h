// Field transformations applied before data leaves the vault: raw,
// pseudonymised per the field's method (hmac / siv / ff1 token), generalised,
// or redacted. Each is parameterised by the (destination, purpose) TokenKeys,
// so outputs for different destinations or purposes cannot be joined.
#ifndef CLOVER_VAULT_PSEUDONYMIZER_H_
#define CLOVER_VAULT_PSEUDONYMIZER_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "vault/record.h"
#include "vault/token_keys.h"

namespace clover::vault {

enum class TransformMode { kRaw, kPseudonymize, kGeneralize, kRedact };

inline constexpr absl::string_view kRedacted = "[redacted]";

// Immutable after construction; thread-safe.
class Pseudonymizer {
 public:
  // Keeps the country -> jurisdiction map (country fields generalise to
  // jurisdictions).
  explicit Pseudonymizer(const Deployment& deployment);

  // Transforms one scalar value or one text_list item of `field`:
  //  kRaw           the value unchanged
  //  kPseudonymize  by the field's method: hmac -> "tok_..."; siv -> "stk_..."
  //  (needs
  //                 `subject`, from Vault::SubjectKeys); ff1 -> same format
  //                 (digits stay digits of the same length, "+<n digits>" stays
  //                 "+<n digits>" with a non-zero first digit, integers stay
  //                 integers); generalize/redact as below
  //  kGeneralize    ip -> /24 or /48, date -> year, integer -> decade bucket,
  //  country ->
  //                 jurisdiction id, email -> "*@domain"; formats that cannot
  //                 be generalised fall back to the (stronger) token of the
  //                 field's method, else redaction
  //  kRedact        "[redacted]"
  // Errors: FailedPrecondition if the method does not fit the format (ff1 on
  // text) or a siv token is asked for without `subject`; InvalidArgument if
  // `raw` does not match the format; Internal from OpenSSL.
  [[nodiscard]] absl::StatusOr<std::string> Transform(
      const FieldSpec& field, absl::string_view raw, TransformMode mode,
      const TokenKeys& keys, const SubjectTokenKeys* subject) const;

  // The same over a whole field value: text_list items are transformed one by
  // one; a redacted list becomes the scalar "[redacted]" (its length is not
  // disclosed either).
  [[nodiscard]] absl::StatusOr<FieldValue> TransformField(
      const FieldSpec& field, const FieldValue& value, TransformMode mode,
      const TokenKeys& keys, const SubjectTokenKeys* subject) const;

  // Reverses an ff1 output of `field` under `keys` (formats digits, e164,
  // integer of six or more digits). Errors: FailedPrecondition if the field is
  // not ff1 or too short to be reversible; InvalidArgument for malformed input.
  [[nodiscard]] absl::StatusOr<std::string> ReverseFf1(
      const FieldSpec& field, absl::string_view token,
      const TokenKeys& keys) const;

 private:
  absl::StatusOr<std::string> Pseudonymize(
      const FieldSpec& field, absl::string_view raw, const TokenKeys& keys,
      const SubjectTokenKeys* subject) const;
  absl::StatusOr<std::string> Ff1(const FieldSpec& field, absl::string_view raw,
                                  const TokenKeys& keys, bool encrypt) const;
  absl::StatusOr<std::string> Generalize(const FieldSpec& field,
                                         absl::string_view raw,
                                         const TokenKeys& keys,
                                         const SubjectTokenKeys* subject) const;

  absl::flat_hash_map<std::string, std::string> country_to_jurisdiction_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_PSEUDONYMIZER_H_
