// The "gone" status of an erased subject, distinguishable from "never existed".
#ifndef CLOVER_VAULT_ERASED_H_
#define CLOVER_VAULT_ERASED_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace clover::vault {

// NotFound with a marker payload: the gateway answers 410 Gone for it, 404 for
// other NotFound statuses.
[[nodiscard]] absl::Status ErasedError(absl::string_view subject_id);
[[nodiscard]] bool IsErased(const absl::Status& status);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_ERASED_H_
