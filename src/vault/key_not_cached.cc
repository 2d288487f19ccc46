#include "vault/key_not_cached.h"

#include "absl/strings/cord.h"

namespace clover::vault {
namespace {
constexpr char kPayload[] = "clover.dev/key-not-cached";
}  // namespace

absl::Status KeyNotCachedError() {
  absl::Status s = absl::FailedPreconditionError(
      "the subject's data key is not cached; it needs an unwrap");
  s.SetPayload(kPayload, absl::Cord("1"));
  return s;
}

bool IsKeyNotCached(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kPayload).has_value();
}

}  // namespace clover::vault
