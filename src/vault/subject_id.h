// Subject identifiers: the key of a subject's record, chosen by the operator's
// services.
#ifndef CLOVER_VAULT_SUBJECT_ID_H_
#define CLOVER_VAULT_SUBJECT_ID_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace clover::vault {

inline constexpr size_t kMaxSubjectIdLength = 128;

// OK if `id` is 1..128 characters of [A-Za-z0-9._:@-] and does not start with
// '.'. The charset keeps ids safe in URLs, log lines and storage keys. Errors:
// InvalidArgument that names the position of the first bad character (the id
// itself is not echoed).
[[nodiscard]] absl::Status ValidateSubjectId(absl::string_view id);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_SUBJECT_ID_H_
