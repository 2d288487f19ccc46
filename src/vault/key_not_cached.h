// The error a vault returns for an access made with AccessContext::
// cached_only when the subject's data key is not in its cache: the caller
// (the gateway's read path under external key release) then logs its
// decision first and reads again with the decision entry's exact index, so
// that the release names the very entry that justifies it.
#ifndef CLOVER_VAULT_KEY_NOT_CACHED_H_
#define CLOVER_VAULT_KEY_NOT_CACHED_H_

#include "absl/status/status.h"

namespace clover::vault {

// FailedPrecondition with a payload that IsKeyNotCached recognises.
[[nodiscard]] absl::Status KeyNotCachedError();
[[nodiscard]] bool IsKeyNotCached(const absl::Status& status);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_KEY_NOT_CACHED_H_
