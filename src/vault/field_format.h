// Value validation per schema field format: what the vault accepts for each
// FieldFormat.
#ifndef CLOVER_VAULT_FIELD_FORMAT_H_
#define CLOVER_VAULT_FIELD_FORMAT_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"

namespace clover::vault {

inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxListItems = 1000;
inline constexpr size_t kMaxDigits = 64;

// Checks one scalar value (or one text_list item) against `format`:
//   text      1..4096 bytes of UTF-8 without control characters other than \t
//   \n \r email     local@domain (RFC 5321 dot-atom, <= 254 bytes, a dotted
//   domain of LDH labels) e164      '+' then 7..15 digits, the first not 0 ip
//   IPv4 dotted quad or IPv6 text form (no zone id) date      YYYY-MM-DD, a
//   real calendar day country   an ISO 3166-1 alpha-2 code, upper case integer
//   optional '-', digits without leading zeros, fits in int64 digits    1..64
//   ASCII digits text_list each item as text
// Errors: InvalidArgument "field 'NAME': <what is wrong>" — the value itself is
// never echoed, since it is personal data.
[[nodiscard]] absl::Status ValidateFieldValue(absl::string_view field_name,
                                              FieldFormat format,
                                              absl::string_view value);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_FIELD_FORMAT_H_
