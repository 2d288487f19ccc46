// Generalisation: coarser values that keep analytic use and drop identifying
// precision.
#ifndef CLOVER_VAULT_GENERALIZE_H_
#define CLOVER_VAULT_GENERALIZE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::vault {

// IPv4 -> "a.b.c.0/24"; IPv6 -> its /48 prefix, e.g. "2001:db8:1::/48".
// Errors: InvalidArgument if `ip` is not an address.
[[nodiscard]] absl::StatusOr<std::string> GeneralizeIp(absl::string_view ip);
// "1990-04-12" -> "1990". Errors: InvalidArgument if not YYYY-MM-DD.
[[nodiscard]] absl::StatusOr<std::string> GeneralizeDate(
    absl::string_view date);
// Decade buckets: 34 -> "30-39", 7 -> "0-9", negative -> "<0", >= 100 ->
// "100+". Errors: InvalidArgument if not an integer.
[[nodiscard]] absl::StatusOr<std::string> GeneralizeInteger(
    absl::string_view integer);
// "ann@mail.example" -> "*@mail.example" (lower-cased domain).
[[nodiscard]] absl::StatusOr<std::string> GeneralizeEmail(
    absl::string_view email);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_GENERALIZE_H_
