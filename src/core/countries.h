// ISO 3166-1 alpha-2 country codes.
#ifndef CLOVER_CORE_COUNTRIES_H_
#define CLOVER_CORE_COUNTRIES_H_

#include "absl/strings/string_view.h"

namespace clover {

// True if `code` is an officially assigned ISO 3166-1 alpha-2 code ("IE",
// "NO"), upper case.
[[nodiscard]] bool IsIsoCountryCode(absl::string_view code);

}  // namespace clover

#endif  // CLOVER_CORE_COUNTRIES_H_
